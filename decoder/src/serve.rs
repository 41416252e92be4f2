//! `tapelog serve`: the collector of the binary network stream (`tapelog::net`).
//!
//! Each connection runs on a thread of its own and writes its source's stream into
//! `DIR/<host>-<pid>-<run id>/` through [`tapelog_segment::SourceWriter`], acknowledging what
//! its files hold. Anything a connection cannot accept (not our protocol, an unknown
//! version, a damaged entry, a frame over the size limit, a peer that stops mid-frame)
//! closes that connection with a logged reason; the others go on. A connection's memory is
//! its read buffer, which never grows past the frame limit.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tapelog_format::net::{self as proto, HelloError};
use tapelog_format::wire::header::FileHeader;
use tapelog_segment::SourceWriter;

use crate::CatOptions;

/// Options of `tapelog serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (`host:port`; port 0 picks one).
    pub listen: String,
    /// Where each source's directory goes.
    pub dir: PathBuf,
    /// Bytes per segment file.
    pub segment_size: usize,
    /// Largest frame accepted; a connection's read buffer never grows past it.
    pub max_frame: usize,
    /// How long a peer may stay silent in the middle of a frame (or before its HELLO).
    pub stall_timeout: Duration,
    /// Also print the records as text, with these options.
    pub print: Option<CatOptions>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: "127.0.0.1:7070".into(),
            dir: PathBuf::from("collected"),
            segment_size: 64 << 20,
            max_frame: 64 << 20,
            stall_timeout: Duration::from_secs(10),
            print: None,
        }
    }
}

/// How often a blocked read looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Acknowledge at least every this many bytes of frames, even while more are buffered.
const ACK_EVERY: usize = 4 << 20;

/// One source's directory, held by at most one connection at a time.
struct SourceSlot {
    lock: Mutex<()>,
    /// Bumped by each new connection of the source, so an older one (a half-open
    /// connection the sender gave up on) lets go.
    generation: AtomicU64,
}

struct Ctx {
    opts: ServeOptions,
    stop: Arc<AtomicBool>,
    sources: Mutex<HashMap<String, Arc<SourceSlot>>>,
    log: Mutex<Box<dyn Write + Send>>,
}

impl Ctx {
    fn log(&self, msg: &str) {
        let mut w = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(w, "tapelog serve: {msg}");
        let _ = w.flush();
    }
}

/// A bound collector, before it serves.
pub struct Collector {
    listener: TcpListener,
    ctx: Arc<Ctx>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("addr", &self.listener.local_addr().ok()).finish()
    }
}

impl Collector {
    /// Binds the listening socket and creates the directory. `log` receives one line per
    /// connection event (accepted, closed and why).
    pub fn bind(opts: ServeOptions, stop: Arc<AtomicBool>, log: Box<dyn Write + Send>) -> io::Result<Collector> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", opts.dir.display())))?;
        let listener = TcpListener::bind(&opts.listen)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", opts.listen)))?;
        listener.set_nonblocking(true)?;
        let ctx = Arc::new(Ctx { opts, stop, sources: Mutex::new(HashMap::new()), log: Mutex::new(log) });
        Ok(Collector { listener, ctx })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the stop flag is set, then closes every connection,
    /// finalizing its files.
    pub fn run(self) -> io::Result<()> {
        let mut conns: Vec<JoinHandle<()>> = Vec::new();
        // Relaxed: the flag carries no data; its value alone says stop.
        while !self.ctx.stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let ctx = self.ctx.clone();
                    let h = std::thread::Builder::new()
                        .name(format!("serve-{peer}"))
                        .spawn(move || connection(&ctx, stream, peer))?;
                    conns.push(h);
                    conns.retain(|h| !h.is_finished());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors and the like: say so, keep serving the others.
                    self.ctx.log(&format!("accept failed: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        for h in conns {
            let _ = h.join();
        }
        self.ctx.log("stopped; every source's files are finalized");
        Ok(())
    }
}

/// Why a connection ended.
enum End {
    /// The peer closed it.
    Closed,
    /// The collector is stopping.
    Stopping,
    /// A newer connection of the same source took over.
    Superseded,
    /// Anything else, with the reason.
    Error(String),
}

fn connection(ctx: &Ctx, stream: TcpStream, peer: SocketAddr) {
    let end = match serve_connection(ctx, stream, peer) {
        Ok(e) => e,
        Err(e) => End::Error(e),
    };
    let msg = match end {
        End::Closed => "closed by the sender".to_string(),
        End::Stopping => "closed: the collector is stopping".to_string(),
        End::Superseded => "closed: a newer connection of the same source took over".to_string(),
        End::Error(e) => format!("closed: {e}"),
    };
    ctx.log(&format!("{peer}: {msg}"));
}

fn serve_connection(ctx: &Ctx, mut stream: TcpStream, peer: SocketAddr) -> Result<End, String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(POLL)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(ctx.opts.stall_timeout)).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut rd = FrameReader::new(stream.try_clone().map_err(|e| e.to_string())?, ctx.opts.stall_timeout);
    // The HELLO, read through the same stall-aware buffer.
    let header = match rd.hello(&ctx.stop) {
        Ok(h) => h,
        Err(Why::End(e)) => return Ok(e),
        Err(Why::Hello(HelloError::Version(v))) => {
            let reason = format!("protocol version {v} is not supported (this collector speaks {})", proto::VERSION);
            let _ = proto::write_reject(&mut stream, &reason);
            return Err(reason);
        }
        Err(Why::Hello(e)) => return Err(e.to_string()),
        Err(Why::Msg(m)) => return Err(m),
    };
    let key = source_key(&header, peer);
    let slot = {
        let mut map = ctx.sources.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.clone())
            .or_insert_with(|| Arc::new(SourceSlot { lock: Mutex::new(()), generation: AtomicU64::new(0) }))
            .clone()
    };
    // SeqCst is more than enough: only the counter's value is compared, nothing is published
    // through it.
    let generation = slot.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let deadline = Instant::now() + ctx.opts.stall_timeout;
    let _held = loop {
        match slot.lock.try_lock() {
            Ok(g) => break g,
            Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                if Instant::now() >= deadline || ctx.stop.load(Ordering::Relaxed) {
                    let reason = format!("source {key} is busy on another connection");
                    let _ = proto::write_reject(&mut stream, &reason);
                    return Err(reason);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let dir = ctx.opts.dir.join(&key);
    let mut w = match SourceWriter::open(&dir, &header, ctx.opts.segment_size) {
        Ok(w) => w,
        Err(e) => {
            let reason = format!("cannot write {}: {e}", dir.display());
            let _ = proto::write_reject(&mut stream, &reason);
            return Err(reason);
        }
    };
    proto::write_welcome(&mut stream, w.resume()).map_err(|e| format!("sending WELCOME: {e}"))?;
    ctx.log(&format!("{peer}: source {key} connected, resuming at entry {}", w.resume()));
    w.begin_connection();
    let mut printer = ctx.opts.print.as_ref().map(|o| Printer::start(o.clone(), &key, &header));
    let superseded = || slot.generation.load(Ordering::SeqCst) != generation;
    let result = pump(ctx, &mut rd, &mut stream, &mut w, printer.as_mut(), &superseded);
    w.finish();
    if let Some(p) = printer {
        p.finish();
    }
    result
}

/// Reads frames until the connection ends, writing them and acknowledging.
fn pump(
    ctx: &Ctx,
    rd: &mut FrameReader,
    stream: &mut TcpStream,
    w: &mut SourceWriter,
    mut printer: Option<&mut Printer>,
    superseded: &dyn Fn() -> bool,
) -> Result<End, String> {
    let mut acked = w.resume();
    let mut since_ack = 0usize;
    let mut ack = Vec::with_capacity(16);
    loop {
        if rd.buffered() < proto::FRAME_HEADER_LEN || since_ack >= ACK_EVERY {
            // Everything received is in; make it durable, then say so.
            let pos = w.publish();
            if pos != acked {
                ack.clear();
                proto::push_ack(&mut ack, pos);
                stream.write_all(&ack).map_err(|e| format!("sending ACK: {e}"))?;
                acked = pos;
            }
            since_ack = 0;
        }
        let at = rd.offset();
        let head = match rd.need(proto::FRAME_HEADER_LEN, &ctx.stop, superseded) {
            Ok(()) => {
                let b: [u8; proto::FRAME_HEADER_LEN] = rd.peek(proto::FRAME_HEADER_LEN).try_into().unwrap_or_default();
                proto::frame_head(b)
            }
            Err(Why::End(e)) => return Ok(e),
            Err(Why::Msg(m)) => return Err(m),
            Err(Why::Hello(e)) => return Err(e.to_string()),
        };
        if head.len > ctx.opts.max_frame {
            return Err(format!(
                "frame at stream byte {at} claims {} bytes, over the {}-byte limit",
                head.len, ctx.opts.max_frame
            ));
        }
        let total = proto::FRAME_HEADER_LEN + head.len;
        match rd.need(total, &ctx.stop, superseded) {
            Ok(()) => {}
            Err(Why::End(End::Closed)) => {
                return Err(format!("the sender closed the connection inside the frame at stream byte {at}"))
            }
            Err(Why::End(e)) => return Ok(e),
            Err(Why::Msg(m)) => return Err(m),
            Err(Why::Hello(e)) => return Err(e.to_string()),
        }
        let body = &rd.peek(total)[proto::FRAME_HEADER_LEN..];
        match head.tag {
            proto::DICT => {
                let e = proto::check_entry(body).map_err(|e| format!("DICT frame at stream byte {at}: {e}"))?;
                w.dict(e).map_err(|e| format!("DICT frame at stream byte {at}: {e}"))?;
                if let Some(p) = printer.as_mut() {
                    p.entry(e.bytes);
                }
            }
            proto::DATA => {
                if body.len() < proto::DATA_OFFSET_LEN {
                    return Err(format!("DATA frame at stream byte {at} is too short for its entry number"));
                }
                let seq = u64::from_le_bytes(body[..8].try_into().unwrap_or_default());
                let e = proto::check_entry(&body[8..]).map_err(|e| format!("DATA frame at stream byte {at}: {e}"))?;
                let outcome = w.data(seq, e).map_err(|e| format!("DATA frame at stream byte {at}: {e}"))?;
                if outcome == tapelog_segment::DataOutcome::Written {
                    if let Some(p) = printer.as_mut() {
                        p.entry(e.bytes);
                    }
                }
            }
            t => return Err(format!("unknown frame tag {t} at stream byte {at}")),
        }
        rd.consume(total);
        since_ack += total;
    }
}

/// The directory name of a source: host, pid and run id, in characters safe in a path.
fn source_key(h: &FileHeader, peer: SocketAddr) -> String {
    let host = h.metadata.iter().find(|(k, _)| k == "host").map_or_else(|| peer.ip().to_string(), |(_, v)| v.clone());
    let host: String = host
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' { c } else { '_' })
        .collect();
    let host = if host.is_empty() || host.starts_with('.') { format!("_{host}") } else { host };
    format!("{host}-{}-{}", h.pid, h.run_id)
}

enum Why {
    End(End),
    Hello(HelloError),
    Msg(String),
}

/// A connection's input: a buffer that grows only up to the frame being read.
struct FrameReader {
    stream: TcpStream,
    /// Zeroed once; bytes `start..end` are received and not yet consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    stall: Duration,
}

impl FrameReader {
    fn new(stream: TcpStream, stall: Duration) -> FrameReader {
        FrameReader { stream, buf: vec![0; 256 << 10], start: 0, end: 0, offset: 0, stall }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.start..self.start + n]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads until `n` bytes are buffered. Silence is fine between frames (nothing
    /// buffered); inside one it may last `stall` at most. Gives up (as `Superseded`) when
    /// `give_up` says so.
    fn need(&mut self, n: usize, stop: &AtomicBool, give_up: &dyn Fn() -> bool) -> Result<(), Why> {
        let mut last_progress = Instant::now();
        while self.buffered() < n {
            if self.buf.len() - self.start < n || self.buf.len() - self.end < 64 << 10 {
                // Move the partial frame to the front (so reads stay big), growing only for
                // a frame this big.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    self.buf.resize(n, 0);
                }
            }
            let r = self.stream.read(&mut self.buf[self.end..]);
            let got = match r {
                Ok(0) => return Err(Why::End(End::Closed)),
                Ok(k) => k,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => return Err(Why::Msg(format!("read failed at stream byte {}: {e}", self.offset))),
            };
            self.end += got;
            if got > 0 {
                last_progress = Instant::now();
                continue;
            }
            if stop.load(Ordering::Relaxed) {
                return Err(Why::End(End::Stopping));
            }
            if give_up() {
                return Err(Why::End(End::Superseded));
            }
            if self.buffered() > 0 && last_progress.elapsed() >= self.stall {
                return Err(Why::Msg(format!(
                    "the sender stalled for {:?} inside the frame at stream byte {} ({} of {n} bytes received)",
                    self.stall,
                    self.offset,
                    self.buffered()
                )));
            }
        }
        Ok(())
    }

    /// Reads the HELLO, which must arrive within the stall timeout.
    fn hello(&mut self, stop: &AtomicBool) -> Result<FileHeader, Why> {
        let deadline = Instant::now() + self.stall;
        // `need` only limits silence once bytes arrived; the HELLO has a deadline of its own.
        let late = || Instant::now() >= deadline;
        // Magic, version and header length first, then the header they announce.
        let mut need = 14;
        loop {
            match self.need(need, stop, &late) {
                Ok(()) => {}
                Err(Why::End(End::Closed)) => {
                    return Err(Why::Msg(format!(
                        "the peer closed the connection after {} bytes, before a whole HELLO",
                        self.buffered()
                    )))
                }
                Err(Why::End(End::Superseded)) => {
                    return Err(Why::Msg(format!(
                        "no whole HELLO within {:?} ({} bytes received)",
                        self.stall,
                        self.buffered()
                    )))
                }
                Err(e) => return Err(e),
            }
            let mut cur = io::Cursor::new(self.peek(self.buffered()));
            match proto::read_hello(&mut cur) {
                Ok(h) => {
                    let n = cur.position() as usize;
                    self.consume(n);
                    return Ok(h);
                }
                Err(HelloError::Io(_)) => {
                    if self.buffered() >= 14 {
                        let len = u32::from_le_bytes(self.peek(14)[10..14].try_into().unwrap_or_default()) as usize;
                        need = 14 + len;
                    }
                    if Instant::now() >= deadline {
                        return Err(Why::Msg(format!("no whole HELLO within {:?}", self.stall)));
                    }
                }
                Err(e) => return Err(Why::Hello(e)),
            }
        }
    }
}

/// `--print`: a thread that decodes the source's entries as `tapelog cat -` would and
/// prints each line with the source's name in front.
struct Printer {
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    pending: Vec<u8>,
    thread: Option<JoinHandle<()>>,
}

impl Printer {
    fn start(opts: CatOptions, key: &str, header: &FileHeader) -> Printer {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(64);
        let prefix = format!("[{key}] ");
        let thread = std::thread::spawn(move || {
            let mut out = PrefixLines { prefix, pending: Vec::new(), at_line_start: true };
            let _ = crate::cat_reader(ChannelReader { rx, cur: Vec::new(), at: 0 }, &opts, &mut out, &mut io::sink());
            let _ = out.flush();
        });
        // A segment header that claims (nearly) unbounded committed bytes: the decoder takes
        // the entries as they come.
        let mut h = header.clone();
        h.committed = u64::MAX / 4;
        let _ = tx.send(h.encode());
        Printer { tx: Some(tx), pending: Vec::new(), thread: Some(thread) }
    }

    fn entry(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= 64 << 10 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            if let Some(tx) = &self.tx {
                // Blocks while the terminal is slow: printing is for watching, and a
                // sender's buffer absorbs the wait.
                let _ = tx.send(std::mem::take(&mut self.pending));
            }
        }
    }

    fn finish(mut self) {
        self.flush();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.cur = v;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.at);
        buf[..n].copy_from_slice(&self.cur[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Writes whole lines to stdout, each with a prefix, so sources never interleave mid-line.
struct PrefixLines {
    prefix: String,
    pending: Vec<u8>,
    at_line_start: bool,
}

impl Write for PrefixLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for piece in buf.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start {
                self.pending.extend_from_slice(self.prefix.as_bytes());
            }
            self.pending.extend_from_slice(piece);
            self.at_line_start = piece.ends_with(b"\n");
        }
        if self.pending.len() >= 64 << 10 {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let whole = self.pending.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if whole > 0 {
            io::stdout().lock().write_all(&self.pending[..whole])?;
            self.pending.drain(..whole);
        }
        Ok(())
    }
}

/// The directory a source with this header writes to under `dir` (for tests and tools).
pub fn source_dir(dir: &Path, header: &FileHeader, peer: SocketAddr) -> PathBuf {
    dir.join(source_key(header, peer))
}
