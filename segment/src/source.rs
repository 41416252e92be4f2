//! The collector's side: one source's stream written into segment files of its own.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::writer::{Removed, SegmentConfig, SegmentWriter};
use tapelog_format::net::{self as proto, CheckedEntry};
use tapelog_format::wire::header::FileHeader;
use tapelog_format::wire::SegmentName;

/// Name of the file in a source's directory that records how much of its sequenced stream
/// the segment files hold.
pub const POSITION_FILE: &str = "stream.pos";

/// Most dictionary bytes one source may hold (call sites, threads, shapes).
pub const MAX_DICT_BYTES: usize = 64 << 20;

/// Writes one source's stream (see [`tapelog_format::net`]) into segment files under a directory of
/// its own, which `tapelog cat` reads like a local logger's.
///
/// Every segment holds the dictionary entries its batches need: after a rotation the writer
/// writes the whole dictionary again. How far the files hold the sequenced stream is kept in
/// [`POSITION_FILE`], updated only after the entries are published, so a collector killed at
/// any moment restarts from a position its files really hold.
#[derive(Debug)]
pub struct SourceWriter {
    dir: PathBuf,
    seg: SegmentWriter,
    /// Dictionary entries by key, with the `serial` of the segment that holds them (0 = none).
    dict: BTreeMap<(u8, u32), (Vec<u8>, u64)>,
    dict_bytes: usize,
    position: MmapMut,
    run_id: u64,
    /// Sequenced entries the files hold.
    next_seq: u64,
    /// Whether a DATA entry was taken since `begin_connection`.
    started: bool,
}

/// What [`SourceWriter::data`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// Written.
    Written,
    /// Already held (sent again after a reconnect): skipped.
    Duplicate,
}

impl SourceWriter {
    /// Opens (or reopens) the directory of the source described by `header`, continuing
    /// after any segments an earlier collector wrote there.
    pub fn open(dir: &Path, header: &FileHeader, segment_size: usize) -> io::Result<SourceWriter> {
        SourceWriter::open_with_quota(dir, header, segment_size, None)
    }

    /// [`open`](Self::open), keeping at most `max_bytes` of segment files in the directory
    /// (those of earlier runs included): each time a segment opens, the oldest are removed
    /// until the rest fit, never the one being written, so the directory holds at most
    /// `max_bytes` plus one segment. [`removed`](Self::removed) says what went.
    ///
    /// ```
    /// use tapelog_format::net::{check_entry, push_entry};
    /// use tapelog_format::wire::{entry, header::FileHeader};
    /// use tapelog_segment::{list_segments, SourceWriter};
    ///
    /// let dir = std::env::temp_dir().join(format!("tapelog-doc-quota-{}", std::process::id()));
    /// let header = FileHeader {
    ///     version: tapelog_format::wire::FORMAT_VERSION,
    ///     flags: 0,
    ///     header_len: 0,
    ///     committed: 0,
    ///     run_id: 7,
    ///     seq: 0,
    ///     pid: 1,
    ///     created_unix_ns: 0,
    ///     clock: tapelog_format::wire::header::CLOCK_MONOTONIC,
    ///     metadata: Vec::new(),
    /// };
    /// let mut w = SourceWriter::open_with_quota(&dir, &header, 64 << 10, Some(128 << 10))?;
    /// let mut e = Vec::new();
    /// push_entry(&mut e, entry::THREAD_END, &[0u8; 1000]);
    /// for seq in 0..1000 {
    ///     w.data(seq, check_entry(&e).unwrap()).unwrap();
    /// }
    /// w.publish();
    /// assert!(w.removed().files > 0);
    /// let left: u64 = list_segments(&dir).iter().map(|(_, len)| len).sum();
    /// assert!(left <= (128 << 10) + (64 << 10));
    /// w.finish();
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_with_quota(
        dir: &Path,
        header: &FileHeader,
        segment_size: usize,
        max_bytes: Option<u64>,
    ) -> io::Result<SourceWriter> {
        fs::create_dir_all(dir)?;
        let mut first_seq = 0u32;
        for e in fs::read_dir(dir)?.filter_map(Result::ok) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if SegmentName::is_temp(&name) {
                // A blank segment a killed collector prepared and never used.
                let _ = fs::remove_file(e.path());
                continue;
            }
            if let Some(n) = SegmentName::parse(&name).filter(|n| n.run_id == header.run_id) {
                first_seq = first_seq.max(n.seq.saturating_add(1));
            }
        }
        let position = open_position(&dir.join(POSITION_FILE))?;
        let held = u64::from_le_bytes(position[0..8].try_into().unwrap_or_default());
        let next_seq =
            if held == header.run_id { u64::from_le_bytes(position[8..16].try_into().unwrap_or_default()) } else { 0 };
        let cfg = SegmentConfig {
            dir: dir.to_path_buf(),
            size: segment_size,
            run_id: header.run_id,
            metadata: header.metadata.clone(),
            max_files: None,
            max_bytes,
            pid: header.pid,
            clock: header.clock,
            first_seq,
            helper_setup: None,
        };
        let seg = SegmentWriter::create(cfg)?;
        let mut w = SourceWriter {
            dir: dir.to_path_buf(),
            seg,
            dict: BTreeMap::new(),
            dict_bytes: 0,
            position,
            run_id: header.run_id,
            next_seq,
            started: false,
        };
        w.store_position();
        Ok(w)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the quota removed so far (segments of this directory, oldest first).
    pub fn removed(&self) -> &Removed {
        self.seg.removed()
    }

    /// How many segments this writer opened: it changes when one opens.
    pub fn segments_opened(&self) -> u64 {
        self.seg.serial
    }

    /// Sequenced entries the files hold: where a reconnecting sender resumes.
    pub fn resume(&self) -> u64 {
        self.next_seq
    }

    /// Call at each new connection of this source: its first DATA entry may start past
    /// [`resume`](Self::resume) (a sender whose earlier entries an earlier collector
    /// acknowledged, with files since removed).
    pub fn begin_connection(&mut self) {
        self.started = false;
    }

    /// Takes a dictionary entry: written into the current segment unless it holds the same.
    pub fn dict(&mut self, e: CheckedEntry<'_>) -> Result<(), String> {
        let Some(key) = proto::dict_key(e.kind, e.payload()) else {
            return Err(format!("entry kind {} is not a dictionary entry", e.kind));
        };
        if let Some((old, serial)) = self.dict.get(&key) {
            if old.as_slice() == e.bytes && *serial == self.seg.serial {
                return Ok(());
            }
        }
        let old_len = self.dict.get(&key).map_or(0, |(b, _)| b.len());
        if self.dict_bytes - old_len + e.bytes.len() > MAX_DICT_BYTES {
            return Err(format!("dictionary over its {MAX_DICT_BYTES}-byte limit"));
        }
        self.dict_bytes = self.dict_bytes - old_len + e.bytes.len();
        self.dict.insert(key, (e.bytes.to_vec(), 0));
        self.put(e.bytes).map_err(|err| err.to_string())?;
        if let Some(d) = self.dict.get_mut(&key) {
            d.1 = self.seg.serial;
        }
        Ok(())
    }

    /// Takes sequenced entry number `seq`.
    pub fn data(&mut self, seq: u64, e: CheckedEntry<'_>) -> Result<DataOutcome, String> {
        if !proto::is_data_kind(e.kind) {
            return Err(format!("entry kind {} cannot travel in a DATA frame", e.kind));
        }
        if seq < self.next_seq {
            return Ok(DataOutcome::Duplicate);
        }
        if seq > self.next_seq && self.started {
            return Err(format!("entry {seq} arrived, expected {}: the stream skipped entries", self.next_seq));
        }
        self.started = true;
        self.put(e.bytes).map_err(|err| err.to_string())?;
        self.next_seq = seq + 1;
        Ok(DataOutcome::Written)
    }

    /// Makes everything taken so far visible to readers, then records the position. Returns
    /// the position to acknowledge.
    pub fn publish(&mut self) -> u64 {
        self.seg.publish();
        self.store_position();
        self.next_seq
    }

    /// Finalizes the open segment.
    pub fn finish(mut self) {
        self.publish();
        self.seg.finalize();
    }

    fn store_position(&mut self) {
        self.position[0..8].copy_from_slice(&self.run_id.to_le_bytes());
        self.position[8..16].copy_from_slice(&self.next_seq.to_le_bytes());
    }

    /// Appends a whole entry, rotating (and writing the dictionary again) when full.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        for _ in 0..2 {
            if let Some(buf) = self.seg.reserve(bytes.len()) {
                buf.copy_from_slice(bytes);
                return Ok(());
            }
            self.seg.rotate()?;
            let serial = self.seg.serial;
            for (bytes, s) in self.dict.values_mut() {
                match self.seg.reserve(bytes.len()) {
                    Some(buf) => {
                        buf.copy_from_slice(bytes);
                        *s = serial;
                    }
                    None => return Err(io::Error::other("the dictionary alone fills a segment")),
                }
            }
        }
        Err(io::Error::other(format!("an entry of {} bytes does not fit in a segment", bytes.len())))
    }
}

fn open_position(path: &Path) -> io::Result<MmapMut> {
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    if f.metadata()?.len() < 16 {
        f.set_len(16)?;
    }
    // SAFETY: the position file belongs to this source's directory, which one collector
    // connection writes at a time (the collector serializes connections of one source), and
    // nobody truncates it while mapped.
    unsafe { MmapMut::map_mut(&f) }
}
