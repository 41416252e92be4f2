//! Text outputs (console and file) are formatted on the consumer in the layout of
//! `tapelog cat`, work with and without binary segments, and a stuck output never stalls
//! the consumer or costs a segment record: its lines are dropped and counted.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{serial, TempDir};
use tapelog::{Builder, Overflow, TextOutput};

#[derive(serde::Serialize)]
struct Leg {
    venue: &'static str,
    qty: u32,
}

#[derive(serde::Serialize)]
enum Side {
    Buy,
}

/// Logs one record of each interesting shape from the calling thread.
fn log_a_mix() {
    let name = String::from("XS1234");
    tapelog::info!("Logging int: {}, int: {}, double: {}", 7u32, 1u64 << 40, 101.25f64);
    tapelog::warn!("static text, no arguments");
    tapelog::error!("{:>8}|{:<6.2}|{:#x}|{:?}|{}", name, 2.5f32, 255u16, Some('q'), true);
    tapelog::info!(order_id = 42u64, side = "buy", px = 101.25f64, note = "two words"; "filled {}", 100u32);
    tapelog::debug!(
        "legs {:?} side {:?}",
        tapelog::serde(&vec![Leg { venue: "X", qty: 3 }]),
        tapelog::serde(&Side::Buy)
    );
    tapelog::info!("bytes {:?} none {:?}", &b"\x00ab"[..], None::<i64>);
}

fn cat_text(dir: &std::path::Path) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let o = tapelog_decoder::cat(&[dir.to_path_buf()], &Default::default(), &mut out, &mut err).expect("cat");
    assert_eq!(o.errors, 0, "{}", String::from_utf8_lossy(&err));
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn file_output_next_to_segments_equals_tapelog_cat() {
    let _s = serial();
    let dir = TempDir::new("text-file-and-segments");
    let seg_dir = dir.path().join("segments");
    let log = dir.path().join("app.log");
    let guard = Builder::new()
        .no_capacity_warning()
        .dir(&seg_dir)
        .overflow(Overflow::Block)
        .text_output(TextOutput::File(log.clone()))
        .start()
        .expect("start");
    std::thread::Builder::new().name("oms".into()).spawn(log_a_mix).unwrap().join().unwrap();
    tapelog::flush();
    // flush() waits for the text writer too: the file is complete now, before shutdown.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
    drop(guard);

    assert_eq!(text, cat_text(&seg_dir));
    assert!(text.contains(" INFO  oms "), "{text}");
    assert!(text.contains("filled 100 order_id=42 side=buy px=101.25 note=\"two words\"\n"), "{text}");
    assert!(text.contains(r#"legs [Leg { venue: "X", qty: 3 }] side Buy"#), "{text}");
    assert!(text.contains(&format!("{:>8}|{:<6.2}|{:#x}|{:?}|{}", "XS1234", 2.5f32, 255u16, Some('q'), true)));
    let st = tapelog::stats();
    assert_eq!(st.text.len(), 1);
    assert_eq!((st.text[0].lines, st.text[0].dropped, st.text[0].errors), (6, 0, 0));
    assert_eq!(st.text[0].bytes, text.len() as u64);
}

#[test]
fn text_output_alone_writes_no_segments_and_counts_every_record() {
    let _s = serial();
    let dir = TempDir::new("text-only");
    let seg_dir = dir.path().join("never-created");
    let log = dir.path().join("only.log");
    let guard = Builder::new()
        .no_capacity_warning()
        .dir(&seg_dir)
        .segments(false)
        .overflow(Overflow::Block)
        .ring_capacity(4096)
        .text_output(TextOutput::File(log.clone()))
        .start()
        .expect("start");
    let n = 20_000u32;
    for i in 0..n {
        tapelog::info!("seq {} of {}", i, n);
    }
    drop(guard);
    assert!(!seg_dir.exists(), "segments(false) must not create the directory");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n as usize);
    for (i, l) in lines.iter().enumerate() {
        assert!(l.ends_with(&format!(" seq {i} of {n}")), "line {i}: {l}");
    }
    let st = tapelog::stats();
    assert_eq!((st.total.logged, st.total.written, st.total.dropped), (n as u64, n as u64, 0));
    assert_eq!((st.text[0].lines, st.text[0].dropped), (n as u64, 0));
    assert_eq!(st.total.segments, 0);
}

#[test]
fn start_rejects_no_output_and_names_an_unopenable_file() {
    let _s = serial();
    let e = Builder::new().segments(false).start().unwrap_err();
    assert!(e.to_string().contains("segments(false) needs a text_output"), "{e}");
    let dir = TempDir::new("text-bad-path");
    // The text file's directory would have to be inside a regular file.
    std::fs::write(dir.path().join("plain-file"), b"").unwrap();
    let bad = dir.path().join("plain-file/app.log");
    let e = Builder::new().dir(dir.path()).text_output(TextOutput::File(bad.clone())).start().unwrap_err();
    assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
}

/// The child side of the console tests: `TAPELOG_TEXT_CHILD` says what to do.
#[test]
fn child_console_process() {
    let Ok(mode) = std::env::var("TAPELOG_TEXT_CHILD") else { return };
    let dir = std::env::var("TAPELOG_TEXT_DIR").unwrap();
    let out = if mode.starts_with("stderr") { TextOutput::Stderr } else { TextOutput::Stdout };
    let b = Builder::new().no_capacity_warning().dir(&dir).overflow(Overflow::Block).text_output(out);
    if mode.ends_with("mix") {
        let guard = b.segments(false).start().unwrap();
        std::thread::Builder::new().name("oms".into()).spawn(log_a_mix).unwrap().join().unwrap();
        drop(guard);
        return;
    }
    // "stuck": nobody reads our stdout. Log far more than the pipe and the queue hold.
    let guard = b
        .ring_capacity(64 << 10)
        .text_queue_bytes(128 << 10)
        .shutdown_timeout(std::time::Duration::from_secs(2))
        .start()
        .unwrap();
    let n = 300_000u64;
    for i in 0..n {
        tapelog::info!("record {} with some padding to make the line longer", i);
    }
    tapelog::flush();
    let st = tapelog::stats();
    let t = &st.text[0];
    // The segments have every record although the text output is stuck.
    assert_eq!((st.total.written, st.total.dropped), (n, 0), "{st:?}");
    assert!(t.dropped > 0, "a stuck stdout must cost text lines: {t:?}");
    drop(guard);
    let t = tapelog::stats().text[0].clone();
    // Every record is either a written line or a counted drop.
    assert_eq!(t.lines + t.dropped, n, "{t:?}");
    eprintln!("CHILD-OK written={} lines={} dropped={}", st.total.written, t.lines, t.dropped);
}

fn child(mode: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_console_process", "--nocapture", "--test-threads=1"])
        .env("TAPELOG_TEXT_CHILD", mode)
        .env("TAPELOG_TEXT_DIR", dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    c
}

#[test]
fn console_output_prints_the_same_lines_on_stdout_and_stderr() {
    let _s = serial();
    let dir = TempDir::new("text-console");
    // What `tapelog cat` prints for the same calls, from a file-and-segments run here.
    let seg_dir = dir.path().join("segments");
    let guard = Builder::new().no_capacity_warning().dir(&seg_dir).overflow(Overflow::Block).start().unwrap();
    std::thread::Builder::new().name("oms".into()).spawn(log_a_mix).unwrap().join().unwrap();
    drop(guard);
    let expected = cat_text(&seg_dir);
    // Drop the timestamps, which differ between runs.
    let strip = |s: &str| s.lines().filter_map(|l| Some(l.split_once(' ')?.1.to_string())).collect::<Vec<_>>();
    for mode in ["stdout-mix", "stderr-mix"] {
        let o = child(mode, dir.path()).output().unwrap();
        assert!(o.status.success(), "{mode}: {}", String::from_utf8_lossy(&o.stderr));
        let printed = String::from_utf8(if mode.starts_with("stdout") { o.stdout } else { o.stderr }).unwrap();
        // The child's test harness prints on stdout too, with no newline before our lines.
        let printed = printed.replace("test child_console_process ... ", "\n");
        // Not a terminal: no colors.
        assert!(!printed.contains('\x1b'), "{printed}");
        let lines = strip(&printed);
        let want = strip(&expected);
        for w in &want {
            assert!(lines.contains(w), "{mode}: missing {w:?} in\n{printed}");
        }
    }
}

#[test]
fn a_stuck_console_drops_counted_lines_and_never_costs_a_segment_record() {
    let _s = serial();
    let dir = TempDir::new("text-stuck");
    let mut c = child("stdout-stuck", dir.path());
    let mut ch = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Read no stdout until the child has checked its counters: the pipe fills and the
    // writer blocks. Then drain it, so the child (and its test harness) can finish.
    let mut err = String::new();
    let mut stderr = BufReader::new(ch.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        err.push_str(&line);
        if line.contains("CHILD-OK") || line.contains("panicked") {
            break;
        }
        line.clear();
    }
    let mut stdout = ch.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    stderr.read_to_string(&mut err).unwrap();
    let status = ch.wait().unwrap();
    drain.join().unwrap().unwrap();
    assert!(status.success(), "child failed: {err}");
    assert!(err.contains("CHILD-OK"), "{err}");
}

/// With a flight recorder, a text output prints a dump's records as it gets them, marked as
/// `tapelog cat` marks them, and the dump's line: the same lines as `tapelog cat` (which
/// puts the records back in their place in time).
#[test]
fn flight_recorder_dumps_print_as_tapelog_cat_prints_them() {
    let _s = serial();
    let dir = TempDir::new("text-flight");
    let seg_dir = dir.path().join("segments");
    let log = dir.path().join("app.log");
    let guard = Builder::new()
        .no_capacity_warning()
        .dir(&seg_dir)
        .filter("debug")
        .overflow(Overflow::Block)
        .text_output(TextOutput::File(log.clone()))
        .flight_recorder(tapelog::FlightRecorder::new())
        .start()
        .expect("start");
    for i in 0..20u32 {
        tapelog::debug!("kept {}", i);
    }
    log_a_mix(); // its ERROR record dumps the 20, and its DEBUG record is kept
    tapelog::flush();
    tapelog::dump_flight_recorder("by hand");
    drop(guard);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("[recorded] ")).count(), 21, "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" flight recorder: ")).count(), 2, "{text}");
    let mut ours: Vec<&str> = text.lines().collect();
    let cat = cat_text(&seg_dir);
    let mut theirs: Vec<&str> = cat.lines().collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
}
