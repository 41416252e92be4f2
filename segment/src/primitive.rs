//! The one place this crate's synchronization primitives come from: the standard library's,
//! or loom's model-checked ones under `cfg(loom)`.

#[cfg(loom)]
pub(crate) use loom::{sync::atomic::fence, sync::atomic::AtomicU64, thread::yield_now};
#[cfg(not(loom))]
pub(crate) use std::{sync::atomic::fence, sync::atomic::AtomicU64, thread::yield_now};
