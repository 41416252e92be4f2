//! The hot path: what a log call does on the calling thread.
//!
//! A call loads its call-site id, checks that its thread's ring belongs to the running
//! logger, reserves `10 + args` bytes in the thread's own `rtrb` ring, reads the tick counter,
//! stores the id, ticks and raw argument bytes, and commits. No lock, no allocation, no
//! formatting, no system call. Everything else (first use of a call site, first call on a
//! thread, a full ring, a logger restart) is on `#[cold]` paths.

pub mod args;
pub mod callsite;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use args::ArgList;
use callsite::Callsite;

use crate::clock;
use crate::config::Overflow;
use crate::shared::{NewThread, ThreadShared, CURRENT, GENERATION, NO_LOGGER_DROPS};
use crate::wire::{DROP_MARKER_ID, DROP_MARKER_PAYLOAD, RECORD_HEADER_LEN};

/// Never equal to a running logger's generation (those start at 1) nor to "none" (0).
const DETACHED: u64 = u64::MAX;

/// Process-wide thread ids written into segments.
static NEXT_THREAD_ID: AtomicU32 = AtomicU32::new(1);

/// The calling thread's producer side.
struct Local {
    /// Generation of the logger `producer` feeds; `DETACHED` when `producer` is `None`.
    /// Invariant: `generation != DETACHED` iff `producer.is_some()`.
    generation: u64,
    producer: Option<rtrb::Producer<u8>>,
    shared: Option<Arc<ThreadShared>>,
    overflow: Overflow,
    /// Mirrors `shared.producer.logged`, so counting is one store, not a load and a store.
    logged: u64,
    dropped: u64,
    /// Records dropped since the last in-band drop marker (Drop mode).
    gap_count: u64,
    gap_first: u64,
    gap_last: u64,
    /// Staging for records that wrap around the end of the ring; sized at attach.
    scratch: Vec<u8>,
}

impl Local {
    const fn new() -> Self {
        Local {
            generation: DETACHED,
            producer: None,
            shared: None,
            overflow: Overflow::Drop,
            logged: 0,
            dropped: 0,
            gap_count: 0,
            gap_first: 0,
            gap_last: 0,
            scratch: Vec::new(),
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local::new()) };
}

/// Logs one record through `cs`. Called by the macros.
#[inline(always)]
pub fn log<A: ArgList>(cs: &'static Callsite, args: A) {
    let id = cs.id();
    if id == 0 {
        return log_first(cs, args);
    }
    log_with_id(id, &args);
}

#[cold]
#[inline(never)]
fn log_first<A: ArgList>(cs: &'static Callsite, args: A) {
    let id = callsite::register(cs, A::kinds);
    log_with_id(id, &args);
}

#[inline(always)]
fn log_with_id<A: ArgList>(id: u32, args: &A) {
    let done = LOCAL.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut l) => l.log(id, args),
        // A log call from inside a log call on this thread (not possible with the built-in
        // argument types): refuse rather than alias the ring.
        Err(_) => no_logger_drop(),
    });
    if done.is_err() {
        // Thread-locals already destroyed (logging from another TLS destructor).
        no_logger_drop();
    }
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

impl Local {
    #[inline(always)]
    fn log<A: ArgList>(&mut self, id: u32, args: &A) {
        // One relaxed load and one compare for "still attached to the running logger, and
        // no drop marker owed".
        if (self.generation ^ GENERATION.load(Ordering::Relaxed)) | self.gap_count != 0 {
            return self.log_slow(id, args);
        }
        let Some(producer) = self.producer.as_mut() else { return self.log_slow(id, args) };
        let len = RECORD_HEADER_LEN + args.encoded_len();
        match producer.write_chunk_uninit(len) {
            Ok(mut chunk) => {
                let ticks = clock::ticks();
                let (first, _) = chunk.as_mut_slices();
                if first.len() == len {
                    // SAFETY: `first` is `len` writable bytes of ring memory reserved for us.
                    unsafe { write_record(first.as_mut_ptr().cast(), id, ticks, args) };
                } else {
                    write_wrapped(&mut self.scratch, &mut chunk, id, ticks, args);
                }
                // SAFETY: all `len` bytes were initialized just above.
                unsafe { chunk.commit_all() };
                self.logged += 1;
                if let Some(s) = &self.shared {
                    publish(&s.producer.logged, self.logged);
                }
            }
            Err(_) => self.full(id, args, len),
        }
    }

    /// Not attached to the running logger, or a drop marker is owed.
    #[cold]
    #[inline(never)]
    fn log_slow<A: ArgList>(&mut self, id: u32, args: &A) {
        let current = GENERATION.load(Ordering::Acquire);
        if self.generation != current {
            self.detach();
            if current == 0 || !self.attach() {
                no_logger_drop();
                return;
            }
        }
        if self.gap_count != 0 && !self.write_drop_marker() {
            // Still no room for the marker: this record joins the gap.
            self.count_drop(clock::ticks());
            return;
        }
        self.log(id, args)
    }

    /// The ring is full (or the record can never fit).
    #[cold]
    #[inline(never)]
    fn full<A: ArgList>(&mut self, id: u32, args: &A, len: usize) {
        let Some(producer) = self.producer.as_mut() else { return no_logger_drop() };
        let fits = len <= producer.buffer().capacity();
        if self.overflow == Overflow::Block && fits {
            if let Some(s) = &self.shared {
                publish(&s.producer.blocked, s.producer.blocked.load(Ordering::Relaxed) + 1);
            }
            let mut spins = 0u32;
            loop {
                if let Ok(mut chunk) = producer.write_chunk_uninit(len) {
                    // Stamp the record when it enters the ring, not when the wait began, so
                    // each thread's ticks stay in ring order.
                    let ticks = clock::ticks();
                    write_wrapped(&mut self.scratch, &mut chunk, id, ticks, args);
                    // SAFETY: write_wrapped initialized all `len` bytes.
                    unsafe { chunk.commit_all() };
                    self.logged += 1;
                    if let Some(s) = &self.shared {
                        publish(&s.producer.logged, self.logged);
                    }
                    return;
                }
                if producer.is_abandoned() || GENERATION.load(Ordering::Relaxed) != self.generation {
                    // The consumer is gone or going: waiting could be forever.
                    break;
                }
                spins += 1;
                if spins < 64 {
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        self.count_drop(clock::ticks());
    }

    fn count_drop(&mut self, ticks: u64) {
        self.logged += 1;
        self.dropped += 1;
        if self.gap_count == 0 {
            self.gap_first = ticks;
        }
        self.gap_count += 1;
        self.gap_last = ticks;
        if let Some(s) = &self.shared {
            if self.gap_count == 1 {
                publish(&s.producer.gap_first, ticks);
            }
            publish(&s.producer.gap_last, ticks);
            publish(&s.producer.dropped, self.dropped);
            publish(&s.producer.logged, self.logged);
        } else {
            no_logger_drop();
        }
    }

    /// Writes the owed in-band drop marker; false if the ring has no room for it yet.
    fn write_drop_marker(&mut self) -> bool {
        let Some(producer) = self.producer.as_mut() else { return false };
        let payload = (&self.gap_count, &self.gap_first, &self.gap_last);
        let len = RECORD_HEADER_LEN + DROP_MARKER_PAYLOAD;
        match producer.write_chunk_uninit(len) {
            Ok(mut chunk) => {
                let ticks = clock::ticks();
                write_wrapped(&mut self.scratch, &mut chunk, DROP_MARKER_ID, ticks, &payload);
                // SAFETY: write_wrapped initialized all `len` bytes.
                unsafe { chunk.commit_all() };
                self.gap_count = 0;
                true
            }
            Err(_) => false,
        }
    }

    /// Drops this thread's ring (the consumer drains what is left and then frees it).
    fn detach(&mut self) {
        self.producer = None;
        self.shared = None;
        self.generation = DETACHED;
        self.logged = 0;
        self.dropped = 0;
        self.gap_count = 0;
    }

    /// Creates this thread's ring for the running logger and hands it to the consumer.
    fn attach(&mut self) -> bool {
        let cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        let Some(shared) = cur.as_ref() else { return false };
        // Under the lock, `closing` and GENERATION are stable with respect to shutdown, which
        // sets both while holding it: no ring can be handed over after the consumer's last
        // look at the pending list.
        if shared.closing.load(Ordering::Relaxed) || shared.generation != GENERATION.load(Ordering::Relaxed) {
            return false;
        }
        let cap = shared.config.ring_capacity;
        let (producer, ring) = rtrb::RingBuffer::<u8>::new(cap);
        let th = std::thread::current();
        let ts = Arc::new(ThreadShared::new(
            NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed),
            os_thread_id(),
            th.name().unwrap_or("").to_string(),
            cap,
        ));
        shared.threads.lock().unwrap_or_else(|p| p.into_inner()).push(ts.clone());
        shared.pending.lock().unwrap_or_else(|p| p.into_inner()).push(NewThread { ring, shared: ts.clone() });
        // Release: the consumer's Acquire load of the flag sees the pushed ring.
        shared.pending_flag.store(true, Ordering::Release);
        self.producer = Some(producer);
        self.shared = Some(ts);
        self.overflow = shared.config.overflow;
        self.generation = shared.generation;
        if self.scratch.capacity() < 4096 {
            self.scratch.reserve(4096);
        }
        true
    }
}

/// Writes a record into contiguous ring memory.
///
/// # Safety
/// `dst` must be valid for `RECORD_HEADER_LEN + args.encoded_len()` bytes of writes.
#[inline(always)]
unsafe fn write_record<A: ArgList>(dst: *mut u8, id: u32, ticks: u64, args: &A) {
    // SAFETY: within the `len` bytes the caller reserved: 4 + 4 + 2 header bytes, then args.
    unsafe {
        dst.cast::<[u8; 4]>().write_unaligned(id.to_le_bytes());
        dst.add(4).cast::<[u8; 4]>().write_unaligned((ticks as u32).to_le_bytes());
        dst.add(8).cast::<[u8; 2]>().write_unaligned(((ticks >> 32) as u16).to_le_bytes());
        args.encode(dst.add(RECORD_HEADER_LEN));
    }
}

/// Writes a record into a chunk that may wrap around the ring's end, via `scratch`.
#[cold]
fn write_wrapped<A: ArgList>(
    scratch: &mut Vec<u8>,
    chunk: &mut rtrb::chunks::WriteChunkUninit<'_, u8>,
    id: u32,
    ticks: u64,
    args: &A,
) {
    let len = RECORD_HEADER_LEN + args.encoded_len();
    scratch.clear();
    scratch.reserve(len);
    // SAFETY: `scratch` has capacity for `len` bytes.
    unsafe {
        write_record(scratch.as_mut_ptr(), id, ticks, args);
        scratch.set_len(len);
    }
    let (a, b) = chunk.as_mut_slices();
    let (s1, s2) = scratch.split_at(a.len());
    for (d, s) in a.iter_mut().zip(s1) {
        d.write(*s);
    }
    for (d, s) in b.iter_mut().zip(s2) {
        d.write(*s);
    }
}

fn os_thread_id() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() }) as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Records logged on this thread into the running logger's ring (for tests and benches).
#[doc(hidden)]
pub fn local_logged() -> u64 {
    LOCAL.with(|l| l.borrow().logged)
}
