//! Cold calls: what the first call of each kind costs, and whether it takes page faults.
//!
//! `cargo bench --bench cold` (add `-- --quick` for a short run).
//!
//! Rows, each timed with `lfence; rdtsc; lfence` around one call (the timer's own cost is
//! subtracted, as in `benches/latency.rs`):
//!
//! * a thread's first call, on a fresh thread, without and after `tapelog::preallocate()`
//!   (the call site was registered by another thread);
//! * a call site's first call (registration), on a thread that has logged before: 32 call
//!   sites made by a macro, each timed on its first call;
//! * the first serde value of a shape, through one registered call site, on such a thread
//!   right after `preallocate()`: 32 `#[derive(serde::Serialize)]` types made by a macro;
//! * a warm call of an already registered site, for reference.
//!
//! Around every timed call, outside the timed window, the thread's minor page faults and
//! context switches (`getrusage(RUSAGE_THREAD)`) and its heap allocations (the tests'
//! counting allocator, `tests/common/counting_alloc.rs`) are read; each row prints their sum
//! over its samples and how many samples had any. Nothing is asserted: the figures are printed.

use std::hint::black_box;
use std::time::Duration;

mod common;
use common::{fenced_ticks, pct, spin};

// Counts this thread's heap allocations (the tests' counting allocator; it installs itself).
#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

#[path = "../tests/common/huge_pages.rs"]
mod huge_pages;
use huge_pages::anon_huge;

/// What one timed call cost: ticks, and what the thread counted around it.
#[derive(Clone, Copy, Default)]
struct Cost {
    ticks: u64,
    faults: u64,
    switches: u64,
    allocs: u64,
}

/// This thread's (minor page faults, voluntary + involuntary context switches, allocations).
fn counters() -> (u64, u64, u64) {
    // SAFETY: `rusage` is plain data, for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`; RUSAGE_THREAD reports the calling thread.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (ru.ru_minflt as u64, (ru.ru_nvcsw + ru.ru_nivcsw) as u64, counting_alloc::allocs())
}

/// Times one call of `f`, reading the thread's counters before and after (outside the
/// timed window).
#[inline(always)]
fn timed(f: impl FnOnce()) -> Cost {
    let (f0, s0, a0) = counters();
    let t0 = fenced_ticks();
    f();
    let t1 = fenced_ticks();
    let (f1, s1, a1) = counters();
    Cost { ticks: t1 - t0, faults: f1 - f0, switches: s1 - s0, allocs: a1 - a0 }
}

/// Times the first call of each of `fs`, a spin apart.
fn first_calls(fs: &[fn(u64)], gap: u64) -> Vec<Cost> {
    fs.iter()
        .map(|f| {
            spin(gap);
            timed(|| f(7))
        })
        .collect()
}

/// The reference call site: registered by the main thread before any timed call.
#[inline(always)]
fn warm_site(i: u64) {
    tapelog::info!("warm site {}: {}", 0, black_box(i));
}

/// One call site for serde values of any type (a static in a generic function is one
/// static for every instance), registered with a warm-up type before the timed calls.
#[inline(never)]
fn serde_site<T: serde::Serialize>(v: &T) {
    tapelog::info!("shape {:?}", tapelog::serde(v));
}

#[derive(serde::Serialize)]
struct WarmShape {
    a: u64,
    b: u32,
}

/// An array of functions, one call site each (each `info!` expansion has its own static).
macro_rules! call_sites {
    ($($n:literal)*) => {
        [$((|i: u64| tapelog::info!("cold site {}: {}", $n, black_box(i))) as fn(u64)),*]
    };
}

/// A `#[derive(serde::Serialize)]` type per name (distinct names: distinct shapes), and an
/// array of functions that log a value of each through `serde_site`.
macro_rules! shapes {
    ($($t:ident)*) => {{
        $(
            #[derive(serde::Serialize)]
            struct $t {
                a: u64,
                b: u32,
            }
        )*
        [$((|i: u64| serde_site(&$t { a: black_box(i), b: i as u32 })) as fn(u64)),*]
    }};
}

/// The first calls of `n` fresh threads pinned to `core`, one thread at a time, each after
/// `preallocate()` if `prealloc`. Every thread lives until all have made theirs, so each
/// ring is new memory, as for threads that start together in a program (a ring freed by an
/// exited thread would be reused by the allocator, already mapped).
fn fresh_threads_first_call(n: usize, core: Option<core_affinity::CoreId>, prealloc: bool) -> Vec<Cost> {
    let done = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    let mut costs = Vec::new();
    for _ in 0..n {
        let (tx, done) = (tx.clone(), done.clone());
        threads.push(std::thread::spawn(move || {
            if let Some(c) = core {
                core_affinity::set_for_current(c);
            }
            if prealloc {
                let ring = tapelog::preallocate();
                assert!(ring.is_some(), "preallocate() made no ring");
            }
            // Warm the timer and the counters' own path, outside the timed call.
            black_box(fenced_ticks());
            black_box(counters());
            tx.send(timed(|| warm_site(1))).expect("main thread waits");
            done.wait();
        }));
        costs.push(rx.recv().expect("timed thread answers"));
    }
    done.wait();
    threads.into_iter().for_each(|t| t.join().expect("timed thread"));
    costs
}

/// Warm calls in bursts of 20 with a spin of `gap` ticks between bursts, each timed, into a
/// buffer written once beforehand (so the loop itself neither allocates nor faults); returns
/// the sorted ticks and what the thread counted over the whole loop.
fn warm_calls(samples: usize, gap: u64, f: impl Fn(u64)) -> (Vec<u64>, Cost) {
    // `vec![0; n]` maps fresh zero pages without touching them: write every one first.
    let mut out = vec![0u64; samples];
    out.fill(u64::MAX);
    black_box(&mut out);
    let (f0, s0, a0) = counters();
    for (i, slot) in out.iter_mut().enumerate() {
        let t0 = fenced_ticks();
        f(i as u64);
        let t1 = fenced_ticks();
        *slot = t1 - t0;
        if i % 20 == 19 {
            spin(gap);
        }
    }
    let (f1, s1, a1) = counters();
    out.sort_unstable();
    (out, Cost { ticks: 0, faults: f1 - f0, switches: s1 - s0, allocs: a1 - a0 })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--fault-in") {
        return fault_in_once(args[i + 1].parse().expect("ring bytes"), args[i + 2] == "on");
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let threads = if quick { 16 } else { 64 };
    let warm_samples = if quick { 20_000 } else { 200_000 };
    let rate = tapelog::clock::measure_rate(Duration::from_millis(50));
    let gap = (rate * 2e-6) as u64;
    let dir = std::env::temp_dir().join(format!("tapelog-bench-cold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let first = cores.first().copied();
    if let Some(c) = first {
        core_affinity::set_for_current(c);
    }
    let ring = 1 << 20;
    let guard = tapelog::Builder::new()
        .no_capacity_warning()
        .dir(&dir)
        .segment_size(64 << 20)
        .ring_capacity(ring)
        .overflow(tapelog::Overflow::Block)
        .consumer_core((cores.len() > 1).then(|| cores[cores.len() - 1].id))
        .start()
        .expect("start");

    // This thread: its ring, the reference site and the serde site, all warm.
    tapelog::preallocate();
    for i in 0..10_000 {
        warm_site(i);
        serde_site(&WarmShape { a: i, b: i as u32 });
    }
    tapelog::flush();

    let (timer, _) = warm_calls(warm_samples, gap, |i| {
        black_box(i);
    });
    let (warm, warm_counts) = warm_calls(warm_samples, gap, warm_site);
    tapelog::flush();

    let sites = call_sites!(
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    );
    let registration = first_calls(&sites, gap);
    tapelog::flush();

    let shapes = shapes!(
        S0 S1 S2 S3 S4 S5 S6 S7 S8 S9 S10 S11 S12 S13 S14 S15
        S16 S17 S18 S19 S20 S21 S22 S23 S24 S25 S26 S27 S28 S29 S30 S31
    );
    // `preallocate()` readies heap for new shapes' descriptors; the large buffers this
    // bench allocated and freed since its first call may have moved the allocator's top.
    tapelog::preallocate();
    let first_shape = first_calls(&shapes, gap);
    tapelog::flush();

    let cold = fresh_threads_first_call(threads, first, false);
    let prealloc = fresh_threads_first_call(threads, first, true);

    tapelog::flush();
    let st = tapelog::stats();
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);

    let t_p50 = pct(&timer, 0.5);
    let ns = |t: u64| t.saturating_sub(t_p50) as f64 * 1e9 / rate;
    println!(
        "machine: {} cores, tick rate {:.3} GHz, {} KiB ring per thread; timer p50 {:.1} ns (subtracted)",
        cores.len(),
        rate / 1e9,
        ring >> 10,
        t_p50 as f64 * 1e9 / rate
    );
    println!(
        "\n| first call (timer cost subtracted) | samples | median | max | minor faults (sum; samples with any) | context switches | allocations |"
    );
    println!("|---|---:|---:|---:|---|---|---|");
    let row = |name: &str, c: &[Cost]| {
        let mut t: Vec<u64> = c.iter().map(|c| c.ticks).collect();
        t.sort_unstable();
        let sum = |f: fn(&Cost) -> u64| {
            let (total, any) = c.iter().map(f).fold((0, 0), |(s, n), v| (s + v, n + (v > 0) as usize));
            format!("{total}; {any}")
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            c.len(),
            fmt_ns(ns(pct(&t, 0.5))),
            fmt_ns(ns(*t.last().unwrap())),
            sum(|c| c.faults),
            sum(|c| c.switches),
            sum(|c| c.allocs),
        );
    };
    row("(i) thread's first call, no preallocate (fresh threads)", &cold);
    row("(ii) thread's first call after preallocate() (fresh threads)", &prealloc);
    row("(iii) call site's first call: registration (warm thread, 32 sites)", &registration);
    row("(iv) first serde value of a shape (warm thread, 32 types)", &first_shape);
    println!(
        "| (v) warm call, for reference | {} | {} | {} | {} over all | {} over all | {} over all |",
        warm.len(),
        fmt_ns(ns(pct(&warm, 0.5))),
        fmt_ns(ns(*warm.last().unwrap())),
        warm_counts.faults,
        warm_counts.switches,
        warm_counts.allocs,
    );
    println!("\nrecords: logged {} written {} dropped {}", st.total.logged, st.total.written, st.total.dropped);

    big_ring_fault_in(if quick { 3 } else { 7 }, &dir);
}

/// `preallocate()` of a 16 and a 64 MiB ring, with huge pages advised and without,
/// interleaved (on, off, on, off, ...), each in a fresh process (so the ring is new memory,
/// not pages a freed ring left with the allocator): how long the fault-in takes, its page
/// faults, and how much of the ring the kernel backed with huge pages (`AnonHugePages`
/// growth in `/proc/self/smaps_rollup`).
fn big_ring_fault_in(reps: usize, dir: &std::path::Path) {
    println!("\n| preallocate() of a big ring (fresh process each) | huge pages | runs | median | faults (median) | huge-page backed (median) | ratio off/on |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    for ring in [16usize << 20, 64 << 20] {
        let mut by_mode: [Vec<(f64, u64, u64)>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..reps {
            for (m, huge) in [true, false].into_iter().enumerate() {
                let out = std::process::Command::new(&exe)
                    .args(["--fault-in", &ring.to_string(), if huge { "on" } else { "off" }])
                    .env("TAPELOG_COLD_DIR", dir)
                    .output()
                    .expect("run the measurement");
                let text = String::from_utf8_lossy(&out.stdout);
                let v: Vec<f64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
                assert!(
                    out.status.success() && v.len() == 3,
                    "fault-in run failed: {text} {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                by_mode[m].push((v[0], v[1] as u64, v[2] as u64));
            }
        }
        let med = |v: &[(f64, u64, u64)]| {
            let mut t: Vec<f64> = v.iter().map(|x| x.0).collect();
            let mut f: Vec<u64> = v.iter().map(|x| x.1).collect();
            let mut h: Vec<u64> = v.iter().map(|x| x.2).collect();
            t.sort_by(f64::total_cmp);
            f.sort_unstable();
            h.sort_unstable();
            (t[t.len() / 2], f[f.len() / 2], h[h.len() / 2])
        };
        let (on, off) = (med(&by_mode[0]), med(&by_mode[1]));
        for (name, m) in [("advised", on), ("off", off)] {
            println!(
                "| {} MiB | {name} | {reps} | {} | {} | {} MiB | {} |",
                ring >> 20,
                fmt_ns(m.0 * 1e9),
                m.1,
                m.2 >> 20,
                if name == "off" { format!("{:.1}x", off.0 / on.0) } else { String::new() }
            );
        }
    }
}

/// One measurement of [`big_ring_fault_in`], in this (fresh) process: prints seconds, minor
/// faults and huge-page-backed bytes of one `preallocate()`.
fn fault_in_once(ring: usize, huge: bool) {
    let dir = std::path::PathBuf::from(std::env::var_os("TAPELOG_COLD_DIR").expect("dir"))
        .join(format!("fault-in-{}", std::process::id()));
    let guard = tapelog::Builder::new()
        .no_capacity_warning()
        .dir(&dir)
        .ring_capacity(ring)
        .segment_size(2 * ring)
        .huge_pages(huge)
        .start()
        .expect("start");
    let (f0, _, _) = counters();
    let h0 = anon_huge();
    let t = std::time::Instant::now();
    assert!(tapelog::preallocate().is_some());
    let took = t.elapsed().as_secs_f64();
    let (faults, huge_bytes) = (counters().0 - f0, anon_huge().saturating_sub(h0));
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{took} {faults} {huge_bytes}");
}

/// Nanoseconds with a unit that keeps about three significant digits.
fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}
