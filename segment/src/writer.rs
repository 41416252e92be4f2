//! Memory-mapped segment files, written by the consumer thread (and zero-filled ahead of it).
//!
//! # Exclusive ownership
//! Mapping a file is only sound while nobody else changes it. Each segment is created with
//! `O_CREAT | O_EXCL` under a name that carries the run's start time, the pid and a sequence
//! number, so this process is its only writer; it is written through this mapping by the one
//! consumer thread, and with zeros by the helper thread (below), but only in parts the consumer
//! has not claimed yet (see [`Claim`]); it is unmapped before it is truncated, and only after
//! the consumer has claimed all of it. Readers (`tapelog cat`, `check`,
//! live followers) use `read(2)`, never a mapping, and trust only the bytes below the
//! published committed length. Another program that writes to or truncates a live segment
//! breaks this invariant; tapelog cannot defend against that.
//!
//! # Preparing ahead
//! The first write to each page of a fresh file mapping costs a page fault that puts a zeroed
//! page into the page cache (16k pages for a 64 MiB segment). A helper thread takes that cost
//! off the consumer:
//! * it prepares a window (4 MiB) ahead of the consumer's write position: it writes zeros
//!   there with `pwrite(2)`, 64 KiB at a time, which puts the pages in the page cache, then
//!   maps them writable with `madvise(MADV_POPULATE_WRITE)`. The consumer and the helper hand the
//!   not-yet-written tail over chunk by chunk through a [`Claim`], so the helper never writes
//!   a byte the consumer may already have written (see there);
//! * once a segment is half full it creates the *next* one under a hidden temporary name
//!   (`.tapelog-...tlog.tmp`, also `O_EXCL`), preallocated and mapped, so rotation is a
//!   header write and a rename. Nothing is prepared that the consumer will not use soon,
//!   and a short-lived process prepares nothing it does not need.
//!
//! Why `pwrite` and not only `MADV_POPULATE_WRITE`, which faults pages in without writing?
//! Because of where the memory comes from. A fault on a file mapping goes through readahead,
//! which with a large readahead window (8 MiB on virtio disks) builds 2 MiB folios; a
//! 1 MiB write builds 1 MiB folios; a 64 KiB write, 64 KiB folios. The page allocator serves
//! a folio from the smallest free block that fits it, splitting bigger ones when it must.
//! A VM with free page reporting (virtio-balloon, as on Firecracker) hands every free block
//! of 2 MiB and more back to its host, and the first touch of each 4 KiB of such a block
//! then costs a host fault, about 10 µs: 150 MB took 0.3-0.8 s instead of 0.05 s. Blocks
//! below 2 MiB are never handed back, so the smaller the folios, the more of the guest's
//! free memory serves them without host faults (64 KiB folios can use every free block from
//! 64 KiB to 1 MiB). 64 KiB is also what a logger writing through a buffer with `write(2)`
//! gets. When even those blocks run out, fresh memory costs host faults whatever we do;
//! then at least the helper, not the consumer, takes them. On a machine without free page
//! reporting all ways cost about the same. The zeros are dirty page cache that the consumer
//! overwrites within milliseconds (a write fault on a populated page dirties it just the
//! same); what it never reaches is cut off by the truncate at finalization.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use memmap2::{MmapMut, MmapOptions};

#[cfg(loom)]
use loom::{sync::atomic::fence, thread::yield_now};
#[cfg(not(loom))]
use std::{sync::atomic::fence, thread::yield_now};

use crate::primitive;
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

/// A segment file created, preallocated, mapped and with its first window prepared, not yet
/// in use.
struct Blank {
    file: File,
    map: MmapMut,
    tmp: PathBuf,
}

/// Work for the helper thread.
enum Job {
    /// Create segment `seq`.
    Prepare(u32),
    /// Prepare bytes `from..to` of a live segment: write zeros there, then fault them in.
    Populate { file: Arc<File>, claim: Arc<Claim>, base: usize, from: usize, to: usize },
}

/// Bytes prepared ahead of the consumer's write position.
const POPULATE_WINDOW: usize = 4 << 20;

/// The steps in which the consumer claims the tail and the helper prepares it; bounds how
/// long the consumer can wait for the helper.
const FILL_CHUNK: usize = 1 << 20;

/// Bytes of zeros per `pwrite`, which is the largest folio the page cache builds for them
/// (see the module docs for why small).
const ZEROS: usize = 64 << 10;

/// `Claim::helper` when the helper is not writing.
const IDLE: u64 = u64::MAX;

/// Who may write where in one live segment. The consumer owns `0..consumer` and grows it
/// before it writes past it; the helper writes zeros only to a chunk at or past it, and says
/// which first. This is Dekker's pattern: each side stores its own word, then a `SeqCst`
/// fence, then loads the other's word. The two fences are ordered one way or the other in
/// the single total order of `SeqCst` operations, and the side whose fence comes second sees
/// the other's store: either the helper sees the new claim and skips the chunk, or the
/// consumer sees the chunk in progress and waits until the helper is past it.
///
/// Its atomics come from `crate::primitive` and its fence switches with them, so the
/// loom models at the end of this file check it. (They need the fences: loom treats `SeqCst`
/// loads and stores as `AcqRel`, which is too weak for this pattern, but models `SeqCst`
/// fences.)
#[derive(Debug)]
struct Claim {
    /// End of the prefix the consumer owns (bytes); only grows; `u64::MAX` from finalization
    /// on.
    consumer: primitive::AtomicU64,
    /// Start of the chunk the helper is writing, or `IDLE`. Every store is `Release` and made
    /// after the zeros of the chunks before it are written.
    helper: primitive::AtomicU64,
}

impl Claim {
    fn new(owned: usize) -> Claim {
        Claim { consumer: primitive::AtomicU64::new(owned as u64), helper: primitive::AtomicU64::new(IDLE) }
    }

    /// Consumer side: takes `0..end`, waiting for a chunk the helper is writing below `end`.
    fn take_up_to(&self, end: usize) {
        let end = end as u64;
        // Relaxed: the fence after it orders it for the helper (Dekker's pattern, see the
        // type's docs); the claim publishes no data.
        self.consumer.store(end, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let mut spins = 0u32;
        loop {
            // Acquire pairs with the helper's Release stores: once it is idle or past `end`,
            // the zeros it wrote below `end` happen before our writes there.
            let h = self.helper.load(Ordering::Acquire);
            if h == IDLE || h >= end {
                return;
            }
            spins += 1;
            if spins < 64 && !cfg!(loom) {
                std::hint::spin_loop();
            } else {
                // The helper may share our core: let it finish its chunk.
                yield_now();
            }
        }
    }

    /// Helper side: runs `write` on the chunk at `start` unless the consumer has claimed it.
    fn fill(&self, start: usize, write: impl FnOnce()) {
        let start = start as u64;
        // Release: publishes the zeros of the chunks before this one (see the field's docs);
        // the fence orders it before our load of the claim (Dekker's pattern).
        self.helper.store(start, Ordering::Release);
        fence(Ordering::SeqCst);
        // Relaxed: we only need the value; when it says the chunk is claimed we touch nothing.
        if self.consumer.load(Ordering::Relaxed) <= start {
            write();
        }
        // Release: the consumer's Acquire load of this store orders our zeros before its writes.
        self.helper.store(IDLE, Ordering::Release);
    }
}

/// The helper thread that prepares the next segment and pre-faults the current one.
struct Preparer {
    requests: Option<mpsc::Sender<Job>>,
    results: mpsc::Receiver<(u32, io::Result<Blank>)>,
    /// Sequence number requested and not yet collected.
    pending: Option<u32>,
    thread: Option<JoinHandle<()>>,
}

impl Preparer {
    fn start(
        dir: PathBuf,
        run_id: u64,
        size: usize,
        setup: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    ) -> io::Result<Preparer> {
        let (req_tx, req_rx) = mpsc::channel::<Job>();
        let (res_tx, res_rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("tapelog-segment-prep".into()).spawn(move || {
            if let Some(setup) = setup {
                setup();
            }
            // The source of every pwrite; never written.
            let zeros = vec![0u8; ZEROS];
            while let Ok(job) = req_rx.recv() {
                match job {
                    Job::Prepare(seq) => {
                        let blank = prepare_blank(&dir, run_id, seq, size, &zeros);
                        if res_tx.send((seq, blank)).is_err() {
                            break;
                        }
                    }
                    Job::Populate { file, claim, base, from, to } => {
                        for start in (from..to).step_by(FILL_CHUNK) {
                            let end = to.min(start + FILL_CHUNK);
                            // While `fill` runs the closure the consumer neither writes this
                            // chunk nor unmaps the segment (it claims everything first).
                            claim.fill(start, || prepare(&file, base, start, end, &zeros));
                        }
                    }
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

    fn populate(&self, job: Job) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(job);
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

fn prepare_blank(dir: &Path, run_id: u64, seq: u32, size: usize, zeros: &[u8]) -> io::Result<Blank> {
    let tmp = dir.join(SegmentName { run_id, seq }.temp_name());
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
    if let Err(e) = preallocate(&file, size as u64) {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // SAFETY: we just created this file exclusively (O_EXCL) and are its only writer; see the
    // module docs for the ownership invariant (with the helper's zeros) that keeps the
    // mapping sound.
    let map = match unsafe { MmapOptions::new().len(size).map_mut(&file) } {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    no_readahead(&map);
    // Nobody else knows this file yet, so no claim is needed.
    for start in (0..POPULATE_WINDOW.min(size)).step_by(FILL_CHUNK) {
        prepare(&file, map.as_ptr() as usize, start, POPULATE_WINDOW.min(size).min(start + FILL_CHUNK), zeros);
    }
    Ok(Blank { file, map, tmp })
}

/// Prepares bytes `start..end` of the segment `file`, mapped at `base`: writes zeros there,
/// `zeros.len()` bytes at a time, which puts the pages in the page cache without faulting,
/// then maps them writable. The caller guarantees that nobody writes these bytes meanwhile and
/// that the mapping stays in place. Failures are ignored: the consumer's own page faults
/// will do the work.
fn prepare(file: &File, base: usize, start: usize, end: usize, zeros: &[u8]) {
    use std::os::unix::fs::FileExt;
    for at in (start..end).step_by(zeros.len()) {
        let len = zeros.len().min(end - at);
        if file.write_all_at(&zeros[..len], at as u64).is_err() {
            return;
        }
    }
    populate(base + start, end - start);
}

/// Turns readahead off for faults on `map` (`MADV_RANDOM`). A fault that misses the page
/// cache (the consumer outrunning the helper) then adds one page instead of reading ahead
/// up to the disk's readahead window in 2 MiB folios, ahead of the helper's zeros.
fn no_readahead(map: &MmapMut) {
    let _ = map.advise(memmap2::Advice::Random);
}

/// Asks the kernel to fault in `[addr, addr + len)` writable, without touching the bytes.
fn populate(addr: usize, len: usize) {
    #[cfg(target_os = "linux")]
    {
        // Linux 5.14+; older kernels say EINVAL, and the pages fault in on first write.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        // SAFETY: madvise only gives advice about the range and never touches memory contents;
        // our callers keep the range mapped meanwhile (and an unmapped range merely fails).
        unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_POPULATE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (addr, len);
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

#[cfg(all(test, loom))]
mod loom_models {
    //! The hand-over of a segment's tail: the consumer claims a chunk and writes it while the
    //! helper may be zero-filling it. `bytes` stands for the chunk; loom reports any access to
    //! it by both threads that is not ordered.

    use super::Claim;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    const CHUNK: usize = 8;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
            b.preemption_bound = Some(3);
        }
        b.check(f);
    }

    #[test]
    fn loom_the_helper_never_overwrites_what_the_consumer_wrote() {
        model(|| {
            let claim = Arc::new(Claim::new(0));
            let bytes = Arc::new(UnsafeCell::new(0u8));
            let helper = {
                let (claim, bytes) = (claim.clone(), bytes.clone());
                thread::spawn(move || {
                    // SAFETY: `fill` runs this only while the consumer keeps off the chunk.
                    claim.fill(0, || bytes.with_mut(|b| unsafe { *b = 0 }));
                })
            };
            claim.take_up_to(CHUNK);
            // SAFETY: `take_up_to` returned, so the helper is not writing the chunk.
            bytes.with_mut(|b| unsafe { *b = 1 });
            helper.join().unwrap();
            // SAFETY: both threads are done.
            assert_eq!(bytes.with(|b| unsafe { *b }), 1, "the helper's zeros landed on the consumer's data");
        });
    }

    #[test]
    fn loom_finalization_waits_for_a_chunk_in_progress() {
        model(|| {
            let claim = Arc::new(Claim::new(CHUNK));
            // Stands for the mapping, which finalization unmaps.
            let mapped = Arc::new(UnsafeCell::new(true));
            let helper = {
                let (claim, mapped) = (claim.clone(), mapped.clone());
                thread::spawn(move || {
                    // SAFETY: `fill` runs this only before finalization has claimed everything.
                    claim.fill(CHUNK, || assert!(mapped.with(|m| unsafe { *m }), "wrote to an unmapped segment"));
                })
            };
            claim.take_up_to(usize::MAX);
            // SAFETY: everything is claimed, so the helper no longer looks at the mapping.
            mapped.with_mut(|m| unsafe { *m = false });
            helper.join().unwrap();
        });
    }
}

/// Now, in Unix nanoseconds.
fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
