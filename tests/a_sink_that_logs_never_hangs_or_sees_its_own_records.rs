//! Logging from inside a sink (directly, or through the `log` bridge as a library would),
//! on the consumer thread and on the sink's own thread, in every overflow policy, with a
//! 4 KiB ring and with the default one: the program finishes; every record of the program's
//! is in the segments; the sink's own records are there too or counted as dropped; the sink
//! never gets its own records back, and the other sinks do get them.

mod common;
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tapelog::Overflow;

const APP: &str = "app record {}";
const SAW: &str = "sink saw {} lines";

/// How a sink logs.
#[derive(Clone, Copy, Debug)]
enum Via {
    Macro,
    LogBridge,
}

/// Logs one record per line it gets, and counts lines that are its own records.
struct Chatty {
    via: Via,
    blocks: bool,
    /// Its log calls.
    calls: Arc<AtomicU64>,
    /// Lines it got that it logged itself (must stay 0).
    own_seen: Arc<AtomicU64>,
    /// Lines it got.
    lines: Arc<AtomicU64>,
}

impl tapelog::Sink for Chatty {
    fn line(&mut self, line: &str) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        if line.contains("sink saw") {
            self.own_seen.fetch_add(1, Ordering::Relaxed);
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        match self.via {
            Via::Macro => tapelog::info!("sink saw {} lines", n),
            Via::LogBridge => log::info!("sink saw {} lines", n),
        }
    }
    fn may_block(&self) -> bool {
        self.blocks
    }
}

/// Counts what it gets, by kind.
struct Witness {
    app: Arc<AtomicU64>,
    chatty: Arc<AtomicU64>,
}

impl tapelog::Sink for Witness {
    fn line(&mut self, line: &str) {
        if line.contains("sink saw") {
            self.chatty.fetch_add(1, Ordering::Relaxed);
        } else if line.contains("app record") {
            self.app.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn run(overflow: Overflow, ring: usize, records: u64, blocks: bool, via: Via) {
    let what = format!("{overflow:?} ring {ring} sink-thread {blocks} via {via:?}");
    let _s = serial();
    let _w = watchdog("a sink that logs", 120);
    let dir = TempDir::new("sink-logs");
    let no_logger_before = tapelog::stats().total.dropped_no_logger;
    let (calls, own_seen, lines) = (Arc::default(), Arc::<AtomicU64>::default(), Arc::<AtomicU64>::default());
    let (w_app, w_chatty) = (Arc::<AtomicU64>::default(), Arc::<AtomicU64>::default());
    let chatty = Chatty { via, blocks, calls: Arc::clone(&calls), own_seen: own_seen.clone(), lines: lines.clone() };
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(ring)
        .overflow(overflow)
        .sink("chatty", chatty)
        .sink("witness", Witness { app: w_app.clone(), chatty: w_chatty.clone() })
        .start()
        .unwrap();
    if matches!(via, Via::LogBridge) {
        let _ = tapelog::log_bridge::init();
    }
    for i in 0..records {
        tapelog::info!("app record {}", i);
    }
    // The sink's stream exists once its first call attached; a sink thread that was not
    // scheduled before the shutdown would make its first call without a logger (counted as
    // `late` below) and never be in stats: let it start first, so the checks below are the
    // ones of a sink that logs while the logger runs.
    let sink_thread = if blocks { "tapelog-sink-chatty" } else { "tapelog-consumer" };
    let t0 = std::time::Instant::now();
    while !tapelog::stats().threads.iter().any(|t| t.name == sink_thread && t.logged > 0) {
        assert!(t0.elapsed().as_secs() < 60, "{what}: the sink never logged");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(guard);
    let st = tapelog::stats();
    let calls = calls.load(Ordering::Relaxed);

    assert_eq!(own_seen.load(Ordering::Relaxed), 0, "{what}: the sink got its own records back");
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{what}: {diags:?}");
    // Every record of the program's, once, in order (Block mode and no loss on the app
    // thread in Drop mode either: count what was dropped there).
    let app: Vec<u64> = args_of(&events, APP).map(|(_, a)| a[0].parse().unwrap()).collect();
    // The program's thread: the one that is not the logger's (`tapelog-consumer`, registered
    // first, can log as many calls as there are records).
    let app_thread = st.threads.iter().find(|t| !t.name.starts_with("tapelog-")).unwrap();
    if overflow == Overflow::Block {
        assert_eq!(app, (0..records).collect::<Vec<_>>(), "{what}: every record of the program's");
    } else {
        assert_eq!(app.len() as u64 + app_thread.dropped, records, "{what}");
        assert!(app.windows(2).all(|w| w[0] < w[1]), "{what}: in order");
    }
    // The sink's own records: written or counted as dropped, exactly.
    // Through the `log` bridge the message arrives formatted, as one string argument.
    let saw = events
        .iter()
        .filter(|e| match e {
            Owned::Record { format, args, .. } => {
                format == SAW || args.first().is_some_and(|a| a.starts_with("sink saw"))
            }
            _ => false,
        })
        .count() as u64;
    let own = st.threads.iter().find(|t| t.name == sink_thread).expect("the sink's stream is in stats");
    // Calls made once shutdown has begun count as made without a logger (as on any thread).
    let late = st.total.dropped_no_logger - no_logger_before;
    assert_eq!(own.logged + late, calls, "{what}: every call of the sink's is counted");
    assert_eq!(own.written, saw, "{what}: written means in the segments");
    assert_eq!(own.written + own.dropped, own.logged, "{what}: {own:?}");
    assert!(saw > 0, "{what}: the sink's records reach the segments");
    assert_eq!(st.total.written + st.total.dropped, st.total.logged, "{what}: {:?}", st.total);
    // The sink was handed every record but its own; the other sink got those too.
    let chatty = st.sinks.iter().find(|s| s.name == "chatty").unwrap();
    assert_eq!(chatty.own, saw, "{what}: {chatty:?}");
    assert_eq!(chatty.records, lines.load(Ordering::Relaxed), "{what}: every record handed over was seen");
    let witness = st.sinks.iter().find(|s| s.name == "witness").unwrap();
    assert_eq!(w_app.load(Ordering::Relaxed), app.len() as u64, "{what}: {witness:?}");
    assert_eq!(w_chatty.load(Ordering::Relaxed), saw, "{what}: the other sink gets the sink's records");
}

const SMALL: usize = 4 << 10;
const DEFAULT: usize = 1 << 20;

#[test]
fn block_mode_sink_on_the_consumer_logs_without_hanging() {
    run(Overflow::Block, SMALL, 50_000, false, Via::Macro);
    run(Overflow::Block, DEFAULT, 300_000, false, Via::Macro);
}

#[test]
fn block_mode_sink_on_its_own_thread_logs_without_hanging() {
    run(Overflow::Block, SMALL, 50_000, true, Via::Macro);
    run(Overflow::Block, DEFAULT, 300_000, true, Via::Macro);
}

#[test]
fn drop_mode_sink_that_logs_counts_what_it_drops() {
    run(Overflow::Drop, SMALL, 50_000, false, Via::Macro);
    run(Overflow::Drop, DEFAULT, 300_000, true, Via::Macro);
}

#[test]
fn a_sink_whose_library_logs_through_the_log_bridge_does_not_hang() {
    run(Overflow::Block, SMALL, 50_000, false, Via::LogBridge);
    run(Overflow::Block, DEFAULT, 300_000, true, Via::LogBridge);
}
