//! `compare`: tapelog against other Rust loggers, each measured in its own child process.
//!
//! `cargo run --release --manifest-path benches/compare/Cargo.toml` runs everything; see
//! `README.md` next to this crate for what is measured and how.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alloc;
mod harness;
mod machine;
mod parent;
mod peers;
mod plot;
mod report;
mod scenario;
mod timing;

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Parser;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Compares tapelog with other Rust loggers: per-call latency, throughput, bytes, allocations.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    /// Run only these rows (repeatable or comma-separated): timer, bare-rtrb, tapelog,
    /// tracing, spdlog-rs, ftlog, fast_log, slog, quicklog, simplelog-sync; the ring-size
    /// rows tapelog-prealloc, bare-rtrb-16m, tapelog-16m, tapelog-16m-prealloc,
    /// tapelog-16m-prealloc-4k (huge pages off), tapelog-flight (a flight recorder keeping
    /// every record), bare-rtrb-64m, tapelog-64m, tapelog-64m-prealloc.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Fewer samples and messages (100k samples, 500k messages): for iterating, not for
    /// publishing.
    #[arg(long)]
    pub quick: bool,
    /// Per-call samples per latency run, over all its threads [default: 1M, --quick 100k].
    #[arg(long)]
    pub samples: Option<u64>,
    /// Messages in the throughput run [default: 5M, --quick 500k].
    #[arg(long)]
    pub messages: Option<u64>,
    /// Logging-thread counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 2, 4])]
    pub threads: Vec<usize>,
    /// Message kinds to measure at more than one thread (all kinds always run at one thread).
    #[arg(long, value_delimiter = ',', default_values_t = vec!['a'])]
    pub multi_thread_kinds: Vec<char>,
    /// Warm-up calls per logging thread before the timed bursts.
    #[arg(long, default_value_t = 100_000)]
    pub warmup: u64,
    /// Spin between bursts of 20 calls, in nanoseconds.
    #[arg(long, default_value_t = 2000)]
    pub spin_ns: u64,
    /// Throughput runs of every row whose first run completes within a second; the rounds
    /// are interleaved and the median is reported with the range. Slower rows run once: a
    /// run of seconds already averages out what a short one cannot [default: 5, --quick 1].
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Skip the throughput runs.
    #[arg(long)]
    pub no_throughput: bool,
    /// Skip the latency runs.
    #[arg(long)]
    pub no_latency: bool,
    /// Where loggers write (one subdirectory per run, removed after counting).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the loggers' output files.
    #[arg(long)]
    pub keep_output: bool,
    /// Where latest.md and latency.svg go [default: benches/compare/results].
    #[arg(long)]
    pub results_dir: Option<PathBuf>,
    /// Do not write the results directory (stdout only).
    #[arg(long)]
    pub no_write: bool,
    /// Internal: run one job in this process and print its result.
    #[arg(long, hide = true, requires = "job")]
    pub child: Option<String>,
    /// Internal: the job, as JSON.
    #[arg(long, hide = true)]
    pub job: Option<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    match (&args.child, &args.job) {
        (Some(name), Some(job)) => child(name, job),
        _ => parent::run(&args),
    }
}

/// Runs one job and prints `RESULT_TAG` followed by the outcome as JSON on one line.
fn child(name: &str, job: &str) -> Result<()> {
    let job: scenario::Job = serde_json::from_str(job)?;
    let peer = peers::find(name).ok_or_else(|| anyhow!("unknown peer {name}"))?;
    let outcome = (peer.run)(&job)?;
    println!("{}{}", parent::RESULT_TAG, serde_json::to_string(&outcome)?);
    Ok(())
}
