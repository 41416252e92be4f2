//! Counters as the program sees them: [`stats()`] copies every live counter (`counters`,
//! held by the running logger in `shared`) into the plain public structs here, per thread
//! and in total, and [`health()`] sums them up for a health endpoint.
//!
//! It only reads: nothing here is written by the logger's threads.

use std::sync::atomic::Ordering;

use crate::shared::{current, NO_LOGGER_DROPS, NO_RING_DROPS};

/// A snapshot of one producer thread's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// tapelog's id for the thread (as written in segments).
    pub id: u32,
    /// The operating system's thread id.
    pub os_tid: u64,
    /// The thread's name, or empty.
    pub name: String,
    /// Ring capacity in bytes.
    pub capacity: usize,
    /// Bytes in the ring when the consumer last looked.
    pub depth: u64,
    /// Most bytes the consumer ever found in the ring.
    pub high_water: u64,
    /// Log calls made (written + dropped + still in the ring).
    pub logged: u64,
    /// Records written to segments as they were drained (the flight recorder's kept
    /// records are counted in `kept` instead, whether a dump wrote them later or not).
    pub written: u64,
    /// Records the flight recorder took instead of writing them (see
    /// [`FlightRecorderStats`]).
    pub kept: u64,
    /// Records lost: ring full in `Drop` mode, too large for the ring, no segment to write
    /// to, or logged after the consumer's last look at the ring.
    pub dropped: u64,
    /// Calls that found the ring full and waited (`Block` mode).
    pub blocked: u64,
    /// The thread has exited and its ring was drained and freed.
    pub exited: bool,
}

impl ThreadStats {
    /// Records logged but neither written, kept nor dropped yet (in the ring or in flight).
    pub fn pending(&self) -> u64 {
        self.logged.saturating_sub(self.written + self.kept + self.dropped)
    }
}

/// Totals over every thread of the logger, and consumer-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    /// Sum of [`ThreadStats::logged`], plus calls made while no logger ran.
    pub logged: u64,
    /// Sum of [`ThreadStats::written`].
    pub written: u64,
    /// Sum of [`ThreadStats::kept`]: records the flight recorder took.
    pub kept: u64,
    /// Sum of [`ThreadStats::dropped`], plus calls made while no logger ran.
    pub dropped: u64,
    /// Sum of [`ThreadStats::blocked`].
    pub blocked: u64,
    /// Calls made while no logger ran (before `start()`, after the guard dropped). Counted
    /// in `logged` and `dropped` too.
    pub dropped_no_logger: u64,
    /// Calls dropped because they interrupted a log call on the same thread (a signal
    /// handler that logs while the thread it interrupted was inside a log call). Counted in
    /// `logged` and `dropped` too.
    pub dropped_reentrant: u64,
    /// Bytes the consumer wrote into segments (entry framing included).
    pub bytes_written: u64,
    /// Segments opened.
    pub segments: u64,
    /// Batches written.
    pub batches: u64,
    /// I/O failures (a segment that could not be opened, msync errors, a stuck shutdown).
    pub io_errors: u64,
    /// Records still unwritten when a shutdown gave up waiting for a stuck consumer.
    pub unwritten_at_shutdown: u64,
    /// Calls dropped because the ring memory budget
    /// ([`Builder::max_ring_memory`](crate::Builder::max_ring_memory)) had no room for their
    /// thread's ring (process-wide). Counted in `logged` and `dropped` too.
    pub dropped_no_ring: u64,
    /// Bytes of ring memory held now, process-wide (every ring is faulted in, so this is
    /// resident memory).
    pub ring_memory: u64,
    /// The budget `ring_memory` stays within.
    pub ring_memory_limit: u64,
    /// Threads of this logger that got a smaller ring than configured under the budget.
    pub rings_shrunk: u64,
    /// Times a thread of this logger got no ring under the budget.
    pub rings_refused: u64,
}

/// A snapshot of every counter. See [`stats()`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Whether a logger is running.
    pub running: bool,
    /// Every thread that logged into the current (or last) logger.
    pub threads: Vec<ThreadStats>,
    /// Totals.
    pub total: Totals,
    /// The last I/O error message, if any.
    pub last_error: Option<String>,
    /// Call sites with a sampler or rate limit, and how many calls each suppressed (exact,
    /// process-wide, not reset by a restart).
    pub sampled: Vec<SampledSite>,
    /// The text outputs, in configuration order.
    pub text: Vec<TextStats>,
    /// The network stream, if configured.
    pub network: Option<crate::net::NetworkStats>,
    /// The program's sinks ([`Builder::sink`](crate::Builder::sink)), in configuration order.
    pub sinks: Vec<SinkStats>,
    /// The named segment outputs ([`Output::segments`](crate::Output::segments)); named text
    /// outputs are in `text`, under their names.
    pub outputs: Vec<OutputStats>,
    /// The flight recorder, if configured.
    pub flight_recorder: Option<FlightRecorderStats>,
}

/// Counters of the flight recorder ([`Builder::flight_recorder`](crate::Builder::flight_recorder)).
///
/// After [`crate::flush()`] (with no concurrent logging) or shutdown,
/// `kept == dumped + evicted + held`, and `kept` is [`Totals::kept`]: every record logged is
/// written, kept or dropped. Records in the segments are `written + dumped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlightRecorderStats {
    /// Records it took from the rings instead of writing them.
    pub kept: u64,
    /// Kept records written out by dumps.
    pub dumped: u64,
    /// Kept records discarded: evicted for room or age, larger than the whole buffer, still
    /// held at a clean shutdown (unless `dump_on_shutdown`), or with no segment to go to.
    pub evicted: u64,
    /// Records held now.
    pub held: u64,
    /// Bytes held now, as the bound counts them.
    pub held_bytes: u64,
    /// Most bytes ever held; never above `max_bytes`.
    pub max_held_bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// Dumps written (DUMP entries).
    pub dumps: u64,
}

/// Counters of one named segment output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputStats {
    /// Its name.
    pub name: String,
    /// Records written to it.
    pub records: u64,
    /// Bytes written to it (entry framing included, dictionary entries not).
    pub bytes: u64,
    /// Batches it could not write (no segment could be opened).
    pub errors: u64,
}

/// Counters of one sink of the program's ([`Builder::sink`](crate::Builder::sink)).
///
/// After shutdown, every record the segments got is in exactly one of `records`, `dropped`
/// or `own` (unless the sink was disabled, after which it gets nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// Its name.
    pub name: String,
    /// Records handed to it.
    pub records: u64,
    /// Records dropped because its queue was full (sinks that may block).
    pub dropped: u64,
    /// Records the sink logged itself, which it is not handed (no feedback loop); they
    /// reach the segments and every other output.
    pub own: u64,
    /// Why it was disabled: the message of its panic.
    pub disabled: Option<String>,
}

/// Counters of one text output ([`Builder::text_output`](crate::Builder::text_output)).
///
/// After [`crate::flush()`] with no concurrent logging, every record written to the segments
/// (or, with `segments(false)`, counted as written) is exactly one of `lines` or `dropped`,
/// along with one line per drop report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextStats {
    /// `stderr`, `stdout` or the file's path.
    pub output: String,
    /// Lines written.
    pub lines: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Lines given up: the output's queue was full (it could not keep up), a write failed,
    /// or shutdown timed out waiting for it.
    pub dropped: u64,
    /// Failed writes.
    pub errors: u64,
}

/// A sampled call site and its suppressed count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampledSite {
    /// Module path.
    pub module: &'static str,
    /// Source file.
    pub file: &'static str,
    /// Source line.
    pub line: u32,
    /// The format string.
    pub format: &'static str,
    /// Calls the sampler suppressed.
    pub suppressed: u64,
}

/// Counters of the running logger (or of the last one, after its guard dropped).
///
/// Counters are read without stopping anything, so while threads log, `pending()` records are
/// in flight. After [`crate::flush()`] (with no concurrent logging) or after shutdown, the
/// identity `written + kept + dropped == logged` holds exactly (`kept` is 0 without a
/// flight recorder), per thread and in total.
///
/// ```
/// let s = tapelog::stats();
/// assert_eq!(s.total.written + s.total.kept + s.total.dropped
///                + s.threads.iter().map(|t| t.pending()).sum::<u64>(),
///            s.total.logged);
/// ```
pub fn stats() -> Stats {
    let no_logger = NO_LOGGER_DROPS.load(Ordering::Relaxed);
    let mut out = Stats::default();
    for (_, cs) in crate::frontend::callsite::sampled_sites() {
        out.sampled.push(SampledSite {
            module: cs.module,
            file: cs.file,
            line: cs.line,
            format: cs.format,
            suppressed: cs.sampler.map_or(0, |s| s.suppressed()),
        });
    }
    let reentrant = crate::frontend::reentry::REENTRANT_DROPS.load(Ordering::Relaxed);
    let no_ring = NO_RING_DROPS.load(Ordering::Relaxed);
    out.total.dropped_no_logger = no_logger;
    out.total.dropped_reentrant = reentrant;
    out.total.dropped_no_ring = no_ring;
    out.total.logged = no_logger + reentrant + no_ring;
    out.total.dropped = no_logger + reentrant + no_ring;
    out.total.ring_memory = crate::ring::leased().used() as u64;
    let Some(sh) = current() else { return out };
    out.running = sh.generation == crate::shared::GENERATION.load(Ordering::Relaxed);
    let threads = sh.threads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for t in threads {
        // Acquire on `closed` pairs with the consumer's Release: `written` is final then.
        let closed = t.consumer.closed.load(Ordering::Acquire);
        let logged = t.producer.logged.load(Ordering::Relaxed);
        let written = t.consumer.written.load(Ordering::Relaxed);
        let kept = t.consumer.kept.load(Ordering::Relaxed);
        let mut dropped = t.producer.dropped.load(Ordering::Relaxed) + t.consumer.lost.load(Ordering::Relaxed);
        if closed {
            // Anything logged into a ring the consumer has stopped reading is lost.
            dropped = dropped.max(logged.saturating_sub(written + kept));
        }
        let ts = ThreadStats {
            id: t.id,
            os_tid: t.os_tid,
            name: t.name.clone(),
            capacity: t.capacity,
            depth: t.consumer.depth.load(Ordering::Relaxed),
            high_water: t.consumer.high_water.load(Ordering::Relaxed),
            logged,
            written,
            kept,
            dropped,
            blocked: t.producer.blocked.load(Ordering::Relaxed),
            exited: t.consumer.exited.load(Ordering::Relaxed),
        };
        out.total.logged += ts.logged;
        out.total.written += ts.written;
        out.total.kept += ts.kept;
        out.total.dropped += ts.dropped;
        out.total.blocked += ts.blocked;
        out.threads.push(ts);
    }
    let t = &sh.totals;
    out.total.bytes_written = t.bytes_written.load(Ordering::Relaxed);
    out.total.segments = t.segments.load(Ordering::Relaxed);
    out.total.batches = t.batches.load(Ordering::Relaxed);
    out.total.io_errors = t.io_errors.load(Ordering::Relaxed);
    out.total.unwritten_at_shutdown = t.unwritten_at_shutdown.load(Ordering::Relaxed);
    out.total.rings_shrunk = t.rings_shrunk.load(Ordering::Relaxed);
    out.total.rings_refused = t.rings_refused.load(Ordering::Relaxed);
    out.total.ring_memory_limit = sh.config.ring_budget() as u64;
    for c in &sh.text {
        out.text.push(TextStats {
            output: c.name.clone(),
            lines: c.lines.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        });
    }
    for c in sh.outputs.get().into_iter().flatten() {
        out.outputs.push(OutputStats {
            name: c.name.clone(),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        });
    }
    for c in &sh.sinks {
        out.sinks.push(SinkStats {
            name: c.name.clone(),
            records: c.records.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            own: c.own.load(Ordering::Relaxed),
            disabled: c.disabled.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        });
    }
    out.network = sh.net.get().map(|n| crate::net::NetworkStats::read(n));
    out.flight_recorder = sh.config.flight_recorder.as_ref().map(|fr| {
        let r = &sh.recorder;
        FlightRecorderStats {
            kept: r.kept.load(Ordering::Relaxed),
            dumped: r.dumped.load(Ordering::Relaxed),
            evicted: r.evicted.load(Ordering::Relaxed),
            held: r.held.load(Ordering::Relaxed),
            held_bytes: r.held_bytes.load(Ordering::Relaxed),
            max_held_bytes: r.max_held_bytes.load(Ordering::Relaxed),
            max_bytes: fr.max_bytes as u64,
            dumps: r.dumps.load(Ordering::Relaxed),
        }
    });
    out.last_error = sh.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
    out
}

/// How the logger is doing, for a service's own health endpoint. See [`health()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// Running, nothing lost since the last look.
    Ok,
    /// Running, but records or lines were lost since the last look (by the rings, text
    /// outputs, sinks or network stream), an I/O error happened, a ring is past the
    /// capacity-warning level now, the network stream is disconnected, or a sink was disabled.
    Degraded,
    /// No logger runs, or its consumer thread is gone.
    Down,
}

/// A summary of [`stats()`] for a health endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// The verdict.
    pub status: HealthStatus,
    /// Records dropped since the previous `health()` call.
    pub dropped_since_last: u64,
    /// Text-output lines dropped since the previous `health()` call.
    pub text_dropped_since_last: u64,
    /// I/O errors since the previous `health()` call.
    pub io_errors_since_last: u64,
    /// Records the program's sinks dropped since the previous `health()` call.
    pub sink_dropped_since_last: u64,
    /// Records the network stream dropped (or lost at shutdown) since the previous call.
    pub network_dropped_since_last: u64,
    /// Whether the network stream is connected (`None` without one).
    pub network_connected: Option<bool>,
    /// Sinks of the program's that panicked and were disabled.
    pub sinks_disabled: Vec<String>,
    /// The fullest ring right now, as a share of its capacity (0 to 1).
    pub fullest_ring: f64,
    /// Totals since start (or, after shutdown, of the last logger).
    pub total: Totals,
    /// The last error message, if any.
    pub last_error: Option<String>,
}

impl Health {
    /// The summary as one JSON object, e.g. for `GET /health`.
    ///
    /// ```
    /// let h = tapelog::health();
    /// let v: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
    /// assert_eq!(v["status"], "down"); // no logger runs in this example
    /// ```
    pub fn to_json(&self) -> String {
        let status = match self.status {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Down => "down",
        };
        serde_json::json!({
            "status": status,
            "dropped_since_last": self.dropped_since_last,
            "text_dropped_since_last": self.text_dropped_since_last,
            "io_errors_since_last": self.io_errors_since_last,
            "sink_dropped_since_last": self.sink_dropped_since_last,
            "network_dropped_since_last": self.network_dropped_since_last,
            "network_connected": self.network_connected,
            "sinks_disabled": self.sinks_disabled,
            "fullest_ring": self.fullest_ring,
            "logged": self.total.logged,
            "written": self.total.written,
            "dropped": self.total.dropped,
            "io_errors": self.total.io_errors,
            "last_error": self.last_error,
        })
        .to_string()
    }
}

/// The health summary: [`HealthStatus::Down`] without a running logger or consumer,
/// [`HealthStatus::Degraded`] when anything was lost since the previous call (records, text
/// lines, sink or network records, I/O errors), a ring is past the capacity-warning level,
/// the network stream is disconnected or a sink was disabled, else
/// [`HealthStatus::Ok`]. Meant for one poller (a health endpoint): each call resets the
/// "since last" counters.
pub fn health() -> Health {
    use std::sync::atomic::AtomicU64;
    static SEEN: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
    let st = stats();
    let text_dropped: u64 = st.text.iter().map(|t| t.dropped).sum();
    let sink_dropped: u64 = st.sinks.iter().map(|k| k.dropped).sum();
    let net_dropped = st.network.as_ref().map_or(0, |n| n.records_dropped + n.lost_at_shutdown);
    let now = [st.total.dropped, text_dropped, st.total.io_errors, sink_dropped, net_dropped];
    // Relaxed: these are statistics; a racing second poller at worst sees a delta twice.
    let delta: Vec<u64> = SEEN.iter().zip(now).map(|(s, n)| n.saturating_sub(s.swap(n, Ordering::Relaxed))).collect();
    let fullest = st
        .threads
        .iter()
        .filter(|t| !t.exited && t.capacity > 0)
        .map(|t| t.depth as f64 / t.capacity as f64)
        .fold(0.0, f64::max);
    let sh = current();
    let alive = sh.as_ref().is_some_and(|s| s.flush.consumer_alive());
    let warn_at = sh.as_ref().and_then(|s| s.config.capacity_warning).map_or(0.8, |w| w.fill);
    let network_connected = st.network.as_ref().map(|n| n.connected);
    let sinks_disabled: Vec<String> =
        st.sinks.iter().filter(|k| k.disabled.is_some()).map(|k| k.name.clone()).collect();
    let status = if !st.running || !alive {
        HealthStatus::Down
    } else if delta.iter().any(|&d| d > 0)
        || fullest >= warn_at
        || network_connected == Some(false)
        || !sinks_disabled.is_empty()
    {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    Health {
        status,
        dropped_since_last: delta[0],
        text_dropped_since_last: delta[1],
        io_errors_since_last: delta[2],
        sink_dropped_since_last: delta[3],
        network_dropped_since_last: delta[4],
        network_connected,
        sinks_disabled,
        fullest_ring: fullest,
        total: st.total,
        last_error: st.last_error,
    }
}
