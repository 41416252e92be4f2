//! fast_log with a bounded channel (its `send` blocks when full).

use std::path::Path;

use anyhow::{anyhow, Result};
use fast_log::Config;
use log::LevelFilter;

use crate::harness::{Finished, Peer};

/// fast_log installed as the `log` facade's global logger.
pub struct FastLog;

impl Peer for FastLog {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let path = dir.join("fast_log.log");
        let path = path.to_str().ok_or_else(|| anyhow!("non-UTF-8 path"))?;
        fast_log::init(Config::new().file(path).chan_len(Some(100_000)).level(LevelFilter::Info))
            .map_err(|e| anyhow!("fast_log init: {e}"))?;
        Ok(FastLog)
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
        // The flush command travels behind every message; the wait group is released
        // once the file appender has written and flushed them.
        fast_log::flush().map_err(|e| anyhow!("fast_log flush: {e}"))?.wait();
        Ok(Finished::default())
    }
}
