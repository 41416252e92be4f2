//! A segment stream from a pipe (`tapelog cat -`): one or more segments back to back, as
//! `cat a.tlog b.tlog` or `zstdcat seg.zst` produce them. Bytes past a segment's committed
//! length (the zeros of a preallocated live file) are skipped up to the next magic.

use std::io::Read;
use std::path::PathBuf;

use tapelog_format::wire::header::{FileHeader, HeaderError, FIXED_LEN};
use tapelog_format::wire::reader::ReadError;
use tapelog_format::wire::MAGIC;

use crate::event::{Diagnostic, Severity, Source, Step};
use crate::stream::{SegFeed, StreamMerger};

const CHUNK: usize = 256 * 1024;

enum State {
    /// Expecting a segment header.
    Header,
    /// Inside a segment whose committed data ends at stream offset `end`.
    Entries { feed: SegFeed, end: u64 },
    /// Looking for the next magic.
    Resync,
}

/// Decodes a byte stream of segments.
pub struct ReadSource<R> {
    src: R,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Bytes of `buf` already consumed.
    start: usize,
    eof: bool,
    state: State,
    engine: StreamMerger,
    idle_reported: bool,
    finished: bool,
    path: PathBuf,
    /// Non-zero bytes skipped while resyncing, and where that began.
    skipped: (u64, u64),
}

impl<R> std::fmt::Debug for ReadSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSource").field("offset", &(self.base + self.start as u64)).finish()
    }
}

impl<R: Read> ReadSource<R> {
    /// Reads segments from `src`, naming it `name` in diagnostics, holding records back for
    /// at most `window_ns`.
    pub fn new(src: R, name: &str, window_ns: i128) -> ReadSource<R> {
        ReadSource {
            src,
            buf: Vec::with_capacity(CHUNK),
            base: 0,
            start: 0,
            eof: false,
            state: State::Header,
            engine: StreamMerger::new(window_ns),
            idle_reported: false,
            finished: false,
            path: PathBuf::from(name),
            skipped: (0, 0),
        }
    }

    /// Reads one chunk (blocking) and parses what it completes.
    fn fill(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        let have = self.buf.len();
        self.buf.resize(have + CHUNK, 0);
        let n = loop {
            match self.src.read(&mut self.buf[have..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let off = self.base + have as u64;
                    diag(&mut self.engine, &self.path, Severity::Error, off, format!("read failed: {e}"));
                    break 0;
                }
            }
        };
        self.buf.truncate(have + n);
        self.eof = n == 0;
        self.parse();
    }

    fn parse(&mut self) {
        loop {
            let pos = self.base + self.start as u64;
            let avail = &self.buf[self.start..];
            match &mut self.state {
                State::Header => {
                    if avail.is_empty() && self.eof {
                        return;
                    }
                    let fixed = &avail[..avail.len().min(FIXED_LEN)];
                    let need = match FileHeader::needed_len(fixed) {
                        Ok(n) => n,
                        Err(HeaderError::Truncated { .. }) if !self.eof => return,
                        Err(e) => {
                            let sev = if matches!(e, HeaderError::Truncated { .. }) {
                                Severity::Warning
                            } else {
                                Severity::Error
                            };
                            diag(&mut self.engine, &self.path, sev, pos, ReadError::Header(e).to_string());
                            self.state = State::Resync;
                            self.start += 1.min(avail.len());
                            continue;
                        }
                    };
                    if avail.len() < need {
                        if self.eof {
                            let e = HeaderError::Truncated { need, have: avail.len() };
                            diag(
                                &mut self.engine,
                                &self.path,
                                Severity::Warning,
                                pos,
                                ReadError::Header(e).to_string(),
                            );
                            self.start = self.buf.len();
                        }
                        return;
                    }
                    let h = match FileHeader::decode(&avail[..need]) {
                        Ok(h) => h,
                        Err(e) => {
                            diag(&mut self.engine, &self.path, Severity::Error, pos, ReadError::Header(e).to_string());
                            self.state = State::Resync;
                            self.start += 1;
                            continue;
                        }
                    };
                    if !h.is_finalized() {
                        let m = "segment was not closed cleanly (writer crashed or is still running); read up to its committed length";
                        diag(&mut self.engine, &self.path, Severity::Warning, pos, m.into());
                    }
                    let end = pos + h.committed.max(need as u64);
                    let mut feed = self.engine.segment(&h, self.path.clone());
                    feed.anchor = None;
                    self.start += need;
                    self.state = State::Entries { feed, end };
                }
                State::Entries { feed, end } => {
                    let end = *end;
                    let take = ((end - pos) as usize).min(avail.len());
                    // Every committed byte of the segment is buffered.
                    let whole = take as u64 == end - pos;
                    match self.engine.feed(feed, &avail[..take], pos) {
                        Ok(n) => self.start += n,
                        Err(e) => {
                            self.engine.diagnose(Diagnostic::from_read(self.path.clone(), e));
                            self.state = State::Resync;
                            continue;
                        }
                    }
                    let pos = self.base + self.start as u64;
                    if pos == end {
                        self.state = State::Resync;
                        continue;
                    }
                    if whole {
                        // An entry that claims bytes past the committed end, whose bytes are all
                        // here: its length field is damaged. Waiting for more would hold the rest
                        // of the stream and lose the segments after this one; this costs only
                        // the rest of this segment, as `tapelog cat FILE` does.
                        let m = format!(
                            "entry runs past the segment's committed end at byte {end}: its length is damaged; \
                             the rest of this segment is skipped"
                        );
                        diag(&mut self.engine, &self.path, Severity::Error, pos, m);
                        self.start += (end - pos) as usize;
                        self.state = State::Resync;
                        continue;
                    }
                    if self.eof {
                        let e = ReadError::Torn {
                            offset: pos,
                            need: end - pos,
                            have: (self.buf.len() - self.start) as u64,
                        };
                        self.engine.diagnose(Diagnostic::from_read(self.path.clone(), e));
                        self.start = self.buf.len();
                    }
                    return;
                }
                State::Resync => {
                    let found = avail.windows(MAGIC.len()).position(|w| w == MAGIC);
                    let skip = found.unwrap_or(if self.eof {
                        avail.len()
                    } else {
                        avail.len().saturating_sub(MAGIC.len() - 1)
                    });
                    if let Some(nz) = avail[..skip].iter().position(|&b| b != 0) {
                        if self.skipped.1 == 0 {
                            self.skipped.0 = pos + nz as u64;
                        }
                        self.skipped.1 += avail[nz..skip].len() as u64;
                    }
                    self.start += skip;
                    if (found.is_some() || self.eof) && self.skipped.1 > 0 {
                        let (at, n) = std::mem::take(&mut self.skipped);
                        let m = format!("skipped {n} bytes past a committed end that are not part of a segment");
                        diag(&mut self.engine, &self.path, Severity::Warning, at, m);
                    }
                    if found.is_none() {
                        return;
                    }
                    self.state = State::Header;
                }
            }
        }
    }
}

impl<R: Read> Source for ReadSource<R> {
    fn step(&mut self) -> Step<'_> {
        loop {
            if self.engine.prepare() {
                return self.engine.emit().map_or(Step::Idle, Step::Event);
            }
            if self.eof {
                if !self.finished {
                    self.finished = true;
                    self.engine.finish();
                    continue;
                }
                return Step::End;
            }
            // Let the printer flush before a read that may block (a live pipe).
            if !self.idle_reported {
                self.idle_reported = true;
                return Step::Idle;
            }
            self.idle_reported = false;
            self.fill();
        }
    }

    fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        self.engine.take_diagnostics()
    }

    fn bytes_read(&self) -> u64 {
        self.base + self.start as u64
    }
}

fn diag(engine: &mut StreamMerger, path: &std::path::Path, severity: Severity, offset: u64, message: String) {
    engine.diagnose(Diagnostic { severity, path: path.to_path_buf(), offset: Some(offset), message });
}
