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
    /// Free memory facts that decide what fresh page cache costs (see [`memory`]).
    pub memory: String,
}

/// Whether the guest hands free memory back to its host (free page reporting, with the
/// order from which it does), and how much free memory sits in smaller blocks at start.
/// On such a VM the first touch of memory from a handed-back block costs a host fault
/// (about 10 µs per 4 KiB): the end-to-end figures of every logger depend on how much
/// fresh page cache it can get from the smaller blocks.
pub fn memory() -> String {
    let order = std::fs::read_to_string("/sys/module/page_reporting/parameters/page_reporting_order")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let balloon = std::fs::read_dir("/sys/bus/virtio/drivers/virtio_balloon")
        .map(|d| d.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().starts_with("virtio")))
        .unwrap_or(false);
    let buddy = std::fs::read_to_string("/proc/buddyinfo").unwrap_or_default();
    match (balloon, order) {
        (true, Some(o)) => format!(
            "free page reporting on (free blocks of {} KiB and more go back to the host); \
             {} MiB free in smaller blocks at start",
            4u64 << o,
            free_below(&buddy, o) >> 20
        ),
        _ => "no free page reporting seen".into(),
    }
}

/// Bytes free in blocks of an order below `order`, from /proc/buddyinfo (4 KiB pages).
fn free_below(buddyinfo: &str, order: u32) -> u64 {
    buddyinfo
        .lines()
        .filter_map(|l| l.split_once("zone"))
        .flat_map(|(_, rest)| {
            rest.split_whitespace()
                .skip(1)
                .take(order as usize)
                .enumerate()
                .map(|(o, n)| n.parse::<u64>().unwrap_or(0) * (4096u64 << o))
        })
        .sum()
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
            memory: memory(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::free_below;

    #[test]
    fn free_memory_below_an_order_adds_up_every_zone() {
        let info = "Node 0, zone      DMA      1      0      0      0      0      0      0      0      1      1      3\n\
                    Node 0, zone   Normal      2      1      0      0      0      0      0      0      0      5      9\n";
        assert_eq!(free_below(info, 9), 4096 * 3 + 8192 + (4096 << 8));
        assert_eq!(free_below(info, 0), 0);
    }
}
