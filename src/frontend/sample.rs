//! Per-call-site sampling and rate limits: `info!(sample = 0.1; ...)`,
//! `info!(every = 100; ...)`, `info!(per_sec = 50; ...)`.
//!
//! No system call, no lock: probability sampling draws from a thread-local xorshift
//! generator; `every` is one relaxed counter; `per_sec` is a one-second window packed in one
//! atomic word. Every suppressed call is counted exactly, per call site.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;

/// Ticks per second, set when a logger starts (0 until then: `per_sec` keeps everything).
pub(crate) static TICKS_PER_SEC: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Keep a call when a uniform 64-bit draw is below this.
    Probability(u64),
    /// Keep calls 0, n, 2n, ...
    Every(u64),
    /// Keep at most n calls per second.
    PerSec(u64),
}

/// The sampling state of one call site (a `static` made by the macros).
#[derive(Debug)]
pub struct Sampler {
    kind: Kind,
    /// `Every`: calls so far. `PerSec`: (window second << 32) | calls kept in it.
    state: AtomicU64,
    /// Suppressed calls (`Probability`, `PerSec`; `Every` derives it from `state`).
    suppressed: AtomicU64,
}

impl Sampler {
    /// Keeps each call with probability `p` (0.0..=1.0).
    pub const fn probability(p: f64) -> Sampler {
        let t = if p >= 1.0 {
            u64::MAX
        } else if p <= 0.0 {
            0
        } else {
            (p * 18_446_744_073_709_551_616.0) as u64
        };
        Sampler { kind: Kind::Probability(t), state: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// Keeps the first call and then every `n`th.
    pub const fn every(n: u64) -> Sampler {
        Sampler {
            kind: Kind::Every(if n == 0 { 1 } else { n }),
            state: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Keeps at most `n` calls per second (windows aligned to whole seconds of the clock).
    pub const fn per_sec(n: u64) -> Sampler {
        Sampler { kind: Kind::PerSec(n), state: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// Calls suppressed so far.
    pub fn suppressed(&self) -> u64 {
        match self.kind {
            Kind::Every(n) => {
                let calls = self.state.load(Ordering::Relaxed);
                calls - calls.div_ceil(n)
            }
            _ => self.suppressed.load(Ordering::Relaxed),
        }
    }

    /// Decides whether this call is kept; counts it if not. At most one atomic
    /// read-modify-write per call (none for a kept probability-sampled call).
    #[inline]
    pub fn keep(&self) -> bool {
        let keep = match self.kind {
            Kind::Probability(t) => t == u64::MAX || next_random() < t,
            // Relaxed: only the count matters, not its order against other memory.
            Kind::Every(n) => return self.state.fetch_add(1, Ordering::Relaxed) % n == 0,
            Kind::PerSec(n) => self.keep_per_sec(n),
        };
        if !keep {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
        keep
    }

    fn keep_per_sec(&self, n: u64) -> bool {
        let tps = TICKS_PER_SEC.load(Ordering::Relaxed);
        if tps == 0 {
            return true;
        }
        let sec = (clock::ticks() / tps) & 0xffff_ffff;
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (w, kept) = (cur >> 32, cur & 0xffff_ffff);
            let next = if w != sec {
                (sec << 32) | 1
            } else if kept < n {
                cur + 1
            } else {
                return false;
            };
            // Relaxed CAS: the word is the whole state; nothing else is published with it.
            match self.state.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// xorshift64*: plenty for sampling decisions, one multiply.
#[inline]
fn next_random() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seed from the clock and this thread's stack address; never 0.
            let local = 0u8;
            x = clock::ticks() ^ ((&local as *const u8 as u64).rotate_left(32)) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}
