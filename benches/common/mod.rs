//! Per-call timing shared by the harness-less benches: `lfence; rdtsc; lfence` around each
//! call, in bursts of 20 with a spin between bursts.
#![allow(dead_code)]

#[inline(always)]
pub fn fenced_ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence and rdtsc are available on every x86_64 CPU and touch no memory.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        let t = core::arch::x86_64::_rdtsc();
        core::arch::x86_64::_mm_lfence();
        t
    }
    #[cfg(not(target_arch = "x86_64"))]
    tapelog::clock::ticks()
}

pub fn spin(ticks: u64) {
    let end = tapelog::clock::ticks() + ticks;
    while tapelog::clock::ticks() < end {
        std::hint::spin_loop();
    }
}

/// Times `f` per call in bursts of 20; returns sorted samples in ticks.
pub fn measure(samples: usize, gap_ticks: u64, mut f: impl FnMut(u64)) -> Vec<u64> {
    let mut out = Vec::with_capacity(samples);
    let warm = samples / 10;
    let mut i = 0u64;
    while out.len() < samples {
        for _ in 0..20 {
            let t0 = fenced_ticks();
            f(i);
            let t1 = fenced_ticks();
            if i as usize >= warm {
                out.push(t1 - t0);
            }
            i += 1;
        }
        spin(gap_ticks);
    }
    out.sort_unstable();
    out
}

pub fn pct(s: &[u64], p: f64) -> u64 {
    s[((s.len() as f64 * p) as usize).min(s.len() - 1)]
}
