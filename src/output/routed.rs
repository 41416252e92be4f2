//! Named segment outputs ([`crate::Output::segments`]): the records their route picks, in
//! segment files of their own with their own dictionary, size, retention and durability.
//!
//! The drain loop hands each batch to every routed output. Whether a call site's records go
//! to an output is decided once, when the consumer first sees the site (`Site::routes`);
//! here each record costs one bit test and, if picked, a copy.
//! Drop reports are not routed: an output cannot know which of the dropped records it would
//! have picked. The main segments have them all.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Batch, Output, Pass};
use crate::consumer::dictionary::Dictionary;
use crate::counters::{OutputCounters, ThreadShared};
use crate::policy::Durability;
use crate::wire::record::{for_each_shape, Anchor, BatchHead, ShapeEntry, ThreadEntry};
use crate::wire::{entry, Layout, Records, BATCH_FIXED_LEN, ENTRY_HEADER_LEN};
use tapelog_segment::SegmentWriter;

pub(crate) struct RoutedSegments {
    /// This output's bit in `Site::routes`.
    bit: u64,
    seg: SegmentWriter,
    durability: Durability,
    /// By call-site id: `seg.serial` of the segment holding its CALLSITE entry (0: none).
    sites_in: Vec<u64>,
    threads_in: HashMap<u32, u64>,
    /// By shape id - 1.
    shapes_in: Vec<u64>,
    /// The picked records of the batch at hand.
    staging: Vec<u8>,
    /// Call sites and shapes the staged records use.
    used_sites: Vec<u32>,
    used_shapes: Vec<u32>,
    scratch: Vec<u8>,
    anchor: Option<Anchor>,
    pub counters: Arc<OutputCounters>,
}

impl RoutedSegments {
    pub fn new(name: String, bit: u32, seg: SegmentWriter, durability: Durability) -> RoutedSegments {
        RoutedSegments {
            bit: 1 << bit,
            seg,
            durability,
            sites_in: Vec::new(),
            threads_in: HashMap::new(),
            shapes_in: Vec::new(),
            staging: Vec::new(),
            used_sites: Vec::new(),
            used_shapes: Vec::new(),
            scratch: Vec::new(),
            anchor: None,
            counters: Arc::new(OutputCounters { name, ..Default::default() }),
        }
    }

    fn write_anchor(&mut self) {
        if let Some(a) = self.anchor {
            self.scratch.clear();
            a.encode(&mut self.scratch);
            self.seg.write_entry(entry::ANCHOR, &self.scratch);
        }
    }

    /// Takes the records of the batch that this output's route picks.
    fn take(&mut self, b: &Batch<'_>) {
        let (split, dict) = (b.split, b.dict);
        self.staging.clear();
        self.used_sites.clear();
        self.used_shapes.clear();
        let mut records = 0u64;
        let lookup = |id: u32| dict.get(id).map(|s| Layout::of(s.reg.kinds, s.static_len));
        // The drain loop hands over only records it took apart already.
        for r in Records::starting_at(split, b.start, lookup) {
            let Ok(rec) = r else { break };
            if rec.end() > b.end {
                break;
            }
            let Some(site) = dict.get(rec.id).filter(|_| rec.drops.is_none()) else { continue };
            if site.routes & self.bit != 0 {
                split.pieces(rec.at, rec.end(), |p| self.staging.extend_from_slice(p));
                self.used_sites.push(rec.id);
                if site.has_serde {
                    let used = &mut self.used_shapes;
                    let _ = for_each_shape(split, rec.at, site.reg.kinds, |s| used.push(s));
                }
                records += 1;
            }
        }
        if records == 0 {
            return;
        }
        self.used_sites.sort_unstable();
        self.used_sites.dedup();
        self.used_shapes.sort_unstable();
        self.used_shapes.dedup();
        for attempt in 0..2 {
            if self.write_staged(b.thread, b.base, dict, b.recorded) {
                self.counters.records.fetch_add(records, Ordering::Relaxed);
                return;
            }
            if attempt == 0 && self.rotate().is_err() {
                break;
            }
        }
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the dictionary entries the staged records need, then the batch; false if the
    /// segment ran out of room (or none is open).
    fn write_staged(&mut self, thread: &ThreadShared, base: u64, dict: &Dictionary, recorded: bool) -> bool {
        if !self.seg.is_open() {
            return false;
        }
        let serial = self.seg.serial;
        if self.threads_in.get(&thread.id) != Some(&serial) {
            self.scratch.clear();
            ThreadEntry { thread: thread.id, os_tid: thread.os_tid, name: &thread.name }.encode(&mut self.scratch);
            if !self.seg.write_entry(entry::THREAD, &self.scratch) {
                return false;
            }
            self.threads_in.insert(thread.id, serial);
        }
        for &id in &self.used_sites {
            let i = id as usize;
            if self.sites_in.len() <= i {
                self.sites_in.resize(i + 1, 0);
            }
            if self.sites_in[i] == serial {
                continue;
            }
            let Some(site) = dict.get(id) else { continue };
            self.scratch.clear();
            site.encode(id, &mut self.scratch);
            if !self.seg.write_entry(entry::CALLSITE, &self.scratch) {
                return false;
            }
            self.sites_in[i] = serial;
        }
        for &id in &self.used_shapes {
            let Some(shape) = id.checked_sub(1).and_then(|i| dict.shapes.get(i as usize)) else { continue };
            let i = id as usize - 1;
            if self.shapes_in.len() <= i {
                self.shapes_in.resize(i + 1, 0);
            }
            if self.shapes_in[i] == serial {
                continue;
            }
            self.scratch.clear();
            ShapeEntry { id, descriptor: &shape.descriptor }.encode(&mut self.scratch);
            if !self.seg.write_entry(entry::SHAPE, &self.scratch) {
                return false;
            }
            self.shapes_in[i] = serial;
        }
        let len = self.staging.len();
        let total = ENTRY_HEADER_LEN + BATCH_FIXED_LEN + len;
        let Some(buf) = self.seg.reserve(total) else { return false };
        let kind = if recorded { entry::RECORDED } else { entry::BATCH };
        buf[0] = kind;
        buf[1..5].copy_from_slice(&((BATCH_FIXED_LEN + len) as u32).to_le_bytes());
        let mut fixed = [0u8; BATCH_FIXED_LEN];
        BatchHead { thread: thread.id, base_ticks: base }.write(&mut fixed);
        buf[ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + BATCH_FIXED_LEN].copy_from_slice(&fixed);
        buf[ENTRY_HEADER_LEN + BATCH_FIXED_LEN..].copy_from_slice(&self.staging);
        let crc = crate::wire::entry_crc(kind, (BATCH_FIXED_LEN + len) as u32, [&buf[ENTRY_HEADER_LEN..]]);
        buf[5..9].copy_from_slice(&crc.to_le_bytes());
        self.counters.bytes.fetch_add(total as u64, Ordering::Relaxed);
        true
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let r = if self.seg.is_open() { self.seg.rotate() } else { self.seg.open_next() };
        if r.is_ok() {
            self.write_anchor();
        }
        r
    }
}

impl Output for RoutedSegments {
    fn batch(&mut self, b: &Batch<'_>) {
        self.take(b);
    }

    /// Written now and after each rotation.
    fn anchor(&mut self, a: Anchor) {
        self.anchor = Some(a);
        self.write_anchor();
    }

    fn end_pass(&mut self, _pass: Pass) {
        self.seg.publish();
    }

    /// Syncs if this output asked for it.
    fn sync(&mut self) {
        if self.durability == Durability::SyncOnFlush && self.seg.sync().is_err() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn close(&mut self, _deadline: std::time::Instant) {
        self.write_anchor();
        self.seg.finalize();
    }
}
