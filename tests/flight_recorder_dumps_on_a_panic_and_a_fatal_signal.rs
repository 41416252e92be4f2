//! With the panic hook or the fatal-signal handlers installed, a panic or a fatal signal
//! writes out every record the flight recorder keeps, before the panic goes on or the
//! process dies, with the reason in the dump's line.

mod common;
#[path = "common/recorded.rs"]
mod recorded;
use common::*;
use recorded::read_back;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use tapelog::FlightRecorder;

const ENV: &str = "TAPELOG_FLIGHT_SIGNAL_CHILD";

/// No level trigger: only the panic or the signal writes anything out.
fn recorder() -> FlightRecorder {
    FlightRecorder::new().trigger(None)
}

#[test]
fn a_panic_writes_out_what_the_flight_recorder_keeps() {
    let _s = serial();
    let dir = TempDir::new("flight-panic");
    let guard = tapelog::Builder::new().dir(dir.path()).filter("debug").flight_recorder(recorder()).start().unwrap();
    tapelog::install_panic_hook();
    for i in 0..300u64 {
        tapelog::debug!("step {}", i);
    }
    tapelog::info!("written as usual {}", 1u64);
    let r = std::thread::spawn(|| panic!("order book crossed")).join();
    assert!(r.is_err());
    // No flush here: the hook's flush has written the dump.
    let (recs, dumps) = read_back(dir.path());
    let steps: Vec<u64> = recs.iter().filter(|r| r.format == "step {}").map(|r| r.value).collect();
    assert_eq!(steps, (0..300).collect::<Vec<_>>());
    assert!(recs.iter().filter(|r| r.format == "step {}").all(|r| r.recorded));
    assert!(recs.iter().any(|r| r.format.starts_with("thread '{}' panicked") && !r.recorded));
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_eq!((dumps[0].count, dumps[0].reason.as_str()), (300, "panic"));
    let f = tapelog::stats().flight_recorder.unwrap();
    assert_eq!((f.kept, f.dumped, f.evicted, f.held, f.dumps), (300, 300, 0, 0, 1), "{f:?}");
    drop(guard);
    let _ = std::panic::take_hook();
}

fn child(dir: &str, sig: libc::c_int) -> ! {
    let _guard = tapelog::Builder::new()
        .dir(dir)
        .filter("debug")
        .overflow(tapelog::Overflow::Block)
        .flight_recorder(recorder())
        .start()
        .unwrap();
    tapelog::install_signal_handlers().unwrap();
    for i in 0..500u64 {
        tapelog::debug!("step {}", i);
    }
    // SAFETY: raising a fatal signal in a child process made to die by it.
    unsafe { libc::raise(sig) };
    std::thread::sleep(std::time::Duration::from_secs(30));
    unreachable!("the signal should have ended the process");
}

/// Runs this test again as a child that keeps 500 records and then dies of `sig`; checks
/// that all 500 were written out, marked, with the signal as the dump's reason.
fn dies_of(test: &str, sig: libc::c_int, reason: &str) {
    if let Ok(dir) = std::env::var(ENV) {
        child(&dir, sig);
    }
    let _s = serial();
    let dir = TempDir::new("flight-signal");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(ENV, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(sig));
    let (recs, dumps) = read_back(dir.path());
    let steps: Vec<u64> = recs.iter().filter(|r| r.format == "step {}").map(|r| r.value).collect();
    assert_eq!(steps, (0..500).collect::<Vec<_>>());
    assert!(recs.iter().filter(|r| r.format == "step {}").all(|r| r.recorded));
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_eq!((dumps[0].count, dumps[0].reason.as_str()), (500, reason));
}

#[test]
fn a_fatal_signal_writes_out_what_the_flight_recorder_keeps() {
    dies_of("a_fatal_signal_writes_out_what_the_flight_recorder_keeps", libc::SIGTERM, "signal 15 (SIGTERM)");
}

#[test]
fn a_segfault_writes_out_what_the_flight_recorder_keeps() {
    dies_of("a_segfault_writes_out_what_the_flight_recorder_keeps", libc::SIGSEGV, "signal 11 (SIGSEGV)");
}
