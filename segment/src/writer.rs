//! Memory-mapped segment files, written by the consumer thread (and zero-filled ahead of it).
//!
//! # Exclusive ownership
//! Mapping a file is only sound while nobody else changes it. Each segment is created with
//! `O_CREAT | O_EXCL` under a name that carries the run's start time, the pid and a sequence
//! number, so this process is its only writer; it is written through this mapping by the one
//! consumer thread, and with zeros by the helper thread (below), but only in parts the consumer
//! has not claimed yet (see [`Claim`](crate::claim::Claim)); it is unmapped before it is truncated, and only after
//! the consumer has claimed all of it. Readers (`tapelog cat`, `check`,
//! live followers) use `read(2)`, never a mapping, and trust only the bytes below the
//! published committed length. Another program that writes to or truncates a live segment
//! breaks this invariant; tapelog cannot defend against that.
//!
//! The helper thread and the preparation of pages and files ahead of the writer are
//! [`crate::prepare`]'s; the hand-over of a segment's unwritten tail with it is
//! [`crate::claim`]'s.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use memmap2::MmapMut;

use crate::claim::Claim;
use crate::prepare::{discard, prepare_blank, Blank, Job, Preparer, FILL_CHUNK, POPULATE_WINDOW, ZEROS};
use tapelog_format::wire::header::{FileHeader, COMMITTED_OFFSET, FLAGS_OFFSET, FLAG_FINALIZED};
use tapelog_format::wire::{SegmentName, ENTRY_HEADER_LEN, FORMAT_VERSION};

/// Settings the writer needs.
#[derive(Clone)]
pub struct SegmentConfig {
    /// The directory segments go to (created if missing).
    pub dir: PathBuf,
    /// Bytes per segment file.
    pub size: usize,
    /// The run (a logger's start, Unix ns) the segments belong to; part of their names.
    pub run_id: u64,
    /// Key-value pairs written into every segment's header.
    pub metadata: Vec<(String, String)>,
    /// Keep at most this many segment files of the directory, removing the oldest.
    pub max_files: Option<usize>,
    /// Keep at most this many bytes of segment files, removing the oldest.
    pub max_bytes: Option<u64>,
    /// The writer's process id, for the headers (a collector writes another process's).
    pub pid: u32,
    /// The clock the records' ticks come from (`tapelog_format::wire::header::CLOCK_*`).
    pub clock: u8,
    /// Sequence number of the first segment (a collector continues after earlier files).
    pub first_seq: u32,
    /// Run first on the helper thread that prepares segments ahead of the writer: where it
    /// runs (the runtime keeps it off the program's cores) and what it is to the caller.
    pub helper_setup: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for SegmentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentConfig")
            .field("dir", &self.dir)
            .field("size", &self.size)
            .field("run_id", &self.run_id)
            .field("first_seq", &self.first_seq)
            .finish_non_exhaustive()
    }
}

impl SegmentConfig {
    /// Segments of `size` bytes for run `run_id` in `dir`, written by this process with the
    /// monotonic clock, no metadata, no retention limit, the helper thread left where it
    /// starts.
    pub fn new(dir: impl Into<PathBuf>, size: usize, run_id: u64) -> Self {
        SegmentConfig {
            dir: dir.into(),
            size,
            run_id,
            metadata: Vec::new(),
            max_files: None,
            max_bytes: None,
            pid: std::process::id(),
            clock: tapelog_format::wire::header::CLOCK_MONOTONIC,
            first_seq: 0,
            helper_setup: None,
        }
    }
}

struct Open {
    /// Shared with the helper, which writes zeros ahead through it; `None` for a segment in
    /// memory ([`SegmentWriter::memory`]).
    file: Option<Arc<File>>,
    map: MmapMut,
    path: PathBuf,
    /// Next write position; invariant: header_len <= pos <= map.len().
    pos: usize,
    /// Position last published as the committed length.
    committed: usize,
    /// Committed bytes already msync'ed.
    synced: usize,
    /// Bytes from the start already handed to the helper to prepare.
    populated: usize,
    /// The hand-over of this mapping's tail with the helper.
    claim: Arc<Claim>,
    /// The consumer's own copy of `claim.consumer`: it may write below this.
    claimed: usize,
    /// Whether the next segment was requested from the helper.
    next_requested: bool,
}

/// Writes one run's segments: create, append, publish, rotate, finalize.
pub struct SegmentWriter {
    cfg: SegmentConfig,
    seq: u32,
    open: Option<Open>,
    prep: Option<Preparer>,
    /// Increments every time a segment is opened; the consumer uses it to know which
    /// dictionary entries the current segment already holds.
    pub serial: u64,
    /// Whether segments live in memory only ([`SegmentWriter::memory`]).
    memory: bool,
    /// In memory mode, the mapping of the last segment, reused by the next (its pages are
    /// faulted in already).
    spare: Option<MmapMut>,
    /// What retention removed so far: files, bytes, and the last file's path.
    removed: Removed,
}

/// What retention removed from a writer's directory so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// Segment files removed.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The last one removed.
    pub last: Option<PathBuf>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter").field("dir", &self.cfg.dir).field("seq", &self.seq).finish_non_exhaustive()
    }
}

impl SegmentWriter {
    /// Creates the directory if needed and opens the run's first segment.
    pub fn create(cfg: SegmentConfig) -> io::Result<Self> {
        fs::create_dir_all(&cfg.dir)?;
        let prep = Preparer::start(cfg.dir.clone(), cfg.run_id, cfg.size, cfg.helper_setup.clone()).ok();
        let seq = cfg.first_seq;
        let mut w = SegmentWriter {
            cfg,
            seq,
            open: None,
            prep,
            serial: 0,
            memory: false,
            spare: None,
            removed: Removed::default(),
        };
        w.open_next()?;
        Ok(w)
    }

    /// A writer whose "segments" are one anonymous mapping, reused at every rotation: the
    /// consumer's entry logic runs unchanged for a network stream without segment files
    /// (`Builder::segments(false)` with `Builder::network`).
    pub fn memory(cfg: SegmentConfig) -> io::Result<Self> {
        let mut w = SegmentWriter {
            seq: cfg.first_seq,
            cfg,
            open: None,
            prep: None,
            serial: 0,
            memory: true,
            spare: None,
            removed: Removed::default(),
        };
        w.open_next()?;
        Ok(w)
    }

    /// A writer that never opens a segment (`Builder::segments(false)`).
    pub fn disabled(cfg: SegmentConfig) -> Self {
        SegmentWriter {
            seq: cfg.first_seq,
            cfg,
            open: None,
            prep: None,
            serial: 0,
            memory: false,
            spare: None,
            removed: Removed::default(),
        }
    }

    /// Whether a segment is open for writing.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Path of the open segment.
    pub fn path(&self) -> Option<&Path> {
        self.open.as_ref().map(|o| o.path.as_path())
    }

    /// Bytes left in the open segment (0 when none is open).
    pub fn remaining(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.map.len() - o.pos)
    }

    /// Appends a whole entry; false if it does not fit.
    pub fn write_entry(&mut self, kind: u8, payload: &[u8]) -> bool {
        let Some(buf) = self.reserve(ENTRY_HEADER_LEN + payload.len()) else { return false };
        buf[0] = kind;
        buf[1..5].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        let crc = tapelog_format::wire::entry_crc(kind, payload.len() as u32, [payload]);
        buf[5..9].copy_from_slice(&crc.to_le_bytes());
        buf[ENTRY_HEADER_LEN..].copy_from_slice(payload);
        true
    }

    /// Reserves `n` bytes at the write position and advances past them. The caller must fill
    /// them before the next `publish`.
    pub fn reserve(&mut self, n: usize) -> Option<&mut [u8]> {
        let o = self.open.as_mut()?;
        if o.map.len() - o.pos < n {
            return None;
        }
        let start = o.pos;
        o.pos += n;
        if o.pos > o.claimed {
            o.claimed = o.pos.next_multiple_of(FILL_CHUNK).min(o.map.len());
            o.claim.take_up_to(o.claimed);
        }
        if o.pos + POPULATE_WINDOW / 2 > o.populated && o.populated < o.map.len() {
            let to = o.map.len().min(o.populated + POPULATE_WINDOW);
            if let (Some(p), Some(file)) = (&self.prep, &o.file) {
                let (file, claim) = (file.clone(), o.claim.clone());
                p.populate(Job::Populate { file, claim, base: o.map.as_ptr() as usize, from: o.populated, to });
            }
            o.populated = to;
        }
        if !o.next_requested && o.pos > o.map.len() / 2 {
            o.next_requested = true;
            if let Some(p) = self.prep.as_mut() {
                p.request(self.seq);
            }
        }
        Some(&mut o.map[start..start + n])
    }

    /// Publishes everything written so far as committed.
    pub fn publish(&mut self) {
        if let Some(o) = self.open.as_mut() {
            if o.pos != o.committed {
                o.committed = o.pos;
                committed_cell(&o.map).store(o.pos as u64, Ordering::Release);
            }
        }
    }

    /// msyncs the committed bytes not yet synced.
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(o) = self.open.as_mut().filter(|o| o.file.is_some()) {
            if o.committed > o.synced {
                let page = 4096;
                let start = o.synced / page * page;
                o.map.flush_range(start, o.committed - start)?;
                o.map.flush_range(0, page.min(o.map.len()))?;
                o.synced = o.committed;
            }
        }
        Ok(())
    }

    /// Finalizes the open segment (if any) and opens the next one.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.finalize();
        self.open_next()
    }

    /// Unmaps the open segment, truncates it to its committed length, and only then marks it
    /// finalized. In that order a crash at any point leaves either an unfinished segment (read
    /// up to its committed length, with a warning) or a finished one whose length matches.
    pub fn finalize(&mut self) {
        self.publish();
        let Some(o) = self.open.take() else { return };
        let Some(file) = o.file else {
            self.spare = Some(o.map);
            return;
        };
        let len = o.committed as u64;
        let flags = u16::from_le_bytes([o.map[FLAGS_OFFSET], o.map[FLAGS_OFFSET + 1]]) | FLAG_FINALIZED;
        // After this the helper writes nothing more to this file, so it neither touches the
        // mapping we drop nor extends the file past the length we cut it to.
        o.claim.take_up_to(usize::MAX);
        drop(o.map);
        // The mapping is gone, so truncating cannot pull pages out from under it.
        let done = file.set_len(len).and_then(|()| {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&flags.to_le_bytes(), FLAGS_OFFSET as u64)
        });
        if let Err(e) = done {
            eprintln!("tapelog: cannot finalize {}: {e}", o.path.display());
        }
    }

    /// Opens segment `seq` (creating it exclusively), then applies retention.
    pub fn open_next(&mut self) -> io::Result<()> {
        if self.memory {
            let map = match self.spare.take() {
                Some(m) => m,
                None => MmapMut::map_anon(self.cfg.size)?,
            };
            // Entries start past where a header's committed-length cell would be, which
            // `publish` still stores into.
            let start = COMMITTED_OFFSET + 8;
            self.open = Some(Open {
                file: None,
                map,
                path: PathBuf::new(),
                pos: start,
                committed: start,
                synced: 0,
                populated: self.cfg.size,
                claim: Arc::new(Claim::new(self.cfg.size)),
                claimed: self.cfg.size,
                next_requested: true,
            });
            self.seq += 1;
            self.serial += 1;
            return Ok(());
        }
        let name = SegmentName { run_id: self.cfg.run_id, seq: self.seq }.file_name();
        let path = self.cfg.dir.join(name);
        let prepared = self.prep.as_mut().and_then(|p| p.take(self.seq));
        let Blank { file, mut map, tmp } = match prepared {
            Some(b) => b?,
            None => prepare_blank(&self.cfg.dir, self.cfg.run_id, self.seq, self.cfg.size, &vec![0; ZEROS])?,
        };
        let header = FileHeader {
            version: FORMAT_VERSION,
            flags: 0,
            header_len: 0,
            committed: 0,
            run_id: self.cfg.run_id,
            seq: self.seq,
            pid: self.cfg.pid,
            created_unix_ns: unix_ns(),
            clock: self.cfg.clock,
            metadata: self.cfg.metadata.clone(),
        };
        let mut hb = header.encode();
        let header_len = hb.len();
        if header_len > map.len() / 2 {
            discard(Blank { file, map, tmp });
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "segment metadata is too large for the segment"));
        }
        hb[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&(header_len as u64).to_le_bytes());
        map[..header_len].copy_from_slice(&hb);
        if path.exists() {
            discard(Blank { file, map, tmp });
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", path.display())));
        }
        if let Err(e) = fs::rename(&tmp, &path) {
            discard(Blank { file, map, tmp });
            return Err(e);
        }
        // The first window was prepared with the blank; the consumer owns it from the start.
        let populated = POPULATE_WINDOW.min(self.cfg.size);
        self.open = Some(Open {
            file: Some(Arc::new(file)),
            map,
            path,
            pos: header_len,
            committed: header_len,
            synced: 0,
            populated,
            claim: Arc::new(Claim::new(populated)),
            claimed: populated,
            next_requested: false,
        });
        self.seq += 1;
        self.serial += 1;
        self.apply_retention();
        Ok(())
    }

    /// What retention removed so far.
    pub fn removed(&self) -> &Removed {
        &self.removed
    }

    /// Deletes the oldest segments of the directory beyond the configured limits.
    fn apply_retention(&mut self) {
        if self.cfg.max_files.is_none() && self.cfg.max_bytes.is_none() {
            return;
        }
        let mut files = list_segments(&self.cfg.dir);
        files.sort();
        let current = self.path().map(Path::to_path_buf);
        let mut total: u64 = files.iter().map(|(_, len)| *len).sum();
        let mut count = files.len();
        for (path, len) in files {
            let over_files = self.cfg.max_files.is_some_and(|m| count > m);
            let over_bytes = self.cfg.max_bytes.is_some_and(|m| total > m);
            if !(over_files || over_bytes) {
                break;
            }
            if Some(&path) == current.as_ref() {
                continue;
            }
            if fs::remove_file(&path).is_ok() {
                count -= 1;
                total -= len;
                self.removed.files += 1;
                self.removed.bytes += len;
                self.removed.last = Some(path);
            }
        }
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        self.finalize();
        // Deletes a prepared but unused segment.
        self.prep = None;
    }
}

/// Segment files in `dir` with their sizes (names sort oldest first).
pub fn list_segments(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    rd.filter_map(|e| e.ok())
        .filter(|e| SegmentName::is_segment(&e.file_name().to_string_lossy()))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
        .collect()
}

fn committed_cell(map: &MmapMut) -> &AtomicU64 {
    // SAFETY: the mapping is page-aligned and at least a header long, so offset 16 is an
    // 8-aligned, in-bounds u64 that lives as long as the borrow of `map`; only this thread
    // writes it, other processes read it with read(2).
    unsafe { &*(map.as_ptr().add(COMMITTED_OFFSET) as *const AtomicU64) }
}

/// Now, in Unix nanoseconds.
fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
