//! A thread logs in a tight loop while another sends it SIGUSR1 10,000 times; the handler
//! logs one record on the interrupted thread. The nested call must never interleave with the
//! half-written record it interrupted: `tapelog check` finds no damage, every record decodes
//! in order, and the counters add up (the nested calls that found the thread busy are
//! dropped and counted).

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    let n = HANDLED.fetch_add(1, Ordering::Relaxed);
    tapelog::warn!("handler {}", n);
}

#[test]
fn a_signal_handler_that_logs_never_corrupts_the_ring() {
    let _s = serial();
    let _w = watchdog("signal handler test", 120);
    let dir = TempDir::new("signal-reentry");
    let before = tapelog::stats().total;
    let signals: u64 = if cfg!(miri) { 100 } else { 3_000 };
    // SAFETY: installs a handler that only logs (plain arguments, async-signal-safe path).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Drop)
        .segment_size(8 << 20)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let st = stop.clone();
    let logger = std::thread::Builder::new()
        .name("looper".into())
        .spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() } as u64).unwrap();
            let mut i = 0u64;
            while !st.load(Ordering::Relaxed) {
                tapelog::info!("loop {} {} {}", i, i as u32, i as f64 * 0.5);
                i += 1;
            }
            i
        })
        .unwrap();
    let target = rx.recv().unwrap() as libc::pthread_t;
    for _ in 0..signals {
        let seen = HANDLED.load(Ordering::Relaxed);
        // SAFETY: the thread is alive until `stop` is set below.
        assert_eq!(unsafe { libc::pthread_kill(target, libc::SIGUSR1) }, 0);
        // One at a time (a pending signal absorbs more of its kind): wait until it ran.
        let t = std::time::Instant::now();
        while HANDLED.load(Ordering::Relaxed) == seen && t.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
    }
    // Let the last signals land before the loop ends.
    std::thread::sleep(std::time::Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let looped = logger.join().unwrap();
    drop(guard);

    let segs: Vec<_> = tapelog::list_segments(dir.path()).into_iter().map(|(p, _)| p).collect();
    assert!(!segs.is_empty());
    for p in &segs {
        let r = tapelog_decoder::check::check_file(p);
        assert_eq!(r.damaged, 0, "{}: {}", p.display(), r.line());
        assert_eq!(tapelog_decoder::check::exit_code(std::slice::from_ref(&r)), 0, "{}", r.line());
    }
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let loops: Vec<u64> = args_of(&events, "loop {} {} {}")
        .map(|(_, a)| {
            let i: u64 = a[0].parse().unwrap();
            assert_eq!(a[1], (i as u32).to_string());
            assert_eq!(a[2], (i as f64 * 0.5).to_string());
            i
        })
        .collect();
    assert!(loops.windows(2).all(|w| w[0] < w[1]), "loop records in order");
    let handled = HANDLED.load(Ordering::Relaxed);
    let handler_records = args_of(&events, "handler {}").count() as u64;
    assert!(handled >= signals / 2, "the handler ran {handled} times for {signals} signals");
    assert!(handler_records > 0, "some of the handler's records landed");

    let s = tapelog::stats();
    let t = &s.total;
    assert_eq!(t.written + t.dropped, t.logged, "{t:?}");
    let looper = s.threads.iter().find(|t| t.name == "looper").unwrap();
    assert_eq!(looper.written, loops.len() as u64 + handler_records, "{looper:?}");
    // Every call on the thread, the handler's included, is written, dropped with the ring
    // full, or dropped as re-entrant.
    let reentrant = t.dropped_reentrant - before.dropped_reentrant;
    assert_eq!(looper.logged + reentrant, looped + handled, "{looper:?}, {reentrant} re-entrant");
    assert_eq!(looper.written + looper.dropped, looper.logged, "{looper:?}");
    eprintln!("{handled} signals handled: {handler_records} records written, {reentrant} dropped as re-entrant");
}
