//! Many senders to one `tapelog serve --print`: every stream arrives complete in a
//! directory of its own (one sender writes no local segments at all), the printed lines carry
//! each source's name, and SIGTERM stops the collector with every file finalized.

mod common;
use common::net::*;
use common::*;
use std::process::Command;
use std::time::Duration;

const FORMAT: &str = "multi seq {} from sender {}";
const SENDERS: u32 = 4;
const RECORDS: u64 = 50_000;
const CHILD_ENV: &str = "TAPELOG_NET_SENDER";

/// A sender process: logs RECORDS numbered records, waits until the collector has them all.
fn sender(spec: &str) -> ! {
    let mut parts = spec.split(',');
    let (addr, idx, dir) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let idx: u32 = idx.parse().unwrap();
    let guard = tapelog::Builder::new()
        .dir(dir)
        .segments(idx != 0)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr).send_buffer(32 << 20))
        .start()
        .unwrap();
    for i in 0..RECORDS {
        tapelog::info!("multi seq {} from sender {}", i, idx);
    }
    tapelog::flush();
    wait_for(Duration::from_secs(120), "delivery", || {
        let n = tapelog::stats().network.unwrap();
        n.records_delivered == RECORDS
    });
    drop(guard);
    let n = tapelog::stats().network.unwrap();
    assert_eq!((n.records_queued, n.records_delivered, n.records_dropped), (RECORDS, RECORDS, 0), "{n:?}");
    std::process::exit(0);
}

#[test]
fn many_senders_one_collector() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        sender(&spec);
    }
    let _s = serial();
    let remote = TempDir::new("net-many-remote");
    let local = TempDir::new("net-many-local");
    let mut serve = Serve::start("127.0.0.1:0", remote.path(), &["--print", "--color", "never"]);
    let children: Vec<_> = (0..SENDERS)
        .map(|i| {
            let dir = local.path().join(format!("s{i}"));
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "many_senders_one_collector", "--nocapture"])
                .env(CHILD_ENV, format!("{},{i},{}", serve.addr, dir.display()))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a sender failed");
    }
    assert_eq!(serve.term(), Some(0), "log:\n{}", serve.log_text());
    let log = serve.log_text();
    assert!(log.contains("stopped; every source's files are finalized"), "{log}");

    let dirs = source_dirs(remote.path());
    assert_eq!(dirs.len(), SENDERS as usize, "{dirs:?}");
    for d in &dirs {
        let r = numbered(d, FORMAT);
        assert_eq!((r.distinct(), r.duplicates(), r.gaps), (RECORDS, 0, 0), "{}", d.display());
        assert!(r.diags.is_empty(), "{}: {:?}", d.display(), r.diags);
        // Finalized: `tapelog check` finds every file OK.
        let (code, out, _) = run(&["check", d.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(out.lines().all(|l| l.contains(" OK")), "{out}");
    }
    // The collector's root decodes as a whole: `tapelog cat` takes every source's directory.
    let (code, out, err) = run(&["cat", remote.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let n = out.lines().filter(|l| l.contains("multi seq ")).count() as u64;
    assert_eq!(n, u64::from(SENDERS) * RECORDS, "lines from `tapelog cat` of the collector's root");
    // The sender without local segments wrote no file.
    assert!(!local.path().join("s0").exists() || std::fs::read_dir(local.path().join("s0")).unwrap().next().is_none());

    // --print: every record as a line, prefixed with its source's directory name.
    let out = serve.out.lock().unwrap().clone();
    for d in &dirs {
        let key = d.file_name().unwrap().to_str().unwrap();
        let n = out.iter().filter(|l| l.starts_with(&format!("[{key}] ")) && l.contains("multi seq ")).count();
        assert_eq!(n as u64, RECORDS, "printed lines of {key}");
    }
}
