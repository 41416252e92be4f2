//! Logging before `start()`, after the guard is dropped, and across a restart never crashes;
//! calls with no logger running are counted as dropped.

mod common;
use common::*;

#[test]
fn logging_without_a_logger_is_counted_and_restart_works() {
    let _s = serial();
    let base = tapelog::stats().total.dropped_no_logger;
    for i in 0..5u32 {
        tapelog::info!("before start {}", i);
    }
    assert_eq!(tapelog::stats().total.dropped_no_logger, base + 5);
    tapelog::flush(); // no logger: returns at once

    let dir = TempDir::new("nologger");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    assert!(matches!(tapelog::Builder::new().dir(dir.path()).start(), Err(tapelog::StartError::AlreadyRunning)));
    tapelog::info!("during first run {}", 1u8);
    drop(guard);
    tapelog::info!("after stop {}", 2u8);
    let st = tapelog::stats();
    assert_eq!(st.total.dropped_no_logger, base + 6);
    assert!(!st.running);

    // A second logger in the same process: this thread re-attaches to it.
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    tapelog::info!("during second run {}", 3u8);
    drop(guard);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let msgs: Vec<&str> = events
        .iter()
        .filter_map(|e| if let Owned::Record { format, .. } = e { Some(format.as_str()) } else { None })
        .collect();
    assert_eq!(msgs, ["during first run {}", "during second run {}"]);
}

#[test]
fn bad_configuration_and_unwritable_dirs_are_clear_errors() {
    let _s = serial();
    let e = tapelog::Builder::new().ring_capacity(10).start().unwrap_err();
    assert!(e.to_string().contains("ring_capacity 10"), "{e}");
    let e = tapelog::Builder::new().ring_capacity(1 << 20).segment_size(1 << 20).start().unwrap_err();
    assert!(e.to_string().contains("segment_size"), "{e}");
    let file = TempDir::new("notadir");
    let f = file.path().join("plain-file");
    std::fs::write(&f, b"x").unwrap();
    let e = tapelog::Builder::new().dir(f.join("sub")).start().unwrap_err();
    assert!(matches!(e, tapelog::StartError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("plain-file"), "{e}");
}
