//! Every prefix of a real segment (a crash, a live writer, a cut copy) decodes to exactly the
//! entries that fit in it, byte for byte, then reports a torn tail; the decoder prints
//! exactly the records of the complete batches, in order, and warns.

mod common;
#[path = "common/segments.rs"]
mod segments;

use std::collections::HashMap;

use common::TempDir;
use segments::*;
use tapelog::wire::header::{HeaderError, COMMITTED_OFFSET};
use tapelog::wire::ReadError;

#[test]
fn every_prefix_decodes_the_entries_that_fit_then_reports_a_torn_tail() {
    let g = golden();
    let all = read_entries(g).entries;
    let s = spans(g);
    let hl = header_len(g) as usize;
    for n in 0..=g.len() {
        let r = read_entries(&g[..n]);
        let fit = s.iter().take_while(|sp| sp.end as usize <= n).count();
        if n < hl {
            assert!(r.entries.is_empty());
            assert!(
                matches!(r.errors[..], [ReadError::Header(HeaderError::Truncated { .. })]),
                "prefix {n}: {:?}",
                r.errors
            );
            continue;
        }
        assert_eq!(r.entries[..], all[..fit], "prefix {n}");
        if n == g.len() {
            assert!(r.errors.is_empty(), "{:?}", r.errors);
        } else {
            assert_eq!(r.errors.len(), 1, "prefix {n}: {:?}", r.errors);
            assert!(r.errors[0].is_torn(), "prefix {n}: {:?}", r.errors);
            let at = s.get(fit).map_or(n as u64, |sp| sp.off);
            assert_eq!(r.errors[0].offset(), Some(at), "prefix {n}: torn tail at the first entry that does not fit");
        }
    }
}

#[test]
fn every_prefix_prints_the_records_of_the_complete_batches_and_warns() {
    let g = golden();
    let s = spans(g);
    let hl = header_len(g);
    let (full, o, err) = cat_stream(g);
    assert_eq!(full.len(), RECORDS, "{err}");
    assert_eq!(o.errors + o.warnings, 0, "{err}");
    // What a clean cut at each entry boundary prints: the reference for the prefixes.
    let mut at_boundary: HashMap<u64, Vec<String>> = HashMap::new();
    for b in std::iter::once(hl).chain(s.iter().map(|sp| sp.end)) {
        let mut v = g[..b as usize].to_vec();
        v[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&b.to_le_bytes());
        let (lines, o, err) = cat_stream(&v);
        assert_eq!(o.errors + o.warnings, 0, "clean cut at {b}: {err}");
        assert_eq!(lines[..], full[..lines.len()], "clean cut at {b} prints a prefix of the records");
        at_boundary.insert(b, lines);
    }
    let dir = TempDir::new("prefix-files");
    let file = dir.path().join("cut.tlog");
    for n in hl as usize..g.len() {
        let b = s.iter().map(|sp| sp.end).take_while(|&e| e as usize <= n).last().unwrap_or(hl);
        let want = &at_boundary[&b];
        let (lines, o, err) = cat_stream(&g[..n]);
        assert_eq!(&lines, want, "cat - of prefix {n}: {err}");
        assert!(o.warnings > 0, "cat - of prefix {n} must warn of a torn tail: {err}");
        // The file reader too, at every boundary and the bytes around it, and every 13th.
        if n % 13 == 0 || s.iter().any(|sp| (sp.end as usize).abs_diff(n) <= 1) {
            let (lines, o, err) = cat_file(&file, &g[..n]);
            assert_eq!(&lines, want, "cat FILE of prefix {n}: {err}");
            assert!(o.warnings + o.errors > 0, "cat FILE of prefix {n} must report the cut: {err}");
        }
    }
}
