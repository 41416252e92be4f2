//! `flush()` returns only once everything logged before it is readable from the segment.

mod common;
use common::*;

#[test]
fn flush_is_a_barrier() {
    let _s = serial();
    let dir = TempDir::new("flush");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let mut total = 0usize;
    for round in 0..40usize {
        let n = 1 + round * 37;
        // Log from another thread, then flush from this one: the join orders them.
        std::thread::spawn(move || {
            for i in 0..n {
                tapelog::info!("round {} item {}", round, i);
            }
        })
        .join()
        .unwrap();
        for i in 0..n {
            tapelog::warn!("main round {} item {}", round, i);
        }
        tapelog::flush();
        total += 2 * n;
        // The live (unfinished) segment must already hold every record.
        let (events, _) = decode(&[dir.path().to_path_buf()]);
        assert_eq!(record_count(&events), total, "round {round}");
    }
    drop(guard);
}
