//! Tests of [`super`]: the walk over a batch's records, including malformed input.

use super::*;
use crate::wire::record::args_len;

const SITE_U32: u32 = 7;
const SITE_STR: u32 = 8;
const SITE_OPT: u32 = 9;

fn kinds(id: u32) -> Option<&'static [u8]> {
    static U32: [u8; 1] = [ArgKind::U32.0];
    static STR: [u8; 2] = [ArgKind::STR.0, ArgKind::U8.0];
    static OPT: [u8; 1] = [ArgKind::STR.option().0];
    match id {
        SITE_U32 => Some(&U32),
        SITE_STR => Some(&STR),
        SITE_OPT => Some(&OPT),
        _ => None,
    }
}

/// Kinds for every site (lengths measured from the bytes).
fn by_kinds(id: u32) -> Option<Layout<'static>> {
    kinds(id).map(Layout::Kinds)
}

/// Whole lengths for the static site, as the runtime's fast table gives them.
fn by_len(id: u32) -> Option<Layout<'static>> {
    let k = kinds(id)?;
    Some(Layout::of(k, crate::wire::record::static_args_len(k)))
}

fn head(out: &mut Vec<u8>, id: u32, ticks: u64) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&ticks.to_le_bytes()[..6]);
}

/// A u32 record, a str+u8 record, a drop marker, an Option<str> None and Some.
fn sample() -> Vec<u8> {
    let mut b = Vec::new();
    head(&mut b, SITE_U32, 1);
    b.extend_from_slice(&5u32.to_le_bytes());
    head(&mut b, SITE_STR, 2);
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(b"abc");
    b.push(9);
    head(&mut b, DROP_MARKER_ID, 3);
    for v in [4u64, 10, 20] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    head(&mut b, SITE_OPT, 4);
    b.push(0);
    head(&mut b, SITE_OPT, (1 << 48) - 1);
    b.push(1);
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(b"hi");
    b
}

fn walk<B: RecordBytes>(b: B) -> Vec<Result<Record, RecordError>> {
    Records::new(b, by_len).collect()
}

#[test]
fn yields_every_record_with_its_offset_ticks_and_length() {
    let b = sample();
    let recs: Vec<Record> = walk(&b[..]).into_iter().map(Result::unwrap).collect();
    let got: Vec<(usize, u32, u64, usize)> = recs.iter().map(|r| (r.at, r.id, r.ticks48, r.len)).collect();
    assert_eq!(got, [(0, 7, 1, 14), (14, 8, 2, 18), (32, 0, 3, 34), (66, 9, 4, 11), (77, 9, (1 << 48) - 1, 17)]);
    assert_eq!(recs[2].drops, Some(DropMarker { count: 4, first_ticks: 10, last_ticks: 20 }));
    assert!(recs.iter().filter(|r| r.id != 0).all(|r| r.drops.is_none()));
    assert_eq!(recs.last().unwrap().end(), b.len());
}

#[test]
fn a_ring_split_anywhere_reads_like_one_slice() {
    let b = sample();
    let whole = walk(&b[..]);
    for cut in 0..=b.len() {
        let (a, rest) = b.split_at(cut);
        assert_eq!(walk(Split { a, b: rest }), whole, "cut at {cut}");
    }
}

#[test]
fn kinds_and_whole_lengths_agree() {
    let b = sample();
    let by_k: Vec<_> = Records::new(&b[..], by_kinds).collect();
    assert_eq!(by_k, walk(&b[..]));
}

#[test]
fn resumes_at_a_record_boundary() {
    let b = sample();
    let mut it = Records::new(&b[..], by_len);
    let first = it.next().unwrap().unwrap();
    assert_eq!(it.pos(), first.end());
    let rest: Vec<_> = Records::starting_at(&b[..], first.end(), by_len).collect();
    assert_eq!(rest, it.collect::<Vec<_>>());
}

#[test]
fn an_unknown_site_is_an_error_naming_its_offset_and_ends_the_walk() {
    let mut b = sample();
    b[14] = 99;
    let mut it = Records::new(&b[..], by_len);
    assert!(it.next().unwrap().is_ok());
    let e = it.next().unwrap().unwrap_err();
    assert_eq!(e, RecordError { at: 14, what: Malformed::UnknownSite(99) });
    assert_eq!(e.what.to_string(), "record refers to call site 99, which no dictionary entry defines");
    assert_eq!(it.pos(), b.len());
    assert!(it.next().is_none());
}

#[test]
fn a_cut_batch_names_the_record_that_does_not_fit() {
    let b = sample();
    let at = [0, 14, 32, 66, 77];
    for cut in 1..b.len() {
        let errs: Vec<RecordError> = walk(&b[..cut]).into_iter().filter_map(Result::err).collect();
        let ends_on_boundary = at.contains(&cut);
        assert_eq!(errs.len(), usize::from(!ends_on_boundary), "cut at {cut}");
        if let Some(e) = errs.first() {
            let rec = *at.iter().rev().find(|&&a| a < cut).unwrap();
            assert_eq!(e.at, rec, "cut at {cut}");
            let expect = if cut - rec < RECORD_HEADER_LEN {
                Malformed::Header
            } else if rec == 32 {
                Malformed::Marker
            } else {
                Malformed::Args { id: b[rec] as u32, error: ArgError::Truncated }
            };
            assert_eq!(e.what, expect, "cut at {cut}");
        }
    }
}

#[test]
fn a_bad_option_tag_is_reported_with_its_site() {
    let mut b = sample();
    b[66 + RECORD_HEADER_LEN] = 2;
    let e = walk(&b[..]).into_iter().find_map(Result::err).unwrap();
    assert_eq!(e, RecordError { at: 66, what: Malformed::Args { id: 9, error: ArgError::Invalid("option tag") } });
}

#[test]
fn a_whole_length_shorter_than_a_header_is_malformed_not_a_loop() {
    let b = sample();
    let errs: Vec<_> = Records::new(&b[..], |_| Some(Layout::Record(0))).collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].is_err());
}

#[test]
fn measuring_by_kinds_reports_the_error_args_len_reports() {
    // Deterministic pseudo-random bytes: the walk must never panic, and for every
    // record it measures by kinds it must agree with `args_len`.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let all_kinds: Vec<u8> = (0u8..=255).collect();
    for _ in 0..20_000 {
        let n = (next() % 40) as usize;
        let mut b: Vec<u8> = (0..n).map(|_| (next() % 4) as u8).collect();
        let ks: Vec<u8> = (0..next() % 4).map(|_| all_kinds[(next() % 256) as usize]).collect();
        if b.len() >= 4 && next() % 2 == 0 {
            b[..4].copy_from_slice(&1u32.to_le_bytes());
        }
        let lookup = |id: u32| (id == 1).then_some(Layout::Kinds(&ks));
        let cut = (next() as usize) % (b.len() + 1);
        let split = Split { a: &b[..cut], b: &b[cut..] };
        let from_slice: Vec<_> = Records::new(&b[..], lookup).collect();
        assert_eq!(Records::new(split, lookup).collect::<Vec<_>>(), from_slice);
        for r in &from_slice {
            match r {
                Ok(r) if r.id == 1 => {
                    assert_eq!(args_len(&ks, &b[r.args_at()..]), Ok(r.len - RECORD_HEADER_LEN));
                }
                Err(RecordError { at, what: Malformed::Args { id: 1, error } }) => {
                    assert_eq!(args_len(&ks, &b[at + RECORD_HEADER_LEN..]).unwrap_err(), *error);
                }
                _ => {}
            }
        }
    }
}

#[test]
fn record_len_split_measures_like_the_walk() {
    let b = sample();
    let s = Split { a: &b[..20], b: &b[20..] };
    for r in walk(&b[..]).into_iter().map(Result::unwrap).filter(|r| r.id != 0) {
        let k = kinds(r.id).unwrap();
        assert_eq!(record_len_split(s, r.at, k, None), Ok(r.len));
    }
}
