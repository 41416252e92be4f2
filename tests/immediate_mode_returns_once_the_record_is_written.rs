//! `Builder::immediate(true)`: every log call returns only once its record is written, so
//! the segments (read back while the logger runs, with no flush) and the thread's `written`
//! count hold each record the moment its call returns, a dropped-into-gap call never
//! happens, and the logger's stop is as usual.

mod common;
use common::*;

#[test]
fn each_call_returns_with_its_record_already_written() {
    let _s = serial();
    let dir = TempDir::new("immediate");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(64 << 10)
        .immediate(true)
        .no_capacity_warning()
        .start()
        .unwrap();
    let path = dir.path().to_path_buf();
    std::thread::Builder::new()
        .name("immediate".into())
        .spawn(move || {
            let written = || tapelog::stats().threads.iter().find(|t| t.name == "immediate").map_or(0, |t| t.written);
            for i in 0..300u64 {
                tapelog::info!("step {} of {}", i, "immediate");
                assert_eq!(written(), i + 1, "call {i} returned before its record was written");
            }
            // Readable from the segments right now, with no flush and the logger running.
            let (events, diags) = decode(&[path]);
            // (The open segment is reported as such: read up to its committed length.)
            assert!(diags.iter().all(|d| d.contains("still running")), "{diags:?}");
            let steps: Vec<u64> = args_of(&events, "step {} of {}").map(|(_, a)| a[0].parse().unwrap()).collect();
            assert_eq!(steps, (0..300).collect::<Vec<_>>());
        })
        .unwrap()
        .join()
        .unwrap();
    let st = tapelog::stats();
    drop(guard);
    assert_eq!(st.total.dropped, 0);
}
