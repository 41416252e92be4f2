//! Syslog output against a real `rsyslogd` on loopback, over TCP (octet counting) and UDP:
//! every record arrives with its severity, facility, app name, pid, structured data (the
//! key-value fields, escaped) and message intact. The test writes its own rsyslog config into
//! a temporary directory and runs `rsyslogd -n` in the foreground; it never touches the
//! machine's syslog configuration. `.ci/run` installs rsyslog; elsewhere, without
//! `rsyslogd`, the test says SKIPPED (and fails under `CI=true`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{serial, TempDir};
use tapelog::{Builder, Facility, Overflow, Syslog, TextOutput};

struct Rsyslogd {
    child: Child,
    out: PathBuf,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rsyslogd_path() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "/usr/bin/rsyslogd"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn free_port() -> u16 {
    // TCP and UDP ports are separate spaces; a port free for TCP here is used for TCP only.
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_rsyslogd(bin: &Path, dir: &Path, tcp: u16, udp: u16) -> Rsyslogd {
    let out = dir.join("received.log");
    let conf = dir.join("rsyslog.conf");
    let cfg = format!(
        r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imudp" address="127.0.0.1" port="{udp}" rcvbufSize="16m")
template(name="fields" type="string" string="%inputname%|%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
        work = dir.display(),
        out = out.display()
    );
    std::fs::write(&conf, cfg).unwrap();
    let child = Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("rsyslogd.stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("rsyslogd.stderr")).unwrap())
        .spawn()
        .expect("run rsyslogd");
    let r = Rsyslogd { child, out };
    // Ready once it accepts TCP (both inputs start together).
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(Instant::now() < deadline, "rsyslogd did not listen on {tcp}: {}", rsyslog_logs(dir));
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

fn rsyslog_logs(dir: &Path) -> String {
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
    format!("stdout: {} stderr: {}", read("rsyslogd.stdout"), read("rsyslogd.stderr"))
}

fn wait_lines(path: &Path, n: usize, dir: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Only what our two inputs received (rsyslogd may log notes of its own).
        let lines: Vec<String> =
            text.lines().filter(|l| l.starts_with("imtcp|") || l.starts_with("imudp|")).map(str::to_string).collect();
        if lines.len() >= n || Instant::now() > deadline {
            assert_eq!(lines.len(), n, "{}\n{}", text, rsyslog_logs(dir));
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn records_arrive_intact_over_tcp_and_udp() {
    let _s = serial();
    let Some(bin) = rsyslogd_path() else {
        assert!(std::env::var("CI").is_err(), "CI must install rsyslog (.ci/run does)");
        eprintln!("SKIPPED: rsyslogd is not installed (apt-get install rsyslog)");
        return;
    };
    let dir = TempDir::new("syslog-rsyslogd");
    let (tcp, udp) = (free_port(), free_udp_port());
    let rs = start_rsyslogd(&bin, dir.path(), tcp, udp);

    let guard = Builder::new()
        .no_capacity_warning()
        .segments(false)
        .overflow(Overflow::Block)
        .text_output(TextOutput::Syslog(
            Syslog::tcp(format!("127.0.0.1:{tcp}")).facility(Facility::LOCAL3).app_name("oms"),
        ))
        .text_output(TextOutput::Syslog(Syslog::udp(format!("127.0.0.1:{udp}")).app_name("oms-udp")))
        .start()
        .expect("start");
    let n = 200u32;
    // The source lines of the two calls, as the records will name them.
    let (info_line, error_line) = std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            let mut lines = (0, 0);
            for i in 0..n {
                if i % 2 == 0 {
                    lines.0 = line!() + 1;
                    tapelog::info!(order_id = u64::from(i), side = "b\"u]y", px = 101.25f64; "filled {} \"lots\"", i);
                } else {
                    lines.1 = line!() + 1;
                    tapelog::error!("rejected {} of {}", i, n);
                }
            }
            lines
        })
        .unwrap()
        .join()
        .unwrap();
    tapelog::flush();
    drop(guard);
    let st = tapelog::stats();
    for t in &st.text {
        assert_eq!((t.lines, t.dropped, t.errors), (u64::from(n), 0, 0), "{t:?}");
    }

    let lines = wait_lines(&rs.out, 2 * n as usize, dir.path());
    let pid = std::process::id();
    let file = file!();
    for (input, pri_info, pri_err, app) in
        [("imtcp", 19 * 8 + 6, 19 * 8 + 3, "oms"), ("imudp", 8 + 6, 8 + 3, "oms-udp")]
    {
        let got: Vec<&String> = lines.iter().filter(|l| l.starts_with(input)).collect();
        assert_eq!(got.len(), n as usize, "{input}: {lines:?}");
        for i in 0..n {
            let want_line = if i % 2 == 0 { info_line } else { error_line };
            let line = got.iter().find(|l| {
                l.ends_with(&format!("|filled {i} \"lots\"")) || l.ends_with(&format!("|rejected {i} of {n}"))
            });
            let line = line.unwrap_or_else(|| panic!("{input}: record {i} missing"));
            let want = if i % 2 == 0 {
                format!(
                    r#"{input}|{pri_info}|{app}|{pid}|-|[tapelog@32473 thread="gateway" target="syslog_reaches_a_real_rsyslogd" file="{file}" line="{want_line}" order_id="{i}" side="b\"u\]y" px="101.25"]|filled {i} "lots""#
                )
            } else {
                format!(
                    r#"{input}|{pri_err}|{app}|{pid}|-|[tapelog@32473 thread="gateway" target="syslog_reaches_a_real_rsyslogd" file="{file}" line="{want_line}"]|rejected {i} of {n}"#
                )
            };
            assert_eq!(**line, want);
        }
    }
}

#[test]
fn a_collector_that_is_down_costs_counted_messages_and_nothing_else() {
    let _s = serial();
    let dir = TempDir::new("syslog-down");
    // Nobody listens on this port.
    let port = free_port();
    let guard = Builder::new()
        .no_capacity_warning()
        .dir(dir.path())
        .overflow(Overflow::Block)
        .text_output(TextOutput::Syslog(Syslog::tcp(format!("127.0.0.1:{port}"))))
        .start()
        .expect("a collector that is down does not fail start()");
    let n = 10_000u64;
    for i in 0..n {
        tapelog::info!("tick {}", i);
    }
    tapelog::flush();
    drop(guard);
    let st = tapelog::stats();
    assert_eq!((st.total.written, st.total.dropped), (n, 0), "the segments get everything");
    let t = &st.text[0];
    assert_eq!(t.output, format!("syslog+tcp://127.0.0.1:{port}"));
    assert_eq!((t.lines, t.dropped), (0, n), "{t:?}");
    assert!(t.errors > 0);
}
