//! The records of a batch, read one after another: the one walk that the consumer's drain
//! loop, its outputs and every decoder command share.
//!
//! A record is `callsite u32, ticks48 (6 bytes LE), arguments`; how many argument bytes
//! follow depends on the call site, which the caller knows (its dictionary) and the batch
//! does not. So [`Records`] takes a lookup from call-site id to [`Layout`]: the whole
//! record length when it is known in advance, otherwise the argument kinds to measure it
//! by. Call-site id [`DROP_MARKER_ID`] is an in-band drop marker of a fixed size. The bytes
//! may be one slice (a batch read from a segment) or the two halves of a ring
//! ([`Split`]).

use super::kinds::{ArgError, ArgKind};
use super::record::Drops;
use super::{DROP_MARKER_ID, DROP_MARKER_PAYLOAD, RECORD_HEADER_LEN};

/// Bytes that may wrap around the end of a ring: `a`, then `b`.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// The first part.
    pub a: &'a [u8],
    /// The continuation.
    pub b: &'a [u8],
}

impl<'a> Split<'a> {
    /// Total length.
    #[inline]
    pub fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    /// Whether both parts are empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `N` bytes at `at`, wherever they lie.
    #[inline(always)]
    pub fn get<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let al = self.a.len();
        if at + N <= al {
            return self.a[at..at + N].try_into().ok();
        }
        // Past the wrap: as common as before it when a ring is drained while it wraps, so
        // inline too (an out-of-line call here cost the drain 10 instructions a record).
        if at >= al {
            let at = at - al;
            return self.b.get(at..at + N)?.try_into().ok();
        }
        self.get_across(at)
    }

    /// [`Split::get`] of bytes that start in `a` and end in `b`.
    #[inline(never)]
    fn get_across<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        if at + N > self.len() {
            return None;
        }
        let mut out = [0u8; N];
        for (i, o) in out.iter_mut().enumerate() {
            let p = at + i;
            *o = if p < self.a.len() { self.a[p] } else { self.b[p - self.a.len()] };
        }
        Some(out)
    }

    /// Calls `f` with the one or two pieces that make up `range`.
    pub fn pieces(&self, start: usize, end: usize, mut f: impl FnMut(&[u8])) {
        let al = self.a.len();
        if start < al {
            f(&self.a[start..end.min(al)]);
        }
        if end > al {
            f(&self.b[start.max(al) - al..end - al]);
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &[u8] {}
    impl Sealed for super::Split<'_> {}
}

/// What records can be read from: one slice, or the two halves of a ring ([`Split`]).
pub trait RecordBytes: Copy + sealed::Sealed {
    /// Total length.
    fn total(&self) -> usize;
    /// `N` bytes at `at`, or `None` if they run past the end.
    fn read<const N: usize>(&self, at: usize) -> Option<[u8; N]>;
}

impl RecordBytes for &[u8] {
    #[inline(always)]
    fn total(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn read<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.get(at..)?.first_chunk::<N>().copied()
    }
}

impl RecordBytes for Split<'_> {
    #[inline(always)]
    fn total(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn read<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.get::<N>(at)
    }
}

/// How long the records of one call site are, as the caller's dictionary knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout<'k> {
    /// Every record of the site is this many bytes, header included (at least
    /// [`RECORD_HEADER_LEN`]; a smaller value makes the record malformed).
    Record(usize),
    /// The site's argument kinds, one byte each ([`ArgKind`]): the length is measured
    /// from the record's bytes.
    Kinds(&'k [u8]),
}

impl<'k> Layout<'k> {
    /// The layout of a site with these argument kinds, and their total size if static
    /// (from [`super::record::static_args_len`]).
    #[inline]
    pub fn of(kinds: &'k [u8], static_args: Option<usize>) -> Layout<'k> {
        match static_args {
            Some(n) => Layout::Record(RECORD_HEADER_LEN + n),
            None => Layout::Kinds(kinds),
        }
    }
}

/// The counts of an in-band drop marker record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropMarker {
    /// Records dropped.
    pub count: u64,
    /// Ticks of the first drop.
    pub first_ticks: u64,
    /// Ticks of the last drop.
    pub last_ticks: u64,
}

impl DropMarker {
    /// The marker as a [`Drops`] report of `thread`.
    #[inline]
    pub fn of_thread(self, thread: u32) -> Drops {
        Drops { thread, count: self.count, first_ticks: self.first_ticks, last_ticks: self.last_ticks }
    }
}

/// One record of a batch, located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Offset of the record in the bytes walked.
    pub at: usize,
    /// Call-site id ([`DROP_MARKER_ID`] for a drop marker).
    pub id: u32,
    /// Low 48 bits of the tick counter (see [`super::unwrap_ticks`]).
    pub ticks48: u64,
    /// Length of the whole record, header included.
    pub len: usize,
    /// For a drop marker, its counts.
    pub drops: Option<DropMarker>,
}

impl Record {
    /// Offset of the record's arguments.
    #[inline]
    pub fn args_at(&self) -> usize {
        self.at + RECORD_HEADER_LEN
    }

    /// Offset just past the record.
    #[inline]
    pub fn end(&self) -> usize {
        self.at + self.len
    }
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Fewer bytes are left than a record header takes.
    Header,
    /// A drop marker's counts run past the end.
    Marker,
    /// The lookup does not know the call site.
    UnknownSite(u32),
    /// The arguments of a record of this call site do not fit, or cannot be measured.
    Args {
        /// The call site.
        id: u32,
        /// What is wrong.
        error: ArgError,
    },
}

impl core::fmt::Display for Malformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Malformed::Header => f.write_str("record header runs past the batch"),
            Malformed::Marker => f.write_str("drop marker runs past the batch"),
            Malformed::UnknownSite(id) => {
                write!(f, "record refers to call site {id}, which no dictionary entry defines")
            }
            Malformed::Args { id, error } => write!(f, "record of call site {id}: {error}"),
        }
    }
}

/// A record that could not be read, and where: the walk ends there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Offset of the record in the bytes walked.
    pub at: usize,
    /// What is wrong.
    pub what: Malformed,
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (record at byte {})", self.what, self.at)
    }
}

impl std::error::Error for RecordError {}

/// The records of a batch, in order. Yields `Err` once, for the first record that cannot
/// be read (its call site unknown, or its bytes malformed), and then nothing: without that
/// record's length the ones after it cannot be found.
///
/// ```
/// use tapelog_format::wire::{Layout, Records, RECORD_HEADER_LEN};
///
/// // Call site 7 takes one u32: 14-byte records.
/// let mut batch = Vec::new();
/// for (ticks, v) in [(100u64, 1u32), (101, 2)] {
///     batch.extend_from_slice(&7u32.to_le_bytes());
///     batch.extend_from_slice(&ticks.to_le_bytes()[..6]);
///     batch.extend_from_slice(&v.to_le_bytes());
/// }
/// let lookup = |id: u32| (id == 7).then_some(Layout::Record(RECORD_HEADER_LEN + 4));
/// let ticks: Vec<u64> = Records::new(&batch[..], lookup).map(|r| r.unwrap().ticks48).collect();
/// assert_eq!(ticks, [100, 101]);
///
/// // An id the lookup does not know ends the walk.
/// batch[14] = 9;
/// let mut it = Records::new(&batch[..], lookup);
/// assert!(it.next().unwrap().is_ok());
/// assert_eq!(it.next().unwrap().unwrap_err().at, 14);
/// assert!(it.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Records<B, L> {
    bytes: B,
    /// Offset of the next record; the end of `bytes` once an error was yielded.
    pos: usize,
    lookup: L,
}

impl<'k, B: RecordBytes, L: FnMut(u32) -> Option<Layout<'k>>> Records<B, L> {
    /// The records of `bytes` from its start, measured through `lookup`.
    #[inline]
    pub fn new(bytes: B, lookup: L) -> Self {
        Records { bytes, pos: 0, lookup }
    }

    /// The records of `bytes` from offset `pos` (a record boundary, such as an earlier
    /// [`Record::end`]).
    #[inline]
    pub fn starting_at(bytes: B, pos: usize, lookup: L) -> Self {
        Records { bytes, pos, lookup }
    }

    /// Offset of the next record (the end, after an error).
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, at: usize, what: Malformed) -> Option<Result<Record, RecordError>> {
        self.pos = self.bytes.total().max(self.pos);
        Some(Err(RecordError { at, what }))
    }
}

impl<'k, B: RecordBytes, L: FnMut(u32) -> Option<Layout<'k>>> Iterator for Records<B, L> {
    type Item = Result<Record, RecordError>;

    // Always inlined: the caller's loop then keeps the record in registers (measured: out of
    // line, returning it through memory cost `tapelog cat` about 55 instructions a record).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let total = self.bytes.total();
        if at >= total {
            return None;
        }
        let Some(h) = self.bytes.read::<RECORD_HEADER_LEN>(at) else { return self.fail(at, Malformed::Header) };
        let id = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let ticks48 = u64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], 0, 0]);
        if id == DROP_MARKER_ID {
            return self.marker(at, ticks48);
        }
        let len = match (self.lookup)(id) {
            Some(Layout::Record(len)) => len,
            Some(Layout::Kinds(kinds)) => match args_len_in(self.bytes, at + RECORD_HEADER_LEN, kinds) {
                Ok(n) => RECORD_HEADER_LEN + n,
                Err(error) => return self.fail(at, Malformed::Args { id, error }),
            },
            None => return self.fail(at, Malformed::UnknownSite(id)),
        };
        // One comparison for both `len < RECORD_HEADER_LEN` (which wraps around) and
        // `at + len > total`; the header was read, so `total - at >= RECORD_HEADER_LEN`.
        if len.wrapping_sub(RECORD_HEADER_LEN) > total - at - RECORD_HEADER_LEN {
            return self.fail(at, Malformed::Args { id, error: ArgError::Truncated });
        }
        self.pos = at + len;
        Some(Ok(Record { at, id, ticks48, len, drops: None }))
    }
}

impl<'k, B: RecordBytes, L: FnMut(u32) -> Option<Layout<'k>>> Records<B, L> {
    /// The drop marker at `at`, whose header is read.
    #[inline(never)]
    fn marker(&mut self, at: usize, ticks48: u64) -> Option<Result<Record, RecordError>> {
        let Some(p) = self.bytes.read::<DROP_MARKER_PAYLOAD>(at + RECORD_HEADER_LEN) else {
            return self.fail(at, Malformed::Marker);
        };
        let u =
            |i: usize| u64::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7]]);
        let drops = Some(DropMarker { count: u(0), first_ticks: u(8), last_ticks: u(16) });
        let len = RECORD_HEADER_LEN + DROP_MARKER_PAYLOAD;
        self.pos = at + len;
        Some(Ok(Record { at, id: DROP_MARKER_ID, ticks48, len, drops }))
    }
}

/// Length of the arguments with these kinds at `at` of `s`; every argument must lie within
/// `s` (so the first error is the one [`super::record::args_len`] reports).
#[inline(never)]
fn args_len_in<B: RecordBytes>(s: B, at: usize, kinds: &[u8]) -> Result<usize, ArgError> {
    let total = s.total();
    let mut off = at;
    for &k in kinds {
        let kind = ArgKind(k);
        if let Some(n) = kind.static_size() {
            off += n;
        } else {
            let mut base = kind;
            if kind.is_option() {
                let [tag] = s.read::<1>(off).ok_or(ArgError::Truncated)?;
                off += 1;
                match tag {
                    0 => continue,
                    1 => base = kind.base(),
                    _ => return Err(ArgError::Invalid("option tag")),
                }
            }
            off += match base.fixed_size() {
                Some(n) => n,
                None if base == ArgKind::STR || base == ArgKind::BYTES => {
                    4 + u32::from_le_bytes(s.read::<4>(off).ok_or(ArgError::Truncated)?) as usize
                }
                None if base == ArgKind::SERDE => {
                    8 + u32::from_le_bytes(s.read::<4>(off + 4).ok_or(ArgError::Truncated)?) as usize
                }
                None => return Err(ArgError::UnknownKind(base.0)),
            };
        }
        if off > total {
            return Err(ArgError::Truncated);
        }
    }
    Ok(off - at)
}

/// Length of the whole record (header and arguments) at `at`, given its call site's kinds
/// (and their total size, if static).
#[inline]
pub fn record_len_split(s: Split<'_>, at: usize, kinds: &[u8], static_len: Option<usize>) -> Result<usize, ArgError> {
    let total = match static_len {
        Some(n) => RECORD_HEADER_LEN + n,
        None => RECORD_HEADER_LEN + args_len_in(s, at + RECORD_HEADER_LEN, kinds)?,
    };
    if at + total > s.len() {
        return Err(ArgError::Truncated);
    }
    Ok(total)
}

/// Calls `f` with the shape id of every serde argument of the record at `at` (whose length,
/// from [`record_len_split`], is known to be in `s`).
pub fn for_each_shape(s: Split<'_>, at: usize, kinds: &[u8], mut f: impl FnMut(u32)) -> Result<(), ArgError> {
    let mut off = at + RECORD_HEADER_LEN;
    for &k in kinds {
        let kind = ArgKind(k);
        if let Some(n) = kind.static_size() {
            off += n;
            continue;
        }
        let mut base = kind;
        if kind.is_option() {
            let [tag] = s.get::<1>(off).ok_or(ArgError::Truncated)?;
            off += 1;
            if tag == 0 {
                continue;
            }
            base = kind.base();
        }
        off += match base.fixed_size() {
            Some(n) => n,
            None if base == ArgKind::SERDE => {
                let id = u32::from_le_bytes(s.get::<4>(off).ok_or(ArgError::Truncated)?);
                f(id);
                8 + u32::from_le_bytes(s.get::<4>(off + 4).ok_or(ArgError::Truncated)?) as usize
            }
            None => 4 + u32::from_le_bytes(s.get::<4>(off).ok_or(ArgError::Truncated)?) as usize,
        };
    }
    Ok(())
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
