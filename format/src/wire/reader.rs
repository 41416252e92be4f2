//! Reading entries from a segment without trusting it: every length is checked against what
//! the file holds before anything is allocated, and every failure names its byte offset.

use std::io;

use super::header::{FileHeader, HeaderError, FIXED_LEN};
use super::record::{
    Anchor, BatchHead, CallsiteEntry, Drops, DumpEntry, PayloadError, RunInfo, ShapeEntry, ThreadEnd, ThreadEntry,
};
use super::{entry, le, ENTRY_HEADER_LEN};

/// Positional reads, so several cursors can share one open file.
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Total length of the source in bytes.
    fn size(&self) -> io::Result<u64>;
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = (offset.min(self.len() as u64)) as usize;
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for std::sync::Arc<T> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

/// What went wrong while reading, and where.
#[derive(Debug)]
pub enum ReadError {
    /// The file header is unusable.
    Header(HeaderError),
    /// The data ends inside an entry: a torn tail (crash, or a file cut short). Everything
    /// before `offset` was valid.
    Torn {
        /// Where the incomplete entry starts.
        offset: u64,
        /// Bytes the entry needed past `offset`.
        need: u64,
        /// Bytes the file holds past `offset`.
        have: u64,
    },
    /// An entry's bytes are not what its kind promises.
    Corrupt {
        /// Byte offset of the entry.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// An entry's payload does not match its checksum.
    Checksum {
        /// Byte offset of the entry.
        offset: u64,
    },
    /// The operating system failed to read.
    Io(io::Error),
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReadError::Header(e) => e.fmt(f),
            ReadError::Torn { offset, need, have } => write!(
                f,
                "torn tail at byte {offset}: entry needs {need} bytes, {have} present (writer crashed, is still writing, or the file was cut)"
            ),
            ReadError::Corrupt { offset, what } => write!(f, "corrupt entry at byte {offset}: {what}"),
            ReadError::Checksum { offset } => write!(f, "corrupt entry at byte {offset}: checksum mismatch"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl ReadError {
    /// Whether this is a torn tail (expected after a crash) rather than damage.
    pub fn is_torn(&self) -> bool {
        matches!(self, ReadError::Torn { .. })
    }

    /// The byte offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            ReadError::Torn { offset, .. } | ReadError::Corrupt { offset, .. } | ReadError::Checksum { offset } => {
                Some(*offset)
            }
            _ => None,
        }
    }
}

/// One decoded entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A call site's dictionary entry.
    Callsite(CallsiteEntry<'a>),
    /// A thread's dictionary entry.
    Thread(ThreadEntry<'a>),
    /// A calibration anchor.
    Anchor(Anchor),
    /// A batch of records.
    Batch(BatchHead, &'a [u8]),
    /// Records lost, counted by the consumer.
    Drops(Drops),
    /// A thread's stream ended.
    ThreadEnd(ThreadEnd),
    /// The shape of serde values with this id in this segment.
    Shape(ShapeEntry<'a>),
    /// A logger's start or clean stop.
    Run(RunInfo<'a>),
    /// Records the flight recorder kept and a dump wrote out (a BATCH payload, marked).
    Recorded(BatchHead, &'a [u8]),
    /// One flight-recorder dump.
    Dump(DumpEntry<'a>),
    /// A kind this version does not know; skipped.
    Unknown {
        /// The entry kind.
        kind: u8,
        /// Its payload length.
        len: u32,
    },
}

/// Largest entry payload a reader will load, whatever a length field claims.
pub const MAX_ENTRY_LEN: u64 = 1 << 30;

const WINDOW: usize = 64 * 1024;

/// Sequential reader of the entries of one segment.
#[derive(Debug)]
pub struct EntryReader<R> {
    src: R,
    header: FileHeader,
    pos: u64,
    end: u64,
    file_len: u64,
    win: Vec<u8>,
    win_start: u64,
    big: Vec<u8>,
    /// Set once [`Self::next_checked`] met damage it cannot read past; cleared by
    /// [`Self::seek`] and [`Self::refresh`].
    stopped: bool,
}

impl<R: ReadAt> EntryReader<R> {
    /// Reads and checks the header. Entries are then read from the header's end up to the
    /// committed length (or the file's end, if the file is shorter: a torn file).
    pub fn open(src: R) -> Result<Self, ReadError> {
        let file_len = src.size()?;
        let mut fixed = vec![0u8; FIXED_LEN.min(file_len as usize)];
        read_exact_at(&src, &mut fixed, 0)?;
        let need = FileHeader::needed_len(&fixed).map_err(ReadError::Header)?;
        if (need as u64) > file_len {
            return Err(ReadError::Header(HeaderError::Truncated { need, have: file_len as usize }));
        }
        let mut hb = vec![0u8; need];
        read_exact_at(&src, &mut hb, 0)?;
        let header = FileHeader::decode(&hb).map_err(ReadError::Header)?;
        let pos = header.header_len as u64;
        if header.committed != 0 && header.committed < pos {
            return Err(ReadError::Header(HeaderError::Corrupt {
                offset: 16,
                what: "committed length inside the header",
            }));
        }
        let end = header.committed.max(pos);
        Ok(EntryReader {
            src,
            header,
            pos,
            end,
            file_len,
            win: Vec::new(),
            win_start: 0,
            big: Vec::new(),
            stopped: false,
        })
    }

    /// The source being read.
    pub fn source(&self) -> &R {
        &self.src
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// Offset of the next entry.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Continues reading at `pos` (an entry boundary previously returned by [`Self::pos`]).
    pub fn seek(&mut self, pos: u64) {
        self.pos = pos;
        self.stopped = false;
    }

    /// Where the committed data ends (bounded by the file's length).
    pub fn end(&self) -> u64 {
        self.end.min(self.file_len)
    }

    /// Re-reads the committed length and file size (for following a live segment).
    pub fn refresh(&mut self) -> Result<(), ReadError> {
        self.file_len = self.src.size()?;
        let mut b = [0u8; 8];
        read_exact_at(&self.src, &mut b, super::header::COMMITTED_OFFSET as u64)?;
        let c = u64::from_le_bytes(b);
        let mut f = [0u8; 2];
        read_exact_at(&self.src, &mut f, super::header::FLAGS_OFFSET as u64)?;
        self.header.flags = u16::from_le_bytes(f);
        self.header.committed = c;
        self.end = c.max(self.header.header_len as u64);
        self.win.clear();
        self.stopped = false;
        Ok(())
    }

    /// Reads the next entry's header without loading the payload. `Ok(None)` at the
    /// committed end.
    pub fn next_head(&mut self) -> Result<Option<EntryHead>, ReadError> {
        let end = self.end();
        if self.pos >= end {
            if self.end > self.file_len && self.pos < self.end {
                return Err(ReadError::Torn { offset: self.pos, need: self.end - self.pos, have: 0 });
            }
            return Ok(None);
        }
        let off = self.pos;
        let avail = end - off;
        if avail < ENTRY_HEADER_LEN as u64 {
            return Err(ReadError::Torn { offset: off, need: ENTRY_HEADER_LEN as u64, have: avail });
        }
        let h = match EntryHead::parse(self.bytes(off, ENTRY_HEADER_LEN)?, off) {
            Some(h) => h?,
            None => return Err(ReadError::Torn { offset: off, need: ENTRY_HEADER_LEN as u64, have: avail }),
        };
        let total = ENTRY_HEADER_LEN as u64 + h.len as u64;
        if total > avail {
            if self.end <= self.file_len && self.header.is_finalized() {
                return Err(ReadError::Corrupt {
                    offset: off,
                    what: format!("entry of {total} bytes runs past the committed end ({avail} left)"),
                });
            }
            return Err(ReadError::Torn { offset: off, need: total, have: avail });
        }
        Ok(Some(h))
    }

    /// Moves past an entry.
    pub fn skip(&mut self, h: &EntryHead) {
        self.pos = h.end();
    }

    /// Reads up to `n` bytes of an entry's payload without checking its checksum (to route
    /// it before loading it whole); does not move.
    pub fn peek(&mut self, h: &EntryHead, n: usize) -> Result<&[u8], ReadError> {
        self.bytes(h.off + ENTRY_HEADER_LEN as u64, n.min(h.len as usize))
    }

    /// Loads an entry's payload, checks its checksum, and moves past it.
    pub fn payload(&mut self, h: &EntryHead) -> Result<&[u8], ReadError> {
        self.pos = h.end();
        let h = *h;
        let p = self.bytes(h.off + ENTRY_HEADER_LEN as u64, h.len as usize)?;
        h.check(p)?;
        Ok(p)
    }

    /// Loads an entry's payload into `out` (replacing its contents) with one positional
    /// read, bypassing the window, checks its checksum, and moves past it. For large entries
    /// the caller keeps, such as batches, this saves a copy.
    pub fn payload_into(&mut self, h: &EntryHead, out: &mut Vec<u8>) -> Result<(), ReadError> {
        self.pos = h.end();
        out.clear();
        out.resize(h.len as usize, 0);
        read_exact_at(&self.src, out, h.off + ENTRY_HEADER_LEN as u64)?;
        h.check(out)
    }

    /// Reads and decodes the next entry.
    pub fn next_entry(&mut self) -> Result<Option<(u64, Entry<'_>)>, ReadError> {
        let Some(h) = self.next_head()? else { return Ok(None) };
        let (off, kind, len) = (h.off, h.kind, h.len);
        let known = matches!(
            kind,
            entry::CALLSITE
                | entry::THREAD
                | entry::ANCHOR
                | entry::BATCH
                | entry::DROPS
                | entry::THREAD_END
                | entry::SHAPE
                | entry::RECORDED
                | entry::DUMP
        );
        let p = self.payload(&h)?;
        if !known {
            return Ok(Some((off, Entry::Unknown { kind, len })));
        }
        decode_entry(kind, p)
            .map(|e| Some((off, e)))
            .map_err(|pe| ReadError::Corrupt { offset: off, what: pe.to_string() })
    }

    /// The next entry, with damage handled the one way every reader handles it: an entry
    /// whose checksum does not match or whose payload does not decode is skipped (its
    /// framing is intact, so reading goes on after it); an entry whose payload cannot be
    /// read, or a header that cannot be trusted or is cut short, ends the reading. `None`
    /// at the committed end, and after a [`Next::Stopped`] or [`Next::End`].
    ///
    /// Entries for which `load` returns false are not loaded: they come back as
    /// [`Next::Unloaded`], unchecked, and the reader is already past them ([`Self::peek`]
    /// still reads them).
    pub fn next_checked(&mut self, load: impl FnOnce(&EntryHead) -> bool) -> Option<Next<'_>> {
        if self.stopped {
            return None;
        }
        let h = match self.next_head() {
            Ok(Some(h)) => h,
            Ok(None) => return None,
            Err(e) => {
                self.stopped = true;
                return Some(Next::End(e));
            }
        };
        if !load(&h) {
            self.skip(&h);
            return Some(Next::Unloaded(h));
        }
        self.pos = h.end();
        let (off, len) = (h.off + ENTRY_HEADER_LEN as u64, h.len as usize);
        let buf = match self.locate(off, len) {
            Ok(buf) => buf,
            Err(e) => {
                self.stopped = true;
                return Some(Next::Stopped(e));
            }
        };
        if let Err(e) = h.check(self.at(buf, len)) {
            return Some(Next::Damaged(e));
        }
        let p = self.at(buf, len);
        Some(match decode_entry(h.kind, p) {
            Ok(e) => Next::Entry(h, e),
            Err(pe) => Next::Damaged(ReadError::Corrupt { offset: h.off, what: pe.to_string() }),
        })
    }

    fn bytes(&mut self, off: u64, len: usize) -> Result<&[u8], ReadError> {
        let buf = self.locate(off, len)?;
        Ok(self.at(buf, len))
    }

    /// Makes the `len` bytes at `off` present, reading them if they are not in the window.
    fn locate(&mut self, off: u64, len: usize) -> Result<Buf, ReadError> {
        let in_win = off >= self.win_start && off + len as u64 <= self.win_start + self.win.len() as u64;
        if in_win {
            return Ok(Buf::Win((off - self.win_start) as usize));
        }
        if len <= WINDOW {
            let n = (WINDOW as u64).min(self.end().saturating_sub(off)).max(len as u64) as usize;
            self.win.resize(n, 0);
            self.win_start = off;
            read_exact_at(&self.src, &mut self.win, off)?;
            return Ok(Buf::Win(0));
        }
        self.big.resize(len, 0);
        read_exact_at(&self.src, &mut self.big, off)?;
        Ok(Buf::Big)
    }

    /// The `len` bytes [`Self::locate`] made present.
    fn at(&self, buf: Buf, len: usize) -> &[u8] {
        match buf {
            Buf::Win(s) => &self.win[s..s + len],
            Buf::Big => &self.big[..len],
        }
    }
}

/// Where [`EntryReader::locate`] put bytes.
#[derive(Clone, Copy)]
enum Buf {
    /// In the window, from this index.
    Win(usize),
    /// At the start of the buffer for entries larger than the window.
    Big,
}

/// Where an entry is and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHead {
    /// Byte offset of the entry.
    pub off: u64,
    /// Entry kind.
    pub kind: u8,
    /// Payload length.
    pub len: u32,
    /// CRC-32 of the payload.
    pub crc: u32,
}

impl EntryHead {
    /// Offset just past the entry.
    pub fn end(&self) -> u64 {
        self.off + ENTRY_HEADER_LEN as u64 + self.len as u64
    }
}

impl EntryHead {
    /// Reads the entry header at the start of `b`, an entry at byte `off`. `None` if `b`
    /// is shorter than a header; `Err` for a header no entry can have (a length over
    /// [`MAX_ENTRY_LEN`], or kind 0), after which the framing cannot be trusted.
    #[inline]
    pub fn parse(b: &[u8], off: u64) -> Option<Result<EntryHead, ReadError>> {
        let (kind, len, crc) = (*b.first()?, le::u32_at(b, 1)?, le::u32_at(b, 5)?);
        if len as u64 > MAX_ENTRY_LEN {
            return Some(Err(ReadError::Corrupt {
                offset: off,
                what: format!("entry length {len} exceeds the 1 GiB limit"),
            }));
        }
        if kind == 0 {
            return Some(Err(ReadError::Corrupt { offset: off, what: "entry kind 0".into() }));
        }
        Some(Ok(EntryHead { off, kind, len, crc }))
    }

    /// Checks the entry's payload against its checksum.
    #[inline]
    pub fn check(&self, payload: &[u8]) -> Result<(), ReadError> {
        if super::entry_crc(self.kind, self.len, [payload]) != self.crc {
            return Err(ReadError::Checksum { offset: self.off });
        }
        Ok(())
    }
}

/// What [`EntryReader::next_checked`] read.
#[derive(Debug)]
pub enum Next<'a> {
    /// A sound entry: its checksum matched and its payload decoded.
    Entry(EntryHead, Entry<'a>),
    /// An entry the caller chose not to load; its payload is unchecked.
    Unloaded(EntryHead),
    /// A damaged entry (checksum mismatch, or a payload that does not decode), skipped:
    /// the entries after it are still read.
    Damaged(ReadError),
    /// An entry whose payload could not be read: nothing after it is.
    Stopped(ReadError),
    /// The framing ends here (a torn tail, or a header that cannot be trusted): nothing
    /// after it is read.
    End(ReadError),
}

/// Decodes an (already checksummed) entry payload of a known kind.
pub fn decode_entry(kind: u8, p: &[u8]) -> Result<Entry<'_>, PayloadError> {
    Ok(match kind {
        entry::CALLSITE => Entry::Callsite(CallsiteEntry::decode(p)?),
        entry::THREAD => Entry::Thread(ThreadEntry::decode(p)?),
        entry::ANCHOR => Entry::Anchor(Anchor::decode(p)?),
        entry::BATCH => {
            let (h, recs) = BatchHead::decode(p)?;
            Entry::Batch(h, recs)
        }
        entry::DROPS => Entry::Drops(Drops::decode(p)?),
        entry::THREAD_END => Entry::ThreadEnd(ThreadEnd::decode(p)?),
        entry::SHAPE => Entry::Shape(ShapeEntry::decode(p)?),
        entry::RUN => Entry::Run(RunInfo::decode(p)?),
        entry::RECORDED => {
            let (h, recs) = BatchHead::decode(p)?;
            Entry::Recorded(h, recs)
        }
        entry::DUMP => Entry::Dump(DumpEntry::decode(p)?),
        other => Entry::Unknown { kind: other, len: p.len() as u32 },
    })
}

fn read_exact_at<R: ReadAt + ?Sized>(src: &R, buf: &mut [u8], mut off: u64) -> Result<(), ReadError> {
    let mut done = 0;
    while done < buf.len() {
        let n = src.read_at(&mut buf[done..], off)?;
        if n == 0 {
            return Err(ReadError::Torn { offset: off - done as u64, need: buf.len() as u64, have: done as u64 });
        }
        done += n;
        off += n as u64;
    }
    Ok(())
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
