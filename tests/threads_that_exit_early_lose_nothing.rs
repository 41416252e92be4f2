//! Threads that log and exit before the consumer looks at their rings lose nothing: the rings
//! outlive the threads until drained.

mod common;
use common::*;

#[test]
fn threads_that_exit_before_the_consumer_runs_lose_nothing() {
    let _s = serial();
    let dir = TempDir::new("early-exit");
    let guard = tapelog::Builder::new().dir(dir.path()).ring_capacity(64 << 10).start().unwrap();
    tapelog::__private::pause_consumer(true);
    let hs: Vec<_> = (0..8u32)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("short{t}"))
                .spawn(move || {
                    for i in 0..500u32 {
                        tapelog::info!("short-lived {} {}", t, i);
                    }
                })
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // Every thread is gone; none of its records has been read yet.
    assert_eq!(tapelog::stats().total.written, 0);
    tapelog::__private::pause_consumer(false);
    tapelog::flush();
    // The consumer notices the abandoned rings and retires them.
    for _ in 0..200 {
        if tapelog::stats().threads.iter().filter(|t| t.exited).count() == 8 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let st = tapelog::stats();
    assert_eq!(st.threads.iter().filter(|t| t.exited).count(), 8, "{:?}", st.threads);
    drop(guard);
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    for t in 0..8 {
        let seqs: Vec<u32> = args_of(&events, "short-lived {} {}")
            .filter(|(_, a)| a[0] == t.to_string())
            .map(|(_, a)| a[1].parse().unwrap())
            .collect();
        assert_eq!(seqs, (0..500).collect::<Vec<_>>(), "thread {t}");
    }
}
