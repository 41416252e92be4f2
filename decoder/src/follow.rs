//! `tapelog cat --follow`: like `tail -F` for segment directories. Prints what the
//! segments hold, then polls: new committed bytes of live segments (read with `pread`,
//! never mapped: the writer truncates files when it finalizes them), new segments after a
//! rotation, and new runs after the writer restarts. Hidden `.tapelog-*.tmp` files are
//! segments being prepared and are ignored.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tapelog_format::wire::header::FLAG_FINALIZED;
use tapelog_format::wire::reader::{EntryReader, ReadError};
use tapelog_format::wire::{SegmentName, ENTRY_HEADER_LEN};

use crate::event::{Diagnostic, Severity, Source, Step};
use crate::stream::{SegFeed, StreamMerger};

/// How often live segments are polled for new data.
pub const POLL: Duration = Duration::from_millis(10);
/// How often directories are listed for new segments.
const LIST: Duration = Duration::from_millis(40);
/// Bytes read from one segment per poll, so catching up on a large backlog streams.
const READ_PER_POLL: usize = 4 << 20;

struct Live {
    path: PathBuf,
    file: File,
    feed: SegFeed,
    /// Next entry offset.
    pos: u64,
    /// When it last grew.
    grew: Instant,
}

/// A segment that stops growing without being finalized (its writer crashed) is given up
/// after this long once a newer run has started.
const ABANDONED: Duration = Duration::from_secs(10);

/// Follows directories (and files) of segments.
pub struct Follower {
    inputs: Vec<PathBuf>,
    live: Vec<Live>,
    /// Segment paths already opened (or refused).
    seen: HashSet<PathBuf>,
    engine: StreamMerger,
    window: i128,
    last_list: Option<Instant>,
    caught_up: bool,
    idle_reported: bool,
    finished: bool,
    missing_warned: HashSet<PathBuf>,
    buf: Vec<u8>,
    bytes_read: u64,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower").field("inputs", &self.inputs).field("live", &self.live.len()).finish()
    }
}

impl Follower {
    /// Follows `inputs` (directories or segment files), releasing records once they are
    /// `window_ns` old.
    pub fn new(inputs: &[PathBuf], window_ns: i128) -> Follower {
        Follower {
            inputs: inputs.to_vec(),
            live: Vec::new(),
            seen: HashSet::new(),
            engine: StreamMerger::new(window_ns),
            window: window_ns,
            last_list: None,
            caught_up: false,
            idle_reported: false,
            finished: false,
            missing_warned: HashSet::new(),
            buf: Vec::new(),
            bytes_read: 0,
        }
    }

    fn warn(&mut self, path: &Path, offset: Option<u64>, message: String) {
        self.engine.diagnose(Diagnostic { severity: Severity::Warning, path: path.to_path_buf(), offset, message });
    }

    /// Opens segments not seen before, oldest first.
    fn list(&mut self) {
        self.last_list = Some(Instant::now());
        let mut found = Vec::new();
        for input in self.inputs.clone() {
            match std::fs::read_dir(&input) {
                Ok(rd) => {
                    self.missing_warned.remove(&input);
                    found.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| is_segment_name(p)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory || input.is_file() => found.push(input),
                Err(e) => {
                    if self.missing_warned.insert(input.clone()) {
                        self.warn(&input, None, format!("{e}; waiting for it to appear"));
                    }
                }
            }
        }
        found.sort();
        for path in found {
            if self.seen.contains(&path) {
                continue;
            }
            let Ok(file) = File::open(&path) else { continue };
            let header = match EntryReader::open(&file) {
                Ok(r) => r.header().clone(),
                // A header being written: try again at the next listing.
                Err(ReadError::Header(tapelog_format::wire::header::HeaderError::Truncated { .. })) => continue,
                Err(e) => {
                    self.seen.insert(path.clone());
                    self.engine.diagnose(Diagnostic::from_read(path, e));
                    continue;
                }
            };
            self.seen.insert(path.clone());
            let feed = self.engine.segment(&header, path.clone());
            self.live.push(Live { pos: header.header_len as u64, path, file, feed, grew: Instant::now() });
        }
    }

    /// Reads new committed bytes of every live segment. Returns (read anything, stopped
    /// early because of the per-poll limit).
    fn poll(&mut self) -> (bool, bool) {
        if self.last_list.is_none_or(|t| t.elapsed() >= LIST) {
            self.list();
        }
        let (mut any, mut limited) = (false, false);
        let newest_run = self.live.iter().map(|l| l.feed.run).max();
        let mut i = 0;
        while i < self.live.len() {
            match self.read_segment(i) {
                Ok((n, more, done)) => {
                    any |= n > 0;
                    limited |= more;
                    let lv = &mut self.live[i];
                    if n > 0 {
                        lv.grew = Instant::now();
                    }
                    let abandoned = Some(lv.feed.run) != newest_run && lv.grew.elapsed() >= ABANDONED;
                    if done || abandoned {
                        self.live.remove(i);
                        continue;
                    }
                }
                Err(d) => {
                    self.engine.diagnose(d);
                    self.live.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        (any, limited)
    }

    /// Returns (bytes consumed, more is committed than was read, segment finished).
    fn read_segment(&mut self, i: usize) -> Result<(usize, bool, bool), Diagnostic> {
        let lv = &mut self.live[i];
        let mut head = [0u8; 16];
        let err = |e: std::io::Error| Diagnostic::from_read(lv.path.clone(), ReadError::Io(e));
        lv.file.read_exact_at(&mut head, 8).map_err(err)?;
        let flags = u16::from_le_bytes([head[2], head[3]]);
        let committed = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
        let finalized = flags & FLAG_FINALIZED != 0;
        let avail = committed.saturating_sub(lv.pos);
        let mut want = (avail as usize).min(READ_PER_POLL);
        if want >= ENTRY_HEADER_LEN {
            // One entry larger than the per-poll limit is read whole.
            let mut eh = [0u8; ENTRY_HEADER_LEN];
            lv.file.read_exact_at(&mut eh, lv.pos).map_err(err)?;
            let len = ENTRY_HEADER_LEN + u32::from_le_bytes([eh[1], eh[2], eh[3], eh[4]]) as usize;
            if (len as u64) <= avail {
                want = want.max(len);
            }
        }
        self.buf.resize(want, 0);
        if want > 0 {
            lv.file.read_exact_at(&mut self.buf, lv.pos).map_err(|e| {
                let e = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    // The file is shorter than its committed length: cut by someone else.
                    ReadError::Torn { offset: lv.pos, need: avail, have: 0 }
                } else {
                    ReadError::Io(e)
                };
                Diagnostic::from_read(lv.path.clone(), e)
            })?;
        }
        let n =
            self.engine.feed(&mut lv.feed, &self.buf, lv.pos).map_err(|e| Diagnostic::from_read(lv.path.clone(), e))?;
        lv.pos += n as u64;
        self.bytes_read += n as u64;
        let rest = committed.saturating_sub(lv.pos);
        if finalized && rest > 0 && (want as u64) == avail {
            let e = ReadError::Corrupt {
                offset: lv.pos,
                what: format!("entry runs past the committed end ({rest} bytes left)"),
            };
            return Err(Diagnostic::from_read(lv.path.clone(), e));
        }
        Ok((n, (want as u64) < avail, finalized && rest == 0))
    }

    fn inputs_are_files(&self) -> bool {
        self.inputs.iter().all(|p| p.is_file())
    }
}

fn is_segment_name(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(SegmentName::is_segment)
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

impl Source for Follower {
    fn step(&mut self) -> Step<'_> {
        loop {
            self.engine.set_floor(self.caught_up.then(|| now_ns() - self.window));
            if self.engine.prepare() {
                return self.engine.emit().map_or(Step::Idle, Step::Event);
            }
            if self.finished {
                return Step::End;
            }
            let (read, limited) = self.poll();
            self.caught_up = !limited;
            if read {
                continue;
            }
            if self.live.is_empty() && self.last_list.is_some() && self.inputs_are_files() {
                // Only files were named, and all of them are finalized and read.
                self.finished = true;
                self.engine.finish();
                continue;
            }
            if !self.idle_reported {
                self.idle_reported = true;
                return Step::Idle;
            }
            self.idle_reported = false;
            std::thread::sleep(POLL);
        }
    }

    fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        self.engine.take_diagnostics()
    }

    fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}
