//! The segment file header.
//!
//! ```text
//! offset size field
//!      0    8 magic "TAPELOG\0"
//!      8    2 format version (u16 LE)
//!     10    2 flags (bit 0: finalized; other bits reserved, written 0, ignored)
//!     12    4 header length: entries start here (u32 LE, >= 64)
//!     16    8 committed length: bytes of the file that are valid (u64 LE, published last)
//!     24    8 run id: the same for every segment one logger instance writes
//!     32    4 segment sequence number within the run, from 0
//!     36    4 writer process id
//!     40    8 creation time, Unix ns
//!     48    1 clock: 1 = x86 TSC ticks, 2 = monotonic ns
//!     49   15 reserved (0)
//!     64    . metadata: count u16, then count x (key: u16 len + UTF-8, value: u16 len + UTF-8)
//! ```

use super::le;

/// Size of the fixed part of the header.
pub const FIXED_LEN: usize = 64;
/// Byte offset of the committed-length field.
pub const COMMITTED_OFFSET: usize = 16;
/// Byte offset of the flags field.
pub const FLAGS_OFFSET: usize = 10;
/// Flag bit: the writer closed this segment cleanly.
pub const FLAG_FINALIZED: u16 = 1;
/// Clock code: x86 time-stamp counter ticks.
pub const CLOCK_TSC: u8 = 1;
/// Clock code: monotonic nanoseconds.
pub const CLOCK_MONOTONIC: u8 = 2;

/// Key/value service metadata carried by every segment header (service name, host, pid, …).
pub type Metadata = Vec<(String, String)>;

/// A decoded segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    /// Format version of the file.
    pub version: u16,
    /// Flag bits ([`FLAG_FINALIZED`]).
    pub flags: u16,
    /// Where entries start.
    pub header_len: u32,
    /// Bytes of the file that hold committed entries (header included).
    pub committed: u64,
    /// Identifies one logger instance (all its segments share it).
    pub run_id: u64,
    /// Position of this segment within its run.
    pub seq: u32,
    /// Writer's process id.
    pub pid: u32,
    /// When the segment was created, Unix ns.
    pub created_unix_ns: u64,
    /// Which clock the record ticks come from.
    pub clock: u8,
    /// Service metadata.
    pub metadata: Metadata,
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the header needs.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The file does not start with the tapelog magic.
    BadMagic,
    /// The file's version is newer (or older) than this reader understands.
    UnsupportedVersion(u16),
    /// A header field holds an impossible value.
    Corrupt {
        /// Byte offset of the field.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeaderError::Truncated { need, have } => {
                write!(f, "header truncated: need {need} bytes, file has {have}")
            }
            HeaderError::BadMagic => f.write_str("not a tapelog segment (bad magic at byte 0)"),
            HeaderError::UnsupportedVersion(v) => write!(
                f,
                "format version {v} at byte 8 is not supported (this reader knows {}..={})",
                super::MIN_READ_VERSION,
                super::FORMAT_VERSION
            ),
            HeaderError::Corrupt { offset, what } => write!(f, "corrupt header at byte {offset}: {what}"),
        }
    }
}

impl FileHeader {
    /// Encodes the header (with `committed` as given) into a fresh buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; FIXED_LEN];
        b[0..8].copy_from_slice(&super::MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.committed.to_le_bytes());
        b[24..32].copy_from_slice(&self.run_id.to_le_bytes());
        b[32..36].copy_from_slice(&self.seq.to_le_bytes());
        b[36..40].copy_from_slice(&self.pid.to_le_bytes());
        b[40..48].copy_from_slice(&self.created_unix_ns.to_le_bytes());
        b[48] = self.clock;
        let n = self.metadata.len().min(u16::MAX as usize);
        b.extend_from_slice(&(n as u16).to_le_bytes());
        for (k, v) in self.metadata.iter().take(n) {
            put_str16(&mut b, k);
            put_str16(&mut b, v);
        }
        let len = b.len() as u32;
        b[12..16].copy_from_slice(&len.to_le_bytes());
        b
    }

    /// Bytes needed to read the whole header, given at least its fixed part.
    pub fn needed_len(fixed: &[u8]) -> Result<usize, HeaderError> {
        check_fixed(fixed)?;
        let len = le::u32_at(fixed, 12).unwrap_or(0) as usize;
        if len < FIXED_LEN + 2 {
            return Err(HeaderError::Corrupt { offset: 12, what: "header length below minimum" });
        }
        if len > 1 << 20 {
            return Err(HeaderError::Corrupt { offset: 12, what: "header length above 1 MiB" });
        }
        Ok(len)
    }

    /// Decodes a header from the start of `b` (which must hold [`FileHeader::needed_len`] bytes).
    pub fn decode(b: &[u8]) -> Result<FileHeader, HeaderError> {
        let header_len = Self::needed_len(b)?;
        if b.len() < header_len {
            return Err(HeaderError::Truncated { need: header_len, have: b.len() });
        }
        let h = &b[..header_len];
        let mut at = FIXED_LEN;
        let count = le::u16_at(h, at).unwrap_or(0) as usize;
        at += 2;
        let mut metadata = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let k = get_str16(h, &mut at)?;
            let v = get_str16(h, &mut at)?;
            metadata.push((k, v));
        }
        Ok(FileHeader {
            version: le::u16_at(h, 8).unwrap_or(0),
            flags: le::u16_at(h, 10).unwrap_or(0),
            header_len: header_len as u32,
            committed: le::u64_at(h, 16).unwrap_or(0),
            run_id: le::u64_at(h, 24).unwrap_or(0),
            seq: le::u32_at(h, 32).unwrap_or(0),
            pid: le::u32_at(h, 36).unwrap_or(0),
            created_unix_ns: le::u64_at(h, 40).unwrap_or(0),
            clock: h[48],
            metadata,
        })
    }

    /// Whether the writer closed the segment cleanly.
    pub fn is_finalized(&self) -> bool {
        self.flags & FLAG_FINALIZED != 0
    }
}

fn check_fixed(b: &[u8]) -> Result<(), HeaderError> {
    if b.len() < 8 || b[..8] != super::MAGIC {
        return if b.len() < 8 && super::MAGIC.starts_with(b) {
            Err(HeaderError::Truncated { need: FIXED_LEN, have: b.len() })
        } else {
            Err(HeaderError::BadMagic)
        };
    }
    if b.len() < FIXED_LEN {
        return Err(HeaderError::Truncated { need: FIXED_LEN, have: b.len() });
    }
    let v = le::u16_at(b, 8).unwrap_or(0);
    if !(super::MIN_READ_VERSION..=super::FORMAT_VERSION).contains(&v) {
        return Err(HeaderError::UnsupportedVersion(v));
    }
    Ok(())
}

fn put_str16(b: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    b.extend_from_slice(&(n as u16).to_le_bytes());
    b.extend_from_slice(&s.as_bytes()[..n]);
}

fn get_str16(b: &[u8], at: &mut usize) -> Result<String, HeaderError> {
    let corrupt = |offset| HeaderError::Corrupt { offset, what: "metadata string runs past the header" };
    let n = le::u16_at(b, *at).ok_or(corrupt(*at))? as usize;
    let s = b.get(*at + 2..*at + 2 + n).ok_or(corrupt(*at))?;
    let s = String::from_utf8_lossy(s).into_owned();
    *at += 2 + n;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileHeader {
        FileHeader {
            version: super::super::FORMAT_VERSION,
            flags: 0,
            header_len: 0,
            committed: 123,
            run_id: 42,
            seq: 7,
            pid: 99,
            created_unix_ns: 1_700_000_000_000_000_000,
            clock: CLOCK_TSC,
            metadata: vec![("service".into(), "pricer".into()), ("host".into(), "h1".into())],
        }
    }

    #[test]
    fn header_round_trips() {
        let h = sample();
        let b = h.encode();
        let d = FileHeader::decode(&b).unwrap();
        assert_eq!(d.header_len as usize, b.len());
        assert_eq!(FileHeader { header_len: 0, ..d }, h);
    }

    #[test]
    fn every_prefix_of_a_header_is_an_error_not_a_panic() {
        let b = sample().encode();
        for n in 0..b.len() {
            assert!(FileHeader::decode(&b[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn future_versions_are_refused_by_name() {
        let mut b = sample().encode();
        b[8] = 200;
        assert_eq!(FileHeader::decode(&b), Err(HeaderError::UnsupportedVersion(200)));
        assert!(HeaderError::UnsupportedVersion(200).to_string().contains("200"));
    }
}
