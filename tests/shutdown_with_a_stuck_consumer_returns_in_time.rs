//! Dropping the guard while the consumer is stuck returns after the configured timeout and
//! reports what it could not write, instead of hanging the application's exit.

mod common;
use common::*;

#[test]
fn a_stuck_consumer_does_not_hang_shutdown_and_the_loss_is_reported() {
    let _s = serial();
    let dir = TempDir::new("stuck-shutdown");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .shutdown_timeout(std::time::Duration::from_millis(300))
        .start()
        .unwrap();
    tapelog::info!("written {}", 0u32);
    tapelog::flush();
    tapelog::__private::stall_consumer(true);
    for i in 1..=100u32 {
        tapelog::info!("stuck {}", i);
    }
    drop(guard); // must return (the test would hang otherwise)
    let st = tapelog::stats();
    assert_eq!(st.total.unwritten_at_shutdown, 100, "{:?}", st.total);
    let err = st.last_error.unwrap_or_default();
    assert!(err.contains("shutdown timed out") && err.contains("100 records not written"), "{err}");
    // Let the stuck consumer finish in the background, so the process can move on cleanly.
    tapelog::__private::stall_consumer(false);
}
