//! The flight recorder's buffer and dumps (settings: `crate::flight`).
//!
//! With a recorder, each drained batch is split by call site (`Site::flight`, decided once
//! per site): records to keep are copied into a bounded buffer here, the rest are written
//! as usual. A record at or above the trigger level opens a window; at the end of each
//! pass the kept records inside an open window are written out as RECORDED entries, grouped
//! by thread and in tick order within each thread; a window closes (and its DUMP entry is
//! written) once the consumer's clock is past its end by more than a batch can wait in a
//! ring. `dump_flight_recorder`, a panic (through the hook's request), a fatal signal and,
//! if asked, a clean shutdown write out everything kept.
//!
//! Without a recorder none of this runs: the drain loop tests one `Option` per batch.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Consumer, SlotInfo};
use crate::clock;
use crate::counters::{RecorderCounters, ThreadShared};
use crate::flight::{Class, FlightRecorder, Window};
use crate::wire::record::{DumpEntry, Split};
use crate::wire::{entry, unwrap_ticks};

const OVERHEAD: usize = FlightRecorder::RECORD_OVERHEAD;

/// One kept record: its bytes are the next `len` of `Recorder::bytes` after those of the
/// records before it.
#[derive(Clone, Copy)]
struct Meta {
    ticks: u64,
    /// Index into `Recorder::threads`.
    thread: u32,
    len: u32,
}

/// A thread with records in the buffer. Its `SlotInfo` is the recorder's own (with a
/// private copy of the thread's identity), so that writing a dump never touches the
/// thread's live counters.
struct HeldThread {
    slot: SlotInfo,
    held: u64,
}

/// A window a trigger opened: kept records with ticks in `lo..=hi` are written out.
struct Open {
    lo: u64,
    hi: u64,
    trigger: u64,
    reason: String,
    /// What it wrote so far.
    count: u64,
    first: u64,
    last: u64,
}

pub(crate) struct Recorder {
    cfg: FlightRecorder,
    /// The kept records' bytes, oldest first.
    bytes: VecDeque<u8>,
    /// One entry per kept record, in `bytes` order.
    meta: VecDeque<Meta>,
    /// `bytes.len() + meta.len() * OVERHEAD`: never above `cfg.max_bytes`.
    held_bytes: usize,
    /// Records pushed to the back of `meta` since the open window last looked (all of
    /// them when it never looked).
    fresh: usize,
    threads: Vec<Option<HeldThread>>,
    free: Vec<u32>,
    by_id: HashMap<u32, u32>,
    /// Trigger ticks met in this pass.
    triggers: Vec<u64>,
    open: Option<Open>,
    /// The records of the batch at hand that are written as usual.
    direct: Vec<u8>,
    /// Records picked for a dump: (thread index, ticks, offset in `picked_bytes`, length).
    picked: Vec<(u32, u64, usize, usize)>,
    picked_bytes: Vec<u8>,
    group: Vec<u8>,
    /// The tail of the buffer while `pick` takes it apart.
    spare: Vec<u8>,
    spare_meta: Vec<Meta>,
    /// Settings in ticks.
    age_ticks: Option<u64>,
    after_ticks: u64,
    grace_ticks: u64,
    rate: f64,
    /// Counters, mirrored into `Shared::recorder` by `publish`.
    kept: u64,
    dumped: u64,
    evicted: u64,
    dumps: u64,
    max_held: usize,
}

impl Recorder {
    /// `grace_ticks`: how long past a window's end records of it may still arrive.
    pub fn new(cfg: FlightRecorder, rate: f64, grace_ticks: u64) -> Recorder {
        let ticks = |d: std::time::Duration| (d.as_secs_f64() * rate) as u64;
        Recorder {
            age_ticks: cfg.max_age.map(ticks),
            after_ticks: ticks(cfg.after),
            grace_ticks,
            rate,
            cfg,
            bytes: VecDeque::new(),
            meta: VecDeque::new(),
            held_bytes: 0,
            fresh: 0,
            threads: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            triggers: Vec::new(),
            open: None,
            direct: Vec::new(),
            picked: Vec::new(),
            picked_bytes: Vec::new(),
            group: Vec::new(),
            spare: Vec::new(),
            spare_meta: Vec::new(),
            kept: 0,
            dumped: 0,
            evicted: 0,
            dumps: 0,
            max_held: 0,
        }
    }

    /// The index of `t` in `threads`: `cached` if it still is `t`'s (a slot is freed, and may
    /// be reused, once its last record leaves), else looked up or added; `cached` is updated.
    fn thread_index(&mut self, t: &ThreadShared, cached: &mut Option<u32>) -> u32 {
        if let Some(i) = *cached {
            if self.threads.get(i as usize).and_then(Option::as_ref).is_some_and(|h| h.slot.shared.id == t.id) {
                return i;
            }
        }
        let i = self.lookup_or_add(t);
        *cached = Some(i);
        i
    }

    fn lookup_or_add(&mut self, t: &ThreadShared) -> u32 {
        if let Some(&i) = self.by_id.get(&t.id) {
            return i;
        }
        let mut copy = ThreadShared::new(t.id, t.os_tid, t.name.clone(), 0);
        copy.origin = t.origin;
        let held = HeldThread { slot: SlotInfo::new(Arc::new(copy)), held: 0 };
        let i = match self.free.pop() {
            Some(i) => {
                self.threads[i as usize] = Some(held);
                i
            }
            None => {
                self.threads.push(Some(held));
                self.threads.len() as u32 - 1
            }
        };
        self.by_id.insert(t.id, i);
        i
    }

    /// One record of thread `i` left the buffer.
    fn release(&mut self, i: u32) {
        let Some(h) = self.threads.get_mut(i as usize).and_then(Option::as_mut) else { return };
        h.held = h.held.saturating_sub(1);
        if h.held == 0 {
            self.by_id.remove(&h.slot.shared.id);
            self.threads[i as usize] = None;
            self.free.push(i);
        }
    }

    /// Keeps the record `split[at..end]` of thread `i`, evicting the oldest to make room.
    fn hold(&mut self, i: u32, ticks: u64, split: Split<'_>, at: usize, end: usize) {
        self.kept += 1;
        // Counted first, so that evicting the thread's other records cannot free its slot.
        if let Some(h) = self.threads.get_mut(i as usize).and_then(Option::as_mut) {
            h.held += 1;
        }
        let len = end - at;
        let cost = len + OVERHEAD;
        if cost > self.cfg.max_bytes {
            self.evicted += 1;
            self.release(i);
            return;
        }
        if self.bytes.capacity() == 0 {
            // Once, so the buffer never reallocates: it holds at most `max_bytes`.
            self.bytes.reserve_exact(self.cfg.max_bytes);
        }
        while self.held_bytes + cost > self.cfg.max_bytes {
            self.evict_oldest();
        }
        split.pieces(at, end, |p| self.bytes.extend(p));
        self.meta.push_back(Meta { ticks, thread: i, len: len as u32 });
        self.fresh += 1;
        self.held_bytes += cost;
        self.max_held = self.max_held.max(self.held_bytes);
    }

    fn evict_oldest(&mut self) {
        let Some(m) = self.meta.pop_front() else { return };
        self.bytes.drain(..m.len as usize);
        self.held_bytes -= m.len as usize + OVERHEAD;
        self.fresh = self.fresh.min(self.meta.len());
        self.evicted += 1;
        self.release(m.thread);
    }

    /// Evicts what is older than `max_age`.
    fn evict_aged(&mut self, now: u64) {
        let Some(age) = self.age_ticks else { return };
        let oldest = now.saturating_sub(age);
        while self.meta.front().is_some_and(|m| m.ticks < oldest) {
            self.evict_oldest();
        }
    }

    /// Where a window for a trigger at `t` starts.
    fn window_start(&self, t: u64) -> u64 {
        match self.cfg.before {
            Window::Time(d) => t.saturating_sub((d.as_secs_f64() * self.rate) as u64),
            Window::Bytes(n) => {
                // The newest kept records up to `n` bytes (newest by arrival, which is
                // tick order within each thread).
                let mut lo = t;
                let mut sum = 0;
                for m in self.meta.iter().rev().filter(|m| m.ticks <= t) {
                    sum += m.len as usize + OVERHEAD;
                    if sum > n {
                        break;
                    }
                    lo = lo.min(m.ticks);
                }
                lo
            }
        }
    }

    /// Moves the kept records with ticks in `lo..=hi` (all of them for `None`), among the
    /// last `tail` of the buffer, into `picked`, sorted by thread then ticks. Costs the
    /// tail's length, not the buffer's.
    fn pick(&mut self, range: Option<(u64, u64)>, tail: usize) {
        self.picked.clear();
        self.picked_bytes.clear();
        let inside = |m: &Meta| range.is_none_or(|(lo, hi)| (lo..=hi).contains(&m.ticks));
        let from = self.meta.len() - tail.min(self.meta.len());
        if !self.meta.range(from..).any(inside) {
            return;
        }
        let tail_len: usize = self.meta.range(from..).map(|m| m.len as usize).sum();
        let start = self.bytes.len() - tail_len;
        self.spare.clear();
        self.spare.extend(self.bytes.range(start..));
        self.bytes.truncate(start);
        self.spare_meta.clear();
        self.spare_meta.extend(self.meta.drain(from..));
        let mut read = 0;
        for &m in &self.spare_meta {
            let len = m.len as usize;
            let rec = &self.spare[read..read + len];
            if inside(&m) {
                self.picked.push((m.thread, m.ticks, self.picked_bytes.len(), len));
                self.picked_bytes.extend_from_slice(rec);
            } else {
                self.bytes.extend(rec);
                self.meta.push_back(m);
            }
            read += len;
        }
        self.held_bytes -= self.picked_bytes.len() + self.picked.len() * OVERHEAD;
        self.fresh = self.fresh.min(self.meta.len());
        self.picked.sort_by_key(|&(thread, ticks, ..)| (thread, ticks));
    }

    /// Copies the counters into `c`.
    fn publish(&self, c: &RecorderCounters) {
        c.kept.store(self.kept, Ordering::Relaxed);
        c.dumped.store(self.dumped, Ordering::Relaxed);
        c.evicted.store(self.evicted, Ordering::Relaxed);
        c.held.store(self.meta.len() as u64, Ordering::Relaxed);
        c.held_bytes.store(self.held_bytes as u64, Ordering::Relaxed);
        c.max_held_bytes.store(self.max_held as u64, Ordering::Relaxed);
        c.dumps.store(self.dumps, Ordering::Relaxed);
    }
}

impl Consumer {
    /// With a flight recorder: keeps the records of `split` its call sites say to keep,
    /// notes the triggers, and writes the rest as usual.
    pub(super) fn write_with_recorder(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        let Some(mut fr) = self.recorder.take() else { return };
        fr.direct.clear();
        let mut thread = None;
        let mut kept = 0u64;
        let w = self.dict.walk_each(split, 0, split.len(), |rec, class| {
            let ticks = || unwrap_ticks(ticks48(split, rec.at), base);
            match class {
                Class::Keep => {
                    let i = fr.thread_index(&info.shared, &mut thread);
                    fr.hold(i, ticks(), split, rec.at, rec.end());
                    kept += 1;
                }
                Class::Trigger => {
                    fr.triggers.push(ticks());
                    split.pieces(rec.at, rec.end(), |p| fr.direct.extend_from_slice(p));
                }
                Class::Write => split.pieces(rec.at, rec.end(), |p| fr.direct.extend_from_slice(p)),
            }
        });
        // A record that cannot be taken apart: the usual path reports it and counts the rest.
        split.pieces(w.end, split.len(), |p| fr.direct.extend_from_slice(p));
        if kept > 0 {
            info.kept += kept;
            info.shared.consumer.kept.store(info.kept, Ordering::Relaxed);
        }
        if !fr.direct.is_empty() {
            self.write_direct(info, Split { a: &fr.direct, b: &[] }, base);
        }
        self.recorder = Some(fr);
    }

    /// The end of a drain pass: opens windows for this pass's triggers, writes out what is
    /// inside the open one, closes it once nothing more can arrive, serves dump requests
    /// (`reasons`), and evicts aged records.
    pub(super) fn recorder_pass(&mut self, reasons: Vec<String>) {
        let Some(mut fr) = self.recorder.take() else { return };
        let now = clock::ticks();
        let triggers = std::mem::take(&mut fr.triggers);
        for t in triggers {
            let hi = t.saturating_add(fr.after_ticks);
            match &mut fr.open {
                Some(o) if t <= o.hi.saturating_add(fr.grace_ticks) => o.hi = o.hi.max(hi),
                _ => {
                    self.close_window(&mut fr);
                    let lo = fr.window_start(t);
                    fr.fresh = fr.meta.len();
                    let reason = format!("{} record", level_name(&fr.cfg));
                    fr.open = Some(Open { lo, hi, trigger: t, reason, count: 0, first: 0, last: 0 });
                }
            }
        }
        if let Some(o) = &fr.open {
            let (lo, hi) = (o.lo, o.hi);
            let tail = fr.fresh;
            fr.pick(Some((lo, hi)), tail);
            fr.fresh = 0;
            let (n, first, last) = self.write_picked(&mut fr);
            if let Some(o) = &mut fr.open {
                if n > 0 {
                    o.first = if o.count == 0 { first } else { o.first.min(first) };
                    o.last = o.last.max(last);
                    o.count += n;
                }
                if now > o.hi.saturating_add(fr.grace_ticks) {
                    self.close_window(&mut fr);
                }
            }
        }
        for reason in reasons {
            self.dump_all(&mut fr, now, reason);
        }
        fr.evict_aged(now);
        fr.publish(&self.shared.recorder);
        self.recorder = Some(fr);
    }

    /// Writes out every kept record (a dump asked for, a panic, a signal, a shutdown).
    fn dump_all(&mut self, fr: &mut Recorder, now: u64, reason: String) {
        self.close_window(fr);
        let len = fr.meta.len();
        fr.pick(None, len);
        let (count, first, last) = self.write_picked(fr);
        self.write_dump(
            fr,
            DumpEntry { count, first_ticks: first, last_ticks: last, trigger_ticks: now, reason: &reason },
        );
    }

    /// Closes the open window, if any, writing its DUMP entry.
    fn close_window(&mut self, fr: &mut Recorder) {
        if let Some(o) = fr.open.take() {
            let d = DumpEntry {
                count: o.count,
                first_ticks: o.first,
                last_ticks: o.last,
                trigger_ticks: o.trigger,
                reason: &o.reason,
            };
            self.write_dump(fr, d);
        }
    }

    fn write_dump(&mut self, fr: &mut Recorder, d: DumpEntry<'_>) {
        fr.dumps += 1;
        self.scratch.clear();
        d.encode(&mut self.scratch);
        if !self.seg.write_entry(entry::DUMP, &self.scratch) && self.seg.is_open() && self.rotate() {
            self.seg.write_entry(entry::DUMP, &self.scratch);
        }
        for o in &mut self.outputs {
            o.dump(&d, &self.anchor);
        }
        fr.publish(&self.shared.recorder);
    }

    /// Writes the records in `fr.picked` as RECORDED entries; returns how many were written
    /// and the least and greatest ticks among them. The others (no room anywhere) are
    /// counted as evicted.
    fn write_picked(&mut self, fr: &mut Recorder) -> (u64, u64, u64) {
        let (mut n, mut first, mut last) = (0u64, u64::MAX, 0u64);
        let picked = std::mem::take(&mut fr.picked);
        let saved_origin = self.origin;
        self.batch_kind = entry::RECORDED;
        for group in picked.chunk_by(|a, b| a.0 == b.0) {
            let thread = group[0].0;
            fr.group.clear();
            for &(_, ticks, off, len) in group {
                fr.group.extend_from_slice(&fr.picked_bytes[off..off + len]);
                first = first.min(ticks);
                last = last.max(ticks);
            }
            let Some(h) = fr.threads.get_mut(thread as usize).and_then(Option::as_mut) else {
                // Cannot happen (a slot lives while it has records); counted if it did.
                fr.evicted += group.len() as u64;
                continue;
            };
            let written = h.slot.written;
            self.origin = h.slot.shared.origin;
            self.write_direct(&mut h.slot, Split { a: &fr.group, b: &[] }, group[0].1);
            let done = h.slot.written - written;
            n += done;
            fr.dumped += done;
            // Records a full disk kept out are gone as surely as evicted ones.
            fr.evicted += group.len() as u64 - done;
            for _ in group {
                fr.release(thread);
            }
        }
        self.batch_kind = entry::BATCH;
        self.origin = saved_origin;
        fr.picked = picked;
        if n == 0 {
            (0, 0, 0)
        } else {
            (n, first, last)
        }
    }

    /// Shutdown: writes out what is kept if asked to, else discards it (counted as evicted);
    /// either way closes the open window.
    pub(super) fn recorder_shutdown(&mut self) {
        let Some(mut fr) = self.recorder.take() else { return };
        self.close_window(&mut fr);
        if fr.cfg.dump_on_shutdown && !fr.meta.is_empty() {
            self.dump_all(&mut fr, clock::ticks(), "shutdown".into());
        }
        while !fr.meta.is_empty() {
            fr.evict_oldest();
        }
        fr.publish(&self.shared.recorder);
        self.recorder = Some(fr);
    }
}

fn level_name(cfg: &FlightRecorder) -> &'static str {
    match cfg.trigger {
        Some(crate::Level::Warn) => "WARN",
        Some(crate::Level::Info) => "INFO",
        Some(crate::Level::Debug) => "DEBUG",
        _ => "ERROR",
    }
}

/// The low 48 bits of the tick counter in the header of the record at `at`.
fn ticks48(split: Split<'_>, at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(t) = split.get::<6>(at + 4) {
        b[..6].copy_from_slice(&t);
    }
    u64::from_le_bytes(b)
}
