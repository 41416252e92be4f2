//! Run-time level filters: directives from the Builder or `TAPELOG`, evaluated once per call
//! site, and `set_filter` changes that affected call sites pick up at their next call.

mod common;
use common::*;

mod noisy {
    pub fn log(i: u32) {
        tapelog::info!("noisy info {}", i);
        tapelog::warn!("noisy warn {}", i);
    }
}

mod hot {
    pub fn log(i: u32) {
        tapelog::error!("hot error {}", i);
    }
}

fn written_by(events: &[Owned], format: &str) -> usize {
    args_of(events, format).count()
}

#[test]
fn directives_quiet_modules_and_set_filter_changes_them_while_running() {
    let _s = serial();
    let dir = TempDir::new("filters");
    let me = module_path!();
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .filter(format!("debug,{me}::noisy=warn,{me}::hot=off"))
        .start()
        .unwrap();
    for i in 0..10 {
        tapelog::trace!("top trace {}", i); // below the default (debug)
        tapelog::debug!("top debug {}", i);
        noisy::log(i);
        hot::log(i);
    }
    tapelog::flush();
    // Turn the hot module back on and quiet everything else: already-registered call sites
    // take the change at their next call.
    tapelog::set_filter(&format!("error,{me}::hot=trace")).unwrap();
    for i in 10..20 {
        tapelog::debug!("top debug {}", i);
        noisy::log(i);
        hot::log(i);
    }
    tapelog::set_filter("trace").unwrap();
    drop(guard);

    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(written_by(&events, "top trace {}"), 0);
    assert_eq!(written_by(&events, "top debug {}"), 10, "debug passes the default, then error quiets it");
    assert_eq!(written_by(&events, "noisy info {}"), 0);
    assert_eq!(written_by(&events, "noisy warn {}"), 10, "warn passes noisy=warn, then error quiets it");
    let hot: Vec<u32> = args_of(&events, "hot error {}").map(|(_, a)| a[0].parse().unwrap()).collect();
    assert_eq!(hot, (10..20).collect::<Vec<_>>(), "hot=off, then hot=trace");
}

#[test]
fn bad_directives_are_start_errors_naming_the_source() {
    let _s = serial();
    let e = tapelog::Builder::new().filter("info,x=loudest").start().unwrap_err();
    assert!(e.to_string().contains("Builder::filter") && e.to_string().contains("x=loudest"), "{e}");
    assert!(tapelog::set_filter("nonsense level=").is_err());
}

#[test]
fn the_tapelog_environment_variable_sets_the_filter() {
    let _s = serial();
    let dir = TempDir::new("filter-env");
    // SAFETY: tests in this binary are serialized by `serial()`, and nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var("TAPELOG", "warn") };
    let guard = tapelog::Builder::new().dir(dir.path()).start();
    // SAFETY: as above.
    unsafe { std::env::remove_var("TAPELOG") };
    let guard = guard.unwrap();
    tapelog::info!("env info");
    tapelog::warn!("env warn");
    drop(guard);
    tapelog::set_filter("trace").unwrap();
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    assert_eq!(written_by(&events, "env info"), 0);
    assert_eq!(written_by(&events, "env warn"), 1);
}
