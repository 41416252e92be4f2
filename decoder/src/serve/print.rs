//! `--print`: each source's records as text on stdout, decoded as `tapelog cat -` would.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tapelog_format::wire::header::FileHeader;

use crate::CatOptions;

/// `--print`: a thread that decodes the source's entries as `tapelog cat -` would and
/// prints each line with the source's name in front.
pub(super) struct Printer {
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    pending: Vec<u8>,
    thread: Option<JoinHandle<()>>,
}

impl Printer {
    pub(super) fn start(opts: CatOptions, key: &str, header: &FileHeader) -> Printer {
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

    pub(super) fn entry(&mut self, bytes: &[u8]) {
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

    pub(super) fn finish(mut self) {
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
