//! Timestamps: raw ticks on the hot path, calibrated to wall time by the consumer.
//!
//! On x86_64 a tick is one time-stamp-counter increment (`rdtsc`, ~20 cycles, no system
//! call). Elsewhere it is a nanosecond of a monotonic clock. Either way the consumer writes
//! calibration anchors `(ticks, Unix ns, ticks per second)` into the stream, and readers
//! convert with the latest anchor before a record.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::wire::header::{CLOCK_MONOTONIC, CLOCK_TSC};
use crate::wire::record::Anchor;

/// The clock code written in segment headers.
pub const CLOCK_KIND: u8 = if cfg!(all(target_arch = "x86_64", not(miri))) { CLOCK_TSC } else { CLOCK_MONOTONIC };

/// Reads the tick counter.
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no memory effects.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    {
        monotonic_ns()
    }
}

#[cfg(any(not(target_arch = "x86_64"), miri))]
fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Unix time in ns.
pub fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// One instant read on both clocks, taken as the midpoint of the tightest of a few tries.
pub fn sample() -> (u64, u64) {
    let mut best = (u64::MAX, 0u64, 0u64);
    for _ in 0..7 {
        let a = ticks();
        let ns = unix_ns();
        let b = ticks();
        let width = b.wrapping_sub(a);
        if width < best.0 {
            best = (width, a + width / 2, ns);
        }
    }
    (best.1, best.2)
}

/// Measures the tick rate against the monotonic clock over roughly `span`.
pub fn measure_rate(span: std::time::Duration) -> f64 {
    if CLOCK_KIND == CLOCK_MONOTONIC {
        return 1e9;
    }
    let i0 = Instant::now();
    let t0 = ticks();
    while i0.elapsed() < span {
        std::hint::spin_loop();
    }
    let t1 = ticks();
    let dt = i0.elapsed().as_nanos() as f64;
    let rate = (t1.wrapping_sub(t0)) as f64 * 1e9 / dt;
    if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1e9
    }
}

/// Keeps the tick rate estimate and makes anchors; lives on the consumer thread.
#[derive(Debug)]
pub struct Calibrator {
    first: (u64, u64),
    rate: f64,
    /// Ticks between anchors.
    pub interval_ticks: u64,
    last_anchor_ticks: u64,
}

impl Calibrator {
    /// Starts from a measured rate.
    pub fn new(rate: f64) -> Self {
        let first = sample();
        Calibrator { first, rate, interval_ticks: (rate * 0.05) as u64, last_anchor_ticks: 0 }
    }

    /// Takes a fresh anchor and refines the rate from the first one (once enough time has
    /// passed for the estimate to beat the initial measurement).
    pub fn anchor(&mut self) -> Anchor {
        let (t, ns) = sample();
        let dns = ns.saturating_sub(self.first.1);
        if dns > 1_000_000_000 {
            let r = t.wrapping_sub(self.first.0) as f64 * 1e9 / dns as f64;
            if r.is_finite() && r > 0.0 && (r / self.rate - 1.0).abs() < 0.01 {
                self.rate = r;
            }
        }
        self.last_anchor_ticks = t;
        Anchor { ticks: t, unix_ns: ns, ticks_per_sec: self.rate }
    }

    /// Whether an anchor is due at `now` (ticks).
    #[inline]
    pub fn due(&self, now: u64) -> bool {
        now.wrapping_sub(self.last_anchor_ticks) > self.interval_ticks
    }

    /// The current rate estimate.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}
