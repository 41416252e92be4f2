//! The writer's helper thread: it prepares pages ahead of the consumer's write position and
//! the next segment file before it is needed.
//!
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

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use memmap2::{MmapMut, MmapOptions};

use crate::claim::Claim;
use tapelog_format::wire::SegmentName;

/// A segment file created, preallocated, mapped and with its first window prepared, not yet
/// in use.
pub(crate) struct Blank {
    pub(crate) file: File,
    /// The whole file, mapped writable.
    pub(crate) map: MmapMut,
    /// The hidden temporary name it has until the writer renames it into place.
    pub(crate) tmp: PathBuf,
}

/// Work for the helper thread.
pub(crate) enum Job {
    /// Create segment `seq`.
    Prepare(u32),
    /// Prepare bytes `from..to` of a live segment: write zeros there, then fault them in.
    Populate { file: Arc<File>, claim: Arc<Claim>, base: usize, from: usize, to: usize },
}

/// Bytes prepared ahead of the consumer's write position.
pub(crate) const POPULATE_WINDOW: usize = 4 << 20;

/// The steps in which the consumer claims the tail and the helper prepares it; bounds how
/// long the consumer can wait for the helper.
pub(crate) const FILL_CHUNK: usize = 1 << 20;

/// Bytes of zeros per `pwrite`, which is the largest folio the page cache builds for them
/// (see the module docs for why small).
pub(crate) const ZEROS: usize = 64 << 10;

/// The helper thread that prepares the next segment and pre-faults the current one.
pub(crate) struct Preparer {
    requests: Option<mpsc::Sender<Job>>,
    results: mpsc::Receiver<(u32, io::Result<Blank>)>,
    /// Sequence number requested and not yet collected.
    pending: Option<u32>,
    thread: Option<JoinHandle<()>>,
}

impl Preparer {
    pub(crate) fn start(
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

    pub(crate) fn request(&mut self, seq: u32) {
        if self.pending.is_none() {
            if let Some(tx) = &self.requests {
                if tx.send(Job::Prepare(seq)).is_ok() {
                    self.pending = Some(seq);
                }
            }
        }
    }

    pub(crate) fn populate(&self, job: Job) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(job);
        }
    }

    /// The blank for `seq`, if one was requested (waits for it to be ready).
    pub(crate) fn take(&mut self, seq: u32) -> Option<io::Result<Blank>> {
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

pub(crate) fn discard(b: Blank) {
    drop(b.map);
    let _ = fs::remove_file(&b.tmp);
}

pub(crate) fn prepare_blank(dir: &Path, run_id: u64, seq: u32, size: usize, zeros: &[u8]) -> io::Result<Blank> {
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
