//! With `Idle::Backoff` the consumer waits up to `poll_interval` before looking at idle rings
//! again. `flush()` and shutdown must end that wait: with an interval of an hour, both still
//! complete and every record is in the segment. (Without the checks in the wait, each would
//! block for the hour; the generous timeouts below make that a failure, not a hang.)

use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::*;

/// Far longer than any timeout below.
const HOUR: Duration = Duration::from_secs(3600);
/// How long a flush or shutdown may take here before the test calls it stuck.
const STUCK: Duration = Duration::from_secs(60);

#[test]
fn flush_and_shutdown_do_not_wait_for_the_poll_interval() {
    let _s = serial();
    let dir = TempDir::new("poll-interval");
    let guard = tapelog::Builder::new().dir(dir.path()).poll_interval(HOUR).start().unwrap();
    let mut total = 0usize;
    for round in 0..5usize {
        // Let the consumer go idle and into its wait.
        std::thread::sleep(Duration::from_millis(20));
        for i in 0..100usize {
            tapelog::info!("round {} item {}", round, i);
        }
        total += 100;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            tapelog::flush();
            let _ = tx.send(());
        });
        rx.recv_timeout(STUCK).unwrap_or_else(|_| panic!("flush of round {round} waited for the poll interval"));
        let (events, _) = decode(&[dir.path().to_path_buf()]);
        assert_eq!(record_count(&events), total, "round {round}");
    }
    std::thread::sleep(Duration::from_millis(20));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(guard);
        let _ = tx.send(());
    });
    rx.recv_timeout(STUCK).expect("shutdown waited for the poll interval");
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    assert_eq!(record_count(&events), total);
}
