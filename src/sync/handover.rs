//! Thread registration: a producer thread hands its new ring to the consumer, and shutdown
//! closes the handover so that no ring arrives after the consumer's last look.
//!
//! `frontend::attach` pushes, the consumer takes at the start of every pass (and once more
//! after it has seen shutdown), and `Guard::drop` closes before it signals shutdown. The
//! loom models below check that every ring a producer handed over is taken by the
//! consumer's final pass, and that a producer refused by a closed handover keeps its ring.

use super::primitive::{AtomicBool, Mutex, Ordering};

/// Items (rings) handed to the consumer.
#[derive(Debug)]
pub(crate) struct Handover<T> {
    /// Items not yet taken, and whether the handover is closed. One lock for both: a push
    /// sees `closed` and appends in one step, so nothing is appended after `close`.
    inner: Mutex<(Vec<T>, bool)>,
    /// Set after a push; lets the consumer's every-pass check skip the lock.
    flag: AtomicBool,
}

impl<T> Handover<T> {
    pub(crate) fn new() -> Self {
        Handover { inner: Mutex::new((Vec::new(), false)), flag: AtomicBool::new(false) }
    }

    /// Producer side: hands `item` over, or gives it back if the handover is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.1 {
            return Err(item);
        }
        g.0.push(item);
        // Release, and still under the lock: the consumer's Acquire swap that reads `true`
        // sees the push, and a `close` that takes the lock after this push happens-after the
        // flag is set, so the consumer's final `take` (after an Acquire that `close`
        // happens-before) cannot read a stale `false`. Storing it after unlocking loses the
        // ring in that race: the loom model below finds it.
        self.flag.store(true, Ordering::Release);
        drop(g);
        Ok(())
    }

    /// Consumer side: moves every item handed over so far into `out`.
    pub(crate) fn take(&self, out: &mut Vec<T>) {
        // A plain load first: this runs every pass, and a swap is a locked RMW. A stale
        // `false` only delays the items to the next pass; the final pass after shutdown reads
        // it after an Acquire that `close` happens-before (see there).
        if !self.flag.load(Ordering::Relaxed) || !self.flag.swap(false, Ordering::Acquire) {
            return;
        }
        out.append(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()).0);
    }

    /// Shutdown side: refuses every later push. Call it before signalling shutdown with a
    /// Release that the consumer observes with an Acquire: its next `take` then finds every
    /// item pushed before the close.
    pub(crate) fn close(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! A ring is an `Arc<AtomicU64>` whose value is its producer's committed record count
    //! (a Release store, as rtrb's tail is); the consumer drains with an Acquire load.

    use super::Handover;
    use crate::sync::loom_model as model;
    use loom::sync::atomic::{AtomicBool, AtomicU64};
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering;

    struct World {
        handover: Handover<Arc<AtomicU64>>,
        shutdown: AtomicBool,
    }

    /// The consumer as `Consumer::run` has it: take new rings, drain, and after seeing
    /// shutdown take once more and drain everything a last time. Returns what it drained
    /// from each ring it adopted.
    fn consumer(w: Arc<World>) -> Vec<(Arc<AtomicU64>, u64)> {
        let mut rings: Vec<Arc<AtomicU64>> = Vec::new();
        loop {
            let shutdown = w.shutdown.load(Ordering::Acquire);
            w.handover.take(&mut rings);
            if shutdown {
                return rings.iter().map(|r| (r.clone(), r.load(Ordering::Acquire))).collect();
            }
            thread::yield_now();
        }
    }

    /// A producer thread's first log call and its records: attach, then commit.
    fn producer(w: Arc<World>, records: u64) -> Option<Arc<AtomicU64>> {
        let ring = Arc::new(AtomicU64::new(0));
        w.handover.push(ring.clone()).ok()?;
        for n in 1..=records {
            ring.store(n, Ordering::Release);
        }
        Some(ring)
    }

    #[test]
    fn loom_every_ring_handed_over_before_shutdown_is_adopted_and_drained() {
        model(|| {
            let w = Arc::new(World { handover: Handover::new(), shutdown: AtomicBool::new(false) });
            let c = {
                let w = w.clone();
                thread::spawn(move || consumer(w))
            };
            let p = {
                let w = w.clone();
                thread::spawn(move || producer(w, 2))
            };
            // The producer thread ends (joined) before the guard drops, as in a program
            // that joins its threads before shutdown.
            let ring = p.join().unwrap().expect("not closed yet");
            // `Guard::drop`: close, then signal shutdown with Release.
            w.handover.close();
            w.shutdown.store(true, Ordering::Release);
            let drained = c.join().unwrap();
            assert_eq!(drained.len(), 1, "the ring was lost");
            assert!(Arc::ptr_eq(&drained[0].0, &ring));
            assert_eq!(drained[0].1, 2, "records committed before shutdown were not drained");
        });
    }

    #[test]
    fn loom_a_ring_racing_shutdown_is_either_adopted_or_refused_never_lost() {
        model(|| {
            let w = Arc::new(World { handover: Handover::new(), shutdown: AtomicBool::new(false) });
            let c = {
                let w = w.clone();
                thread::spawn(move || consumer(w))
            };
            let p = {
                let w = w.clone();
                thread::spawn(move || producer(w, 1))
            };
            w.handover.close();
            w.shutdown.store(true, Ordering::Release);
            let drained = c.join().unwrap();
            match p.join().unwrap() {
                // Handed over before the close: the consumer's final pass has it (its
                // records may come after that pass: those count as dropped, by `closed`).
                Some(ring) => assert!(drained.iter().any(|(r, _)| Arc::ptr_eq(r, &ring)), "adopted ring lost"),
                // Refused: the producer logs nothing into a ring nobody reads.
                None => assert!(drained.is_empty()),
            }
            let mut left = Vec::new();
            w.handover.take(&mut left);
            assert!(left.is_empty(), "a ring stayed in the handover after shutdown");
        });
    }
}
