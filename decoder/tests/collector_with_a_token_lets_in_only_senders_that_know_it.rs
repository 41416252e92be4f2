//! `tapelog serve --token-file`: a HELLO without the token, or with a wrong one, is refused
//! before a byte reaches the disk (nothing appears under `--dir`), with a logged reason and a
//! generic rejection for the peer; a sender with a wrong token counts the rejections and
//! keeps its local segments complete; one with the right token gets every record through.
//! A token file that is missing, empty or readable by others stops the collector at start.

mod common;
use common::net::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use tapelog::net::proto;
use tapelog::wire::header::FileHeader;

const FORMAT: &str = "token seq {}";
const RECORDS: u64 = 20_000;

fn header(run_id: u64) -> FileHeader {
    raw_header("intruder", run_id)
}

/// Sends `hello` and returns the collector's answer: `Ok(resume)` or `Err(reason)`.
fn answer(addr: &str, hello: &[u8]) -> Result<u64, String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(hello).unwrap();
    let a = proto::read_welcome(&mut s).unwrap();
    if a.is_err() {
        // Then closed.
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0, "bytes after a rejection");
    }
    a
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn token_file(dir: &Path, content: &str, mode: u32) -> std::path::PathBuf {
    let p = dir.join("token");
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn only_senders_with_the_token_get_in() {
    let _s = serial();
    let secrets = TempDir::new("net-token-secrets");
    let remote = TempDir::new("net-token-remote");
    let local = TempDir::new("net-token-local");
    let token = token_file(secrets.path(), "correct horse battery staple\n", 0o600);
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &["--token-file", token.to_str().unwrap()]);
    let addr = serve.addr.clone();

    // A wrong token: a generic rejection, a logged reason, nothing on disk.
    let r = answer(&addr, &proto::encode_hello_with_token(&header(1), b"wrong horse"));
    assert_eq!(r, Err("not authorized".to_string()));
    serve.wait_log(Duration::from_secs(10), |l| {
        l.contains("refused before anything was written: its HELLO carries a wrong token")
    });
    // A token one byte short of the right one.
    let r = answer(&addr, &proto::encode_hello_with_token(&header(2), b"correct horse battery stapl"));
    assert_eq!(r, Err("not authorized".to_string()));
    // No token: a version 1 HELLO, and a version 2 HELLO with an empty token.
    assert_eq!(answer(&addr, &proto::encode_hello(&header(3))), Err("not authorized".to_string()));
    serve.wait_log(Duration::from_secs(10), |l| l.contains("carries no token (protocol version 1)"));
    assert_eq!(answer(&addr, &proto::encode_hello_with_token(&header(4), b"")), Err("not authorized".to_string()));
    serve.wait_log(Duration::from_secs(10), |l| l.contains("carries an empty token"));
    assert_eq!(entries(remote.path()), Vec::<String>::new(), "a refused HELLO left something under --dir");

    // A real sender with the wrong token: refused again and again, counted, and its own
    // segments hold every record.
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .shutdown_timeout(Duration::from_millis(500))
        .network(
            tapelog::Network::tcp(addr.clone())
                .token("not the token")
                .backoff(Duration::from_millis(20), Duration::from_millis(50)),
        )
        .start()
        .unwrap();
    for i in 0..RECORDS {
        tapelog::info!("token seq {}", i);
    }
    tapelog::flush();
    wait_for(Duration::from_secs(20), "two rejections", || tapelog::stats().network.unwrap().rejections >= 2);
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!((n.connects, n.records_delivered), (0, 0), "{n:?}");
    assert!(n.last_error.as_deref().is_some_and(|e| e.contains("collector refused: not authorized")), "{n:?}");
    let mine = numbered(local.path(), FORMAT);
    assert_eq!((mine.distinct(), mine.duplicates(), mine.gaps), (RECORDS, 0, 0));
    assert_eq!(entries(remote.path()), Vec::<String>::new(), "a refused sender left something under --dir");
    std::fs::remove_dir_all(local.path()).unwrap();

    // The right token, read from a file as the collector reads it: every record arrives.
    let sender_token = token_file(secrets.path(), "  correct horse battery staple  \n", 0o600);
    let guard = tapelog::Builder::new()
        .dir(local.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr.clone()).token_file(&sender_token).unwrap())
        .start()
        .unwrap();
    for i in 0..RECORDS {
        tapelog::info!("token seq {}", i);
    }
    tapelog::flush();
    wait_for(Duration::from_secs(30), "delivery", || tapelog::stats().network.unwrap().records_delivered == RECORDS);
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!((n.rejections, n.records_dropped), (0, 0), "{n:?}");
    let dirs = source_dirs(remote.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let theirs = numbered(&dirs[0], FORMAT);
    assert_eq!((theirs.distinct(), theirs.duplicates(), theirs.gaps), (RECORDS, 0, 0));

    assert_eq!(serve.term(), Some(0));
    let log = serve.log_text();
    assert!(log.contains("senders need the token"), "{log}");
    assert!(!log.contains("correct horse"), "the token reached the log:\n{log}");
}

#[test]
fn a_bad_token_file_stops_the_collector_at_start() {
    let _s = serial();
    let d = TempDir::new("net-token-files");
    let dir = d.path().join("collected");
    let start = |token: &Path| {
        run(&[
            "serve",
            "--allow-root",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            dir.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ])
    };
    let (code, _, err) = start(&d.path().join("missing"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read token file") && err.contains("missing"), "{err}");
    let (code, _, err) = start(&token_file(d.path(), " \n", 0o600));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is empty"), "{err}");
    let (code, _, err) = start(&token_file(d.path(), "s3cret", 0o640));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("accessible by group or other (mode 640)"), "{err}");
    assert!(!dir.exists(), "a refused start created --dir");
}
