//! The measured loops, run inside a child process, generic over the logger under test.

use std::hint::black_box;
use std::path::Path;
use std::sync::{Barrier, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use crate::alloc::thread_allocs;
use crate::scenario::{Dist, Job, Kind, Outcome, Scenario, BURST};
use crate::timing::{spin, tsc};

/// ~20-byte strings logged by kind (c); four so the argument is not a constant.
const STRS: [&str; 4] =
    ["EURUSD.XCME.order-01", "GBPUSD.XCME.order-02", "USDJPY.XCME.order-03", "AUDUSD.XCME.order-04"];

/// What a logger reported when it stopped.
#[derive(Debug, Default)]
pub struct Finished {
    /// Messages the logger says it dropped, where it counts them.
    pub dropped: Option<u64>,
}

/// What a logger left on disk.
#[derive(Debug)]
pub struct Counted {
    /// Messages found (`None`: this row writes no output).
    pub messages: Option<u64>,
    /// Bytes on disk.
    pub bytes: u64,
}

/// A logger under test, set so that it drops nothing.
pub trait Peer: Sized + Sync {
    /// Per-thread state handed to every call on that thread (most loggers need none).
    type Local;

    /// Starts the logger writing into the empty directory `dir`, for `threads` logging threads.
    fn start(dir: &Path, threads: usize) -> Result<Self>;
    /// Called once on each logging thread before its first call.
    fn local(&self) -> Self::Local;
    /// Logs kind (a).
    fn log_a(&self, l: &mut Self::Local, a: u32, b: u64, c: f64);
    /// Logs kind (b).
    fn log_b(&self, l: &mut Self::Local);
    /// Logs kind (c).
    fn log_c(&self, l: &mut Self::Local, s: &str);
    /// Logs kind (d).
    fn log_d(&self, l: &mut Self::Local, o: &Order);
    /// Stops the logger; returns once every message is in the output.
    fn finish(self) -> Result<Finished>;
    /// Counts what reached `dir` (default: lines in every file).
    fn count(dir: &Path) -> Result<Counted> {
        count_lines(dir)
    }
}

/// Runs `job` against peer `P`, in this process.
pub fn run<P: Peer>(job: &Job) -> Result<Outcome> {
    cores(); // before anything is pinned
    std::fs::create_dir_all(&job.dir).with_context(|| format!("creating {}", job.dir.display()))?;
    let out = match job.scenario {
        Scenario::Latency { kind, threads, samples, warmup, spin_ns } => {
            let bursts = samples.div_ceil(threads as u64 * BURST);
            let spin_ticks = (spin_ns as f64 * job.ticks_per_ns) as u64;
            latency::<P>(job, kind, threads, bursts, warmup.div_ceil(BURST), spin_ticks)?
        }
        Scenario::Throughput { messages } => throughput::<P>(job, messages)?,
    };
    if !job.keep {
        std::fs::remove_dir_all(&job.dir).ok();
    }
    Ok(out)
}

/// Logs message `kind` with arguments derived from `i`, so nothing is a constant.
#[inline(always)]
fn call<P: Peer>(p: &P, l: &mut P::Local, kind: Kind, i: u64) {
    let i = black_box(i);
    match kind {
        Kind::A => p.log_a(l, i as u32, i.wrapping_mul(7), i as f64 * 0.25),
        Kind::B => p.log_b(l),
        Kind::C => p.log_c(l, STRS[(i & 3) as usize]),
        Kind::D => p.log_d(l, &Order { id: i, qty: i as u32, px: i as f64 * 0.25 }),
    }
}

/// Message (d): a struct with three numeric fields, logged as a serde value by tapelog and
/// through its `Debug` by the text loggers.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Order {
    /// Order id.
    pub id: u64,
    /// Quantity.
    pub qty: u32,
    /// Price.
    pub px: f64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1 << 42, 3).expect("valid histogram bounds")
}

/// One logging thread's measurements.
struct ThreadOut {
    per_call: Histogram<u64>,
    burst: Histogram<u64>,
    allocs: u64,
    timed_calls: u64,
    calls: u64,
    /// Seconds the timed bursts took, spins included.
    secs: f64,
}

/// The cores this process may use, read once: `core_affinity::get_core_ids` reads the
/// calling thread's affinity mask, which shrinks to one core once the thread is pinned.
fn cores() -> &'static [core_affinity::CoreId] {
    static CORES: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// Pins the calling thread to core `n` modulo the cores there are.
fn pin(n: usize) {
    let ids = cores();
    if !ids.is_empty() {
        core_affinity::set_for_current(ids[n % ids.len()]);
    }
}

/// Starts `P` from a thread pinned to the last core. Threads inherit their creator's
/// affinity, so every backend thread a logger spawns while starting (consumer, worker,
/// pool) runs on the last core, whichever logger it is, and logging thread 0 has core 0
/// to itself.
fn start<P: Peer>(dir: &Path, threads: usize) -> Result<P> {
    pin(cores().len().saturating_sub(1));
    P::start(dir, threads)
}

/// The burst loop: even bursts time each call, odd bursts time the whole burst (Quill).
/// `kind` never changes within a run, so the `match` in [`call`] is always predicted.
fn latency_thread<P: Peer>(
    p: &P,
    kind: Kind,
    bursts: u64,
    warm_bursts: u64,
    spin_ticks: u64,
    start: &Barrier,
) -> ThreadOut {
    let mut l = p.local();
    let (mut per_call, mut burst) = (histogram(), histogram());
    let mut i = 0u64;
    for _ in 0..warm_bursts {
        for _ in 0..BURST {
            call(p, &mut l, kind, i);
            i += 1;
        }
        spin(spin_ticks);
    }
    start.wait();
    let began = Instant::now();
    // From here until `a1` nothing but the logger may allocate on this thread:
    // the histograms were sized up front and `saturating_record` never grows them.
    let a0 = thread_allocs();
    for b in 0..2 * bursts {
        if b % 2 == 0 {
            for _ in 0..BURST {
                let t0 = tsc();
                call(p, &mut l, kind, i);
                let t1 = tsc();
                per_call.saturating_record((t1 - t0).max(1));
                i += 1;
            }
        } else {
            let t0 = tsc();
            for _ in 0..BURST {
                call(p, &mut l, kind, i);
                i += 1;
            }
            let t1 = tsc();
            burst.saturating_record((t1 - t0).max(1));
        }
        spin(spin_ticks);
    }
    let a1 = thread_allocs();
    let secs = began.elapsed().as_secs_f64();
    ThreadOut { per_call, burst, allocs: a1 - a0, timed_calls: 2 * bursts * BURST, calls: i, secs }
}

fn latency<P: Peer>(
    job: &Job,
    kind: Kind,
    threads: usize,
    bursts: u64,
    warm_bursts: u64,
    spin_ticks: u64,
) -> Result<Outcome> {
    let p = start::<P>(&job.dir, threads)?;
    let barrier = Barrier::new(threads);
    let outs: Vec<ThreadOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (p, barrier) = (&p, &barrier);
                s.spawn(move || {
                    pin(t);
                    latency_thread(p, kind, bursts, warm_bursts, spin_ticks, barrier)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("logging thread panicked")).collect()
    });
    let finished = p.finish()?;
    let counted = P::count(&job.dir)?;
    let (mut per_call, mut burst) = (histogram(), histogram());
    for o in &outs {
        per_call.add(&o.per_call)?;
        burst.add(&o.burst)?;
    }
    let timed: u64 = outs.iter().map(|o| o.timed_calls).sum();
    Ok(Outcome::Latency {
        per_call: Dist::from_ticks(&per_call, job.ticks_per_ns, 1),
        burst_avg: Dist::from_ticks(&burst, job.ticks_per_ns, BURST),
        allocs_per_call: outs.iter().map(|o| o.allocs).sum::<u64>() as f64 / timed as f64,
        calls: outs.iter().map(|o| o.calls).sum(),
        offered: outs.iter().map(|o| o.timed_calls as f64 / o.secs).sum(),
        out: counted.messages,
        dropped: finished.dropped,
    })
}

fn throughput<P: Peer>(job: &Job, messages: u64) -> Result<Outcome> {
    let p = start::<P>(&job.dir, 1)?;
    pin(0);
    let mut l = p.local();
    let a0 = thread_allocs();
    let t0 = Instant::now();
    for i in 0..messages {
        call(&p, &mut l, Kind::A, i);
    }
    let calls_secs = t0.elapsed().as_secs_f64();
    let allocs = thread_allocs() - a0;
    drop(l);
    let finished = p.finish()?;
    let complete_secs = t0.elapsed().as_secs_f64();
    let counted = P::count(&job.dir)?;
    Ok(Outcome::Throughput {
        calls: messages,
        calls_secs,
        complete_secs,
        out: counted.messages,
        bytes: counted.bytes,
        allocs_per_call: allocs as f64 / messages as f64,
        dropped: finished.dropped,
    })
}

/// Every regular file under `dir`, recursively.
pub fn files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.extend(files(&e.path())?);
        } else {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// Counts newline-terminated lines and bytes in every file under `dir`.
pub fn count_lines(dir: &Path) -> Result<Counted> {
    use std::io::Read;
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 20];
    for f in files(dir)? {
        let mut r = std::fs::File::open(&f)?;
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    Ok(Counted { messages: Some(lines), bytes })
}
