//! Under a sustained flood of DEBUG records of mixed sizes from several threads, the flight
//! recorder never holds more than its bound, evicts the oldest and counts every eviction, and
//! `max_age` evicts what is older. Counter-based: nothing here depends on speed.

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tapelog::FlightRecorder;

const BOUND: usize = 256 << 10;
const THREADS: u64 = 3;
const PER_THREAD: u64 = 60_000;

#[test]
fn flight_recorder_memory_stays_within_its_bound_under_a_flood() {
    let _s = serial();
    let dir = TempDir::new("flight-flood");
    let fr = FlightRecorder::new().max_bytes(BOUND).trigger(None);
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .filter("debug")
        .overflow(tapelog::Overflow::Block)
        .flight_recorder(fr)
        .start()
        .unwrap();
    let text = "x".repeat(300);
    // A watcher samples the counters while the flood runs.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples = 0u64;
            while !done.load(Ordering::Relaxed) {
                let f = tapelog::stats().flight_recorder.unwrap();
                assert!(f.held_bytes <= BOUND as u64, "{f:?}");
                assert!(f.max_held_bytes <= BOUND as u64, "{f:?}");
                samples += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            samples
        })
    };
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let text = text.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // 18 to 318 bytes a record.
                    let len = (i as usize * 7919) % 301;
                    tapelog::debug!("flood {} {} {}", t, i, &text[..len]);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    tapelog::flush();
    done.store(true, Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0);

    let st = tapelog::stats();
    let f = st.flight_recorder.clone().unwrap();
    assert_eq!(st.total.dropped, 0, "{:?}", st.total);
    assert_eq!(st.total.written + st.total.kept, st.total.logged, "{:?}", st.total);
    assert_eq!(f.kept, THREADS * PER_THREAD, "{f:?}");
    assert_eq!(f.kept, f.dumped + f.evicted + f.held, "{f:?}");
    assert_eq!(f.dumped, 0, "no trigger, no dump: {f:?}");
    assert!(f.evicted > f.kept / 2, "far more than the bound was kept: {f:?}");
    assert!(f.max_held_bytes <= BOUND as u64 && f.max_held_bytes > BOUND as u64 / 2, "{f:?}");
    assert!(f.held_bytes <= BOUND as u64, "{f:?}");
    drop(guard);

    // Nothing kept reached the segments.
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(args_of(&events, "flood {} {} {}").count(), 0);
    let f = tapelog::stats().flight_recorder.unwrap();
    assert_eq!((f.held, f.evicted), (0, f.kept), "a clean shutdown discards what is kept: {f:?}");
}

#[test]
fn records_older_than_max_age_are_evicted() {
    let _s = serial();
    let dir = TempDir::new("flight-age");
    let fr = FlightRecorder::new().max_age(Duration::from_millis(50)).trigger(None);
    let guard = tapelog::Builder::new().dir(dir.path()).filter("debug").flight_recorder(fr).start().unwrap();
    for i in 0..1000u64 {
        tapelog::debug!("old {}", i);
    }
    tapelog::flush();
    let f = tapelog::stats().flight_recorder.unwrap();
    assert_eq!(f.kept, 1000, "{f:?}");
    // The consumer looks at least every few milliseconds while idle.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let f = loop {
        std::thread::sleep(Duration::from_millis(20));
        tapelog::flush();
        let f = tapelog::stats().flight_recorder.unwrap();
        if f.held == 0 || std::time::Instant::now() > deadline {
            break f;
        }
    };
    assert_eq!((f.held, f.held_bytes, f.evicted), (0, 0, 1000), "{f:?}");
    tapelog::debug!("new {}", 1u64);
    tapelog::flush();
    let f = tapelog::stats().flight_recorder.unwrap();
    assert_eq!((f.kept, f.held), (1001, 1), "{f:?}");
    drop(guard);
}

/// Records so large that each one evicts every other record of its thread: the newest is
/// still kept and dumped, and every one is counted once.
#[test]
fn a_record_that_evicts_all_its_threads_others_is_still_dumped() {
    let _s = serial();
    let dir = TempDir::new("flight-big");
    let fr = FlightRecorder::new().max_bytes(4096).trigger(None);
    let guard = tapelog::Builder::new().dir(dir.path()).filter("debug").flight_recorder(fr).start().unwrap();
    let big = "y".repeat(2500);
    let huge = "z".repeat(5000);
    for i in 0..10u64 {
        tapelog::debug!("big {} {}", i, big.as_str());
    }
    // Larger than the whole buffer: counted as kept and evicted at once.
    tapelog::debug!("huge {}", huge.as_str());
    tapelog::dump_flight_recorder("look");
    let f = tapelog::stats().flight_recorder.unwrap();
    assert_eq!((f.kept, f.dumped, f.evicted, f.held, f.dumps), (11, 1, 10, 0, 1), "{f:?}");
    drop(guard);
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    let got: Vec<&[String]> = args_of(&events, "big {} {}").map(|(_, a)| a).collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][0], "9");
    assert_eq!(args_of(&events, "huge {}").count(), 0);
}

/// Resident memory of the process, in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

/// A flood of millions of records, 30 times the bound: resident memory, once the buffer has
/// filled, stays flat (nothing grows with the records logged), and every eviction is
/// counted.
#[test]
fn resident_memory_stays_flat_under_a_flood_many_times_the_bound() {
    let _s = serial();
    let dir = TempDir::new("flight-rss");
    const BIG: usize = 16 << 20;
    const N: u64 = 2_000_000;
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .filter("debug")
        .overflow(tapelog::Overflow::Block)
        .flight_recorder(FlightRecorder::new().max_bytes(BIG).trigger(None))
        .start()
        .unwrap();
    let flood = |from: u64, to: u64| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in from..to {
                        tapelog::debug!("flood {} {} {}", t, i, i as f64);
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        tapelog::flush();
    };
    // First fill the buffer (about 2.5 times over), then measure across the rest.
    flood(0, N / 4);
    let f = tapelog::stats().flight_recorder.unwrap();
    assert!(f.evicted > 0, "the buffer filled: {f:?}");
    let before = resident();
    flood(N / 4, N);
    let after = resident();
    let st = tapelog::stats();
    let f = st.flight_recorder.clone().unwrap();
    println!(
        "{} records kept through a {} MiB recorder: resident {} -> {} MiB, {} evicted",
        f.kept,
        BIG >> 20,
        before >> 20,
        after >> 20,
        f.evicted
    );
    assert_eq!(f.kept, THREADS * N, "{f:?}");
    assert_eq!(f.kept, f.dumped + f.evicted + f.held, "{f:?}");
    assert!(f.max_held_bytes <= BIG as u64, "{f:?}");
    // 75% of the flood (about 170 MB of records) went through; memory may move by a few
    // MiB (allocator, thread stacks), never by the records.
    assert!(after <= before + (8 << 20), "resident grew from {before} to {after} bytes");
    drop(guard);
}
