//! A flight recorder keeps DEBUG records in memory and writes none of them until an ERROR
//! record: then exactly the window before it is written, in order, marked as recorded
//! (RECORDED entries) and announced by one DUMP entry; INFO and WARN records are written as
//! always; evicted records never reach the segments; `dump_flight_recorder` writes out what
//! is still kept; and the counters add up.

mod common;
use common::*;

use std::collections::HashMap;

use tapelog::wire::reader::Entry;
use tapelog::wire::record::static_args_len;
use tapelog::wire::{unwrap_ticks, EntryReader, Layout, Records};
use tapelog::{FlightRecorder, Window};

/// Records logged at DEBUG.
const N: u64 = 200_000;
/// The DEBUG record the ERROR record follows.
const ERROR_AT: u64 = 150_000;
/// Records in the byte window before the error.
const WINDOW: u64 = 1_000;
/// A `debug!("dbg {}", u64)` record: header and one u64.
const DBG_LEN: usize = 10 + 8;
const BOUND: usize = 1 << 20;

/// One record read back from the segments.
#[derive(Debug, Clone)]
struct Rec {
    format: String,
    /// The first argument, if it is a u64.
    value: u64,
    ticks: u64,
    recorded: bool,
}

/// One DUMP entry.
#[derive(Debug, Clone)]
struct Dump {
    count: u64,
    first: u64,
    last: u64,
    trigger: u64,
    reason: String,
}

/// Every record and DUMP entry of the segments in `dir`, in file order.
fn read_back(dir: &std::path::Path) -> (Vec<Rec>, Vec<Dump>) {
    let (mut recs, mut dumps) = (Vec::new(), Vec::new());
    for (path, _) in tapelog::list_segments(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let mut r = EntryReader::open(&bytes[..]).unwrap();
        // By call-site id: format, argument kinds.
        let mut sites: HashMap<u32, (String, Vec<u8>)> = HashMap::new();
        while let Some((_, e)) = r.next_entry().unwrap() {
            let (head, payload, recorded) = match e {
                Entry::Callsite(cs) => {
                    sites.insert(cs.id, (cs.format.to_string(), cs.kinds.to_vec()));
                    continue;
                }
                Entry::Dump(d) => {
                    dumps.push(Dump {
                        count: d.count,
                        first: d.first_ticks,
                        last: d.last_ticks,
                        trigger: d.trigger_ticks,
                        reason: d.reason.to_string(),
                    });
                    continue;
                }
                Entry::Batch(h, p) => (h, p, false),
                Entry::Recorded(h, p) => (h, p, true),
                _ => continue,
            };
            let lookup = |id: u32| sites.get(&id).map(|(_, k)| Layout::of(k, static_args_len(k)));
            for rec in Records::new(payload, lookup) {
                let rec = rec.expect("records take apart");
                if rec.drops.is_some() {
                    continue;
                }
                let (format, kinds) = &sites[&rec.id];
                let at = rec.at;
                let mut t = [0u8; 8];
                t[..6].copy_from_slice(&payload[at + 4..at + 10]);
                let value = if kinds.first() == Some(&tapelog::wire::ArgKind::U64.0) {
                    u64::from_le_bytes(payload[rec.args_at()..rec.args_at() + 8].try_into().unwrap())
                } else {
                    u64::MAX
                };
                recs.push(Rec {
                    format: format.clone(),
                    value,
                    ticks: unwrap_ticks(u64::from_le_bytes(t), head.base_ticks),
                    recorded,
                });
            }
        }
    }
    (recs, dumps)
}

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
