//! Rotation under load: every segment decodes on its own, together they hold every record,
//! and retention limits (files, bytes) are respected.

mod common;
use common::*;

fn run(dir: &std::path::Path, max_files: Option<usize>, max_bytes: Option<u64>, n: u64) -> tapelog::Stats {
    let mut b = tapelog::Builder::new()
        .dir(dir)
        .ring_capacity(16 << 10)
        .segment_size((16 << 10) + (64 << 10))
        .overflow(tapelog::Overflow::Block);
    if let Some(m) = max_files {
        b = b.max_files(m);
    }
    if let Some(m) = max_bytes {
        b = b.max_bytes(m);
    }
    let guard = b.start().unwrap();
    let hs: Vec<_> = (0..2u64)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..n {
                    tapelog::info!("rot {} {} {}", t, i, "some text to fill segments");
                    // Records of one fixed size take the consumer's fast path, which must
                    // still put this call site into every new segment's dictionary.
                    tapelog::info!("fixed {} {}", t, i);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    drop(guard);
    tapelog::stats()
}

#[test]
fn every_segment_decodes_alone_and_together_they_are_complete() {
    let _s = serial();
    let dir = TempDir::new("rotation");
    let n = 40_000;
    let st = run(dir.path(), None, None, n);
    assert_eq!(st.total.written, 4 * n);
    let files = tapelog::list_segments(dir.path());
    assert!(files.len() > 10, "expected many rotations, got {}", files.len());
    let mut sum = 0;
    for (f, _) in &files {
        let (events, diags) = decode(std::slice::from_ref(f));
        assert!(diags.is_empty(), "{}: {diags:?}", f.display());
        sum += record_count(&events);
    }
    assert_eq!(sum as u64, 4 * n);
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    for t in 0..2 {
        for format in ["rot {} {} {}", "fixed {} {}"] {
            let seqs: Vec<u64> = args_of(&events, format)
                .filter(|(_, a)| a[0] == t.to_string())
                .map(|(_, a)| a[1].parse().unwrap())
                .collect();
            assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "{format}");
        }
    }
}

#[test]
fn retention_keeps_at_most_max_files_and_max_bytes() {
    let _s = serial();
    let dir = TempDir::new("retention-files");
    let st = run(dir.path(), Some(5), None, 40_000);
    assert!(st.total.segments > 5);
    let files = tapelog::list_segments(dir.path());
    assert_eq!(files.len(), 5, "{files:?}");
    // What is left still decodes (the newest records), each file on its own.
    for (f, _) in &files {
        let (_, diags) = decode(std::slice::from_ref(f));
        assert!(diags.is_empty(), "{diags:?}");
    }

    let dir = TempDir::new("retention-bytes");
    let limit = 400 << 10;
    run(dir.path(), None, Some(limit), 40_000);
    let total: u64 = tapelog::list_segments(dir.path()).iter().map(|(_, n)| n).sum();
    assert!(total <= limit, "{total} bytes kept, limit {limit}");
}
