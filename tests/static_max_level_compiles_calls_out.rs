//! With a compile-time ceiling (`--features max_level_info`), call sites below it compile to
//! nothing: their arguments are never evaluated and they never register. `.ci/run` runs this
//! file with the feature on; without it, the test checks the opposite, so both builds prove
//! something.

mod common;
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};

static EVALUATED: AtomicU32 = AtomicU32::new(0);

fn side_effect(v: u32) -> u32 {
    EVALUATED.fetch_add(1, Ordering::Relaxed);
    v
}

#[test]
fn calls_below_the_static_maximum_are_not_compiled_in() {
    let _s = serial();
    let dir = TempDir::new("static-level");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    for i in 0..10 {
        tapelog::debug!("debug {}", side_effect(i));
        tapelog::trace!("trace {}", side_effect(i));
        tapelog::info!("info {}", i);
    }
    drop(guard);
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    let debug = args_of(&events, "debug {}").count();
    let info = args_of(&events, "info {}").count();
    assert_eq!(info, 10);
    if cfg!(feature = "max_level_info") {
        assert_eq!(tapelog::STATIC_MAX_LEVEL, tapelog::LevelFilter::Info);
        assert_eq!(EVALUATED.load(Ordering::Relaxed), 0, "arguments of compiled-out calls must not run");
        assert_eq!(debug, 0);
    } else {
        assert_eq!(EVALUATED.load(Ordering::Relaxed), 20);
        assert_eq!(debug, 10);
    }
}
