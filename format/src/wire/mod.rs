//! The segment wire format, shared by the writer (the consumer thread) and every reader
//! (`tapelog-decoder`). `docs/FORMAT.md` is the prose grammar; this module is the code, and
//! the two must agree.
//!
//! A segment is a file header followed by entries. Every entry is
//! `kind: u8, len: u32 (payload bytes), crc32: u32, payload`, so a reader can skip kinds it
//! does not know and detects damage to any entry (the CRC covers kind, length and payload). Payloads only ever grow by appending fields: a reader takes the fields it knows from
//! the front and ignores the rest.

pub mod batch;
pub mod header;
pub mod kinds;
pub mod name;
pub mod reader;
pub mod record;
mod value;

pub use batch::{DropMarker, Layout, Malformed, Record, RecordError, Records, Split};
pub use header::{FileHeader, Metadata};
pub use kinds::ArgKind;
pub use name::{SegmentName, FILE_PREFIX};
pub use reader::{Entry, EntryReader, ReadError};
pub use value::{recycle, Value};

/// The 8 magic bytes at the start of every segment.
pub const MAGIC: [u8; 8] = *b"TAPELOG\0";

/// The format version this library writes.
pub const FORMAT_VERSION: u16 = 1;

/// The oldest format version this library reads.
pub const MIN_READ_VERSION: u16 = 1;

/// File extension of segment files (without the dot).
pub const SEGMENT_EXT: &str = "tlog";

/// Bytes in an entry header: kind (u8), payload length (u32), CRC-32 (u32) of kind, length
/// and payload.
pub const ENTRY_HEADER_LEN: usize = 9;

/// The CRC-32 (IEEE) an entry header carries: over its kind byte, its length bytes, and its
/// payload (given in pieces).
pub fn entry_crc<'a>(kind: u8, len: u32, payload: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(&len.to_le_bytes());
    for p in payload {
        h.update(p);
    }
    h.finalize()
}

/// Entry kinds. Values are fixed forever; new kinds get new numbers.
pub mod entry {
    /// A call site: id, level, line, format string, module path, file, argument kinds.
    pub const CALLSITE: u8 = 1;
    /// A producer thread: id, OS thread id, name.
    pub const THREAD: u8 = 2;
    /// A calibration anchor: (ticks, Unix ns, ticks per second).
    pub const ANCHOR: u8 = 3;
    /// A batch of records from one thread.
    pub const BATCH: u8 = 4;
    /// Records of one thread that were dropped (counted by the consumer).
    pub const DROPS: u8 = 5;
    /// A thread's stream ended (the thread exited, or the logger shut down).
    pub const THREAD_END: u8 = 6;
    /// The shape of serde values: id and descriptor.
    pub const SHAPE: u8 = 7;
    /// A logger started (its configuration) or stopped cleanly (its totals).
    pub const RUN: u8 = 8;
    /// Records of one thread that the flight recorder kept in memory and a dump wrote out:
    /// a BATCH payload, marked.
    pub const RECORDED: u8 = 9;
    /// One flight-recorder dump: how many records, their time span, and what triggered it.
    pub const DUMP: u8 = 10;
}

/// Bytes of the fixed part of a BATCH payload: thread (u32), base ticks (u64).
pub const BATCH_FIXED_LEN: usize = 12;

/// Bytes of a record header: call-site id (u32) and the low 48 bits of the tick counter.
pub const RECORD_HEADER_LEN: usize = 10;

/// Call-site id reserved for an in-band drop marker record written by the producer itself:
/// its payload is `count: u64, first_ticks: u64, last_ticks: u64`.
pub const DROP_MARKER_ID: u32 = 0;

/// Payload bytes of an in-band drop marker record.
pub const DROP_MARKER_PAYLOAD: usize = 24;

/// Log levels on the wire (`Level as u8`).
pub mod level {
    /// TRACE
    pub const TRACE: u8 = 0;
    /// DEBUG
    pub const DEBUG: u8 = 1;
    /// INFO
    pub const INFO: u8 = 2;
    /// WARN
    pub const WARN: u8 = 3;
    /// ERROR
    pub const ERROR: u8 = 4;
}

/// Rebuilds a full 64-bit tick value from its low 48 bits and a nearby full value (the batch's
/// base ticks). The result is the value with those low bits that lies closest to `base`, so it
/// is exact as long as the record was stamped within 2^47 ticks (about 13 hours at 3 GHz) of
/// the batch being drained.
#[inline]
pub fn unwrap_ticks(low48: u64, base: u64) -> u64 {
    const SPAN: u64 = 1 << 48;
    let low48 = low48 & (SPAN - 1);
    let candidate = (base & !(SPAN - 1)) | low48;
    let diff = candidate.wrapping_sub(base) as i64;
    if diff > (SPAN / 2) as i64 {
        candidate.wrapping_sub(SPAN)
    } else if diff < -((SPAN / 2) as i64) {
        candidate.wrapping_add(SPAN)
    } else {
        candidate
    }
}

/// Little-endian field readers over a byte slice that report how far they got.
pub mod le {
    /// The little-endian `u16` at `b[at..at + 2]`, or `None` if `b` is too short.
    #[inline]
    pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }
    /// The little-endian `u32` at `b[at..at + 4]`, or `None` if `b` is too short.
    #[inline]
    pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    /// The little-endian `u64` at `b[at..at + 8]`, or `None` if `b` is too short.
    #[inline]
    pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::unwrap_ticks;

    #[test]
    fn unwrap_ticks_recovers_values_near_the_base() {
        for &base in &[0u64, 1 << 20, (1 << 48) - 5, (1 << 48) + 5, u64::MAX - 1000, 0x1234_5678_9abc_def0] {
            for &delta in &[0i64, -1, 1, -1_000_000, 1_000_000, -(1 << 40), 1 << 40] {
                let t = base.wrapping_add(delta as u64);
                assert_eq!(unwrap_ticks(t & ((1 << 48) - 1), base), t, "base {base} delta {delta}");
            }
        }
    }
}
