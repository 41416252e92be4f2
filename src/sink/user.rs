//! Sinks of the program's own: [`Sink`], given decoded records (or raw batches) by tapelog.
//!
//! A sink runs on the consumer thread, or, if it says it [may block](Sink::may_block), on a
//! thread of its own behind a bounded queue: a sink that blocks then costs its own records
//! (dropped and counted), never the segments or a caller. A sink that panics is caught,
//! disabled, and the reason recorded (in [`stats()`](crate::stats)`.sinks` and as an ERROR
//! record of the consumer's own stream); the other sinks go on.
//!
//! The built-in outputs are not `Sink`s: the segment writer copies records without decoding
//! them (decoding each record for it would cost the consumer most of its throughput), and
//! the text, syslog and network outputs share one decoding and formatting pass per record
//! with the user sinks instead of each doing its own. A text sink of the program's own is
//! one method, [`Sink::line`], and gets the very lines the text outputs print.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::counters::SinkCounters;
use crate::text::Value;
use crate::wire::record::Anchor;
use crate::Level;

/// A destination of the program's own for log records. Implement [`line`](Sink::line) for
/// text, [`record`](Sink::record) for typed values, or [`raw`](Sink::raw) (with
/// [`wants_raw`](Sink::wants_raw)) for the binary records as they are.
///
/// A sink may log (directly, or through a library that logs via the `log` bridge). What it
/// logs is never handed back to it (no feedback loop): it reaches the segments and every
/// other output, and is counted in [`SinkStats::own`](crate::SinkStats::own). Such a call
/// never waits, whatever the overflow policy: on the consumer thread it goes to the
/// consumer's own stream, on a sink's own thread to a ring in drop mode; when there is no
/// room it is dropped and counted. Inside a sink, [`flush()`](crate::flush) returns at once,
/// [`Builder::start`](crate::Builder::start) is an error, and dropping the
/// [`Guard`](crate::Guard) stops the logger without waiting for it. What a sink logs in
/// [`close`](Sink::close) comes after the last write and is counted as dropped.
///
/// ```
/// struct Collect(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
/// impl tapelog::Sink for Collect {
///     fn line(&mut self, line: &str) {
///         self.0.lock().unwrap().push(line.to_string());
///     }
/// }
/// let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// let dir = std::env::temp_dir().join(format!("tapelog-doc-sink-{}", std::process::id()));
/// let guard = tapelog::Builder::new().dir(&dir).sink("collect", Collect(lines.clone())).start()?;
/// tapelog::info!("filled {} @ {}", 100u32, 101.25f64);
/// tapelog::flush(); // the sink has the line now
/// assert!(lines.lock().unwrap()[0].ends_with("filled 100 @ 101.25"));
/// drop(guard);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tapelog::StartError>(())
/// ```
pub trait Sink: Send + 'static {
    /// One record, decoded. The default hands its text line to [`line`](Sink::line).
    fn record(&mut self, record: &Record<'_>) {
        self.line(record.text());
    }

    /// One record as a text line, exactly as `tapelog cat` prints it (no newline).
    fn line(&mut self, line: &str) {
        let _ = line;
    }

    /// Whether the sink takes the raw binary records ([`raw`](Sink::raw)) instead of
    /// decoded ones. Asked once, at start.
    fn wants_raw(&self) -> bool {
        false
    }

    /// A batch of one thread's records as they are in its ring and in the segments
    /// (`docs/FORMAT.md`, "Records"), for sinks that forward them.
    fn raw(&mut self, batch: &RawBatch<'_>) {
        let _ = batch;
    }

    /// The end of a batch of records: a good moment to send what was gathered.
    fn end_batch(&mut self) {}

    /// Whether the sink may block (network or disk I/O). Such a sink runs on a thread of its
    /// own with a bounded queue ([`Builder::sink_queue_bytes`](crate::Builder::sink_queue_bytes));
    /// when the queue is full its records are dropped and counted. Asked once, at start.
    fn may_block(&self) -> bool {
        false
    }

    /// Called at shutdown, after the last record.
    fn close(&mut self) {}
}

/// A record given to [`Sink::record`], decoded on the consumer thread (or the sink's own).
#[derive(Debug)]
pub struct Record<'a> {
    /// Level.
    pub level: Level,
    /// Module path of the call site.
    pub target: &'static str,
    /// Source file and line of the call site.
    pub file: &'static str,
    /// Line of the call site.
    pub line: u32,
    /// The format string.
    pub format: &'static str,
    /// Name of the thread that logged it (`thread-N` if unnamed).
    pub thread: &'a str,
    /// tapelog's id of that thread.
    pub thread_id: u32,
    /// When it was logged, Unix nanoseconds.
    pub unix_ns: i128,
    /// The argument values, typed: the message's, then the key-value fields'.
    pub values: &'a [Value<'a>],
    /// Names of the key-value fields (the last `field_names.len()` values).
    pub field_names: &'static [&'static str],
    pub(crate) text: &'a str,
    pub(crate) message: &'a str,
}

impl<'a> Record<'a> {
    /// The whole line as `tapelog cat` prints it.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The message: the format string with its arguments, as `format!` would make it.
    pub fn message(&self) -> &'a str {
        self.message
    }

    /// The key-value fields.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Value<'a>)> {
        let first = self.values.len().saturating_sub(self.field_names.len());
        self.field_names.iter().copied().zip(self.values[first..].iter())
    }

    /// The record as one JSON object (the layout of `tapelog cat --json`): `ts` (Unix ns),
    /// `level`, `thread`, `thread_id`, `target`, `file`, `line`, `msg`, `fields`.
    pub fn to_json(&self) -> String {
        let mut fields = serde_json::Map::new();
        for (k, v) in self.fields() {
            fields.insert(k.to_string(), value_json(v));
        }
        serde_json::json!({
            "ts": self.unix_ns as i64,
            "level": self.level.as_str(),
            "thread": self.thread,
            "thread_id": self.thread_id,
            "target": self.target,
            "file": self.file,
            "line": self.line,
            "msg": self.message,
            "fields": fields,
        })
        .to_string()
    }
}

/// A value as JSON: numbers, strings and booleans as themselves, `None` as null, serde
/// values as their structure.
pub fn value_json(v: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::U8(x) => J::from(*x),
        Value::U16(x) => J::from(*x),
        Value::U32(x) => J::from(*x),
        Value::U64(x) | Value::Usize(x) => J::from(*x),
        Value::I8(x) => J::from(*x),
        Value::I16(x) => J::from(*x),
        Value::I32(x) => J::from(*x),
        Value::I64(x) | Value::Isize(x) => J::from(*x),
        Value::U128(x) => J::from(x.to_string()),
        Value::I128(x) => J::from(x.to_string()),
        Value::F32(x) => J::from(*x),
        Value::F64(x) => J::from(*x),
        Value::Bool(x) => J::from(*x),
        Value::Char(x) => J::from(x.to_string()),
        Value::Str(s) => J::from(*s),
        Value::Bytes(b) => J::from(b.to_vec()),
        Value::None => J::Null,
        Value::Some(x) => value_json(x),
        Value::Structured(s) => serde_json::from_str(&s.to_json().to_string()).unwrap_or(J::Null),
    }
}

/// Raw records of one thread, for [`Sink::raw`].
#[derive(Debug)]
pub struct RawBatch<'a> {
    /// tapelog's id of the thread.
    pub thread_id: u32,
    /// Its name.
    pub thread: &'a str,
    /// A full tick value near the records' (their ticks carry the low 48 bits).
    pub base_ticks: u64,
    /// Ticks to Unix time: `unix_ns = anchor_unix_ns + (ticks - anchor_ticks) / ticks_per_sec`.
    pub anchor_ticks: u64,
    /// See `anchor_ticks`.
    pub anchor_unix_ns: u64,
    /// See `anchor_ticks`.
    pub ticks_per_sec: f64,
    /// The records, back to back.
    pub bytes: &'a [u8],
}

/// A user sink with its state, on whichever thread runs it.
pub(crate) struct Guarded {
    pub sink: Box<dyn Sink>,
    pub counters: Arc<SinkCounters>,
    pub disabled: bool,
    pub raw: bool,
    /// The sink's number (1-based, in configuration order): what its own records are
    /// tagged with, so they are not handed back to it.
    pub origin: u32,
}

impl Guarded {
    pub fn new(name: String, sink: Box<dyn Sink>, origin: u32) -> Guarded {
        let raw = sink.wants_raw();
        let counters = Arc::new(SinkCounters { name, ..Default::default() });
        Guarded { sink, counters, disabled: false, raw, origin }
    }

    /// Runs `f` on the sink unless it is disabled; a panic disables it. What the sink logs
    /// meanwhile is tagged as its own.
    pub fn call(&mut self, f: impl FnOnce(&mut dyn Sink)) {
        if self.disabled {
            return;
        }
        let sink = &mut *self.sink;
        let done = crate::frontend::reentry::with_origin(self.origin, || catch_unwind(AssertUnwindSafe(|| f(sink))));
        if let Err(p) = done {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            self.disabled = true;
            self.counters.disable(msg);
        }
    }
}

/// One batch for a sink on its own thread: the raw records and what decoding them needs.
pub(crate) struct Chunk {
    pub thread: Arc<str>,
    pub thread_id: u32,
    pub base: u64,
    pub anchor: Anchor,
    pub bytes: Vec<u8>,
}

/// The consumer's handle on a sink that runs on its own thread.
pub(crate) struct Worker {
    tx: Option<mpsc::SyncSender<(Chunk, u64)>>,
    pub counters: Arc<SinkCounters>,
    /// The sink's number (see [`Guarded::origin`]).
    pub origin: u32,
    queued: Arc<AtomicUsize>,
    queued_records: Arc<AtomicU64>,
    limit: usize,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread: `run` gets each chunk, then `None` when the queue closes.
    pub fn start(
        counters: Arc<SinkCounters>,
        origin: u32,
        limit: usize,
        mut run: impl FnMut(Option<Chunk>) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let queued = Arc::new(AtomicUsize::new(0));
        let queued_records = Arc::new(AtomicU64::new(0));
        // The byte budget is the real bound; the slot count only caps tiny chunks.
        let (tx, rx) = mpsc::sync_channel::<(Chunk, u64)>(4096);
        let (q, qr) = (queued.clone(), queued_records.clone());
        let thread = std::thread::Builder::new().name(format!("tapelog-sink-{}", counters.name)).spawn(move || {
            crate::frontend::reentry::mark_owned(origin);
            while let Ok((c, records)) = rx.recv() {
                let n = c.bytes.len();
                run(Some(c));
                q.fetch_sub(n, Ordering::Relaxed);
                qr.fetch_sub(records, Ordering::Relaxed);
            }
            run(None);
        })?;
        Ok(Worker { tx: Some(tx), counters, origin, queued, queued_records, limit, thread: Some(thread) })
    }

    /// Queues a chunk of `records` records, or drops and counts it if the queue is full.
    pub fn send(&self, c: Chunk, records: u64) {
        let n = c.bytes.len();
        // Relaxed: a budget, not a synchronization; being off by one chunk is fine.
        let over = self.queued.load(Ordering::Relaxed) + n > self.limit;
        let sent = !over
            && self.tx.as_ref().is_some_and(|tx| {
                self.queued.fetch_add(n, Ordering::Relaxed);
                self.queued_records.fetch_add(records, Ordering::Relaxed);
                match tx.try_send((c, records)) {
                    Ok(()) => true,
                    Err(_) => {
                        self.queued.fetch_sub(n, Ordering::Relaxed);
                        self.queued_records.fetch_sub(records, Ordering::Relaxed);
                        false
                    }
                }
            });
        if !sent {
            self.counters.dropped.fetch_add(records, Ordering::Relaxed);
        }
    }

    /// Stops the thread once it has taken what is queued, waiting until `deadline` at most;
    /// what it did not take by then is counted as dropped.
    pub fn close(&mut self, deadline: Instant) {
        self.tx = None;
        let Some(t) = self.thread.take() else { return };
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            // Left to finish on its own (shutdown must not hang on a sink that blocks
            // forever); what it had not taken counts as dropped.
            let left = self.queued_records.swap(0, Ordering::Relaxed);
            self.counters.dropped.fetch_add(left, Ordering::Relaxed);
        }
    }
}

/// Call sites by id, from the process-wide registry: what a sink's own thread needs to
/// take records apart.
#[derive(Default)]
pub(crate) struct SiteCache {
    sites: Vec<Option<CachedSite>>,
    known: usize,
}

type CachedSite = (&'static crate::frontend::callsite::Callsite, &'static [u8], Option<usize>);

impl SiteCache {
    pub fn get(&mut self, id: u32) -> Option<CachedSite> {
        let i = id as usize;
        if self.sites.get(i).is_none_or(|s| s.is_none()) {
            let mut fresh = Vec::new();
            crate::frontend::callsite::registered_since(self.known, &mut fresh);
            for r in fresh {
                self.known += 1;
                let id = self.known;
                if self.sites.len() <= id {
                    self.sites.resize_with(id + 1, || None);
                }
                let static_len = crate::wire::record::static_args_len(r.kinds);
                self.sites[id] = Some((r.cs, r.kinds, static_len));
            }
        }
        *self.sites.get(i)?
    }
}
