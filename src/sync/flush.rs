//! The flush barrier: producers take tickets, the consumer serves them after a drain pass,
//! and a waiter returns once its ticket is served or the consumer has ended.
//!
//! `Shared::flush`, the consumer's pass, its end (`AliveGuard`), the fatal-signal handler and
//! `Guard::drop` all go through this type, so the loom models below check the protocol the
//! logger runs.

use std::time::{Duration, Instant};

use super::primitive::{AtomicBool, AtomicU64, Condvar, Mutex, Ordering};

/// How long a waiter sleeps before nudging the consumer again. Only a backstop: the models
/// below prove that a flush completes without any timeout firing (loom's `wait_timeout`
/// never times out).
const NUDGE_EVERY: Duration = Duration::from_millis(5);

/// Tickets requested and served, and whether anyone still serves them.
#[derive(Debug)]
pub(crate) struct FlushBarrier {
    /// Tickets handed out so far; ticket `n` is the `n`-th request (from 1).
    requested: AtomicU64,
    /// Highest ticket served; never decreases; `u64::MAX` once the consumer has ended.
    done: AtomicU64,
    /// False once the consumer has ended (normally or by a panic).
    alive: AtomicBool,
    /// Held to check-then-sleep and to notify, so a completion cannot slip between a
    /// waiter's check and its sleep.
    lock: Mutex<()>,
    cv: Condvar,
}

/// How a wait for a flush ticket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// The consumer drained everything committed before the ticket was taken.
    Yes,
    /// The consumer ended first (its final drain, if it made one, is visible).
    ConsumerEnded,
}

impl FlushBarrier {
    pub(crate) fn new() -> Self {
        FlushBarrier {
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Producer side: takes a ticket. Everything this thread committed to its ring before
    /// (and everything that happens-before this call) is drained by the pass that serves it.
    pub(crate) fn request(&self) -> u64 {
        // SeqCst RMW: the consumer's Acquire load in `pending` that reads this value (or a
        // later one in the RMW chain) synchronizes with it, so the drain pass that follows
        // sees every ring commit made before this call.
        self.requested.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Consumer side, at the start of a pass: the newest ticket if it is not yet served.
    /// The pass must drain every ring before calling [`Self::complete`] with it.
    pub(crate) fn pending(&self) -> Option<u64> {
        // Acquire: pairs with `request`'s RMW (see there).
        let req = self.requested.load(Ordering::Acquire);
        // Relaxed: only the consumer stores `done` (besides `consumer_ended`, also the
        // consumer), so it reads its own latest value.
        (req > self.done.load(Ordering::Relaxed)).then_some(req)
    }

    /// Consumer side, after a full drain pass: serves tickets up to `ticket`, wakes waiters.
    pub(crate) fn complete(&self, ticket: u64) {
        // Release: the pass's segment writes happen-before a waiter's Acquire load that sees
        // this value. fetch_max, so `done` never moves back (u64::MAX stays).
        self.done.fetch_max(ticket, Ordering::Release);
        // Notify under the lock: a waiter that checked `done` before the store above is
        // already asleep on the condvar, so it gets this notification.
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.cv.notify_all();
    }

    /// Consumer side, as it ends (also when unwinding): no ticket will be served any more.
    pub(crate) fn consumer_ended(&self) {
        // Release: waiters that see the consumer gone also see its final writes.
        self.alive.store(false, Ordering::Release);
        self.complete(u64::MAX);
    }

    /// Whether `ticket` is served (or the consumer has ended), without locking: for the
    /// fatal-signal handler, which may only poll.
    pub(crate) fn is_served(&self, ticket: u64) -> bool {
        // Acquire: pairs with `complete`'s Release (`consumer_ended` completes u64::MAX).
        self.done.load(Ordering::Acquire) >= ticket
    }

    /// Whether the consumer still runs.
    pub(crate) fn consumer_alive(&self) -> bool {
        // Acquire: pairs with `consumer_ended`'s Release.
        self.alive.load(Ordering::Acquire)
    }

    /// Waits until `ticket` is served or the consumer has ended, calling `nudge` (which wakes
    /// the consumer) whenever a wait period passes without either.
    pub(crate) fn wait(&self, ticket: u64, nudge: impl Fn()) -> Served {
        let mut g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if !self.consumer_alive() {
                return Served::ConsumerEnded;
            }
            // Acquire: pairs with `complete`'s Release.
            if self.done.load(Ordering::Acquire) >= ticket {
                return Served::Yes;
            }
            g = self.cv.wait_timeout(g, NUDGE_EVERY).unwrap_or_else(|p| p.into_inner()).0;
            nudge();
        }
    }

    /// Shutdown side: waits until the consumer has ended, for at most `timeout`. Returns
    /// whether it ended (then its final writes are visible).
    pub(crate) fn wait_consumer_end(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.consumer_alive() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(10));
            g = self.cv.wait_timeout(g, wait).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! Model checks. A `ring` atomic stands in for an rtrb ring: the producer's commit is a
    //! Release store of its tail (as rtrb's is), the consumer's drain an Acquire load.
    //! `written` is what the consumer wrote to the segment, published with Relaxed stores:
    //! only the barrier may make it visible to a waiter.

    use super::{FlushBarrier, Served};
    use crate::sync::loom_model as model;
    use loom::sync::atomic::{AtomicBool, AtomicU64};
    use loom::sync::{Arc, Notify};
    use loom::thread;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    struct World {
        barrier: FlushBarrier,
        ring: AtomicU64,
        written: AtomicU64,
        shutdown: AtomicBool,
        /// The consumer's park token (`Thread::unpark`/`park`, with their synchronization).
        /// A `Notify` rather than loom's `Thread::unpark`, which wrongly wakes a thread that
        /// is blocked on a mutex rather than parked (loom issue 249).
        wake: Notify,
    }

    fn world() -> Arc<World> {
        Arc::new(World {
            barrier: FlushBarrier::new(),
            ring: AtomicU64::new(0),
            written: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    /// The consumer loop as `Consumer::run` has it: read the pending ticket, drain, serve,
    /// end on shutdown, otherwise sleep until unparked (no timeout: the model proves that the
    /// unparks the protocol sends are enough).
    fn consumer(w: Arc<World>) {
        loop {
            let ticket = w.barrier.pending();
            let shutdown = w.shutdown.load(Ordering::Acquire);
            let drained = w.ring.load(Ordering::Acquire);
            w.written.store(drained, Ordering::Relaxed);
            if let Some(t) = ticket {
                w.barrier.complete(t);
            }
            if shutdown {
                w.barrier.consumer_ended();
                return;
            }
            w.wake.wait();
        }
    }

    #[test]
    fn loom_flush_returns_after_the_consumer_wrote_what_was_committed_before_it() {
        model(|| {
            let w = world();
            let c = {
                let w = w.clone();
                thread::spawn(move || consumer(w))
            };
            w.ring.store(1, Ordering::Release);
            let ticket = w.barrier.request();
            w.wake.notify();
            assert_eq!(w.barrier.wait(ticket, || w.wake.notify()), Served::Yes);
            assert_eq!(w.written.load(Ordering::Relaxed), 1, "flush returned before its records were written");
            w.shutdown.store(true, Ordering::Release);
            w.wake.notify();
            c.join().unwrap();
        });
    }

    #[test]
    fn loom_a_second_flush_waits_for_a_second_drain() {
        model(|| {
            let w = world();
            let c = {
                let w = w.clone();
                thread::spawn(move || consumer(w))
            };
            for n in 1..=2 {
                w.ring.store(n, Ordering::Release);
                let t = w.barrier.request();
                w.wake.notify();
                assert_eq!(w.barrier.wait(t, || w.wake.notify()), Served::Yes);
                assert_eq!(w.written.load(Ordering::Relaxed), n, "flush {n} returned before its records were written");
            }
            w.shutdown.store(true, Ordering::Release);
            w.wake.notify();
            c.join().unwrap();
        });
    }

    #[test]
    fn loom_a_flush_returns_when_the_consumer_ends_instead_of_serving_it() {
        model(|| {
            let w = world();
            // A consumer that dies (panics, or its thread is torn down) without serving.
            let c = {
                let w = w.clone();
                thread::spawn(move || w.barrier.consumer_ended())
            };
            let t = w.barrier.request();
            // Either outcome is fine; returning at all is the property.
            let _ = w.barrier.wait(t, || {});
            assert!(!w.barrier.consumer_alive() || w.barrier.done.load(Ordering::Acquire) >= t);
            c.join().unwrap();
        });
    }

    #[test]
    fn loom_shutdown_sees_the_consumers_final_drain() {
        model(|| {
            let w = world();
            let c = {
                let w = w.clone();
                thread::spawn(move || consumer(w))
            };
            w.ring.store(1, Ordering::Release);
            // `Guard::drop`: shutdown (Release, after the last commit), wake, wait for the end.
            w.shutdown.store(true, Ordering::Release);
            w.wake.notify();
            assert!(w.barrier.wait_consumer_end(Duration::from_secs(3600)));
            assert_eq!(w.written.load(Ordering::Relaxed), 1, "shutdown returned before the final drain");
            c.join().unwrap();
        });
    }
}
