//! The seam between the drain loop and everything it feeds: one [`Output`] trait, and the
//! [`Batch`] it hands each output.
//!
//! The drain loop (`consumer/`) frames each batch of records it takes from a ring into the
//! main segments (the tape every other output is a view of), then hands it once to every
//! output in its list. It knows nothing else about them; an output knows nothing of the
//! others. The outputs, one file each:
//! - [`routed`]: named segment outputs (`Output::segments`), the records their route picks;
//! - `crate::sink::text`: text files, stdout/stderr, syslog and the program's own sinks,
//!   which share one formatting pass per record;
//! - `crate::net::sender`: the network stream to a collector.
//!
//! (Not to be confused with the public [`crate::Output`], the configuration of a named
//! output.)

pub(crate) mod routed;

use std::time::Instant;

use crate::consumer::dictionary::Dictionary;
use crate::counters::ThreadShared;
use crate::wire::record::{Anchor, Drops, DumpEntry, Split};

/// Records of one thread that the drain loop took, with what is needed to take them apart.
pub(crate) struct Batch<'a> {
    /// The thread that logged them (or the consumer's own stream).
    pub thread: &'a ThreadShared,
    /// The records are `split[start..end]`: whole records, each already taken apart once.
    pub split: Split<'a>,
    pub start: usize,
    pub end: usize,
    /// Tick values in the records are near this one (see `wire::unwrap_ticks`).
    pub base: u64,
    /// Records in it (drop markers not counted).
    pub records: u64,
    /// The whole BATCH entry (framing, CRC, records) as the main segments hold it; `None`
    /// when no segments are written (`Builder::segments(false)` without a network stream).
    pub framed: Option<&'a [u8]>,
    /// Records the flight recorder kept and a dump writes out now (framed as RECORDED).
    pub recorded: bool,
    /// Every call site and shape the records use.
    pub dict: &'a Dictionary,
    /// The sink that logged these records (1-based; 0 for none): the text outputs do not
    /// hand them back to it.
    pub origin: u32,
    /// The latest calibration anchor, to turn ticks into wall-clock time.
    pub anchor: &'a Anchor,
}

/// What the drain loop tells its outputs at the end of a pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pass {
    /// The pass took records.
    pub work: bool,
    /// A `flush()` (or a fatal signal) waits on this pass: hand everything over now.
    pub flush: bool,
}

/// One output of the drain loop. Every method runs on the consumer thread and must not
/// block on anything a program thread holds; an output that may block (a network peer, a
/// slow disk, a user's sink) keeps a bounded queue and a thread of its own.
pub(crate) trait Output {
    /// A batch of records.
    fn batch(&mut self, b: &Batch<'_>);

    /// A dictionary entry (CALLSITE, THREAD, SHAPE, ANCHOR) the main segments just took,
    /// or would have taken had they room.
    fn dict(&mut self, _kind: u8, _payload: &[u8]) {}

    /// A new calibration anchor.
    fn anchor(&mut self, _a: Anchor) {}

    /// Records of `thread` dropped before the consumer took them; `now` is the ticks of
    /// the report.
    fn drops(&mut self, _thread: &ThreadShared, _d: &Drops, _now: u64, _anchor: &Anchor) {}

    /// A flight-recorder dump is complete (its DUMP entry; its records came as batches
    /// marked `recorded`).
    fn dump(&mut self, _d: &DumpEntry<'_>, _anchor: &Anchor) {}

    /// A thread's stream is over (THREAD_END payload).
    fn thread_end(&mut self, _thread: u32, _payload: &[u8]) {}

    /// The end of a drain pass.
    fn end_pass(&mut self, _pass: Pass) {}

    /// `flush()` with `Durability::SyncOnFlush`: make what was handed over durable.
    fn sync(&mut self) {}

    /// Shutdown: hand over what is left and stop, waiting until `deadline` at most.
    fn close(&mut self, _deadline: Instant) {}
}
