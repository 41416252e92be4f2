//! The binary stream sink: the consumer's side ([`NetTap`]) and the network thread.
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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::proto;
use super::Network;
use crate::counters::NetCounters;
use crate::wire::header::FileHeader;
use crate::wire::record::{Drops, Split};
use crate::wire::{entry, ENTRY_HEADER_LEN};

/// Bytes before each entry in the send buffer: its record count.
const PREFIX: usize = 4;

/// Most bytes framed for the socket at a time.
const OUT_CHUNK: usize = 256 << 10;

enum Ctl {
    /// A whole dictionary entry.
    Dict((u8, u32), Vec<u8>),
    /// Deliver what is buffered, until the deadline.
    Close(Instant),
}

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
        let worker = Worker {
            cfg: cfg.clone(),
            ring: ring_rx,
            ctl: ctl_rx,
            hello: proto::encode_hello(&header),
            dict: BTreeMap::new(),
            conn: None,
            acked_seq: 0,
            sent_bytes: 0,
            sent_seq: 0,
            retry_at: Instant::now(),
            backoff: cfg.min_backoff,
            closing: None,
            shared: shared.clone(),
        };
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
    pub fn dict(&mut self, kind: u8, payload: &[u8]) {
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
    pub fn batch(&mut self, thread: u32, records: u64, whole: &[u8], ticks: u64) {
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
    pub fn drops(&mut self, d: &Drops) {
        let g = self.gaps.entry(d.thread).or_insert(Gap { count: 0, first_ticks: d.first_ticks, last_ticks: 0 });
        g.count += d.count;
        g.first_ticks = g.first_ticks.min(d.first_ticks);
        g.last_ticks = g.last_ticks.max(d.last_ticks);
        if self.deferred.is_empty() && !self.flush_gap(d.thread) {
            self.deferred.push_back(Deferred::Gap(d.thread));
        }
    }

    /// A THREAD_END payload: sent after the thread's gap, if any, as soon as there is room.
    pub fn thread_end(&mut self, thread: u32, payload: &[u8]) {
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
    pub fn retry(&mut self) {
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
    pub fn has_deferred(&self) -> bool {
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
    pub fn close(mut self, deadline: Instant) {
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

struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    /// Dictionary entries to send before the next DATA frames.
    dict_queue: Vec<Vec<u8>>,
}

/// The net thread.
struct Worker {
    cfg: Network,
    ring: rtrb::Consumer<u8>,
    ctl: mpsc::Receiver<Ctl>,
    hello: Vec<u8>,
    dict: BTreeMap<(u8, u32), Vec<u8>>,
    conn: Option<Conn>,
    /// Sequenced entries acknowledged (and freed from the ring).
    acked_seq: u64,
    /// Ring bytes (from the read position) already framed on this connection.
    sent_bytes: usize,
    /// Sequence number of the next entry to frame.
    sent_seq: u64,
    retry_at: Instant,
    backoff: Duration,
    closing: Option<Instant>,
    shared: Arc<NetCounters>,
}

impl Worker {
    fn run(mut self) {
        loop {
            // Snapshot first, then the dictionary (see the module docs).
            let avail = self.ring.slots();
            self.drain_ctl();
            if let Some(deadline) = self.closing {
                if self.ring.slots() == 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    let (_, lost, _) = self.walk(u64::MAX);
                    self.shared.lost_at_shutdown.fetch_add(lost, Ordering::Relaxed);
                    break;
                }
            }
            if self.conn.is_none() {
                let now = Instant::now();
                if now >= self.retry_at {
                    self.connect();
                }
                if self.conn.is_none() {
                    let wait = self.retry_at.saturating_duration_since(Instant::now()).min(Duration::from_millis(10));
                    match self.ctl.recv_timeout(wait) {
                        Ok(c) => self.on_ctl(c),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        // The tap is gone without a Close: nothing more will come.
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            if self.closing.is_none() {
                                self.closing = Some(Instant::now());
                            }
                        }
                    }
                }
                continue;
            }
            if let Err(e) = self.service(avail) {
                self.disconnect(e);
            }
        }
        if let Some(c) = self.conn.take() {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.shared.connected.store(false, Ordering::Relaxed);
    }

    fn drain_ctl(&mut self) {
        loop {
            match self.ctl.try_recv() {
                Ok(c) => self.on_ctl(c),
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    if self.closing.is_none() {
                        self.closing = Some(Instant::now());
                    }
                    return;
                }
            }
        }
    }

    fn on_ctl(&mut self, c: Ctl) {
        match c {
            Ctl::Dict(key, e) => {
                if let Some(conn) = &mut self.conn {
                    conn.dict_queue.push(e.clone());
                }
                self.dict.insert(key, e);
            }
            Ctl::Close(deadline) => self.closing = Some(deadline),
        }
    }

    /// One round on a live connection: frame, write, read acknowledgements.
    fn service(&mut self, avail: usize) -> io::Result<()> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        if conn.out_pos == conn.out.len() {
            conn.out.clear();
            conn.out_pos = 0;
            for e in conn.dict_queue.drain(..) {
                proto::push_frame_header(&mut conn.out, proto::DICT, e.len());
                conn.out.extend_from_slice(&e);
            }
            if self.sent_bytes < avail {
                let chunk = self.ring.read_chunk(avail).map_err(|_| io::Error::other("send buffer shrank"))?;
                let (a, b) = chunk.as_slices();
                let split = Split { a, b };
                let mut p = self.sent_bytes;
                while p < avail && conn.out.len() < OUT_CHUNK {
                    let Some(h) = split.get::<{ PREFIX + 5 }>(p) else { break };
                    let len = u32::from_le_bytes([h[5], h[6], h[7], h[8]]) as usize;
                    let total = ENTRY_HEADER_LEN + len;
                    if p + PREFIX + total > avail {
                        break;
                    }
                    proto::push_frame_header(&mut conn.out, proto::DATA, proto::DATA_OFFSET_LEN + total);
                    conn.out.extend_from_slice(&self.sent_seq.to_le_bytes());
                    split.pieces(p + PREFIX, p + PREFIX + total, |s| conn.out.extend_from_slice(s));
                    p += PREFIX + total;
                    self.sent_seq += 1;
                }
                // The chunk is not committed: the bytes stay until the collector acknowledges them.
                self.sent_bytes = p;
            }
        }
        let want_write = conn.out_pos < conn.out.len();
        let mut pfd = libc::pollfd {
            fd: conn.stream.as_raw_fd(),
            events: libc::POLLIN | if want_write { libc::POLLOUT } else { 0 },
            revents: 0,
        };
        let timeout = if want_write { 10 } else { 2 };
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
        }
        if pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            self.read_acks()?;
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        if want_write && pfd.revents & libc::POLLOUT != 0 {
            match conn.stream.write(&conn.out[conn.out_pos..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "collector closed the connection")),
                Ok(n) => {
                    conn.out_pos += n;
                    self.shared.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_acks(&mut self) -> io::Result<()> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "collector closed the connection")),
                Ok(n) => conn.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut at = 0;
        let mut latest = None;
        while conn.inbuf.len() - at >= proto::FRAME_HEADER_LEN {
            let mut h = [0u8; proto::FRAME_HEADER_LEN];
            h.copy_from_slice(&conn.inbuf[at..at + proto::FRAME_HEADER_LEN]);
            let fh = proto::frame_head(h);
            if fh.tag != proto::ACK || fh.len != proto::DATA_OFFSET_LEN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("collector sent a frame with tag {} and {} bytes, expected an ACK", fh.tag, fh.len),
                ));
            }
            let end = at + proto::FRAME_HEADER_LEN + fh.len;
            if conn.inbuf.len() < end {
                break;
            }
            let b: [u8; 8] = conn.inbuf[end - 8..end].try_into().unwrap_or_default();
            latest = Some(u64::from_le_bytes(b));
            at = end;
        }
        conn.inbuf.drain(..at);
        if let Some(ack) = latest {
            if ack > self.sent_seq {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("collector acknowledged entry {ack}, but only {} were sent", self.sent_seq),
                ));
            }
            self.release(ack);
        }
        Ok(())
    }

    /// Frees the entries before sequence number `upto` (acknowledged).
    fn release(&mut self, upto: u64) {
        if upto <= self.acked_seq {
            return;
        }
        let n = upto - self.acked_seq;
        let (bytes, records, _) = self.walk(n);
        if let Ok(chunk) = self.ring.read_chunk(bytes) {
            chunk.commit_all();
        }
        self.acked_seq = upto;
        self.sent_bytes = self.sent_bytes.saturating_sub(bytes);
        self.shared.records_delivered.fetch_add(records, Ordering::Relaxed);
        let used = self.ring.slots() as u64;
        self.shared.buffered.store(used, Ordering::Relaxed);
    }

    /// Walks up to `n` entries from the ring's read position: their bytes, records and count.
    fn walk(&mut self, n: u64) -> (usize, u64, u64) {
        let avail = self.ring.slots();
        let Ok(chunk) = self.ring.read_chunk(avail) else { return (0, 0, 0) };
        let (a, b) = chunk.as_slices();
        let split = Split { a, b };
        let (mut p, mut records, mut entries) = (0usize, 0u64, 0u64);
        while entries < n {
            let Some(h) = split.get::<{ PREFIX + 5 }>(p) else { break };
            records += u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as u64;
            p += PREFIX + ENTRY_HEADER_LEN + u32::from_le_bytes([h[5], h[6], h[7], h[8]]) as usize;
            entries += 1;
        }
        (p.min(avail), records, entries)
    }

    fn connect(&mut self) {
        match self.try_connect() {
            Ok(conn) => {
                self.conn = Some(conn);
                self.backoff = self.cfg.min_backoff;
                self.shared.connects.fetch_add(1, Ordering::Relaxed);
                self.shared.connected.store(true, Ordering::Relaxed);
            }
            Err(e) => self.schedule_retry(e),
        }
    }

    fn try_connect(&mut self) -> io::Result<Conn> {
        let addr = self
            .cfg
            .addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing"))?;
        let mut stream = TcpStream::connect_timeout(&addr, self.cfg.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.cfg.connect_timeout))?;
        stream.set_write_timeout(Some(self.cfg.connect_timeout))?;
        stream.write_all(&self.hello)?;
        let resume = match proto::read_welcome(&mut stream)? {
            Ok(r) => r,
            Err(reason) => {
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("collector refused: {reason}")))
            }
        };
        let pushed = self.acked_seq + self.walk(u64::MAX).2;
        if resume > pushed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("collector holds {resume} entries of this stream, but only {pushed} were sent"),
            ));
        }
        // Entries the collector already has need not go again. (A resume below what it
        // acknowledged before means it lost files; it gets the stream from here on.)
        self.release(resume);
        self.sent_bytes = 0;
        self.sent_seq = self.acked_seq;
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            out: Vec::with_capacity(OUT_CHUNK + (64 << 10)),
            out_pos: 0,
            inbuf: Vec::new(),
            dict_queue: self.dict.values().cloned().collect(),
        })
    }

    fn disconnect(&mut self, e: io::Error) {
        if let Some(c) = self.conn.take() {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.shared.connected.store(false, Ordering::Relaxed);
        self.shared.disconnects.fetch_add(1, Ordering::Relaxed);
        // Everything unacknowledged goes again on the next connection.
        self.sent_bytes = 0;
        self.sent_seq = self.acked_seq;
        self.schedule_retry(e);
    }

    fn schedule_retry(&mut self, e: io::Error) {
        self.shared.set_error(format!("network sink {}: {e}", self.cfg.addr));
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.cfg.max_backoff);
    }
}
