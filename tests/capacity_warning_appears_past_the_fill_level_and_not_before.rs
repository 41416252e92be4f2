//! When a slowed consumer lets a thread's ring fill past the configured level, the consumer
//! writes one warning record naming the thread, the fill level and the high-water mark; not
//! before the level is reached, and at most once per interval. `health()` reports the
//! logger down, degraded (something lost since the last look) or ok.

mod common;

use std::time::Duration;

use common::{args_of, decode_all, serial, TempDir};
use tapelog::{Builder, HealthStatus, Overflow};

use common::CAPACITY_WARNING as WARNING;
const RING: usize = 64 << 10;
/// Bytes of one `info!("fill {}", u32)` record: 10 of header, 4 of argument.
const RECORD: usize = 14;

/// Logs records until the paused consumer would find the ring `share` full, then lets it go.
fn fill_to(share: f64) {
    tapelog::__private::pause_consumer(true);
    for i in 0..(share * RING as f64) as usize / RECORD {
        tapelog::info!("fill {}", i as u32);
    }
    tapelog::__private::pause_consumer(false);
    tapelog::flush();
}

fn warnings(dir: &std::path::Path) -> Vec<Vec<String>> {
    let (events, diags) = decode_all(&[dir.to_path_buf()]);
    assert!(diags.iter().all(|d| !d.contains("error")), "{diags:?}");
    args_of(&events, WARNING)
        .map(|(thread, a)| {
            assert_eq!(thread, "tapelog", "warnings are the consumer's own records");
            a.to_vec()
        })
        .collect()
}

#[test]
fn a_ring_past_the_level_is_reported_once_per_interval_and_not_below_it() {
    let _s = serial();
    let dir = TempDir::new("capacity-warning");
    let guard = Builder::new()
        .dir(dir.path())
        .ring_capacity(RING)
        .overflow(Overflow::Block)
        .capacity_warning(0.8, Duration::from_secs(3600))
        .start()
        .unwrap();
    fill_to(0.6);
    fill_to(0.75);
    assert!(warnings(dir.path()).is_empty(), "no warning below 80%");

    fill_to(0.9);
    let w = warnings(dir.path());
    assert_eq!(w.len(), 1, "{w:?}");
    let me = std::thread::current().name().unwrap().to_string();
    let (depth, cap, hw): (u64, u64, u64) =
        (w[0][3].parse().unwrap(), w[0][4].parse().unwrap(), w[0][5].parse().unwrap());
    assert_eq!(w[0][0], me);
    assert_eq!(cap, RING as u64);
    let pct: u64 = w[0][2].parse().unwrap();
    assert!((80..=100).contains(&pct) && pct == depth * 100 / cap, "{w:?}");
    assert!(hw >= depth, "{w:?}");

    // Within the interval (an hour): no second warning.
    fill_to(0.95);
    assert_eq!(warnings(dir.path()).len(), 1);
    drop(guard);
}

#[test]
fn with_a_zero_interval_every_crossing_is_reported() {
    let _s = serial();
    let dir = TempDir::new("capacity-warning-zero");
    let guard = Builder::new()
        .dir(dir.path())
        .ring_capacity(RING)
        .overflow(Overflow::Block)
        .capacity_warning(0.5, Duration::ZERO)
        .start()
        .unwrap();
    fill_to(0.4);
    fill_to(0.7);
    fill_to(0.7);
    drop(guard);
    assert_eq!(warnings(dir.path()).len(), 2);
}

#[test]
fn no_capacity_warning_turns_them_off_and_bad_levels_are_refused() {
    let _s = serial();
    let dir = TempDir::new("capacity-warning-off");
    let e = Builder::new().dir(dir.path()).capacity_warning(1.5, Duration::ZERO).start().unwrap_err();
    assert!(e.to_string().contains("capacity_warning fill 1.5"), "{e}");
    let guard = Builder::new()
        .dir(dir.path())
        .ring_capacity(RING)
        .overflow(Overflow::Block)
        .no_capacity_warning()
        .start()
        .unwrap();
    fill_to(0.95);
    drop(guard);
    assert!(warnings(dir.path()).is_empty());
}

#[test]
fn health_says_down_degraded_and_ok() {
    let _s = serial();
    assert_eq!(tapelog::health().status, HealthStatus::Down, "no logger");
    let dir = TempDir::new("health");
    let guard = Builder::new().dir(dir.path()).ring_capacity(4096).overflow(Overflow::Drop).start().unwrap();
    let _ = tapelog::health(); // start the "since last" window here
    tapelog::info!("one {}", 1u32);
    tapelog::flush();
    assert_eq!(tapelog::health().status, HealthStatus::Ok);
    // Overflow a paused 4 KiB ring in Drop mode.
    tapelog::__private::pause_consumer(true);
    for i in 0..1000u32 {
        tapelog::info!("drop me {}", i);
    }
    tapelog::__private::pause_consumer(false);
    tapelog::flush();
    let h = tapelog::health();
    assert_eq!(h.status, HealthStatus::Degraded, "{h:?}");
    assert!(h.dropped_since_last > 0 && h.dropped_since_last == h.total.dropped, "{h:?}");
    let v: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["dropped"], h.total.dropped);
    // Nothing lost since, and the next pass of the consumer finds the ring empty: ok again.
    tapelog::flush();
    assert_eq!(tapelog::health().status, HealthStatus::Ok);
    drop(guard);
    assert_eq!(tapelog::health().status, HealthStatus::Down);
}
