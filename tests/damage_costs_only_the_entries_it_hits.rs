//! What a damaged segment still gives, as docs/FORMAT.md promises it:
//!
//! * Damage confined to one entry's checksum or payload (or a kind byte that stays non-zero)
//!   costs exactly that entry: the reader reports a checksum error at its offset, skips it
//!   by its intact length field, and every other entry decodes as written. For a batch, the
//!   decoder prints every record but that batch's.
//! * A damaged length field costs that entry and, in general, everything after it (the
//!   format has no sync marker to find the next entry): every entry before it still decodes,
//!   the error names its offset, and nothing after it is ever delivered that the writer did
//!   not write (each entry's CRC covers its kind and length, so a mis-framed read is caught).
//! * Any damage inside the entries delivers only entries the writer wrote, all those wholly
//!   before the first damaged byte, and never loses one silently.
//!
//! `TAPELOG_PROPTEST_CASES=20000 cargo test --release --test damage_costs_only_the_entries_it_hits`
//! for a longer run.

mod common;
#[path = "common/segments.rs"]
mod segments;

use common::TempDir;
use proptest::prelude::*;
use segments::*;
use tapelog::wire::header::COMMITTED_OFFSET;
use tapelog::wire::ReadError;

fn golden_entries() -> Vec<(u64, u8, Vec<u8>)> {
    let r = read_entries(golden());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r.entries
}

/// The golden segment cut cleanly at entry boundary `end` (committed length set to it).
fn clean_prefix(end: u64) -> Vec<u8> {
    let mut v = golden()[..end as usize].to_vec();
    v[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&end.to_le_bytes());
    v
}

/// The messages of the printed records, without the time, level and thread: a lost `ANCHOR`
/// or `THREAD` entry changes those of later records, not which records they are.
fn messages(lines: &[String]) -> Vec<String> {
    lines.iter().filter_map(|l| l.find(" record ").map(|i| l[i + 1..].to_string())).collect()
}

fn is_sub_multiset(small: &[String], big: &[String]) -> bool {
    let mut big: Vec<&String> = big.iter().collect();
    small.iter().all(|s| match big.iter().position(|b| *b == s) {
        Some(i) => {
            big.swap_remove(i);
            true
        }
        None => false,
    })
}

proptest! {
    #![proptest_config(segments::config(256))]

    #[test]
    fn damage_inside_one_entry_costs_exactly_that_entry(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        hit_kind in any::<bool>(),
    ) {
        let g = golden();
        let s = spans(g);
        let e = s[which.index(s.len())];
        let mut seg = g.to_vec();
        // The checksum field and the payload: bytes 5.. of the entry.
        let first = e.off as usize + 5;
        let n = e.end as usize - first;
        for (at, mask) in &flips {
            seg[first + at.index(n)] ^= mask;
        }
        if hit_kind && seg[e.off as usize] ^ 0x40 != 0 {
            seg[e.off as usize] ^= 0x40;
        }
        prop_assume!(seg != g);

        let r = read_entries(&seg);
        let expect: Vec<_> = golden_entries().into_iter().filter(|x| x.0 != e.off).collect();
        prop_assert_eq!(&r.entries, &expect, "entries other than the one at {} changed", e.off);
        prop_assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        prop_assert!(matches!(r.errors[0], ReadError::Checksum { offset } if offset == e.off), "{:?}", r.errors);

        if e.kind == tapelog::wire::entry::BATCH && !hit_kind {
            let dir = TempDir::new("one-batch");
            let (want, _, _) = cat_stream(&without(g, e));
            let (got, o, err) = cat_stream(&seg);
            prop_assert_eq!(&got, &want, "cat -: {}", err);
            prop_assert!(o.errors > 0 && err.contains(&format!("byte {}", e.off)), "{}", err);
            let (got, o, err) = cat_file(&dir.path().join("batch.tlog"), &seg);
            prop_assert_eq!(&got, &want, "cat FILE: {}", err);
            prop_assert!(o.errors > 0 && err.contains(&format!("byte {}", e.off)), "{}", err);
        }
    }

    #[test]
    fn a_damaged_length_field_keeps_everything_before_it_and_delivers_no_garbage(
        which in any::<prop::sample::Index>(),
        len in prop_oneof![any::<u32>(), 0u32..4096, Just(u32::MAX), Just(1 << 30)],
    ) {
        let g = golden();
        let s = spans(g);
        let e = s[which.index(s.len())];
        let real = (e.end - e.off - 9) as u32;
        prop_assume!(len != real);
        let mut seg = g.to_vec();
        seg[e.off as usize + 1..e.off as usize + 5].copy_from_slice(&len.to_le_bytes());

        let r = read_entries(&seg);
        let all = golden_entries();
        let before: Vec<_> = all.iter().filter(|x| x.0 < e.off).cloned().collect();
        prop_assert_eq!(&r.entries[..before.len().min(r.entries.len())], &before[..], "entries before {} lost", e.off);
        prop_assert!(r.entries.len() >= before.len());
        for x in &r.entries {
            prop_assert!(all.contains(x), "delivered an entry the writer never wrote at {}", x.0);
        }
        prop_assert_eq!(r.errors.first().and_then(|e| e.offset()), Some(e.off), "{:?}", r.errors);

        let dir = TempDir::new("bad-len");
        let full = messages(&cat_stream(g).0);
        let kept = messages(&cat_stream(&clean_prefix(e.off)).0);
        for (name, (got, o, err)) in [
            ("cat -", cat_stream(&seg)),
            ("cat FILE", cat_file(&dir.path().join("len.tlog"), &seg)),
        ] {
            let got = messages(&got);
            prop_assert!(is_sub_multiset(&kept, &got), "{}: records before byte {} lost: {}", name, e.off, err);
            prop_assert!(is_sub_multiset(&got, &full), "{}: printed a record never logged: {}", name, err);
            prop_assert!(o.errors + o.warnings > 0, "{}: damage not reported", name);
        }
    }

    #[test]
    fn any_damage_to_the_entries_delivers_only_written_entries_and_is_reported(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
    ) {
        let g = golden();
        let start = header_len(g) as usize;
        let mut seg = g.to_vec();
        let mut first = usize::MAX;
        for (at, mask) in &flips {
            let i = start + at.index(g.len() - start);
            seg[i] ^= mask;
            first = first.min(i);
        }
        let r = read_entries(&seg);
        let all = golden_entries();
        for x in &r.entries {
            prop_assert!(all.contains(x), "delivered an entry the writer never wrote at {}", x.0);
        }
        let s = spans(g);
        for (x, sp) in all.iter().zip(&s) {
            if sp.end as usize <= first {
                prop_assert!(r.entries.contains(x), "lost the undamaged entry at {}", x.0);
            }
        }
        if r.entries.len() < all.len() {
            prop_assert!(!r.errors.is_empty(), "lost entries silently");
        }
        let full = messages(&cat_stream(g).0);
        let (got, o, err) = cat_stream(&seg);
        let got = messages(&got);
        prop_assert!(is_sub_multiset(&got, &full), "cat - printed a record never logged: {}", err);
        if !is_sub_multiset(&full, &got) {
            prop_assert!(o.errors + o.warnings > 0, "cat - lost records silently: {}", err);
        }
    }
}
