//! The main segments, the tape every batch is framed into: BATCH entries, the dictionary
//! entries they need before them (threads, call sites, shapes, anchors), rotation, and the
//! RUN entries. Each framed batch is then handed to every output.
//!
//! With `Builder::segments(false)` and no network stream nothing is framed: the records go
//! to the outputs as they are (`write_unframed`).

use std::sync::atomic::Ordering;

use super::{Consumer, SlotInfo};
use crate::clock;
use crate::output::Batch;
use crate::wire::record::{record_len_split, Anchor, BatchHead, RunInfo, ShapeEntry, Split, ThreadEntry};
use crate::wire::{entry, BATCH_FIXED_LEN, DROP_MARKER_ID, DROP_MARKER_PAYLOAD, ENTRY_HEADER_LEN, RECORD_HEADER_LEN};

impl Consumer {
    /// Writes the records of `split` (one thread's, whole records, ticks near `base`) to the
    /// segments and the outputs, or, those its flight recorder keeps, to the recorder.
    pub(super) fn write_records(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        if self.recorder.is_some() {
            self.write_with_recorder(info, split, base);
        } else {
            self.write_direct(info, split, base);
        }
    }

    /// Writes the records of `split` to the segments and the outputs.
    pub(super) fn write_direct(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        if self.segments {
            self.ensure_segment();
            self.write_to_segments(info, split, base);
        } else {
            self.write_unframed(info, split, base);
        }
    }

    /// Writes all of `split` as batches, rotating as segments fill.
    fn write_to_segments(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        let n = split.len();
        let mut pos = 0;
        let mut rotations = 0;
        while pos < n {
            let (end, full) = self.write_batches(info, split, pos, base);
            if end > pos {
                rotations = 0;
            }
            pos = end;
            if full {
                rotations += 1;
                let rotated = self.seg.is_open() && rotations <= 2 && self.rotate();
                if !rotated {
                    // Nowhere to write: count the rest as lost, never stall the ring.
                    info.lost += self.dict.count_lost(split, pos);
                    info.shared.consumer.lost.store(info.lost, Ordering::Relaxed);
                    break;
                }
            }
        }
    }

    /// Without segments (`Builder::segments(false)`, no network stream): the records go to
    /// the outputs unframed.
    fn write_unframed(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        let w = self.dict.walk(split, 0, split.len());
        if w.serde {
            // The segment path loads serde shapes as it meets them; here, for the outputs,
            // take whatever the registry has now.
            self.dict.refresh_shapes();
        }
        if w.end > 0 {
            let b = Batch {
                thread: &info.shared,
                split,
                start: 0,
                end: w.end,
                base,
                records: w.records,
                framed: None,
                recorded: self.batch_kind == entry::RECORDED,
                dict: &self.dict,
                origin: self.origin,
                anchor: &self.anchor,
            };
            for o in &mut self.outputs {
                o.batch(&b);
            }
        }
        info.written += w.records;
        info.drops_reported += w.marker_drops;
        info.shared.consumer.written.store(info.written, Ordering::Relaxed);
        if w.end < split.len() {
            // A record the consumer cannot take apart cannot come from our producers; count
            // the rest as lost, as the segment path does, rather than write garbage.
            self.shared.set_error(format!("malformed record in thread {}'s ring", info.shared.id));
            info.lost += self.dict.count_lost(split, w.end).max(1);
            info.shared.consumer.lost.store(info.lost, Ordering::Relaxed);
        }
    }

    /// Writes records of `split` from `pos` as one or more batches. Returns how far it got
    /// and whether it stopped because the segment is full (or gone).
    pub(super) fn write_batches(
        &mut self,
        slot: &mut SlotInfo,
        split: Split<'_>,
        mut pos: usize,
        base: u64,
    ) -> (usize, bool) {
        if !self.seg.is_open() {
            return (pos, true);
        }
        if slot.in_segment != self.seg.serial {
            self.scratch.clear();
            ThreadEntry { thread: slot.shared.id, os_tid: slot.shared.os_tid, name: &slot.shared.name }
                .encode(&mut self.scratch);
            if !self.put_dict(entry::THREAD) {
                return (pos, true);
            }
            slot.in_segment = self.seg.serial;
        }
        let overhead = ENTRY_HEADER_LEN + BATCH_FIXED_LEN;
        let n = split.len();
        let serial = self.seg.serial;
        self.dict.fast_lens_for(serial);
        while pos < n {
            let room = self.seg.remaining().saturating_sub(overhead);
            let start = pos;
            let mut records = 0u64;
            let mut marker_drops = 0u64;
            let mut need_site = None;
            let mut need_shape = None;
            while pos < n {
                // Fast path: records of sites already checked in this segment, each of one
                // record length, that fit in the batch (and end within the bytes taken: the
                // producer commits whole records, so that holds for every record our
                // producers write; checked anyway, and left to the slow path). One table
                // load and one compare a record.
                {
                    let limit = n.min(start + room);
                    let lens = self.dict.fast_lens();
                    while let Some(id) = split.get::<4>(pos) {
                        let fast = lens.get(u32::from_le_bytes(id) as usize).map_or(0, |&l| l as usize);
                        if fast == 0 || pos + fast > limit {
                            break;
                        }
                        records += 1;
                        pos += fast;
                    }
                }
                let Some(id) = split.get::<4>(pos).map(u32::from_le_bytes) else { break };
                let len = if id == DROP_MARKER_ID {
                    RECORD_HEADER_LEN + DROP_MARKER_PAYLOAD
                } else {
                    let Some(site) = self.dict.site(id) else {
                        // Corrupt ring contents cannot happen with our producers; treat the
                        // rest as lost rather than write garbage.
                        self.shared.set_error(format!("unknown call-site id {id} in thread {}'s ring", slot.shared.id));
                        let lost = (n - pos) as u64 / RECORD_HEADER_LEN as u64;
                        slot.lost += lost.max(1);
                        slot.shared.consumer.lost.store(slot.lost, Ordering::Relaxed);
                        pos = n;
                        break;
                    };
                    if site.in_segment != serial {
                        need_site = Some(id);
                        break;
                    }
                    let serde_kinds = site.has_serde.then_some(site.reg.kinds);
                    let static_len = site.static_len;
                    let len = match record_len_split(split, pos, site.reg.kinds, static_len) {
                        Ok(l) => l,
                        Err(_) => {
                            self.shared.set_error(format!("malformed record in thread {}'s ring", slot.shared.id));
                            slot.lost += 1;
                            pos = n;
                            break;
                        }
                    };
                    if let Some(kinds) = serde_kinds {
                        need_shape = self.dict.missing_shape(split, pos, kinds, serial);
                        if need_shape.is_some() {
                            break;
                        }
                    } else if static_len.is_some() {
                        self.dict.remember_fast_len(id, len);
                    }
                    len
                };
                if pos - start + len > room {
                    break;
                }
                if id == DROP_MARKER_ID {
                    marker_drops += split.get::<8>(pos + RECORD_HEADER_LEN).map_or(0, u64::from_le_bytes);
                } else {
                    records += 1;
                }
                pos += len;
            }
            if pos > start {
                self.write_batch(slot, split, start, pos, base, records);
                slot.written += records;
                slot.drops_reported += marker_drops;
                slot.shared.consumer.written.store(slot.written, Ordering::Relaxed);
            }
            if let Some(id) = need_site {
                if !self.write_site(id) {
                    return (pos, true);
                }
                continue;
            }
            if let Some(id) = need_shape {
                if !self.write_shape(id) {
                    return (pos, true);
                }
                continue;
            }
            if pos < n {
                // The next record does not fit in this segment.
                return (pos, true);
            }
        }
        (pos, false)
    }

    fn write_batch(&mut self, slot: &SlotInfo, split: Split<'_>, start: usize, end: usize, base: u64, records: u64) {
        let len = end - start;
        let total = ENTRY_HEADER_LEN + BATCH_FIXED_LEN + len;
        let mut fixed = [0u8; BATCH_FIXED_LEN];
        BatchHead { thread: slot.shared.id, base_ticks: base }.write(&mut fixed);
        let Some(buf) = self.seg.reserve(total) else { return };
        buf[0] = self.batch_kind;
        buf[1..5].copy_from_slice(&((BATCH_FIXED_LEN + len) as u32).to_le_bytes());
        buf[ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + BATCH_FIXED_LEN].copy_from_slice(&fixed);
        let mut at = ENTRY_HEADER_LEN + BATCH_FIXED_LEN;
        split.pieces(start, end, |p| {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        });
        // One pass over the copy, which is hot in cache.
        let crc = crate::wire::entry_crc(self.batch_kind, (BATCH_FIXED_LEN + len) as u32, [&buf[ENTRY_HEADER_LEN..]]);
        buf[5..9].copy_from_slice(&crc.to_le_bytes());
        let t = &self.shared.totals;
        t.bytes_written.fetch_add(total as u64, Ordering::Relaxed);
        t.batches.fetch_add(1, Ordering::Relaxed);
        let b = Batch {
            thread: &slot.shared,
            split,
            start,
            end,
            base,
            records,
            framed: Some(buf),
            recorded: self.batch_kind == entry::RECORDED,
            dict: &self.dict,
            origin: self.origin,
            anchor: &self.anchor,
        };
        for o in &mut self.outputs {
            o.batch(&b);
        }
    }

    /// Writes call site `id`'s dictionary entry into the current segment.
    fn write_site(&mut self, id: u32) -> bool {
        let Some(site) = self.dict.get(id) else { return false };
        self.scratch.clear();
        site.encode(id, &mut self.scratch);
        if self.put_dict(entry::CALLSITE) {
            let serial = self.seg.serial;
            if let Some(site) = self.dict.get_mut(id) {
                site.in_segment = serial;
            }
            true
        } else {
            false
        }
    }

    /// Writes shape `id`'s entry into the current segment.
    fn write_shape(&mut self, id: u32) -> bool {
        let Some(shape) = self.dict.shapes.get(id as usize - 1) else { return false };
        self.scratch.clear();
        ShapeEntry { id, descriptor: &shape.descriptor }.encode(&mut self.scratch);
        if self.put_dict(entry::SHAPE) {
            let serial = self.seg.serial;
            if let Some(shape) = self.dict.shapes.get_mut(id as usize - 1) {
                shape.in_segment = serial;
            }
            true
        } else {
            false
        }
    }

    pub(super) fn write_anchor(&mut self) {
        let a: Anchor = self.cal.anchor();
        self.anchor = a;
        self.scratch.clear();
        a.encode(&mut self.scratch);
        self.put_dict(entry::ANCHOR);
        for o in &mut self.outputs {
            o.anchor(a);
        }
    }

    /// Writes the dictionary entry in `scratch` to the segment and hands it to the outputs
    /// (the network stream sends each one once per connection, whatever the segment did).
    pub(super) fn put_dict(&mut self, kind: u8) -> bool {
        for o in &mut self.outputs {
            o.dict(kind, &self.scratch);
        }
        self.seg.write_entry(kind, &self.scratch)
    }

    pub(super) fn maybe_anchor(&mut self) {
        if (self.seg.is_open() || !self.segments) && self.cal.due(clock::ticks()) {
            self.write_anchor();
        }
    }

    /// Finalizes the segment and opens the next; false if that failed.
    pub(super) fn rotate(&mut self) -> bool {
        match self.seg.rotate() {
            Ok(()) => {
                self.shared.totals.segments.fetch_add(1, Ordering::Relaxed);
                self.write_anchor();
                true
            }
            Err(e) => {
                self.shared
                    .set_error(format!("cannot open a new segment in {}: {e}", self.shared.config.dir.display()));
                self.retry_at = clock::ticks().wrapping_add(self.cal.rate() as u64);
                false
            }
        }
    }

    /// After an I/O failure, retries opening a segment about once a second.
    pub(super) fn ensure_segment(&mut self) {
        if self.segments && !self.seg.is_open() && clock::ticks().wrapping_sub(self.retry_at) as i64 >= 0 {
            match self.seg.open_next() {
                Ok(()) => {
                    self.shared.totals.segments.fetch_add(1, Ordering::Relaxed);
                    self.write_anchor();
                }
                Err(e) => {
                    self.shared.set_error(format!("cannot open a new segment: {e}"));
                    self.retry_at = clock::ticks().wrapping_add(self.cal.rate() as u64);
                }
            }
        }
    }

    /// Writes a RUN entry (start-up or clean shutdown) into the main segments.
    pub(super) fn write_run(&mut self, phase: u8, items: Vec<(String, String)>) {
        self.scratch.clear();
        let items = items.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        RunInfo { phase, unix_ns: clock::unix_ns(), items }.encode(&mut self.scratch);
        if !self.seg.write_entry(entry::RUN, &self.scratch) && self.seg.is_open() && self.rotate() {
            self.seg.write_entry(entry::RUN, &self.scratch);
        }
        self.seg.publish();
    }
}
