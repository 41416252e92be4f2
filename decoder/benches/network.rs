//! Network stream throughput: one producer logs message kind (a) (`"Logging int: {}, int: {},
//! double: {}"` with u32, u64, f64) in `Overflow::Block` mode; the binary sink streams it over
//! loopback to a `tapelog serve` collector (in this process, `serve::Collector`), which
//! writes it to segment files and acknowledges. The clock runs from the first call until the
//! collector has acknowledged the last record. Nothing may be dropped: the run fails if the
//! sink dropped anything, and the collector's files are decoded and counted.
//!
//! `cargo bench -p tapelog-decoder --bench network` (`-- --records N`, `-- --runs N`)

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tapelog_decoder::serve::{Collector, ServeOptions};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run(records: u64, segments: bool, base: &std::path::Path, run: u32) -> (f64, f64) {
    let remote = base.join(format!("remote-{segments}-{run}"));
    let local = base.join(format!("local-{segments}-{run}"));
    let stop = Arc::new(AtomicBool::new(false));
    let opts = ServeOptions {
        listen: "127.0.0.1:0".into(),
        dir: remote.clone(),
        segment_size: 256 << 20,
        ..Default::default()
    };
    let collector = Collector::bind(opts, stop.clone(), Box::new(std::io::sink())).expect("bind");
    let addr = collector.local_addr().expect("addr").to_string();
    let serving = std::thread::spawn(move || collector.run());
    let guard = tapelog::Builder::new()
        .dir(&local)
        .segments(segments)
        .segment_size(256 << 20)
        .ring_capacity(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .network(tapelog::Network::tcp(addr).send_buffer(512 << 20))
        .start()
        .expect("start");
    // Connected before the clock starts, as a long-running service would be.
    while !tapelog::stats().network.is_some_and(|n| n.connected) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    for i in 0..records {
        tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64 * 0.5);
    }
    let calls = t0.elapsed().as_secs_f64();
    loop {
        let n = tapelog::stats().network.expect("network stats");
        if n.records_delivered == records {
            break;
        }
        assert_eq!(n.records_dropped, 0, "the sink dropped records: {n:?}");
        std::thread::sleep(Duration::from_micros(200));
    }
    let total = t0.elapsed().as_secs_f64();
    drop(guard);
    let n = tapelog::stats().network.expect("network stats");
    assert_eq!((n.records_delivered, n.records_dropped), (records, 0), "{n:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    serving.join().expect("collector thread").expect("collector");
    let source = std::fs::read_dir(&remote)
        .expect("the collector's directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a source directory");
    let (m, _) = tapelog_decoder::open(&[source]).expect("open the collector's files");
    let mut m = m;
    let mut seen = 0u64;
    while let Some(ev) = m.next() {
        if matches!(ev, tapelog_decoder::merge::Event::Record(_)) {
            seen += 1;
        }
    }
    assert_eq!(seen, records, "records in the collector's files");
    let _ = std::fs::remove_dir_all(&remote);
    let _ = std::fs::remove_dir_all(&local);
    (records as f64 / calls, records as f64 / total)
}

fn main() {
    let records = arg("--records", 10_000_000);
    let runs = arg("--runs", 3) as u32;
    let base = std::env::temp_dir().join(format!("tapelog-bench-network-{}", std::process::id()));
    println!("network stream, kind (a), {records} records, one producer, loopback, in-process collector");
    println!("| local segments | run | calls returned | acknowledged by the collector |");
    println!("|---|---|---|---|");
    for segments in [false, true] {
        let mut best = 0f64;
        for r in 0..runs {
            let (calls, acked) = run(records, segments, &base, r);
            best = best.max(acked);
            println!(
                "| {} | {} | {:.2} M rec/s | {:.2} M rec/s |",
                if segments { "yes" } else { "no" },
                r + 1,
                calls / 1e6,
                acked / 1e6
            );
        }
        println!(
            "{} network stream{}: best {:.2} M records/s acknowledged (target >= 10 M/s), nothing dropped",
            if best >= 10e6 { "PASS" } else { "FAIL" },
            if segments { " next to local segments" } else { " alone" },
            best / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}
