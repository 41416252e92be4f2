//! Decoded timestamps agree with the wall clock: a record logged between two readings of
//! `SystemTime::now()` decodes to a timestamp within 100 µs of that interval.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::*;

#[test]
fn decoded_timestamps_agree_with_system_time_within_100us() {
    let _s = serial();
    let dir = TempDir::new("clock");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    // Spread over several calibration anchors (written every ~50 ms).
    // The wall clock just after each call too: a thread preempted between reading the wall
    // clock and logging (a loaded machine) widens the window the record's time must fall
    // in, rather than failing the test.
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut after = Vec::new();
    for i in 0..300u32 {
        tapelog::info!("wall {} at {}", i, now());
        after.push(now() as i128);
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(7));
        }
    }
    drop(guard);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let mut n = 0;
    let mut worst = 0i128;
    for e in &events {
        if let Owned::Record { ts_ns, args, format, .. } = e {
            if format == "wall {} at {}" {
                let before: i128 = args[1].parse().unwrap();
                let after = after[args[0].parse::<usize>().unwrap()];
                // How far the record's time lies outside [before, after].
                let diff = (before - ts_ns).max(ts_ns - after).max(0);
                worst = worst.max(diff);
                n += 1;
            }
        }
    }
    assert_eq!(n, 300);
    assert!(worst < 100_000, "worst disagreement {worst} ns");
}
