//! State shared between producers, the consumer, and the control API (`flush`, `stats`).
//!
//! Owns the running logger's state ([`Shared`]: its settings, the ring handover, the flush
//! barrier, the list of threads and the counters of its outputs) and the process-wide slots
//! that name it (`CURRENT`, `GENERATION`). It imports only the settings (`config`), the
//! counters (`counters`), the ring lease (`ring`) and the synchronization it is built of
//! (`sync`): never the consumer, its outputs or the hot path, which all import it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use crate::config::Config;
use crate::counters::{
    NetCounters, OutputCounters, RecorderCounters, SinkCounters, TextCounters, ThreadShared, Totals,
};
use crate::sync::flush::{FlushBarrier, Served};
use crate::sync::handover::Handover;

/// Generation of the running logger; 0 when none runs. Producers compare it with the
/// generation their ring belongs to on every call (a relaxed load: a stale value only means a
/// record goes to a ring the consumer is about to close, which `ThreadShared::closed`
/// accounts for as dropped).
///
/// It has a cache line (pair) to itself: every call loads it, so a static that the linker
/// happened to place beside it and that some thread writes would make every call miss.
/// Before it had, the consumer's per-pass swap of `signals::PENDING_SIGNAL`, 16 bytes away,
/// did exactly that.
pub(crate) static GENERATION: OwnLine<AtomicU64> = OwnLine(AtomicU64::new(0));

/// A value alone on its cache line and the adjacent one (which x86 cores prefetch in pairs).
#[repr(align(128))]
pub(crate) struct OwnLine<T>(pub T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The running logger, or the last one (so `stats()` still answers after shutdown).
/// Locked only on slow paths: thread attach, start, shutdown, stats.
pub(crate) static CURRENT: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

/// Records logged while no logger ran (before `start()`, after shutdown, or from a thread
/// whose thread-locals were already destroyed).
pub(crate) static NO_LOGGER_DROPS: AtomicU64 = AtomicU64::new(0);

/// Records logged by threads that the ring memory budget gave no ring.
pub(crate) static NO_RING_DROPS: AtomicU64 = AtomicU64::new(0);

/// A thread's ring handed to the consumer.
pub(crate) struct NewThread {
    pub ring: rtrb::Consumer<u8>,
    pub shared: Arc<ThreadShared>,
    /// The ring's bytes out of the budget; shared with the producer's half, so it returns
    /// when the last half (and so the memory) is freed.
    pub lease: Arc<crate::ring::Lease>,
}

/// One running logger.
pub(crate) struct Shared {
    pub generation: u64,
    pub config: Config,
    /// Rings handed to the consumer; closed at shutdown, after which no thread attaches.
    pub handover: Handover<NewThread>,
    /// Every thread that attached, for `stats()`.
    pub threads: Mutex<Vec<Arc<ThreadShared>>>,
    /// Flush tickets, and whether the consumer still serves them.
    pub flush: FlushBarrier,
    pub shutdown: AtomicBool,
    pub consumer_thread: OnceLock<Thread>,
    pub totals: Totals,
    pub last_error: Mutex<Option<String>>,
    /// Test hook: while set, the consumer takes nothing from the rings.
    pub paused: AtomicBool,
    /// Test hook: like `paused`, but also ignores shutdown (a consumer stuck on I/O).
    pub stalled: AtomicBool,
    /// Counters of the text outputs, in configuration order.
    pub text: Vec<Arc<TextCounters>>,
    /// Counters of the network stream, once it runs.
    pub net: OnceLock<Arc<NetCounters>>,
    /// Counters of the named segment outputs, once they run.
    pub outputs: OnceLock<Vec<Arc<OutputCounters>>>,
    /// Counters of the program's sinks, in configuration order.
    pub sinks: Vec<Arc<SinkCounters>>,
    /// The flight recorder's counters (all zero without one).
    pub recorder: RecorderCounters,
    /// Reasons of `dump_flight_recorder` calls the consumer has not served yet.
    pub dump_requests: Mutex<Vec<String>>,
    /// Set (Release) after a reason is pushed to `dump_requests`; the consumer swaps it
    /// (Acquire) once a pass, so the common pass reads one flag and takes no lock.
    pub dump_pending: AtomicBool,
}

impl Shared {
    pub fn new(generation: u64, config: Config, text: Vec<Arc<TextCounters>>) -> Self {
        Shared {
            generation,
            config,
            handover: Handover::new(),
            threads: Mutex::new(Vec::new()),
            flush: FlushBarrier::new(),
            shutdown: AtomicBool::new(false),
            consumer_thread: OnceLock::new(),
            totals: Totals::default(),
            last_error: Mutex::new(None),
            paused: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            text,
            net: OnceLock::new(),
            sinks: Vec::new(),
            outputs: OnceLock::new(),
            recorder: RecorderCounters::default(),
            dump_requests: Mutex::new(Vec::new()),
            dump_pending: AtomicBool::new(false),
        }
    }

    /// Asks the consumer to write out every record its flight recorder keeps, at its next
    /// pass (a flush request after this call is served after the dump).
    pub fn request_dump(&self, reason: String) {
        self.dump_requests.lock().unwrap_or_else(|p| p.into_inner()).push(reason);
        // Release: the consumer that sees the flag (Acquire swap) finds the reason pushed.
        self.dump_pending.store(true, Ordering::Release);
    }

    /// The dump requests made since the last call (consumer only).
    pub fn take_dump_requests(&self) -> Vec<String> {
        // Acquire pairs with `request_dump`'s Release. The flag is read first so that a
        // pass without requests takes no lock.
        if !self.dump_pending.load(Ordering::Relaxed) || !self.dump_pending.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.dump_requests.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Wakes the consumer if it sleeps.
    pub fn wake_consumer(&self) {
        if let Some(t) = self.consumer_thread.get() {
            t.unpark();
        }
    }

    /// Requests a flush and waits until the consumer has written (and, if configured, synced)
    /// everything logged before the request, then until the text outputs have written it.
    pub fn flush(&self) {
        let ticket = self.flush.request();
        self.wake_consumer();
        if self.flush.wait(ticket, || self.wake_consumer()) == Served::Yes && !self.text.is_empty() {
            // The flushing pass handed every line to the text writers; wait until they have
            // written them (bounded: a stuck terminal must not hang the caller forever).
            let deadline = std::time::Instant::now() + self.config.shutdown_timeout;
            for t in &self.text {
                // Relaxed is enough: the consumer stored the target before serving the
                // ticket (a Release), which `wait` observed with an Acquire.
                t.wait_done(t.flush_target.load(Ordering::Relaxed), deadline);
            }
        }
    }

    pub fn set_error(&self, e: String) {
        self.totals.io_errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// The current (or most recent) logger.
pub(crate) fn current() -> Option<Arc<Shared>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
