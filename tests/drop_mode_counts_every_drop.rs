//! Drop mode under a deliberately tiny ring and a paused consumer: nothing waits, every drop is
//! counted, `written + dropped == logged` exactly, and the in-band markers show in `cat`.

mod common;
use common::*;

#[test]
fn drop_mode_counts_every_drop() {
    let _s = serial();
    let dir = TempDir::new("dropmode");
    let guard =
        tapelog::Builder::new().dir(dir.path()).ring_capacity(1024).overflow(tapelog::Overflow::Drop).start().unwrap();
    // Attach this thread, then stop the consumer so the 1 KiB ring must overflow.
    tapelog::info!("warm-up");
    tapelog::flush();
    tapelog::__private::pause_consumer(true);
    const BURST: u64 = 10_000;
    for round in 0..3u64 {
        for i in 0..BURST {
            tapelog::info!("round {} seq {}", round, i);
        }
        tapelog::__private::pause_consumer(false);
        tapelog::flush();
        tapelog::__private::pause_consumer(true);
    }
    tapelog::__private::pause_consumer(false);
    tapelog::flush();
    let st = tapelog::stats();
    let me = st.threads.iter().find(|t| t.logged == 3 * BURST + 1).expect("this thread's stats");
    assert_eq!(me.written + me.dropped, me.logged, "{me:?}");
    assert!(me.dropped >= 3 * (BURST - 100), "a 1 KiB ring holds at most ~50 records: {me:?}");
    drop(guard);

    let st = tapelog::stats();
    assert_eq!(st.total.written + st.total.dropped, st.total.logged);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(record_count(&events) as u64, me.written);
    assert_eq!(reported_drops(&events), me.dropped, "drop markers must add up to the dropped count");
    // Kept records of each round are a gap-free prefix... no: they are whatever fit, in order.
    for round in 0..3 {
        let seqs: Vec<u64> = args_of(&events, "round {} seq {}")
            .filter(|(_, a)| a[0] == round.to_string())
            .map(|(_, a)| a[1].parse().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "round {round} out of order");
        assert!(!seqs.is_empty());
    }

    let mut out = Vec::new();
    let mut err = Vec::new();
    tapelog_decoder::cat(&[dir.path().to_path_buf()], &Default::default(), &mut out, &mut err).unwrap();
    let text = String::from_utf8(out).unwrap();
    let markers: Vec<&str> = text.lines().filter(|l| l.contains(" DROPS ") && l.contains("dropped")).collect();
    assert!(markers.len() >= 3, "one marker per overflowed round at least:\n{text}");
    assert!(markers[0].contains("records between"), "{}", markers[0]);
}
