//! ftlog with a bounded channel that blocks the caller when full.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{anyhow, Result};
use ftlog::LoggerGuard;
use log::LevelFilter;

use crate::harness::{Finished, Peer};

/// ftlog installed as the `log` facade's global logger.
pub struct Ftlog {
    guard: LoggerGuard,
}

impl Peer for Ftlog {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let file = BufWriter::with_capacity(64 << 10, File::create(dir.join("ftlog.log"))?);
        let guard = ftlog::builder()
            .max_log_level(LevelFilter::Info)
            .root(file)
            .bounded(100_000, true)
            .utc()
            .try_init()
            .map_err(|e| anyhow!("ftlog init: {e}"))?;
        Ok(Ftlog { guard })
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        log::info!("Logging int: {}, int: {}, double: {}", a, b, c);
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {
        log::info!("Logging a static string, no arguments at all");
    }

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        log::info!("Logging str: {}", s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        log::info!("Logging order: {:?}", o);
    }

    fn finish(self) -> Result<Finished> {
        // The log thread owns the file for the life of the process; a flush writes out
        // every queued message and flushes the file, and returns after it has done so.
        log::logger().flush();
        drop(self.guard);
        Ok(Finished::default())
    }
}
