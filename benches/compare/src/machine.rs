//! What machine the numbers come from.

use std::process::Command;

/// The facts printed above the tables.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Logical cores this process may use.
    pub cores: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Whether the TSC is invariant.
    pub invariant_tsc: bool,
    /// TSC ticks per nanosecond.
    pub ticks_per_ns: f64,
    /// /proc/loadavg's 1-minute figure when the run started.
    pub load_start: String,
}

/// The 1-minute load average (other work on the machine skews every figure).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    /// Reads /proc/cpuinfo and asks `uname` and `rustc`.
    pub fn probe(ticks_per_ns: f64) -> Machine {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = info
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: first_line("uname", &["-r"]),
            rustc: first_line(&rustc, &["--version"]),
            invariant_tsc: crate::timing::invariant_tsc(),
            ticks_per_ns,
            load_start: load_average(),
        }
    }
}
