//! What a child process is asked to run, and what it answers, as JSON.

use std::path::PathBuf;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The message a scenario logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `"Logging int: {}, int: {}, double: {}"` with a `u32`, a `u64` and an `f64`.
    A,
    /// A static string, no arguments.
    B,
    /// One ~20-byte `&str` argument.
    C,
    /// A serde struct with three numeric fields (text loggers format its `Debug`).
    D,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 4] = [Kind::A, Kind::B, Kind::C, Kind::D];

    /// Short label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Kind::A => "(a) u32, u64, f64",
            Kind::B => "(b) static string",
            Kind::C => "(c) 20-byte &str",
            Kind::D => "(d) serde struct (u64, u32, f64)",
        }
    }
}

/// One run in one child process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Scenario {
    /// Per-call latency: bursts of [`BURST`] calls, then a spin.
    Latency {
        /// Message logged.
        kind: Kind,
        /// Logging threads, pinned round-robin to the cores.
        threads: usize,
        /// Per-call samples wanted, over all threads.
        samples: u64,
        /// Warm-up calls per thread, not recorded.
        warmup: u64,
        /// Spin between bursts, in nanoseconds.
        spin_ns: u64,
    },
    /// `messages` calls of kind (a), back to back, on one pinned thread.
    Throughput {
        /// Messages logged.
        messages: u64,
    },
}

/// Calls per burst; Quill's method averages over one burst.
pub const BURST: u64 = 20;

/// A child's instructions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// Peer name, as in the peer table.
    pub peer: String,
    /// What to run.
    pub scenario: Scenario,
    /// Time-stamp-counter ticks per nanosecond, calibrated once by the parent.
    pub ticks_per_ns: f64,
    /// Empty directory the logger writes into; removed afterwards unless `keep` is set.
    pub dir: PathBuf,
    /// Keep the logger's output.
    pub keep: bool,
}

/// Percentiles reported in the tables.
pub const PCTS: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// Percentiles drawn in the plot (the maximum is added as its own point).
pub const CURVE_PCTS: [f64; 12] = [0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999];

/// A latency distribution, in nanoseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dist {
    /// Samples recorded.
    pub samples: u64,
    /// Values at [`PCTS`].
    pub pcts: Vec<f64>,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// `(percentile, value)` at [`CURVE_PCTS`].
    pub curve: Vec<(f64, f64)>,
}

impl Dist {
    /// Reads a histogram of tick counts, each standing for `per` calls.
    pub fn from_ticks(h: &Histogram<u64>, ticks_per_ns: f64, per: u64) -> Dist {
        let ns = |t: u64| t as f64 / ticks_per_ns / per as f64;
        Dist {
            samples: h.len(),
            pcts: PCTS.iter().map(|&p| ns(h.value_at_percentile(p))).collect(),
            max: ns(h.max()),
            mean: h.mean() / ticks_per_ns / per as f64,
            curve: CURVE_PCTS.iter().map(|&p| (p, ns(h.value_at_percentile(p)))).collect(),
        }
    }
}

/// What a child measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Outcome {
    /// Answer to [`Scenario::Latency`].
    Latency {
        /// Each call timed on its own.
        per_call: Dist,
        /// Quill's method: one timing around each burst, divided by [`BURST`].
        burst_avg: Dist,
        /// Heap allocations per call made by the logging threads during timed bursts.
        allocs_per_call: f64,
        /// Calls made, warm-up included.
        calls: u64,
        /// Calls per second the threads made during the timed bursts (the offered load).
        offered: f64,
        /// Messages found in the output (`None`: the row writes no output).
        out: Option<u64>,
        /// Drops the logger itself reported, where it counts them.
        dropped: Option<u64>,
    },
    /// Answer to [`Scenario::Throughput`].
    Throughput {
        /// Calls made.
        calls: u64,
        /// Seconds until the last call returned.
        calls_secs: f64,
        /// Seconds until the output was complete.
        complete_secs: f64,
        /// Messages found in the output.
        out: Option<u64>,
        /// Bytes of output on disk.
        bytes: u64,
        /// Heap allocations per call on the logging thread.
        allocs_per_call: f64,
        /// Drops the logger itself reported, where it counts them.
        dropped: Option<u64>,
    },
}
