//! `tapelog serve`: the collector of the binary network stream (`tapelog::net`).
//!
//! Each connection runs on a thread of its own and writes its source's stream into
//! `DIR/<host>-<pid>-<run id>/` through [`tapelog_segment::SourceWriter`], acknowledging what
//! its files hold. Anything a connection cannot accept (not our protocol, an unknown
//! version, a missing or wrong token, a damaged entry, a frame over the size limit, a peer
//! that stops mid-frame) closes that connection with a logged reason; the others go on.
//!
//! What peers may take is bounded (`docs/SECURITY.md`): connections at once
//! (`max_connections`), source directories (`max_sources`), the read buffers of all
//! connections together (`max_memory`, paid for before a buffer grows, see `reader.rs`),
//! and disk (`max_bytes_per_source`, `max_bytes`, oldest segments removed first). A
//! collector with a token (`auth.rs`) creates nothing on disk for a peer that does not
//! present it.
//!
//! Files: `reader.rs` reads frames within the budget, `limits.rs` holds the budget and the
//! counters, `auth.rs` the token, `print.rs` the `--print` output.

mod auth;
mod limits;
mod print;
mod quota;
mod reader;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tapelog_format::net::{self as proto, HelloError};
use tapelog_format::wire::header::FileHeader;
use tapelog_segment::SourceWriter;

pub use auth::Token;
pub use limits::ServeStats;
use limits::{Budget, Counters};
use print::Printer;
use reader::{FrameReader, Why};

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
    /// The token every HELLO must carry (`--token-file`); `None` lets in any sender.
    pub token: Option<Token>,
    /// Connections at once; more are closed at accept.
    pub max_connections: usize,
    /// Source directories under `dir`; a HELLO of a new source past it is refused.
    pub max_sources: usize,
    /// Bytes of read buffers of all connections together.
    pub max_memory: usize,
    /// Bytes of segment files per source directory (plus the one being written).
    pub max_bytes_per_source: Option<u64>,
    /// Bytes of segment files of all sources together (plus the one each is writing).
    pub max_bytes: Option<u64>,
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
            token: None,
            max_connections: 256,
            max_sources: 1024,
            max_memory: 1 << 30,
            max_bytes_per_source: None,
            max_bytes: None,
        }
    }
}

/// The smallest `max_memory`: one connection's starting read buffer.
pub const MIN_MEMORY: usize = reader::INITIAL_BUFFER;

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
    /// Names of the source directories under `dir`: those found at start and those made
    /// since; at most `max_sources`.
    known: Mutex<HashSet<String>>,
    /// Connections being served now.
    open: AtomicUsize,
    budget: Budget,
    counters: Counters,
    /// One `--max-bytes` pass at a time.
    quota: Mutex<()>,
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
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use tapelog_decoder::serve::{Collector, ServeOptions, Token};
///
/// let dir = std::env::temp_dir().join(format!("tapelog-doc-serve-{}", std::process::id()));
/// let opts = ServeOptions {
///     listen: "127.0.0.1:0".into(),
///     dir: dir.clone(),
///     token: Some(Token::new("s3cret")?),
///     max_connections: 16,
///     ..ServeOptions::default()
/// };
/// let stop = Arc::new(AtomicBool::new(false));
/// let c = Collector::bind(opts, stop.clone(), Box::new(std::io::sink()))?;
/// let stats = c.stats();
/// let t = std::thread::spawn(move || c.run());
/// stop.store(true, Ordering::Relaxed);
/// t.join().unwrap()?;
/// assert_eq!(stats.get().auth_refused, 0);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
        let known: HashSet<String> = std::fs::read_dir(&opts.dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let ctx = Arc::new(Ctx {
            budget: Budget::new(opts.max_memory),
            opts,
            stop,
            sources: Mutex::new(HashMap::new()),
            known: Mutex::new(known),
            open: AtomicUsize::new(0),
            counters: Counters::default(),
            quota: Mutex::new(()),
            log: Mutex::new(log),
        });
        Ok(Collector { listener, ctx })
    }

    /// How often each limit bit so far; the handle stays valid after [`run`](Self::run).
    pub fn stats(&self) -> StatsHandle {
        StatsHandle(self.ctx.clone())
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
                    conns.retain(|h| !h.is_finished());
                    // Only this thread adds to `open` (connection threads only subtract), so
                    // the check and the add cannot be overtaken. Relaxed: a count, no data.
                    let open = self.ctx.open.load(Ordering::Relaxed);
                    if open >= self.ctx.opts.max_connections {
                        let n = Counters::bump(&self.ctx.counters.connections_refused);
                        self.ctx.log(&format!(
                            "{peer}: refused at accept: {open} connections are open, the --max-connections limit \
                             ({n} refused so far)"
                        ));
                        drop(stream);
                        continue;
                    }
                    self.ctx.open.fetch_add(1, Ordering::Relaxed);
                    let ctx = self.ctx.clone();
                    let spawned = std::thread::Builder::new().name(format!("serve-{peer}")).spawn(move || {
                        // Gives the slot back however the connection ends, a panic included.
                        let _slot = OpenSlot(&ctx.open);
                        connection(&ctx, stream, peer);
                    });
                    match spawned {
                        Ok(h) => conns.push(h),
                        Err(e) => {
                            self.ctx.open.fetch_sub(1, Ordering::Relaxed);
                            self.ctx.log(&format!("{peer}: closed: cannot start a thread for it: {e}"));
                        }
                    }
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
        let stats = self.ctx.counters.snapshot(&self.ctx.budget);
        self.ctx.log(&format!("limits: {stats}"));
        self.ctx.log("stopped; every source's files are finalized");
        Ok(())
    }
}

/// A connection's place among `--max-connections`, given back on drop.
struct OpenSlot<'a>(&'a AtomicUsize);

impl Drop for OpenSlot<'_> {
    fn drop(&mut self) {
        // Relaxed: a count, no data (see `Collector::run`).
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A collector's counters, readable while it runs and after.
#[derive(Clone)]
pub struct StatsHandle(Arc<Ctx>);

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StatsHandle").field(&self.get()).finish()
    }
}

impl StatsHandle {
    /// The counters now.
    pub fn get(&self) -> ServeStats {
        self.0.counters.snapshot(&self.0.budget)
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
    let mut rd =
        match FrameReader::new(stream.try_clone().map_err(|e| e.to_string())?, ctx.opts.stall_timeout, &ctx.budget) {
            Ok(r) => r,
            Err(e) => return Err(why_text(ctx, Why::Memory(e))),
        };
    // The HELLO, read through the same stall-aware buffer.
    let hello = match rd.hello(&ctx.stop) {
        Ok(h) => h,
        Err(Why::End(e)) => return Ok(e),
        Err(Why::Hello(HelloError::Version(v))) => {
            let reason = HelloError::Version(v).to_string();
            let _ = proto::write_reject(&mut stream, proto::answer_version(v), &reason);
            return Err(reason);
        }
        Err(why) => return Err(why_text(ctx, why)),
    };
    let version = hello.version;
    let header = hello.header;
    let key = source_key(&header, peer);
    if let Some(token) = &ctx.opts.token {
        let refused = match &hello.token {
            None => Some("its HELLO carries no token (protocol version 1)"),
            Some(t) if t.is_empty() => Some("its HELLO carries an empty token"),
            Some(t) if !token.matches(t) => Some("its HELLO carries a wrong token"),
            Some(_) => None,
        };
        if let Some(why) = refused {
            let n = Counters::bump(&ctx.counters.auth_refused);
            // The peer learns only that it is not let in, not which check failed.
            let _ = proto::write_reject(&mut stream, version, "not authorized");
            return Err(format!("refused before anything was written: {why} (source {key}; {n} refused so far)"));
        }
    }
    {
        let mut known = ctx.known.lock().unwrap_or_else(|p| p.into_inner());
        if !known.contains(&key) {
            if known.len() >= ctx.opts.max_sources {
                let n = Counters::bump(&ctx.counters.sources_refused);
                let _ = proto::write_reject(&mut stream, version, "the collector takes no new sources");
                return Err(format!(
                    "refused new source {key}: {} source directories exist, the --max-sources limit ({n} refused \
                     so far)",
                    known.len()
                ));
            }
            known.insert(key.clone());
        }
    }
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
                    let _ = proto::write_reject(&mut stream, version, &reason);
                    return Err(reason);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let dir = ctx.opts.dir.join(&key);
    let mut w = match SourceWriter::open_with_quota(&dir, &header, ctx.opts.segment_size, ctx.opts.max_bytes_per_source)
    {
        Ok(w) => w,
        Err(e) => {
            if !dir.exists() {
                // Nothing was made: the source does not count against --max-sources.
                ctx.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
            let reason = format!("cannot write {}: {e}", dir.display());
            let _ = proto::write_reject(&mut stream, version, &reason);
            return Err(reason);
        }
    };
    proto::write_welcome(&mut stream, version, w.resume()).map_err(|e| format!("sending WELCOME: {e}"))?;
    ctx.log(&format!("{peer}: source {key} connected, resuming at entry {}", w.resume()));
    w.begin_connection();
    let mut disk = Disk::default();
    disk.check(ctx, &w);
    let mut printer = ctx.opts.print.as_ref().map(|o| Printer::start(o.clone(), &key, &header));
    let superseded = || slot.generation.load(Ordering::SeqCst) != generation;
    let result = pump(ctx, &mut rd, &mut stream, &mut w, printer.as_mut(), &superseded, &mut disk);
    w.finish();
    if let Some(p) = printer {
        p.finish();
    }
    result
}

/// Reads frames until the connection ends, writing them and acknowledging.
fn pump(
    ctx: &Ctx,
    rd: &mut FrameReader<'_>,
    stream: &mut TcpStream,
    w: &mut SourceWriter,
    mut printer: Option<&mut Printer>,
    superseded: &dyn Fn() -> bool,
    disk: &mut Disk,
) -> Result<End, String> {
    let mut acked = w.resume();
    let mut since_ack = 0usize;
    let mut ack = Vec::with_capacity(16);
    loop {
        if rd.buffered() < proto::FRAME_HEADER_LEN || since_ack >= ACK_EVERY {
            // Everything received is in; make it durable, then say so.
            let pos = w.publish();
            disk.check(ctx, w);
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
            Err(why) => return Err(why_text(ctx, why)),
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
            Err(why) => return Err(why_text(ctx, why)),
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

/// A connection's view of the disk quotas: what it reported already.
#[derive(Default)]
struct Disk {
    /// Files and bytes of its source's quota already reported.
    reported: u64,
    reported_bytes: u64,
    /// Segments its writer had opened at the last `--max-bytes` pass.
    opened: u64,
}

impl Disk {
    /// Reports what the source's quota removed, and runs a `--max-bytes` pass when the
    /// source opened a segment since the last.
    fn check(&mut self, ctx: &Ctx, w: &SourceWriter) {
        let removed = w.removed();
        if removed.files > self.reported {
            let files = removed.files - self.reported;
            self.reported = removed.files;
            ctx.counters.segments_removed.fetch_add(files, Ordering::Relaxed);
            ctx.counters.bytes_removed.fetch_add(removed.bytes - self.reported_bytes, Ordering::Relaxed);
            self.reported_bytes = removed.bytes;
            ctx.log(&format!(
                "--max-bytes-per-source: removed {files} oldest segments of {}, the last {} ({} bytes in all so far)",
                w.dir().display(),
                removed.last.as_deref().map_or_else(String::new, |p| p.display().to_string()),
                removed.bytes
            ));
        }
        let Some(max) = ctx.opts.max_bytes else { return };
        if w.segments_opened() == self.opened {
            return;
        }
        self.opened = w.segments_opened();
        let _one = ctx.quota.lock().unwrap_or_else(|p| p.into_inner());
        let pass = quota::enforce_total(&ctx.opts.dir, max);
        if pass.files > 0 {
            ctx.counters.segments_removed.fetch_add(pass.files, Ordering::Relaxed);
            ctx.counters.bytes_removed.fetch_add(pass.bytes, Ordering::Relaxed);
            let show = |p: &Option<PathBuf>| p.as_deref().map_or_else(String::new, |p| p.display().to_string());
            ctx.log(&format!(
                "--max-bytes: removed {} oldest segments ({} bytes), from {} to {}; {} bytes left",
                pass.files,
                pass.bytes,
                show(&pass.first),
                show(&pass.last),
                pass.total
            ));
        }
    }
}

/// The reason a read failed, counting a refusal by the memory budget.
fn why_text(ctx: &Ctx, why: Why) -> String {
    match why {
        Why::End(End::Closed) => "closed by the sender".into(),
        Why::End(End::Stopping) => "the collector is stopping".into(),
        Why::End(End::Superseded) => "superseded".into(),
        Why::End(End::Error(m)) | Why::Msg(m) => m,
        Why::Hello(e) => e.to_string(),
        Why::Memory(m) => {
            let n = Counters::bump(&ctx.counters.memory_refused);
            format!("{m} ({n} refused so far)")
        }
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

/// Whether this process runs as root (effective user id 0). `tapelog serve` refuses to,
/// unless told (`--allow-root`): it writes what the network sends it.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The directory a source with this header writes to under `dir` (for tests and tools).
pub fn source_dir(dir: &Path, header: &FileHeader, peer: SocketAddr) -> PathBuf {
    dir.join(source_key(header, peer))
}
