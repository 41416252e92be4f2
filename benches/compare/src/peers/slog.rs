//! slog + slog-async (`OverflowStrategy::Block`) + slog-term into a file.

use std::path::Path;

use anyhow::{anyhow, Result};
use slog::{o, Drain, Logger};
use slog_async::{Async, AsyncGuard, OverflowStrategy};

use super::{FileOut, FINISH_TIMEOUT};
use crate::harness::{Finished, Peer};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

/// A root logger over an async drain that blocks when its channel is full.
pub struct Slog {
    log: Logger,
    guard: AsyncGuard,
    /// Fires when the worker has dropped the file (behind a mutex only to be `Sync`).
    done: Mutex<Receiver<()>>,
}

impl Peer for Slog {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        // slog-term flushes its writer after every record; `lazy_flush` keeps that
        // flush inside the 64 KiB buffer (it is written out on drop), as with the others.
        let (file, done) = FileOut::create(dir, "slog.log", true)?;
        let decorator = slog_term::PlainDecorator::new(file);
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        let (drain, guard) =
            Async::new(drain).chan_size(100_000).overflow_strategy(OverflowStrategy::Block).build_with_guard();
        let log = Logger::root(drain.fuse(), o!());
        Ok(Slog { log, guard, done: Mutex::new(done) })
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        slog::info!(self.log, "Logging int: {}, int: {}, double: {}", a, b, c);
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        slog::info!(self.log, "Logging a static string, no arguments at all");
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        slog::info!(self.log, "Logging str: {}", s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        slog::info!(self.log, "Logging order: {:?}", o);
    }

    fn finish(self) -> Result<Finished> {
        // The guard sends "finish" behind every record and joins the worker, which
        // drops the drain and with it the file.
        drop(self.guard);
        self.done
            .into_inner()
            .map_err(|_| anyhow!("poisoned"))?
            .recv_timeout(FINISH_TIMEOUT)
            .map_err(|e| anyhow!("slog-async worker did not finish: {e}"))?;
        drop(self.log);
        Ok(Finished::default())
    }
}
