//! quicklog 0.1: one global SPSC queue, drained by a flush thread we run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Result};
use quicklog::level::Level;
use quicklog::Log;
use quicklog_flush::Flush;

use crate::harness::{Finished, Peer};

/// quicklog's default `FileFlusher` reopens the file for every line; this keeps it open.
struct BufFlusher(BufWriter<File>);

impl Flush for BufFlusher {
    fn flush_one(&mut self, line: String) {
        if let Err(e) = self.0.write_all(line.as_bytes()) {
            eprintln!("quicklog flusher: {e}");
        }
    }
}

/// Replaces [`BufFlusher`] at the end so that it is dropped, flushing its buffer.
struct NullFlusher;

impl Flush for NullFlusher {
    fn flush_one(&mut self, _: String) {}
}

/// The flush thread and its stop flag.
pub struct Quicklog {
    /// Set (Release) after the last log call; the flush thread's Acquire load then sees
    /// every enqueued line.
    stop: Arc<AtomicBool>,
    flusher: JoinHandle<()>,
}

/// quicklog's `info!` drops a line silently when the queue is full; this retries the
/// rejected line until the queue takes it, which makes it block instead.
#[inline(always)]
fn block_on(mut r: quicklog::SendResult) {
    while let Err((_, line)) = r {
        std::hint::spin_loop();
        r = quicklog::logger().log(line);
    }
}

impl Peer for Quicklog {
    type Local = ();

    fn start(dir: &Path, threads: usize) -> Result<Self> {
        if threads != 1 {
            bail!("quicklog 0.1 has a single-producer queue");
        }
        quicklog::init!();
        let file = BufWriter::with_capacity(64 << 10, File::create(dir.join("quicklog.log"))?);
        quicklog::logger().use_flush(Box::new(BufFlusher(file)));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let flusher = std::thread::spawn(move || {
            // The documented pattern: one thread calls flush in a loop while another logs.
            loop {
                let stopping = flag.load(Ordering::Acquire);
                let mut idle = true;
                while quicklog::logger().flush_one().is_ok() {
                    idle = false;
                }
                if stopping && idle {
                    break;
                }
                std::hint::spin_loop();
            }
            quicklog::logger().use_flush(Box::new(NullFlusher));
        });
        Ok(Quicklog { stop, flusher })
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        block_on(quicklog::try_log!(Level::Info, "Logging int: {}, int: {}, double: {}", a, b, c));
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        block_on(quicklog::try_log!(Level::Info, "Logging a static string, no arguments at all"));
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        block_on(quicklog::try_log!(Level::Info, "Logging str: {}", s));
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        block_on(quicklog::try_log!(Level::Info, "Logging order: {:?}", o));
    }

    fn finish(self) -> Result<Finished> {
        self.stop.store(true, Ordering::Release);
        self.flusher.join().map_err(|_| anyhow!("quicklog flush thread panicked"))?;
        Ok(Finished::default())
    }
}
