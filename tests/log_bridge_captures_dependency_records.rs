//! The `log` bridge: records from a real dependency that logs through `log` (globset) land in
//! the segments with their level, target, file and line; messages without arguments are
//! deferred verbatim (braces included); the run-time filter applies by target; key-value
//! pairs arrive as typed fields, a warm statement allocating nothing.

mod common;
use common::*;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// `tapelog cat --json` of `dir`: the text, and each line parsed.
fn cat_json(dir: &std::path::Path) -> (String, Vec<serde_json::Value>) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = tapelog_decoder::CatOptions { json: true, ..Default::default() };
    tapelog_decoder::cat(&[dir.to_path_buf()], &opts, &mut out, &mut err).unwrap();
    let text = String::from_utf8(out).unwrap();
    let recs = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (text, recs)
}

/// Installs the bridge once for this process (`log` takes one logger), for either test.
fn install_bridge() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tapelog::log_bridge::init().unwrap());
}

#[test]
fn log_records_from_a_dependency_land_in_the_segments() {
    let _s = serial();
    let dir = TempDir::new("log-bridge");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    install_bridge();

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

    let (_, recs) = cat_json(dir.path());
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

#[test]
fn log_key_values_arrive_as_typed_fields() {
    let _s = serial();
    let dir = TempDir::new("log-bridge-kv");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    install_bridge();
    tapelog::set_filter("trace").unwrap();

    let addr: std::net::SocketAddr = "10.0.0.1:9000".parse().unwrap();
    let mut allocs = Vec::new();
    for i in 0..3u64 {
        let a0 = counting_alloc::allocs();
        log::info!(order = i, delta = -5i64, px = 101.25, live = true, venue = "XNAS", peer = addr; "fill");
        allocs.push(counting_alloc::allocs() - a0);
    }
    // The first call makes the call site; later ones reuse the thread's buffers.
    assert_eq!(allocs[1..], [0, 0], "allocations per call: {allocs:?}");
    let venue = String::from("BATS");
    log::warn!(target: "vendor::feed", qty = 7u32, venue = venue.as_str(); "slow {} ms", 12);
    // Same statement shape, another type for a field: its own call site, still typed.
    log::info!(order = -1i64; "fill");
    log::logger().flush();
    drop(guard);

    let (text, recs) = cat_json(dir.path());
    let fills: Vec<_> = recs.iter().filter(|r| r["msg"].as_str().is_some_and(|m| m.starts_with("fill"))).collect();
    assert_eq!(fills.len(), 4, "{text}");
    for (i, r) in fills[..3].iter().enumerate() {
        let f = &r["fields"];
        assert_eq!(f["order"], serde_json::json!(i), "{r}");
        assert_eq!(f["delta"], serde_json::json!(-5), "{r}");
        assert_eq!(f["px"], serde_json::json!(101.25), "{r}");
        assert_eq!(f["live"], serde_json::json!(true), "{r}");
        assert_eq!(f["venue"], "XNAS", "{r}");
        assert_eq!(f["peer"], "10.0.0.1:9000", "a Display value arrives formatted: {r}");
    }
    assert_eq!(fills[3]["fields"]["order"], serde_json::json!(-1), "{}", fills[3]);
    let slow = recs.iter().find(|r| r["target"] == "vendor::feed").expect("the warn record");
    assert_eq!(slow["msg"], "slow 12 ms");
    assert_eq!(slow["fields"]["qty"], serde_json::json!(7));
    assert_eq!(slow["fields"]["venue"], "BATS");

    // Typed in the record, not strings: the call site's dictionary entry names the kinds.
    let mut kinds = Vec::new();
    for (path, _) in tapelog::list_segments(dir.path()) {
        let mut r = tapelog::wire::reader::EntryReader::open(std::fs::File::open(path).unwrap()).unwrap();
        while let Some((_, e)) = r.next_entry().unwrap() {
            if let tapelog::wire::reader::Entry::Callsite(cs) = e {
                if cs.format == "fill" && cs.fields.len() == 6 {
                    kinds = cs.kinds.to_vec();
                }
            }
        }
    }
    use tapelog::wire::ArgKind;
    let want = [ArgKind::U64, ArgKind::I64, ArgKind::F64, ArgKind::BOOL, ArgKind::STR, ArgKind::STR];
    assert_eq!(kinds, want.map(|k| k.0), "field kinds of the fill statement");
}
