//! Hostile or broken input to `tapelog serve`: garbage, an unknown protocol version, a
//! damaged entry, a frame over the size limit, a half-sent frame, a stalled peer and a silent
//! one. Each closes its own connection with a logged reason; a real sender streaming all the
//! while loses nothing.

mod common;
use common::net::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tapelog::net::proto;

const FORMAT: &str = "steady seq {}";

fn hello(run_id: u64) -> Vec<u8> {
    proto::encode_hello(&raw_header("hostile", run_id))
}

/// Connects, sends `bytes`, and returns once the collector closes the connection (what it
/// sent back before closing, if anything).
fn closed_after(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the collector did not close the connection: {e}"),
    }
    got
}

fn accepted(welcome: &[u8]) -> bool {
    proto::read_welcome(&mut &welcome[..]).map(|w| w.is_ok()).unwrap_or(false)
}

#[test]
fn bad_connections_are_closed_with_reasons() {
    let _s = serial();
    let local = TempDir::new("net-hostile-local");
    let remote = TempDir::new("net-hostile-remote");
    let serve = Serve::start("127.0.0.1:0", remote.path(), &["--stall-timeout", "1", "--max-frame", "1048576"]);
    let addr = serve.addr.clone();

    // A real sender streams the whole time.
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr.clone()))
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let producer = {
        let (stop, count) = (stop.clone(), count.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tapelog::info!("steady seq {}", i);
                i += 1;
                count.store(i, Ordering::Relaxed);
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            i
        })
    };

    // Not our protocol.
    closed_after(&addr, b"GET / HTTP/1.1\r\nHost: collector\r\n\r\n");
    serve.wait_log(Duration::from_secs(10), |l| l.contains("not a tapelog stream (bad magic"));

    // An unknown protocol version: rejected with the reason, then closed.
    let mut v99 = proto::MAGIC.to_vec();
    v99.extend_from_slice(&99u16.to_le_bytes());
    v99.extend_from_slice(&0u32.to_le_bytes());
    let reply = closed_after(&addr, &v99);
    let reason = proto::read_welcome(&mut &reply[..]).unwrap().unwrap_err();
    assert!(reason.contains("protocol version 99"), "{reason}");
    serve.wait_log(Duration::from_secs(10), |l| l.contains("protocol version 99 is not supported"));

    // A damaged entry.
    let mut bad_crc = hello(1);
    let mut e = Vec::new();
    proto::push_entry(&mut e, tapelog::wire::entry::THREAD, &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    *e.last_mut().unwrap() ^= 0xff;
    proto::push_frame_header(&mut bad_crc, proto::DICT, e.len());
    bad_crc.extend_from_slice(&e);
    assert!(accepted(&closed_after(&addr, &bad_crc)));
    serve.wait_log(Duration::from_secs(10), |l| l.contains("fails its CRC"));

    // A frame over the limit: refused before anything is allocated for it.
    let mut huge = hello(2);
    proto::push_frame_header(&mut huge, proto::DATA, 1 << 30);
    closed_after(&addr, &huge);
    serve.wait_log(Duration::from_secs(10), |l| l.contains("over the 1048576-byte limit"));

    // An unknown frame tag.
    let mut tag = hello(3);
    proto::push_frame_header(&mut tag, 9, 0);
    closed_after(&addr, &tag);
    serve.wait_log(Duration::from_secs(10), |l| l.contains("unknown frame tag 9"));

    // Half a frame, then silence: closed after the stall timeout.
    let mut half = hello(4);
    proto::push_frame_header(&mut half, proto::DATA, 100);
    half.extend_from_slice(&[0u8; 10]);
    closed_after(&addr, &half);
    serve.wait_log(Duration::from_secs(10), |l| l.contains("stalled for 1s inside the frame"));

    // Half a frame, then the peer goes away.
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&half).unwrap();
    }
    serve.wait_log(Duration::from_secs(10), |l| l.contains("closed the connection inside the frame"));

    // Connected but silent: no HELLO within the stall timeout.
    closed_after(&addr, b"");
    serve.wait_log(Duration::from_secs(10), |l| l.contains("no whole HELLO within 1s"));

    // Garbage shorter than a HELLO, then silence.
    closed_after(&addr, b"TAPE");
    serve.wait_log(Duration::from_secs(10), |l| l.contains("no whole HELLO"));

    // The real sender was never disturbed.
    let before = count.load(Ordering::Relaxed);
    wait_for(Duration::from_secs(30), "more records", || count.load(Ordering::Relaxed) > before + 10_000);
    stop.store(true, Ordering::Relaxed);
    let total = producer.join().unwrap();
    tapelog::flush();
    wait_for(Duration::from_secs(60), "delivery", || {
        let n = tapelog::stats().network.unwrap();
        n.records_delivered == total
    });
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!((n.records_dropped, n.disconnects), (0, 0), "{n:?}");
    let dirs: Vec<_> = source_dirs(remote.path())
        .into_iter()
        .filter(|d| !d.file_name().unwrap().to_string_lossy().starts_with("hostile-"))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let r = numbered(&dirs[0], FORMAT);
    assert_eq!((r.distinct(), r.duplicates(), r.gaps), (total, 0, 0));
}
