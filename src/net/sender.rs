//! The binary stream sink, the consumer's side ([`NetTap`]); the network thread is
//! `worker.rs`.
//!
//! ```text
//! consumer ──DATA entries──▶ send buffer (rtrb ring, `send_buffer` bytes) ──▶ net thread ──▶ socket
//!          ──dictionary────▶ control channel ─────────────────────────────▶
//! ```
//!
//! * The consumer never waits: a DATA entry that does not fit in the send buffer is dropped,
//!   and its records are added to the thread's pending gap. The next entry of that thread
//!   that fits is preceded by a DROPS entry for the gap (the in-band gap marker).
//! * The send buffer is also the retransmission buffer: the net thread frees an entry only
//!   when the collector acknowledges it (see [`super::proto`]), so a collector that dies
//!   with entries in its socket buffer gets them again after the reconnect. Memory is the
//!   ring and nothing else.
//! * Each ring entry is `records: u32` followed by the entry, so the net thread can count
//!   delivered (and, at a timed-out shutdown, undelivered) records without parsing batches.
//! * Dictionary entries go through an unbounded channel: there is one per call site, thread
//!   and serde shape, plus the latest anchor, so they are bounded by the program, not by
//!   traffic. The net thread keeps them all and sends them after every (re)connect.
//!
//! Ordering: the net thread snapshots the ring's readable length *before* draining the
//! channel. The consumer sends a dictionary entry before pushing any entry that needs it,
//! and the ring's push (Release) / `slots()` (Acquire) pair makes that send visible, so every
//! DATA entry in the snapshot goes out after the dictionary entries it needs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::proto;
use super::worker::{Ctl, Worker, PREFIX};
use super::Network;
use crate::counters::{NetCounters, ThreadShared};
use crate::output::{Batch, Output, Pass};
use crate::wire::header::FileHeader;
use crate::wire::record::{Anchor, Drops};
use crate::wire::{entry, ENTRY_HEADER_LEN};

/// A gap not yet reported: records of one thread that did not fit.
#[derive(Clone, Copy)]
struct Gap {
    count: u64,
    first_ticks: u64,
    last_ticks: u64,
}

/// Work that waits for room, in order.
enum Deferred {
    Gap(u32),
    Entry(Vec<u8>),
}

/// The consumer's handle on the network sink.
pub(crate) struct NetTap {
    ring: rtrb::Producer<u8>,
    ctl: mpsc::Sender<Ctl>,
    /// Dictionary entries already handed over (anchors always go).
    seen: HashSet<(u8, u32)>,
    gaps: HashMap<u32, Gap>,
    deferred: VecDeque<Deferred>,
    shared: Arc<NetCounters>,
    thread: Option<JoinHandle<()>>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for NetTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetTap").field("peer", &self.shared.peer).finish_non_exhaustive()
    }
}

impl NetTap {
    /// Starts the net thread. `header` describes this source to the collector.
    pub fn start(cfg: &Network, header: FileHeader) -> io::Result<(NetTap, Arc<NetCounters>)> {
        let (ring_tx, ring_rx) = rtrb::RingBuffer::new(cfg.send_buffer);
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let shared =
            Arc::new(NetCounters { peer: cfg.addr.clone(), capacity: cfg.send_buffer as u64, ..Default::default() });
        let hello = match &cfg.token {
            Some(t) => proto::encode_hello_with_token(&header, &t.0),
            None => proto::encode_hello(&header),
        };
        let worker = Worker::new(cfg.clone(), ring_rx, ctl_rx, hello, shared.clone());
        let thread = std::thread::Builder::new().name("tapelog-net".into()).spawn(move || {
            crate::frontend::reentry::mark_owned(0);
            worker.run()
        })?;
        let tap = NetTap {
            ring: ring_tx,
            ctl: ctl_tx,
            seen: HashSet::new(),
            gaps: HashMap::new(),
            deferred: VecDeque::new(),
            shared: shared.clone(),
            thread: Some(thread),
            scratch: Vec::new(),
        };
        Ok((tap, shared))
    }

    /// A dictionary entry the consumer wrote (or would have written) to a segment.
    fn send_dict(&mut self, kind: u8, payload: &[u8]) {
        let Some(key) = proto::dict_key(kind, payload) else { return };
        if kind != entry::ANCHOR && !self.seen.insert(key) {
            return;
        }
        let mut e = Vec::with_capacity(ENTRY_HEADER_LEN + payload.len());
        proto::push_entry(&mut e, kind, payload);
        // The net thread outlives every send (it exits only after Close).
        let _ = self.ctl.send(Ctl::Dict(key, e));
    }

    /// A BATCH entry (whole, CRC included) of `thread` holding `records` records.
    fn send_batch(&mut self, thread: u32, records: u64, whole: &[u8], ticks: u64) {
        if !self.deferred.is_empty() {
            self.retry();
        }
        if self.gaps.contains_key(&thread) && !self.flush_gap(thread) {
            self.add_gap(thread, records, ticks);
            return;
        }
        if !self.push(records as u32, &[whole]) {
            self.add_gap(thread, records, ticks);
            return;
        }
        self.shared.records_queued.fetch_add(records, Ordering::Relaxed);
    }

    /// Records of a thread that were dropped before they reached the consumer: they join
    /// the thread's gap, so the collector learns of them in the same marker.
    fn add_drops(&mut self, d: &Drops) {
        let g = self.gaps.entry(d.thread).or_insert(Gap { count: 0, first_ticks: d.first_ticks, last_ticks: 0 });
        g.count += d.count;
        g.first_ticks = g.first_ticks.min(d.first_ticks);
        g.last_ticks = g.last_ticks.max(d.last_ticks);
        if self.deferred.is_empty() && !self.flush_gap(d.thread) {
            self.deferred.push_back(Deferred::Gap(d.thread));
        }
    }

    /// A THREAD_END payload: sent after the thread's gap, if any, as soon as there is room.
    fn send_thread_end(&mut self, thread: u32, payload: &[u8]) {
        let mut e = Vec::new();
        proto::push_entry(&mut e, entry::THREAD_END, payload);
        if self.gaps.contains_key(&thread)
            && !self.deferred.iter().any(|d| matches!(d, Deferred::Gap(t) if *t == thread))
        {
            self.deferred.push_back(Deferred::Gap(thread));
        }
        self.deferred.push_back(Deferred::Entry(e));
        self.retry();
    }

    /// Hands over deferred work that now fits, in order.
    fn retry(&mut self) {
        while let Some(d) = self.deferred.pop_front() {
            let done = match &d {
                Deferred::Gap(t) => !self.gaps.contains_key(t) || self.flush_gap(*t),
                Deferred::Entry(e) => self.push(0, &[e]),
            };
            if !done {
                self.deferred.push_front(d);
                return;
            }
        }
    }

    /// Whether deferred work is waiting.
    fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    fn add_gap(&mut self, thread: u32, records: u64, ticks: u64) {
        let g = self.gaps.entry(thread).or_insert(Gap { count: 0, first_ticks: ticks, last_ticks: ticks });
        g.count += records;
        g.last_ticks = ticks;
        self.shared.records_dropped.fetch_add(records, Ordering::Relaxed);
    }

    /// Pushes the DROPS marker for `thread`'s gap; false if it does not fit.
    fn flush_gap(&mut self, thread: u32) -> bool {
        let Some(g) = self.gaps.get(&thread).copied() else { return true };
        let mut payload = Vec::with_capacity(28);
        Drops { thread, count: g.count, first_ticks: g.first_ticks, last_ticks: g.last_ticks }.encode(&mut payload);
        self.scratch.clear();
        proto::push_entry(&mut self.scratch, entry::DROPS, &payload);
        let e = std::mem::take(&mut self.scratch);
        let ok = self.push(0, &[&e]);
        self.scratch = e;
        if ok {
            self.gaps.remove(&thread);
            self.shared.gap_markers.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Pushes `records` and the concatenation of `parts` as one entry; false if it does not
    /// fit (nothing is pushed then).
    fn push(&mut self, records: u32, parts: &[&[u8]]) -> bool {
        let n = PREFIX + parts.iter().map(|p| p.len()).sum::<usize>();
        let Ok(mut chunk) = self.ring.write_chunk_uninit(n) else { return false };
        let (a, b) = chunk.as_mut_slices();
        let mut w = SplitWriter { a, b, at: 0 };
        w.put(&records.to_le_bytes());
        for p in parts {
            w.put(p);
        }
        debug_assert_eq!(w.at, n);
        // SAFETY: SplitWriter wrote all `n` bytes of the chunk (the lengths add up to `n`).
        unsafe { chunk.commit_all() };
        let used = (self.ring.buffer().capacity() - self.ring.slots()) as u64;
        self.shared.buffered.store(used, Ordering::Relaxed);
        if used > self.shared.high_water.load(Ordering::Relaxed) {
            self.shared.high_water.store(used, Ordering::Relaxed);
        }
        true
    }

    /// Asks the net thread to deliver what is buffered until `deadline`, then waits for it.
    /// Work that never found room is counted as lost.
    fn close_stream(&mut self, deadline: Instant) {
        while self.has_deferred() && Instant::now() < deadline {
            self.retry();
            if self.has_deferred() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let unreported: u64 = self.gaps.values().map(|g| g.count).sum();
        self.shared.lost_at_shutdown.fetch_add(unreported, Ordering::Relaxed);
        let _ = self.ctl.send(Ctl::Close(deadline));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The network stream as an output of the drain loop: the main segments' entries, as they
/// framed them, go to the collector; the net thread sends them, and a slow or absent peer
/// turns records into counted gaps, never into a wait.
impl Output for NetTap {
    fn batch(&mut self, b: &Batch<'_>) {
        if let Some(whole) = b.framed {
            self.send_batch(b.thread.id, b.records, whole, b.base);
        }
    }

    fn dict(&mut self, kind: u8, payload: &[u8]) {
        self.send_dict(kind, payload);
    }

    fn drops(&mut self, _thread: &ThreadShared, d: &Drops, _now: u64, _anchor: &Anchor) {
        self.add_drops(d);
    }

    fn thread_end(&mut self, thread: u32, payload: &[u8]) {
        self.send_thread_end(thread, payload);
    }

    fn end_pass(&mut self, _pass: Pass) {
        if self.has_deferred() {
            self.retry();
        }
    }

    fn close(&mut self, deadline: Instant) {
        self.close_stream(deadline);
    }
}

/// Writes consecutive bytes into a ring chunk's two parts.
struct SplitWriter<'a> {
    a: &'a mut [std::mem::MaybeUninit<u8>],
    b: &'a mut [std::mem::MaybeUninit<u8>],
    at: usize,
}

impl SplitWriter<'_> {
    fn put(&mut self, src: &[u8]) {
        let mut src = src;
        while !src.is_empty() {
            let (dst, off) =
                if self.at < self.a.len() { (&mut *self.a, self.at) } else { (&mut *self.b, self.at - self.a.len()) };
            let n = src.len().min(dst.len() - off);
            // SAFETY: `dst[off..off + n]` is in bounds (n <= dst.len() - off) and cannot
            // overlap `src`, which the caller owns outside the ring.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst[off..].as_mut_ptr().cast::<u8>(), n) };
            self.at += n;
            src = &src[n..];
        }
    }
}
