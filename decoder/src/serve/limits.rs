//! What a collector lets one peer, and all of them together, take: the memory budget for
//! frames being read, and the counters of every limit that bit.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bytes of read buffers all connections may hold together (`--max-memory`). A buffer is
/// paid for before it is allocated, so the sum never passes the limit.
#[derive(Debug)]
pub(super) struct Budget {
    /// Bytes reserved now; invariant: `used <= limit`.
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub(super) fn new(limit: usize) -> Budget {
        Budget { used: AtomicUsize::new(0), limit }
    }

    /// Reserves `n` bytes, or says how many are in use if they do not fit.
    pub(super) fn try_reserve(&self, n: usize) -> Result<(), usize> {
        // Relaxed: the counter publishes no data, only its sum matters, and read-modify-write
        // operations on one atomic are totally ordered, so no two reservations both see room
        // that only one has.
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            match cur.checked_add(n) {
                Some(next) if next <= self.limit => {
                    match self.used.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                        Ok(_) => return Ok(()),
                        Err(now) => cur = now,
                    }
                }
                _ => return Err(cur),
            }
        }
    }

    /// Gives back `n` bytes reserved earlier.
    pub(super) fn release(&self, n: usize) {
        // Relaxed: see `try_reserve`.
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// How often each limit bit. Relaxed counters: each is read alone, for reports.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub connections_refused: AtomicU64,
    pub auth_refused: AtomicU64,
    pub sources_refused: AtomicU64,
    pub memory_refused: AtomicU64,
    pub segments_removed: AtomicU64,
    pub bytes_removed: AtomicU64,
}

/// How often each limit of a collector bit, from [`Collector::stats`](super::Collector::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeStats {
    /// Connections closed at accept: `--max-connections` were open.
    pub connections_refused: u64,
    /// HELLOs refused for a missing or wrong token.
    pub auth_refused: u64,
    /// HELLOs of new sources refused: `--max-sources` directories existed.
    pub sources_refused: u64,
    /// Connections closed because their read buffer would have passed `--max-memory`.
    pub memory_refused: u64,
    /// Segment files removed by `--max-bytes-per-source` and `--max-bytes`.
    pub segments_removed: u64,
    /// Their bytes.
    pub bytes_removed: u64,
    /// Bytes of read buffers reserved now.
    pub memory_in_use: u64,
}

impl Counters {
    pub(super) fn bump(c: &AtomicU64) -> u64 {
        c.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(super) fn snapshot(&self, budget: &Budget) -> ServeStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServeStats {
            connections_refused: r(&self.connections_refused),
            auth_refused: r(&self.auth_refused),
            sources_refused: r(&self.sources_refused),
            memory_refused: r(&self.memory_refused),
            segments_removed: r(&self.segments_removed),
            bytes_removed: r(&self.bytes_removed),
            memory_in_use: budget.used() as u64,
        }
    }
}

impl std::fmt::Display for ServeStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused {} connections over --max-connections, {} HELLOs without the token, {} new sources over \
             --max-sources, {} connections over --max-memory; removed {} segments ({} bytes) for disk quotas",
            self.connections_refused,
            self.auth_refused,
            self.sources_refused,
            self.memory_refused,
            self.segments_removed,
            self.bytes_removed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_never_passes_its_limit() {
        let b = Budget::new(100);
        assert_eq!(b.try_reserve(60), Ok(()));
        assert_eq!(b.try_reserve(50), Err(60));
        assert_eq!(b.try_reserve(40), Ok(()));
        assert_eq!(b.try_reserve(1), Err(100));
        assert_eq!(b.try_reserve(usize::MAX), Err(100));
        b.release(60);
        assert_eq!((b.used(), b.try_reserve(60)), (40, Ok(())));
    }
}
