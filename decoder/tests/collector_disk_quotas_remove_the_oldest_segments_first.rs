//! Disk quotas of `tapelog serve`: a sender that outruns `--max-bytes-per-source` leaves at
//! most that much plus one segment in its directory, the oldest segments removed first (what
//! is left is the newest records, without a hole), and the removal is logged and counted;
//! `--max-bytes` does the same across sources: a second source's segments push out the
//! first's, all but its newest.

mod common;
use common::net::*;
use common::*;
use std::path::Path;
use std::time::Duration;

const FORMAT: &str = "quota seq {} pad {}";
const RECORDS: u64 = 40_000;
const SEGMENT: u64 = 1 << 20;
const QUOTA: u64 = 3 << 20;

/// Streams RECORDS records of ~300 bytes (about 12 MiB) to `addr` until all are delivered.
fn send_all(addr: &str, local: &Path) {
    let pad = "x".repeat(280);
    let guard = tapelog::Builder::new()
        .dir(local)
        .ring_capacity(64 << 10)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr))
        .start()
        .unwrap();
    for i in 0..RECORDS {
        tapelog::info!("quota seq {} pad {}", i, pad.as_str());
    }
    tapelog::flush();
    wait_for(Duration::from_secs(30), "delivery", || tapelog::stats().network.unwrap().records_delivered == RECORDS);
    drop(guard);
}

/// Segment files of `dir`: (sequence numbers in order, total bytes).
fn segments(dir: &Path) -> (Vec<u32>, u64) {
    let mut seqs = Vec::new();
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = tapelog::wire::SegmentName::parse(&name) {
            seqs.push(n.seq);
            total += e.metadata().unwrap().len();
        }
    }
    seqs.sort();
    (seqs, total)
}

/// What a quota must leave: at most QUOTA + one segment, the newest segments without a
/// gap, the first gone, and the newest records, contiguous up to the last.
fn check_kept_newest(dir: &Path) {
    let (seqs, total) = segments(dir);
    assert!(total <= QUOTA + SEGMENT, "{total} bytes of segments left, over {QUOTA} + one segment");
    assert!(!seqs.is_empty() && seqs[0] > 0, "the oldest segment is still there: {seqs:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "not the newest segments: {seqs:?}");
    let r = numbered(dir, FORMAT);
    let (first, last) = (*r.seen.keys().next().unwrap(), *r.seen.keys().last().unwrap());
    assert_eq!(last, RECORDS - 1, "the newest records are missing");
    assert!(first > 0, "nothing was removed");
    assert_eq!(r.distinct(), last - first + 1, "the records left have a hole");
    assert_eq!(r.duplicates(), 0);
}

#[test]
fn a_source_past_its_quota_keeps_its_newest_segments() {
    let _s = serial();
    let local = TempDir::new("net-quota-source-local");
    let remote = TempDir::new("net-quota-source-remote");
    let mut serve = Serve::start(
        "127.0.0.1:0",
        remote.path(),
        &["--segment-size", &SEGMENT.to_string(), "--max-bytes-per-source", &QUOTA.to_string()],
    );
    send_all(&serve.addr.clone(), local.path());
    assert_eq!(serve.term(), Some(0));
    let dirs = source_dirs(remote.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    check_kept_newest(&dirs[0]);
    let log = serve.log_text();
    assert!(log.contains("--max-bytes-per-source: removed"), "{log}");
    let line = serve.wait_log(Duration::from_secs(1), |l| l.contains("limits: refused"));
    let removed: u64 = line.split("removed ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(removed, u64::from(segments(&dirs[0]).0[0]), "{line}");
}

#[test]
fn the_collector_total_removes_the_oldest_segments_of_any_source() {
    let _s = serial();
    let local = TempDir::new("net-quota-total-local");
    let remote = TempDir::new("net-quota-total-remote");
    let mut serve = Serve::start(
        "127.0.0.1:0",
        remote.path(),
        &["--segment-size", &SEGMENT.to_string(), "--max-bytes", &QUOTA.to_string()],
    );
    // One run, then another: two sources, one after the other.
    send_all(&serve.addr.clone(), &local.path().join("a"));
    let first = source_dirs(remote.path());
    assert_eq!(first.len(), 1, "{first:?}");
    check_kept_newest(&first[0]);
    send_all(&serve.addr.clone(), &local.path().join("b"));
    assert_eq!(serve.term(), Some(0));
    let dirs = source_dirs(remote.path());
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let second = dirs.iter().find(|d| **d != first[0]).unwrap();
    // The second run's segments pushed out the first run's: only its newest (spared, as
    // the one a connection may be writing) is left.
    assert_eq!(segments(&first[0]).0.len(), 1, "{:?}", segments(&first[0]));
    check_kept_newest(second);
    let total = segments(&first[0]).1 + segments(second).1;
    assert!(total <= QUOTA + 2 * SEGMENT, "{total} bytes left under --dir");
    assert!(serve.log_text().contains("--max-bytes: removed"), "{}", serve.log_text());
}
