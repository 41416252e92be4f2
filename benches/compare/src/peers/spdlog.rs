//! spdlog-rs with an `AsyncPoolSink` that blocks when its queue is full.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use spdlog::sink::{AsyncPoolSink, FileSink, OverflowPolicy};
use spdlog::{LevelFilter, Logger, ThreadPool};

use crate::harness::{Finished, Peer};

/// A logger whose only sink is an async pool sink over a file sink.
pub struct Spdlog {
    logger: Arc<Logger>,
    pool: Arc<ThreadPool>,
}

impl Peer for Spdlog {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let file = FileSink::builder().path(dir.join("spdlog.log")).truncate(true).build_arc()?;
        let pool = ThreadPool::builder().capacity(NonZeroUsize::new(100_000).expect("non-zero")).build_arc()?;
        let sink = AsyncPoolSink::builder()
            .sink(file)
            .overflow_policy(OverflowPolicy::Block)
            .thread_pool(pool.clone())
            .build_arc()?;
        let logger = Logger::builder().sink(sink).level_filter(LevelFilter::All).build_arc()?;
        Ok(Spdlog { logger, pool })
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        spdlog::info!(logger: self.logger, "Logging int: {}, int: {}, double: {}", a, b, c);
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        spdlog::info!(logger: self.logger, "Logging a static string, no arguments at all");
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        spdlog::info!(logger: self.logger, "Logging str: {}", s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        spdlog::info!(logger: self.logger, "Logging order: {:?}", o);
    }

    fn finish(self) -> Result<Finished> {
        // Dropping the last handle on the pool joins its thread after it has run every
        // queued task; the file sink (flushed on drop) goes with the last task's backend.
        drop(self.logger);
        drop(self.pool);
        Ok(Finished::default())
    }
}
