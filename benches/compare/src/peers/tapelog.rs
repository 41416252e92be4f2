//! tapelog itself, in blocking mode, with a ring of `RING` bytes per thread, made by
//! `tapelog::preallocate()` before the warm-up when `PREALLOC` is set, and advised as huge
//! pages (rings of 4 MiB and more) unless `HUGE` is unset, and with `FLIGHT` a flight
//! recorder that keeps every INFO record on the consumer (1 GiB, no trigger) and writes them
//! all out at shutdown: the cost of keeping instead of writing.

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::harness::{Counted, Finished, Peer};

/// A running tapelog.
pub struct Tapelog<const RING: usize, const PREALLOC: bool, const HUGE: bool = true, const FLIGHT: bool = false> {
    guard: tapelog::Guard,
}

impl<const RING: usize, const PREALLOC: bool, const HUGE: bool, const FLIGHT: bool> Peer
    for Tapelog<RING, PREALLOC, HUGE, FLIGHT>
{
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let b = tapelog::Builder::new();
        let b = if FLIGHT {
            b.flight_recorder(
                tapelog::FlightRecorder::new()
                    .keep(tapelog::Level::Info)
                    .trigger(None)
                    .max_bytes(1 << 30)
                    .dump_on_shutdown(true),
            )
        } else {
            b
        };
        let guard = b
            .no_capacity_warning() // count exactly the records logged here
            .dir(dir)
            .segment_size(256 << 20)
            .ring_capacity(RING)
            .huge_pages(HUGE)
            .overflow(tapelog::Overflow::Block)
            // The consumer shares the last core with every other logger's backend threads:
            // this thread is pinned there, so the one core it may use is that core.
            .consumer_core(core_affinity::get_core_ids().and_then(|c| c.last().map(|c| c.id)))
            .start()
            .map_err(|e| anyhow!("tapelog start: {e}"))?;
        Ok(Tapelog { guard })
    }

    /// With `PREALLOC`, makes this thread's ring (faulted in) and staging buffers now;
    /// without, the first log call (in the warm-up, or the first timed call of a
    /// throughput run) makes them.
    fn local(&self) {
        if PREALLOC {
            // A smaller ring (or none) would make this row measure something else.
            assert_eq!(tapelog::preallocate(), Some(RING), "preallocate() did not give a {RING}-byte ring");
        }
    }

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        tapelog::info!("Logging int: {}, int: {}, double: {}", a, b, c);
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        tapelog::info!("Logging a static string, no arguments at all");
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        tapelog::info!("Logging str: {}", s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        tapelog::info!("Logging order: {:?}", tapelog::serde(o));
    }

    fn finish(self) -> Result<Finished> {
        // Dropping the guard drains every ring, finalizes the segments and joins the consumer.
        drop(self.guard);
        let s = tapelog::stats();
        let dumped = s.flight_recorder.map_or(0, |f| f.dumped);
        if s.total.written + dumped + s.total.dropped != s.total.logged {
            eprintln!(
                "tapelog stats after shutdown: logged {} != written {} + dumped {dumped} + dropped {}",
                s.total.logged, s.total.written, s.total.dropped
            );
        }
        Ok(Finished { dropped: Some(s.total.dropped) })
    }

    fn count(dir: &Path) -> Result<Counted> {
        let (summary, _outcome) = tapelog_decoder::summary::summarize(&[dir.to_path_buf()], &mut std::io::sink())
            .map_err(|e| anyhow!("decoding {}: {e}", dir.display()))?;
        Ok(Counted { messages: Some(summary.records), bytes: summary.bytes })
    }
}
