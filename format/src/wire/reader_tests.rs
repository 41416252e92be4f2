//! Tests of [`super`]: how damaged entries are skipped or end the reading.

use super::*;
use crate::wire::header::FLAG_FINALIZED;
use crate::wire::{entry, entry_crc, FORMAT_VERSION};

fn put(seg: &mut Vec<u8>, kind: u8, payload: &[u8]) -> u64 {
    let off = seg.len() as u64;
    seg.push(kind);
    seg.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    seg.extend_from_slice(&entry_crc(kind, payload.len() as u32, [payload]).to_le_bytes());
    seg.extend_from_slice(payload);
    off
}

/// A finalized segment of three THREAD entries, and their offsets.
fn segment() -> (Vec<u8>, [u64; 3]) {
    let header = FileHeader {
        version: FORMAT_VERSION,
        flags: FLAG_FINALIZED,
        header_len: 0,
        committed: 0,
        run_id: 1,
        seq: 0,
        pid: 2,
        created_unix_ns: 3,
        clock: 0,
        metadata: Default::default(),
    };
    let mut seg = header.encode();
    let mut offs = [0u64; 3];
    for (i, o) in offs.iter_mut().enumerate() {
        let mut p = Vec::new();
        ThreadEntry { thread: i as u32, os_tid: 7, name: "t" }.encode(&mut p);
        *o = put(&mut seg, entry::THREAD, &p);
    }
    let committed = seg.len() as u64;
    seg[super::super::header::COMMITTED_OFFSET..][..8].copy_from_slice(&committed.to_le_bytes());
    (seg, offs)
}

/// What `next_checked` yields, in short: `E(offset)`, `D(offset)`, `S`, `X`.
fn walk(seg: &[u8]) -> Vec<String> {
    let mut r = EntryReader::open(seg).unwrap();
    let mut out = Vec::new();
    while let Some(n) = r.next_checked(|h| h.kind != entry::BATCH) {
        out.push(match n {
            Next::Entry(h, _) => format!("E{}", h.off),
            Next::Unloaded(h) => format!("U{}", h.off),
            Next::Damaged(e) => format!("D{}", e.offset().unwrap()),
            Next::Stopped(e) => format!("S{}", e.offset().unwrap_or(0)),
            Next::End(e) => format!("X{}", e.offset().unwrap()),
        });
    }
    out
}

#[test]
fn sound_entries_come_back_decoded() {
    let (seg, [a, b, c]) = segment();
    assert_eq!(walk(&seg), [format!("E{a}"), format!("E{b}"), format!("E{c}")]);
}

#[test]
fn a_checksum_mismatch_is_skipped_and_reading_goes_on() {
    let (mut seg, [a, b, c]) = segment();
    let last = seg.len() - 1;
    seg[(b as usize) + ENTRY_HEADER_LEN] ^= 1;
    assert_eq!(walk(&seg), [format!("E{a}"), format!("D{b}"), format!("E{c}")]);
    seg[last] ^= 1;
    assert_eq!(walk(&seg), [format!("E{a}"), format!("D{b}"), format!("D{c}")]);
}

#[test]
fn a_payload_that_does_not_decode_is_skipped() {
    let (seg, [a, ..]) = segment();
    let mut short = seg[..a as usize].to_vec();
    let x = put(&mut short, entry::THREAD, &[1, 2]);
    let y = put(&mut short, entry::THREAD, &seg[(a as usize) + ENTRY_HEADER_LEN..][..16]);
    let committed = short.len() as u64;
    short[super::super::header::COMMITTED_OFFSET..][..8].copy_from_slice(&committed.to_le_bytes());
    assert_eq!(walk(&short), [format!("D{x}"), format!("E{y}")]);
}

#[test]
fn a_damaged_length_ends_the_reading_once() {
    let (mut seg, [a, b, _]) = segment();
    seg[(b as usize) + 1..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(walk(&seg), [format!("E{a}"), format!("X{b}")]);
}

#[test]
fn an_entry_header_with_kind_zero_or_a_huge_length_is_rejected() {
    let mut h = [0u8; ENTRY_HEADER_LEN];
    assert!(EntryHead::parse(&h[..8], 0).is_none());
    assert!(matches!(EntryHead::parse(&h, 5), Some(Err(ReadError::Corrupt { offset: 5, .. }))));
    h[0] = entry::BATCH;
    assert_eq!(EntryHead::parse(&h, 5).unwrap().unwrap(), EntryHead { off: 5, kind: entry::BATCH, len: 0, crc: 0 });
    h[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(EntryHead::parse(&h, 5).unwrap().is_err());
}

#[test]
fn unloaded_entries_are_left_unchecked() {
    let (mut seg, [a, ..]) = segment();
    seg.truncate(a as usize);
    let b = put(&mut seg, entry::BATCH, &[0; 12]);
    let last = seg.len() - 1;
    seg[last] = 1; // checksum now wrong, but the batch is not loaded
    let committed = seg.len() as u64;
    seg[super::super::header::COMMITTED_OFFSET..][..8].copy_from_slice(&committed.to_le_bytes());
    assert_eq!(walk(&seg), [format!("U{b}")]);
}
