//! Decoder throughput: `cat` (text, default template) and `stats` over a generated segment
//! of 2M records of message kind (a), `"Logging int: {}, int: {}, double: {}"` with u32, u64
//! and f64. Criterion prints records/s (its "elem/s").
//!
//! `cargo bench -p tapelog-decoder --bench decode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const RECORDS: u64 = 2_000_000;

fn segment() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tapelog-bench-decode-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = tapelog::Builder::new()
        .no_capacity_warning() // count exactly the records logged here
        .dir(&dir)
        .segment_size(256 << 20)
        .ring_capacity(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()
        .expect("start the logger");
    for i in 0..RECORDS {
        tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64 * 0.5);
    }
    drop(guard);
    dir
}

fn decode(c: &mut Criterion) {
    let dir = segment();
    let paths = std::slice::from_ref(&dir);
    let mut g = c.benchmark_group("decode kind (a)");
    g.throughput(Throughput::Elements(RECORDS));
    g.sample_size(10);
    g.bench_function("cat to a sink", |b| {
        b.iter(|| {
            let o = tapelog_decoder::cat(paths, &Default::default(), &mut std::io::sink(), &mut std::io::sink())
                .expect("decode");
            assert_eq!(o.records, RECORDS);
        })
    });
    g.bench_function("stats", |b| {
        b.iter(|| {
            let (s, _) = tapelog_decoder::summary::summarize(paths, &mut std::io::sink()).expect("stats");
            assert_eq!(s.records, RECORDS);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, decode);
criterion_main!(benches);
