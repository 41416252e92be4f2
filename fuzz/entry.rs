//! The fuzz entry function over the segment readers, shared by the cargo-fuzz target
//! (`fuzz_targets/segment_reader.rs`, nightly) and the stable replay test
//! (`tests/fuzz_entry_survives_the_seed_corpus_and_mutations.rs`), so CI always runs it.
//!
//! It must return for any input: a panic, an abort or an allocation past libFuzzer's
//! `-malloc_limit_mb` is a finding. It also checks what the readers promise about the
//! positions they report.

use tapelog::wire::reader::{decode_entry, ReadError};
use tapelog::wire::EntryReader;

/// Reads `data` as one segment file (the entry reader, as `tapelog cat FILE` and `tapelog
/// check` use it) and as a stream of segments (`tapelog cat -`).
pub fn read_segment(data: &[u8]) {
    entries(data);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    tapelog_decoder::cat_reader(data, &Default::default(), &mut out, &mut err);
}

fn entries(data: &[u8]) {
    let Ok(mut r) = EntryReader::open(data) else { return };
    let end = r.end();
    assert!(end <= data.len() as u64, "committed end {end} past the data ({})", data.len());
    let mut last = r.pos();
    loop {
        let h = match r.next_head() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                assert!(e.offset().is_none_or(|o| o >= last), "error at {:?} before the last entry {last}", e.offset());
                break;
            }
        };
        assert!(h.off >= last && h.end() <= end, "entry {}..{} outside {last}..{end}", h.off, h.end());
        last = h.end();
        match r.payload(&h) {
            Ok(p) => {
                assert_eq!(p.len() as u32, h.len);
                let _ = decode_entry(h.kind, p);
            }
            Err(ReadError::Checksum { .. }) => {}
            Err(_) => break,
        }
    }
}
