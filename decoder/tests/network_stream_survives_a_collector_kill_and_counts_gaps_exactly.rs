//! A collector killed (SIGKILL) and restarted mid-stream: the program's calls keep
//! returning, the local segments are complete, and after the reconnect the collector's files
//! hold every record exactly once except those its gap markers count, which equal the
//! missing records exactly.

mod common;
use common::net::*;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FORMAT: &str = "net seq {} payload {}";

#[test]
fn collector_killed_and_restarted_mid_stream() {
    let _s = serial();
    let local = TempDir::new("net-kill-local");
    let remote = TempDir::new("net-kill-remote");
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &[]);
    let addr = serve.addr.clone();
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .segment_size(4 << 20)
        .ring_capacity(256 << 10)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(
            tapelog::Network::tcp(addr.clone())
                .send_buffer(512 << 10)
                .backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
        .start()
        .unwrap();

    // One thread logs numbered records until told to stop, pausing now and then so the
    // stream spans the kill and the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let logged = Arc::new(AtomicU64::new(0));
    let producer = {
        let (stop, logged) = (stop.clone(), logged.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tapelog::info!("net seq {} payload {}", i, "twenty bytes of text");
                i += 1;
                logged.store(i, Ordering::Relaxed);
                if i % 1000 == 0 {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            i
        })
    };
    let net = || tapelog::stats().network.unwrap();
    std::thread::sleep(Duration::from_secs(2));
    eprintln!("LOG {}", serve.log_text());
    wait_for(Duration::from_secs(60), "records delivered before the kill", || net().records_delivered > 50_000);

    // Kill the collector while records flow. Its socket buffer and unacknowledged entries
    // die with it.
    serve.kill();
    let at_kill = logged.load(Ordering::Relaxed);
    // The program keeps logging during the outage: far more than the 512 KiB send buffer.
    wait_for(Duration::from_secs(60), "calls to keep returning during the outage", || {
        logged.load(Ordering::Relaxed) > at_kill + 200_000
    });
    assert!(net().records_dropped > 0, "the outage should overflow the send buffer: {:?}", net());

    // Restart on the same address; the sender reconnects and resumes.
    let mut serve = Serve::start(&addr, remote.path(), &[]);
    wait_for(Duration::from_secs(60), "a reconnect", || net().connects >= 2);
    let after = logged.load(Ordering::Relaxed);
    wait_for(Duration::from_secs(60), "records after the reconnect", || {
        logged.load(Ordering::Relaxed) > after + 50_000
    });
    stop.store(true, Ordering::Relaxed);
    let total = producer.join().unwrap();
    tapelog::flush();
    let st = tapelog::stats();
    assert_eq!((st.total.logged, st.total.written, st.total.dropped), (total, total, 0));
    wait_for(Duration::from_secs(60), "every queued record to be acknowledged", || {
        let n = net();
        n.records_delivered == n.records_queued
    });
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!(n.records_queued + n.records_dropped, total, "{n:?}");
    assert_eq!(n.lost_at_shutdown, 0, "{n:?}");
    assert_eq!(serve.term(), Some(0), "log:\n{}", serve.log_text());

    // The local segments are complete.
    let l = numbered(local.path(), FORMAT);
    assert_eq!((l.distinct(), l.duplicates(), l.gaps), (total, 0, 0));
    assert_eq!(*l.seen.keys().last().unwrap(), total - 1);

    // The collector's files: every record once, except those the gap markers count.
    let dirs = source_dirs(remote.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let r = numbered(&dirs[0], FORMAT);
    assert_eq!(r.duplicates(), 0, "records written twice");
    assert!(r.gaps > 0, "the outage left no gap marker");
    assert_eq!(r.gaps, n.records_dropped, "gap markers vs the sender's count");
    assert_eq!(r.distinct() + r.gaps, total, "records present + gap counts vs records logged");
    assert!(r.seen.keys().all(|&i| i < total));
}
