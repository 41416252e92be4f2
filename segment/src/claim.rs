//! The hand-over of a live segment's unwritten tail between the consumer, which writes it,
//! and the helper thread, which writes zeros ahead of it ([`crate::prepare`]).

use std::sync::atomic::Ordering;

use crate::primitive::{self, fence, yield_now};

/// `Claim::helper` when the helper is not writing.
const IDLE: u64 = u64::MAX;

/// Who may write where in one live segment. The consumer owns `0..consumer` and grows it
/// before it writes past it; the helper writes zeros only to a chunk at or past it, and says
/// which first. This is Dekker's pattern: each side stores its own word, then a `SeqCst`
/// fence, then loads the other's word. The two fences are ordered one way or the other in
/// the single total order of `SeqCst` operations, and the side whose fence comes second sees
/// the other's store: either the helper sees the new claim and skips the chunk, or the
/// consumer sees the chunk in progress and waits until the helper is past it.
///
/// Its atomics come from `crate::primitive` and its fence switches with them, so the
/// loom models (`claim/loom_models.rs`) check it. (They need the fences: loom treats `SeqCst`
/// loads and stores as `AcqRel`, which is too weak for this pattern, but models `SeqCst`
/// fences.)
#[derive(Debug)]
pub(crate) struct Claim {
    /// End of the prefix the consumer owns (bytes); only grows; `u64::MAX` from finalization
    /// on.
    consumer: primitive::AtomicU64,
    /// Start of the chunk the helper is writing, or `IDLE`. Every store is `Release` and made
    /// after the zeros of the chunks before it are written.
    helper: primitive::AtomicU64,
}

impl Claim {
    pub(crate) fn new(owned: usize) -> Claim {
        Claim { consumer: primitive::AtomicU64::new(owned as u64), helper: primitive::AtomicU64::new(IDLE) }
    }

    /// Consumer side: takes `0..end`, waiting for a chunk the helper is writing below `end`.
    pub(crate) fn take_up_to(&self, end: usize) {
        let end = end as u64;
        // Relaxed: the fence after it orders it for the helper (Dekker's pattern, see the
        // type's docs); the claim publishes no data.
        self.consumer.store(end, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let mut spins = 0u32;
        loop {
            // Acquire pairs with the helper's Release stores: once it is idle or past `end`,
            // the zeros it wrote below `end` happen before our writes there.
            let h = self.helper.load(Ordering::Acquire);
            if h == IDLE || h >= end {
                return;
            }
            spins += 1;
            if spins < 64 && !cfg!(loom) {
                std::hint::spin_loop();
            } else {
                // The helper may share our core: let it finish its chunk.
                yield_now();
            }
        }
    }

    /// Helper side: runs `write` on the chunk at `start` unless the consumer has claimed it.
    pub(crate) fn fill(&self, start: usize, write: impl FnOnce()) {
        let start = start as u64;
        // Release: publishes the zeros of the chunks before this one (see the field's docs);
        // the fence orders it before our load of the claim (Dekker's pattern).
        self.helper.store(start, Ordering::Release);
        fence(Ordering::SeqCst);
        // Relaxed: we only need the value; when it says the chunk is claimed we touch nothing.
        if self.consumer.load(Ordering::Relaxed) <= start {
            write();
        }
        // Release: the consumer's Acquire load of this store orders our zeros before its writes.
        self.helper.store(IDLE, Ordering::Release);
    }
}

#[cfg(all(test, loom))]
mod loom_models;
