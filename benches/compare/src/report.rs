//! The Markdown report and the PASS/FAIL target lines.

use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::Machine;
use crate::parent::{Plan, Run};
use crate::peers::RING_SIZES;
use crate::scenario::{Dist, Kind, Outcome, Scenario, BURST};

/// Everything one invocation measured.
#[derive(Debug)]
pub struct Report {
    /// Where.
    pub machine: Machine,
    /// How it was invoked.
    pub command: String,
    /// What was planned.
    pub plan: Plan,
    /// What each run gave.
    pub runs: Vec<Run>,
    /// Wall time of the whole invocation.
    pub elapsed: Duration,
}

/// Short description of a scenario.
pub fn scenario_label(s: &Scenario) -> String {
    match s {
        Scenario::Latency { kind, threads, .. } => {
            format!("latency {} x{threads}", kind.label())
        }
        Scenario::Throughput { messages } => format!("throughput {} msgs", group(*messages)),
    }
}

/// A duration in nanoseconds, with a unit that keeps three significant digits.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 100.0 {
        format!("{ns:.1} ns")
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "found / sent", flagged when they differ.
fn accounted(out: Option<u64>, calls: u64, dropped: Option<u64>) -> String {
    let mut s = match out {
        None => "-".to_owned(),
        Some(o) if o == calls => format!("{} / {} ✓", group(o), group(calls)),
        Some(o) => format!("{} / {} ✗ {} MISSING", group(o), group(calls), group(calls.saturating_sub(o))),
    };
    if let Some(d) = dropped.filter(|&d| d > 0) {
        let _ = write!(s, " (logger reports {} dropped)", group(d));
    }
    s
}

impl Report {
    /// The run of `peer` for a scenario matching `want`.
    pub fn find(&self, peer: &str, want: impl Fn(&Scenario) -> bool) -> Option<&Run> {
        self.runs.iter().find(|r| r.peer.name == peer && want(&r.scenario))
    }

    /// Per-call latency of `peer` for kind (a) on one thread.
    pub fn headline(&self, peer: &str) -> Option<&Dist> {
        let r = self.find(peer, |s| matches!(s, Scenario::Latency { kind: Kind::A, threads: 1, .. }))?;
        match &r.outcome {
            Ok(Outcome::Latency { per_call, .. }) => Some(per_call),
            _ => None,
        }
    }

    /// The whole report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(s, "# tapelog compared with other Rust loggers\n");
        let _ = writeln!(s, "- Machine: {} ({} cores), kernel {}, {}", m.cpu, m.cores, m.kernel, m.rustc);
        let _ = writeln!(
            s,
            "- Clock: TSC at {:.3} GHz (invariant TSC: {}), calibrated against `Instant`",
            m.ticks_per_ns,
            if m.invariant_tsc { "yes" } else { "NO, figures may be off" }
        );
        let _ = writeln!(
            s,
            "- Load average (1 min) at start {}, at end {}: anything else running shares these cores",
            m.load_start,
            crate::machine::load_average()
        );
        let _ = writeln!(s, "- Memory: {}", m.memory);
        let _ = writeln!(s, "- Command: `{}`", self.command);
        let _ = writeln!(s, "- Whole run: {:.0} s, every figure from this one run\n", self.elapsed.as_secs_f64());
        self.settings(&mut s);
        self.latency(&mut s);
        self.throughput(&mut s);
        self.ring_sizes(&mut s);
        let _ = writeln!(s, "## Targets\n\n```");
        for l in self.targets() {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```");
        s
    }

    fn settings(&self, s: &mut String) {
        let _ = writeln!(s, "## Rows and their settings\n");
        let _ = writeln!(s, "Every logger is set to drop nothing (blocking when full) where it can be.\n");
        let _ = writeln!(s, "| Row | Crates | Drop-nothing setting | What it writes |");
        let _ = writeln!(s, "|---|---|---|---|");
        for p in &self.plan.peers {
            let _ = writeln!(s, "| {} | {} | {} | {} |", p.name, p.crates, p.setting, p.output);
        }
        let _ = writeln!(s);
    }

    fn latency(&self, s: &mut String) {
        if self.plan.latency.is_empty() {
            return;
        }
        let _ = writeln!(s, "## Per-call latency\n");
        if let Some(Scenario::Latency { samples, warmup, spin_ns, .. }) = self.plan.latency.first() {
            let cores = self.machine.cores;
            let _ = writeln!(
                s,
                "Logging thread i is pinned (`core_affinity`) to core i mod {cores}; every logger's \
                 backend threads are started from a thread pinned to the last core and inherit \
                 that pinning. Threads log in bursts of {BURST} calls, then spin {:.1} µs. Each call is timed on its own with `lfence; rdtsc; lfence` on both sides; \
                 {} samples per table row (over all threads) go into an HdrHistogram after {} warm-up \
                 calls per thread. Figures include the timer's own cost, shown in the `timer` row. \
                 Every other burst is timed as a whole instead and divided by {BURST}: that is \
                 Quill's published method (\"Quill avg/{BURST}\" column, p50 and p99.9 of those \
                 averages); it hides outliers inside a burst. `allocs/call`: heap allocations made \
                 by the logging thread during timed bursts, per call. `in output / logged`: \
                 messages found in the output after shutdown (text: lines; tapelog: records \
                 decoded by tapelog-decoder) against calls made, warm-up included. `offered \
                 load`: calls per second during the timed bursts, spins included; ⚠ marks a row \
                 offered more than 80% of what it sustains end to end (throughput table below): \
                 its queue can fill and calls then wait (blocking caps the offered load at the \
                 sustained rate), so its tails measure the backend.\n",
                *spin_ns as f64 / 1e3,
                group(*samples),
                group(*warmup),
            );
        }
        let _ = writeln!(
            s,
            "Message (d), a struct with three numeric fields: tapelog logs it as a serde value \
             (`tapelog::serde(&order)`, encoded with bincode, rendered by the decoder); the text \
             loggers format its derived `Debug`; bare-rtrb pushes its three fields raw.\n"
        );
        for sc in &self.plan.latency {
            let Scenario::Latency { kind, threads, .. } = sc else { continue };
            let _ = writeln!(
                s,
                "### {} — {} logging thread{}\n",
                kind.label(),
                threads,
                if *threads > 1 { "s" } else { "" }
            );
            if *threads > self.machine.cores {
                let _ = writeln!(
                    s,
                    "{threads} threads on {} cores: pinned round-robin (thread i on core i mod {}), \
                     so logging threads time-share cores with each other and with the backend \
                     threads; the high percentiles include preemption.\n",
                    self.machine.cores, self.machine.cores
                );
            }
            let _ = writeln!(
                s,
                "| Row | p50 | p90 | p99 | p99.9 | p99.99 | max | Quill avg/{BURST} p50 / p99.9 | allocs/call | offered load | in output / logged |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            for r in self.runs.iter().filter(
                |r| matches!(&r.scenario, Scenario::Latency { kind: k, threads: t, .. } if k == kind && t == threads),
            ) {
                match &r.outcome {
                    Ok(Outcome::Latency { per_call, burst_avg, allocs_per_call, calls, offered, out, dropped }) => {
                        let p = &per_call.pcts;
                        // Offered close to (blocking caps it at) what the logger sustains end
                        // to end: its queue fills and calls wait, so the tails measure the backend.
                        let bound = self.rate_of(r.peer.name).is_some_and(|(sustained, _)| *offered > 0.8 * sustained);
                        let _ = writeln!(
                            s,
                            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {:.2} | {}{} | {} |",
                            r.peer.name,
                            fmt_ns(p[0]),
                            fmt_ns(p[1]),
                            fmt_ns(p[2]),
                            fmt_ns(p[3]),
                            fmt_ns(p[4]),
                            fmt_ns(per_call.max),
                            fmt_ns(burst_avg.pcts[0]),
                            fmt_ns(burst_avg.pcts[3]),
                            allocs_per_call,
                            rate(*offered),
                            if bound { " ⚠" } else { "" },
                            accounted(*out, *calls, *dropped),
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = writeln!(s, "| {} | {} | | | | | | | | | |", r.peer.name, one_line(e));
                    }
                }
            }
            let _ = writeln!(s);
        }
    }

    fn throughput(&self, s: &mut String) {
        let Some(Scenario::Throughput { messages }) = &self.plan.throughput else { return };
        let _ = writeln!(s, "## End-to-end throughput\n");
        let _ = writeln!(
            s,
            "{} messages of kind (a), back to back, from one pinned thread. \"calls return\": \
             until the last call returned; \"output complete\": until the logger was flushed or \
             shut down and its file fully written. msgs/s is over the complete time. Bytes on \
             disk per message: file sizes (tapelog: committed segment bytes, headers and \
             dictionaries included) over messages found.\n",
            group(*messages)
        );
        let _ = writeln!(
            s,
            "Rows whose run completes within {} s run {} times, in interleaved rounds; their row \
             is the median run (by completion time), and \"runs\" gives the range of msgs/s over \
             all of them. A message missing in any run is flagged.\n",
            crate::parent::REPEAT_BELOW.as_secs(),
            self.plan.repeat
        );
        let _ = writeln!(
            s,
            "| Row | drop-nothing setting | calls return | output complete | msgs/s (complete) | runs | in output / logged | bytes/msg on disk | allocs/call |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|---:|---:|");
        for p in &self.plan.peers {
            match self.throughput_of(p.name) {
                None => {}
                Some(Err(e)) => {
                    let _ = writeln!(s, "| {} | {} | {} | | | | | | |", p.name, p.setting, one_line(e));
                }
                Some(Ok(t)) => {
                    let Outcome::Throughput { calls, calls_secs, complete_secs, out, bytes, allocs_per_call, dropped } =
                        t.median
                    else {
                        continue;
                    };
                    let per_msg =
                        out.filter(|&o| o > 0).map_or("-".to_owned(), |o| format!("{:.1}", *bytes as f64 / o as f64));
                    let runs = if t.runs == 1 {
                        "1".to_owned()
                    } else {
                        format!("{}: {}-{}", t.runs, rate(t.min), rate(t.max))
                    };
                    let mut acc = accounted(*out, *calls, *dropped);
                    if !t.all_accounted && acc.ends_with('✓') {
                        acc.push_str(" (but MESSAGES MISSING in another run)");
                    }
                    let _ = writeln!(
                        s,
                        "| {} | {} | {:.3} s | {:.3} s | {} | {} | {} | {} | {:.2} |",
                        p.name,
                        p.setting,
                        calls_secs,
                        complete_secs,
                        rate(*calls as f64 / complete_secs),
                        runs,
                        acc,
                        per_msg,
                        allocs_per_call,
                    );
                }
            }
        }
        let _ = writeln!(s);
    }

    /// tapelog against bare-rtrb ring size by ring size, with and without `preallocate()`,
    /// from the rows of this run; shown when a ring-size row ran.
    fn ring_sizes(&self, s: &mut String) {
        if !self.plan.peers.iter().any(|p| p.headline_only) {
            return;
        }
        let ran = |name: &str| self.plan.peers.iter().any(|p| p.name == name);
        let _ = writeln!(s, "## Ring sizes\n");
        let _ = writeln!(
            s,
            "Kind (a), one thread, from the tables above. tapelog with a ring of each size, made \
             by the thread's first call or by `tapelog::preallocate()` before it (before the \
             warm-up, or before the timed loop of the throughput run), against bare-rtrb with a \
             pre-touched ring of the same size; \"x bare\" is the ratio to that bare-rtrb row. \
             Targets: after `preallocate()` with 16 and 64 MiB rings, p50 at most {RING_P50}x \
             and p99.9 at most {RING_P999}x; with 1 and 16 MiB rings, throughput at least \
             {RING_RATE}x. ✓ / ✗: a ratio that meets / misses its target.\n"
        );
        let _ = writeln!(s, "| Ring | Row | p50 | x bare | p99.9 | x bare | msgs/s (complete) | x bare |");
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
        for size in RING_SIZES {
            if ![size.bare, size.tapelog, size.prealloc].iter().any(|n| ran(n)) {
                continue;
            }
            let (bare_lat, bare_rate) = (self.headline(size.bare), self.rate_of(size.bare));
            let rate_target = (size.mib <= 16).then_some((RING_RATE, true));
            let (p50_target, p999_target) =
                if size.mib >= 16 { (Some((RING_P50, false)), Some((RING_P999, false))) } else { (None, None) };
            let rows = [
                (size.bare, "", None, None, None),
                (size.tapelog, " (first call)", None, None, rate_target),
                (size.prealloc, " (preallocate)", p50_target, p999_target, rate_target),
            ];
            for (name, how, p50_target, p999_target, rate_target) in rows {
                if !ran(name) {
                    continue;
                }
                let (lat, tput) = (self.headline(name), self.rate_of(name));
                // The ratio to the bare-rtrb row, marked; empty on that row itself.
                let x = |v: Option<f64>, b: Option<f64>, target: Option<(f64, bool)>| match (v, b) {
                    _ if name == size.bare => String::new(),
                    (Some(v), Some(b)) => ratio(v / b, target),
                    _ => "-".to_owned(),
                };
                let p = |d: Option<&Dist>, i: usize| d.map(|d| d.pcts[i]);
                let ns = |v: Option<f64>| v.map_or("-".to_owned(), fmt_ns);
                let _ = writeln!(
                    s,
                    "| {} MiB | {name}{how} | {} | {} | {} | {} | {} | {} |",
                    size.mib,
                    ns(p(lat, 0)),
                    x(p(lat, 0), p(bare_lat, 0), p50_target),
                    ns(p(lat, 3)),
                    x(p(lat, 3), p(bare_lat, 3), p999_target),
                    tput.map_or("-".to_owned(), |(r, all)| rate_all(r, all)),
                    x(tput.map(|t| t.0), bare_rate.map(|t| t.0), rate_target),
                );
            }
        }
        let _ = writeln!(s);
    }

    /// The throughput runs of `peer`: the median one, or the first failure; `None` if it
    /// has none.
    fn throughput_of(&self, peer: &str) -> Option<Result<Throughput<'_>, &str>> {
        let runs: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| r.peer.name == peer && matches!(r.scenario, Scenario::Throughput { .. }))
            .collect();
        if runs.is_empty() {
            return None;
        }
        let mut ok: Vec<(f64, f64, bool, &Outcome)> = Vec::new();
        for r in &runs {
            match &r.outcome {
                Ok(o @ Outcome::Throughput { calls, complete_secs, out, dropped, .. }) => ok.push((
                    *complete_secs,
                    *calls as f64 / complete_secs,
                    *out == Some(*calls) && dropped.unwrap_or(0) == 0,
                    o,
                )),
                Ok(_) => {}
                Err(e) => return Some(Err(e.as_str())),
            }
        }
        ok.sort_by(|a, b| a.0.total_cmp(&b.0));
        let &(_, _, _, median) = ok.get(ok.len() / 2)?;
        let rates = ok.iter().map(|o| o.1);
        Some(Ok(Throughput {
            median,
            runs: ok.len(),
            min: rates.clone().fold(f64::INFINITY, f64::min),
            max: rates.fold(0.0, f64::max),
            all_accounted: ok.iter().all(|o| o.2),
        }))
    }

    /// Throughput of `peer` (messages per second until complete, of its median run) and
    /// whether every run accounted for every message.
    fn rate_of(&self, peer: &str) -> Option<(f64, bool)> {
        let t = self.throughput_of(peer)?.ok()?;
        match t.median {
            Outcome::Throughput { calls, complete_secs, .. } => Some((*calls as f64 / complete_secs, t.all_accounted)),
            _ => None,
        }
    }

    /// The PASS/FAIL lines (printed, never asserted).
    pub fn targets(&self) -> Vec<String> {
        let mut v = Vec::new();
        let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
        let peers: Vec<&str> = self.plan.peers.iter().filter(|p| p.is_peer).map(|p| p.name).collect();
        let tape = self.headline("tapelog");
        match (tape, self.headline("bare-rtrb")) {
            (Some(t), Some(b)) => {
                // Both rows include the timer; say what the ratio is without it.
                let net = self.headline("timer").map_or(String::new(), |z| {
                    let (tn, bn) = (t.pcts[0] - z.pcts[0], b.pcts[0] - z.pcts[0]);
                    format!(
                        "; net of the timer's p50 {}: {} vs {}, {:.2}x",
                        fmt_ns(z.pcts[0]),
                        fmt_ns(tn),
                        fmt_ns(bn),
                        tn / bn
                    )
                });
                v.push(format!(
                    "{} tapelog p50 {} <= 1.25 x bare-rtrb p50 {} (= {}) [kind (a), 1 thread{net}]",
                    verdict(t.pcts[0] <= 1.25 * b.pcts[0]),
                    fmt_ns(t.pcts[0]),
                    fmt_ns(b.pcts[0]),
                    fmt_ns(1.25 * b.pcts[0])
                ))
            }
            _ => v.push("n/a  tapelog p50 <= 1.25 x bare-rtrb p50: a row is missing".into()),
        }
        let best =
            peers.iter().filter_map(|p| self.headline(p).map(|d| (*p, d.pcts[3]))).min_by(|a, b| a.1.total_cmp(&b.1));
        match (tape, best) {
            (Some(t), Some((name, b))) => v.push(format!(
                "{} tapelog p99.9 {} at least 10x lower than the best peer's p99.9 ({name}: {}, ratio {:.1}x) [kind (a), 1 thread]",
                verdict(t.pcts[3] * 10.0 <= b),
                fmt_ns(t.pcts[3]),
                fmt_ns(b),
                b / t.pcts[3]
            )),
            _ => v.push("n/a  tapelog p99.9 >= 10x lower than the best peer's: a row is missing".into()),
        }
        let best =
            peers.iter().filter_map(|p| self.rate_of(p).map(|(r, _)| (*p, r))).max_by(|a, b| a.1.total_cmp(&b.1));
        match (self.rate_of("tapelog"), best) {
            (Some((t, all)), Some((name, b))) => {
                v.push(format!(
                    "{} tapelog end-to-end throughput {} at least 10x the best peer's ({name}: {}, ratio {:.1}x)",
                    verdict(t >= 10.0 * b && all),
                    rate(t),
                    rate(b),
                    t / b
                ));
                v.push(format!(
                    "{} tapelog end-to-end throughput {} >= 30M msgs/s with every message accounted for ({})",
                    verdict(t >= 30e6 && all),
                    rate(t),
                    if all { "all accounted for" } else { "MESSAGES MISSING" }
                ));
            }
            _ => v.push("n/a  tapelog throughput targets: a row is missing".into()),
        }
        v
    }
}

/// Messages per second, in millions.
fn rate(r: f64) -> String {
    format!("{:.2}M/s", r / 1e6)
}

/// Ring-size targets, as ratios to the bare-rtrb row with a ring of the same size: tapelog
/// after `preallocate()` with 16 and 64 MiB rings keeps p50 and p99.9 within these...
const RING_P50: f64 = 1.1;
const RING_P999: f64 = 1.5;
/// ...and with 1 and 16 MiB rings its throughput at least this.
const RING_RATE: f64 = 0.8;

/// `x` as a ratio, marked against `target` (limit, whether it is a floor) where one applies.
fn ratio(x: f64, target: Option<(f64, bool)>) -> String {
    let mark = match target {
        None => "",
        Some((limit, floor)) if (floor && x >= limit) || (!floor && x <= limit) => " ✓",
        Some(_) => " ✗",
    };
    format!("{x:.2}x{mark}")
}

/// A throughput, flagged when a run lost messages.
fn rate_all(r: f64, all_accounted: bool) -> String {
    if all_accounted {
        rate(r)
    } else {
        format!("{} (MESSAGES MISSING)", rate(r))
    }
}

/// A row's throughput runs.
struct Throughput<'a> {
    /// The run with the median completion time.
    median: &'a Outcome,
    runs: usize,
    /// Lowest and highest msgs/s over the runs.
    min: f64,
    max: f64,
    /// Whether every run accounted for every message.
    all_accounted: bool,
}

/// An error made fit for a table cell.
fn one_line(e: &str) -> String {
    let l = e.replace('|', "/").replace('\n', " ");
    if l.chars().count() > 200 {
        format!("{}…", l.chars().take(200).collect::<String>())
    } else {
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throughput run of 1,000 messages that completed in `secs` with `out` in the output.
    fn throughput_run(peer: &str, secs: f64, out: u64) -> Run {
        Run {
            peer: crate::peers::find(peer).unwrap(),
            scenario: Scenario::Throughput { messages: 1_000 },
            outcome: Ok(Outcome::Throughput {
                calls: 1_000,
                calls_secs: secs,
                complete_secs: secs,
                out: Some(out),
                bytes: 30_000,
                allocs_per_call: 0.0,
                dropped: Some(0),
            }),
        }
    }

    fn report_with(throughputs: &[(f64, u64)]) -> Report {
        let peer = crate::peers::find("tapelog").unwrap();
        let runs = throughputs.iter().map(|&(secs, out)| throughput_run("tapelog", secs, out)).collect();
        Report {
            machine: Machine {
                cpu: String::new(),
                cores: 2,
                kernel: String::new(),
                rustc: String::new(),
                invariant_tsc: true,
                ticks_per_ns: 1.0,
                load_start: String::new(),
                memory: String::new(),
            },
            command: String::new(),
            plan: Plan {
                peers: vec![peer],
                latency: Vec::new(),
                throughput: Some(Scenario::Throughput { messages: 1_000 }),
                repeat: throughputs.len(),
            },
            runs,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn repeated_throughput_runs_report_the_median_and_flag_any_loss() {
        // Completion times 4, 1, 2 ms: the median run is 2 ms (500k/s), the range 250k-1M/s.
        let r = report_with(&[(0.004, 1_000), (0.001, 1_000), (0.002, 1_000)]);
        let t = r.throughput_of("tapelog").unwrap().unwrap();
        assert!(matches!(t.median, Outcome::Throughput { complete_secs, .. } if *complete_secs == 0.002));
        assert_eq!((t.runs, t.min, t.max, t.all_accounted), (3, 250_000.0, 1_000_000.0, true));
        assert_eq!(r.rate_of("tapelog"), Some((500_000.0, true)));
        // A message missing in a run other than the median one still counts.
        let r = report_with(&[(0.004, 999), (0.001, 1_000), (0.002, 1_000)]);
        assert_eq!(r.rate_of("tapelog"), Some((500_000.0, false)));
        let mut md = String::new();
        r.throughput(&mut md);
        assert!(md.contains("MESSAGES MISSING in another run"), "{md}");
        assert!(md.contains("| 3: 0.25M/s-1.00M/s |"), "{md}");
    }

    /// A kind (a) one-thread latency run with p50 `p50` and p99.9 `p999` (ns).
    fn latency_run(peer: &str, p50: f64, p999: f64) -> Run {
        let dist = Dist { samples: 1, pcts: vec![p50, p50, p50, p999, p999], max: p999, mean: p50, curve: Vec::new() };
        Run {
            peer: crate::peers::find(peer).unwrap(),
            scenario: Scenario::Latency { kind: Kind::A, threads: 1, samples: 1, warmup: 0, spin_ns: 0 },
            outcome: Ok(Outcome::Latency {
                per_call: dist.clone(),
                burst_avg: dist,
                allocs_per_call: 0.0,
                calls: 1,
                offered: 1.0,
                out: Some(1),
                dropped: None,
            }),
        }
    }

    #[test]
    fn ring_size_ratios_are_marked_against_their_own_targets() {
        let mut r = report_with(&[(0.001, 1_000)]); // tapelog: 1M msgs/s
        r.plan.peers = ["bare-rtrb", "tapelog", "bare-rtrb-16m", "tapelog-16m-prealloc"]
            .iter()
            .map(|n| crate::peers::find(n).unwrap())
            .collect();
        r.runs.push(throughput_run("bare-rtrb", 0.0005, 1_000)); // 2M msgs/s: tapelog is at 0.5x
        r.runs.push(latency_run("bare-rtrb-16m", 50.0, 200.0));
        r.runs.push(latency_run("tapelog-16m-prealloc", 60.0, 250.0));
        let mut md = String::new();
        r.ring_sizes(&mut md);
        // 1 MiB: throughput 0.5x misses 0.8x; no latency target applies there.
        assert!(md.contains("| 1 MiB | tapelog (first call) | - | - | - | - | 1.00M/s | 0.50x ✗ |"), "{md}");
        // 16 MiB after preallocate: p50 1.2x misses 1.1x, p99.9 1.25x meets 1.5x.
        assert!(
            md.contains("| 16 MiB | tapelog-16m-prealloc (preallocate) | 60.0 ns | 1.20x ✗ | 250 ns | 1.25x ✓ |"),
            "{md}"
        );
        assert!(!md.contains("| 64 MiB |"), "{md}");
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(5_000_000), "5,000,000");
    }

    #[test]
    fn missing_messages_are_flagged() {
        assert!(accounted(Some(10), 10, Some(0)).ends_with('✓'));
        assert!(accounted(Some(9), 10, None).contains("1 MISSING"));
        assert!(accounted(Some(10), 10, Some(3)).contains("3 dropped"));
        assert_eq!(accounted(None, 10, None), "-");
    }

    #[test]
    fn durations_keep_three_significant_digits() {
        assert_eq!(fmt_ns(4.567), "4.57 ns");
        assert_eq!(fmt_ns(45.67), "45.7 ns");
        assert_eq!(fmt_ns(456.7), "457 ns");
        assert_eq!(fmt_ns(4_567.0), "4.57 µs");
        assert_eq!(fmt_ns(4_567_000.0), "4.57 ms");
    }
}
