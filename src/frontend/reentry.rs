//! Logging from inside the logger: what a call does when it is re-entered, or made on one of
//! tapelog's own threads.
//!
//! Three promises, each with its mechanism here:
//!
//! - **A call interrupted by a signal handler that logs on the same thread never interleaves
//!   with it.** A call marks its thread busy ([`Busy`]) for as long as it may hold a
//!   reserved, half-written record or a lock (registration, attach); a call that finds the
//!   mark set is the nested one, and is dropped and counted ([`REENTRANT_DROPS`]) without
//!   touching anything the outer call uses. The mark is a relaxed atomic on the thread's own
//!   `Hot` block, so the nested call's whole path (a thread-local load, a relaxed
//!   `fetch_add`) is async-signal-safe.
//! - **A call on the consumer thread never waits on a ring only that thread drains.** It
//!   does not use a ring at all: the record goes into the consumer's own stream
//!   ([`OwnStream`], bounded; when full the record is dropped and counted), which the
//!   consumer writes after each pass like any thread's batch.
//! - **A call on another thread of the logger's** (text and syslog writers, the network
//!   thread, sink threads, the segment helper) uses a ring as usual but never blocks on it:
//!   those threads' rings are always in drop mode. The consumer never waits on them except,
//!   bounded, at shutdown.
//!
//! Records that a sink logs are tagged with the sink ([`origin`]); the consumer hands them
//! to every output but that sink, so a sink never sees its own records.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};
use std::sync::Arc;

use crate::counters::ThreadShared;

/// Calls dropped because they interrupted a call on the same thread (a signal handler
/// that logs). Counted in `stats()`'s totals as logged and dropped.
pub(crate) static REENTRANT_DROPS: AtomicU64 = AtomicU64::new(0);

/// What a thread is to the logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A thread of the program's: its calls use its ring with the configured overflow policy.
    Program,
    /// The consumer: its calls go to its own stream.
    Consumer,
    /// Another thread of the logger's: its ring is always in drop mode.
    Owned,
}

thread_local! {
    static ROLE: Cell<Role> = const { Cell::new(Role::Program) };
    /// The sink (1-based, in configuration order) whose code runs on this thread now; 0 for
    /// none.
    static ORIGIN: Cell<u32> = const { Cell::new(0) };
    static OWN: RefCell<OwnStream> = const { RefCell::new(OwnStream::new()) };
}

/// This thread's role (a thread whose thread-locals are gone counts as the program's).
pub(crate) fn role() -> Role {
    ROLE.try_with(Cell::get).unwrap_or(Role::Program)
}

/// Whether this is one of the logger's own threads, where nothing may wait for the consumer.
pub(crate) fn on_logger_thread() -> bool {
    role() != Role::Program
}

/// Marks the calling thread as one of the logger's (not the consumer); `origin` is the sink
/// it runs, if it is a sink's thread (1-based), else 0.
pub(crate) fn mark_owned(origin: u32) {
    ROLE.set(Role::Owned);
    ORIGIN.set(origin);
}

/// The sink whose code runs on this thread now (1-based), or 0.
pub(crate) fn origin() -> u32 {
    ORIGIN.try_with(Cell::get).unwrap_or(0)
}

/// Runs `f` with this thread's records tagged as logged by sink `origin` (1-based).
pub(crate) fn with_origin<R>(origin: u32, f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            ORIGIN.set(self.0);
        }
    }
    let _restore = Restore(ORIGIN.replace(origin));
    f()
}

/// The "this thread is inside a log call" mark, held while a call may hold a half-written
/// record, a `RefCell` borrow or a lock. Cleared on drop, so a call that unwinds (a panic in
/// an `Arg` impl of the program's) leaves the thread able to log again.
pub(crate) struct Busy<'a>(&'a AtomicU64);

impl<'a> Busy<'a> {
    /// Sets the mark, or returns `None` if it was set: this call interrupted another on the
    /// same thread.
    #[inline(always)]
    pub(crate) fn enter(mark: &'a AtomicU64) -> Option<Busy<'a>> {
        if mark.load(Ordering::Relaxed) != 0 {
            return None;
        }
        // A handler that runs between the load and the store completes its whole call
        // before this one starts touching anything: no interleaving.
        Some(Busy::set(mark))
    }

    /// Sets the mark, which the caller has just seen clear.
    ///
    /// Relaxed is enough: only this thread, and signal handlers running on it, read the
    /// mark, and they see this thread's own stores in program order once the compiler may
    /// not move them, which the `compiler_fence` forbids: nothing the call does to its ring
    /// is emitted before the mark is set, or after it is cleared.
    #[inline(always)]
    pub(crate) fn set(mark: &'a AtomicU64) -> Busy<'a> {
        mark.store(1, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        Busy(mark)
    }
}

impl Drop for Busy<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        compiler_fence(Ordering::SeqCst);
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Counts a call that interrupted another on its thread. Async-signal-safe: one lock-free
/// atomic add.
#[cold]
#[inline(never)]
pub(crate) fn reentrant_drop() {
    REENTRANT_DROPS.fetch_add(1, Ordering::Relaxed);
}

/// Records logged on the consumer thread, waiting for the consumer to write them after its
/// pass (`Consumer::write_own_calls`).
#[derive(Debug)]
pub(crate) struct OwnStream {
    /// Records back to back, in the ring layout.
    pub bytes: Vec<u8>,
    /// `(end, origin)`: `bytes[previous end..end]` was logged while sink `origin` ran (0: no
    /// sink).
    pub runs: Vec<(usize, u32)>,
    /// The stream's counters (`logged`, `dropped` are this thread's to write); `None`
    /// before the consumer started it and after it closed it.
    counters: Option<Arc<ThreadShared>>,
    /// Most bytes held between two takes.
    limit: usize,
    logged: u64,
    dropped: u64,
}

impl OwnStream {
    const fn new() -> Self {
        OwnStream { bytes: Vec::new(), runs: Vec::new(), counters: None, limit: 0, logged: 0, dropped: 0 }
    }

    /// Appends one record of `len` bytes, written by `write` into the slice it is given.
    fn push(&mut self, len: usize, write: impl FnOnce(&mut [u8])) -> bool {
        let Some(c) = &self.counters else { return false };
        self.logged += 1;
        c.producer.logged.store(self.logged, Ordering::Relaxed);
        if self.bytes.len() + len > self.limit {
            self.dropped += 1;
            c.producer.dropped.store(self.dropped, Ordering::Relaxed);
            return true;
        }
        let start = self.bytes.len();
        self.bytes.resize(start + len, 0);
        write(&mut self.bytes[start..]);
        let origin = origin();
        match self.runs.last_mut() {
            Some((end, o)) if *o == origin => *end = self.bytes.len(),
            _ => self.runs.push((self.bytes.len(), origin)),
        }
        true
    }
}

/// Makes the calling thread the consumer, whose log calls go to its own stream, counted in
/// `counters` and holding at most `limit` bytes between two takes.
pub(crate) fn start_consumer(counters: Arc<ThreadShared>, limit: usize) {
    ROLE.set(Role::Consumer);
    OWN.with_borrow_mut(|o| {
        *o = OwnStream::new();
        o.counters = Some(counters);
        o.limit = limit;
    });
}

/// Stops the consumer's own stream: later calls on this thread are dropped and counted.
pub(crate) fn close_consumer() {
    let _ = OWN.try_with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            o.counters = None;
        }
    });
}

/// Hands the records logged on the consumer thread since the last take to the caller,
/// swapping in the caller's (emptied) buffers so steady state allocates nothing.
pub(crate) fn take_own(bytes: &mut Vec<u8>, runs: &mut Vec<(usize, u32)>) {
    bytes.clear();
    runs.clear();
    let _ = OWN.try_with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            std::mem::swap(&mut o.bytes, bytes);
            std::mem::swap(&mut o.runs, runs);
        }
    });
}

/// Writes one record logged on the consumer thread into its own stream; false if there is
/// none (not started, closed, or re-entered), and the caller counts the call.
pub(crate) fn push_own(len: usize, write: impl FnOnce(&mut [u8])) -> bool {
    OWN.try_with(|o| match o.try_borrow_mut() {
        Ok(mut o) => o.push(len, write),
        Err(_) => false,
    })
    .unwrap_or(false)
}
