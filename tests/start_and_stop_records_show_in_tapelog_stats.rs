//! The consumer writes a record of the logger's start (configuration, format version, tick
//! rate) and of its clean shutdown (totals); `tapelog stats` shows both, in text and JSON.

mod common;
use common::*;

#[test]
fn start_and_stop_records_reach_stats() {
    let _s = serial();
    let dir = TempDir::new("lifecycle");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(128 << 10)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .start()
        .unwrap();
    for i in 0..1000u32 {
        tapelog::info!("lifecycle {}", i);
    }
    drop(guard);
    let (s, _) = tapelog_decoder::summary::summarize(&[dir.path().to_path_buf()], &mut std::io::sink()).unwrap();
    assert_eq!(s.records, 1000, "the lifecycle entries are not records");
    assert_eq!(s.lifecycle.len(), 2, "{:?}", s.lifecycle);
    let get = |i: usize, k: &str| s.lifecycle[i].items.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(s.lifecycle[0].phase, "started");
    assert_eq!(get(0, "format_version").as_deref(), Some(tapelog::wire::FORMAT_VERSION.to_string().as_str()));
    assert_eq!(get(0, "ring_capacity").as_deref(), Some("131072"));
    assert_eq!(get(0, "overflow").as_deref(), Some("Block"));
    assert!(get(0, "ticks_per_sec").unwrap().parse::<f64>().unwrap() > 1e6);
    assert_eq!(s.lifecycle[1].phase, "stopped");
    assert_eq!(get(1, "logged").as_deref(), Some("1000"));
    assert_eq!(get(1, "written").as_deref(), Some("1000"));
    assert_eq!(get(1, "dropped").as_deref(), Some("0"));
    assert!(s.lifecycle[0].unix_ns <= s.lifecycle[1].unix_ns);

    let text = tapelog_decoder::summary::render(&s, 5, false);
    assert!(text.contains("logger started ") && text.contains(" format_version=1 "), "{text}");
    assert!(text.contains("logger stopped ") && text.contains(" logged=1000 written=1000 dropped=0 "), "{text}");
    let json = tapelog_decoder::summary::to_json(&s, 5, false);
    assert_eq!(json["lifecycle"][0]["phase"], "started");
    assert_eq!(json["lifecycle"][1]["items"]["written"], "1000");
}
