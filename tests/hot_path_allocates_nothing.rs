//! After warm-up (first use of each call site, first call on the thread), a log call
//! performs no heap allocation, whatever its argument kinds.

mod common;
use common::*;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs;

fn log_everything(i: u64, s: &str, owned: &String, bytes: &[u8]) {
    tapelog::info!("Logging int: {}, int: {}, double: {}", i as u32, i, i as f64 * 0.25);
    tapelog::debug!("str {} string {} bytes {:?}", s, owned, bytes);
    tapelog::warn!("opt {:?} {:?} char {} bool {}", Some(i), None::<&str>, 'x', i % 2 == 0);
    tapelog::error!("static message");
}

#[test]
fn hot_path_allocates_nothing_after_warm_up() {
    let _s = serial();
    let dir = TempDir::new("noalloc");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(64 << 10)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let owned = String::from("an owned string");
    let bytes = [1u8, 2, 3, 4];
    // Warm-up: registers the call sites and attaches this thread.
    log_everything(0, "warm", &owned, &bytes);
    let before = allocs();
    for i in 0..200_000u64 {
        log_everything(i, "hot", &owned, &bytes);
    }
    let after = allocs();
    assert_eq!(after - before, 0, "log calls allocated {} times", after - before);
    tapelog::flush();
    assert_eq!(tapelog::stats().total.written, 4 * 200_001);
    drop(guard);
}
