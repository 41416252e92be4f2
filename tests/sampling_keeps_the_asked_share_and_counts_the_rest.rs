//! Per-call-site sampling and rate limits keep about the share asked for, never use a lock
//! or system call, and count every suppressed call exactly.

mod common;
use common::*;

fn site<'a>(st: &'a tapelog::Stats, format: &str) -> &'a tapelog::SampledSite {
    st.sampled.iter().find(|s| s.format == format).unwrap_or_else(|| panic!("no sampled site {format:?}"))
}

#[test]
fn sample_every_and_per_sec_keep_their_share_and_count_exactly() {
    let _s = serial();
    let dir = TempDir::new("sampling");
    let guard = tapelog::Builder::new().dir(dir.path()).overflow(tapelog::Overflow::Block).start().unwrap();
    const N: u64 = 100_000;
    for i in 0..N {
        tapelog::info!(sample = 0.1; "sampled {}", i);
        tapelog::info!(every = 100; "every {}", i);
    }
    // per_sec: hammer for ~1.2 s; the windows are whole seconds, so 2 or 3 windows are touched.
    let t0 = std::time::Instant::now();
    let mut calls = 0u64;
    while t0.elapsed() < std::time::Duration::from_millis(1200) {
        tapelog::warn!(per_sec = 50; "limited {}", calls);
        calls += 1;
    }
    // Errors and warnings are sampled only when asked: this one is not.
    for i in 0..1000u32 {
        tapelog::error!("never sampled {}", i);
    }
    drop(guard);
    let st = tapelog::stats();
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");

    let kept = args_of(&events, "sampled {}").count() as u64;
    // Binomial(1e5, 0.1): sd ~ 95; 6 sd either way.
    assert!((10_000 - 570..=10_000 + 570).contains(&kept), "kept {kept} of {N} at p = 0.1");
    assert_eq!(kept + site(&st, "sampled {}").suppressed, N, "suppressed count must be exact");

    let every: Vec<u64> = args_of(&events, "every {}").map(|(_, a)| a[0].parse().unwrap()).collect();
    assert_eq!(every, (0..N).step_by(100).collect::<Vec<_>>());
    assert_eq!(site(&st, "every {}").suppressed, N - N / 100);

    let limited = args_of(&events, "limited {}").count() as u64;
    assert!((50..=150).contains(&limited), "{limited} kept by per_sec = 50 over 1.2 s");
    assert_eq!(limited + site(&st, "limited {}").suppressed, calls);

    assert_eq!(args_of(&events, "never sampled {}").count(), 1000);
}
