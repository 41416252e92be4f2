//! The collector's limits on what peers may take: `--max-connections` closes the extra
//! connections at accept while the first N keep working, `--max-sources` refuses new sources
//! past the limit (a known source still gets in), and `--max-memory` closes connections whose
//! announced frames would pass the budget, while a real sender gets every record through.
//! Each refusal is logged and counted (the collector's last "limits:" line).

mod common;
use common::net::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tapelog::net::proto;
use tapelog::wire::record::Drops;

fn hello(run_id: u64) -> Vec<u8> {
    proto::encode_hello(&raw_header("raw", run_id))
}

/// Connects and sends a HELLO; the WELCOME's answer.
fn connect(addr: &str, run_id: u64) -> (TcpStream, Result<u64, String>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&hello(run_id)).unwrap();
    let w = proto::read_welcome(&mut s).unwrap();
    (s, w)
}

/// Sends DATA entry `seq` (a gap marker) and waits for the ACK that covers it.
fn send_and_ack(s: &mut TcpStream, seq: u64) {
    let mut payload = Vec::new();
    Drops { thread: 1, count: 1, first_ticks: 1, last_ticks: 1 }.encode(&mut payload);
    let mut e = Vec::new();
    proto::push_entry(&mut e, tapelog::wire::entry::DROPS, &payload);
    let mut f = Vec::new();
    proto::push_frame_header(&mut f, proto::DATA, proto::DATA_OFFSET_LEN + e.len());
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend_from_slice(&e);
    s.write_all(&f).unwrap();
    let mut ack = [0u8; proto::FRAME_HEADER_LEN + 8];
    s.read_exact(&mut ack).unwrap();
    assert_eq!((ack[0], u64::from_le_bytes(ack[5..].try_into().unwrap())), (proto::ACK, seq + 1));
}

/// Whether the collector closed `s` without a byte.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// The number before `what` in the collector's final "limits:" line.
fn counted(serve: &Serve, what: &str) -> u64 {
    let line = serve.wait_log(Duration::from_secs(10), |l| l.contains("limits: refused"));
    let before = line.split(what).next().unwrap();
    before.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn connections_past_the_limit_are_closed_at_accept() {
    let _s = serial();
    let remote = TempDir::new("net-cap-conns");
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &["--max-connections", "3"]);
    let addr = serve.addr.clone();
    let mut first: Vec<TcpStream> = (1..=3)
        .map(|i| {
            let (s, w) = connect(&addr, i);
            assert_eq!(w, Ok(0));
            s
        })
        .collect();
    // The fourth is closed at accept, before any WELCOME.
    let mut extra = TcpStream::connect(&addr).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = extra.write_all(&hello(4));
    assert!(closed(&mut extra), "the connection past --max-connections was not closed");
    serve.wait_log(Duration::from_secs(10), |l| l.contains("refused at accept: 3 connections are open"));
    // The first three keep working.
    for (i, s) in first.iter_mut().enumerate() {
        send_and_ack(s, 0);
        send_and_ack(s, 1);
        assert!(!closed_now(s), "connection {i} was closed");
    }
    // One leaves: a new one gets its place.
    drop(first.pop());
    serve.wait_log(Duration::from_secs(10), |l| l.contains("closed by the sender"));
    let (mut s, w) = connect(&addr, 5);
    assert_eq!(w, Ok(0));
    send_and_ack(&mut s, 0);
    drop((s, first));
    assert_eq!(serve.term(), Some(0));
    assert_eq!(counted(&serve, "connections over --max-connections"), 1, "{}", serve.log_text());
}

/// Whether the collector has closed `s` already (without waiting for it).
fn closed_now(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let r = s.peek(&mut b);
    s.set_nonblocking(false).unwrap();
    match r {
        Ok(n) => n == 0,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[test]
fn new_sources_past_the_limit_are_refused() {
    let _s = serial();
    let remote = TempDir::new("net-cap-sources");
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &["--max-sources", "2"]);
    let addr = serve.addr.clone();
    for run in [1, 2] {
        let (mut s, w) = connect(&addr, run);
        assert_eq!(w, Ok(0));
        send_and_ack(&mut s, 0);
    }
    for run in [3, 4] {
        let (mut s, w) = connect(&addr, run);
        assert_eq!(w, Err("the collector takes no new sources".to_string()));
        assert!(closed(&mut s));
    }
    serve.wait_log(Duration::from_secs(10), |l| {
        l.contains("refused new source raw-1-4: 2 source directories exist, the --max-sources limit (2 refused so far)")
    });
    // A known source comes back: it resumes where its files end.
    let (mut s, w) = connect(&addr, 1);
    assert_eq!(w, Ok(1));
    send_and_ack(&mut s, 1);
    drop(s);
    assert_eq!(source_dirs(remote.path()).len(), 2);
    assert_eq!(serve.term(), Some(0));
    assert_eq!(counted(&serve, "new sources over"), 2, "{}", serve.log_text());

    // Directories from before a restart count too.
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &["--max-sources", "2"]);
    let (_s, w) = connect(&serve.addr, 5);
    assert_eq!(w, Err("the collector takes no new sources".to_string()));
    assert_eq!(serve.term(), Some(0));
}

#[test]
fn frames_past_the_memory_budget_close_their_connections() {
    const PEERS: u64 = 50;
    const FRAME: usize = 4 << 20;
    const RECORDS: u64 = 50_000;
    let _s = serial();
    let local = TempDir::new("net-cap-memory-local");
    let remote = TempDir::new("net-cap-memory-remote");
    // Room for the sender's 256 KiB buffer and six announced frames (a refused peer gives its
    // starting buffer back).
    let serve = Serve::start(
        "127.0.0.1:0",
        remote.path(),
        &["--max-memory", &(26u64 << 20).to_string(), "--max-frame", &(8u64 << 20).to_string()],
    );
    let addr = serve.addr.clone();
    // A real sender, with batches well inside a starting buffer.
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .ring_capacity(64 << 10)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr.clone()))
        .start()
        .unwrap();
    tapelog::info!("memory seq {}", 0u64);
    tapelog::flush();
    wait_for(Duration::from_secs(20), "the sender's connection", || tapelog::stats().network.unwrap().connected);

    // Each peer announces a 4 MiB frame and dribbles it.
    let mut peers: Vec<TcpStream> = (0..PEERS)
        .map(|i| {
            let (mut s, w) = connect(&addr, 100 + i);
            assert_eq!(w, Ok(0));
            let mut f = Vec::new();
            proto::push_frame_header(&mut f, proto::DATA, FRAME);
            f.push(0);
            s.write_all(&f).unwrap();
            s
        })
        .collect();
    let refusals = || serve.log.lock().unwrap().iter().filter(|l| l.contains("would pass --max-memory")).count() as u64;
    wait_for(Duration::from_secs(20), "the refusals", || refusals() >= PEERS - 6);
    for i in 1..RECORDS {
        tapelog::info!("memory seq {}", i);
        if i % 1000 == 0 {
            // Keep dribbling: one byte per peer, so no stall timeout frees their buffers.
            for p in &mut peers {
                let _ = p.write_all(&[0]);
            }
        }
    }
    tapelog::flush();
    wait_for(Duration::from_secs(30), "delivery", || tapelog::stats().network.unwrap().records_delivered == RECORDS);
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!((n.records_dropped, n.disconnects), (0, 0), "{n:?}");
    let refused = refusals();
    let open = peers.iter().filter(|p| !closed_now(p)).count() as u64;
    // Every peer either holds its frame's buffer within the budget or was closed: at most
    // (26 MiB - 256 KiB) / 4 MiB = 6 hold one, and every other one was refused.
    assert!(open <= 6, "{open} peers still open; log:\n{}", serve.log_text());
    assert_eq!(refused, PEERS - open, "log:\n{}", serve.log_text());
    let dirs: Vec<_> = source_dirs(remote.path())
        .into_iter()
        .filter(|d| !d.file_name().unwrap().to_string_lossy().starts_with("raw-"))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let r = numbered(&dirs[0], "memory seq {}");
    assert_eq!((r.distinct(), r.duplicates(), r.gaps), (RECORDS, 0, 0));
    drop(peers);
    let mut serve = serve;
    assert_eq!(serve.term(), Some(0));
    assert_eq!(counted(&serve, "connections over --max-memory"), refused, "{}", serve.log_text());
}

#[test]
fn a_memory_budget_below_one_buffer_stops_the_collector_at_start() {
    let d = TempDir::new("net-cap-memory-min");
    let dir = d.path().join("collected");
    let (code, _, err) = run(&[
        "serve",
        "--allow-root",
        "--listen",
        "127.0.0.1:0",
        "--dir",
        dir.to_str().unwrap(),
        "--max-memory",
        "1000",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-memory 1000 is below 262144"), "{err}");
}
