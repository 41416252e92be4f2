//! The binary network stream: records leave the machine still unformatted.
//!
//! [`Builder::network`](crate::Builder::network) streams the same entries the segments hold
//! to a collector (`tapelog serve`), which writes each source into segment files of its own
//! that `tapelog cat` reads like local ones. The wire protocol is in [`proto`]; the
//! collector's writer is [`SourceWriter`].
//!
//! An outage never slows the program: the consumer hands entries to a bounded send buffer
//! and moves on. When the buffer is full, entries are dropped and counted, and the collector
//! learns of each gap from an in-band DROPS entry once there is room again. Entries stay in
//! the buffer until the collector acknowledges them, so a collector that is killed and
//! restarted gets everything it had not yet written, exactly once.

pub use tapelog_format::net as proto;
pub(crate) mod sender;
mod worker;

use std::time::Duration;

use crate::counters::NetCounters;

/// Smallest send buffer.
pub const MIN_SEND_BUFFER: usize = 64 << 10;

/// Where and how the binary stream goes. See [`Builder::network`](crate::Builder::network).
///
/// ```
/// use std::time::Duration;
/// let net = tapelog::Network::tcp("collector.internal:7070")
///     .send_buffer(64 << 20)
///     .backoff(Duration::from_millis(50), Duration::from_secs(5));
/// # let _ = net;
/// ```
#[derive(Debug, Clone)]
pub struct Network {
    pub(crate) addr: String,
    pub(crate) send_buffer: usize,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) token: Option<Secret>,
}

/// A token's bytes; `Debug` shows only their length, so `{:?}` of a configuration never
/// prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes, redacted>", self.0.len())
    }
}

impl Network {
    /// A TCP collector at `addr` (`host:port`, resolved at each connection attempt).
    /// Defaults: 32 MiB send buffer, reconnect backoff from 50 ms doubling to 5 s, 2 s
    /// connect timeout.
    pub fn tcp(addr: impl Into<String>) -> Network {
        Network {
            addr: addr.into(),
            send_buffer: 32 << 20,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            token: None,
        }
    }

    /// The shared token a collector started with `tapelog serve --token-file` requires
    /// (the file's content, trimmed, on both sides). It travels in the HELLO in clear: it keeps
    /// strangers out of a closed network, it is no protection on an open one
    /// (`docs/SECURITY.md`). Without a token the sender speaks protocol version 1, which
    /// collectors without a token accept too. Checked at [`start`](crate::Builder::start):
    /// not empty, at most [`proto::MAX_TOKEN`] bytes.
    ///
    /// ```
    /// let net = tapelog::Network::tcp("collector.internal:7070").token("s3cret");
    /// assert!(!format!("{net:?}").contains("s3cret"));
    /// ```
    pub fn token(mut self, token: impl AsRef<[u8]>) -> Network {
        self.token = Some(Secret(token.as_ref().trim_ascii().to_vec()));
        self
    }

    /// [`token`](Self::token) read from a file: its content, trimmed.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tapelog-doc-token-{}", std::process::id()));
    /// std::fs::write(&path, "s3cret\n")?;
    /// let net = tapelog::Network::tcp("collector.internal:7070").token_file(&path)?;
    /// # let _ = net;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn token_file(self, path: impl AsRef<std::path::Path>) -> std::io::Result<Network> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read token file {}: {e}", path.display())))?;
        Ok(self.token(bytes))
    }

    /// Bytes of the send buffer, which holds entries until the collector acknowledges them:
    /// the sink's whole memory budget. At least [`MIN_SEND_BUFFER`] and twice the ring
    /// capacity (one batch can hold a whole ring).
    pub fn send_buffer(mut self, bytes: usize) -> Network {
        self.send_buffer = bytes;
        self
    }

    /// Reconnect backoff: the first retry after `min`, doubling up to `max`.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Network {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// How long a connection attempt (and the handshake) may take.
    pub fn connect_timeout(mut self, t: Duration) -> Network {
        self.connect_timeout = t;
        self
    }
}

/// Counters of the network sink, in [`Stats::network`](crate::Stats::network).
///
/// Once the logger has shut down and the collector acknowledged everything,
/// `records_queued == records_delivered`, and every record written to the segments is in
/// `records_queued` or `records_dropped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkStats {
    /// The collector's address as configured.
    pub peer: String,
    /// Whether a connection is up now.
    pub connected: bool,
    /// Connections made (the first and every reconnect).
    pub connects: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Connections the collector refused in its WELCOME (a missing or wrong token, a full
    /// collector); the sender retries with backoff, and its local segments are unaffected.
    pub rejections: u64,
    /// Records accepted into the send buffer.
    pub records_queued: u64,
    /// Records the collector acknowledged (they are in its files).
    pub records_delivered: u64,
    /// Records dropped because the send buffer was full; the collector receives gap
    /// markers that count them.
    pub records_dropped: u64,
    /// Gap markers (DROPS entries) queued.
    pub gap_markers: u64,
    /// Records still unacknowledged, or in gaps never reported, when shutdown gave up
    /// waiting for the collector.
    pub lost_at_shutdown: u64,
    /// Bytes written to sockets (framing included, resends included).
    pub bytes_sent: u64,
    /// Bytes in the send buffer now.
    pub buffered_bytes: u64,
    /// Most bytes the send buffer held.
    pub buffer_high_water: u64,
    /// The send buffer's size.
    pub buffer_capacity: u64,
    /// The last connection error.
    pub last_error: Option<String>,
}

impl NetworkStats {
    pub(crate) fn read(s: &NetCounters) -> NetworkStats {
        use std::sync::atomic::Ordering::Relaxed;
        NetworkStats {
            peer: s.peer.clone(),
            connected: s.connected.load(Relaxed),
            connects: s.connects.load(Relaxed),
            disconnects: s.disconnects.load(Relaxed),
            rejections: s.rejections.load(Relaxed),
            records_queued: s.records_queued.load(Relaxed),
            records_delivered: s.records_delivered.load(Relaxed),
            records_dropped: s.records_dropped.load(Relaxed),
            gap_markers: s.gap_markers.load(Relaxed),
            lost_at_shutdown: s.lost_at_shutdown.load(Relaxed),
            bytes_sent: s.bytes_sent.load(Relaxed),
            buffered_bytes: s.buffered.load(Relaxed),
            buffer_high_water: s.high_water.load(Relaxed),
            buffer_capacity: s.capacity,
            last_error: s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
