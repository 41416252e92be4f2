//! Routing costs the caller nothing: the hot-path latency of `info!` (message kind (a)) with
//! only the main segments, and with three more segment outputs routed by target, measured
//! alternately in one run (A B A B ...), so the ratio holds on a noisy machine. Routes are
//! decided per call site on the consumer; the caller's work is the same either way.
//!
//! `cargo bench --bench routing` (`-- --quick` for a short run).

use std::hint::black_box;
use std::time::Duration;

mod common;
use common::{measure, pct};

mod orders {
    #[inline(always)]
    pub fn log(i: u64) {
        tapelog::info!(
            "Logging int: {}, int: {}, double: {}",
            std::hint::black_box(i as u32),
            std::hint::black_box(i),
            std::hint::black_box(i as f64)
        );
    }
}

fn run(routed: bool, samples: usize, gap: u64, dir: &std::path::Path, core: Option<usize>) -> Vec<u64> {
    let _ = std::fs::remove_dir_all(dir);
    let mut b = tapelog::Builder::new()
        .dir(dir.join("main"))
        .segment_size(256 << 20)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .consumer_core(core);
    if routed {
        let crate_root = module_path!();
        b = b
            .output(
                tapelog::Output::segments("orders", dir.join("orders"))
                    .route(tapelog::Route::target(format!("{crate_root}::orders"))),
            )
            .output(
                tapelog::Output::segments("risk", dir.join("risk"))
                    .route(tapelog::Route::target(format!("{crate_root}::risk"))),
            )
            .output(tapelog::Output::segments("app", dir.join("app")).route(tapelog::Route::target(crate_root)));
    }
    let guard = b.start().expect("start");
    let s = measure(samples, gap, |i| orders::log(black_box(i)));
    drop(guard);
    if routed {
        let st = tapelog::stats();
        let got: Vec<u64> = st.outputs.iter().map(|o| o.records).collect();
        assert_eq!(got[0], got[2], "orders and app take every record: {got:?}");
        assert_eq!(got[1], 0, "risk takes none");
    }
    let _ = std::fs::remove_dir_all(dir);
    s
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 200_000 } else { 1_000_000 };
    let rounds = if quick { 2 } else { 4 };
    let rate = tapelog::clock::measure_rate(Duration::from_millis(50));
    let gap = (rate * 2e-6) as u64;
    let ns = |t: u64| t as f64 * 1e9 / rate;
    let dir = std::env::temp_dir().join(format!("tapelog-bench-routing-{}", std::process::id()));
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(c) = cores.first() {
        core_affinity::set_for_current(*c);
    }
    let consumer = cores.get(1).map(|c| c.id);
    let (mut single, mut routed) = (Vec::new(), Vec::new());
    println!("| round | outputs | p50 | p90 | p99 | p99.9 |");
    println!("|---|---|---|---|---|---|");
    for r in 0..rounds {
        for with_routes in [false, true] {
            let s = run(with_routes, samples, gap, &dir, consumer);
            println!(
                "| {} | {} | {:.1} ns | {:.1} ns | {:.1} ns | {:.1} ns |",
                r + 1,
                if with_routes { "main + 3 routed by target" } else { "main only" },
                ns(pct(&s, 0.5)),
                ns(pct(&s, 0.9)),
                ns(pct(&s, 0.99)),
                ns(pct(&s, 0.999))
            );
            if with_routes {
                routed.extend(s)
            } else {
                single.extend(s)
            }
        }
    }
    single.sort_unstable();
    routed.sort_unstable();
    let (a, b) = (ns(pct(&single, 0.5)), ns(pct(&routed, 0.5)));
    let ratio = b / a;
    println!(
        "{} hot-path p50 with three routed outputs {b:.1} ns is within 5% of the single-output p50 {a:.1} ns (ratio {ratio:.3}; timer cost included in both)",
        if ratio <= 1.05 { "PASS" } else { "FAIL" }
    );
}
