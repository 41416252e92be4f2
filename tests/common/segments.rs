//! A real segment written by the logger, and the readers the damage tests run over it.
//! Include with `#[path = "common/segments.rs"] mod segments;` beside `mod common;`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use tapelog::wire::header::COMMITTED_OFFSET;
use tapelog::wire::reader::{decode_entry, ReadError};
use tapelog::wire::EntryReader;

use crate::common::{serial, TempDir};

/// Records in the golden segment.
pub const RECORDS: usize = 60;

/// One segment of [`RECORDS`] records in several batches (a flush every 10 records), with
/// integer, string, float and `Option` arguments, finalized.
pub fn golden() -> &'static [u8] {
    static G: OnceLock<Vec<u8>> = OnceLock::new();
    G.get_or_init(|| {
        let _s = serial();
        let dir = TempDir::new("golden-segment");
        let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
        for i in 0..RECORDS as u32 {
            tapelog::info!("record {} {} {:?}", i, "payload text", Some(i as f64));
            if i % 10 == 9 {
                tapelog::flush();
            }
        }
        drop(guard);
        let files = tapelog::list_segments(dir.path());
        assert_eq!(files.len(), 1);
        std::fs::read(&files[0].0).unwrap()
    })
}

/// Where an entry of a valid segment lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub off: u64,
    pub end: u64,
    pub kind: u8,
}

/// The entries of a valid segment.
pub fn spans(seg: &[u8]) -> Vec<Span> {
    let mut r = EntryReader::open(seg).unwrap();
    let mut out = Vec::new();
    while let Some(h) = r.next_head().unwrap() {
        out.push(Span { off: h.off, end: h.end(), kind: h.kind });
        r.skip(&h);
    }
    out
}

/// Offset where entries start.
pub fn header_len(seg: &[u8]) -> u64 {
    EntryReader::open(seg).unwrap().header().header_len as u64
}

/// What [`read_entries`] got.
#[derive(Debug, Default)]
pub struct Read {
    /// Entries whose checksum matched: offset, kind, payload.
    pub entries: Vec<(u64, u8, Vec<u8>)>,
    /// Every error, in order; the last one may have ended the reading.
    pub errors: Vec<ReadError>,
}

/// Reads every entry as the decoder does: a checksum mismatch skips the entry (its length
/// framed it), any other error ends the segment. Payloads of known kinds are also decoded.
pub fn read_entries(seg: &[u8]) -> Read {
    let mut out = Read::default();
    let mut r = match EntryReader::open(seg) {
        Ok(r) => r,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    loop {
        let h = match r.next_head() {
            Ok(Some(h)) => h,
            Ok(None) => return out,
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        };
        match r.payload(&h) {
            Ok(p) => {
                let _ = decode_entry(h.kind, p);
                out.entries.push((h.off, h.kind, p.to_vec()));
            }
            Err(e @ ReadError::Checksum { .. }) => out.errors.push(e),
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        }
    }
}

/// `tapelog cat -` over the bytes (the stream reader): output lines and outcome.
pub fn cat_stream(seg: &[u8]) -> (Vec<String>, tapelog_decoder::Outcome, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let o = tapelog_decoder::cat_reader(seg, &Default::default(), &mut out, &mut err);
    (lines(out), o, String::from_utf8_lossy(&err).into_owned())
}

/// `tapelog cat FILE` over the bytes written to `path` (the file reader and merger).
pub fn cat_file(path: &Path, seg: &[u8]) -> (Vec<String>, tapelog_decoder::Outcome, String) {
    std::fs::write(path, seg).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let o = tapelog_decoder::cat(&[path.to_path_buf()], &Default::default(), &mut out, &mut err).unwrap();
    (lines(out), o, String::from_utf8_lossy(&err).into_owned())
}

fn lines(b: Vec<u8>) -> Vec<String> {
    String::from_utf8_lossy(&b).lines().map(str::to_owned).collect()
}

/// The segment with one entry cut out cleanly (committed length adjusted): what a reader
/// that loses exactly that entry should print.
pub fn without(seg: &[u8], s: Span) -> Vec<u8> {
    let mut v = seg[..s.off as usize].to_vec();
    v.extend_from_slice(&seg[s.end as usize..]);
    let c = u64::from_le_bytes(v[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].try_into().unwrap());
    v[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&(c - (s.end - s.off)).to_le_bytes());
    v
}

/// Proptest cases: `default`, or `TAPELOG_PROPTEST_CASES` for a longer run.
pub fn cases(default: u32) -> u32 {
    std::env::var("TAPELOG_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The proptest configuration every damage test uses.
pub fn config(default_cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config { cases: cases(default_cases), failure_persistence: None, ..Default::default() }
}
