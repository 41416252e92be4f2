//! The live counters: plain atomics that the side doing the work writes (a producer thread,
//! the consumer, an output's own thread) and that `stats()`, `health()` and `flush()` read.
//!
//! Owns the counter structs and nothing else: it imports nothing of the runtime, so the
//! state every side shares (`shared`), the hot path, the consumer and its outputs can all
//! name them without importing one another. How they are read into the public snapshot is
//! `stats`; who writes which is said at each struct.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Counters and identity of one producer thread.
#[derive(Debug)]
pub(crate) struct ThreadShared {
    pub id: u32,
    pub os_tid: u64,
    pub name: String,
    pub capacity: usize,
    /// The sink (1-based, in configuration order) that runs on this thread, whose records
    /// the consumer must not hand back to it; 0 for none.
    pub origin: u32,
    pub producer: ProducerCounters,
    pub consumer: ConsumerCounters,
}

/// Written only by the producer thread (plain load+store, no read-modify-write), read by
/// anyone with Relaxed: they are statistics, and exactness is only promised once the
/// consumer has observed the records they count (after `flush()` or shutdown), which the
/// ring's Release/Acquire and the flush handshake order.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct ProducerCounters {
    pub logged: AtomicU64,
    pub dropped: AtomicU64,
    pub blocked: AtomicU64,
    /// Ticks of the first and last drop of the current gap (for the final drop report).
    pub gap_first: AtomicU64,
    pub gap_last: AtomicU64,
}

/// Written only by the consumer thread.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct ConsumerCounters {
    pub written: AtomicU64,
    /// Records the flight recorder took instead of writing them (written later by a dump,
    /// or evicted, or still held: see `RecorderCounters`).
    pub kept: AtomicU64,
    /// Records the consumer could not store (no segment could be opened).
    pub lost: AtomicU64,
    pub depth: AtomicU64,
    pub high_water: AtomicU64,
    /// Set (Release) once the consumer has taken its last look at the ring: anything logged
    /// into it afterwards will never be written, and stats count it as dropped.
    pub closed: AtomicBool,
    /// The thread exited (its ring was abandoned and drained).
    pub exited: AtomicBool,
}

impl ThreadShared {
    pub fn new(id: u32, os_tid: u64, name: String, capacity: usize) -> Self {
        ThreadShared {
            id,
            os_tid,
            name,
            capacity,
            origin: 0,
            producer: ProducerCounters::default(),
            consumer: ConsumerCounters::default(),
        }
    }
}

/// Consumer-wide totals.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub bytes_written: AtomicU64,
    pub segments: AtomicU64,
    pub batches: AtomicU64,
    pub io_errors: AtomicU64,
    pub unwritten_at_shutdown: AtomicU64,
    /// Threads that got a smaller ring than configured, or none, under the ring memory
    /// budget (written by producers as they attach, read by the consumer to report them).
    pub rings_shrunk: AtomicU64,
    pub rings_refused: AtomicU64,
}

/// Counters of the flight recorder. Written by the consumer only, read with Relaxed by
/// `stats()`: statistics, exact once a flush or shutdown has been served (the flush
/// handshake orders them). `kept == dumped + evicted + held` whenever the consumer is
/// between passes.
#[derive(Debug, Default)]
pub(crate) struct RecorderCounters {
    pub kept: AtomicU64,
    pub dumped: AtomicU64,
    pub evicted: AtomicU64,
    pub held: AtomicU64,
    pub held_bytes: AtomicU64,
    pub max_held_bytes: AtomicU64,
    pub dumps: AtomicU64,
}

/// Counters of one routed output, for `stats().outputs`. Written by the consumer only, read
/// with Relaxed by `stats()`: statistics, final once shutdown has joined the consumer.
#[derive(Debug, Default)]
pub(crate) struct OutputCounters {
    pub name: String,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

/// Counters of one sink. Relaxed everywhere but `newly_disabled`: statistics, final once
/// shutdown has joined the threads that write them.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub name: String,
    pub records: AtomicU64,
    pub dropped: AtomicU64,
    /// Records the sink logged itself, not handed back to it.
    pub own: AtomicU64,
    pub panics: AtomicU64,
    /// Set when it panicked; the consumer reports it once.
    pub newly_disabled: AtomicBool,
    pub disabled: Mutex<Option<String>>,
}

impl SinkCounters {
    pub fn disable(&self, why: String) {
        self.panics.fetch_add(1, Ordering::Relaxed);
        *self.disabled.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        // Release: whoever sees the flag (Acquire) sees the reason.
        self.newly_disabled.store(true, Ordering::Release);
    }

    /// Why the sink was disabled, if that happened since the last call (each reported once).
    pub fn take_disabled(&self) -> Option<String> {
        // Acquire pairs with `disable`'s Release: the reason is there.
        if !self.newly_disabled.swap(false, Ordering::Acquire) {
            return None;
        }
        Some(self.disabled.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default())
    }
}

/// Counters of one text output, shared by its writer thread with `stats()` and `flush()`.
#[derive(Debug)]
pub(crate) struct TextCounters {
    pub name: String,
    /// Lines (or messages) and bytes written to the destination (bytes of whole chunks
    /// only).
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    /// Lines given up: the queue was full, the destination failed, or shutdown timed out.
    pub dropped: AtomicU64,
    /// Chunks that lost lines: failed writes, sends, or connection attempts.
    pub errors: AtomicU64,
    /// Lines of every chunk the writer finished, written or failed.
    pub finished_lines: AtomicU64,
    /// Sequence number of the last chunk the writer finished (written or failed).
    done: Mutex<u64>,
    done_cv: Condvar,
    /// The chunk `flush()` waits for: the last one handed over by the flushing pass.
    pub flush_target: AtomicU64,
}

impl TextCounters {
    pub fn new(name: String) -> Self {
        TextCounters {
            name,
            lines: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            finished_lines: AtomicU64::new(0),
            done: Mutex::new(0),
            done_cv: Condvar::new(),
            flush_target: AtomicU64::new(0),
        }
    }

    /// Waits until chunk `seq` is finished or `deadline` passes; true if finished.
    pub fn wait_done(&self, seq: u64, deadline: Instant) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        while *done < seq {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            done = self.done_cv.wait_timeout(done, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// The writer finished chunk `seq`: wakes whoever waits for it.
    pub fn finish(&self, seq: u64) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner()) = seq;
        self.done_cv.notify_all();
    }
}

/// Counters of the network sink, written by the consumer (`queued`, `dropped`, `gaps`) and
/// the net thread (the rest). All Relaxed: they are statistics; `delivered` and `dropped`
/// become exact once the sink is closed, which the join orders.
#[derive(Debug, Default)]
pub(crate) struct NetCounters {
    pub peer: String,
    pub capacity: u64,
    pub connected: AtomicBool,
    pub connects: AtomicU64,
    pub disconnects: AtomicU64,
    pub rejections: AtomicU64,
    pub records_queued: AtomicU64,
    pub records_delivered: AtomicU64,
    pub records_dropped: AtomicU64,
    pub gap_markers: AtomicU64,
    pub lost_at_shutdown: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub buffered: AtomicU64,
    pub high_water: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl NetCounters {
    pub fn set_error(&self, e: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}
