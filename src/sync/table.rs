//! An append-only table that readers take entries from without a lock: the process-wide
//! tables of call sites and of serde shapes.
//!
//! A program thread registers a call site (or a shape) on its first use and must not wait
//! for the consumer, which reads the table whenever it meets a new id. So readers take no
//! lock at all, and writers (serialized by a lock of their own, which no reader takes)
//! never move an entry: the table is a fixed array of chunk pointers, each chunk made once
//! and never freed while the table lives. A chunk can be made ahead of need by
//! [`Table::reserve`] (the consumer does, off the program's threads), so a push allocates
//! nothing.
//!
//! Why not a crate: `boxcar::Vec` has the same shape, but its push allocates (and frees
//! again) the next bucket whenever it passes seven eighths of a bucket, even when that
//! bucket was reserved: on the program's thread, and with a system call once buckets pass
//! the allocator's mmap threshold.
//!
//! The protocol: a writer stores the entry, then publishes it by a Release store of `len`;
//! a reader Acquire-loads `len` and reads only entries below it. A chunk pointer is
//! installed by a compare-exchange from null (Release on success, Acquire on failure), so
//! whoever loses a race to make a chunk uses the winner's and frees its own. The loom model
//! below checks both.

use std::mem::MaybeUninit;

use super::primitive::{AtomicPtr, AtomicUsize, Mutex, Ordering, UnsafeCell};

/// One chunk of entries: slots written once, before the entry is published.
struct Chunk<T, const N: usize>([UnsafeCell<MaybeUninit<T>>; N]);

/// The table is full (it holds `CHUNKS * CHUNK` entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Up to `CHUNKS * CHUNK` entries of `T`, appended one at a time, read by index.
pub(crate) struct Table<T, const CHUNKS: usize, const CHUNK: usize> {
    chunks: [AtomicPtr<Chunk<T, CHUNK>>; CHUNKS],
    /// Entries published. Only a writer holding `writer` stores it.
    len: AtomicUsize,
    writer: Mutex<()>,
}

// SAFETY: entries are written once by a writer (holding `writer`) before they are
// published with Release, and only read (`&T`) afterwards by any thread: the table hands
// out shared references across threads, so `T` must be `Sync`, and moves values in from
// other threads, so `Send`.
unsafe impl<T: Send + Sync, const CHUNKS: usize, const CHUNK: usize> Sync for Table<T, CHUNKS, CHUNK> {}
// SAFETY: as above; the table owns its entries.
unsafe impl<T: Send + Sync, const CHUNKS: usize, const CHUNK: usize> Send for Table<T, CHUNKS, CHUNK> {}

impl<T, const CHUNKS: usize, const CHUNK: usize> Table<T, CHUNKS, CHUNK> {
    /// An empty table (no chunk made yet), usable as a `static`.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Table {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS],
            len: AtomicUsize::new(0),
            writer: Mutex::new(()),
        }
    }

    /// An empty table (loom's atomics are not `const`).
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Table {
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            len: AtomicUsize::new(0),
            writer: Mutex::new(()),
        }
    }

    /// Entries published so far.
    pub(crate) fn len(&self) -> usize {
        // Acquire: pairs with the Release in `push`, so every entry below it is readable.
        self.len.load(Ordering::Acquire)
    }

    /// Entry `i`, if published.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        // Acquire (the `len` load above already ordered the chunk's making before us; this
        // keeps the pointer load correct on its own).
        let chunk = self.chunks[i / CHUNK].load(Ordering::Acquire);
        debug_assert!(!chunk.is_null(), "a published entry's chunk exists");
        // SAFETY: entry `i` is published (`i < len`, read with Acquire after the writer's
        // Release), so its chunk was installed and its slot written before; chunks are never
        // freed while `self` lives, and a published slot is never written again.
        Some(unsafe { (*chunk).0[i % CHUNK].with(|p| (*p).assume_init_ref()) })
    }

    /// Appends `v` and returns its index. Writers wait for one another (a lock no reader
    /// takes); allocates only when no [`reserve`](Self::reserve) made the chunk ahead.
    pub(crate) fn push(&self, v: T) -> Result<usize, Full> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // Relaxed: only writers store `len`, and they hold the lock.
        let i = self.len.load(Ordering::Relaxed);
        if i >= CHUNKS * CHUNK {
            return Err(Full);
        }
        let chunk = self.chunk(i / CHUNK);
        // SAFETY: slot `i` is not published (`i == len`), so no reader looks at it, and the
        // writer lock keeps every other writer away; the chunk lives as long as `self`.
        unsafe { (*chunk).0[i % CHUNK].with_mut(|p| (*p).write(v)) };
        // Release: publishes the slot (and the chunk) to readers that Acquire-load `len`.
        self.len.store(i + 1, Ordering::Release);
        Ok(i)
    }

    /// Makes the chunks for the next `room` entries now, so that pushing them allocates
    /// nothing. Safe to call from any thread at any time.
    pub(crate) fn reserve(&self, room: usize) {
        let from = self.len() / CHUNK;
        let to = (self.len().saturating_add(room).saturating_sub(1) / CHUNK).min(CHUNKS - 1);
        for c in from..=to {
            self.chunk(c);
        }
    }

    /// Chunk `c`, made now if it does not exist yet.
    fn chunk(&self, c: usize) -> *mut Chunk<T, CHUNK> {
        // Acquire: pairs with the Release of the compare-exchange that installed it.
        let p = self.chunks[c].load(Ordering::Acquire);
        if !p.is_null() {
            return p;
        }
        let made = Box::into_raw(Box::new(Chunk(std::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())))));
        // Release on success: publishes the (empty) chunk; Acquire on failure: we use the
        // winner's chunk. Nothing is read from a chunk's slots before they are written.
        match self.chunks[c].compare_exchange(std::ptr::null_mut(), made, Ordering::Release, Ordering::Acquire) {
            Ok(_) => made,
            Err(winner) => {
                // SAFETY: `made` came from Box::into_raw above and was never shared.
                drop(unsafe { Box::from_raw(made) });
                winner
            }
        }
    }
}

impl<T, const CHUNKS: usize, const CHUNK: usize> Drop for Table<T, CHUNKS, CHUNK> {
    fn drop(&mut self) {
        let len = self.len.load(Ordering::Relaxed); // `&mut self`: no other thread
        for (c, p) in self.chunks.iter().enumerate() {
            let p = p.load(Ordering::Relaxed);
            if p.is_null() {
                continue;
            }
            // SAFETY: `p` came from Box::into_raw in `chunk`, and no reader remains.
            let chunk = unsafe { Box::from_raw(p) };
            for (o, slot) in chunk.0.iter().enumerate() {
                if c * CHUNK + o < len {
                    // SAFETY: every slot below `len` was written once and not dropped.
                    unsafe { slot.with_mut(|p| (*p).assume_init_drop()) };
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_place_across_chunks_and_a_full_table_refuses() {
        let t: Table<String, 3, 2> = Table::new();
        t.reserve(3);
        for i in 0..6 {
            assert_eq!(t.push(format!("e{i}")), Ok(i));
        }
        assert_eq!(t.push("x".into()), Err(Full));
        assert_eq!(t.len(), 6);
        let all: Vec<&str> = (0..7).map_while(|i| t.get(i)).map(|s| s.as_str()).collect();
        assert_eq!(all, ["e0", "e1", "e2", "e3", "e4", "e5"]);
        t.reserve(10); // past the end: harmless
    }

    #[test]
    fn readers_on_other_threads_see_each_entry_whole() {
        let t: Table<(u64, u64), 64, 4> = Table::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..200u64 {
                    t.push((i, i * 3)).unwrap();
                }
            });
            s.spawn(|| {
                let mut seen = 0;
                while seen < 200 {
                    if let Some(&(a, b)) = t.get(seen) {
                        assert_eq!((a, b), (seen as u64, seen as u64 * 3));
                        seen += 1;
                    }
                    std::hint::spin_loop();
                }
            });
            s.spawn(|| t.reserve(100));
        });
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::Table;
    use crate::sync::loom_model as model;
    use loom::sync::Arc;
    use loom::thread;

    /// Two writers push into a table of one-entry chunks while a third thread reserves
    /// chunks ahead and a fourth reads: the reader sees an entry whole or not at all, no
    /// chunk is made twice (loom reports a leak), and both entries end up in place. Counts
    /// the executions in which the reader saw an entry, so the model is known to reach the
    /// read of a published entry (a Relaxed store of `len` then fails it).
    #[test]
    fn loom_readers_see_published_entries_whole_while_writers_and_reserve_race() {
        static SAW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        model(|| {
            let t: Arc<Table<Box<u32>, 3, 1>> = Arc::new(Table::new());
            let push = |v: u32| {
                let t = t.clone();
                thread::spawn(move || t.push(Box::new(v)).unwrap())
            };
            let (w1, w2) = (push(10), push(20));
            let r = {
                let t = t.clone();
                thread::spawn(move || t.reserve(2))
            };
            let reader = {
                let t = t.clone();
                thread::spawn(move || {
                    let first = t.get(0).map(|b| **b);
                    assert!(matches!(first, None | Some(10) | Some(20)), "torn entry {first:?}");
                    if first.is_some() {
                        SAW.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
            };
            let (i1, i2) = (w1.join().unwrap(), w2.join().unwrap());
            r.join().unwrap();
            reader.join().unwrap();
            assert_ne!(i1, i2);
            assert_eq!(t.len(), 2);
            assert_eq!(**t.get(i1).unwrap(), 10);
            assert_eq!(**t.get(i2).unwrap(), 20);
        });
        assert!(SAW.load(std::sync::atomic::Ordering::Relaxed) > 0, "the model never read a published entry");
    }
}
