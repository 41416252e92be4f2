//! Policies: what a log call does when its ring is full ([`Overflow`]), what the consumer
//! does when every ring is empty ([`Idle`]), and what `flush()` promises ([`Durability`]).
//!
//! Plain values set on the [`Builder`](crate::Builder) or an [`Output`](crate::Output) and
//! read by the hot path and the consumer. This module imports nothing of the runtime, so
//! each of them can name a policy without importing the others.

/// What a log call does when its thread's ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Never wait: the record is dropped and counted, and an in-band marker ("thread T
    /// dropped N records between t1 and t2") is written once the ring has room. The default:
    /// a log call must never stall the caller.
    Drop,
    /// Wait (spin, then yield) until the consumer makes room. No record is lost, but a caller
    /// can stall for as long as the consumer is behind.
    Block,
}

/// What the consumer does when every ring is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Idle {
    /// Spin forever: lowest latency, one core at 100%.
    BusySpin,
    /// Spin briefly, then yield, then sleep in steps up to about 1 ms (the default): an idle
    /// application costs almost no CPU.
    Backoff,
}

/// How hard `flush()` works to make records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Records reach the page cache (they survive a crash of the process, not of the
    /// machine). The default.
    None,
    /// `flush()` also `msync`s the written part of the segment to the device.
    SyncOnFlush,
}
