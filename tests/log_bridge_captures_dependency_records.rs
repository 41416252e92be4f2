//! The `log` bridge: records from a real dependency that logs through `log` (globset) land in
//! the segments with their level, target, file and line; messages without arguments are
//! deferred verbatim (braces included); the run-time filter applies by target.

mod common;
use common::*;

#[test]
fn log_records_from_a_dependency_land_in_the_segments() {
    let _s = serial();
    let dir = TempDir::new("log-bridge");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    tapelog::log_bridge::init().unwrap();

    // globset logs "built glob set; ..." at debug level when a set is built.
    let mut b = globset::GlobSetBuilder::new();
    b.add(globset::Glob::new("*.rs").unwrap());
    b.add(globset::Glob::new("src/**/*.{toml,md}").unwrap());
    let set = b.build().unwrap();
    assert!(set.is_match("main.rs"));

    log::info!("static message with {{braces}} kept");
    log::warn!(target: "vendor::feed", "formatted {} of {}", 3, "x");
    tapelog::set_filter("trace,vendor::feed=off").unwrap();
    log::warn!(target: "vendor::feed", "filtered {}", 4);
    tapelog::set_filter("trace").unwrap();
    log::logger().flush();
    drop(guard);

    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = tapelog_decoder::CatOptions { json: true, ..Default::default() };
    tapelog_decoder::cat(&[dir.path().to_path_buf()], &opts, &mut out, &mut err).unwrap();
    let recs: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let globset = recs
        .iter()
        .find(|r| r["target"] == "globset" && r["msg"].as_str().unwrap().starts_with("built glob set;"))
        .expect("globset's record arrived");
    assert_eq!(globset["level"], "DEBUG");
    assert!(globset["file"].as_str().unwrap().contains("globset"), "{globset}");
    assert!(globset["line"].as_u64().unwrap() > 0);

    let fixed = recs.iter().find(|r| r["level"] == "INFO").unwrap();
    assert_eq!(fixed["msg"], "static message with {braces} kept");
    assert_eq!(fixed["args"].as_array().unwrap().len(), 0, "deferred: no arguments");
    assert!(fixed["file"].as_str().unwrap().ends_with("log_bridge_captures_dependency_records.rs"));

    let formatted: Vec<_> = recs.iter().filter(|r| r["target"] == "vendor::feed").collect();
    assert_eq!(formatted.len(), 1, "the second vendor::feed record was filtered out");
    assert_eq!(formatted[0]["msg"], "formatted 3 of x");
    assert_eq!(formatted[0]["level"], "WARN");
}
