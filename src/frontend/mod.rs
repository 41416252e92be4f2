//! The hot path: what a log call does on the calling thread.
//!
//! A call loads its call-site id, checks that its thread's ring belongs to the running
//! logger, reserves `10 + args` bytes in the thread's own `rtrb` ring, reads the tick counter,
//! stores the id, ticks and raw argument bytes, and commits. No lock, no allocation, no
//! formatting, no system call. Everything else (first use of a call site, first call on a
//! thread, a full ring, a logger restart, a call on the consumer thread) is on `#[cold]`
//! paths. A call marks its thread busy while it works, so a call that interrupts it on the
//! same thread (a signal handler's) is dropped and counted instead of tearing its record:
//! see [`reentry`].

pub mod args;
pub mod callsite;
pub(crate) mod reentry;
pub mod sample;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use args::ArgList;
use callsite::Callsite;
use reentry::{Busy, Role};

use crate::clock;
use crate::counters::ThreadShared;
use crate::policy::Overflow;
use crate::ring;
use crate::shared::{NewThread, CURRENT, GENERATION, NO_LOGGER_DROPS, NO_RING_DROPS};
use crate::wire::{DROP_MARKER_ID, DROP_MARKER_PAYLOAD, RECORD_HEADER_LEN};

/// Never equal to a running logger's generation (those start at 1) nor to "none" (0).
const DETACHED: u64 = u64::MAX;

/// Process-wide thread ids written into segments.
static NEXT_THREAD_ID: AtomicU32 = AtomicU32::new(1);

/// A fresh process-wide thread id.
pub(crate) fn next_thread_id() -> u32 {
    NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed)
}

/// The bit of `Hot::gap` that marks a thread of a logger in immediate mode
/// ([`Builder::immediate`](crate::Builder::immediate)): every call takes the slow path, which
/// writes the record and then waits until the consumer has written it. The hot path's one
/// check already sends any non-zero `gap` there, so the mode costs it nothing when off.
const IMMEDIATE: u64 = 1 << 63;

/// Drop-marker count owed, without the [`IMMEDIATE`] bit.
fn owed(h: &Hot) -> u64 {
    h.gap.get() & !IMMEDIATE
}

/// What the hot path reads: plain data with no destructor, so reaching it is one
/// `%fs`-relative address computation, with no lazy-initialization or destructor-state check.
struct Hot {
    /// Generation of the logger `producer` feeds, or `DETACHED`.
    /// Invariant: `generation != DETACHED` implies `producer` points at the live producer
    /// owned by this thread's [`Cold`].
    generation: Cell<u64>,
    producer: Cell<*mut rtrb::Producer<u8>>,
    /// Records dropped since the last in-band drop marker (the low 63 bits), and
    /// [`IMMEDIATE`]; non-zero sends calls to the slow path, which writes the marker first
    /// (and, in immediate mode, waits for the record to be written).
    gap: Cell<u64>,
    /// Log calls on this thread into the current ring (mirrored into `logged_cell`).
    logged: Cell<u64>,
    /// `ThreadShared::producer.logged` of the current ring; valid while attached (the Arc in
    /// `Cold` keeps it alive).
    logged_cell: Cell<*const AtomicU64>,
    /// Set while a call on this thread is under way (see [`reentry::Busy`]): a call that
    /// finds it set interrupted that one (a signal handler that logs) and is dropped.
    busy: AtomicU64,
}

impl Hot {
    const fn new() -> Self {
        Hot {
            generation: Cell::new(DETACHED),
            producer: Cell::new(core::ptr::null_mut()),
            gap: Cell::new(0),
            logged: Cell::new(0),
            logged_cell: Cell::new(core::ptr::null()),
            busy: AtomicU64::new(0),
        }
    }

    fn reset(&self) {
        self.generation.set(DETACHED);
        self.producer.set(core::ptr::null_mut());
        self.gap.set(0);
        self.logged.set(0);
        self.logged_cell.set(core::ptr::null());
    }
}

/// Owner of this thread's ring and everything only slow paths need. Its destructor runs at
/// thread exit: it detaches `Hot` first, then drops the producer, which tells the consumer
/// (through rtrb's abandon flag) to drain and free the ring.
struct Cold {
    /// From `Box::into_raw`; freed in `detach`. Only ever used through this raw pointer (and
    /// `Hot`'s copy of it), on this thread.
    producer: *mut rtrb::Producer<u8>,
    shared: Arc<ThreadShared>,
    overflow: Overflow,
    dropped: u64,
    gap_first: u64,
    gap_last: u64,
    /// Staging for records that wrap around the end of the ring; sized (and touched) at
    /// attach.
    scratch: Vec<u8>,
    /// The ring's bytes out of the budget (returned once the consumer's half is freed too).
    _lease: Arc<crate::ring::Lease>,
}

impl Drop for Cold {
    fn drop(&mut self) {
        let _ = HOT.try_with(Hot::reset);
        // SAFETY: `producer` came from Box::into_raw in `attach` and `Hot` no longer refers
        // to it.
        drop(unsafe { Box::from_raw(self.producer) });
    }
}

thread_local! {
    static HOT: Hot = const { Hot::new() };
    static COLD: RefCell<Option<Cold>> = const { RefCell::new(None) };
    /// The ring memory budget refused this thread a ring: (generation of that logger, ring
    /// size asked, budget). Until a ring could fit, calls are dropped without the lock.
    static REFUSED: Cell<(u64, usize, usize)> = const { Cell::new((0, 0, 0)) };
}

/// Logs one record through `cs`. Called by the macros.
#[inline(always)]
pub fn log<A: ArgList>(cs: &'static Callsite, args: A) {
    let state = cs.state();
    if (state as i32) > 0 {
        if cs.sampler.is_none_or(|s| s.keep()) {
            log_with_id(state, &args);
        }
    } else if state == 0 {
        log_first(cs, args);
    }
}

/// Logs through a call site whose state says it is registered and enabled (the macros have
/// already applied its sampler). Called by the macros.
#[inline(always)]
pub fn log_enabled<A: ArgList>(id: u32, args: A) {
    log_with_id(id, &args);
}

/// First use of a call site: registers it, then logs if the filter (and sampler) let it.
#[cold]
#[inline(never)]
pub fn log_first<A: ArgList>(cs: &'static Callsite, args: A) {
    // Registration takes the registry's lock: a signal handler that interrupts it and logs
    // through a new call site must not wait for that lock.
    let state = {
        // SAFETY: see `hot`.
        let Some(_busy) = Busy::enter(&unsafe { hot() }.busy) else { return reentry::reentrant_drop() };
        callsite::register(cs, A::KINDS)
    };
    if (state as i32) > 0 && cs.sampler.is_none_or(|s| s.keep()) {
        log_with_id(state, &args);
    }
}

#[inline(always)]
fn log_with_id<A: ArgList>(id: u32, args: &A) {
    // A constant: lists of plain arguments go straight to the ring.
    if A::STAGED {
        log_staged(id, args);
    } else {
        write_with_id(id, args, &[]);
    }
}

/// A call with staged (serde) arguments: runs their encoders, which are the program's code
/// and may log, before this call touches its ring.
#[inline]
fn log_staged<A: ArgList>(id: u32, args: &A) {
    crate::serde_arg::with_staged(|buf| args.stage(buf), |staged| write_with_id(id, args, staged));
}

/// This thread's `Hot`.
///
/// # Safety
/// The reference must be used only during the current call, on this thread.
#[inline(always)]
unsafe fn hot() -> &'static Hot {
    // SAFETY: `Hot` has no destructor, so its storage is valid for the whole life of this
    // thread, and the caller keeps the reference on it. (Taking the address in a tiny
    // closure lets the whole call inline.)
    unsafe { &*HOT.with(|h| h as *const Hot) }
}

/// Writes one record; `staged` holds the staged arguments' encodings (empty without any).
#[inline(always)]
fn write_with_id<A: ArgList>(id: u32, args: &A, staged: &[u8]) {
    // SAFETY: used only during this call, on this thread.
    let h = unsafe { hot() };
    // One relaxed load of GENERATION and one compare for "attached to the running logger, no
    // drop marker owed, and not inside another call on this thread".
    if (h.generation.get() ^ GENERATION.load(Ordering::Relaxed)) | h.gap.get() | h.busy.load(Ordering::Relaxed) != 0 {
        return write_slow(id, args, staged);
    }
    // A signal handler that logs between the check and this mark completes its whole call
    // first; the worst it can do is owe a drop marker, which the next call writes.
    let _busy = Busy::set(&h.busy);
    write_ring(h, id, args, staged);
}

/// Every call the hot path's one check sends away: a call that interrupted another on this
/// thread, a first call, an owed drop marker, a logger that changed, the consumer thread.
#[cold]
#[inline(never)]
fn write_slow<A: ArgList>(id: u32, args: &A, staged: &[u8]) {
    // SAFETY: used only during this call, on this thread.
    let h = unsafe { hot() };
    let Some(busy) = Busy::enter(&h.busy) else { return reentry::reentrant_drop() };
    match slow_prepare() {
        Prepared::Ring => {}
        Prepared::OwnStream => return write_own_stream(id, args, staged),
        Prepared::Dropped => return,
    }
    if (h.generation.get() ^ GENERATION.load(Ordering::Relaxed)) | owed(h) != 0 {
        // The logger changed again since `slow_prepare`: this call has no ring.
        return no_logger_drop();
    }
    write_ring(h, id, args, staged);
    if h.gap.get() & IMMEDIATE != 0 {
        // Immediate mode: return once the consumer has written this record (and the
        // segment's committed length says so). Outside the busy mark: nothing is left to do
        // on the ring.
        drop(busy);
        crate::flush();
    }
}

/// Writes the record into this thread's ring (waiting or dropping when full) and counts it.
/// The caller holds the busy mark and has checked that the thread is attached to the
/// running logger with no drop marker owed.
#[inline(always)]
fn write_ring<A: ArgList>(h: &Hot, id: u32, args: &A, staged: &[u8]) {
    debug_assert!(!h.producer.get().is_null());
    // SAFETY: the generation matched, so `producer` is the live producer owned by this
    // thread's `Cold` (invariant of `Hot`); only this thread touches it, and nothing else
    // holds a reference to it now: a nested call on this thread (a signal handler, or an
    // `Arg` impl that logs) finds `busy` set and returns before touching it.
    let producer = unsafe { &mut *h.producer.get() };
    let len = RECORD_HEADER_LEN + args.encoded_len() + staged.len();
    let mut attempt = 0u32;
    loop {
        match producer.write_chunk_uninit(len) {
            Ok(mut chunk) => {
                // Stamped once the record has its place (after any wait), so each
                // thread's ticks are in ring order.
                let ticks = clock::ticks();
                let (first, _) = chunk.as_mut_slices();
                if first.len() == len {
                    // SAFETY: `first` is `len` writable bytes of ring memory reserved for us.
                    unsafe { write_record(first.as_mut_ptr().cast(), id, ticks, args, staged) };
                } else if len <= STAGE_ON_STACK {
                    let mut stage = [0u8; STAGE_ON_STACK];
                    // SAFETY: `stage` has room for the `len` bytes written.
                    unsafe { write_record(stage.as_mut_ptr(), id, ticks, args, staged) };
                    copy_split(&mut chunk, &stage[..len]);
                } else {
                    write_wrapped(&mut chunk, id, ticks, args, staged);
                }
                // SAFETY: all `len` bytes were initialized just above.
                unsafe { chunk.commit_all() };
                break;
            }
            // The wait or drop needs no arguments, so they never have to leave registers.
            Err(_) => {
                if !wait_or_drop(producer, len, attempt) {
                    return;
                }
                attempt += 1;
            }
        }
    }
    let n = h.logged.get() + 1;
    h.logged.set(n);
    // SAFETY: attached, so `logged_cell` points into the ThreadShared kept alive by Cold.
    publish(unsafe { &*h.logged_cell.get() }, n);
}

#[cold]
fn no_logger_drop() {
    NO_LOGGER_DROPS.fetch_add(1, Ordering::Relaxed);
}

/// Single-writer counter bump: a plain store, no atomic read-modify-write.
#[inline(always)]
fn publish(c: &AtomicU64, v: u64) {
    c.store(v, Ordering::Relaxed);
}

/// Runs `f` with this thread's `Cold` (attaching first if needed) and `Hot`.
fn with_cold<R>(f: impl FnOnce(&mut Cold, &Hot) -> R) -> Option<R> {
    COLD.try_with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        let cold = guard.as_mut()?;
        HOT.try_with(|h| f(cold, h)).ok()
    })
    .ok()
    .flatten()
}

/// Where the slow path sends a call.
enum Prepared {
    /// To this thread's ring, now attached with no drop marker owed.
    Ring,
    /// To the consumer's own stream (this is the consumer thread).
    OwnStream,
    /// Nowhere: the call was counted as dropped.
    Dropped,
}

/// Slow path before a write: (re)attach to the running logger and write an owed drop marker.
#[cold]
#[inline(never)]
fn slow_prepare() -> Prepared {
    let current = GENERATION.load(Ordering::Acquire);
    if reentry::role() == Role::Consumer {
        // The consumer drains the rings: waiting on one of its own would be waiting for
        // itself. (Its stream stays open through shutdown, until its final write.)
        return Prepared::OwnStream;
    }
    let attached = HOT.with(|h| h.generation.get() == current);
    if !attached {
        if refused_still(current) {
            return no_ring_drop();
        }
        // Drop the old ring (the consumer drains what is left), then attach to the new one.
        let _ = COLD.try_with(|c| c.try_borrow_mut().map(|mut c| *c = None));
        if current == 0 || !attach() {
            if refused_still(current) {
                return no_ring_drop();
            }
            no_logger_drop();
            return Prepared::Dropped;
        }
    }
    let ok = with_cold(|c, h| {
        if owed(h) != 0 && !write_drop_marker(c, h) {
            // Still no room for the marker: this record joins the gap.
            count_drop(c, h, clock::ticks());
            return false;
        }
        true
    });
    match ok {
        Some(true) => Prepared::Ring,
        Some(false) => Prepared::Dropped,
        None => {
            no_logger_drop();
            Prepared::Dropped
        }
    }
}

/// A call on the consumer thread: the record goes to the consumer's own stream, which it
/// writes after its pass (or is dropped and counted when that stream is full).
#[cold]
#[inline(never)]
fn write_own_stream<A: ArgList>(id: u32, args: &A, staged: &[u8]) {
    let len = RECORD_HEADER_LEN + args.encoded_len() + staged.len();
    let ticks = clock::ticks();
    let pushed = reentry::push_own(len, |dst| {
        // SAFETY: `dst` is exactly `len` writable bytes.
        unsafe { write_record(dst.as_mut_ptr(), id, ticks, args, staged) }
    });
    if !pushed {
        no_logger_drop();
    }
}

/// Records up to this size that wrap around the ring's end are staged on the stack.
const STAGE_ON_STACK: usize = 128;

/// The ring is full (or the record can never fit). In `Block` mode, waits a little and
/// returns true to retry (counting the call as blocked once); otherwise counts the drop and
/// returns false.
#[cold]
#[inline(never)]
fn wait_or_drop(producer: &mut rtrb::Producer<u8>, len: usize, attempt: u32) -> bool {
    let retry = with_cold(|c, h| {
        let fits = len <= producer.buffer().capacity();
        let gone = producer.is_abandoned() || GENERATION.load(Ordering::Relaxed) != h.generation.get();
        if c.overflow == Overflow::Block && fits && !gone {
            if attempt == 0 {
                let b = &c.shared.producer.blocked;
                publish(b, b.load(Ordering::Relaxed) + 1);
            }
            if attempt < 64 {
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
            return true;
        }
        // Drop mode, a record larger than the ring, or a consumer that is gone or going
        // (waiting could be forever).
        count_drop(c, h, clock::ticks());
        false
    });
    match retry {
        Some(r) => r,
        None => {
            no_logger_drop();
            false
        }
    }
}

fn count_drop(c: &mut Cold, h: &Hot, ticks: u64) {
    let logged = h.logged.get() + 1;
    h.logged.set(logged);
    c.dropped += 1;
    let gap = h.gap.get();
    let p = &c.shared.producer;
    if gap & !IMMEDIATE == 0 {
        c.gap_first = ticks;
        publish(&p.gap_first, ticks);
    }
    h.gap.set(gap + 1);
    c.gap_last = ticks;
    publish(&p.gap_last, ticks);
    publish(&p.dropped, c.dropped);
    publish(&p.logged, logged);
}

/// Writes the owed in-band drop marker; false if the ring has no room for it yet.
fn write_drop_marker(c: &mut Cold, h: &Hot) -> bool {
    // SAFETY: attached (callers checked), producer live, no other reference in use.
    let producer = unsafe { &mut *c.producer };
    let count = owed(h);
    let payload = (&count, &c.gap_first, &c.gap_last);
    let len = RECORD_HEADER_LEN + DROP_MARKER_PAYLOAD;
    match producer.write_chunk_uninit(len) {
        Ok(mut chunk) => {
            let ticks = clock::ticks();
            stage_and_copy(&mut c.scratch, &mut chunk, DROP_MARKER_ID, ticks, &payload, &[]);
            // SAFETY: stage_and_copy initialized all `len` bytes.
            unsafe { chunk.commit_all() };
            h.gap.set(h.gap.get() & IMMEDIATE);
            true
        }
        Err(_) => false,
    }
}

/// A call of a thread the ring memory budget gave no ring: counted, dropped.
#[cold]
fn no_ring_drop() -> Prepared {
    NO_RING_DROPS.fetch_add(1, Ordering::Relaxed);
    Prepared::Dropped
}

/// Whether the budget refused this thread a ring for the logger of generation `current`
/// and still has no room for one (one relaxed load, no lock).
fn refused_still(current: u64) -> bool {
    REFUSED.try_with(|r| {
        let (generation, wanted, limit) = r.get();
        generation == current && current != 0 && !ring::could_lease(ring::leased(), wanted, limit)
    }) == Ok(true)
}

/// Makes this thread ready to log without a first-call cost: creates its ring for the
/// running logger (faulted in, leased from [`Builder::max_ring_memory`](crate::Builder::max_ring_memory))
/// and its staging buffers, so not even its first log call takes a page fault, an allocation
/// or a lock. Call it at the start of a thread's hot loop, after [`Builder::start`](crate::Builder::start).
///
/// After it, the other first calls make no system call and take no page fault either: a
/// call site's first call (registration: a few hundred nanoseconds, no allocation, a lock
/// shared only with other threads registering at that moment) and the first value of a new
/// serde shape (a few microseconds: the shape's descriptor is built, from heap memory this
/// call touched). The first `preallocate()` of the process also maps the program's code
/// into its page tables, so code that runs for the first time later does not fault. Log
/// each call site once during warm-up to take even the registration off the hot loop.
///
/// Returns the bytes of the thread's ring, or `None` when no logger runs, on the consumer
/// thread, or when the budget has no room for a ring (the thread's calls are then dropped
/// and counted until it has).
pub fn preallocate() -> Option<usize> {
    if reentry::role() == Role::Consumer {
        return None;
    }
    crate::serde_arg::preallocate();
    callsite::keep_room();
    crate::os::map_program_code();
    // SAFETY: used only during this call, on this thread.
    let h = unsafe { hot() };
    let _busy = Busy::enter(&h.busy)?;
    let current = GENERATION.load(Ordering::Acquire);
    if current == 0 {
        return None;
    }
    if h.generation.get() != current {
        if refused_still(current) {
            return None;
        }
        let _ = COLD.try_with(|c| c.try_borrow_mut().map(|mut c| *c = None));
        if !attach() {
            return None;
        }
    }
    with_cold(|c, _| c.shared.capacity)
}

/// Creates this thread's ring for the running logger and hands it to the consumer.
fn attach() -> bool {
    // A thread whose thread-locals are being destroyed cannot keep a ring: do not make one.
    if COLD.try_with(|_| ()).is_err() {
        return false;
    }
    let shared = {
        let cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        let Some(shared) = cur.as_ref() else { return false };
        // GENERATION is stable under the lock (shutdown clears it while holding it).
        if shared.generation != GENERATION.load(Ordering::Relaxed) {
            return false;
        }
        shared.clone()
    };
    let wanted = shared.config.ring_capacity;
    let limit = shared.config.ring_budget();
    // Made and faulted in here, on the thread's first call (or in `preallocate`), so no
    // later call touches an unmapped page of it; outside the lock, which every attaching
    // thread and shutdown take, so that faulting in one thread's ring (a millisecond for
    // 1 MiB, more for big rings) holds up no other. A shutdown that begins meanwhile closes
    // the handover, which then refuses the ring below.
    let Some((producer, ring, lease)) = ring::make(ring::leased(), wanted, limit, shared.config.huge_pages) else {
        shared.totals.rings_refused.fetch_add(1, Ordering::Relaxed);
        let _ = REFUSED.try_with(|r| r.set((shared.generation, wanted, limit)));
        return false;
    };
    let cap = lease.bytes();
    if cap < wanted {
        shared.totals.rings_shrunk.fetch_add(1, Ordering::Relaxed);
    }
    let lease = Arc::new(lease);
    let th = std::thread::current();
    let mut ts = ThreadShared::new(
        NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed),
        crate::os::thread_id(),
        th.name().unwrap_or("").to_string(),
        cap,
    );
    ts.origin = reentry::origin();
    let ts = Arc::new(ts);
    // Hand the ring over first: a closed handover (shutdown under way) refuses it, and then
    // this thread has no ring. If installing it below fails, dropping the producer abandons
    // the ring, which the consumer drains and frees.
    if shared.handover.push(NewThread { ring, shared: ts.clone(), lease: lease.clone() }).is_err() {
        return false;
    }
    shared.threads.lock().unwrap_or_else(|p| p.into_inner()).push(ts.clone());
    let producer = Box::into_raw(Box::new(producer));
    let cold = Cold {
        producer,
        shared: ts.clone(),
        // The logger's own threads never wait for the consumer (it may be waiting for them).
        overflow: if reentry::on_logger_thread() { Overflow::Drop } else { shared.config.overflow },
        dropped: 0,
        gap_first: 0,
        gap_last: 0,
        scratch: ring::touched(4096.min(cap)),
        _lease: lease,
    };
    let installed = COLD.try_with(|c| match c.try_borrow_mut() {
        Ok(mut c) => {
            *c = Some(cold);
            true
        }
        Err(_) => false,
    });
    if installed != Ok(true) {
        return false;
    }
    HOT.with(|h| {
        h.producer.set(producer);
        h.logged_cell.set(&ts.producer.logged);
        h.logged.set(0);
        // The logger's own threads never wait for the consumer, not even in immediate mode.
        h.gap.set(if shared.config.immediate && !reentry::on_logger_thread() { IMMEDIATE } else { 0 });
        h.generation.set(shared.generation);
    });
    true
}

/// Writes a record into contiguous ring memory.
///
/// # Safety
/// `dst` must be valid for `RECORD_HEADER_LEN + args.encoded_len() + staged.len()` bytes of
/// writes, and `staged` must be what `args.stage` appended.
#[inline(always)]
unsafe fn write_record<A: ArgList>(dst: *mut u8, id: u32, ticks: u64, args: &A, staged: &[u8]) {
    // SAFETY: within the `len` bytes the caller reserved: 4 + 4 + 2 header bytes, then args.
    unsafe {
        dst.cast::<[u8; 4]>().write_unaligned(id.to_le_bytes());
        dst.add(4).cast::<[u8; 4]>().write_unaligned((ticks as u32).to_le_bytes());
        dst.add(8).cast::<[u8; 2]>().write_unaligned(((ticks >> 32) as u16).to_le_bytes());
        args.encode_staged(dst.add(RECORD_HEADER_LEN), staged);
    }
}

/// Writes a record that wraps around the ring's end, staging it in this thread's scratch.
#[cold]
#[inline(never)]
fn write_wrapped<A: ArgList>(
    chunk: &mut rtrb::chunks::WriteChunkUninit<'_, u8>,
    id: u32,
    ticks: u64,
    args: &A,
    staged: &[u8],
) {
    let done = COLD.try_with(|c| match c.try_borrow_mut() {
        Ok(mut c) => match c.as_mut() {
            Some(c) => {
                stage_and_copy(&mut c.scratch, chunk, id, ticks, args, staged);
                true
            }
            None => false,
        },
        Err(_) => false,
    });
    if done != Ok(true) {
        // No scratch to be had (cannot happen while attached): stage on the heap.
        stage_and_copy(&mut Vec::new(), chunk, id, ticks, args, staged);
    }
}

/// Encodes a record into `scratch`, then copies it into the (possibly split) chunk.
fn stage_and_copy<A: ArgList>(
    scratch: &mut Vec<u8>,
    chunk: &mut rtrb::chunks::WriteChunkUninit<'_, u8>,
    id: u32,
    ticks: u64,
    args: &A,
    staged: &[u8],
) {
    let len = RECORD_HEADER_LEN + args.encoded_len() + staged.len();
    scratch.clear();
    scratch.reserve(len);
    // SAFETY: `scratch` has capacity for `len` bytes, all written by write_record.
    unsafe {
        write_record(scratch.as_mut_ptr(), id, ticks, args, staged);
        scratch.set_len(len);
    }
    copy_split(chunk, scratch);
}

/// Copies a staged record into a chunk that wraps around the ring's end.
#[inline(always)]
fn copy_split(chunk: &mut rtrb::chunks::WriteChunkUninit<'_, u8>, staged: &[u8]) {
    let (a, b) = chunk.as_mut_slices();
    let (s1, s2) = staged.split_at(a.len());
    for (d, s) in a.iter_mut().zip(s1) {
        d.write(*s);
    }
    for (d, s) in b.iter_mut().zip(s2) {
        d.write(*s);
    }
}

/// Records logged on this thread into the running logger's ring (for tests and benches).
#[doc(hidden)]
pub fn local_logged() -> u64 {
    HOT.with(|h| h.logged.get())
}
