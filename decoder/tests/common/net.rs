//! Helpers for the network tests: a `tapelog serve` child, and decoding what it wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapelog::text::Value;
use tapelog_decoder::merge::Event;
use tapelog_decoder::output::decode_args;

/// A `tapelog serve` child process; its stderr lines are collected, stdout too.
pub struct Serve {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
    pub out: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `tapelog serve --listen LISTEN --dir DIR EXTRA...` and waits for its address.
    pub fn start(listen: &str, dir: &Path, extra: &[&str]) -> Serve {
        let mut child = super::bin()
            // Test machines often run as root; the refusal has a test of its own.
            .args(["serve", "--allow-root", "--listen", listen, "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tapelog serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let out = Arc::new(Mutex::new(Vec::new()));
        pump(child.stderr.take().unwrap(), log.clone());
        pump(child.stdout.take().unwrap(), out.clone());
        let mut s = Serve { child, addr: String::new(), log, out };
        let line = s.wait_log(Duration::from_secs(30), |l| l.contains("listening on"));
        s.addr = line.split("listening on ").nth(1).unwrap().split(',').next().unwrap().trim().to_string();
        s
    }

    /// Waits for a log line matching `f`; panics with the log after `timeout`.
    pub fn wait_log(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| f(l)) {
                return l.clone();
            }
            if Instant::now() > end {
                panic!("no matching log line in {timeout:?}; log:\n{}", self.log.lock().unwrap().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; returns the exit code.
    pub fn term(&mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc_kill(self.child.id() as i32, 15) };
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the pump threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return st.code();
            }
            assert!(Instant::now() < end, "tapelog serve did not stop on SIGTERM; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn pump(r: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line);
        }
    });
}

/// What a directory of segments holds of one numbered message: the numbers seen (with how
/// often), the gap markers' total, and the decoder's diagnostics.
#[derive(Debug, Default)]
pub struct Numbered {
    pub seen: BTreeMap<u64, u32>,
    pub gaps: u64,
    pub diags: Vec<String>,
    pub other_records: u64,
}

impl Numbered {
    pub fn distinct(&self) -> u64 {
        self.seen.len() as u64
    }
    pub fn duplicates(&self) -> u64 {
        self.seen.values().map(|&n| u64::from(n - 1)).sum()
    }
}

/// Decodes `dir`, taking records with format `format` whose first argument is a u64.
pub fn numbered(dir: &Path, format: &str) -> Numbered {
    let (mut m, diags) = tapelog_decoder::open(&[dir.to_path_buf()]).expect("open");
    let mut n = Numbered { diags: diags.iter().map(|d| d.to_string()).collect(), ..Default::default() };
    while let Some(ev) = m.next() {
        match ev {
            Event::Record(r) => {
                if r.site.format != format {
                    n.other_records += 1;
                    continue;
                }
                let mut vals: Vec<Value<'_>> = Vec::new();
                decode_args(&r.site.kinds, r.args, r.shapes, &mut vals).expect("args decode");
                let Some(Value::U64(i)) = vals.first() else { panic!("first argument is not a u64") };
                *n.seen.entry(*i).or_default() += 1;
            }
            Event::Drops(d) => n.gaps += d.count,
            Event::Dump(_) => {}
        }
    }
    n.diags.extend(m.take_diagnostics().iter().map(|d| d.to_string()));
    n
}

/// The source directories a collector wrote under `dir`.
pub fn source_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// Polls `f` until it holds; panics with `what` and the network counters after `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out after {timeout:?} waiting for {what}; network: {:?}",
            tapelog::stats().network
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The segment header a hand-made peer claims: source host `host`, run `run_id`.
pub fn raw_header(host: &str, run_id: u64) -> tapelog::wire::header::FileHeader {
    tapelog::wire::header::FileHeader {
        version: tapelog::wire::FORMAT_VERSION,
        flags: 0,
        header_len: 0,
        committed: 0,
        run_id,
        seq: 0,
        pid: 1,
        created_unix_ns: 0,
        clock: 1,
        metadata: vec![("host".into(), host.into())],
    }
}
