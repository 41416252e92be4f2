//! Syslog output: RFC 5424 messages over UDP, or over TCP with octet counting (RFC 6587).
//!
//! Messages are formatted on the consumer thread like the other text outputs; a writer
//! thread of the output's own sends them, so a collector that is down or slow costs counted
//! drops (`stats().text`), never a stalled consumer or a lost segment record. TCP reconnects
//! with exponential backoff (50 ms doubling to 5 s).
//!
//! A record becomes
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - [tapelog@32473 thread=".." target=".." file=".." line=".." k="v"] message`
//! where the key-value fields become structured-data parameters (`32473` is the private
//! enterprise number RFC 5612 reserves for documentation).

use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use crate::Level;

/// A syslog facility (RFC 5424 section 6.2.1), as a number with named constants.
///
/// ```
/// assert_eq!(tapelog::Facility::LOCAL0.code(), 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// user-level messages (1)
    pub const USER: Facility = Facility(1);
    /// system daemons (3)
    pub const DAEMON: Facility = Facility(3);
    /// local use 0 (16)
    pub const LOCAL0: Facility = Facility(16);
    /// local use 1 (17)
    pub const LOCAL1: Facility = Facility(17);
    /// local use 2 (18)
    pub const LOCAL2: Facility = Facility(18);
    /// local use 3 (19)
    pub const LOCAL3: Facility = Facility(19);
    /// local use 4 (20)
    pub const LOCAL4: Facility = Facility(20);
    /// local use 5 (21)
    pub const LOCAL5: Facility = Facility(21);
    /// local use 6 (22)
    pub const LOCAL6: Facility = Facility(22);
    /// local use 7 (23)
    pub const LOCAL7: Facility = Facility(23);

    /// The facility with this code, if it is one (0..=23).
    pub const fn from_code(code: u8) -> Option<Facility> {
        if code <= 23 {
            Some(Facility(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn code(self) -> u8 {
        self.0
    }
}

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// One datagram per message.
    Udp,
    /// A stream, each message prefixed by its length and a space (octet counting).
    Tcp,
}

/// Where and how to send syslog messages: [`TextOutput::Syslog`](crate::TextOutput::Syslog).
///
/// ```
/// let s = tapelog::Syslog::tcp("127.0.0.1:514").facility(tapelog::Facility::LOCAL3).app_name("oms");
/// assert_eq!(s.addr(), "127.0.0.1:514");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog {
    addr: String,
    transport: Transport,
    facility: Facility,
    app_name: Option<String>,
}

impl Syslog {
    /// Messages over TCP to `addr` (`host:port`), with octet counting.
    pub fn tcp(addr: impl Into<String>) -> Syslog {
        Syslog { addr: addr.into(), transport: Transport::Tcp, facility: Facility::USER, app_name: None }
    }

    /// Messages over UDP to `addr` (`host:port`), one datagram each.
    pub fn udp(addr: impl Into<String>) -> Syslog {
        Syslog { transport: Transport::Udp, ..Syslog::tcp(addr) }
    }

    /// The facility (default [`Facility::USER`]).
    pub fn facility(mut self, f: Facility) -> Syslog {
        self.facility = f;
        self
    }

    /// The APP-NAME field (default: the program's file name).
    pub fn app_name(mut self, name: impl Into<String>) -> Syslog {
        self.app_name = Some(name.into());
        self
    }

    /// The collector's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }
}

/// The parts of every message that never change, prepared once.
#[derive(Debug)]
pub(crate) struct Header {
    facility: u8,
    /// ` HOSTNAME APP-NAME PROCID `
    middle: String,
}

impl Header {
    pub fn new(cfg: &Syslog) -> Header {
        let app = cfg.app_name.clone().unwrap_or_else(|| {
            std::env::args_os()
                .next()
                .and_then(|p| std::path::Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default()
        });
        let middle = format!(
            " {} {} {} ",
            header_field(&crate::os::hostname().unwrap_or_default(), 255),
            header_field(&app, 48),
            std::process::id()
        );
        Header { facility: cfg.facility.0, middle }
    }

    /// Appends one framed message (`LEN SP MSG`, both transports use it inside a chunk).
    /// `ts` is RFC 3339 with nine fractional digits, cut here to the six RFC 5424 allows.
    pub fn push(&self, buf: &mut Vec<u8>, level: Option<Level>, ts: &str, msgid: &str, sd: &str, msg: &str) {
        let severity = match level {
            Some(Level::Error) => 3,
            Some(Level::Warn) | None => 4,
            Some(Level::Info) => 6,
            Some(Level::Debug) | Some(Level::Trace) => 7,
        };
        let ts = ts.get(..26).map_or(ts, |micro| micro);
        let len = msg_len(self, severity, ts, msgid, sd, msg);
        let _ = write!(buf, "{len} <{}>1 {ts}Z{}{msgid} ", self.facility as u16 * 8 + severity, self.middle);
        buf.extend_from_slice(sd.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(msg.as_bytes());
    }
}

fn msg_len(h: &Header, severity: u16, ts: &str, msgid: &str, sd: &str, msg: &str) -> usize {
    let pri = h.facility as u16 * 8 + severity;
    let pri_len = if pri >= 100 {
        3
    } else if pri >= 10 {
        2
    } else {
        1
    };
    // "<" PRI ">1 " TS "Z" MIDDLE MSGID " " SD " " MSG
    1 + pri_len + 3 + ts.len() + 1 + h.middle.len() + msgid.len() + 1 + sd.len() + 1 + msg.len()
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` if empty.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if f.is_empty() {
        "-".into()
    } else {
        f
    }
}

/// Appends a structured-data parameter ` name="value"`, escaping `"`, `\` and `]` as RFC
/// 5424 requires and keeping the name to its allowed characters.
pub(crate) fn push_param(sd: &mut String, name: &str, value: &str) {
    sd.push(' ');
    sd.extend(name.chars().filter(|&c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"')).take(32));
    sd.push_str("=\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            sd.push('\\');
        }
        sd.push(c);
    }
    sd.push('"');
}

/// The sending end of a syslog output, on its writer thread.
pub(crate) enum Link {
    Udp { addr: String, sock: Option<UdpSocket> },
    Tcp { addr: String, stream: Option<TcpStream>, next_try: Instant, backoff: Duration },
}

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Link {
    pub fn new(cfg: &Syslog) -> Link {
        match cfg.transport {
            Transport::Udp => Link::Udp { addr: cfg.addr.clone(), sock: None },
            Transport::Tcp => {
                Link::Tcp { addr: cfg.addr.clone(), stream: None, next_try: Instant::now(), backoff: BACKOFF_MIN }
            }
        }
    }

    /// Sends a chunk of framed messages holding `lines` messages; returns how many were lost.
    pub fn send(&mut self, chunk: &[u8], lines: u64) -> u64 {
        match self {
            Link::Tcp { addr, stream, next_try, backoff } => {
                if stream.is_none() {
                    if Instant::now() < *next_try {
                        return lines;
                    }
                    match connect(addr) {
                        Ok(s) => {
                            *stream = Some(s);
                            *backoff = BACKOFF_MIN;
                        }
                        Err(_) => {
                            *next_try = Instant::now() + *backoff;
                            *backoff = (*backoff * 2).min(BACKOFF_MAX);
                            return lines;
                        }
                    }
                }
                let Some(s) = stream else { return lines };
                if s.write_all(chunk).is_err() {
                    // Part of the chunk may have gone out; the count errs on the side of loss.
                    *stream = None;
                    return lines;
                }
                0
            }
            Link::Udp { addr, sock } => {
                if sock.is_none() {
                    *sock = UdpSocket::bind("0.0.0.0:0").and_then(|u| u.connect(addr.as_str()).map(|()| u)).ok();
                }
                let Some(u) = sock else { return lines };
                let mut lost = 0;
                let mut rest = chunk;
                while let Some((msg, tail)) = next_frame(rest) {
                    if u.send(msg).is_err() {
                        lost += 1;
                    }
                    rest = tail;
                }
                lost
            }
        }
    }
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, format!("{addr} resolves to no address"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(1)) {
            Ok(s) => {
                s.set_nodelay(true)?;
                // A peer that stops reading costs queue drops, and at worst this long a stall
                // of this output's own thread.
                s.set_write_timeout(Some(Duration::from_secs(2)))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Splits `LEN SP MSG rest` into `(MSG, rest)`.
fn next_frame(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = b.iter().position(|&c| c == b' ')?;
    let len: usize = std::str::from_utf8(&b[..sp]).ok()?.parse().ok()?;
    let body = b.get(sp + 1..sp + 1 + len)?;
    Some((body, &b[sp + 1 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_with_their_exact_length_and_rfc5424_fields() {
        let h = Header { facility: 16, middle: " host app 42 ".into() };
        let mut buf = Vec::new();
        let mut sd = String::from("[tapelog@32473");
        push_param(&mut sd, "side", "b\"u]y\\");
        sd.push(']');
        h.push(&mut buf, Some(Level::Info), "2026-11-21T12:00:00.123456789Z", "-", &sd, "filled 100");
        h.push(&mut buf, None, "2026-11-21T12:00:00.123456789Z", "DROPS", "-", "dropped 3 records");
        let (m1, rest) = next_frame(&buf).unwrap();
        let (m2, rest) = next_frame(rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            std::str::from_utf8(m1).unwrap(),
            r#"<134>1 2026-11-21T12:00:00.123456Z host app 42 - [tapelog@32473 side="b\"u\]y\\"] filled 100"#
        );
        assert_eq!(
            std::str::from_utf8(m2).unwrap(),
            "<132>1 2026-11-21T12:00:00.123456Z host app 42 DROPS - dropped 3 records"
        );
    }
}
