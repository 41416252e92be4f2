//! Sustained overload in Drop mode (producers far faster than the consumer, for 60 s by
//! default; `TAPELOG_OVERLOAD_SECS` changes it): memory stays flat and
//! `written + dropped == logged` holds exactly at the end.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn drop_mode_under_sustained_overload_keeps_memory_flat_and_counts_exactly() {
    let _s = serial();
    let secs: u64 = std::env::var("TAPELOG_OVERLOAD_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = TempDir::new("overload");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(4096)
        .segment_size(8 << 20)
        .max_files(3)
        .overflow(tapelog::Overflow::Drop)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..2u32)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        tapelog::info!("overload {} {} {}", t, i, "a little text to make it heavier");
                        i += 1;
                    }
                }
                i
            })
        })
        .collect();
    let t0 = Instant::now();
    let warm = Duration::from_secs(secs.min(10) / 2).max(Duration::from_secs(1));
    std::thread::sleep(warm);
    let rss_early = rss_kib();
    let mut rss_max = rss_early;
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        rss_max = rss_max.max(rss_kib());
    }
    stop.store(true, Ordering::Relaxed);
    let calls: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    drop(guard);
    let st = tapelog::stats();
    assert_eq!(st.total.logged, calls);
    assert_eq!(st.total.written + st.total.dropped, st.total.logged, "{:?}", st.total);
    assert!(st.total.dropped > 0, "the producers must have overrun a 4 KiB ring: {:?}", st.total);
    // One mapped segment, one prepared, rings and buffers: growth after warm-up stays small.
    assert!(rss_max < rss_early + 32 * 1024, "RSS grew from {rss_early} KiB to {rss_max} KiB");
    assert!(tapelog::list_segments(dir.path()).len() <= 3);
}
