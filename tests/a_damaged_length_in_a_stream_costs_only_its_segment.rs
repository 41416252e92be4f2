//! `tapelog cat -` over a stream of segments: a length field damaged so that its entry runs
//! past its finalized segment's committed end must cost only the rest of that segment (an
//! error, as `tapelog cat FILE` reports it), not the segments after it, and must not make
//! the reader hold the rest of the stream in memory.
//!
//! (The stream reader used to wait for the entry's bytes past the committed end, buffer the
//! whole rest of the stream until EOF, report a torn-tail warning and print nothing of the
//! following segments; found by the property tests' author.)

mod common;
#[path = "common/peak_alloc.rs"]
mod peak_alloc;
#[path = "common/segments.rs"]
mod segments;

use segments::*;

#[test]
fn a_damaged_length_in_one_segment_of_a_stream_keeps_the_next_segments() {
    let g = golden();
    let s = spans(g);
    // Twenty copies of the segment back to back, as `cat a.tlog b.tlog ...` gives them.
    let copies = 20;
    let mut stream = Vec::new();
    for _ in 0..copies {
        stream.extend_from_slice(g);
    }
    // The first batch of the first segment claims 1 MiB: past its committed end.
    let e = s.iter().find(|sp| sp.kind == tapelog::wire::entry::BATCH).unwrap();
    stream[e.off as usize + 1..e.off as usize + 5].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let ((lines, o, err), peak, _) = peak_alloc::peak_of(|| cat_stream(&stream));
    assert!(o.errors > 0, "damage reported only as a warning: {err}");
    assert!(lines.len() >= (copies - 1) * RECORDS, "only {} records printed: {err}", lines.len());
    assert!(peak < 2 * stream.len() as u64 + (1 << 20), "held {peak} bytes for a {} byte stream", stream.len());
}
