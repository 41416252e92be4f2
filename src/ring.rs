//! Making a thread's ring: faulted in before its first record, within the process's ring
//! memory budget.
//!
//! `rtrb::RingBuffer::new` hands back memory the kernel has not mapped yet, so the first
//! pass of a producer through its ring would take a page fault every 4 KiB, on the hot path
//! (several microseconds each on a VM). [`make`] writes every page of a new ring once, while
//! the thread attaches (or in [`preallocate`](crate::preallocate)), so no later call touches
//! an unmapped page. Rings of 4 MiB and more are first advised as huge pages
//! (`MADV_HUGEPAGE`): where transparent huge pages are enabled in `madvise` mode, a 64 MiB
//! ring is then 32 faults at attach instead of 16,384, and the hot path's stores stay in a
//! few TLB entries.
//!
//! Faulted-in memory is real memory, so every ring is leased from one process-wide budget
//! ([`Builder::max_ring_memory`](crate::Builder::max_ring_memory)). Once the budget has room
//! for fewer than four more full rings, new rings are made smaller (halved, down to
//! [`RING_FLOOR`]); a thread for which not even that fits gets no ring, and its calls are
//! dropped and counted until a ring frees up. A lease goes back to the budget when both
//! halves of its ring are freed (the thread exited or moved to a new logger, and the
//! consumer drained and dropped its half): until then the memory is still held.
//!
//! This module imports only the budget's counter (`sync::budget`, loom-checked): the hot
//! path, the consumer and `shared` all import it.

use crate::sync::budget::Budget;

/// The smallest ring the budget shrinks a ring to (unless the configured one is smaller).
pub const RING_FLOOR: usize = 64 << 10;

/// Rings at least this large are advised as huge pages before they are faulted in (unless
/// [`Builder::huge_pages`](crate::Builder::huge_pages) is off).
const HUGE_RING: usize = 4 << 20;

/// Bytes of ring leased now, process-wide (every logger's, until freed).
pub(crate) fn leased() -> &'static Budget {
    static LEASED: std::sync::OnceLock<Budget> = std::sync::OnceLock::new();
    LEASED.get_or_init(Budget::new)
}

/// Ring bytes out of a budget counter, returned when dropped (with the consumer's half of
/// the ring it pays for).
#[derive(Debug)]
pub(crate) struct Lease {
    bytes: usize,
    from: &'static Budget,
}

impl Lease {
    /// Takes `bytes` from `from`, if the total stays within `limit`.
    fn take(from: &'static Budget, bytes: usize, limit: usize) -> Option<Lease> {
        from.lease(bytes, limit).then_some(Lease { bytes, from })
    }

    /// Bytes this lease holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.from.give_back(self.bytes);
    }
}

/// Whether a ring of at least the floor for `wanted` could be leased now (a cheap check for
/// threads the budget refused before, so they do not take a lock on every call).
pub(crate) fn could_lease(from: &Budget, wanted: usize, limit: usize) -> bool {
    wanted.min(RING_FLOOR) <= from.left(limit)
}

/// A new ring with every page faulted in, leased from `from` (in the logger: [`leased`])
/// within `limit`; `None` if not even the floor fits. With `huge`, a ring of 4 MiB or more
/// is advised as huge pages first.
///
/// Its size is `wanted` while the budget has room for four more such rings; past that, the
/// largest power-of-two fraction of `wanted` (down to the floor) that is at most a quarter of
/// what is left, so that a budget running out serves many threads with smaller rings rather
/// than a few with full ones and the rest with none.
pub(crate) fn make(
    from: &'static Budget,
    wanted: usize,
    limit: usize,
    huge: bool,
) -> Option<(rtrb::Producer<u8>, rtrb::Consumer<u8>, Lease)> {
    let floor = wanted.min(RING_FLOOR);
    let lease = loop {
        let left = from.left(limit);
        let mut cap = wanted;
        while cap > left / 4 && cap / 2 >= floor {
            cap /= 2;
        }
        if cap > left {
            return None;
        }
        // Another thread may have leased in between: then look again.
        if let Some(l) = Lease::take(from, cap, limit) {
            break l;
        }
    };
    let cap = lease.bytes;
    let (mut producer, consumer) = rtrb::RingBuffer::<u8>::new(cap);
    fault_in(&mut producer, cap, huge && cap >= HUGE_RING);
    Some((producer, consumer, lease))
}

/// Writes every byte of an empty ring once (without committing anything), so its pages are
/// mapped before the first record.
fn fault_in(producer: &mut rtrb::Producer<u8>, cap: usize, huge: bool) {
    // A new ring is empty: the whole capacity is one writable chunk.
    let Ok(mut chunk) = producer.write_chunk_uninit(cap) else { return };
    let (a, b) = chunk.as_mut_slices();
    for s in [a, b] {
        if s.is_empty() {
            continue;
        }
        if huge {
            advise_huge(s.as_mut_ptr().cast(), s.len());
        }
        // SAFETY: `s` is `s.len()` bytes of ring memory this producer may write; writing
        // `MaybeUninit<u8>` slots with zeros is always valid.
        unsafe { core::ptr::write_bytes(s.as_mut_ptr(), 0, s.len()) };
    }
    // Dropped without a commit: the consumer sees nothing, the pages stay mapped.
}

/// Asks for transparent huge pages over the whole 2 MiB pages inside `[p, p + len)`.
/// Advisory: any failure (no THP, another OS) leaves ordinary pages.
fn advise_huge(p: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const HUGE: usize = 2 << 20;
        let start = (p as usize).next_multiple_of(HUGE);
        let end = (p as usize + len) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside memory this ring owns; MADV_HUGEPAGE changes
            // only how the kernel backs it, never its contents or validity.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(any(not(target_os = "linux"), miri))]
    let _ = (p, len);
}

/// A buffer of `n` bytes' capacity whose memory has been written once (so its first use
/// takes no page fault), left empty.
pub(crate) fn touched(n: usize) -> Vec<u8> {
    // Not `vec![0; n]`: calloc may hand back fresh zero pages it never writes, which would
    // fault on first use after all.
    let mut v = vec![0; n];
    // The writes must happen even though nothing reads them before `clear`.
    std::hint::black_box(v.as_mut_slice());
    v.clear();
    v
}

/// The default budget: an eighth of physical memory, at least 256 MiB (read once).
pub(crate) fn default_budget() -> usize {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| physical_memory().map_or(usize::MAX, |m| (m / 8).max(256 << 20)))
}

fn physical_memory() -> Option<usize> {
    // (Miri cannot ask the OS: there the budget is unlimited.)
    #[cfg(all(unix, not(miri)))]
    {
        // SAFETY: sysconf only reads system parameters.
        let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
        if pages > 0 && size > 0 {
            return (pages as usize).checked_mul(size as usize);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_shrink_to_the_floor_then_are_refused_and_leases_come_back() {
        // A budget of its own: other tests' loggers lease from `leased()` meanwhile.
        static USED: std::sync::OnceLock<Budget> = std::sync::OnceLock::new();
        let used = USED.get_or_init(Budget::new);
        let limit = 6 << 20;
        // Full rings while four more would fit: 6 MiB left, then 5, then 4.
        let full: Vec<_> = (0..3).map(|_| make(used, 1 << 20, limit, true).expect("fits")).collect();
        assert!(full.iter().all(|r| r.2.bytes() == 1 << 20));
        // 3 MiB left: a quarter of it is 768 KiB, so 512 KiB rings, and so on down.
        let mut sizes = Vec::new();
        let mut rings = Vec::new();
        while let Some(r) = make(used, 1 << 20, limit, true) {
            sizes.push(r.2.bytes());
            rings.push(r);
        }
        assert_eq!(sizes[0], 1 << 19);
        assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), RING_FLOOR, "{sizes:?}");
        let held = used.used();
        assert!(held <= limit && limit - held < RING_FLOOR, "{held}");
        assert!(!could_lease(used, 1 << 20, limit));
        let (mut p3, _c3, c) = rings.pop().unwrap();
        assert_eq!(p3.buffer().capacity(), RING_FLOOR);
        drop(c);
        assert!(could_lease(used, 1 << 20, limit));
        assert_eq!(used.used(), held - RING_FLOOR);
        // The faulted-in ring is empty and fully writable.
        assert_eq!(p3.slots(), RING_FLOOR);
        assert!(p3.write_chunk_uninit(RING_FLOOR).is_ok());
        // A ring smaller than the floor is never shrunk below what was asked.
        let (_p4, _c4, d) = make(used, 4096, usize::MAX, true).unwrap();
        assert_eq!(d.bytes(), 4096);
    }
}
