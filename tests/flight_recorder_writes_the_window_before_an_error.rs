//! A flight recorder keeps DEBUG records in memory and writes none of them until an ERROR
//! record: then exactly the window before it is written, in order, marked as recorded
//! (RECORDED entries) and announced by one DUMP entry; INFO and WARN records are written as
//! always; evicted records never reach the segments; `dump_flight_recorder` writes out what
//! is still kept; and the counters add up.

mod common;
#[path = "common/recorded.rs"]
mod recorded;
use common::*;
use recorded::{read_back, Rec};

use tapelog::{FlightRecorder, Window};

/// Records logged at DEBUG.
const N: u64 = 1_000_000;
/// The DEBUG record the ERROR record follows.
const ERROR_AT: u64 = 750_000;
/// Records in the byte window before the error.
const WINDOW: u64 = 1_000;
/// A `debug!("dbg {}", u64)` record: header and one u64.
const DBG_LEN: usize = 10 + 8;
const BOUND: usize = 1 << 20;

#[test]
fn flight_recorder_writes_the_window_before_an_error() {
    let _s = serial();
    let dir = TempDir::new("flight-window");
    let fr = FlightRecorder::new()
        .max_bytes(BOUND)
        .window_before(Window::Bytes(WINDOW as usize * (DBG_LEN + FlightRecorder::RECORD_OVERHEAD)));
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .filter("trace")
        .overflow(tapelog::Overflow::Block)
        .flight_recorder(fr)
        .start()
        .unwrap();
    let (mut infos, mut warns) = (Vec::new(), Vec::new());
    for i in 0..N {
        if i == ERROR_AT {
            tapelog::error!("boom {}", i);
            // The trigger is served at the end of the pass that drains it; flushing here
            // keeps the records logged after it out of that pass, so none of the window
            // is evicted by them before it is written.
            tapelog::flush();
        }
        tapelog::debug!("dbg {}", i);
        if i % 1000 == 7 {
            tapelog::info!("info {}", i);
            infos.push(i);
        }
        if i % 5000 == 11 {
            tapelog::warn!("warn {}", i);
            warns.push(i);
        }
    }
    tapelog::flush();
    let st = tapelog::stats();
    let f = st.flight_recorder.clone().expect("flight recorder stats");
    assert_eq!(st.total.dropped, 0, "{st:?}");
    assert_eq!(st.total.written + st.total.kept, st.total.logged, "{:?}", st.total);
    assert_eq!(f.kept, N, "every DEBUG record is kept: {f:?}");
    assert_eq!(st.total.kept, f.kept);
    assert_eq!(f.dumped, WINDOW, "{f:?}");
    assert_eq!(f.kept, f.dumped + f.evicted + f.held, "{f:?}");
    assert!(f.evicted > 0, "1 MiB cannot hold 200,000 records: {f:?}");
    assert!(f.max_held_bytes <= BOUND as u64, "{f:?}");
    assert_eq!(f.held_bytes, f.held * (DBG_LEN + FlightRecorder::RECORD_OVERHEAD) as u64, "{f:?}");
    // What is still kept: the newest records, as many as fit.
    let still_held = f.held;
    assert_eq!(still_held, (BOUND / (DBG_LEN + FlightRecorder::RECORD_OVERHEAD)) as u64, "{f:?}");

    tapelog::dump_flight_recorder("manual check");
    let st = tapelog::stats();
    let f2 = st.flight_recorder.clone().unwrap();
    assert_eq!(f2.dumped, WINDOW + still_held, "{f2:?}");
    assert_eq!(f2.held, 0, "{f2:?}");
    assert_eq!(f2.dumps, 2, "the error's window is closed by the manual dump at the latest: {f2:?}");
    drop(guard);
    let f3 = tapelog::stats().flight_recorder.unwrap();
    assert_eq!(f3.kept, f3.dumped + f3.evicted + f3.held, "{f3:?}");
    assert_eq!((f3.held, f3.dumped, f3.dumps), (0, WINDOW + still_held, 2), "{f3:?}");

    let (recs, dumps) = read_back(dir.path());
    // Written as always: every INFO and WARN record and the ERROR record, none marked.
    let values = |fmt: &str| -> Vec<u64> { recs.iter().filter(|r| r.format == fmt).map(|r| r.value).collect() };
    assert_eq!(values("info {}"), infos);
    assert_eq!(values("warn {}"), warns);
    assert_eq!(values("boom {}"), vec![ERROR_AT]);
    assert!(recs.iter().filter(|r| r.format != "dbg {}").all(|r| !r.recorded));
    // DEBUG records only as recorded ones: the window before the error, then what the
    // manual dump found, each in order, and nothing else.
    let dbg: Vec<&Rec> = recs.iter().filter(|r| r.format == "dbg {}").collect();
    assert!(dbg.iter().all(|r| r.recorded));
    let got: Vec<u64> = dbg.iter().map(|r| r.value).collect();
    let want: Vec<u64> = (ERROR_AT - WINDOW..ERROR_AT).chain(N - still_held..N).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "first difference at {:?}", got.iter().zip(&want).position(|(a, b)| a != b));
    let error_ticks = recs.iter().find(|r| r.format == "boom {}").unwrap().ticks;
    assert!(dbg[..WINDOW as usize].iter().all(|r| r.ticks <= error_ticks));
    assert!(dbg.windows(2).all(|w| w[0].ticks <= w[1].ticks));

    assert_eq!(dumps.len(), 2, "{dumps:?}");
    let (w, m) = (&dumps[0], &dumps[1]);
    assert_eq!((w.count, w.reason.as_str(), w.trigger), (WINDOW, "ERROR record", error_ticks), "{w:?}");
    assert_eq!((w.first, w.last), (dbg[0].ticks, dbg[WINDOW as usize - 1].ticks), "{w:?}");
    assert_eq!((m.count, m.reason.as_str()), (still_held, "manual check"), "{m:?}");
    assert_eq!((m.first, m.last), (dbg[WINDOW as usize].ticks, dbg.last().unwrap().ticks), "{m:?}");
}

/// With `window_after`, the kept records of that long after the error are written out too,
/// and the dump's line counts both sides. Timing only decides records far from the window's
/// end: those logged well inside it must be written, those well past it must not.
#[test]
fn the_window_after_an_error_is_written_too() {
    use std::time::{Duration, Instant};
    let _s = serial();
    let dir = TempDir::new("flight-after");
    let before = 20u64;
    let fr = FlightRecorder::new()
        .window_before(Window::Bytes(before as usize * (DBG_LEN + FlightRecorder::RECORD_OVERHEAD)))
        .window_after(Duration::from_millis(200));
    let guard = tapelog::Builder::new().dir(dir.path()).filter("debug").flight_recorder(fr).start().unwrap();
    for i in 0..100u64 {
        tapelog::debug!("dbg {}", i);
    }
    let t0 = Instant::now();
    tapelog::error!("boom {}", 0u64);
    let t1 = Instant::now();
    // (index, earliest and latest it can have been stamped, relative to the error's call)
    let mut after = Vec::new();
    let mut i = 0u64;
    while t0.elapsed() < Duration::from_millis(450) {
        let a = Instant::now();
        tapelog::debug!("after {}", i);
        let b = Instant::now();
        after.push((i, a.saturating_duration_since(t1), b - t0));
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    tapelog::flush();
    drop(guard);
    let f = tapelog::stats().flight_recorder.unwrap();
    let (recs, dumps) = read_back(dir.path());
    let dumped_after: Vec<u64> = recs.iter().filter(|r| r.format == "after {}").map(|r| r.value).collect();
    assert!(recs.iter().filter(|r| r.format == "after {}" || r.format == "dbg {}").all(|r| r.recorded));
    let sure_in: Vec<u64> = after.iter().filter(|a| a.2 <= Duration::from_millis(150)).map(|a| a.0).collect();
    let sure_out: Vec<u64> = after.iter().filter(|a| a.1 >= Duration::from_millis(250)).map(|a| a.0).collect();
    assert!(!sure_in.is_empty() && !sure_out.is_empty(), "{after:?}");
    // A prefix of the records after the error: all that were surely inside, none surely out.
    assert_eq!(dumped_after, (0..dumped_after.len() as u64).collect::<Vec<_>>());
    assert!(sure_in.iter().all(|i| dumped_after.contains(i)), "{dumped_after:?} lacks some of {sure_in:?}");
    assert!(sure_out.iter().all(|i| !dumped_after.contains(i)), "{dumped_after:?} has some of {sure_out:?}");
    let dbg: Vec<u64> = recs.iter().filter(|r| r.format == "dbg {}").map(|r| r.value).collect();
    assert_eq!(dbg, (100 - before..100).collect::<Vec<_>>());
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_eq!((dumps[0].count, dumps[0].reason.as_str()), (before + dumped_after.len() as u64, "ERROR record"));
    assert_eq!((f.dumped, f.dumps), (before + dumped_after.len() as u64, 1), "{f:?}");
    assert_eq!(f.kept, f.dumped + f.evicted, "nothing is held after shutdown: {f:?}");
}

mod book {
    pub fn step(i: u64) {
        tapelog::debug!("book {}", i);
    }
}

/// A routed segment output whose route takes a kept record gets it when a dump writes it
/// out, marked as recorded there too; one whose route does not take it gets nothing.
#[test]
fn routed_outputs_get_the_dumped_records_their_route_takes() {
    use tapelog::{Output, Route};
    let _s = serial();
    let dir = TempDir::new("flight-routed");
    let p = dir.path();
    let target = format!("{}::book", module_path!());
    let guard = tapelog::Builder::new()
        .dir(p.join("main"))
        .filter("debug")
        .overflow(tapelog::Overflow::Block)
        .output(Output::segments("book", p.join("book")).route(Route::target(&target)))
        .output(Output::segments("other", p.join("other")).route(Route::target("elsewhere")))
        .flight_recorder(FlightRecorder::new().trigger(None))
        .start()
        .unwrap();
    for i in 0..50 {
        book::step(i);
    }
    tapelog::flush();
    let (recs, _) = read_back(&p.join("book"));
    assert!(recs.is_empty(), "kept, not written: {recs:?}");
    tapelog::dump_flight_recorder("look");
    drop(guard);
    for out in ["main", "book"] {
        let (recs, _) = read_back(&p.join(out));
        let got: Vec<u64> = recs.iter().filter(|r| r.format == "book {}").map(|r| r.value).collect();
        assert_eq!(got, (0..50).collect::<Vec<_>>(), "{out}");
        assert!(recs.iter().all(|r| r.recorded), "{out}");
    }
    let (recs, _) = read_back(&p.join("other"));
    assert!(recs.is_empty(), "{recs:?}");
}
