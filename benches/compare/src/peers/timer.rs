//! The timer's own cost: the same loop around calls that do nothing.

use std::path::Path;

use anyhow::Result;

use crate::harness::{Counted, Finished, Peer};

/// A "logger" whose calls are empty.
pub struct Timer;

impl Peer for Timer {
    type Local = ();

    fn start(_: &Path, _: usize) -> Result<Self> {
        Ok(Timer)
    }

    fn local(&self) {}

    #[inline(always)]
    fn log_a(&self, _: &mut (), a: u32, b: u64, c: f64) {
        std::hint::black_box((a, b, c));
    }

    #[inline(always)]
    fn log_b(&self, _: &mut ()) {}

    #[inline(always)]
    fn log_c(&self, _: &mut (), s: &str) {
        std::hint::black_box(s);
    }

    fn log_d(&self, _: &mut (), o: &crate::harness::Order) {
        std::hint::black_box(o);
    }

    fn finish(self) -> Result<Finished> {
        Ok(Finished::default())
    }

    fn count(_: &Path) -> Result<Counted> {
        Ok(Counted { messages: None, bytes: 0 })
    }
}
