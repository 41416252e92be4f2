//! Synchronization that tapelog wrote itself, beside the rings `rtrb` provides (the flush
//! barrier, and the handover of new rings at registration and shutdown), in a form
//! loom can model-check: its atomics, mutexes and condition variables come from
//! [`primitive`], which switches to loom's under `cfg(loom)` (as crossbeam-epoch does).
//!
//! Run the models with `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p tapelog --lib loom`.

pub(crate) mod flush;
pub(crate) mod handover;
pub(crate) mod primitive;
