//! The binary stream protocol between a logger's network sink and `tapelog serve`.
//!
//! `docs/FORMAT.md` ("Network stream") is the prose; this module is the code both ends use.
//!
//! The stream carries the same entries the segments hold, byte for byte (kind, length, CRC,
//! payload), so the collector writes them into segment files of its own without looking
//! inside records, and the decoder reads those files like local ones.
//!
//! ```text
//! sender → collector   HELLO   magic "TAPENET\0", version u16, header_len u32,
//!                              a segment file header describing the source,
//!                              version 2 only: token_len u16, token[token_len]
//! collector → sender   WELCOME magic, version u16 (the HELLO's), status u8
//!                              status 0 (accepted): resume u64
//!                              status 1 (rejected): reason_len u16, reason (UTF-8)
//! sender → collector   frames  tag u8, len u32, body[len]
//!   DICT (1)  body = one dictionary entry (CALLSITE, THREAD, SHAPE or ANCHOR)
//!   DATA (2)  body = offset u64, then one entry (BATCH, DROPS or THREAD_END)
//! collector → sender   frames  tag u8, len u32, body[len]
//!   ACK  (3)  body = offset u64
//! ```
//!
//! # Sequencing
//! DATA entries form the *sequenced stream*: `offset` is the number of entry bytes of that
//! stream before this entry. The collector writes DATA entries in offset order, records in a
//! position file how far its files hold the stream, and ACKs that offset. The sender keeps
//! every unacknowledged byte in its bounded send buffer and, after a reconnect, sends again
//! from the collector's `resume` offset, so an entry reaches the files exactly once even if
//! the connection or the collector died in between. What the sender could not keep (its
//! buffer was full) it counts and reports in-band as a DROPS entry: the gap marker.
//!
//! # Versions and the token
//! Version 2 adds one field after the header: a shared token (possibly empty) that a
//! collector started with `--token-file` requires. A sender without a token sends a
//! version 1 HELLO, so it still talks to a collector that speaks only version 1; a collector
//! answers in the version of the HELLO, so a version 1 sender reads its WELCOME. The token is
//! sent in clear: it keeps strangers out of a closed network, it does not hide the stream.
//!
//! DICT entries are not sequenced: the sender sends its whole dictionary after every
//! (re)connect and every new entry before the first DATA entry that needs it.

use std::io::{self, Read, Write};

use crate::wire::header::FileHeader;
use crate::wire::ENTRY_HEADER_LEN;

/// The 8 magic bytes that open a HELLO and a WELCOME.
pub const MAGIC: [u8; 8] = *b"TAPENET\0";

/// The newest protocol version this library speaks (2: the HELLO carries a token).
pub const VERSION: u16 = 2;

/// The oldest protocol version this library speaks (1: no token).
pub const MIN_VERSION: u16 = 1;

/// Longest token a HELLO may carry.
pub const MAX_TOKEN: usize = 1024;

/// Frame tag: a dictionary entry.
pub const DICT: u8 = 1;
/// Frame tag: a sequenced entry, preceded by its stream offset.
pub const DATA: u8 = 2;
/// Frame tag (collector to sender): the stream offset the collector's files hold.
pub const ACK: u8 = 3;

/// Bytes of a frame header: tag (u8) and body length (u32).
pub const FRAME_HEADER_LEN: usize = 5;

/// Bytes before the entry in a DATA frame's body.
pub const DATA_OFFSET_LEN: usize = 8;

/// WELCOME status: accepted.
pub const ACCEPTED: u8 = 0;
/// WELCOME status: rejected, with a reason.
pub const REJECTED: u8 = 1;

/// Largest HELLO header a collector accepts.
pub const MAX_HELLO_HEADER: usize = 64 << 10;

/// A protocol violation, with what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl core::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtoError {}

fn proto<T>(msg: impl Into<String>) -> Result<T, ProtoError> {
    Err(ProtoError(msg.into()))
}

/// Encodes a version 1 HELLO (no token) for a source described by `header`.
pub fn encode_hello(header: &FileHeader) -> Vec<u8> {
    encode_hello_version(header, 1, &[])
}

/// Encodes a version 2 HELLO carrying `token` (at most [`MAX_TOKEN`] bytes; a longer one is
/// cut there, and a collector then refuses it).
pub fn encode_hello_with_token(header: &FileHeader, token: &[u8]) -> Vec<u8> {
    encode_hello_version(header, 2, &token[..token.len().min(MAX_TOKEN)])
}

fn encode_hello_version(header: &FileHeader, version: u16, token: &[u8]) -> Vec<u8> {
    let h = header.encode();
    let mut b = Vec::with_capacity(16 + h.len() + token.len());
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&(h.len() as u32).to_le_bytes());
    b.extend_from_slice(&h);
    if version >= 2 {
        b.extend_from_slice(&(token.len() as u16).to_le_bytes());
        b.extend_from_slice(token);
    }
    b
}

/// A HELLO as read.
#[derive(Debug, Clone)]
pub struct Hello {
    /// The protocol version the sender speaks; the WELCOME answers in it.
    pub version: u16,
    /// The source's header.
    pub header: FileHeader,
    /// The token (version 2), possibly empty; `None` in a version 1 HELLO.
    pub token: Option<Vec<u8>>,
}

/// Bytes of a HELLO before its header: magic, version, header length.
pub const HELLO_FIXED: usize = 14;

/// How many bytes the HELLO at the start of `b` needs, as far as `b` tells: the fixed part,
/// then the header it announces, then (version 2) the token length and the token. A reader
/// that holds this many bytes can call [`read_hello`] without running out.
pub fn hello_needs(b: &[u8]) -> usize {
    if b.len() < HELLO_FIXED {
        return HELLO_FIXED;
    }
    let version = u16::from_le_bytes([b[8], b[9]]);
    let len = (u32::from_le_bytes([b[10], b[11], b[12], b[13]]) as usize).min(MAX_HELLO_HEADER + 1);
    let after_header = HELLO_FIXED + len;
    if version < 2 {
        return after_header;
    }
    if b.len() < after_header + 2 {
        return after_header + 2;
    }
    let tlen = u16::from_le_bytes([b[after_header], b[after_header + 1]]) as usize;
    after_header + 2 + tlen.min(MAX_TOKEN + 1)
}

/// Reads a HELLO: the source's header and, in version 2, its token. Errors name what is
/// wrong; I/O errors (including timeouts) pass through as [`HelloError::Io`].
pub fn read_hello(r: &mut impl Read) -> Result<Hello, HelloError> {
    let mut fixed = [0u8; HELLO_FIXED];
    r.read_exact(&mut fixed).map_err(HelloError::Io)?;
    if fixed[..8] != MAGIC {
        return Err(HelloError::Proto(ProtoError("not a tapelog stream (bad magic in the first 8 bytes)".into())));
    }
    let version = u16::from_le_bytes([fixed[8], fixed[9]]);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(HelloError::Version(version));
    }
    let len = u32::from_le_bytes([fixed[10], fixed[11], fixed[12], fixed[13]]) as usize;
    if len > MAX_HELLO_HEADER {
        return Err(HelloError::Proto(ProtoError(format!(
            "HELLO header of {len} bytes is over the {MAX_HELLO_HEADER}-byte limit"
        ))));
    }
    let mut h = vec![0u8; len];
    r.read_exact(&mut h).map_err(HelloError::Io)?;
    let header = FileHeader::decode(&h).map_err(|e| HelloError::Proto(ProtoError(format!("HELLO header: {e}"))))?;
    let token = if version >= 2 {
        let mut n = [0u8; 2];
        r.read_exact(&mut n).map_err(HelloError::Io)?;
        let n = u16::from_le_bytes(n) as usize;
        if n > MAX_TOKEN {
            return Err(HelloError::Proto(ProtoError(format!(
                "HELLO token of {n} bytes is over the {MAX_TOKEN}-byte limit"
            ))));
        }
        let mut t = vec![0u8; n];
        r.read_exact(&mut t).map_err(HelloError::Io)?;
        Some(t)
    } else {
        None
    };
    Ok(Hello { version, header, token })
}

/// Why a HELLO was not accepted.
#[derive(Debug)]
pub enum HelloError {
    /// The connection failed or timed out.
    Io(io::Error),
    /// A protocol version this collector does not speak.
    Version(u16),
    /// Anything else.
    Proto(ProtoError),
}

impl core::fmt::Display for HelloError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HelloError::Io(e) => write!(f, "reading HELLO: {e}"),
            HelloError::Version(v) => {
                write!(f, "protocol version {v} is not supported (this collector speaks {MIN_VERSION} to {VERSION})")
            }
            HelloError::Proto(e) => e.fmt(f),
        }
    }
}

/// The version a WELCOME answers a HELLO of `hello_version` in: the same, or this
/// library's newest for a version it does not speak (the WELCOME then rejects it).
pub fn answer_version(hello_version: u16) -> u16 {
    if (MIN_VERSION..=VERSION).contains(&hello_version) {
        hello_version
    } else {
        VERSION
    }
}

/// Writes a WELCOME in protocol `version` (the HELLO's) that accepts the source and asks it
/// to resume at `resume`.
pub fn write_welcome(w: &mut impl Write, version: u16, resume: u64) -> io::Result<()> {
    let mut b = Vec::with_capacity(19);
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&version.to_le_bytes());
    b.push(ACCEPTED);
    b.extend_from_slice(&resume.to_le_bytes());
    w.write_all(&b)
}

/// Writes a WELCOME in protocol `version` that rejects the source, giving the reason.
pub fn write_reject(w: &mut impl Write, version: u16, reason: &str) -> io::Result<()> {
    let mut n = reason.len().min(1024);
    while !reason.is_char_boundary(n) {
        n -= 1;
    }
    let mut b = Vec::with_capacity(13 + n);
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&version.to_le_bytes());
    b.push(REJECTED);
    b.extend_from_slice(&(n as u16).to_le_bytes());
    b.extend_from_slice(&reason.as_bytes()[..n]);
    w.write_all(&b)
}

/// Reads a WELCOME: `Ok(Ok(resume))` if accepted, `Ok(Err(reason))` if rejected.
pub fn read_welcome(r: &mut impl Read) -> io::Result<Result<u64, String>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("collector's WELCOME: {what}"));
    let mut fixed = [0u8; 11];
    r.read_exact(&mut fixed)?;
    if fixed[..8] != MAGIC {
        return Err(bad("bad magic (is this a tapelog collector?)"));
    }
    let version = u16::from_le_bytes([fixed[8], fixed[9]]);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(bad(&format!("protocol version {version}, this library speaks {MIN_VERSION} to {VERSION}")));
    }
    match fixed[10] {
        ACCEPTED => {
            let mut o = [0u8; 8];
            r.read_exact(&mut o)?;
            Ok(Ok(u64::from_le_bytes(o)))
        }
        REJECTED => {
            let mut n = [0u8; 2];
            r.read_exact(&mut n)?;
            let mut reason = vec![0u8; u16::from_le_bytes(n) as usize];
            r.read_exact(&mut reason)?;
            Ok(Err(String::from_utf8_lossy(&reason).into_owned()))
        }
        s => Err(bad(&format!("unknown status {s}"))),
    }
}

/// Appends an ACK frame for `offset`.
pub fn push_ack(out: &mut Vec<u8>, offset: u64) {
    out.push(ACK);
    out.extend_from_slice(&(DATA_OFFSET_LEN as u32).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
}

/// Appends a frame header.
pub fn push_frame_header(out: &mut Vec<u8>, tag: u8, body_len: usize) {
    out.push(tag);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
}

/// A frame header: tag and body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// DICT, DATA or ACK.
    pub tag: u8,
    /// Bytes of the body.
    pub len: usize,
}

/// Reads a frame header from its 5 bytes.
pub fn frame_head(b: [u8; FRAME_HEADER_LEN]) -> FrameHead {
    FrameHead { tag: b[0], len: u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize }
}

/// One entry taken out of a frame body, checked: its length field matches the body and its
/// CRC matches its bytes.
#[derive(Debug, Clone, Copy)]
pub struct CheckedEntry<'a> {
    /// The entry kind.
    pub kind: u8,
    /// The whole entry (header and payload).
    pub bytes: &'a [u8],
}

impl CheckedEntry<'_> {
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[ENTRY_HEADER_LEN..]
    }
}

/// Checks that `b` is exactly one whole entry with a good CRC.
pub fn check_entry(b: &[u8]) -> Result<CheckedEntry<'_>, ProtoError> {
    if b.len() < ENTRY_HEADER_LEN {
        return proto(format!("entry of {} bytes is shorter than an entry header", b.len()));
    }
    let kind = b[0];
    let len = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
    if len as usize != b.len() - ENTRY_HEADER_LEN {
        return proto(format!(
            "entry length field says {len} bytes but the frame holds {}",
            b.len() - ENTRY_HEADER_LEN
        ));
    }
    let crc = u32::from_le_bytes([b[5], b[6], b[7], b[8]]);
    let want = crate::wire::entry_crc(kind, len, [&b[ENTRY_HEADER_LEN..]]);
    if crc != want {
        return proto(format!("entry of kind {kind} fails its CRC ({crc:#010x}, computed {want:#010x})"));
    }
    Ok(CheckedEntry { kind, bytes: b })
}

/// Builds a whole entry (header with CRC, then payload) into `out`.
pub fn push_entry(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crate::wire::entry_crc(kind, payload.len() as u32, [payload]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The key under which a dictionary entry replaces an earlier one: (kind, id). Anchors share
/// one key (the latest wins). `None` if `kind` is not a dictionary kind or the payload is
/// too short to hold an id.
pub fn dict_key(kind: u8, payload: &[u8]) -> Option<(u8, u32)> {
    use crate::wire::entry;
    match kind {
        entry::ANCHOR => Some((kind, 0)),
        entry::CALLSITE | entry::THREAD | entry::SHAPE => {
            Some((kind, u32::from_le_bytes(payload.get(..4)?.try_into().ok()?)))
        }
        _ => None,
    }
}

/// Whether entries of `kind` travel in DATA frames.
pub fn is_data_kind(kind: u8) -> bool {
    use crate::wire::entry;
    matches!(kind, entry::BATCH | entry::RECORDED | entry::DROPS | entry::THREAD_END)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::entry;

    #[test]
    fn hello_and_welcome_round_trip() {
        let h = FileHeader {
            version: crate::wire::FORMAT_VERSION,
            flags: 0,
            header_len: 0,
            committed: 0,
            run_id: 42,
            seq: 0,
            pid: 7,
            created_unix_ns: 1,
            clock: 1,
            metadata: vec![("host".into(), "a".into())],
        };
        let b = encode_hello(&h);
        assert_eq!(hello_needs(&b[..3]), HELLO_FIXED);
        assert_eq!(hello_needs(&b[..HELLO_FIXED]), b.len());
        let got = read_hello(&mut &b[..]).unwrap();
        assert_eq!((got.version, got.token), (1, None));
        let got = got.header;
        assert_eq!((got.run_id, got.pid, got.metadata.clone()), (42, 7, h.metadata.clone()));
        let mut w = Vec::new();
        write_welcome(&mut w, 1, 99).unwrap();
        assert_eq!(u16::from_le_bytes([w[8], w[9]]), 1, "a version 1 HELLO is answered in version 1");
        assert_eq!(read_welcome(&mut &w[..]).unwrap(), Ok(99));
        let mut w = Vec::new();
        write_reject(&mut w, 2, "no room").unwrap();
        assert_eq!(read_welcome(&mut &w[..]).unwrap(), Err("no room".into()));
    }

    #[test]
    fn a_version_2_hello_carries_its_token() {
        let h = FileHeader {
            version: crate::wire::FORMAT_VERSION,
            flags: 0,
            header_len: 0,
            committed: 0,
            run_id: 5,
            seq: 0,
            pid: 3,
            created_unix_ns: 1,
            clock: 1,
            metadata: vec![],
        };
        let b = encode_hello_with_token(&h, b"s3cret");
        // The reader learns the length in steps: fixed part, header, token length, token.
        let after_header = b.len() - 2 - 6;
        assert_eq!(hello_needs(&b[..HELLO_FIXED]), after_header + 2);
        assert_eq!(hello_needs(&b[..after_header + 2]), b.len());
        let got = read_hello(&mut &b[..]).unwrap();
        assert_eq!((got.version, got.token.as_deref(), got.header.run_id), (2, Some(&b"s3cret"[..]), 5));
        let empty = read_hello(&mut &encode_hello_with_token(&h, b"")[..]).unwrap();
        assert_eq!(empty.token.as_deref(), Some(&b""[..]));
        // Cut short anywhere: an I/O error (more bytes needed), never a wrong token.
        for n in 0..b.len() {
            assert!(matches!(read_hello(&mut &b[..n]), Err(HelloError::Io(_))), "cut at {n}");
        }
        // A token length over the limit is named.
        let mut long = b[..after_header].to_vec();
        long.extend_from_slice(&u16::MAX.to_le_bytes());
        assert!(read_hello(&mut &long[..]).unwrap_err().to_string().contains("token of 65535 bytes"));
        assert_eq!(answer_version(1), 1);
        assert_eq!(answer_version(99), VERSION);
    }

    #[test]
    fn bad_hellos_are_named() {
        let e = read_hello(&mut &b"GET / HTTP/1.1\r\n\r\n"[..]).unwrap_err();
        assert!(e.to_string().contains("bad magic"), "{e}");
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&9u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        assert!(matches!(read_hello(&mut &b[..]), Err(HelloError::Version(9))));
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_hello(&mut &b[..]).unwrap_err().to_string().contains("over the"));
    }

    #[test]
    fn entries_are_checked() {
        let mut e = Vec::new();
        push_entry(&mut e, entry::THREAD, &[1, 0, 0, 0, 5]);
        let c = check_entry(&e).unwrap();
        assert_eq!(c.kind, entry::THREAD);
        assert_eq!(dict_key(c.kind, c.payload()), Some((entry::THREAD, 1)));
        let mut bad = e.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(check_entry(&bad).unwrap_err().0.contains("CRC"));
        assert!(check_entry(&e[..e.len() - 1]).unwrap_err().0.contains("length field"));
        assert!(check_entry(&e[..3]).is_err());
    }
}
