//! One text destination ([`TextOutput`], configured in `route.rs`): the line buffer the
//! consumer fills for it, handed in chunks to the destination's writer thread
//! ([`super::writer`]).

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use super::syslog::{Header, Link};
use super::writer::{Dest, Writer, CHUNK_BYTES};
use crate::route::TextOutput;
use crate::text::line;

/// A text output as configured: its name and route if it is a named output, the
/// destination, and whether it writes NDJSON.
pub(crate) type TextOutSpec = (Option<(String, crate::Route)>, TextOutput, bool);

pub(super) struct Out {
    /// The records it takes; `None`: all, and drop reports.
    pub(super) route: Option<crate::Route>,
    /// NDJSON (`Record::to_json`) instead of text lines.
    pub(super) json: bool,
    pub(super) writer: Writer,
    pub(super) color: bool,
    /// Set for syslog outputs, which get RFC 5424 messages instead of lines.
    pub(super) syslog: Option<Header>,
    pub(super) buf: Vec<u8>,
    pub(super) lines: u64,
}

impl Out {
    /// Opens one destination (a file on the caller's thread, so errors reach `start()`)
    /// and starts its writer thread.
    pub(super) fn open(spec: &TextOutSpec, queue_bytes: usize, no_color: bool) -> Result<Out, (PathBuf, io::Error)> {
        let (routed, o, json) = spec;
        let mut header = None;
        let (dest, color) = match o {
            TextOutput::Stderr => (Dest::Stderr, !no_color && io::stderr().is_terminal()),
            TextOutput::Stdout => (Dest::Stdout, !no_color && io::stdout().is_terminal()),
            TextOutput::File(p) => {
                let f = p
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(p))
                    .map_err(|e| (p.clone(), e))?;
                (Dest::File(f), false)
            }
            TextOutput::Syslog(cfg) => {
                header = Some(Header::new(cfg));
                (Dest::Syslog(Link::new(cfg)), false)
            }
        };
        let name = routed.as_ref().map_or_else(|| o.name(), |(n, _)| n.clone());
        let writer = Writer::start(name.clone(), dest, queue_bytes).map_err(|e| (PathBuf::from(name), e))?;
        let buf = writer.buffer();
        let route = routed.as_ref().map(|(_, r)| r.clone());
        let (json, color) = (*json && header.is_none(), color && !*json);
        Ok(Out { route, json, writer, color, syslog: header, buf, lines: 0 })
    }

    pub(super) fn push_line(&mut self, plain: &str, level: Option<crate::Level>, ts_len: usize) {
        if self.color {
            push_colored(&mut self.buf, plain, level, ts_len);
        } else {
            self.buf.extend_from_slice(plain.as_bytes());
        }
        self.buf.push(b'\n');
        self.ended_one();
    }

    pub(super) fn ended_one(&mut self) {
        self.lines += 1;
        if self.buf.len() >= CHUNK_BYTES {
            self.submit();
        }
    }

    pub(super) fn submit(&mut self) {
        if self.lines > 0 {
            let buf = std::mem::take(&mut self.buf);
            self.buf = self.writer.submit(buf, self.lines);
            self.lines = 0;
        }
    }
}

/// Appends `plain` (`<ts> <level:<5> <rest>`, or `<ts> DROPS <rest>` for `level: None`)
/// colored as `tapelog cat --color` colors it: the timestamp dimmed, the padded level (or
/// `DROPS`) in its color.
fn push_colored(buf: &mut Vec<u8>, plain: &str, level: Option<crate::Level>, ts_len: usize) {
    let (ts, rest) = plain.split_at(ts_len);
    // Both the padded level and `DROPS` are five characters.
    let (tag, rest) = rest[1..].split_at(5.min(rest.len().saturating_sub(1)));
    let color = match level {
        Some(l) => line::level_color(Some(l)),
        None => line::DROPS_COLOR,
    };
    for piece in [line::DIM, ts, line::RESET, " ", color, tag, line::RESET, rest] {
        buf.extend_from_slice(piece.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colored_lines_dim_the_time_and_color_the_level_or_drops_tag() {
        let mut b = Vec::new();
        let plain = "2026-11-21T12:00:00.000000000Z INFO  main m f.rs:1 hi";
        push_colored(&mut b, plain, Some(crate::Level::Info), 30);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "\x1b[2m2026-11-21T12:00:00.000000000Z\x1b[0m \x1b[32mINFO \x1b[0m main m f.rs:1 hi"
        );
        let mut b = Vec::new();
        let plain = "2026-11-21T12:00:00.000000000Z DROPS main dropped 3 records";
        push_colored(&mut b, plain, None, 30);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "\x1b[2m2026-11-21T12:00:00.000000000Z\x1b[0m \x1b[1;33mDROPS\x1b[0m main dropped 3 records"
        );
    }
}
