//! Configuration: the [`Builder`], its settings, and the checks they must pass.
//!
//! Owns what a logger is asked to be and whether that makes sense (`Builder::validate`),
//! nothing of running it: [`Builder::start`] and the [`Guard`](crate::Guard) that stops the
//! logger are the consumer's lifecycle (`consumer::lifecycle`), and the policy values are
//! `policy`'s.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::filter::Filter;
use crate::policy::{Durability, Idle, Overflow};
use crate::route::OutputKind;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub dir: PathBuf,
    pub segment_size: usize,
    pub ring_capacity: usize,
    /// Budget for the bytes of every thread's ring together; `None`: [`crate::ring`]'s
    /// default share of physical memory.
    pub max_ring_memory: Option<usize>,
    /// Whether rings of 4 MiB and more are advised as transparent huge pages.
    pub huge_pages: bool,
    /// Every call returns only once its record is written (a debugging aid).
    pub immediate: bool,
    pub overflow: Overflow,
    pub consumer_core: Option<usize>,
    pub idle: Idle,
    pub durability: Durability,
    pub max_files: Option<usize>,
    pub max_bytes: Option<u64>,
    pub metadata: Vec<(String, String)>,
    pub batch_delay: std::time::Duration,
    pub poll_interval: std::time::Duration,
    pub filter: Option<String>,
    pub shutdown_timeout: std::time::Duration,
    /// Text outputs besides (or instead of) the segments.
    pub text: Vec<crate::TextOutput>,
    /// Whether binary segments are written.
    pub segments: bool,
    /// Bytes of formatted lines each text output may hold in its queue.
    pub text_queue_bytes: usize,
    pub capacity_warning: Option<CapacityWarning>,
    /// The binary network stream, if any.
    pub network: Option<crate::net::Network>,
    /// Sinks of the program's own, by name.
    pub sinks: Vec<(String, SinkSlot)>,
    /// Named outputs with routes.
    pub outputs: Vec<crate::Output>,
    /// Bytes each sink on its own thread may have queued.
    pub sink_queue_bytes: usize,
    /// The flight recorder, if any.
    pub flight_recorder: Option<crate::FlightRecorder>,
}

impl Config {
    /// The ring memory budget: `max_ring_memory`, or the default share of physical memory.
    pub fn ring_budget(&self) -> usize {
        self.max_ring_memory.unwrap_or_else(crate::ring::default_budget)
    }
}

/// A sink waiting for `start()` (shared by clones of the builder; the first start takes it).
#[derive(Clone)]
pub(crate) struct SinkSlot(pub std::sync::Arc<std::sync::Mutex<Option<Box<dyn crate::Sink>>>>);

impl std::fmt::Debug for SinkSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// When the consumer warns that a thread's ring is filling up: a WARN record of the
/// consumer's own stream (thread `tapelog`) naming the thread, the fill level and the
/// high-water mark, at most once per `interval` per thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CapacityWarning {
    /// Share of the ring's capacity, in (0, 1].
    pub fill: f64,
    pub interval: std::time::Duration,
}

/// Configures and starts the logger.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("tapelog-doc-builder-{}", std::process::id()));
/// let guard = tapelog::Builder::new()
///     .dir(&dir)                       // where segments go
///     .segment_size(8 << 20)           // bytes per segment file
///     .ring_capacity(64 << 10)         // bytes per producer thread
///     .overflow(tapelog::Overflow::Block)
///     .consumer_core(None)             // Some(core) pins the consumer thread
///     .start()?;
/// tapelog::info!("Logging int: {}, int: {}, double: {}", 1u32, 2u64, 3.5f64);
/// tapelog::flush();
/// assert_eq!(tapelog::stats().total.written, 1);
/// drop(guard);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tapelog::StartError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    cfg: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// Smallest ring a thread may get.
pub const MIN_RING_CAPACITY: usize = 1024;
/// Largest ring a thread may get.
pub const MAX_RING_CAPACITY: usize = 1 << 30;
/// Room a segment keeps beyond one full ring, for the header and dictionary.
pub const SEGMENT_HEADROOM: usize = 64 << 10;

impl Builder {
    /// Defaults: directory `logs`, 64 MiB segments, 1 MiB rings, [`Overflow::Drop`],
    /// unpinned consumer, [`Idle::Backoff`], [`Durability::None`], no retention limit.
    pub fn new() -> Self {
        Builder {
            cfg: Config {
                dir: PathBuf::from("logs"),
                segment_size: 64 << 20,
                ring_capacity: 1 << 20,
                max_ring_memory: None,
                huge_pages: true,
                immediate: false,
                overflow: Overflow::Drop,
                consumer_core: None,
                idle: Idle::Backoff,
                durability: Durability::None,
                max_files: None,
                max_bytes: None,
                metadata: Vec::new(),
                batch_delay: std::time::Duration::from_micros(100),
                poll_interval: std::time::Duration::from_micros(10),
                filter: None,
                shutdown_timeout: std::time::Duration::from_secs(10),
                text: Vec::new(),
                segments: true,
                text_queue_bytes: 4 << 20,
                capacity_warning: Some(CapacityWarning { fill: 0.8, interval: std::time::Duration::from_secs(1) }),
                network: None,
                sinks: Vec::new(),
                sink_queue_bytes: 4 << 20,
                outputs: Vec::new(),
                flight_recorder: None,
            },
        }
    }

    /// Keeps low-level records in memory on the consumer and writes them out only when
    /// something goes wrong: see [`FlightRecorder`](crate::FlightRecorder). The hot path
    /// does not change.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("tapelog-doc-fr-{}", std::process::id()));
    /// let guard = tapelog::Builder::new()
    ///     .dir(&dir)
    ///     .filter("debug")
    ///     .flight_recorder(tapelog::FlightRecorder::new())
    ///     .start()?;
    /// tapelog::debug!("kept in memory, not written");
    /// tapelog::flush();
    /// assert_eq!(tapelog::stats().total.written, 0);
    /// tapelog::dump_flight_recorder("look");
    /// assert_eq!(tapelog::stats().flight_recorder.unwrap().dumped, 1);
    /// drop(guard);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), tapelog::StartError>(())
    /// ```
    pub fn flight_recorder(mut self, fr: crate::FlightRecorder) -> Self {
        self.cfg.flight_recorder = Some(fr);
        self
    }

    /// Directory for segment files (created if missing).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cfg.dir = dir.as_ref().to_path_buf();
        self
    }

    /// Bytes per segment file (preallocated and mapped). At least the ring capacity plus
    /// 64 KiB.
    pub fn segment_size(mut self, bytes: usize) -> Self {
        self.cfg.segment_size = bytes;
        self
    }

    /// Bytes of ring per producer thread (1 KiB ..= 1 GiB). A ring is faulted in when its
    /// thread first logs (or calls [`preallocate`](crate::preallocate)), so its memory is
    /// resident from then on, within [`max_ring_memory`](Self::max_ring_memory).
    pub fn ring_capacity(mut self, bytes: usize) -> Self {
        self.cfg.ring_capacity = bytes;
        self
    }

    /// Budget for the rings of every thread together, in bytes (default: an eighth of
    /// physical memory, at least 256 MiB). Once fewer than four more full rings fit, new
    /// threads get smaller ones, halved down to 64 KiB (or `ring_capacity` if that is
    /// smaller); a thread for which not even that fits gets none, and its calls are dropped
    /// and counted ([`Totals::dropped_no_ring`](crate::Totals::dropped_no_ring)) until rings
    /// of exited threads return to the budget. Both are reported in the log as WARN records of thread
    /// `tapelog`.
    pub fn max_ring_memory(mut self, bytes: usize) -> Self {
        self.cfg.max_ring_memory = Some(bytes);
        self
    }

    /// Whether rings of 4 MiB and more are advised as transparent huge pages
    /// (`MADV_HUGEPAGE`) before they are faulted in (default: on). Where the kernel has
    /// transparent huge pages in `madvise` or `always` mode this makes a big ring's fault-in
    /// many times faster and keeps the hot path's stores in a few TLB entries; turn it off
    /// where the kernel's compaction for huge pages is known to stall (`defrag` set to
    /// `always`), or to compare.
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.cfg.huge_pages = on;
        self
    }

    /// Immediate mode, **a debugging aid, never for production**: every log call returns
    /// only once the consumer has written its record (as [`flush`](crate::flush) after each
    /// call), so a program that stops in a debugger, or a test that reads the segments right
    /// after a call, sees every record. A call then costs a round trip to the consumer
    /// (microseconds, a wait on a condition variable) instead of nanoseconds. Off (the
    /// default), the mode costs the hot path nothing: its one check already sends such
    /// calls to the slow path. Calls from the logger's own threads (sinks, the network
    /// output) and from a signal handler that interrupted a log call are not waited for;
    /// a signal handler that logs while no call is under way waits like any call, so do not
    /// use the mode with one.
    pub fn immediate(mut self, on: bool) -> Self {
        self.cfg.immediate = on;
        self
    }

    /// What a call does when its ring is full.
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.cfg.overflow = policy;
        self
    }

    /// Pins the consumer thread to this CPU (the operating system's CPU number, as in
    /// `taskset`). `None` (the default) lets it run on any CPU, whatever the affinity of the
    /// thread that calls `start()`.
    pub fn consumer_core(mut self, core: Option<usize>) -> Self {
        self.cfg.consumer_core = core;
        self
    }

    /// The consumer's idle policy.
    pub fn idle(mut self, idle: Idle) -> Self {
        self.cfg.idle = idle;
        self
    }

    /// What `flush()` guarantees.
    pub fn durability(mut self, d: Durability) -> Self {
        self.cfg.durability = d;
        self
    }

    /// Keep at most this many segment files in the directory (oldest are deleted).
    pub fn max_files(mut self, n: usize) -> Self {
        self.cfg.max_files = Some(n);
        self
    }

    /// Keep at most this many bytes of segment files in the directory (oldest are deleted;
    /// the segment being written always stays).
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.cfg.max_bytes = Some(n);
        self
    }

    /// How long the consumer may leave a small amount of data (under 8 KiB and under an
    /// eighth of the ring) in a ring to gather a bigger batch (default 100 µs). Bigger batches
    /// mean less framing on disk and less consumer work per record; `flush()` never waits
    /// for it. Zero writes every record as soon as the consumer sees it.
    pub fn batch_delay(mut self, delay: std::time::Duration) -> Self {
        self.cfg.batch_delay = delay;
        self
    }

    /// With [`Idle::Backoff`] (the default), how often at most the consumer looks at the
    /// rings while they hold nothing to take (default 10 µs). Each look reads every
    /// producer's ring index, and a producer that commits right after such a read first has
    /// to fetch that cache line back from the consumer's core: polled continuously, that
    /// costs the producer's slowest calls (measured with `benches/compare`: p99 of a call
    /// 150-190 ns polling continuously, 60-80 ns at 10 µs). Records then reach the consumer
    /// up to this much later; `flush()` and shutdown do not wait for it. Zero looks again at
    /// once. [`Idle::BusySpin`] always looks again at once.
    pub fn poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.cfg.poll_interval = interval;
        self
    }

    /// Run-time level filter directives, e.g. `info,my_crate::noisy=warn,my_crate::hot=off`
    /// (see [`Filter`](crate::Filter)). Without this, `start()` reads the `TAPELOG`
    /// environment variable; without either, everything compiled in is enabled. Change them
    /// later with [`set_filter`](crate::set_filter).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.cfg.filter = Some(directives.into());
        self
    }

    /// How long dropping the [`Guard`] waits for the consumer to drain and finalize (default
    /// 10 s). If the consumer is stuck (a hung disk, say), the drop returns after this long,
    /// prints what could not be written to stderr, and leaves it in
    /// [`stats()`](crate::stats) (`last_error`, `total.unwritten_at_shutdown`).
    pub fn shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.cfg.shutdown_timeout = timeout;
        self
    }

    /// Adds a text output: the console ([`TextOutput::Stderr`](crate::TextOutput::Stderr),
    /// [`Stdout`](crate::TextOutput::Stdout)) or a plain file. Lines are formatted on the
    /// consumer thread, never on the caller, in the layout of `tapelog cat`, and written by a
    /// thread of the output's own behind a bounded queue: an output that cannot keep up
    /// loses lines (counted in [`stats()`](crate::stats)`.text`), never segment records.
    /// May be called more than once.
    pub fn text_output(mut self, output: crate::TextOutput) -> Self {
        self.cfg.text.push(output);
        self
    }

    /// Streams every record, still unformatted, to a collector (`tapelog serve`), next to
    /// the segments or (with [`segments(false)`](Self::segments)) on its own. Network I/O
    /// runs on a thread of its own behind a bounded send buffer: a slow or absent collector
    /// costs dropped records, counted and reported to the collector as gap markers, never a
    /// stalled consumer or caller. Counters are in [`stats()`](crate::stats)`.network`.
    pub fn network(mut self, net: crate::net::Network) -> Self {
        self.cfg.network = Some(net);
        self
    }

    /// Adds a named output that gets the records its route picks, next to the main
    /// segments and unnamed text outputs, which get everything. See [`Output`](crate::Output).
    pub fn output(mut self, output: crate::Output) -> Self {
        self.cfg.outputs.push(output);
        self
    }

    /// Adds a sink of the program's own (see [`Sink`](crate::Sink)), named `name` in
    /// [`stats()`](crate::stats)`.sinks`. It gets every record, decoded on the consumer
    /// thread, or on a thread of its own if it [may block](crate::Sink::may_block).
    pub fn sink(mut self, name: impl Into<String>, sink: impl crate::Sink) -> Self {
        let slot = SinkSlot(std::sync::Arc::new(std::sync::Mutex::new(Some(Box::new(sink)))));
        self.cfg.sinks.push((name.into(), slot));
        self
    }

    /// Bytes of records each sink that may block can have queued before its records are
    /// dropped (and counted); default 4 MiB.
    pub fn sink_queue_bytes(mut self, bytes: usize) -> Self {
        self.cfg.sink_queue_bytes = bytes;
        self
    }

    /// Whether to write binary segments (default `true`). With `false`, records go only to
    /// the text outputs and the network stream, and [`start()`](Self::start) needs at least
    /// one of those.
    pub fn segments(mut self, on: bool) -> Self {
        self.cfg.segments = on;
        self
    }

    /// Bytes of formatted lines each text output may queue before it drops lines (default
    /// 4 MiB; at least 128 KiB are used).
    pub fn text_queue_bytes(mut self, bytes: usize) -> Self {
        self.cfg.text_queue_bytes = bytes;
        self
    }

    /// Warn when a thread's ring holds at least `fill` (a share of its capacity, in (0, 1])
    /// when the consumer looks at it: the consumer writes a WARN record (thread `tapelog`:
    /// "ring of thread T (id N) is P% full: D of C bytes, high-water H bytes") at most once
    /// per `interval` per thread. The default is 80% and one second: a ring that keeps
    /// filling is how an overloaded consumer or a burst shows before records are dropped.
    pub fn capacity_warning(mut self, fill: f64, interval: std::time::Duration) -> Self {
        self.cfg.capacity_warning = Some(CapacityWarning { fill, interval });
        self
    }

    /// No capacity warnings.
    pub fn no_capacity_warning(mut self) -> Self {
        self.cfg.capacity_warning = None;
        self
    }

    /// Adds a key/value pair to every segment header (service name, version, host, …).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.cfg.metadata.push((key.into(), value.into()));
        self
    }

    #[cfg(test)]
    pub(crate) fn into_config(self) -> Config {
        self.cfg
    }

    /// Checks every setting against the others (and the `TAPELOG` variable, without
    /// [`filter`](Self::filter)), and returns them with the level filter they ask for.
    /// Nothing is opened or started.
    pub(crate) fn validate(self) -> Result<(Config, Option<Filter>), StartError> {
        let cfg = self.cfg;
        if let Some(fr) = &cfg.flight_recorder {
            fr.check().map_err(StartError::Config)?;
        }
        if !(MIN_RING_CAPACITY..=MAX_RING_CAPACITY).contains(&cfg.ring_capacity) {
            return Err(StartError::Config(format!(
                "ring_capacity {} is outside {}..={}",
                cfg.ring_capacity, MIN_RING_CAPACITY, MAX_RING_CAPACITY
            )));
        }
        if cfg.segment_size < cfg.ring_capacity + SEGMENT_HEADROOM {
            return Err(StartError::Config(format!(
                "segment_size {} must be at least ring_capacity {} + {} bytes of headroom",
                cfg.segment_size, cfg.ring_capacity, SEGMENT_HEADROOM
            )));
        }
        let directives = cfg.filter.clone().or_else(|| std::env::var("TAPELOG").ok());
        let filter = match &directives {
            Some(d) => Some(d.parse::<Filter>().map_err(|e| {
                let from = if cfg.filter.is_some() { "Builder::filter" } else { "TAPELOG" };
                StartError::Config(format!("{from}: {e}"))
            })?),
            None => None,
        };
        if !cfg.segments && cfg.text.is_empty() && cfg.network.is_none() && cfg.outputs.is_empty() {
            return Err(StartError::Config(
                "segments(false) needs a text_output, an output or a network stream".into(),
            ));
        }
        if let Some(n) = &cfg.network {
            if n.send_buffer < crate::net::MIN_SEND_BUFFER {
                return Err(StartError::Config(format!(
                    "network send_buffer {} is below the minimum {}",
                    n.send_buffer,
                    crate::net::MIN_SEND_BUFFER
                )));
            }
            if let Some(t) = &n.token {
                if t.0.is_empty() || t.0.len() > crate::net::proto::MAX_TOKEN {
                    return Err(StartError::Config(format!(
                        "network token of {} bytes: it must hold 1 to {} bytes",
                        t.0.len(),
                        crate::net::proto::MAX_TOKEN
                    )));
                }
            }
            if n.send_buffer < 2 * cfg.ring_capacity {
                return Err(StartError::Config(format!(
                    "network send_buffer {} must be at least twice ring_capacity {}: one batch can hold a whole ring",
                    n.send_buffer, cfg.ring_capacity
                )));
            }
        }
        if let Some(w) = cfg.capacity_warning {
            if !(w.fill > 0.0 && w.fill <= 1.0) {
                return Err(StartError::Config(format!("capacity_warning fill {} is outside (0, 1]", w.fill)));
            }
        }
        if cfg.max_files == Some(0) {
            return Err(StartError::Config("max_files must be at least 1".into()));
        }
        if let Some(core) = cfg.consumer_core {
            let n = crate::os::cpu_count();
            if core >= n {
                return Err(StartError::Config(format!("consumer_core {core} does not exist (CPUs 0..{n})")));
            }
        }
        let mut names = std::collections::HashSet::new();
        for o in &cfg.outputs {
            if !names.insert(o.name.as_str()) {
                return Err(StartError::Config(format!("two outputs are named {:?}", o.name)));
            }
            if let OutputKind::Segments { segment_size: Some(n), .. } = &o.kind {
                if *n < cfg.ring_capacity + SEGMENT_HEADROOM {
                    return Err(StartError::Config(format!(
                        "output {:?}: segment_size {n} must be at least ring_capacity {} + {SEGMENT_HEADROOM} bytes of headroom",
                        o.name, cfg.ring_capacity
                    )));
                }
            }
        }
        let segment_outputs = cfg.outputs.iter().filter(|o| matches!(o.kind, OutputKind::Segments { .. })).count();
        if segment_outputs > 64 {
            return Err(StartError::Config(format!("{segment_outputs} segment outputs; at most 64")));
        }
        let text_outputs =
            cfg.text.len() + cfg.outputs.iter().filter(|o| matches!(o.kind, OutputKind::Text(_))).count();
        if text_outputs > 64 {
            return Err(StartError::Config(format!("{text_outputs} text outputs; at most 64")));
        }
        Ok((cfg, filter))
    }
}

/// Why the logger could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// Another logger is running in this process.
    AlreadyRunning,
    /// `start()` was called on one of a logger's own threads (inside a [`Sink`](crate::Sink),
    /// say), which must never wait on a logger.
    InsideLogger,
    /// A setting is out of range.
    Config(String),
    /// The directory or first segment could not be created.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyRunning => f.write_str("a tapelog logger is already running in this process"),
            StartError::InsideLogger => f.write_str(
                "start() was called on one of tapelog's own threads (a sink, an output writer or the consumer); \
                 start the logger from a thread of the program's",
            ),
            StartError::Config(m) => write!(f, "invalid tapelog configuration: {m}"),
            StartError::Io { path, source } => write!(f, "cannot write logs to {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
