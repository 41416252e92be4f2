//! Rings are faulted in when they are made, so a thread that called `preallocate()` logs
//! through a whole big ring without one page fault; and every ring together stays within
//! `max_ring_memory`, with 2,000 live threads, every call accounted for; a thread refused a
//! ring gets one once an exited thread's ring returns to the budget; big rings get huge
//! pages when advised (`Builder::huge_pages`) and none when not.

mod common;

#[path = "common/huge_pages.rs"]
mod huge_pages;
use common::*;
use huge_pages::anon_huge;

use std::sync::{Arc, Barrier};

/// Minor page faults of the calling thread so far.
fn thread_minor_faults() -> i64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, u.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialized by the successful call above.
    unsafe { u.assume_init() }.ru_minflt
}

/// Resident memory of the process, in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn after_preallocate_a_whole_16_mib_ring_is_written_without_a_page_fault() {
    let _s = serial();
    let dir = TempDir::new("prefault");
    let ring = 16 << 20;
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(ring)
        .segment_size(64 << 20)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .start()
        .unwrap();
    // The consumer takes nothing: the ring fills once, every page of it written by calls.
    tapelog::__private::pause_consumer(true);
    assert_eq!(tapelog::preallocate(), Some(ring));
    // Each call site registers on its first call (once per process): take that out first.
    tapelog::info!("prefault {} {} {}", 0u32, 0u64, 0.0f64);
    let calls = (ring - 64) / 32; // 32-byte records: fills the ring but for its last bytes
    let before = thread_minor_faults();
    for i in 1..calls as u64 {
        tapelog::info!("prefault {} {} {}", i as u32, i, i as f64);
    }
    let faults = thread_minor_faults() - before;
    tapelog::__private::pause_consumer(false);
    assert_eq!(faults, 0, "{calls} calls through a preallocated {ring}-byte ring took page faults");
    drop(guard);
    let s = tapelog::stats();
    let me = s.threads.iter().find(|t| t.logged > 0).expect("this thread's stats");
    assert_eq!((me.written, me.dropped), (calls as u64, 0), "{s:?}");
}

#[test]
fn two_thousand_live_threads_stay_within_the_ring_memory_budget() {
    let _s = serial();
    let _w = watchdog("2,000 threads", 300);
    let dir = TempDir::new("budget");
    let budget = 64usize << 20;
    let threads = 2000;
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(1 << 20)
        .max_ring_memory(budget)
        .no_capacity_warning()
        .start()
        .unwrap();
    let before = tapelog::stats().total;
    let rss_before = resident();
    let all_logged = Arc::new(Barrier::new(threads + 1));
    let may_exit = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (all_logged, may_exit) = (all_logged.clone(), may_exit.clone());
            std::thread::Builder::new()
                .name(format!("w{t}"))
                .stack_size(64 << 10)
                .spawn(move || {
                    tapelog::info!("thread {} logs once", t as u32);
                    all_logged.wait();
                    may_exit.wait();
                })
                .unwrap()
        })
        .collect();
    all_logged.wait();
    // Every thread is alive and has logged once: its ring (if it got one) is held.
    let live = tapelog::stats();
    let rss_live = resident();
    may_exit.wait();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(live.total.ring_memory_limit as usize, budget);
    assert!(live.total.ring_memory as usize <= budget, "{} > {budget}", live.total.ring_memory);
    // The budget is what is resident: 2,000 faulted-in 1 MiB rings would be 2 GB. The slack
    // is for the threads' own stacks and bookkeeping.
    let grown = rss_live.saturating_sub(rss_before);
    assert!(grown < (budget as u64) + (96 << 20), "resident memory grew by {grown} bytes");
    assert!(live.total.rings_shrunk > 0 && live.total.rings_refused > 0, "{:?}", live.total);
    drop(guard);
    // Rings of exited threads return to the budget once the consumer freed them.
    let s = tapelog::stats();
    assert!(s.total.ring_memory < live.total.ring_memory, "{:?}", s.total);
    let t = &s.total;
    // The process-wide counters (no logger, no ring) count from before this test.
    let no_ring = t.dropped_no_ring - before.dropped_no_ring;
    let no_logger = t.dropped_no_logger - before.dropped_no_logger;
    assert_eq!(t.logged - before.logged, threads as u64, "{t:?}");
    assert_eq!(t.written + t.dropped, t.logged, "{t:?}");
    assert_eq!(t.dropped - before.dropped, no_ring + no_logger, "{t:?}");
    assert!(no_ring > 0 && no_logger == 0, "{t:?}");
    // What was written is in the segments, and the log says why the rest is not.
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(args_of(&events, "thread {} logs once").count() as u64, t.written);
    let texts: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    assert!(texts.iter().any(|e| e.contains("more threads got no ring")), "no refusal warning");
    assert!(texts.iter().any(|e| e.contains("instead of")), "no shrunk-ring warning");
}

#[test]
fn a_thread_refused_a_ring_gets_one_when_an_exited_threads_ring_is_freed() {
    let _s = serial();
    let _w = watchdog("refused then admitted", 120);
    let dir = TempDir::new("budget-retry");
    let ring = 64usize << 10;
    // Rings of the tests before this one go back to the budget as their threads finish:
    // wait for that, then leave room for exactly one more 64 KiB ring.
    let t0 = std::time::Instant::now();
    while tapelog::stats().total.ring_memory != 0 && t0.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let held = tapelog::stats().total.ring_memory as usize;
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(ring)
        .max_ring_memory(held + ring)
        .no_capacity_warning()
        .start()
        .unwrap();
    let before = tapelog::stats().total;
    let (a_logged, a_logged_rx) = std::sync::mpsc::channel::<()>();
    let (a_exit, a_exit_rx) = std::sync::mpsc::channel::<()>();
    let a = std::thread::spawn(move || {
        assert_eq!(tapelog::preallocate(), Some(ring), "the one ring that fits");
        tapelog::info!("holder logs {}", 1u32);
        a_logged.send(()).unwrap();
        a_exit_rx.recv().unwrap();
    });
    a_logged_rx.recv().unwrap();
    let (b_go, b_go_rx) = std::sync::mpsc::channel::<()>();
    let (b_refused, b_refused_rx) = std::sync::mpsc::channel::<()>();
    let (b_done, b_done_rx) = std::sync::mpsc::channel::<Option<usize>>();
    let b = std::thread::spawn(move || {
        assert_eq!(tapelog::preallocate(), None, "no room while the holder lives");
        tapelog::info!("waiter logs {}", 1u32); // dropped and counted
        b_refused.send(()).unwrap();
        b_go_rx.recv().unwrap();
        let got = tapelog::preallocate();
        tapelog::info!("waiter logs {}", 2u32);
        b_done.send(got).unwrap();
    });
    b_refused_rx.recv().unwrap();
    // The holder exits; the consumer drains and frees its ring, which returns to the budget.
    a_exit.send(()).unwrap();
    a.join().unwrap();
    let t0 = std::time::Instant::now();
    while tapelog::stats().total.ring_memory as usize > held {
        assert!(t0.elapsed().as_secs() < 60, "the exited thread's ring never returned");
        tapelog::flush();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    b_go.send(()).unwrap();
    assert_eq!(b_done_rx.recv().unwrap(), Some(ring), "a ring once the budget has room");
    b.join().unwrap();
    drop(guard);
    let t = tapelog::stats().total;
    assert_eq!(t.dropped_no_ring - before.dropped_no_ring, 1, "{t:?}");
    assert_eq!(t.rings_refused, 1, "{t:?}");
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let waiter: Vec<String> = args_of(&events, "waiter logs {}").map(|(_, a)| a[0].clone()).collect();
    assert_eq!(waiter, ["2"], "only the call made with a ring is written");
    assert_eq!(args_of(&events, "holder logs {}").count(), 1);
}

/// How much of a new 16 MiB ring the kernel backs with huge pages, with `huge_pages(on)`.
fn huge_backed_ring(on: bool) -> u64 {
    let dir = TempDir::new(if on { "huge-on" } else { "huge-off" });
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(16 << 20)
        .segment_size(64 << 20)
        .huge_pages(on)
        .no_capacity_warning()
        .start()
        .unwrap();
    let before = anon_huge();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        assert!(tapelog::preallocate().is_some());
        tx.send(anon_huge()).unwrap();
        // The ring lives until this thread ends: measured while it does.
    });
    let after = rx.recv().unwrap();
    t.join().unwrap();
    drop(guard);
    after.saturating_sub(before)
}

#[test]
fn big_rings_get_huge_pages_only_when_advised() {
    // Only `madvise` mode makes the advice the difference ("always" backs every ring,
    // "never" none); elsewhere there is nothing to check.
    let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !mode.contains("[madvise]") {
        eprintln!("transparent huge pages are not in madvise mode here ({mode:?}): skipped");
        return;
    }
    let _s = serial();
    let on = huge_backed_ring(true);
    let off = huge_backed_ring(false);
    println!("16 MiB ring: {} MiB huge-page backed when advised, {} MiB when not", on >> 20, off >> 20);
    assert_eq!(off, 0, "huge pages without the advice");
    // The kernel may not find free huge pages for all of it (fragmented memory): at least
    // one, though, where it has them at all.
    assert!(on >= 2 << 20, "no huge page for the ring when advised ({on} bytes)");
}
