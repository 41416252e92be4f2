//! 4 threads x 250k records in Block mode through deliberately small rings: every record
//! arrives exactly once, and each thread's sequence is gap-free and in order.

mod common;
use common::*;

#[test]
fn block_mode_four_threads_lose_nothing() {
    let _s = serial();
    let dir = TempDir::new("block4");
    let per_thread: u64 = if cfg!(miri) { 100 } else { 250_000 };
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(16 << 10)
        .segment_size(8 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let hs: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("w{t}"))
                .spawn(move || {
                    for i in 0..per_thread {
                        tapelog::info!("t {} seq {} px {}", t, i, i as f64 * 0.5);
                    }
                })
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    drop(guard);
    let st = tapelog::stats();
    assert_eq!(st.total.logged, 4 * per_thread);
    assert_eq!(st.total.written, 4 * per_thread);
    assert_eq!(st.total.dropped, 0);
    assert!(st.total.segments > 1, "8 MiB segments should rotate: {:?}", st.total);

    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let mut next = [0u64; 4];
    let mut last_ts = i128::MIN;
    for e in &events {
        let Owned::Record { ts_ns, thread, args, .. } = e else { panic!("unexpected drop report {e:?}") };
        let t: usize = args[0].parse().unwrap();
        assert_eq!(thread, &format!("w{t}"));
        let seq: u64 = args[1].parse().unwrap();
        assert_eq!(seq, next[t], "thread {t}: gap or reorder");
        next[t] += 1;
        assert!(*ts_ns >= last_ts, "merged output must be in timestamp order");
        last_ts = *ts_ns;
    }
    assert_eq!(next, [per_thread; 4]);
}
