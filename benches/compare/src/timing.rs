//! The clock: `lfence; rdtsc; lfence`, calibrated against `Instant`.

use std::time::{Duration, Instant};

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the comparison harness times calls with rdtsc and needs x86_64");

/// Reads the time-stamp counter between two `lfence`s, so the read cannot move before
/// earlier instructions finish nor let later ones start before it.
#[inline(always)]
pub fn tsc() -> u64 {
    use std::arch::x86_64::{_mm_lfence, _rdtsc};
    // SAFETY: `lfence` (SSE2) and `rdtsc` exist on every x86_64 CPU; neither touches memory.
    unsafe {
        _mm_lfence();
        let t = _rdtsc();
        _mm_lfence();
        t
    }
}

/// Ticks of the time-stamp counter per nanosecond, measured against `Instant` over `span`.
pub fn calibrate(span: Duration) -> f64 {
    // Take the median of a few short measurements so a preemption in one does not skew it.
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let (i0, t0) = (Instant::now(), tsc());
            while i0.elapsed() < span / 5 {
                std::hint::spin_loop();
            }
            let (t1, e) = (tsc(), i0.elapsed());
            (t1 - t0) as f64 / e.as_nanos() as f64
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Busy-waits `ticks` time-stamp-counter ticks.
#[inline(always)]
pub fn spin(ticks: u64) {
    let end = tsc() + ticks;
    while tsc() < end {
        std::hint::spin_loop();
    }
}

/// Whether the CPU advertises an invariant TSC (`constant_tsc` and `nonstop_tsc`).
pub fn invariant_tsc() -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("constant_tsc") && has("nonstop_tsc")
}
