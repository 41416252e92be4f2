//! A toy trading loop: four threads (market data, strategy, risk, order gateway) log a few
//! million records through tapelog, timing every call; then the segments are decoded and the
//! tail printed with hot-path latency percentiles and totals.
//!
//! `cargo run --release --example demo` (no setup; writes under target/tapelog-demo).

use std::path::PathBuf;
use std::time::Instant;

const PER_THREAD: usize = 750_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("tapelog-demo");
    let _ = std::fs::remove_dir_all(&dir);
    let cores: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().iter().map(|c| c.id).collect();
    let guard = tapelog::Builder::new()
        .dir(&dir)
        .segment_size(64 << 20)
        .ring_capacity(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .consumer_core(if cores.len() > 1 { cores.last().copied() } else { None })
        .metadata("service", "demo-trader")
        // The demo checks that exactly its records are decoded; ring-fill warnings would be
        // records of the consumer's own on top.
        .no_capacity_warning()
        .start()?;
    let rate = tapelog::clock::measure_rate(std::time::Duration::from_millis(20));

    println!("tapelog demo: 4 threads x {PER_THREAD} records into {}", dir.display());
    let t0 = Instant::now();
    let names = ["md-feed", "strategy", "risk", "oms"];
    let handles: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| std::thread::Builder::new().name(name.to_string()).spawn(move || trade_loop(i)).unwrap())
        .collect();
    let mut lat: Vec<u32> = Vec::with_capacity(4 * PER_THREAD);
    for h in handles {
        lat.extend(h.join().unwrap());
    }
    let calls_done = t0.elapsed();
    tapelog::flush();
    let all_written = t0.elapsed();
    let stats = tapelog::stats();
    drop(guard);

    // Timer cost: back-to-back tick reads.
    let mut timer: Vec<u32> = (0..100_000)
        .map(|_| {
            let a = tapelog::clock::ticks();
            let b = tapelog::clock::ticks();
            b.wrapping_sub(a) as u32
        })
        .collect();
    timer.sort_unstable();
    let timer_p50 = timer[timer.len() / 2];

    lat.sort_unstable();
    let ns = |ticks: u32| (ticks.saturating_sub(timer_p50)) as f64 * 1e9 / rate;
    let pct = |p: f64| ns(lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)]);

    // Decode everything, keep the tail.
    let d0 = Instant::now();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = tapelog_decoder::cat(std::slice::from_ref(&dir), &Default::default(), &mut out, &mut err)?;
    let decode = d0.elapsed();
    let text = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = text.lines().collect();
    println!("\n--- last 8 of {} decoded records ---", lines.len());
    for l in &lines[lines.len().saturating_sub(8)..] {
        println!("{l}");
    }
    if !err.is_empty() {
        eprint!("{}", String::from_utf8_lossy(&err));
    }

    let bytes: u64 = tapelog::list_segments(&dir).iter().map(|(_, n)| n).sum();
    let total = stats.total.logged;
    println!("\n--- totals ---");
    println!(
        "logged {}  written {}  dropped {}  (Block mode: nothing may drop)",
        total, stats.total.written, stats.total.dropped
    );
    println!(
        "segments {}  bytes on disk {}  ({:.2} bytes/record)",
        stats.total.segments,
        bytes,
        bytes as f64 / total.max(1) as f64
    );
    println!(
        "calls returned after {:.3} s; everything in the segments after {:.3} s ({:.1} M records/s end to end)",
        calls_done.as_secs_f64(),
        all_written.as_secs_f64(),
        total as f64 / all_written.as_secs_f64() / 1e6
    );
    println!(
        "decoded {} records in {:.3} s ({:.1} M records/s)",
        outcome.records,
        decode.as_secs_f64(),
        outcome.records as f64 / decode.as_secs_f64() / 1e6
    );
    println!(
        "\n--- hot-path latency per call ({} samples, timer cost {:.1} ns subtracted) ---",
        lat.len(),
        timer_p50 as f64 * 1e9 / rate
    );
    println!(
        "p50 {:.1} ns  p90 {:.1} ns  p99 {:.1} ns  p99.9 {:.1} ns  p99.99 {:.1} ns  max {:.1} ns",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        pct(0.9999),
        ns(*lat.last().unwrap())
    );
    if stats.total.written != total || outcome.records != total {
        return Err(format!(
            "lost records: logged {total}, written {}, decoded {}",
            stats.total.written, outcome.records
        )
        .into());
    }
    Ok(())
}

/// One thread of the toy trading system; returns per-call latencies in ticks.
fn trade_loop(role: usize) -> Vec<u32> {
    let mut lat = Vec::with_capacity(PER_THREAD);
    let symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA"];
    let mut px = 101.25f64;
    for i in 0..PER_THREAD as u64 {
        px += ((i * 7919) % 13) as f64 * 0.01 - 0.06;
        let sym = symbols[(i % 5) as usize];
        let t0 = tapelog::clock::ticks();
        match role {
            0 => tapelog::info!("quote {} bid {:.2} ask {:.2} size {}", sym, px, px + 0.01, (i % 500) as u32 * 100),
            1 => tapelog::debug!("signal {} seq {} edge {:+.4} bps", sym, i, (px - 101.0) * 0.1),
            2 => tapelog::info!("risk check order {} notional {:.0} limit_ok {}", i, px * 1000.0, i % 97 != 0),
            _ => {
                if i % 1000 == 999 {
                    tapelog::warn!("order {} rejected: {}", i, "price band")
                } else {
                    tapelog::info!("fill {} @ {} id {:#x}", (i % 9 + 1) as u32 * 100, px, i)
                }
            }
        }
        let t1 = tapelog::clock::ticks();
        lat.push(t1.wrapping_sub(t0) as u32);
    }
    lat
}
