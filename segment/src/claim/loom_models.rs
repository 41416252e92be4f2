//! The hand-over of a segment's tail: the consumer claims a chunk and writes it while the
//! helper may be zero-filling it. `bytes` stands for the chunk; loom reports any access to
//! it by both threads that is not ordered.

use super::Claim;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

const CHUNK: usize = 8;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

#[test]
fn loom_the_helper_never_overwrites_what_the_consumer_wrote() {
    model(|| {
        let claim = Arc::new(Claim::new(0));
        let bytes = Arc::new(UnsafeCell::new(0u8));
        let helper = {
            let (claim, bytes) = (claim.clone(), bytes.clone());
            thread::spawn(move || {
                // SAFETY: `fill` runs this only while the consumer keeps off the chunk.
                claim.fill(0, || bytes.with_mut(|b| unsafe { *b = 0 }));
            })
        };
        claim.take_up_to(CHUNK);
        // SAFETY: `take_up_to` returned, so the helper is not writing the chunk.
        bytes.with_mut(|b| unsafe { *b = 1 });
        helper.join().unwrap();
        // SAFETY: both threads are done.
        assert_eq!(bytes.with(|b| unsafe { *b }), 1, "the helper's zeros landed on the consumer's data");
    });
}

#[test]
fn loom_finalization_waits_for_a_chunk_in_progress() {
    model(|| {
        let claim = Arc::new(Claim::new(CHUNK));
        // Stands for the mapping, which finalization unmaps.
        let mapped = Arc::new(UnsafeCell::new(true));
        let helper = {
            let (claim, mapped) = (claim.clone(), mapped.clone());
            thread::spawn(move || {
                // SAFETY: `fill` runs this only before finalization has claimed everything.
                claim.fill(CHUNK, || assert!(mapped.with(|m| unsafe { *m }), "wrote to an unmapped segment"));
            })
        };
        claim.take_up_to(usize::MAX);
        // SAFETY: everything is claimed, so the helper no longer looks at the mapping.
        mapped.with_mut(|m| unsafe { *m = false });
        helper.join().unwrap();
    });
}
