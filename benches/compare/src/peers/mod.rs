//! The loggers under test: one module each, and the table that names them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use anyhow::Result;

use crate::harness;
use crate::scenario::{Job, Outcome};

mod bare_rtrb;
mod baseline;
mod fast_log;
mod ftlog;
mod quicklog;
mod slog;
mod spdlog;
mod tapelog;
mod timer;
mod tracing;

/// One row of the comparison.
#[derive(Debug)]
pub struct PeerInfo {
    /// Name used on the command line and in tables.
    pub name: &'static str,
    /// Crates and versions (as locked in this crate's Cargo.lock).
    pub crates: &'static str,
    /// How it was set so that it drops nothing (or why it cannot be).
    pub setting: &'static str,
    /// Where the message is formatted and what is written.
    pub output: &'static str,
    /// Most logging threads it supports (`usize::MAX`: any).
    pub max_threads: usize,
    /// Why it cannot run with more threads than `max_threads`.
    pub thread_limit_reason: &'static str,
    /// Whether it is a logger (counted in "best peer"), not a reference row.
    pub is_peer: bool,
    /// Runs only the headline scenarios (latency of kind (a) on one thread, and
    /// throughput): the ring-size rows, which would otherwise triple the full run's time.
    pub headline_only: bool,
    /// Runs a job in this (child) process.
    pub run: fn(&Job) -> Result<Outcome>,
}

/// Every row, in report order.
pub const PEERS: &[PeerInfo] = &[
    PeerInfo {
        name: "timer",
        crates: "-",
        setting: "-",
        output: "no logging: cost of the `lfence; rdtsc; lfence` pair around an empty call",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: false,
        headline_only: false,
        run: harness::run::<timer::Timer>,
    },
    PeerInfo {
        name: "bare-rtrb",
        crates: BARE_RTRB,
        setting: "producer spins while the 1 MiB ring is full; ring pre-touched in start",
        output: BARE_RTRB_OUTPUT,
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: false,
        headline_only: false,
        run: harness::run::<bare_rtrb::BareRtrb<{ 1 << 20 }>>,
    },
    PeerInfo {
        name: "tapelog",
        crates: TAPELOG,
        setting: "Overflow::Block, 1 MiB ring per thread (made at the first call), 256 MiB segments",
        output: TAPELOG_OUTPUT,
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: false,
        headline_only: false,
        run: harness::run::<tapelog::Tapelog<{ 1 << 20 }, false>>,
    },
    PeerInfo {
        name: "tracing",
        crates: "tracing 0.1.44, tracing-subscriber 0.3.23, tracing-appender 0.2.5",
        setting: "tracing-appender non_blocking, .lossy(false), 128k-line channel",
        output: "text, formatted on the calling thread (tracing-subscriber fmt)",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<tracing::Tracing>,
    },
    PeerInfo {
        name: "spdlog-rs",
        crates: "spdlog-rs 0.5.3",
        setting: "AsyncPoolSink, OverflowPolicy::Block, 100k-task pool queue, 1 pool thread",
        output: "text, record copied on the calling thread, formatted in the pool thread",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<spdlog::Spdlog>,
    },
    PeerInfo {
        name: "ftlog",
        crates: "ftlog 0.2.18",
        setting: ".bounded(100_000, true) (block when full)",
        output: "text, arguments formatted on the calling thread, line in the log thread",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<ftlog::Ftlog>,
    },
    PeerInfo {
        name: "fast_log",
        crates: "fast_log 1.7.10",
        setting: ".chan_len(Some(100_000)) (bounded channel, send blocks when full)",
        output: "text, arguments formatted on the calling thread, line in a worker thread",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<fast_log::FastLog>,
    },
    PeerInfo {
        name: "slog",
        crates: "slog 2.8.2, slog-async 2.8.0, slog-term 2.9.2",
        setting: "slog-async OverflowStrategy::Block, 100k channel; slog-term's per-record flush() \
                  absorbed by a 64 KiB BufWriter",
        output: "text, message formatted on the calling thread, line in the async thread",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<slog::Slog>,
    },
    PeerInfo {
        name: "quicklog",
        crates: "quicklog 0.1.18",
        setting: "no blocking mode (info! drops when its 1M-entry queue is full): the harness \
                  retries try_log! until it is accepted; custom BufWriter flusher",
        output: "text, boxed closure on the calling thread, formatted in the flush thread",
        max_threads: 1,
        thread_limit_reason: "n/a: quicklog 0.1 has one global SPSC queue (single producer)",
        is_peer: true,
        headline_only: false,
        run: harness::run::<quicklog::Quicklog>,
    },
    PeerInfo {
        name: "simplelog-sync",
        crates: "simplelog 0.12.2",
        setting: "synchronous: cannot drop",
        output: "text, formatted and written on the calling thread into a Mutex<BufWriter<File>> (64 KiB)",
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: true,
        headline_only: false,
        run: harness::run::<baseline::SimplelogSync>,
    },
    // The ring-size rows (headline scenarios only), summed up in the report's "Ring sizes" table.
    ring_row(
        "tapelog-prealloc",
        TAPELOG,
        "Overflow::Block, 1 MiB ring per thread made by preallocate() before the first call, 256 MiB segments",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 1 << 20 }, true>>,
    ),
    ring_row(
        "bare-rtrb-16m",
        BARE_RTRB,
        "producer spins while the 16 MiB ring is full; ring pre-touched in start",
        BARE_RTRB_OUTPUT,
        harness::run::<bare_rtrb::BareRtrb<{ 16 << 20 }>>,
    ),
    ring_row(
        "tapelog-16m",
        TAPELOG,
        "Overflow::Block, 16 MiB ring per thread (made at the first call), 256 MiB segments",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 16 << 20 }, false>>,
    ),
    ring_row(
        "tapelog-16m-prealloc",
        TAPELOG,
        "Overflow::Block, 16 MiB ring per thread made by preallocate() before the first call, 256 MiB segments",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 16 << 20 }, true>>,
    ),
    ring_row(
        "tapelog-16m-prealloc-4k",
        TAPELOG,
        "as tapelog-16m-prealloc, with huge_pages(false): the ring in 4 KiB pages",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 16 << 20 }, true, false>>,
    ),
    ring_row(
        "tapelog-flight",
        TAPELOG,
        "as tapelog, with a flight recorder keeping every record on the consumer (1 GiB, written out at shutdown)",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 1 << 20 }, false, true, true>>,
    ),
    ring_row(
        "bare-rtrb-64m",
        BARE_RTRB,
        "producer spins while the 64 MiB ring is full; ring pre-touched in start",
        BARE_RTRB_OUTPUT,
        harness::run::<bare_rtrb::BareRtrb<{ 64 << 20 }>>,
    ),
    ring_row(
        "tapelog-64m",
        TAPELOG,
        "Overflow::Block, 64 MiB ring per thread (made at the first call), 256 MiB segments",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 64 << 20 }, false>>,
    ),
    ring_row(
        "tapelog-64m-prealloc",
        TAPELOG,
        "Overflow::Block, 64 MiB ring per thread made by preallocate() before the first call, 256 MiB segments",
        TAPELOG_OUTPUT,
        harness::run::<tapelog::Tapelog<{ 64 << 20 }, true>>,
    ),
];

/// Crates of the bare-rtrb rows.
const BARE_RTRB: &str = "rtrb 0.3.6";
/// What the bare-rtrb rows write.
const BARE_RTRB_OUTPUT: &str = "physical limit: raw 32-byte record (2-byte len, 4-byte id, 6-byte rdtsc, u32, u64, \
                                f64) into an rtrb ring per thread via write_chunk_uninit; consumer thread writes it \
                                to a file";
/// Crates of the tapelog rows.
const TAPELOG: &str = "tapelog (this repository)";
/// What the tapelog rows write.
const TAPELOG_OUTPUT: &str = "binary, deferred formatting (decoded offline)";

/// A reference row that runs only the headline scenarios, for the ring-size comparison.
const fn ring_row(
    name: &'static str,
    crates: &'static str,
    setting: &'static str,
    output: &'static str,
    run: fn(&Job) -> Result<Outcome>,
) -> PeerInfo {
    PeerInfo {
        name,
        crates,
        setting,
        output,
        max_threads: usize::MAX,
        thread_limit_reason: "",
        is_peer: false,
        headline_only: true,
        run,
    }
}

/// The rows of one ring size, compared in the report's "Ring sizes" table.
#[derive(Debug)]
pub struct RingRows {
    /// Ring bytes per thread, in MiB.
    pub mib: usize,
    /// The bare-rtrb row with a ring of this size (pre-touched).
    pub bare: &'static str,
    /// The tapelog row whose ring is made by the thread's first call.
    pub tapelog: &'static str,
    /// The tapelog row whose ring is made by `preallocate()` before the first call.
    pub prealloc: &'static str,
}

/// Every ring size compared, smallest first.
pub const RING_SIZES: &[RingRows] = &[
    RingRows { mib: 1, bare: "bare-rtrb", tapelog: "tapelog", prealloc: "tapelog-prealloc" },
    RingRows { mib: 16, bare: "bare-rtrb-16m", tapelog: "tapelog-16m", prealloc: "tapelog-16m-prealloc" },
    RingRows { mib: 64, bare: "bare-rtrb-64m", tapelog: "tapelog-64m", prealloc: "tapelog-64m-prealloc" },
];

/// Looks a row up by name.
pub fn find(name: &str) -> Option<&'static PeerInfo> {
    PEERS.iter().find(|p| p.name == name)
}

/// A buffered output file that tells a channel when it has been flushed and dropped,
/// so the harness knows when a backend thread that owns it has finished writing.
pub struct FileOut {
    w: BufWriter<File>,
    /// Signalled once from `drop`, after the final flush.
    done: Option<SyncSender<()>>,
    /// Turn `flush()` into a no-op (the buffer is still flushed on drop).
    lazy_flush: bool,
}

impl FileOut {
    /// Creates `dir/name` with a 64 KiB buffer; the receiver fires when it is dropped.
    pub fn create(dir: &Path, name: &str, lazy_flush: bool) -> Result<(FileOut, Receiver<()>)> {
        let (tx, rx) = sync_channel(1);
        let w = BufWriter::with_capacity(64 << 10, File::create(dir.join(name))?);
        Ok((FileOut { w, done: Some(tx), lazy_flush }, rx))
    }
}

impl Write for FileOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.lazy_flush {
            Ok(())
        } else {
            self.w.flush()
        }
    }
}

impl Drop for FileOut {
    fn drop(&mut self) {
        if let Err(e) = self.w.flush() {
            eprintln!("flushing output: {e}");
        }
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
    }
}

/// How long `finish` waits for a backend to complete its output before giving up.
pub const FINISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
