//! The parent process: plans the runs, starts one child per run, collects the answers.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::machine::Machine;
use crate::peers::{PeerInfo, PEERS};
use crate::report::{self, Report};
use crate::scenario::{Job, Kind, Outcome, Scenario};
use crate::Args;

/// Prefix of the one stdout line a child answers with (loggers may print to stdout too).
pub const RESULT_TAG: &str = "@@COMPARE-RESULT ";

/// Longest a child may run before it is killed and reported as timed out.
const CHILD_TIMEOUT: Duration = Duration::from_secs(240);

/// One run and what came of it.
#[derive(Debug)]
pub struct Run {
    /// The row.
    pub peer: &'static PeerInfo,
    /// What it ran.
    pub scenario: Scenario,
    /// The answer, or why there is none.
    pub outcome: Result<Outcome, String>,
}

/// Sizes of one invocation.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Rows to run.
    pub peers: Vec<&'static PeerInfo>,
    /// Latency scenarios, in report order.
    pub latency: Vec<Scenario>,
    /// Throughput scenario, if any.
    pub throughput: Option<Scenario>,
    /// Throughput runs of the rows that complete one within [`REPEAT_BELOW`].
    pub repeat: usize,
}

/// A row whose throughput run completes faster than this runs `Plan::repeat` times: a
/// sub-second run is at the mercy of one scheduling or page-fault hiccup.
pub const REPEAT_BELOW: Duration = Duration::from_secs(1);

fn kind_of(c: char) -> Result<Kind> {
    Ok(match c.to_ascii_lowercase() {
        'a' => Kind::A,
        'b' => Kind::B,
        'c' => Kind::C,
        'd' => Kind::D,
        _ => bail!("unknown message kind {c:?} (a, b, c or d)"),
    })
}

impl Plan {
    fn new(args: &Args) -> Result<Plan> {
        let peers = if args.only.is_empty() {
            PEERS.iter().collect()
        } else {
            let mut v = Vec::new();
            for name in &args.only {
                let p = crate::peers::find(name).with_context(|| {
                    let names: Vec<_> = PEERS.iter().map(|p| p.name).collect();
                    format!("unknown row {name:?}; rows: {}", names.join(", "))
                })?;
                v.push(p);
            }
            v
        };
        let samples = args.samples.unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
        let messages = args.messages.unwrap_or(if args.quick { 500_000 } else { 5_000_000 });
        // Enough calls per thread to lap a 1 MiB ring a few times. Rings of 16 and 64 MiB
        // are not lapped: their pages are touched when the ring is made (tapelog: at the
        // first call or in preallocate(); bare-rtrb: in start), which those rows show.
        let warmup = args.warmup;
        let multi: Vec<Kind> = args.multi_thread_kinds.iter().map(|&c| kind_of(c)).collect::<Result<_>>()?;
        let mut latency = Vec::new();
        if !args.no_latency {
            for &threads in &args.threads {
                for kind in Kind::ALL {
                    if threads == 1 || multi.contains(&kind) {
                        latency.push(Scenario::Latency { kind, threads, samples, warmup, spin_ns: args.spin_ns });
                    }
                }
            }
        }
        let throughput = (!args.no_throughput).then_some(Scenario::Throughput { messages });
        let repeat = args.repeat.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
        Ok(Plan { peers, latency, throughput, repeat })
    }
}

/// How long the machine is left alone between two runs.
const SETTLE: Duration = Duration::from_millis(300);

/// Lets the machine quiet down after a run: writes back whatever it left dirty and waits
/// [`SETTLE`], so that one run's teardown (the writeback of its files, the memory it
/// freed) does not land in the next run's figures. Measured on the 2-core VM: the timer
/// row's own p99.9 was 60 ns run alone and 110 ns inside a full run without this.
fn settle() {
    // `sync` may be missing on an odd system; the pause still helps.
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(SETTLE);
}

/// Whether `peer` runs `scenario` at all, and if not, why.
pub fn skip_reason(peer: &PeerInfo, scenario: &Scenario) -> Option<&'static str> {
    match scenario {
        Scenario::Latency { threads, .. } if *threads > peer.max_threads => Some(peer.thread_limit_reason),
        Scenario::Latency { kind, threads, .. } if peer.headline_only && (*kind != Kind::A || *threads != 1) => {
            Some("")
        }
        Scenario::Throughput { .. } if peer.name == "timer" => Some(""),
        _ => None,
    }
}

/// Runs everything the arguments ask for, prints the report, writes the results.
pub fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(args)?;
    eprintln!("calibrating the TSC against Instant (0.5 s)...");
    let ticks_per_ns = crate::timing::calibrate(Duration::from_millis(500));
    let machine = Machine::probe(ticks_per_ns);
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = args.work_dir.clone().unwrap_or_else(|| manifest.join("target").join("compare-out"));
    std::fs::create_dir_all(&work)?;

    let mut jobs: Vec<(&'static PeerInfo, Scenario)> = Vec::new();
    for s in plan.latency.iter().chain(plan.throughput.iter()) {
        for &p in &plan.peers {
            jobs.push((p, s.clone()));
        }
    }
    let mut runs = Vec::new();
    let mut n = 0usize;
    let mut run_one = |peer: &'static PeerInfo, scenario: Scenario, runs: &mut Vec<Run>| {
        let label = report::scenario_label(&scenario);
        if let Some(why) = skip_reason(peer, &scenario) {
            if !why.is_empty() {
                runs.push(Run { peer, scenario, outcome: Err(why.to_owned()) });
            }
            return;
        }
        let t = Instant::now();
        let dir = work.join(format!("{n:03}-{}", peer.name));
        n += 1;
        let _ = std::fs::remove_dir_all(&dir);
        let job =
            Job { peer: peer.name.to_owned(), scenario: scenario.clone(), ticks_per_ns, dir, keep: args.keep_output };
        let outcome = spawn(&job).map_err(|e| format!("{e:#}"));
        settle();
        eprintln!(
            "[{:>6.1}s] {:<15} {:<32} {:>6.2}s {}",
            started.elapsed().as_secs_f64(),
            peer.name,
            label,
            t.elapsed().as_secs_f64(),
            match &outcome {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
            }
        );
        runs.push(Run { peer, scenario, outcome });
    };
    for (peer, scenario) in jobs {
        run_one(peer, scenario, &mut runs);
    }
    // More rounds of the short throughput runs, interleaved so that a slow spell of the
    // machine touches every row alike.
    if let Some(scenario) = &plan.throughput {
        let short: Vec<&'static PeerInfo> = plan
            .peers
            .iter()
            .copied()
            .filter(|p| {
                runs.iter().any(|r| {
                    r.peer.name == p.name
                        && matches!(&r.outcome, Ok(Outcome::Throughput { complete_secs, .. })
                            if *complete_secs < REPEAT_BELOW.as_secs_f64())
                })
            })
            .collect();
        for _ in 1..plan.repeat {
            for &p in &short {
                run_one(p, scenario.clone(), &mut runs);
            }
        }
    }

    let report = Report { machine, command: command_line(), plan, runs, elapsed: started.elapsed() };
    let md = report.markdown();
    println!("{md}");
    if !args.no_write {
        let dir = args.results_dir.clone().unwrap_or_else(|| manifest.join("results"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("latest.md"), &md)?;
        let svg = dir.join("latency.svg");
        crate::plot::latency_svg(&report, &svg)?;
        eprintln!("wrote {} and {}", dir.join("latest.md").display(), svg.display());
    }
    Ok(())
}

/// The command as a user would type it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = "cargo run --release --manifest-path benches/compare/Cargo.toml".to_owned();
    if !args.is_empty() {
        s.push_str(" -- ");
        s.push_str(&args.join(" "));
    }
    s
}

/// Runs `job` in a child process (this binary, re-executed) and reads its answer.
fn spawn(job: &Job) -> Result<Outcome> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--child")
        .arg(&job.peer)
        .arg("--job")
        .arg(serde_json::to_string(job)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let tail = tail(&err, 6);
    let Some(status) = status else {
        bail!("timed out after {} s; stderr: {tail}", CHILD_TIMEOUT.as_secs());
    };
    if !status.success() {
        bail!("child exited with {status}; stderr: {tail}");
    }
    let line = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULT_TAG))
        .with_context(|| format!("child printed no result; stderr: {tail}"))?;
    Ok(serde_json::from_str(line)?)
}

/// The last `n` non-empty lines of `s`, joined.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
