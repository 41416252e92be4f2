//! A collector that reads slowly: the sender's send buffer never holds more than its
//! configured bound, the program's calls and the local segments are unaffected, and every
//! record that did not fit is counted, then reported to the collector in gap markers.

mod common;
use common::net::*;
use common::*;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tapelog::net::proto;
use tapelog_segment::SourceWriter;

const FORMAT: &str = "slow seq {} payload {}";
const RECORDS: u64 = 300_000;
const BUFFER: usize = 256 << 10;

/// A collector built from the library's pieces that reads 16 KiB every 20 ms until `fast`.
fn throttled_collector(listener: TcpListener, dir: std::path::PathBuf, fast: Arc<AtomicBool>) {
    let (mut s, _) = listener.accept().unwrap();
    let hello = proto::read_hello(&mut s).unwrap();
    let mut w = SourceWriter::open(&dir, &hello.header, 8 << 20).unwrap();
    proto::write_welcome(&mut s, hello.version, w.resume()).unwrap();
    w.begin_connection();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while buf.len() - at >= proto::FRAME_HEADER_LEN {
            let h = proto::frame_head(buf[at..at + 5].try_into().unwrap());
            let end = at + 5 + h.len;
            if buf.len() < end {
                break;
            }
            let body = &buf[at + 5..end];
            match h.tag {
                proto::DICT => w.dict(proto::check_entry(body).unwrap()).unwrap(),
                proto::DATA => {
                    let seq = u64::from_le_bytes(body[..8].try_into().unwrap());
                    w.data(seq, proto::check_entry(&body[8..]).unwrap()).unwrap();
                }
                t => panic!("tag {t}"),
            };
            at = end;
        }
        buf.drain(..at);
        let mut ack = Vec::new();
        proto::push_ack(&mut ack, w.publish());
        std::io::Write::write_all(&mut s, &ack).unwrap();
        if !fast.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    w.finish();
}

#[test]
fn slow_collector_keeps_the_sender_within_its_bound() {
    let _s = serial();
    let local = TempDir::new("net-slow-local");
    let remote = TempDir::new("net-slow-remote");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let fast = Arc::new(AtomicBool::new(false));
    let collector = {
        let (dir, fast) = (remote.path().to_path_buf(), fast.clone());
        std::thread::spawn(move || throttled_collector(listener, dir, fast))
    };
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .ring_capacity(64 << 10)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr).send_buffer(BUFFER))
        .start()
        .unwrap();
    for i in 0..RECORDS {
        tapelog::info!("slow seq {} payload {}", i, "twenty bytes of text");
    }
    tapelog::flush();
    let st = tapelog::stats();
    assert_eq!((st.total.logged, st.total.written, st.total.dropped), (RECORDS, RECORDS, 0));
    let n = st.network.unwrap();
    assert!(n.records_dropped > 0, "a slow collector should cost drops: {n:?}");
    assert_eq!(n.buffer_capacity, BUFFER as u64);
    assert!(n.buffer_high_water <= BUFFER as u64, "{n:?}");
    assert!(n.buffer_high_water > 0, "{n:?}");
    let h = tapelog::health();
    assert_eq!(h.status, tapelog::HealthStatus::Degraded);
    assert_eq!(h.network_dropped_since_last, n.records_dropped, "{h:?}");

    // Let the collector catch up; the gap markers then reach it.
    fast.store(true, Ordering::Relaxed);
    wait_for(Duration::from_secs(60), "delivery", || {
        let n = tapelog::stats().network.unwrap();
        n.records_delivered == n.records_queued && n.buffered_bytes == 0
    });
    drop(guard);
    collector.join().unwrap();
    let n = tapelog::stats().network.unwrap();
    assert_eq!(n.records_queued + n.records_dropped, RECORDS, "{n:?}");
    assert_eq!(n.lost_at_shutdown, 0);

    let l = numbered(local.path(), FORMAT);
    assert_eq!((l.distinct(), l.gaps), (RECORDS, 0));
    let r = numbered(remote.path(), FORMAT);
    assert_eq!(r.duplicates(), 0);
    assert_eq!(r.gaps, n.records_dropped, "gap markers vs the sender's drop count");
    assert_eq!(r.distinct() + r.gaps, RECORDS);
}
