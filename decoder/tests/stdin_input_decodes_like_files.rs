//! `tapelog cat -` reads a segment stream from stdin (`cat seg | tapelog cat -`,
//! `zstdcat seg.zst | tapelog cat -`): one segment or several back to back, finalized or
//! copied live, and prints what `tapelog cat FILE` prints.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn cat_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child =
        bin().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
}

#[test]
fn a_piped_segment_prints_exactly_what_the_file_prints() {
    let file = fixture_file();
    let bytes = std::fs::read(&file).unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["cat"];
        args.extend_from_slice(extra);
        let (_, want, _) = run(&[args.clone(), vec![file.to_str().unwrap()]].concat());
        args.push("-");
        let (code, got, err) = cat_stdin(&args, &bytes);
        assert_eq!(code, 0, "{err}");
        assert!(err.is_empty(), "{err}");
        assert_eq!(got, want);
    }
}

#[test]
fn concatenated_segments_including_a_live_copy_all_decode() {
    let _s = serial();
    let dir = TempDir::new("stdin-concat");
    let guard = tapelog::Builder::new()
        .no_capacity_warning()
        .dir(dir.path())
        .segment_size(72 << 10)
        .ring_capacity(4 << 10)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    for i in 0..6000u32 {
        tapelog::info!("piped {} {}", i, "padding padding padding");
    }
    tapelog::flush();
    // A copy of the live segment: preallocated zeros past its committed length.
    let mut segs = tapelog::list_segments(dir.path());
    segs.sort();
    assert!(segs.len() >= 3, "{segs:?}");
    let live = std::fs::read(&segs.last().unwrap().0).unwrap();
    drop(guard);
    let (_, want, _) = run(&["cat", "--format", "{msg}", dir.path().to_str().unwrap()]);
    assert_eq!(want.lines().count(), 6000);

    let mut stream = Vec::new();
    for (p, _) in &segs[..segs.len() - 1] {
        stream.extend(std::fs::read(p).unwrap());
    }
    stream.extend_from_slice(&live);
    stream.extend(std::fs::read(fixture_file()).unwrap());
    let (code, got, err) = cat_stdin(&["cat", "--format", "{msg}", "-"], &stream);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("not closed cleanly"), "the live copy is flagged: {err}");
    let got: Vec<&str> = got.lines().collect();
    let piped: Vec<&str> = got.iter().copied().filter(|l| l.starts_with("piped ")).collect();
    assert_eq!(piped, want.lines().collect::<Vec<_>>(), "every record of the run, in order");
    assert!(got.contains(&"Logging int: 1, int: 2, double: 3.5"), "the fixture after the live copy decodes too");
}

#[test]
fn damaged_streams_report_stdin_offsets_and_exit_codes() {
    let bytes = std::fs::read(fixture_file()).unwrap();
    let (code, out, err) = cat_stdin(&["cat", "-"], b"not a segment at all");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("<stdin> at byte 0") && err.contains("magic"), "{err}");

    // Cut inside the last entry: a torn tail, a warning, everything before it printed.
    let (code, out, err) = cat_stdin(&["cat", "-"], &bytes[..bytes.len() - 5]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: <stdin> at byte") && err.contains("torn tail"), "{err}");
    assert!(out.lines().count() > 70, "{out}");

    let (code, out, err) = cat_stdin(&["cat", "-"], b"");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    let (code, _, err) = run(&["cat", "-", fixture_file().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be combined"), "{err}");
}
