//! Memory-mapped segment files, written only by the consumer thread.
//!
//! # Exclusive ownership
//! Mapping a file is only sound while nobody else changes it. Each segment is created with
//! `O_CREAT | O_EXCL` under a name that carries the run's start time, the pid and a sequence
//! number, so this process is its only writer; it is written only through this mapping, by the
//! one consumer thread, and unmapped before it is truncated. Readers (`tapelog cat`, `check`,
//! live followers) use `read(2)`, never a mapping, and trust only the bytes below the
//! published committed length. Another program that writes to or truncates a live segment
//! breaks this invariant; tapelog cannot defend against that.
//!
//! # Preparing ahead
//! The first write to each page of a fresh file mapping costs a page fault that zeroes the
//! page (16k faults for a 64 MiB segment). A helper thread takes that cost off the consumer:
//! * it pre-faults a window (4 MiB) ahead of the consumer's write position with
//!   `madvise(MADV_POPULATE_WRITE)`, which faults pages in writable without touching their
//!   contents, so it never races with the consumer's writes (it only ever asks the kernel);
//! * once a segment is half full it creates the *next* one under a hidden temporary name
//!   (`.tapelog-...tlog.tmp`, also `O_EXCL`), preallocated and mapped, so rotation is a
//!   header write and a rename. Nothing is pre-faulted that the consumer will not use soon,
//!   and a short-lived process prepares nothing it does not need.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use memmap2::{MmapMut, MmapOptions};

use crate::wire::header::{FileHeader, COMMITTED_OFFSET, FLAGS_OFFSET, FLAG_FINALIZED};
use crate::wire::{ENTRY_HEADER_LEN, FORMAT_VERSION, SEGMENT_EXT};

/// File name prefix of every segment.
pub const FILE_PREFIX: &str = "tapelog-";

/// Settings the writer needs.
#[derive(Debug, Clone)]
pub(crate) struct SegmentConfig {
    pub dir: PathBuf,
    pub size: usize,
    pub run_id: u64,
    pub metadata: Vec<(String, String)>,
    pub max_files: Option<usize>,
    pub max_bytes: Option<u64>,
    /// The writer's process id and clock, for the headers (a collector writes another
    /// process's stream).
    pub pid: u32,
    pub clock: u8,
    /// Sequence number of the first segment (a collector continues after earlier files).
    pub first_seq: u32,
}

struct Open {
    /// `None` for a segment in memory ([`SegmentWriter::memory`]).
    _file: Option<File>,
    map: MmapMut,
    path: PathBuf,
    /// Next write position; invariant: header_len <= pos <= map.len().
    pos: usize,
    /// Position last published as the committed length.
    committed: usize,
    /// Committed bytes already msync'ed.
    synced: usize,
    /// Bytes from the start already handed to the helper to pre-fault.
    populated: usize,
    /// Whether the next segment was requested from the helper.
    next_requested: bool,
}

/// A segment file created, preallocated, mapped and pre-faulted, not yet in use.
struct Blank {
    file: File,
    map: MmapMut,
    tmp: PathBuf,
}

/// Work for the helper thread.
enum Job {
    /// Create segment `seq`.
    Prepare(u32),
    /// Pre-fault `len` bytes at address `addr` of a live mapping (advice only: harmless even
    /// if the mapping is gone or replaced by the time it runs).
    Populate { addr: usize, len: usize },
}

/// Bytes pre-faulted ahead of the consumer's write position.
const POPULATE_WINDOW: usize = 4 << 20;

/// The helper thread that prepares the next segment and pre-faults the current one.
struct Preparer {
    requests: Option<mpsc::Sender<Job>>,
    results: mpsc::Receiver<(u32, io::Result<Blank>)>,
    /// Sequence number requested and not yet collected.
    pending: Option<u32>,
    thread: Option<JoinHandle<()>>,
}

impl Preparer {
    fn start(dir: PathBuf, run_id: u64, size: usize) -> io::Result<Preparer> {
        let (req_tx, req_rx) = mpsc::channel::<Job>();
        let (res_tx, res_rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("tapelog-segment-prep".into()).spawn(move || {
            while let Ok(job) = req_rx.recv() {
                match job {
                    Job::Prepare(seq) => {
                        let blank = prepare_blank(&dir, run_id, seq, size);
                        if res_tx.send((seq, blank)).is_err() {
                            break;
                        }
                    }
                    Job::Populate { addr, len } => populate(addr, len),
                }
            }
        })?;
        Ok(Preparer { requests: Some(req_tx), results: res_rx, pending: None, thread: Some(thread) })
    }

    fn request(&mut self, seq: u32) {
        if self.pending.is_none() {
            if let Some(tx) = &self.requests {
                if tx.send(Job::Prepare(seq)).is_ok() {
                    self.pending = Some(seq);
                }
            }
        }
    }

    fn populate(&self, addr: usize, len: usize) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(Job::Populate { addr, len });
        }
    }

    /// The blank for `seq`, if one was requested (waits for it to be ready).
    fn take(&mut self, seq: u32) -> Option<io::Result<Blank>> {
        let want = self.pending.take()?;
        let (got, blank) = self.results.recv().ok()?;
        if got == want && want == seq {
            return Some(blank);
        }
        if let Ok(b) = blank {
            discard(b);
        }
        None
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.requests = None;
        if self.pending.take().is_some() {
            if let Ok((_, Ok(b))) = self.results.recv() {
                discard(b);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn discard(b: Blank) {
    drop(b.map);
    let _ = fs::remove_file(&b.tmp);
}

fn prepare_blank(dir: &Path, run_id: u64, seq: u32, size: usize) -> io::Result<Blank> {
    let tmp = dir.join(format!(".{FILE_PREFIX}{run_id:020}-{seq:06}.{SEGMENT_EXT}.tmp"));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
    if let Err(e) = preallocate(&file, size as u64) {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // SAFETY: we just created this file exclusively (O_EXCL) and are its only writer; see the
    // module docs for the ownership invariant that keeps the mapping sound.
    let map = match unsafe { MmapOptions::new().len(size).map_mut(&file) } {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    populate(map.as_ptr() as usize, POPULATE_WINDOW.min(size));
    Ok(Blank { file, map, tmp })
}

/// Asks the kernel to fault in `[addr, addr + len)` writable, without touching the bytes.
fn populate(addr: usize, len: usize) {
    #[cfg(target_os = "linux")]
    {
        // Linux 5.14+; older kernels say EINVAL, and the pages fault in on first write.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        // SAFETY: madvise only gives advice about the range; on an unmapped or replaced range
        // it fails or populates whatever is mapped there, never touching memory contents.
        unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_POPULATE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (addr, len);
}

/// Writes one run's segments: create, append, publish, rotate, finalize.
pub(crate) struct SegmentWriter {
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
        let prep = Preparer::start(cfg.dir.clone(), cfg.run_id, cfg.size).ok();
        let seq = cfg.first_seq;
        let mut w = SegmentWriter { cfg, seq, open: None, prep, serial: 0, memory: false, spare: None };
        w.open_next()?;
        Ok(w)
    }

    /// A writer whose "segments" are one anonymous mapping, reused at every rotation: the
    /// consumer's entry logic runs unchanged for a network stream without segment files
    /// (`Builder::segments(false)` with `Builder::network`).
    pub fn memory(cfg: SegmentConfig) -> io::Result<Self> {
        let mut w =
            SegmentWriter { seq: cfg.first_seq, cfg, open: None, prep: None, serial: 0, memory: true, spare: None };
        w.open_next()?;
        Ok(w)
    }

    /// A writer that never opens a segment (`Builder::segments(false)`).
    pub fn disabled(cfg: SegmentConfig) -> Self {
        SegmentWriter { seq: cfg.first_seq, cfg, open: None, prep: None, serial: 0, memory: false, spare: None }
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
        let crc = crate::wire::entry_crc(kind, payload.len() as u32, [payload]);
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
        if o.pos + POPULATE_WINDOW / 2 > o.populated && o.populated < o.map.len() {
            let len = POPULATE_WINDOW.min(o.map.len() - o.populated);
            if let Some(p) = &self.prep {
                p.populate(o.map.as_ptr() as usize + o.populated, len);
            }
            o.populated += len;
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
        if let Some(o) = self.open.as_mut().filter(|o| o._file.is_some()) {
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
        let Some(file) = o._file else {
            self.spare = Some(o.map);
            return;
        };
        let len = o.committed as u64;
        let flags = u16::from_le_bytes([o.map[FLAGS_OFFSET], o.map[FLAGS_OFFSET + 1]]) | FLAG_FINALIZED;
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
                _file: None,
                map,
                path: PathBuf::new(),
                pos: start,
                committed: start,
                synced: 0,
                populated: self.cfg.size,
                next_requested: true,
            });
            self.seq += 1;
            self.serial += 1;
            return Ok(());
        }
        let name = format!("{FILE_PREFIX}{:020}-{:06}.{SEGMENT_EXT}", self.cfg.run_id, self.seq);
        let path = self.cfg.dir.join(name);
        let prepared = self.prep.as_mut().and_then(|p| p.take(self.seq));
        let Blank { file, mut map, tmp } = match prepared {
            Some(b) => b?,
            None => prepare_blank(&self.cfg.dir, self.cfg.run_id, self.seq, self.cfg.size)?,
        };
        let header = FileHeader {
            version: FORMAT_VERSION,
            flags: 0,
            header_len: 0,
            committed: 0,
            run_id: self.cfg.run_id,
            seq: self.seq,
            pid: self.cfg.pid,
            created_unix_ns: crate::clock::unix_ns(),
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
        let populated = POPULATE_WINDOW.min(self.cfg.size);
        self.open = Some(Open {
            _file: Some(file),
            map,
            path,
            pos: header_len,
            committed: header_len,
            synced: 0,
            populated,
            next_requested: false,
        });
        self.seq += 1;
        self.serial += 1;
        self.apply_retention();
        Ok(())
    }

    /// Deletes the oldest segments of the directory beyond the configured limits.
    fn apply_retention(&self) {
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
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(FILE_PREFIX) && n.ends_with(&format!(".{SEGMENT_EXT}"))
        })
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
        .collect()
}

fn committed_cell(map: &MmapMut) -> &AtomicU64 {
    // SAFETY: the mapping is page-aligned and at least a header long, so offset 16 is an
    // 8-aligned, in-bounds u64 that lives as long as the borrow of `map`; only this thread
    // writes it, other processes read it with read(2).
    unsafe { &*(map.as_ptr().add(COMMITTED_OFFSET) as *const AtomicU64) }
}

/// Reserves the file's blocks now, so a full disk fails here with ENOSPC instead of later as
/// SIGBUS on a page fault inside the mapping.
fn preallocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: the fd is open for writing for the duration of the call.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
        match rc {
            0 => return Ok(()),
            libc::EOPNOTSUPP | libc::EINVAL => {}
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
    file.set_len(len)
}
