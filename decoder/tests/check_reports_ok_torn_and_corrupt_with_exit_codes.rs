//! `tapelog check PATH...` verifies each file and says OK, TORN at an offset, CORRUPT at an
//! offset, or UNREADABLE; exit codes: 0 all OK, 1 corrupt, 2 unreadable, 3 torn.

mod common;
use common::*;

/// Offsets of the fixture's entries (kind u8, len u32, crc u32, payload).
fn entry_offsets(b: &[u8]) -> Vec<usize> {
    let mut at = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    let mut v = Vec::new();
    while at + 9 <= b.len() {
        v.push(at);
        at += 9 + u32::from_le_bytes(b[at + 1..at + 5].try_into().unwrap()) as usize;
    }
    v
}

#[test]
fn good_torn_corrupt_and_missing_files_get_their_verdicts_and_exit_codes() {
    let dir = TempDir::new("check");
    let good = std::fs::read(fixture_file()).unwrap();
    let offsets = entry_offsets(&good);
    assert_eq!(*offsets.last().unwrap() + 9 + good[offsets.last().unwrap() + 1] as usize, good.len());

    let (code, out, _) = run(&["check", fixture_dir().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("format-v1-0.tlog: OK (23 entries, 84 records, 2617 bytes)\n"), "{out}");

    // Cut inside the last entry.
    let last = *offsets.last().unwrap();
    let torn = dir.path().join("torn.tlog");
    std::fs::write(&torn, &good[..good.len() - 3]).unwrap();
    let (code, out, _) = run(&["check", torn.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(&format!("torn.tlog: TORN at byte {last}:")), "{out}");

    // A flipped byte inside the payload of a middle entry.
    let mid = offsets[offsets.len() / 2];
    let mut b = good.clone();
    b[mid + 12] ^= 0x40;
    let corrupt = dir.path().join("corrupt.tlog");
    std::fs::write(&corrupt, &b).unwrap();
    let (code, out, _) = run(&["check", corrupt.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("corrupt.tlog: CORRUPT at byte {mid}: checksum mismatch")), "{out}");

    // Not a segment; a future version; a missing file.
    let junk = dir.path().join("junk.tlog");
    std::fs::write(&junk, b"plain text, not a segment").unwrap();
    let (code, out, _) = run(&["check", junk.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("junk.tlog: CORRUPT at byte 0: not a tapelog segment"), "{out}");
    let mut v = good.clone();
    v[8] = 77;
    let future = dir.path().join("future.tlog");
    std::fs::write(&future, &v).unwrap();
    let (code, out, _) = run(&["check", future.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("CORRUPT at byte 8: format version 77"), "{out}");
    let missing = dir.path().join("missing.tlog");
    let (code, out, _) = run(&["check", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.contains("missing.tlog: UNREADABLE"), "{out}");

    // The worst verdict decides: corrupt > unreadable > torn > OK.
    let all = [&fixture_file(), &torn, &missing, &corrupt].map(|p| p.to_str().unwrap().to_string());
    let (code, out, _) = run(&["check", &all[0], &all[1], &all[2], &all[3]]);
    assert_eq!((code, out.lines().count()), (1, 4), "{out}");
    let (code, _, _) = run(&["check", &all[0], &all[1], &all[2]]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["check", "--quiet", &all[0], &all[1]]);
    assert_eq!((code, out.lines().count()), (3, 1), "{out}");

    // --json: one object per file.
    let (_, out, _) = run(&["check", "--json", &all[0], &all[1], &all[2], &all[3]]);
    let v: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status: Vec<&str> = v.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ok", "torn", "unreadable", "corrupt"]);
    assert_eq!(v[0]["records"], 84);
    assert_eq!(v[0]["finalized"], true);
    assert_eq!(v[1]["offset"], last as u64);
    assert_eq!(v[3]["offset"], mid as u64);
}

#[test]
fn check_finds_damage_that_checksums_cannot() {
    let dir = TempDir::new("check-semantic");
    let good = std::fs::read(fixture_file()).unwrap();
    // A finalized file longer than its committed length: the length field was damaged
    // (or the file was appended to).
    let mut long = good.clone();
    long.extend_from_slice(&[0u8; 100]);
    let p = dir.path().join("long.tlog");
    std::fs::write(&p, &long).unwrap();
    let (code, out, _) = run(&["check", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("CORRUPT at byte {}: finalized segment has 100 bytes past", good.len())), "{out}");
}

#[test]
fn a_live_segment_checks_ok_but_not_finalized() {
    let _s = serial();
    let dir = TempDir::new("check-live");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    for i in 0..100u32 {
        tapelog::info!("live {}", i);
    }
    tapelog::flush();
    let (code, out, _) = run(&["check", dir.path().to_str().unwrap()]);
    drop(guard);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": OK, not finalized") && out.contains("100 records"), "{out}");
    let (code, out, _) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": OK (") && out.contains("100 records"), "{out}");
}
