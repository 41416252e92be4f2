//! tracing + tracing-subscriber `fmt` + tracing-appender `non_blocking`, lossless.

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use anyhow::{anyhow, Result};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use super::{FileOut, FINISH_TIMEOUT};
use crate::harness::{Finished, Peer};

/// The global subscriber writes through a non-blocking appender that blocks when full.
pub struct Tracing {
    guard: WorkerGuard,
    errors: ErrorCounter,
    /// Fires when the worker has dropped the file (behind a mutex only to be `Sync`).
    done: Mutex<Receiver<()>>,
}

impl Peer for Tracing {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let (file, done) = FileOut::create(dir, "tracing.log", false)?;
        let (writer, guard) = NonBlockingBuilder::default().lossy(false).buffered_lines_limit(128_000).finish(file);
        let errors = writer.error_counter();
        let subscriber = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).finish();
        tracing::subscriber::set_global_default(subscriber)?;
        Ok(Tracing { guard, errors, done: Mutex::new(done) })
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        tracing::info!("Logging int: {}, int: {}, double: {}", a, b, c);
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        tracing::info!("Logging a static string, no arguments at all");
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        tracing::info!("Logging str: {}", s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        tracing::info!("Logging order: {:?}", o);
    }

    fn finish(self) -> Result<Finished> {
        // The guard's drop asks the worker to stop and waits up to 1 s; the worker then
        // drops the file, which is what `done` waits for.
        drop(self.guard);
        self.done
            .into_inner()
            .map_err(|_| anyhow!("poisoned"))?
            .recv_timeout(FINISH_TIMEOUT)
            .map_err(|e| anyhow!("tracing-appender worker did not finish: {e}"))?;
        let dropped = self.errors.dropped_lines() as u64;
        Ok(Finished { dropped: Some(dropped) })
    }
}
