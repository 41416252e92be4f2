//! The rest of "logging from inside the logger": a thread-local's destructor that logs
//! during thread exit, a panic hook that logs while the panicking thread holds a half-written
//! record, logging while the guard drops, and starting, flushing or stopping a logger from
//! inside a sink. None of them hangs, tears a record, or loses count.

mod common;
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tapelog::frontend::args::Arg;
use tapelog::wire::ArgKind;

fn totals_add_up() {
    let t = tapelog::stats().total;
    assert_eq!(t.written + t.dropped, t.logged, "{t:?}");
}

struct LogsOnDrop(u32);

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        tapelog::info!("thread-local dropped {}", self.0);
    }
}

thread_local! {
    static EARLY: LogsOnDrop = const { LogsOnDrop(1) };
}

#[test]
fn a_thread_local_destructor_that_logs_during_thread_exit_is_written_or_counted() {
    let _s = serial();
    let _w = watchdog("thread-local destructor", 60);
    let dir = TempDir::new("tls-exit");
    let before = tapelog::stats().total.dropped_no_logger;
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let handles: Vec<_> = (0..8u32)
        .map(|i| {
            std::thread::spawn(move || {
                // Touched before the first log call: its destructor runs after tapelog's
                // thread-locals are gone (destructors run in reverse order of registration).
                EARLY.with(|_| {});
                tapelog::info!("worker {}", i);
                // Touched after: its destructor runs while tapelog's are still there.
                thread_local!(static LATE: LogsOnDrop = const { LogsOnDrop(2) });
                LATE.with(|_| {});
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    drop(guard);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(args_of(&events, "worker {}").count(), 8);
    let written = args_of(&events, "thread-local dropped {}").count() as u64;
    let late = tapelog::stats().total.dropped_no_logger - before;
    assert_eq!(written + late, 16, "each destructor's record is written or counted");
    assert!(args_of(&events, "thread-local dropped {}").filter(|(_, a)| a[0] == "2").count() == 8);
    totals_add_up();
}

/// An argument whose encoding panics (an `Arg` impl of the program's with a bug): the panic
/// comes while the call holds a reserved, half-written record.
struct Bomb;

impl std::fmt::Display for Bomb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bomb")
    }
}

impl Arg for Bomb {
    const KIND: ArgKind = ArgKind::U32;
    const STATIC_LEN: Option<usize> = Some(4);
    fn encoded_len(&self) -> usize {
        4
    }
    unsafe fn encode(&self, _dst: *mut u8) -> *mut u8 {
        panic!("bomb went off mid-record")
    }
}

#[test]
fn a_panic_hook_that_logs_mid_record_neither_tears_nor_wedges_the_thread() {
    let _s = serial();
    let _w = watchdog("panic mid-record", 60);
    let dir = TempDir::new("panic-mid-record");
    let before = tapelog::stats().total.dropped_reentrant;
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let hook_calls = Arc::new(AtomicU64::new(0));
    let hc = hook_calls.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |_| {
        hc.fetch_add(1, Ordering::Relaxed);
        tapelog::error!("panic hook saw a panic");
        tapelog::flush();
    }));
    let t = std::thread::spawn(|| {
        tapelog::info!("before {}", 1u32);
        let r = std::panic::catch_unwind(|| tapelog::info!("never {}", Bomb));
        assert!(r.is_err());
        // The thread logs on as before.
        for i in 0..1000u32 {
            tapelog::info!("after {}", i);
        }
    });
    t.join().unwrap();
    std::panic::set_hook(previous);
    drop(guard);
    assert_eq!(hook_calls.load(Ordering::Relaxed), 1);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(args_of(&events, "before {}").count(), 1);
    assert_eq!(args_of(&events, "never {}").count(), 0, "the torn record never reaches the ring");
    assert_eq!(args_of(&events, "after {}").count(), 1000, "the thread is not left marked busy");
    // The hook's call interrupted the half-written one: dropped and counted, not interleaved.
    assert_eq!(args_of(&events, "panic hook saw a panic").count(), 0);
    assert_eq!(tapelog::stats().total.dropped_reentrant - before, 1);
    for (p, _) in tapelog::list_segments(dir.path()) {
        assert_eq!(tapelog_decoder::check::check_file(&p).damaged, 0);
    }
    totals_add_up();
}

/// Logs in `close()`, which shutdown calls after the last record.
struct LogsOnClose;

impl tapelog::Sink for LogsOnClose {
    fn close(&mut self) {
        tapelog::info!("sink closing");
    }
}

#[test]
fn logging_while_the_guard_drops_never_hangs() {
    let _s = serial();
    let _w = watchdog("logging during guard drop", 60);
    let dir = TempDir::new("guard-drop-logging");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Block)
        .ring_capacity(4096)
        .sink("closer", LogsOnClose)
        .start()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let chatter = std::thread::spawn(move || {
        let mut n = 0u64;
        while !st.load(Ordering::Relaxed) {
            tapelog::info!("chatter {}", n);
            n += 1;
        }
        n
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(guard);
    stop.store(true, Ordering::Relaxed);
    let n = chatter.join().unwrap();
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let chatter: Vec<u64> = args_of(&events, "chatter {}").map(|(_, a)| a[0].parse().unwrap()).collect();
    assert_eq!(chatter, (0..chatter.len() as u64).collect::<Vec<_>>(), "a gap-free prefix");
    assert!(chatter.len() as u64 <= n);
    totals_add_up();
}

/// Tries to start a logger, flush, and finally stop the running one, from inside `line()`.
struct Meddler {
    start: Arc<Mutex<Option<String>>>,
    guard: Arc<Mutex<Option<tapelog::Guard>>>,
    dir: std::path::PathBuf,
    blocks: bool,
}

impl tapelog::Sink for Meddler {
    fn line(&mut self, line: &str) {
        if line.contains("start one") {
            let r = tapelog::Builder::new().dir(&self.dir).start();
            *self.start.lock().unwrap() = Some(r.map(|_| ()).unwrap_err().to_string());
            tapelog::flush();
        }
        if line.contains("stop now") {
            drop(self.guard.lock().unwrap().take());
        }
    }
    fn may_block(&self) -> bool {
        self.blocks
    }
}

#[test]
fn starting_flushing_or_stopping_a_logger_inside_a_sink_is_an_error_or_done_not_a_deadlock() {
    for blocks in [false, true] {
        let _s = serial();
        let _w = watchdog("start or stop inside a sink", 60);
        let dir = TempDir::new("meddler");
        let (start, slot) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
        let m = Meddler { start: start.clone(), guard: slot.clone(), dir: dir.path().join("other"), blocks };
        let guard = tapelog::Builder::new().dir(dir.path()).sink("meddler", m).start().unwrap();
        *slot.lock().unwrap() = Some(guard);
        tapelog::info!("start one");
        tapelog::flush();
        let t = std::time::Instant::now();
        while start.lock().unwrap().is_none() && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let err = start.lock().unwrap().clone().expect("the sink tried to start a logger");
        assert!(err.contains("tapelog's own threads"), "{err}");
        for i in 0..100u32 {
            tapelog::info!("record {}", i);
        }
        tapelog::info!("stop now");
        // The sink dropped the guard: the logger stops on its own, having written everything.
        let t = std::time::Instant::now();
        while tapelog::stats().running && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!tapelog::stats().running);
        let t = std::time::Instant::now();
        while !tapelog::stats().threads.iter().all(|t| t.pending() == 0)
            && t.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Wait for the consumer's final segment (the guard's drop did not wait for it).
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (events, diags) = decode(&[dir.path().to_path_buf()]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(args_of(&events, "record {}").count(), 100, "sink thread {blocks}");
        assert!(!dir.path().join("other").exists(), "no second logger was started");
        totals_add_up();
    }
}
