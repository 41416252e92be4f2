//! Whatever the damage (flipped bytes anywhere, entry length fields claiming up to 4 GiB,
//! header fields claiming huge committed or header lengths, cuts), every reader of a segment
//! (the entry reader, `tapelog cat FILE`, `tapelog cat -`) returns without panicking and
//! never has more than a few MiB live, whatever a length field claims. A proptest failure
//! prints the smallest damage that broke it.
//!
//! `TAPELOG_PROPTEST_CASES=20000 cargo test --release --test damaged_segments_never_panic_or_overallocate`
//! for a longer run.

mod common;
#[path = "common/peak_alloc.rs"]
mod peak_alloc;
#[path = "common/segments.rs"]
mod segments;

use common::TempDir;
use peak_alloc::peak_of;
use proptest::prelude::*;
use segments::*;
use tapelog::wire::header::{COMMITTED_OFFSET, FLAGS_OFFSET};

/// Most bytes any reader may have live while reading one small segment: its fixed buffers
/// (the stream reader's 256 KiB chunks, the entry reader's 64 KiB window) and its tables,
/// far below the gigabytes a damaged length field can claim.
const LIVE_LIMIT: u64 = 4 << 20;

/// Runs every reader over `seg` and checks the allocation bound for each.
fn all_readers_survive(seg: &[u8], file: &std::path::Path) -> Result<(), TestCaseError> {
    let (_, peak, big) = peak_of(|| read_entries(seg));
    prop_assert!(peak <= LIVE_LIMIT, "entry reader had {peak} bytes live (largest allocation {big})");
    let (_, peak, big) = peak_of(|| cat_stream(seg));
    prop_assert!(peak <= LIVE_LIMIT, "cat - had {peak} bytes live (largest allocation {big})");
    let (_, peak, big) = peak_of(|| cat_file(file, seg));
    prop_assert!(peak <= LIVE_LIMIT, "cat FILE had {peak} bytes live (largest allocation {big})");
    let (_, peak, big) = peak_of(|| {
        std::fs::write(file, seg).unwrap();
        tapelog_decoder::check::check_file(file)
    });
    prop_assert!(peak <= LIVE_LIMIT, "check had {peak} bytes live (largest allocation {big})");
    Ok(())
}

/// Lengths a damaged field may claim: anything, the edges of the 1 GiB entry limit, the
/// maximum, and values near the truth.
fn claimed_len() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), Just(u32::MAX), Just(1 << 30), Just((1 << 30) + 1), Just((1 << 30) - 1), 0u32..4096,]
}

proptest! {
    #![proptest_config(segments::config(128))]

    #[test]
    fn flipped_bytes_anywhere(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8)) {
        let dir = TempDir::new("flips");
        let mut seg = golden().to_vec();
        for (at, mask) in &flips {
            let i = at.index(seg.len());
            seg[i] ^= mask;
        }
        all_readers_survive(&seg, &dir.path().join("flipped.tlog"))?;
    }

    #[test]
    fn an_entry_length_claiming_anything(which in any::<prop::sample::Index>(), len in claimed_len()) {
        let dir = TempDir::new("entry-len");
        let mut seg = golden().to_vec();
        let s = spans(&seg);
        let e = s[which.index(s.len())];
        let at = e.off as usize + 1;
        seg[at..at + 4].copy_from_slice(&len.to_le_bytes());
        all_readers_survive(&seg, &dir.path().join("len.tlog"))?;
    }

    #[test]
    fn header_fields_claiming_anything(
        committed in prop_oneof![any::<u64>(), Just(u64::MAX), 0u64..100_000],
        header_len in prop_oneof![any::<u32>(), Just(u32::MAX), 0u32..4096],
        finalized in any::<bool>(),
        meta_count in any::<u16>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = TempDir::new("header");
        let mut seg = golden().to_vec();
        seg[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&committed.to_le_bytes());
        seg[12..16].copy_from_slice(&header_len.to_le_bytes());
        seg[FLAGS_OFFSET..FLAGS_OFFSET + 2].copy_from_slice(&(finalized as u16).to_le_bytes());
        // The metadata count follows the 64-byte fixed header.
        seg[64..66].copy_from_slice(&meta_count.to_le_bytes());
        all_readers_survive(&seg, &dir.path().join("header.tlog"))?;
        let n = cut.index(seg.len() + 1);
        all_readers_survive(&seg[..n], &dir.path().join("header.tlog"))?;
    }

    #[test]
    fn flips_then_a_cut(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = TempDir::new("flip-cut");
        let mut seg = golden().to_vec();
        for (at, mask) in &flips {
            let i = at.index(seg.len());
            seg[i] ^= mask;
        }
        let n = cut.index(seg.len() + 1);
        all_readers_survive(&seg[..n], &dir.path().join("cut.tlog"))?;
    }
}

#[test]
fn the_golden_segment_itself_stays_under_the_bound() {
    let dir = TempDir::new("golden-bound");
    let seg = golden();
    assert!(seg.len() < 64 << 10, "golden segment grew to {} bytes; raise LIVE_LIMIT with care", seg.len());
    let (lines, o, err) = cat_stream(seg);
    assert_eq!(lines.len(), RECORDS, "{err}");
    assert_eq!(o.errors + o.warnings, 0, "{err}");
    all_readers_survive(seg, &dir.path().join("golden.tlog")).unwrap();
}
