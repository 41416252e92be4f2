//! The decoder never panics on bad input: every prefix of a valid segment decodes to exactly
//! the records that fit (then a torn-tail warning), and damaged files give errors that name
//! the file and byte offset.

mod common;
use common::*;
use std::path::PathBuf;

fn make_segment(dir: &std::path::Path) -> PathBuf {
    let guard = tapelog::Builder::new().dir(dir).start().unwrap();
    for i in 0..60u32 {
        tapelog::info!("record {} {} {:?}", i, "payload text", Some(i as f64));
        if i % 20 == 0 {
            tapelog::flush();
        }
    }
    drop(guard);
    let files = tapelog::list_segments(dir);
    assert_eq!(files.len(), 1);
    files[0].0.clone()
}

fn cat_counts(path: &std::path::Path) -> (u64, tapelog_decoder::Outcome, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let o = tapelog_decoder::cat(&[path.to_path_buf()], &Default::default(), &mut out, &mut err).unwrap();
    (String::from_utf8_lossy(&out).lines().count() as u64, o, String::from_utf8_lossy(&err).into_owned())
}

#[test]
fn every_prefix_of_a_valid_segment_decodes_the_records_that_fit() {
    let _s = serial();
    let dir = TempDir::new("prefixes");
    let seg = make_segment(dir.path());
    let full = std::fs::read(&seg).unwrap();
    let (all, o, _) = cat_counts(&seg);
    assert_eq!(all, 60);
    assert_eq!(o.errors + o.warnings, 0);
    let cut = dir.path().join("cut.tlog");
    let mut last = 0;
    for n in 0..full.len() {
        std::fs::write(&cut, &full[..n]).unwrap();
        let (lines, o, err) = cat_counts(&cut);
        assert!(lines >= last, "prefix {n}: {lines} records after {last}");
        assert!(lines <= all);
        last = lines;
        if n < full.len() {
            assert!(o.errors + o.warnings > 0, "prefix {n} of {} must be reported as torn", full.len());
            assert!(err.contains("cut.tlog"), "prefix {n}: {err}");
        }
    }
    assert!(last >= 59, "the longest prefix lacks at most the last batch's records: {last}");
}

#[test]
fn damaged_files_give_errors_naming_file_and_offset() {
    let _s = serial();
    let dir = TempDir::new("damaged");
    let seg = make_segment(dir.path());
    let good = std::fs::read(&seg).unwrap();
    let bad = dir.path().join("bad.tlog");

    // Wrong magic.
    let mut b = good.clone();
    b[0] = b'X';
    std::fs::write(&bad, &b).unwrap();
    let (lines, o, err) = cat_counts(&bad);
    assert_eq!(lines, 0);
    assert!(o.exit_code() != 0 && err.contains("bad.tlog") && err.contains("magic"), "{err}");

    // A future format version.
    let mut b = good.clone();
    b[8] = 99;
    std::fs::write(&bad, &b).unwrap();
    let (_, o, err) = cat_counts(&bad);
    assert!(o.exit_code() != 0 && err.contains("version 99"), "{err}");

    // Flipped bytes anywhere: no panic; damage is reported.
    let mut rng = 0x2545F4914F6CDD1Du64;
    for _ in 0..300 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut b = good.clone();
        let at = (rng as usize) % b.len();
        b[at] ^= 1 << (rng >> 61);
        std::fs::write(&bad, &b).unwrap();
        let (lines, o, err) = cat_counts(&bad);
        assert!(lines <= 60 + 5);
        if lines < 60 {
            assert!(o.errors + o.warnings > 0, "silent loss after flipping byte {at}: {err}");
        }
    }

    // Empty file, and a directory with no segments.
    std::fs::write(&bad, b"").unwrap();
    let (_, o, err) = cat_counts(&bad);
    assert!(o.exit_code() != 0 || !err.is_empty(), "{err}");
    let empty = TempDir::new("empty-dir");
    let mut out = Vec::new();
    let mut errb = Vec::new();
    let e = tapelog_decoder::cat(&[empty.path().to_path_buf()], &Default::default(), &mut out, &mut errb).unwrap_err();
    assert!(e.to_string().contains("no tapelog segments"), "{e}");
}
