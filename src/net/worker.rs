//! The network thread: connects to the collector, sends the dictionary after every
//! (re)connect, frames the send buffer's entries for the socket and frees them when the
//! collector acknowledges them. See `sender.rs` for the protocol between it and the
//! consumer.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::proto;
use super::Network;
use crate::counters::NetCounters;
use crate::wire::record::Split;
use crate::wire::ENTRY_HEADER_LEN;

/// Bytes before each entry in the send buffer: its record count.
pub(super) const PREFIX: usize = 4;

/// What the consumer tells the net thread besides the send buffer.
pub(super) enum Ctl {
    /// A whole dictionary entry.
    Dict((u8, u32), Vec<u8>),
    /// Deliver what is buffered, until the deadline.
    Close(Instant),
}

/// Most bytes framed for the socket at a time.
const OUT_CHUNK: usize = 256 << 10;

struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    /// Dictionary entries to send before the next DATA frames.
    dict_queue: Vec<Vec<u8>>,
}

/// The net thread.
pub(super) struct Worker {
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
    pub(super) fn new(
        cfg: Network,
        ring: rtrb::Consumer<u8>,
        ctl: mpsc::Receiver<Ctl>,
        hello: Vec<u8>,
        shared: Arc<NetCounters>,
    ) -> Worker {
        Worker {
            retry_at: Instant::now(),
            backoff: cfg.min_backoff,
            cfg,
            ring,
            ctl,
            hello,
            dict: BTreeMap::new(),
            conn: None,
            acked_seq: 0,
            sent_bytes: 0,
            sent_seq: 0,
            closing: None,
            shared,
        }
    }

    pub(super) fn run(mut self) {
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
                self.shared.rejections.fetch_add(1, Ordering::Relaxed);
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("collector refused: {reason}")));
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
