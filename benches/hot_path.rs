//! Criterion benches of the library's internals: the hot-path call per message kind, argument
//! encoding, a consumer drain batch, and the decoder's records per second.
//!
//! `cargo bench --bench hot_path`. Per-call latency *distributions* (p50/p99/p99.9) against a
//! bare rtrb push are in `benches/latency.rs`; criterion reports mean-based estimates.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tapelog::ArgList;

/// Runs `iters` calls in bursts that the 1 MiB ring always absorbs, timing only the calls.
fn bursts(iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(2000);
        let t0 = Instant::now();
        for i in done..done + n {
            f(i);
        }
        total += t0.elapsed();
        done += n;
        tapelog::flush();
    }
    total
}

fn hot_path(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tapelog-bench-hot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = tapelog::Builder::new()
        .no_capacity_warning() // count exactly the records logged here
        .dir(&dir)
        .segment_size(1 << 30)
        .overflow(tapelog::Overflow::Block)
        .max_files(2)
        .start()
        .expect("start");
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(1));
    g.bench_function("a: three numbers (u32, u64, f64)", |b| {
        b.iter_custom(|n| {
            bursts(n, |i| {
                tapelog::info!(
                    "Logging int: {}, int: {}, double: {}",
                    black_box(i as u32),
                    black_box(i),
                    black_box(i as f64)
                )
            })
        })
    });
    #[derive(serde::Serialize)]
    struct Fill {
        qty: u32,
        id: u64,
        px: f64,
    }
    g.bench_function("serde struct with 3 numeric fields (u32, u64, f64)", |b| {
        b.iter_custom(|n| {
            bursts(n, |i| {
                let fill = Fill { qty: black_box(i as u32), id: black_box(i), px: black_box(i as f64) };
                tapelog::info!("Logging fill: {}", tapelog::serde(&fill))
            })
        })
    });
    g.bench_function("b: static string", |b| {
        b.iter_custom(|n| bursts(n, |_| tapelog::info!("Logging a static string with no arguments")))
    });
    g.bench_function("three key-value fields (u32, u64, f64)", |b| {
        b.iter_custom(|n| {
            bursts(
                n,
                |i| tapelog::info!(qty = black_box(i as u32), id = black_box(i), px = black_box(i as f64); "fill"),
            )
        })
    });
    let s = "a twenty byte string";
    g.bench_function("c: 20-byte &str argument", |b| {
        b.iter_custom(|n| bursts(n, |_| tapelog::info!("Logging a str: {}", black_box(s))))
    });
    // A call site the run-time filter turned off: one relaxed load and a branch. Timed over
    // loops of 1000 inlined calls, so the harness's own cost is spread thin.
    mod quiet {
        #[inline(always)]
        pub fn call(i: u64) {
            tapelog::debug!("filtered out {} {}", i, std::hint::black_box(1.5f64));
        }
    }
    tapelog::set_filter(&format!("trace,{}::quiet=off", module_path!())).unwrap();
    quiet::call(0);
    g.bench_function("filtered-out call (run-time filter)", |b| {
        b.iter_custom(|n| {
            let t0 = Instant::now();
            for _ in 0..n {
                for i in 0..1000 {
                    quiet::call(black_box(i));
                }
            }
            t0.elapsed() / 1000
        })
    });
    tapelog::set_filter("trace").unwrap();
    g.bench_function("sampled-out call (every = 1_000_000)", |b| {
        b.iter(|| tapelog::info!(every = 1_000_000; "rarely {}", black_box(1u32)))
    });
    g.finish();

    let mut g = c.benchmark_group("consumer");
    for n in [1_000u64, 10_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new("drain batch of kind (a)", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tapelog::__private::pause_consumer(true);
                    for i in 0..n {
                        tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64);
                    }
                    let t0 = Instant::now();
                    tapelog::__private::pause_consumer(false);
                    tapelog::flush();
                    total += t0.elapsed();
                }
                total
            })
        });
    }
    g.finish();
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let mut buf = vec![0u8; 256];
    #[derive(serde::Serialize)]
    struct Fill {
        qty: u32,
        id: u64,
        px: f64,
    }
    let mut staged = Vec::with_capacity(256);
    g.bench_function("serde struct staged (fingerprint, shape id, bincode)", |b| {
        b.iter(|| {
            let fill = Fill { qty: black_box(7), id: black_box(8), px: black_box(1.5) };
            staged.clear();
            tapelog::Arg::stage(&tapelog::serde(&fill), &mut staged);
            black_box(&staged);
        })
    });
    g.bench_function("args (u32, u64, f64)", |b| {
        b.iter(|| {
            let args = (&black_box(7u32), &black_box(8u64), &black_box(1.5f64));
            // SAFETY: 256 bytes is more than the 20 these arguments encode to.
            unsafe { args.encode(buf.as_mut_ptr()) };
            black_box(&buf);
        })
    });
    g.bench_function("args (&str, Option<u64>)", |b| {
        b.iter(|| {
            let args = (&black_box("a twenty byte string"), &black_box(Some(8u64)));
            assert!(args.encoded_len() <= buf.len());
            // SAFETY: checked just above.
            unsafe { args.encode(buf.as_mut_ptr()) };
            black_box(&buf);
        })
    });
    g.finish();
}

fn decoder(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tapelog-bench-dec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let n = 1_000_000u64;
    let guard = tapelog::Builder::new()
        .no_capacity_warning() // count exactly the records logged here
        .dir(&dir)
        .segment_size(256 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()
        .expect("start");
    for i in 0..n {
        tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64 * 0.5);
    }
    drop(guard);
    let mut g = c.benchmark_group("decoder");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("cat kind (a) to a sink", |b| {
        b.iter(|| {
            let mut sink = std::io::sink();
            let o =
                tapelog_decoder::cat(std::slice::from_ref(&dir), &Default::default(), &mut sink, &mut std::io::sink())
                    .unwrap();
            assert_eq!(o.records, n);
        })
    });
    g.bench_function("stats kind (a)", |b| {
        b.iter(|| {
            let (s, _) = tapelog_decoder::summary::summarize(std::slice::from_ref(&dir), &mut std::io::sink()).unwrap();
            assert_eq!(s.records, n);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, hot_path, encoding, decoder);
criterion_main!(benches);
