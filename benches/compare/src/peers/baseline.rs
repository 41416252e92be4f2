//! The synchronous baseline: simplelog's `WriteLogger` into a `BufWriter`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Result;
use simplelog::{Config, LevelFilter, WriteLogger};

use crate::harness::{Finished, Peer};

/// simplelog installed as the `log` facade's global logger; formats and writes inline.
pub struct SimplelogSync;

impl Peer for SimplelogSync {
    type Local = ();

    fn start(dir: &Path, _: usize) -> Result<Self> {
        let file = BufWriter::with_capacity(64 << 10, File::create(dir.join("simplelog.log"))?);
        WriteLogger::init(LevelFilter::Info, Config::default(), file)?;
        Ok(SimplelogSync)
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
        log::logger().flush();
        Ok(Finished::default())
    }
}
