//! `tapelog cat` shows the records a flight recorder dumped where they belong in time,
//! marked (`[recorded] ` in text, `"recorded": true` in JSON), with one line per dump;
//! `--level` treats them as any record.

mod common;
use common::*;

use tapelog::{FlightRecorder, Window};

#[test]
fn flight_recorder_dumps_show_marked_in_their_place_in_time() {
    let _s = serial();
    let dir = TempDir::new("flight-cat");
    let fr = FlightRecorder::new().window_before(Window::Time(std::time::Duration::from_secs(60)));
    let guard = tapelog::Builder::new().dir(dir.path()).filter("debug").flight_recorder(fr).start().unwrap();
    tapelog::info!("first {}", 0u32);
    for i in 0..10u32 {
        tapelog::debug!("before {}", i);
    }
    tapelog::info!("second {}", 1u32);
    tapelog::error!("boom {}", 2u32);
    tapelog::flush();
    for i in 0..5u32 {
        tapelog::debug!("after {}", i);
    }
    tapelog::info!("third {}", 3u32);
    tapelog::dump_flight_recorder("by hand");
    drop(guard);
    let d = dir.path().to_str().unwrap();

    let (code, out, err) = run(&["cat", "--format", "{level} {msg}", d]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let dump = |l: &str, n: usize, why: &str| {
        l.contains(&format!(" flight recorder: {n} records from ")) && l.ends_with(&format!(", trigger: {why}"))
    };
    assert_eq!(lines.len(), 21, "{out}");
    assert_eq!(lines[0], "INFO first 0");
    for i in 0..10 {
        assert_eq!(lines[1 + i], format!("[recorded] DEBUG before {i}"), "{out}");
    }
    assert_eq!(lines[11], "INFO second 1");
    assert_eq!(lines[12], "ERROR boom 2");
    assert!(dump(lines[13], 10, "ERROR record"), "{out}");
    for i in 0..5 {
        assert_eq!(lines[14 + i], format!("[recorded] DEBUG after {i}"), "{out}");
    }
    assert_eq!(lines[19], "INFO third 3");
    assert!(dump(lines[20], 5, "by hand"), "{out}");

    // --level applies to recorded records as to any other; dump lines count as warnings.
    let (_, out, _) = run(&["cat", "--level", "info", "--format", "{level} {msg}", d]);
    assert!(!out.contains("[recorded]"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("flight recorder: ")).count(), 2, "{out}");
    let (_, out, _) = run(&["cat", "--level", "error", "--format", "{level} {msg}", d]);
    assert_eq!(out, "ERROR boom 2\n");

    let (code, out, err) = run(&["cat", "--json", d]);
    assert_eq!(code, 0, "{err}");
    let v: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let recorded: Vec<&str> = v.iter().filter(|j| j["recorded"] == true).map(|j| j["msg"].as_str().unwrap()).collect();
    assert_eq!(recorded.len(), 15, "{out}");
    assert!(recorded.iter().all(|m| m.starts_with("before ") || m.starts_with("after ")), "{recorded:?}");
    assert!(v.iter().filter(|j| j["kind"] == "record" && j["level"] != "DEBUG").all(|j| j.get("recorded").is_none()));
    let dumps: Vec<&serde_json::Value> = v.iter().filter(|j| j["kind"] == "dump").collect();
    assert_eq!(dumps.len(), 2);
    assert_eq!((dumps[0]["count"].as_u64(), dumps[0]["reason"].as_str()), (Some(10), Some("ERROR record")));
    assert_eq!((dumps[1]["count"].as_u64(), dumps[1]["reason"].as_str()), (Some(5), Some("by hand")));
    let first_before = v.iter().find(|j| j["msg"] == "before 0").unwrap()["ts_ns"].as_i64();
    assert_eq!(dumps[0]["first_ns"].as_i64(), first_before);

    // `stats` counts them, and shows the logger's own counters from its shutdown record.
    let (code, out, err) = run(&["stats", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("flight recorder: 15 recorded records in 2 dumps"), "{out}");
    let started = out.lines().find(|l| l.starts_with("logger started")).expect("a start record");
    assert!(
        started.ends_with(" flight_recorder=keep<=DEBUG,max_bytes=67108864,trigger>=ERROR,before=60s,after=0ns"),
        "{started}"
    );
    let stopped = out.lines().find(|l| l.starts_with("logger stopped")).expect("a stop record");
    for kv in
        ["flight_recorder.kept=15", "flight_recorder.dumped=15", "flight_recorder.evicted=0", "flight_recorder.dumps=2"]
    {
        assert!(stopped.contains(kv), "{kv} in {stopped}");
    }

    // `cat -` (a stream) cannot put a dump's records back in place: it prints them as they
    // arrive, marked, with their own times; the same lines as `cat FILE`.
    let files = tapelog::list_segments(dir.path());
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0].0).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    tapelog_decoder::cat_reader(&bytes[..], &Default::default(), &mut out, &mut err);
    let mut streamed: Vec<String> = String::from_utf8(out).unwrap().lines().map(str::to_owned).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    tapelog_decoder::cat(&[dir.path().to_path_buf()], &Default::default(), &mut out, &mut err).unwrap();
    let mut merged: Vec<String> = String::from_utf8(out).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(streamed.iter().filter(|l| l.starts_with("[recorded] ")).count(), 15, "{streamed:?}");
    streamed.sort();
    merged.sort();
    assert_eq!(streamed, merged);

    // `check` accepts the new entries.
    let (code, out, _) = run(&["check", d]);
    assert_eq!(code, 0, "{out}");
}
