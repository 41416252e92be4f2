//! Synchronization that tapelog wrote itself, beside the rings `rtrb` provides (the flush
//! barrier, the handover of new rings at registration and shutdown, the ring memory
//! budget's counter, and the append-only table of call sites and shapes), in a form
//! loom can model-check: its atomics, mutexes and condition variables come from
//! [`primitive`], which switches to loom's under `cfg(loom)` (as crossbeam-epoch does).
//!
//! Run the models with `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p tapelog --lib loom`.

pub(crate) mod budget;
pub(crate) mod flush;
pub(crate) mod handover;
pub(crate) mod primitive;
pub(crate) mod table;

/// Runs a loom model of this module's synchronization. Three preemptions find the known
/// classes of bugs in seconds; `LOOM_MAX_PREEMPTIONS` (read by `Builder::new`) searches
/// deeper (scripts/verify-long.sh). `tapelog-segment` runs its own models the same way.
#[cfg(all(test, loom))]
pub(crate) fn loom_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}
