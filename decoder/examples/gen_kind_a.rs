//! Writes a segment directory of N records of message kind (a)
//! (`"Logging int: {}, int: {}, double: {}"` with u32, u64, f64), for measuring the decoder
//! on the real binary:
//!
//! ```sh
//! cargo run --release -p tapelog-decoder --example gen_kind_a -- /tmp/kind-a 2000000 [THREADS]
//! hyperfine 'target/release/tapelog cat /tmp/kind-a > /dev/null'
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: gen_kind_a DIR [RECORDS] [THREADS]")?;
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2_000_000);
    let threads: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1).max(1);
    let _ = std::fs::remove_dir_all(&dir);
    let guard = tapelog::Builder::new()
        .dir(&dir)
        .segment_size(256 << 20)
        .ring_capacity(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()?;
    let per = n / threads;
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("w{t}"))
                .spawn(move || {
                    for i in t * per..(t + 1) * per {
                        tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64 * 0.5);
                    }
                })
                .expect("spawn")
        })
        .collect();
    for h in hs {
        h.join().map_err(|_| "writer panicked")?;
    }
    drop(guard);
    for (p, len) in tapelog::list_segments(std::path::Path::new(&dir)) {
        println!("{} {len}", p.display());
    }
    Ok(())
}
