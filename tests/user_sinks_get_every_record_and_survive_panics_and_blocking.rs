//! Sinks of the program's own (`Builder::sink`): a record sink receives every record with
//! its typed values and fields; a sink that panics is disabled, reported, and the others stay
//! complete; a sink that blocks stalls neither the segments nor the caller, and its drops are
//! counted exactly.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tapelog::text::Value;

#[derive(Debug, Clone, PartialEq)]
struct Got {
    level: String,
    thread: String,
    message: String,
    values: Vec<String>,
    fields: Vec<(String, String)>,
    json: serde_json::Value,
}

struct Typed(Arc<Mutex<Vec<Got>>>);

impl tapelog::Sink for Typed {
    fn record(&mut self, r: &tapelog::Record<'_>) {
        self.0.lock().unwrap().push(Got {
            level: r.level.as_str().into(),
            thread: r.thread.into(),
            message: r.message().into(),
            values: r.values.iter().map(value_string).collect(),
            fields: r.fields().map(|(k, v)| (k.to_string(), value_string(v))).collect(),
            json: serde_json::from_str(&r.to_json()).unwrap(),
        });
    }
}

struct Lines(Arc<Mutex<Vec<String>>>);

impl tapelog::Sink for Lines {
    fn line(&mut self, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
}

struct Panicky(u32);

impl tapelog::Sink for Panicky {
    fn line(&mut self, _: &str) {
        self.0 += 1;
        if self.0 == 100 {
            panic!("the 100th line is too many");
        }
    }
}

/// Blocks on its first record until `go` is set, then counts.
struct Blocking {
    go: Arc<AtomicBool>,
    seen: Arc<Mutex<u64>>,
}

impl tapelog::Sink for Blocking {
    fn record(&mut self, _: &tapelog::Record<'_>) {
        while !self.go.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        *self.seen.lock().unwrap() += 1;
    }
    fn may_block(&self) -> bool {
        true
    }
}

#[test]
fn record_sink_gets_every_record_typed() {
    let _s = serial();
    let dir = TempDir::new("sink-typed");
    let got = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .sink("typed", Typed(got.clone()))
        .sink("lines", Lines(lines.clone()))
        .start()
        .unwrap();
    let n = 10_000u32;
    std::thread::Builder::new()
        .name("oms".into())
        .spawn(move || {
            for i in 0..n {
                tapelog::warn!(order = i as u64, side = "buy"; "fill {} @ {:.2}", i, i as f64 * 0.5);
            }
        })
        .unwrap()
        .join()
        .unwrap();
    tapelog::flush();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), n as usize);
    for (i, g) in got.iter().enumerate() {
        let want_msg = format!("fill {} @ {:.2}", i, i as f64 * 0.5);
        assert_eq!(g.level, "WARN");
        assert_eq!(g.thread, "oms");
        assert_eq!(g.message, want_msg);
        assert_eq!(g.values, vec![i.to_string(), (i as f64 * 0.5).to_string(), i.to_string(), "buy".to_string()]);
        assert_eq!(g.fields, vec![("order".to_string(), i.to_string()), ("side".to_string(), "buy".to_string())]);
        assert_eq!(g.json["msg"], want_msg.as_str());
        assert_eq!(g.json["fields"]["order"], i as u64);
        assert_eq!(g.json["fields"]["side"], "buy");
    }
    // The line sink gets what `tapelog cat` prints.
    let lines = lines.lock().unwrap().clone();
    drop(guard);
    let (code, out, _) = cat_text(dir.path());
    assert_eq!(code, 0);
    assert_eq!(lines, out.lines().map(str::to_string).collect::<Vec<_>>());
    let s = tapelog::stats();
    assert_eq!(
        s.sinks.iter().map(|k| (k.name.as_str(), k.records, k.dropped)).collect::<Vec<_>>(),
        [("typed", n as u64, 0), ("lines", n as u64, 0)]
    );
}

/// `tapelog cat` of a directory through the decoder library: (exit code, text, errors).
fn cat_text(dir: &std::path::Path) -> (i32, String, String) {
    let opts = tapelog_decoder::CatOptions::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let o = tapelog_decoder::cat(&[dir.to_path_buf()], &opts, &mut out, &mut err).unwrap();
    (o.exit_code(), String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn panicking_sink_is_disabled_and_the_others_stay_complete() {
    let _s = serial();
    let dir = TempDir::new("sink-panic");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .sink("panicky", Panicky(0))
        .sink("lines", Lines(lines.clone()))
        .start()
        .unwrap();
    for i in 0..1000u32 {
        tapelog::info!("record {}", i);
    }
    tapelog::flush();
    let h = tapelog::health();
    assert_eq!((h.status, h.sinks_disabled.clone()), (tapelog::HealthStatus::Degraded, vec!["panicky".to_string()]));
    drop(guard);
    let s = tapelog::stats();
    assert_eq!(s.sinks[0].name, "panicky");
    assert_eq!(s.sinks[0].records, 99, "{:?}", s.sinks);
    assert_eq!(s.sinks[0].disabled.as_deref(), Some("the 100th line is too many"));
    assert_eq!(s.sinks[1].disabled, None);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.iter().filter(|l| l.contains(" record ")).count(), 1000);
    // The consumer said so in its own stream.
    let (events, _) = decode_all(&[dir.path().to_path_buf()]);
    let reports: Vec<_> = args_of(&events, "sink {} panicked and is disabled: {}").collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].1, ["panicky", "the 100th line is too many"]);
    assert_eq!(args_of(&events, "record {}").count(), 1000);
}

#[test]
fn blocking_sink_costs_only_its_own_counted_records() {
    let _s = serial();
    let dir = TempDir::new("sink-blocking");
    let go = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(0u64));
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .sink_queue_bytes(64 << 10)
        .sink("blocking", Blocking { go: go.clone(), seen: seen.clone() })
        .start()
        .unwrap();
    let n = 200_000u64;
    for i in 0..n {
        tapelog::info!("blocked sink record {}", i);
    }
    // The segments are complete while the sink is still stuck.
    tapelog::flush();
    let s = tapelog::stats();
    assert_eq!((s.total.logged, s.total.written, s.total.dropped), (n, n, 0));
    assert!(s.sinks[0].dropped > 0, "{:?}", s.sinks);
    go.store(true, Ordering::Relaxed);
    drop(guard);
    let s = tapelog::stats();
    let k = &s.sinks[0];
    assert_eq!(k.records + k.dropped, n, "{k:?}");
    assert_eq!(*seen.lock().unwrap(), k.records);
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    assert_eq!(args_of(&events, "blocked sink record {}").count() as u64, n);
}

fn value_string(v: &Value<'_>) -> String {
    common::value_string(v)
}
