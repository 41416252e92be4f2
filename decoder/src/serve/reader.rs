//! A connection's input: frames read into a buffer whose every byte is paid for from the
//! collector's memory budget (`--max-memory`) before it is allocated.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tapelog_format::net::{self as proto, Hello, HelloError};

use super::limits::Budget;
use super::End;

/// Bytes a connection's buffer starts with, and shrinks back to after a bigger frame.
pub(super) const INITIAL_BUFFER: usize = 256 << 10;

pub(super) enum Why {
    End(End),
    Hello(HelloError),
    Msg(String),
    /// The frame's buffer would pass the memory budget.
    Memory(String),
}

/// A connection's input: a buffer that grows only up to the frame being read, and only
/// within the budget.
pub(super) struct FrameReader<'a> {
    stream: TcpStream,
    /// Zeroed when grown; bytes `start..end` are received and not yet consumed. Its length
    /// is reserved in `budget`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    stall: Duration,
    budget: &'a Budget,
}

impl Drop for FrameReader<'_> {
    fn drop(&mut self) {
        self.budget.release(self.buf.len());
    }
}

impl<'a> FrameReader<'a> {
    /// A reader with its first buffer paid for; `Err` names the budget if it has no room.
    pub(super) fn new(stream: TcpStream, stall: Duration, budget: &'a Budget) -> Result<FrameReader<'a>, String> {
        budget.try_reserve(INITIAL_BUFFER).map_err(|used| {
            format!(
                "its {INITIAL_BUFFER}-byte read buffer would pass --max-memory ({used} of {} bytes in use)",
                budget.limit()
            )
        })?;
        Ok(FrameReader { stream, buf: vec![0; INITIAL_BUFFER], start: 0, end: 0, offset: 0, stall, budget })
    }

    pub(super) fn buffered(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    pub(super) fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.start..self.start + n]
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes room for `n` buffered bytes from `start`, moving the partial frame to the front
    /// (so reads stay big) and growing only for a frame this big, once the budget pays.
    fn make_room(&mut self, n: usize) -> Result<(), Why> {
        if self.buf.len() - self.start >= n && self.buf.len() - self.end >= 64 << 10 {
            return Ok(());
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let want = n.max(INITIAL_BUFFER);
        if want < self.buf.len() && self.end <= want {
            // Back to the usual size after a big frame: its bytes go back to the budget.
            self.budget.release(self.buf.len() - want);
            self.buf.truncate(want);
            self.buf.shrink_to_fit();
        } else if self.buf.len() < n {
            let more = n - self.buf.len();
            if let Err(used) = self.budget.try_reserve(more) {
                return Err(Why::Memory(format!(
                    "the frame at stream byte {} needs a {n}-byte buffer, {more} more than it holds, which would \
                     pass --max-memory ({used} of {} bytes in use)",
                    self.offset,
                    self.budget.limit()
                )));
            }
            self.buf.resize(n, 0);
        }
        Ok(())
    }

    /// Reads until `n` bytes are buffered. Silence is fine between frames (nothing
    /// buffered); inside one it may last `stall` at most. Gives up (as `Superseded`) when
    /// `give_up` says so.
    pub(super) fn need(&mut self, n: usize, stop: &AtomicBool, give_up: &dyn Fn() -> bool) -> Result<(), Why> {
        let mut last_progress = Instant::now();
        while self.buffered() < n {
            self.make_room(n)?;
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
            // Relaxed: the flag carries no data; its value alone says stop.
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
    pub(super) fn hello(&mut self, stop: &AtomicBool) -> Result<Hello, Why> {
        let deadline = Instant::now() + self.stall;
        // `need` only limits silence once bytes arrived; the HELLO has a deadline of its own.
        let late = || Instant::now() >= deadline;
        // The fixed part first, then what it announces (`hello_needs` says how much).
        let mut need = proto::HELLO_FIXED;
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
                    need = proto::hello_needs(self.peek(self.buffered()));
                    if Instant::now() >= deadline {
                        return Err(Why::Msg(format!("no whole HELLO within {:?}", self.stall)));
                    }
                }
                Err(e) => return Err(Why::Hello(e)),
            }
        }
    }
}
