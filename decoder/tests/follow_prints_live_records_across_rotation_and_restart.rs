//! `tapelog cat --follow DIR` behaves like `tail -F`: records of live segments appear once
//! flushed, it follows rotation into new segments and a writer restart into a new run, and
//! with several threads it prints in timestamp order.

mod common;
use common::*;
use std::time::Duration;

/// Generous: the follower polls every 10 ms, but CI machines are busy.
const WAIT: Duration = Duration::from_secs(30);

fn logger(dir: &std::path::Path) -> tapelog::Guard {
    tapelog::Builder::new()
        .no_capacity_warning()
        .dir(dir)
        .segment_size(72 << 10)
        .ring_capacity(4 << 10)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap()
}

#[test]
fn follow_prints_flushed_records_and_follows_rotation() {
    let _s = serial();
    let dir = TempDir::new("follow-rotation");
    let d = dir.path().to_str().unwrap();
    // Started before any segment exists: it waits for them.
    let mut f = Running::spawn(&["cat", "--follow", "--format", "{msg}", d]);
    let guard = logger(dir.path());
    tapelog::info!("first {}", 0u32);
    tapelog::flush();
    f.wait_until(WAIT, "the first flushed record", |l| l.iter().any(|l| l == "first 0"));

    // Enough records for several 72 KiB segments.
    let n = 12_000u32;
    for i in 0..n {
        tapelog::info!("rot {} {}", i, "some padding to fill segments faster");
        if i % 1000 == 0 {
            tapelog::flush();
        }
    }
    tapelog::flush();
    f.wait_until(WAIT, "every record across rotations", |l| {
        l.iter().filter(|l| l.starts_with("rot ")).count() == n as usize
    });
    let segments = tapelog::list_segments(dir.path()).len();
    assert!(segments >= 3, "the test must rotate: {segments} segments");
    let rot: Vec<u32> = f.seen.iter().filter_map(|l| l.strip_prefix("rot ")?.split(' ').next()?.parse().ok()).collect();
    assert_eq!(rot, (0..n).collect::<Vec<_>>(), "records in order, none lost or repeated");
    // Latency is printed, not asserted (`--nocapture` shows it).
    tapelog::info!("probe {}", 1u8);
    tapelog::flush();
    let t = std::time::Instant::now();
    f.wait_until(WAIT, "the probe", |l| l.last().is_some_and(|l| l == "probe 1"));
    eprintln!("follow: a record was printed {:?} after flush() returned", t.elapsed());
    drop(guard);
    assert!(f.alive(), "the follower keeps running after the writer stops");
}

#[test]
fn follow_survives_a_writer_restart() {
    let _s = serial();
    let dir = TempDir::new("follow-restart");
    let d = dir.path().to_str().unwrap();
    let guard = logger(dir.path());
    tapelog::info!("run {} record {}", 1u8, 0u32);
    tapelog::flush();
    let mut f = Running::spawn(&["cat", "--follow", "--format", "{msg}", d]);
    f.wait_until(WAIT, "the backlog", |l| l.iter().any(|l| l == "run 1 record 0"));
    for i in 1..100u32 {
        tapelog::info!("run {} record {}", 1u8, i);
    }
    tapelog::flush();
    f.wait_until(WAIT, "the first run", |l| l.iter().filter(|l| l.starts_with("run 1 ")).count() == 100);
    drop(guard);

    // The writer restarts: a new run, new file names, in the same directory.
    std::thread::sleep(Duration::from_millis(50));
    let guard = logger(dir.path());
    for i in 0..100u32 {
        tapelog::info!("run {} record {}", 2u8, i);
    }
    tapelog::flush();
    f.wait_until(WAIT, "the second run", |l| l.iter().filter(|l| l.starts_with("run 2 ")).count() == 100);
    drop(guard);
    let runs: std::collections::HashSet<String> = tapelog::list_segments(dir.path())
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().split('-').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(runs.len(), 2, "two runs on disk");
    let expected: Vec<String> =
        (0..100).map(|i| format!("run 1 record {i}")).chain((0..100).map(|i| format!("run 2 record {i}"))).collect();
    assert_eq!(f.seen, expected);
}

#[test]
fn follow_keeps_timestamp_order_across_threads() {
    let _s = serial();
    let dir = TempDir::new("follow-order");
    let d = dir.path().to_str().unwrap();
    // A wide window: this test proves the order, not the latency, on a busy machine.
    let mut f = Running::spawn(&[
        "cat",
        "-f",
        "--window",
        "2000",
        "--ts-format",
        "unix-ns",
        "--format",
        "{ts} {thread} {msg}",
        d,
    ]);
    let guard = logger(dir.path());
    let per = 3000u32;
    let threads: Vec<_> = (0..3)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("t{t}"))
                .spawn(move || {
                    for i in 0..per {
                        tapelog::info!("n {}", i);
                        if i % 500 == 0 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    tapelog::flush();
    f.wait_until(WAIT, "every thread's records", |l| l.len() == 3 * per as usize);
    drop(guard);
    let ts: Vec<u128> = f.seen.iter().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps out of order");
    for t in 0..3 {
        let mine: Vec<u32> = f
            .seen
            .iter()
            .filter(|l| l.split(' ').nth(1) == Some(&format!("t{t}")))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(mine, (0..per).collect::<Vec<_>>(), "thread t{t}");
    }
}
