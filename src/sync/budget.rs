//! The ring memory budget's counter: bytes leased by every live ring together, never past
//! the limit, however many threads attach at once.
//!
//! `ring::make` sizes a new ring from what [`Budget::left`] reports and then leases it with
//! [`Budget::lease`]; another thread may lease in between, so the lease checks again in the
//! same read-modify-write that adds it. The loom model below checks that concurrent leases
//! never add up past the limit and that every returned lease is subtracted exactly once.

use super::primitive::{AtomicUsize, Ordering};

/// Bytes leased out of a budget.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget { used: AtomicUsize::new(0) }
    }

    /// Bytes leased now.
    pub(crate) fn used(&self) -> usize {
        // Relaxed: a statistic and a sizing hint; `lease` rechecks in its own RMW.
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes left under `limit` now.
    pub(crate) fn left(&self, limit: usize) -> usize {
        limit.saturating_sub(self.used())
    }

    /// Adds `bytes` if the total stays within `limit`; false (and nothing added) if not.
    pub(crate) fn lease(&self, bytes: usize, limit: usize) -> bool {
        // Relaxed is enough: the counter publishes no other memory (each ring is handed to
        // the consumer through the handover's lock), and the RMW alone makes concurrent
        // leases see one another, so their sum is checked against the limit.
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| used.checked_add(bytes).filter(|&n| n <= limit))
            .is_ok()
    }

    /// Returns `bytes` leased before.
    pub(crate) fn give_back(&self, bytes: usize) {
        // Relaxed: as `lease`; an RMW, so no return is lost to a concurrent lease.
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::Budget;
    use crate::sync::loom_model as model;
    use loom::sync::Arc;
    use loom::thread;

    /// Two threads lease 3 and 2 bytes of a 4-byte budget while a third returns an earlier
    /// lease: at most what fits is granted, and the count ends exact.
    #[test]
    fn loom_concurrent_leases_never_pass_the_limit() {
        model(|| {
            let b = Arc::new(Budget::new());
            assert!(b.lease(1, 4));
            let spawn = |n: usize| {
                let b = b.clone();
                thread::spawn(move || if b.lease(n, 4) { n } else { 0 })
            };
            let (t1, t2) = (spawn(3), spawn(2));
            let b3 = b.clone();
            let t3 = thread::spawn(move || b3.give_back(1));
            let got = t1.join().unwrap() + t2.join().unwrap();
            t3.join().unwrap();
            assert!(got <= 4, "granted {got} of 4");
            assert!(got > 0, "the first of the two to lease always fits");
            assert_eq!(b.used(), got);
        });
    }
}
