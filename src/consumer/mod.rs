//! The consumer: one thread that drains every ring into memory-mapped segments.
//!
//! Each pass adopts newly attached rings, then takes everything readable from each ring and
//! copies it into the segment as BATCH entries. Records are never formatted here; the
//! consumer only walks record boundaries (a table lookup per record for fixed-size call
//! sites) to find call sites and threads that the current segment's dictionary still lacks,
//! and writes those entries before the batch that refers to them.

pub(crate) mod lifecycle;
pub(crate) mod routed;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::{self, Calibrator};
use crate::config::StartError;
use crate::counters::ThreadShared;
use crate::frontend::args::ArgList;
use crate::frontend::callsite::{register, registered_since, Callsite, Registered, DISABLED};
use crate::net::sender::NetTap;
use crate::policy::{Durability, Idle};
use crate::shared::Shared;
use crate::sink::text::TextSinks;
use crate::wire::record::{
    for_each_shape, record_len_split, static_args_len, Anchor, BatchHead, CallsiteEntry, Drops, RunInfo, ShapeEntry,
    Split, ThreadEnd, ThreadEntry,
};
use crate::wire::ArgKind;
use crate::wire::{entry, BATCH_FIXED_LEN, DROP_MARKER_ID, ENTRY_HEADER_LEN, RECORD_HEADER_LEN};
use routed::RoutedSegments;
use tapelog_segment::{SegmentConfig, SegmentWriter};

/// Opens the first segment on the caller's thread (so `start()` can report errors), then
/// starts the consumer thread.
pub(crate) fn spawn(shared: Arc<Shared>, text: Option<TextSinks>) -> Result<JoinHandle<()>, StartError> {
    let cfg = &shared.config;
    let io_err = |source| StartError::Io { path: cfg.dir.clone(), source };
    let run_id = clock::unix_ns();
    let mut metadata = cfg.metadata.clone();
    if !metadata.iter().any(|(k, _)| k == "pid") {
        metadata.push(("pid".into(), std::process::id().to_string()));
    }
    let net = match &cfg.network {
        Some(n) => {
            let mut md = metadata.clone();
            if !md.iter().any(|(k, _)| k == "host") {
                md.push(("host".into(), crate::os::hostname().unwrap_or_else(|| "unknown".into())));
            }
            let header = crate::wire::FileHeader {
                version: crate::wire::FORMAT_VERSION,
                flags: 0,
                header_len: 0,
                committed: 0,
                run_id,
                seq: 0,
                pid: std::process::id(),
                created_unix_ns: clock::unix_ns(),
                clock: clock::CLOCK_KIND,
                metadata: md,
            };
            let (tap, counters) = NetTap::start(n, header).map_err(io_err)?;
            let _ = shared.net.set(counters);
            Some(tap)
        }
        None => None,
    };
    let core = cfg.consumer_core;
    let seg_cfg = SegmentConfig {
        dir: cfg.dir.clone(),
        size: cfg.segment_size,
        run_id,
        metadata,
        max_files: cfg.max_files,
        max_bytes: cfg.max_bytes,
        pid: std::process::id(),
        clock: clock::CLOCK_KIND,
        first_seq: 0,
        // The helper that prepares segments ahead runs where the consumer runs, never on a
        // program thread's core, and is one of the logger's own threads.
        helper_setup: Some(Arc::new(move || {
            crate::frontend::reentry::mark_owned(0);
            crate::os::place_thread(core);
        })),
    };
    let base_cfg = seg_cfg.clone();
    let seg = if cfg.segments {
        SegmentWriter::create(seg_cfg).map_err(io_err)?
    } else if net.is_some() {
        // No files, but the network stream needs the same entries: segments in memory, no
        // bigger than the largest batch needs.
        let size = seg_cfg.size.min((cfg.ring_capacity + crate::config::SEGMENT_HEADROOM).max(8 << 20));
        SegmentWriter::memory(SegmentConfig { size, ..seg_cfg }).map_err(io_err)?
    } else {
        SegmentWriter::disabled(seg_cfg)
    };
    let mut routed = Vec::new();
    let mut routes = Vec::new();
    for o in &cfg.outputs {
        let crate::route::OutputKind::Segments { dir, segment_size, max_files, max_bytes, durability } = &o.kind else {
            continue;
        };
        let mut md = base_cfg.metadata.clone();
        md.push(("output".into(), o.name.clone()));
        let c = SegmentConfig {
            dir: dir.clone(),
            size: segment_size.unwrap_or(cfg.segment_size),
            metadata: md,
            max_files: *max_files,
            max_bytes: *max_bytes,
            ..base_cfg.clone()
        };
        let w = SegmentWriter::create(c).map_err(|source| StartError::Io { path: dir.clone(), source })?;
        routed.push(RoutedSegments::new(o.name.clone(), routes.len() as u32, w, *durability));
        routes.push(o.route.clone());
    }
    let _ = shared.outputs.set(routed.iter().map(|r| r.counters.clone()).collect());
    let rate = clock::measure_rate(Duration::from_millis(10));
    crate::frontend::sample::TICKS_PER_SEC.store(rate as u64, Ordering::Relaxed);
    let sh = shared.clone();
    std::thread::Builder::new()
        .name("tapelog-consumer".into())
        .spawn(move || {
            if !crate::os::place_thread(core) {
                sh.set_error(format!("could not pin the consumer to CPU {}", core.unwrap_or_default()));
            }
            let _ = sh.consumer_thread.set(std::thread::current());
            let tid = crate::os::thread_id();
            crate::signals::CONSUMER_TID.store(tid, Ordering::Relaxed);
            // Log calls made on this thread (by a sink, or a library it uses) go to a stream
            // of their own, never to a ring this thread would have to drain.
            let calls = Arc::new(ThreadShared::new(
                crate::frontend::next_thread_id(),
                tid,
                "tapelog-consumer".into(),
                sh.config.ring_capacity,
            ));
            sh.threads.lock().unwrap_or_else(|p| p.into_inner()).push(calls.clone());
            crate::frontend::reentry::start_consumer(calls.clone(), sh.config.ring_capacity);
            // Marks the consumer gone even if it panics, so flush() never waits forever.
            let _alive = AliveGuard(sh.clone());
            let mut c = Consumer::new(sh.clone(), seg, text, net, rate);
            c.calls = Some(SlotInfo::new(calls));
            c.routes = routes;
            c.routed = routed;
            for r in &mut c.routed {
                r.anchor(c.anchor);
            }
            c.run();
        })
        .map_err(io_err)
}

struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.flush.consumer_ended();
    }
}

struct Site {
    reg: Registered,
    /// Bit `i` set when routed output `i` takes this call site's records.
    routes: u64,
    static_len: Option<usize>,
    /// Whether its records carry serde values, whose shapes the segment must hold.
    has_serde: bool,
    /// `SegmentWriter::serial` of the segment whose dictionary holds this site (0 = none).
    in_segment: u64,
}

/// A serde value shape (id = index + 1), as the registry describes it.
struct ShapeSlot {
    descriptor: Arc<[u8]>,
    /// `SegmentWriter::serial` of the segment that holds its SHAPE entry (0 = none).
    in_segment: u64,
}

struct Slot {
    ring: rtrb::Consumer<u8>,
    info: SlotInfo,
}

struct SlotInfo {
    shared: Arc<ThreadShared>,
    /// `SegmentWriter::serial` of the segment that holds this thread's THREAD entry.
    in_segment: u64,
    /// Dropped records already reported by in-band markers or DROPS entries.
    drops_reported: u64,
    written: u64,
    lost: u64,
    high_water: u64,
    /// Ticks of the last drain.
    last_drain: u64,
    /// Ticks of the last capacity warning (0 = none yet).
    warned_at: u64,
}

impl SlotInfo {
    fn new(shared: Arc<ThreadShared>) -> Self {
        SlotInfo {
            shared,
            in_segment: 0,
            drops_reported: 0,
            written: 0,
            lost: 0,
            high_water: 0,
            last_drain: 0,
            warned_at: 0,
        }
    }
}

/// A ring holding at least this much is drained at once; less waits up to the batch delay
/// (unless the ring is an eighth full, or a flush or shutdown asks for everything), so
/// batches amortize their 21 bytes of framing and the consumer's per-batch work.
const BATCH_BYTES: usize = 8 << 10;

struct Consumer {
    shared: Arc<Shared>,
    slots: Vec<Slot>,
    /// Indexed by call-site id; ids are dense from 1.
    sites: Vec<Option<Site>>,
    /// Indexed by call-site id: the whole record length of a site whose records are all
    /// one size, carry no serde value and whose dictionary entry is in segment `fast_serial`;
    /// 0 for any other. Lets the batch walk take such a record with one load (see
    /// `write_batches`).
    fast_len: Vec<u32>,
    fast_serial: u64,
    known_sites: usize,
    /// Indexed by shape id - 1.
    shapes: Vec<ShapeSlot>,
    seg: SegmentWriter,
    cal: Calibrator,
    scratch: Vec<u8>,
    /// Next time (ticks) to retry opening a segment after an I/O failure.
    retry_at: u64,
    /// How long a small batch may wait, in ticks.
    batch_ticks: u64,
    /// `poll_interval` in clock ticks.
    poll_ticks: u64,
    /// The consumer's own stream: "received signal" records and capacity warnings.
    own_slot: Option<SlotInfo>,
    /// Log calls made on the consumer thread (by sinks it runs), taken from
    /// `frontend::reentry` after each pass; `None` once shut down.
    calls: Option<SlotInfo>,
    /// Buffers the consumer thread's calls are taken into (kept to reuse their memory).
    calls_bytes: Vec<u8>,
    calls_runs: Vec<(usize, u32)>,
    /// The sink that logged the records being written now (1-based; 0 for none): the text
    /// outputs do not hand them back to it.
    origin: u32,
    /// Least ticks between two capacity warnings of one ring.
    warn_ticks: u64,
    /// The text outputs, if any.
    text: Option<TextSinks>,
    /// Whether entries are written: to segment files, or (with `segments(false)` and a
    /// network stream) to segments in memory that only feed the stream.
    segments: bool,
    /// The network stream, if any.
    net: Option<NetTap>,
    /// Named segment outputs, and their routes (bit `i` of `Site::routes` is `routed[i]`).
    routed: Vec<RoutedSegments>,
    routes: Vec<crate::Route>,
    /// The latest calibration anchor, for the text outputs' timestamps.
    anchor: Anchor,
}

impl Consumer {
    fn new(shared: Arc<Shared>, seg: SegmentWriter, text: Option<TextSinks>, net: Option<NetTap>, rate: f64) -> Self {
        let batch_ticks = (rate * shared.config.batch_delay.as_secs_f64()) as u64;
        let poll_ticks = (rate * shared.config.poll_interval.as_secs_f64()) as u64;
        let warn_ticks = shared.config.capacity_warning.map_or(0, |w| (rate * w.interval.as_secs_f64()) as u64);
        let segments = shared.config.segments || net.is_some();
        let mut cal = Calibrator::new(rate);
        let anchor = cal.anchor();
        let mut c = Consumer {
            shared,
            slots: Vec::new(),
            sites: vec![None],
            fast_len: Vec::new(),
            fast_serial: 0,
            known_sites: 0,
            shapes: Vec::new(),
            seg,
            cal,
            scratch: Vec::with_capacity(4096),
            retry_at: 0,
            batch_ticks,
            poll_ticks,
            own_slot: None,
            calls: None,
            calls_bytes: Vec::new(),
            calls_runs: Vec::new(),
            origin: 0,
            warn_ticks,
            text,
            segments,
            net,
            routed: Vec::new(),
            routes: Vec::new(),
            anchor,
        };
        c.shared.totals.segments.store(u64::from(c.shared.config.segments), Ordering::Relaxed);
        c.write_anchor();
        c.write_run(RunInfo::START, c.start_items(rate));
        c.seg.publish();
        c
    }

    fn run(&mut self) {
        let mut idle_rounds = 0u32;
        loop {
            let pass_start = clock::ticks();
            // The drain below sees every record committed before the newest flush request
            // (FlushBarrier::pending's Acquire pairs with the request).
            let flush_req = self.shared.flush.pending();
            let shutdown = self.shared.shutdown.load(Ordering::Acquire);
            if (!shutdown && self.shared.paused.load(Ordering::Relaxed)) || self.shared.stalled.load(Ordering::Relaxed)
            {
                std::thread::park_timeout(Duration::from_millis(1));
                continue;
            }
            self.adopt_pending();
            // Acquire pairs with the signal handler's Release: record it before serving the
            // flush the handler requested right after. Loaded before it is swapped so that
            // an idle pass does not write (and take from every other core) its cache line.
            if crate::signals::PENDING_SIGNAL.load(Ordering::Relaxed) != 0 {
                let sig = crate::signals::PENDING_SIGNAL.swap(0, Ordering::Acquire);
                if sig != 0 {
                    self.record_signal(sig);
                }
            }
            let flushing = flush_req.is_some();
            let work = self.drain_all(flushing || shutdown) + self.write_calls();
            if let Some(n) = self.net.as_mut().filter(|n| n.has_deferred()) {
                n.retry();
            }
            self.maybe_anchor();
            self.seg.publish();
            for r in &mut self.routed {
                r.publish();
            }
            self.report_disabled_sinks();
            if let Some(t) = &mut self.text {
                if flushing {
                    t.mark_flush();
                } else if work > 0 {
                    t.end_pass();
                }
            }
            if flushing {
                self.sync_if_configured();
                if let Some(t) = flush_req {
                    self.shared.flush.complete(t);
                }
            }
            if shutdown {
                self.shutdown();
                return;
            }
            if work > 0 {
                idle_rounds = 0;
            } else {
                idle_rounds = idle_rounds.saturating_add(1);
                self.idle(idle_rounds, pass_start);
            }
        }
    }

    /// After a pass that took nothing (`rounds` of them in a row, the last one started at
    /// `pass_start`).
    fn idle(&self, rounds: u32, pass_start: u64) {
        match self.shared.config.idle {
            Idle::BusySpin => core::hint::spin_loop(),
            _ => {
                // Rounds of spinning, then of yielding, before sleeping: about 40 µs of
                // each at the default interval (the same 64 of each as always with none).
                let (spin, busy) = if self.poll_ticks == 0 { (64, 128) } else { (4, 8) };
                if rounds < busy {
                    // Wait until `poll_interval` after the pass began; see
                    // `Builder::poll_interval` for why not look again at once. A flush or
                    // shutdown ends the wait: reading their flags costs the producers
                    // nothing. (Relaxed: only a hint to stop waiting; the loop reads both
                    // again with the orderings that matter.)
                    loop {
                        if rounds < spin {
                            core::hint::spin_loop();
                        } else {
                            std::thread::yield_now();
                        }
                        if clock::ticks().wrapping_sub(pass_start) >= self.poll_ticks
                            || self.shared.flush.pending().is_some()
                            || self.shared.shutdown.load(Ordering::Relaxed)
                        {
                            break;
                        }
                    }
                } else {
                    // 20 µs doubling up to ~1 ms; flush() and shutdown unpark us.
                    let shift = (rounds - busy).min(6);
                    std::thread::park_timeout(Duration::from_micros(20 << shift).min(Duration::from_millis(1)));
                }
            }
        }
    }

    fn sync_if_configured(&mut self) {
        for r in &mut self.routed {
            r.sync_if_configured();
        }
        if self.shared.config.durability == Durability::SyncOnFlush {
            if let Err(e) = self.seg.sync() {
                self.shared.set_error(format!("msync failed: {e}"));
            }
        }
    }

    fn adopt_pending(&mut self) {
        let mut new = Vec::new();
        self.shared.handover.take(&mut new);
        for t in new {
            self.slots.push(Slot { ring: t.ring, info: SlotInfo::new(t.shared) });
        }
    }

    /// Writes the records logged on the consumer thread since the last call (by sinks it
    /// ran, during the pass), each to every output but the sink that logged it. Returns the
    /// bytes taken.
    fn write_calls(&mut self) -> usize {
        let Some(mut info) = self.calls.take() else { return 0 };
        let (mut bytes, mut runs) = (std::mem::take(&mut self.calls_bytes), std::mem::take(&mut self.calls_runs));
        crate::frontend::reentry::take_own(&mut bytes, &mut runs);
        let base = clock::ticks();
        let mut start = 0;
        for &(end, origin) in &runs {
            self.origin = origin;
            let split = Split { a: &bytes[start..end], b: &[] };
            if self.segments {
                self.ensure_segment();
                self.write_to_segments(&mut info, split, base);
            } else {
                self.write_text_only(&mut info, split, base);
            }
            start = end;
        }
        self.origin = 0;
        self.calls = Some(info);
        let n = bytes.len();
        (self.calls_bytes, self.calls_runs) = (bytes, runs);
        n
    }

    /// One pass over every ring; returns the bytes taken. Unless `force`, a ring holding
    /// only a little data that was drained recently is left to accumulate a bigger batch.
    fn drain_all(&mut self, force: bool) -> usize {
        let mut work = 0;
        let mut i = 0;
        let now = clock::ticks();
        while i < self.slots.len() {
            work += self.drain(i, force, now);
            if self.slots[i].ring.is_abandoned() {
                // The producer thread exited. Its last commits happen-before the abandon flag
                // (rtrb's Release/Acquire), so one more drain takes everything.
                work += self.drain(i, true, now);
                let slot = self.slots.swap_remove(i);
                self.finish_slot(slot, true);
                continue;
            }
            i += 1;
        }
        work
    }

    /// Takes everything readable from ring `i`; returns the bytes taken.
    fn drain(&mut self, i: usize, force: bool, now: u64) -> usize {
        let n = self.slots[i].ring.slots();
        {
            let s = &mut self.slots[i].info;
            s.shared.consumer.depth.store(n as u64, Ordering::Relaxed);
            if n as u64 > s.high_water {
                s.high_water = n as u64;
                s.shared.consumer.high_water.store(n as u64, Ordering::Relaxed);
            }
            if n == 0 {
                return 0;
            }
            self.maybe_warn_capacity(i, n, now);
            let s = &mut self.slots[i].info;
            let small = n < BATCH_BYTES && n < s.shared.capacity / 8;
            if !force && small && now.wrapping_sub(s.last_drain) < self.batch_ticks {
                return 0;
            }
            s.last_drain = now;
        }
        self.ensure_segment();
        self.origin = self.slots[i].info.shared.origin;
        let mut slot = self.slots.swap_remove(i);
        let taken = {
            let Slot { ring, info } = &mut slot;
            let chunk = match ring.read_chunk(n) {
                Ok(c) => c,
                // read_chunk(n) with n <= slots() cannot fail.
                Err(_) => return unreachable_slots(&mut self.slots, slot, i),
            };
            let (a, b) = chunk.as_slices();
            let split = Split { a, b };
            let base = clock::ticks();
            if self.segments {
                self.write_to_segments(info, split, base);
            } else {
                self.write_text_only(info, split, base);
            }
            chunk.commit(n);
            n
        };
        self.slots.push(slot);
        let last = self.slots.len() - 1;
        self.slots.swap(i, last);
        taken
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
                    info.lost += count_records(&self.sites, split, pos);
                    info.shared.consumer.lost.store(info.lost, Ordering::Relaxed);
                    break;
                }
            }
        }
    }

    /// Without segments (`Builder::segments(false)`): every record goes to the text outputs.
    fn write_text_only(&mut self, info: &mut SlotInfo, split: Split<'_>, base: u64) {
        let (records, marker_drops, end) = self.text_records(info, split, 0, split.len(), base);
        if !self.routed.is_empty() {
            // The segment path loads serde shapes as it meets them; here, for the routed
            // outputs, take whatever the registry has now.
            let mut fresh = Vec::new();
            crate::serde_arg::shapes_since(self.shapes.len(), &mut fresh);
            self.shapes.extend(fresh.into_iter().map(|descriptor| ShapeSlot { descriptor, in_segment: 0 }));
            for r in &mut self.routed {
                r.batch(&info.shared, split, 0, end, base, &self.sites, &self.shapes);
            }
        }
        info.written += records;
        info.drops_reported += marker_drops;
        info.shared.consumer.written.store(info.written, Ordering::Relaxed);
        if end < split.len() {
            // A record the consumer cannot take apart cannot come from our producers; count
            // the rest as lost, as the segment path does, rather than write garbage.
            self.shared.set_error(format!("malformed record in thread {}'s ring", info.shared.id));
            info.lost += count_records(&self.sites, split, end).max(1);
            info.shared.consumer.lost.store(info.lost, Ordering::Relaxed);
        }
    }

    /// Writes records of `split` from `pos` as one or more batches. Returns how far it got
    /// and whether it stopped because the segment is full (or gone).
    fn write_batches(&mut self, slot: &mut SlotInfo, split: Split<'_>, mut pos: usize, base: u64) -> (usize, bool) {
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
        if self.fast_serial != serial {
            // A new segment: its dictionary holds no call site yet.
            self.fast_len.fill(0);
            self.fast_serial = serial;
        }
        while pos < n {
            let room = self.seg.remaining().saturating_sub(overhead);
            let start = pos;
            let mut records = 0u64;
            let mut marker_drops = 0u64;
            let mut need_site = None;
            let mut need_shape = None;
            while pos < n {
                let Some(id) = split.get::<4>(pos).map(u32::from_le_bytes) else { break };
                // Fast path: a site already checked in this segment, of one record length.
                // (The producer commits whole records, so `pos + len <= n` holds for every
                // record our producers write; checked anyway, and left to the slow path.)
                let fast = self.fast_len.get(id as usize).map_or(0, |&l| l as usize);
                if fast != 0 && pos + fast <= n {
                    if pos - start + fast > room {
                        break;
                    }
                    records += 1;
                    pos += fast;
                    continue;
                }
                let len = if id == DROP_MARKER_ID {
                    RECORD_HEADER_LEN + crate::wire::DROP_MARKER_PAYLOAD
                } else {
                    let Some(site) = self.site(id) else {
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
                    let serde_kinds = site.has_serde.then(|| site.reg.kinds.clone());
                    let static_len = site.static_len;
                    let len = match record_len_split(split, pos, &site.reg.kinds, static_len) {
                        Ok(l) => l,
                        Err(_) => {
                            self.shared.set_error(format!("malformed record in thread {}'s ring", slot.shared.id));
                            slot.lost += 1;
                            pos = n;
                            break;
                        }
                    };
                    if let Some(kinds) = serde_kinds {
                        need_shape = self.missing_shape(split, pos, &kinds);
                        if need_shape.is_some() {
                            break;
                        }
                    } else if static_len.is_some() {
                        self.remember_fast_len(id, len);
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
        buf[0] = entry::BATCH;
        buf[1..5].copy_from_slice(&((BATCH_FIXED_LEN + len) as u32).to_le_bytes());
        buf[ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + BATCH_FIXED_LEN].copy_from_slice(&fixed);
        let mut at = ENTRY_HEADER_LEN + BATCH_FIXED_LEN;
        split.pieces(start, end, |p| {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        });
        // One pass over the copy, which is hot in cache.
        let crc = crate::wire::entry_crc(entry::BATCH, (BATCH_FIXED_LEN + len) as u32, [&buf[ENTRY_HEADER_LEN..]]);
        buf[5..9].copy_from_slice(&crc.to_le_bytes());
        if let Some(net) = &mut self.net {
            net.batch(slot.shared.id, records, buf, base);
        }
        let t = &self.shared.totals;
        t.bytes_written.fetch_add(total as u64, Ordering::Relaxed);
        t.batches.fetch_add(1, Ordering::Relaxed);
        if self.text.is_some() {
            self.text_records(slot, split, start, end, base);
        }
        for r in &mut self.routed {
            r.batch(&slot.shared, split, start, end, base, &self.sites, &self.shapes);
        }
    }

    /// Formats `split[start..end]` for the text outputs; returns the records, the drops that
    /// in-band markers report, and where it stopped (`end` unless a record was malformed).
    fn text_records(
        &mut self,
        slot: &SlotInfo,
        split: Split<'_>,
        start: usize,
        end: usize,
        base: u64,
    ) -> (u64, u64, usize) {
        let Some(mut text) = self.text.take() else { return (0, 0, end) };
        text.set_origin(self.origin);
        let anchor = self.anchor;
        let thread = (slot.shared.name.as_str(), slot.shared.id);
        let n = text.records(thread, split, start, end, base, &anchor, |id| {
            self.site(id).map(|s| (s.reg.cs, s.reg.kinds.clone(), s.static_len))
        });
        self.text = Some(text);
        n
    }

    /// Lets the batch walk take call site `id`'s records, all `len` bytes long, without a
    /// lookup until the segment rotates. Only for a site whose dictionary entry is in the
    /// current segment and whose records carry no serde value.
    #[cold]
    fn remember_fast_len(&mut self, id: u32, len: usize) {
        let (Ok(len), idx) = (u32::try_from(len), id as usize) else { return };
        if idx >= self.fast_len.len() {
            self.fast_len.resize(idx + 1, 0);
        }
        self.fast_len[idx] = len;
    }

    /// Looks up a call site, refreshing from the registry on a miss.
    fn site(&mut self, id: u32) -> Option<&Site> {
        let idx = id as usize;
        if idx >= self.sites.len() || self.sites[idx].is_none() {
            let mut fresh = Vec::new();
            registered_since(self.known_sites, &mut fresh);
            for reg in fresh {
                self.known_sites += 1;
                let static_len = static_args_len(&reg.kinds);
                let has_serde = reg.kinds.iter().any(|&k| ArgKind(k).base() == ArgKind::SERDE);
                let mut routes = 0u64;
                for (b, r) in self.routes.iter().enumerate() {
                    if r.matches(reg.cs) {
                        routes |= 1 << b;
                    }
                }
                self.sites.push(Some(Site { reg, routes, static_len, has_serde, in_segment: 0 }));
            }
        }
        self.sites.get(idx)?.as_ref()
    }

    /// Writes call site `id`'s dictionary entry into the current segment.
    fn write_site(&mut self, id: u32) -> bool {
        let Some(Some(site)) = self.sites.get(id as usize) else { return false };
        self.scratch.clear();
        callsite_entry(id, site, &mut self.scratch);
        if self.put_dict(entry::CALLSITE) {
            let serial = self.seg.serial;
            if let Some(Some(site)) = self.sites.get_mut(id as usize) {
                site.in_segment = serial;
            }
            true
        } else {
            false
        }
    }

    /// The first shape id used by the record at `pos` that the current segment lacks.
    fn missing_shape(&mut self, split: Split<'_>, pos: usize, kinds: &[u8]) -> Option<u32> {
        let serial = self.seg.serial;
        let mut missing = None;
        let _ = for_each_shape(split, pos, kinds, |id| {
            if missing.is_some() || id == crate::serde_arg::UNSERIALIZABLE {
                return;
            }
            if id as usize > self.shapes.len() {
                let mut fresh = Vec::new();
                crate::serde_arg::shapes_since(self.shapes.len(), &mut fresh);
                self.shapes.extend(fresh.into_iter().map(|descriptor| ShapeSlot { descriptor, in_segment: 0 }));
            }
            // An id the registry never gave out cannot come from our producers; the decoder
            // reports such a record as undecodable.
            if self.shapes.get(id as usize - 1).is_some_and(|s| s.in_segment != serial) {
                missing = Some(id);
            }
        });
        missing
    }

    /// Writes shape `id`'s entry into the current segment.
    fn write_shape(&mut self, id: u32) -> bool {
        let Some(shape) = self.shapes.get(id as usize - 1) else { return false };
        self.scratch.clear();
        ShapeEntry { id, descriptor: &shape.descriptor }.encode(&mut self.scratch);
        if self.put_dict(entry::SHAPE) {
            let serial = self.seg.serial;
            if let Some(shape) = self.shapes.get_mut(id as usize - 1) {
                shape.in_segment = serial;
            }
            true
        } else {
            false
        }
    }

    fn write_anchor(&mut self) {
        let a: Anchor = self.cal.anchor();
        self.anchor = a;
        self.scratch.clear();
        a.encode(&mut self.scratch);
        self.put_dict(entry::ANCHOR);
        for r in &mut self.routed {
            r.anchor(a);
        }
    }

    /// Writes the dictionary entry in `scratch` to the segment and hands it to the network
    /// stream (which sends each one once per connection, whatever the segment did).
    fn put_dict(&mut self, kind: u8) -> bool {
        if let Some(net) = &mut self.net {
            net.dict(kind, &self.scratch);
        }
        self.seg.write_entry(kind, &self.scratch)
    }

    fn maybe_anchor(&mut self) {
        if (self.seg.is_open() || !self.segments) && self.cal.due(clock::ticks()) {
            self.write_anchor();
        }
    }

    /// Finalizes the segment and opens the next; false if that failed.
    fn rotate(&mut self) -> bool {
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
    fn ensure_segment(&mut self) {
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

    /// The thread's stream is over: report drops not yet reported, then THREAD_END.
    fn finish_slot(&mut self, slot: Slot, exited: bool) {
        // Release: stats() readers that see `closed` see the final `written`.
        slot.info.shared.consumer.closed.store(true, Ordering::Release);
        // Records committed between the last drain and `closed` are still written.
        self.slots.push(slot);
        let i = self.slots.len() - 1;
        self.drain(i, true, clock::ticks());
        let Some(Slot { info, .. }) = self.slots.pop() else { return };
        self.end_stream(info, exited);
    }

    /// Reports a finished stream's drops not yet reported, then its THREAD_END.
    fn end_stream(&mut self, mut slot: SlotInfo, exited: bool) {
        // Acquire: the producer's counters are final (it exited) or as final as they will be
        // observed (shutdown); anything later is counted by stats() as dropped.
        let p = &slot.shared.producer;
        let logged = p.logged.load(Ordering::Acquire);
        let dropped = p.dropped.load(Ordering::Acquire);
        let owed = dropped.saturating_sub(slot.drops_reported);
        if self.seg.is_open() && slot.in_segment != self.seg.serial {
            self.scratch.clear();
            ThreadEntry { thread: slot.shared.id, os_tid: slot.shared.os_tid, name: &slot.shared.name }
                .encode(&mut self.scratch);
            if self.put_dict(entry::THREAD) {
                slot.in_segment = self.seg.serial;
            }
        }
        if owed > 0 {
            self.scratch.clear();
            let d = Drops {
                thread: slot.shared.id,
                count: owed,
                first_ticks: p.gap_first.load(Ordering::Relaxed),
                last_ticks: p.gap_last.load(Ordering::Relaxed),
            };
            d.encode(&mut self.scratch);
            if let Some(t) = &mut self.text {
                t.drops((&slot.shared.name, slot.shared.id), &d, clock::ticks(), &self.anchor);
            }
            if let Some(net) = &mut self.net {
                net.drops(&d);
            }
            if self.seg.write_entry(entry::DROPS, &self.scratch) || !self.segments {
                slot.drops_reported += owed;
            }
        }
        self.scratch.clear();
        ThreadEnd { thread: slot.shared.id, logged, dropped: dropped + slot.lost }.encode(&mut self.scratch);
        if let Some(net) = &mut self.net {
            net.thread_end(slot.shared.id, &self.scratch);
        }
        self.seg.write_entry(entry::THREAD_END, &self.scratch);
        self.seg.publish();
        if exited {
            slot.shared.consumer.exited.store(true, Ordering::Relaxed);
        }
    }

    /// Writes "received signal N (NAME)" as an ERROR record of the consumer's own stream
    /// (the interrupted thread's ring may be half-written, so it is never touched).
    fn record_signal(&mut self, sig: i32) {
        static SIGNAL_SITE: Callsite =
            Callsite::new(crate::Level::Error, "received signal {} ({})", module_path!(), file!(), line!());
        let name = crate::signals::signal_name(sig);
        self.write_own(&SIGNAL_SITE, (&sig, &name));
        if let Some(t) = &mut self.text {
            // The process may be about to die: hand the line over now.
            t.mark_flush();
        }
    }

    /// Writes a record of the consumer's own stream (thread `tapelog`), through the same
    /// paths as the rings' records: segments, text outputs, dictionary on first use.
    fn write_own<A: ArgList>(&mut self, cs: &'static Callsite, args: A) {
        let id = register(cs, A::kinds) & !DISABLED;
        let ticks = clock::ticks();
        let mut rec = vec![0u8; RECORD_HEADER_LEN + args.encoded_len()];
        rec[0..4].copy_from_slice(&id.to_le_bytes());
        rec[4..10].copy_from_slice(&ticks.to_le_bytes()[..6]);
        // SAFETY: `rec` has exactly encoded_len() bytes after the header.
        unsafe { args.encode(rec.as_mut_ptr().add(RECORD_HEADER_LEN)) };
        let mut slot = self.own_slot.take().unwrap_or_else(|| {
            SlotInfo::new(Arc::new(ThreadShared::new(
                crate::frontend::next_thread_id(),
                crate::signals::CONSUMER_TID.load(Ordering::Relaxed),
                "tapelog".into(),
                0,
            )))
        });
        let split = Split { a: &rec, b: &[] };
        if !self.segments {
            self.text_records(&slot, split, 0, rec.len(), ticks);
        } else {
            let (end, full) = self.write_batches(&mut slot, split, 0, ticks);
            if end == 0 && full && self.rotate() {
                self.write_batches(&mut slot, split, 0, ticks);
            }
        }
        self.seg.publish();
        self.own_slot = Some(slot);
    }

    /// Writes a RUN entry (start-up or clean shutdown) into the main segments.
    fn write_run(&mut self, phase: u8, items: Vec<(String, String)>) {
        self.scratch.clear();
        let items = items.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        RunInfo { phase, unix_ns: clock::unix_ns(), items }.encode(&mut self.scratch);
        if !self.seg.write_entry(entry::RUN, &self.scratch) && self.seg.is_open() && self.rotate() {
            self.seg.write_entry(entry::RUN, &self.scratch);
        }
        self.seg.publish();
    }

    /// The start-up record: versions, clock, and the configuration that shapes the output.
    fn start_items(&self, rate: f64) -> Vec<(String, String)> {
        let c = &self.shared.config;
        let mut v: Vec<(String, String)> = vec![
            ("tapelog".into(), env!("CARGO_PKG_VERSION").into()),
            ("format_version".into(), crate::wire::FORMAT_VERSION.to_string()),
            (
                "clock".into(),
                if clock::CLOCK_KIND == crate::wire::header::CLOCK_TSC { "tsc" } else { "monotonic" }.into(),
            ),
            ("ticks_per_sec".into(), format!("{rate:.0}")),
            ("pid".into(), std::process::id().to_string()),
            ("ring_capacity".into(), c.ring_capacity.to_string()),
            ("overflow".into(), format!("{:?}", c.overflow)),
            ("segments".into(), c.segments.to_string()),
            ("segment_size".into(), c.segment_size.to_string()),
            ("durability".into(), format!("{:?}", c.durability)),
            ("consumer_core".into(), c.consumer_core.map_or("unpinned".into(), |n| n.to_string())),
            ("idle".into(), format!("{:?}", c.idle)),
            ("batch_delay_us".into(), c.batch_delay.as_micros().to_string()),
            ("poll_interval_us".into(), c.poll_interval.as_micros().to_string()),
        ];
        if let Some(n) = c.max_files {
            v.push(("max_files".into(), n.to_string()));
        }
        if let Some(n) = c.max_bytes {
            v.push(("max_bytes".into(), n.to_string()));
        }
        if let Some(f) = &c.filter {
            v.push(("filter".into(), f.clone()));
        }
        let names = |it: &mut dyn Iterator<Item = String>| it.collect::<Vec<_>>().join(",");
        if !c.text.is_empty() {
            v.push(("text_outputs".into(), names(&mut c.text.iter().map(|t| t.name()))));
        }
        if !c.outputs.is_empty() {
            v.push(("outputs".into(), names(&mut c.outputs.iter().map(|o| o.name.clone()))));
        }
        if !c.sinks.is_empty() {
            v.push(("sinks".into(), names(&mut c.sinks.iter().map(|(n, _)| n.clone()))));
        }
        if let Some(n) = &c.network {
            v.push(("network".into(), n.addr.clone()));
        }
        v
    }

    /// The clean-shutdown record: totals.
    fn stop_items(&self) -> Vec<(String, String)> {
        let s = crate::stats();
        let t = &s.total;
        let mut v: Vec<(String, String)> = vec![
            ("threads".into(), s.threads.len().to_string()),
            ("logged".into(), t.logged.to_string()),
            ("written".into(), t.written.to_string()),
            ("dropped".into(), t.dropped.to_string()),
            ("blocked".into(), t.blocked.to_string()),
            ("bytes_written".into(), t.bytes_written.to_string()),
            ("segments".into(), t.segments.to_string()),
            ("batches".into(), t.batches.to_string()),
            ("io_errors".into(), t.io_errors.to_string()),
        ];
        for o in &s.text {
            v.push((format!("text.{}.lines", o.output), o.lines.to_string()));
            v.push((format!("text.{}.dropped", o.output), o.dropped.to_string()));
        }
        for o in &s.outputs {
            v.push((format!("output.{}.records", o.name), o.records.to_string()));
        }
        for k in &s.sinks {
            v.push((format!("sink.{}.records", k.name), k.records.to_string()));
            v.push((format!("sink.{}.dropped", k.name), k.dropped.to_string()));
        }
        if let Some(n) = &s.network {
            v.push(("network.queued".into(), n.records_queued.to_string()));
            v.push(("network.delivered".into(), n.records_delivered.to_string()));
            v.push(("network.dropped".into(), n.records_dropped.to_string()));
        }
        v
    }

    /// Writes an ERROR record for each sink of the program's that panicked since the last
    /// look: "sink NAME panicked and is disabled: MESSAGE".
    fn report_disabled_sinks(&mut self) {
        let Some(t) = &self.text else { return };
        if self.shared.sinks.is_empty() {
            return;
        }
        for (name, why) in t.newly_disabled() {
            static SINK_SITE: Callsite = Callsite::new(
                crate::Level::Error,
                "sink {} panicked and is disabled: {}",
                module_path!(),
                file!(),
                line!(),
            );
            self.write_own(&SINK_SITE, (&name.as_str(), &why.as_str()));
        }
    }

    /// Writes a capacity warning for a ring holding `depth` bytes, unless one was written for
    /// it within the configured interval.
    fn maybe_warn_capacity(&mut self, i: usize, depth: usize, now: u64) {
        let Some(w) = self.shared.config.capacity_warning else { return };
        let info = &mut self.slots[i].info;
        let cap = info.shared.capacity.max(1);
        if (depth as f64) < w.fill * cap as f64 {
            return;
        }
        if info.warned_at != 0 && now.wrapping_sub(info.warned_at) < self.warn_ticks {
            return;
        }
        info.warned_at = now.max(1);
        static CAPACITY_SITE: Callsite = Callsite::new(
            crate::Level::Warn,
            "ring of thread {} (id {}) is {}% full: {} of {} bytes, high-water {} bytes",
            module_path!(),
            file!(),
            line!(),
        );
        let (id, pct, hw) = (info.shared.id, (depth * 100 / cap) as u32, info.high_water);
        let mut name = String::new();
        crate::text::line::push_thread(&mut name, &info.shared.name, id);
        self.write_own(&CAPACITY_SITE, (&name.as_str(), &id, &pct, &(depth as u64), &(cap as u64), &hw));
    }

    fn shutdown(&mut self) {
        // Rings handed over before the handover closed are in it now (shutdown's Release
        // store came after the close), so adopt them and drain until a pass finds nothing.
        self.adopt_pending();
        for _ in 0..1000 {
            if self.drain_all(true) == 0 {
                break;
            }
        }
        let slots = std::mem::take(&mut self.slots);
        for slot in slots {
            self.finish_slot(slot, false);
        }
        // What sinks logged while the rings were drained, and what they logged while those
        // records were handed to the other sinks (two sinks that log what they see feed each
        // other: a bounded number of rounds, then the rest counted as dropped).
        for _ in 0..8 {
            if self.write_calls() == 0 {
                break;
            }
        }
        crate::frontend::reentry::close_consumer();
        if let Some(calls) = self.calls.take() {
            // Whatever is still in the stream is never written: stats count it as dropped.
            calls.shared.consumer.closed.store(true, Ordering::Release);
            self.end_stream(calls, false);
        }
        let items = self.stop_items();
        self.write_run(RunInfo::STOP, items);
        self.write_anchor();
        self.seg.finalize();
        let _ = self.seg.sync();
        for r in &mut self.routed {
            r.finalize();
        }
        let deadline = std::time::Instant::now() + self.shared.config.shutdown_timeout / 2;
        if let Some(t) = &mut self.text {
            t.close(deadline);
        }
        if let Some(net) = self.net.take() {
            net.close(deadline);
        }
    }
}

/// The CALLSITE entry payload of site `id`.
fn callsite_entry(id: u32, site: &Site, out: &mut Vec<u8>) {
    let cs = site.reg.cs;
    CallsiteEntry {
        id,
        level: cs.level as u8,
        line: cs.line,
        kinds: &site.reg.kinds,
        format: cs.format,
        module: cs.module,
        file: cs.file,
        fields: cs.fields.to_vec(),
    }
    .encode(out);
}

/// Counts (best effort) the records in `split` from `pos`, for loss accounting.
fn count_records(sites: &[Option<Site>], split: Split<'_>, mut pos: usize) -> u64 {
    let mut n = 0;
    while pos < split.len() {
        let Some(id) = split.get::<4>(pos).map(u32::from_le_bytes) else { break };
        let len = if id == DROP_MARKER_ID {
            RECORD_HEADER_LEN + crate::wire::DROP_MARKER_PAYLOAD
        } else {
            let Some(Some(site)) = sites.get(id as usize) else { return n + 1 };
            match record_len_split(split, pos, &site.reg.kinds, site.static_len) {
                Ok(l) => l,
                Err(_) => return n + 1,
            }
        };
        if id != DROP_MARKER_ID {
            n += 1;
        }
        pos += len;
    }
    n
}

#[cold]
fn unreachable_slots(slots: &mut Vec<Slot>, slot: Slot, i: usize) -> usize {
    slots.push(slot);
    let last = slots.len() - 1;
    slots.swap(i, last);
    0
}
