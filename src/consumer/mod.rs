//! The consumer: one thread that drains every ring into memory-mapped segments and hands
//! each batch to the outputs.
//!
//! Each pass adopts newly attached rings, then takes everything readable from each ring and
//! frames it into the main segments as BATCH entries (`tape.rs`), writing first the
//! dictionary entries (call sites, threads, shapes; `dictionary.rs`) the batch refers to.
//! Records are never formatted here; the consumer only walks record boundaries (a table
//! lookup per record for fixed-size call sites). Each batch then goes once to every
//! [`Output`](crate::output::Output). The consumer's own records (signals, capacity
//! warnings, what sinks log on this thread) are in `own.rs`.

pub(crate) mod dictionary;
pub(crate) mod lifecycle;
mod own;
mod recorder;
mod tape;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::{self, Calibrator};
use crate::config::StartError;
use crate::counters::ThreadShared;
use crate::net::sender::NetTap;
use crate::output::routed::RoutedSegments;
use crate::output::{Output, Pass};
use crate::policy::{Durability, Idle};
use crate::shared::Shared;
use crate::sink::text::TextSinks;
use crate::wire::entry;
use crate::wire::record::{Anchor, Drops, RunInfo, Split, ThreadEnd, ThreadEntry};
use dictionary::Dictionary;
use tapelog_segment::{SegmentConfig, SegmentWriter};

/// The outputs of a logger, in the order the drain loop hands them each batch.
type Outputs = Vec<Box<dyn Output + Send>>;

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
    // The network stream first: it takes each batch as the main segments framed it.
    let segments = cfg.segments || net.is_some();
    let mut outputs: Outputs = Vec::new();
    outputs.extend(net.map(|n| Box::new(n) as Box<dyn Output + Send>));
    outputs.extend(text.map(|t| Box::new(t) as Box<dyn Output + Send>));
    let mut counters = Vec::new();
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
        let r = RoutedSegments::new(o.name.clone(), routes.len() as u32, w, *durability);
        counters.push(r.counters.clone());
        outputs.push(Box::new(r));
        routes.push(o.route.clone());
    }
    let _ = shared.outputs.set(counters);
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
            let mut c = Consumer::new(
                sh.clone(),
                seg,
                segments,
                outputs,
                Dictionary::new(routes, sh.config.flight_recorder.clone()),
                rate,
            );
            c.calls = Some(SlotInfo::new(calls));
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

struct Slot {
    ring: rtrb::Consumer<u8>,
    info: SlotInfo,
    /// Returned to the ring memory budget when this slot and the producer's half are gone.
    _lease: Arc<crate::ring::Lease>,
}

struct SlotInfo {
    shared: Arc<ThreadShared>,
    /// `SegmentWriter::serial` of the segment that holds this thread's THREAD entry.
    in_segment: u64,
    /// Dropped records already reported by in-band markers or DROPS entries.
    drops_reported: u64,
    written: u64,
    /// Records the flight recorder took (see `ConsumerCounters::kept`).
    kept: u64,
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
            kept: 0,
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
    /// Call sites and shapes, and which the current main segment holds.
    dict: Dictionary,
    /// The main segments: the tape every batch is framed into (in memory when only the
    /// network stream reads it; disabled when nothing does).
    seg: SegmentWriter,
    /// Every other output, handed each batch once.
    outputs: Outputs,
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
    /// Whether batches are framed into segments: segment files, or (with `segments(false)`
    /// and a network stream) segments in memory that only feed the stream.
    segments: bool,
    /// The latest calibration anchor, for the outputs' timestamps.
    anchor: Anchor,
    /// `Totals::rings_refused` when it was last reported.
    refused_reported: u64,
    /// The flight recorder, if configured: the drain loop looks at this once per batch.
    recorder: Option<Box<recorder::Recorder>>,
    /// The entry kind batches are framed as: BATCH, or RECORDED while a flight-recorder
    /// dump is written.
    batch_kind: u8,
}

impl Consumer {
    /// `segments`: whether `seg` writes (files, or memory for the network stream alone).
    fn new(
        shared: Arc<Shared>,
        seg: SegmentWriter,
        segments: bool,
        outputs: Outputs,
        dict: Dictionary,
        rate: f64,
    ) -> Self {
        let batch_ticks = (rate * shared.config.batch_delay.as_secs_f64()) as u64;
        let poll_ticks = (rate * shared.config.poll_interval.as_secs_f64()) as u64;
        let warn_ticks = shared.config.capacity_warning.map_or(0, |w| (rate * w.interval.as_secs_f64()) as u64);
        let mut cal = Calibrator::new(rate);
        let anchor = cal.anchor();
        // A window stays open until a record of it can no longer be waiting in a ring: a
        // small batch waits up to the batch delay, plus a pass and a poll interval.
        let grace = batch_ticks + poll_ticks + (rate * 0.002) as u64;
        let recorder =
            shared.config.flight_recorder.clone().map(|fr| Box::new(recorder::Recorder::new(fr, rate, grace)));
        let mut c = Consumer {
            shared,
            slots: Vec::new(),
            dict,
            seg,
            outputs,
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
            segments,
            anchor,
            refused_reported: 0,
            recorder,
            batch_kind: entry::BATCH,
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
            let mut signal = 0;
            if crate::signals::PENDING_SIGNAL.load(Ordering::Relaxed) != 0 {
                signal = crate::signals::PENDING_SIGNAL.swap(0, Ordering::Acquire);
                if signal != 0 {
                    self.record_signal(signal);
                }
            }
            let flushing = flush_req.is_some();
            let work = self.drain_all(flushing || shutdown) + self.write_calls();
            if self.recorder.is_some() {
                // After the drain: a dump asked for before a flush request covers every
                // record logged before it.
                let mut reasons = self.shared.take_dump_requests();
                if signal != 0 {
                    reasons.push(format!("signal {signal} ({})", crate::signals::signal_name(signal)));
                }
                self.recorder_pass(reasons);
            }
            self.maybe_anchor();
            self.seg.publish();
            self.report_disabled_sinks();
            self.report_refused_rings();
            let pass = Pass { work: work > 0, flush: flushing };
            for o in &mut self.outputs {
                o.end_pass(pass);
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
        for o in &mut self.outputs {
            o.sync();
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
            if t.shared.capacity < self.shared.config.ring_capacity {
                self.report_shrunk_ring(&t.shared);
            }
            self.slots.push(Slot { ring: t.ring, info: SlotInfo::new(t.shared), _lease: t.lease });
        }
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
        self.origin = self.slots[i].info.shared.origin;
        let mut slot = self.slots.swap_remove(i);
        let taken = {
            let Slot { ring, info, .. } = &mut slot;
            let chunk = match ring.read_chunk(n) {
                Ok(c) => c,
                // read_chunk(n) with n <= slots() cannot fail.
                Err(_) => return unreachable_slots(&mut self.slots, slot, i),
            };
            let (a, b) = chunk.as_slices();
            let split = Split { a, b };
            self.write_records(info, split, clock::ticks());
            chunk.commit(n);
            n
        };
        self.slots.push(slot);
        let last = self.slots.len() - 1;
        self.slots.swap(i, last);
        taken
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
            let now = clock::ticks();
            for o in &mut self.outputs {
                o.drops(&slot.shared, &d, now, &self.anchor);
            }
            if self.seg.write_entry(entry::DROPS, &self.scratch) || !self.segments {
                slot.drops_reported += owed;
            }
        }
        self.scratch.clear();
        ThreadEnd { thread: slot.shared.id, logged, dropped: dropped + slot.lost }.encode(&mut self.scratch);
        for o in &mut self.outputs {
            o.thread_end(slot.shared.id, &self.scratch);
        }
        self.seg.write_entry(entry::THREAD_END, &self.scratch);
        self.seg.publish();
        if exited {
            slot.shared.consumer.exited.store(true, Ordering::Relaxed);
        }
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
        if self.recorder.is_some() {
            let reasons = self.shared.take_dump_requests();
            self.recorder_pass(reasons);
            self.recorder_shutdown();
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
        let deadline = std::time::Instant::now() + self.shared.config.shutdown_timeout / 2;
        for o in &mut self.outputs {
            o.close(deadline);
        }
    }
}

#[cold]
fn unreachable_slots(slots: &mut Vec<Slot>, slot: Slot, i: usize) -> usize {
    slots.push(slot);
    let last = slots.len() - 1;
    slots.swap(i, last);
    0
}
