//! The writer thread of one text output, and the bounded queue that feeds it.
//!
//! The consumer formats lines into chunks of at most [`CHUNK_BYTES`] (plus one line) and
//! hands each to the output's own thread through a bounded channel. When the channel is full
//! (a slow terminal, a stalled pipe) the chunk is dropped and its lines are counted: the
//! consumer, and through it the hot path and the binary segments, never wait for a text
//! output, except at shutdown, which waits up to the configured timeout.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::counters::TextCounters;

/// A chunk is handed over once it holds this many bytes (and at the end of every consumer
/// pass).
pub(crate) const CHUNK_BYTES: usize = 64 << 10;

/// Where lines go.
pub(crate) enum Dest {
    Stderr,
    Stdout,
    File(std::fs::File),
    /// Framed syslog messages to a collector.
    Syslog(super::syslog::Link),
}

impl Dest {
    /// Writes a chunk of `lines` lines (or framed messages); returns how many were lost.
    fn write_chunk(&mut self, b: &[u8], lines: u64) -> u64 {
        // The std handles are locked per chunk, not for the thread's life: the program's
        // own prints (a panic message, say) must not wait behind us forever.
        let r = match self {
            Dest::Stderr => std::io::stderr().lock().write_all(b),
            Dest::Stdout => {
                let mut o = std::io::stdout().lock();
                o.write_all(b).and_then(|()| o.flush())
            }
            Dest::File(f) => f.write_all(b),
            Dest::Syslog(link) => return link.send(b, lines),
        };
        if r.is_ok() {
            0
        } else {
            lines
        }
    }
}

struct Chunk {
    seq: u64,
    lines: u64,
    bytes: Vec<u8>,
}

/// The consumer's end of one output.
pub(crate) struct Writer {
    pub counters: Arc<TextCounters>,
    tx: Option<SyncSender<Chunk>>,
    /// Emptied buffers coming back, so steady state allocates nothing.
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
    /// Sequence number of the last chunk handed over.
    sent: u64,
    /// Lines in chunks handed over.
    sent_lines: u64,
}

impl Writer {
    /// Starts the writer thread of `dest`, with room for about `queue_bytes` of lines.
    pub fn start(name: String, mut dest: Dest, queue_bytes: usize) -> std::io::Result<Writer> {
        let counters = Arc::new(TextCounters::new(name));
        let (tx, rx) = mpsc::sync_channel::<Chunk>((queue_bytes / CHUNK_BYTES).max(2));
        let (spare_tx, spare) = mpsc::channel();
        let c = counters.clone();
        let thread = std::thread::Builder::new().name("tapelog-text".into()).spawn(move || {
            crate::frontend::reentry::mark_owned(0);
            for mut chunk in rx {
                let lost = dest.write_chunk(&chunk.bytes, chunk.lines);
                if lost == 0 {
                    c.bytes.fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
                } else {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    c.dropped.fetch_add(lost, Ordering::Relaxed);
                }
                c.lines.fetch_add(chunk.lines - lost, Ordering::Relaxed);
                c.finished_lines.fetch_add(chunk.lines, Ordering::Relaxed);
                c.finish(chunk.seq);
                chunk.bytes.clear();
                let _ = spare_tx.send(chunk.bytes);
            }
        })?;
        Ok(Writer { counters, tx: Some(tx), spare, thread: Some(thread), sent: 0, sent_lines: 0 })
    }

    /// An empty buffer for the next chunk.
    pub fn buffer(&self) -> Vec<u8> {
        self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES + 1024))
    }

    /// Hands `bytes` (holding `lines` lines) to the writer without waiting; a full queue
    /// drops them, counted. Returns the buffer to fill next.
    pub fn submit(&mut self, bytes: Vec<u8>, lines: u64) -> Vec<u8> {
        let Some(tx) = &self.tx else { return bytes };
        let chunk = Chunk { seq: self.sent + 1, lines, bytes };
        match tx.try_send(chunk) {
            Ok(()) => {
                self.sent += 1;
                self.sent_lines += lines;
                self.buffer()
            }
            Err(TrySendError::Full(mut c) | TrySendError::Disconnected(mut c)) => {
                self.counters.dropped.fetch_add(lines, Ordering::Relaxed);
                c.bytes.clear();
                c.bytes
            }
        }
    }

    /// Marks everything handed over so far as what `flush()` waits for.
    pub fn mark_flush(&self) {
        // Relaxed: serving the flush ticket (a Release), which follows in program order,
        // publishes it to the flusher.
        self.counters.flush_target.store(self.sent, Ordering::Relaxed);
    }

    /// Hands over the last chunk, waiting for room until `deadline`, then closes the queue
    /// and waits for the writer until `deadline`. Lines still unwritten then are counted as
    /// dropped, and the thread is left to finish on its own.
    pub fn close(&mut self, mut bytes: Vec<u8>, lines: u64, deadline: Instant) {
        if let Some(tx) = self.tx.take() {
            if lines > 0 {
                let mut chunk = Chunk { seq: self.sent + 1, lines, bytes: std::mem::take(&mut bytes) };
                loop {
                    match tx.try_send(chunk) {
                        Ok(()) => {
                            self.sent += 1;
                            self.sent_lines += lines;
                            break;
                        }
                        Err(TrySendError::Full(c)) if Instant::now() < deadline => {
                            chunk = c;
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(_) => {
                            self.counters.dropped.fetch_add(lines, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
            drop(tx);
        }
        if self.counters.wait_done(self.sent, deadline) {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        } else {
            // Stuck destination: count what it still holds, and let the thread go.
            let c = &self.counters;
            let queued_lines = self.sent_lines.saturating_sub(c.finished_lines.load(Ordering::Relaxed));
            c.dropped.fetch_add(queued_lines, Ordering::Relaxed);
            self.thread = None;
        }
    }
}
