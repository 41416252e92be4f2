//! `tapelog stats --json` is machine-readable (validated with serde_json) and `--top N`
//! lists the call sites with the most records, or with `--by bytes` the most bytes.

mod common;
use common::*;

#[test]
fn stats_json_agrees_with_the_fixture() {
    let (code, out, err) = run(&["stats", "--json", fixture_dir().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["segments"], 1);
    assert_eq!(v["bytes"], 2617);
    assert_eq!(v["records"], 84);
    assert_eq!(v["dropped"]["records"], 127);
    assert_eq!(v["dropped"]["reports"], 1);
    assert_eq!(v["per_level"]["INFO"], 76);
    assert_eq!(v["per_thread"]["worker"], 6);
    assert_eq!(v["span"]["first"], "2026-11-21T12:49:11.494780181Z");
    assert_eq!(v["span"]["first_ns"], 1795265351494780181i64);
    assert_eq!(v["runs"][0]["metadata"]["service"], "fixture");
    let sites = v["call_sites"].as_array().unwrap();
    assert_eq!(sites.len(), 8);
    assert_eq!(v["call_sites_total"], 8);
    assert_eq!(sites[0]["format"], "burst {}");
    assert_eq!(sites[0]["records"], 73);
    let sum: u64 = sites.iter().map(|s| s["records"].as_u64().unwrap()).sum();
    assert_eq!(sum, 84);
}

#[test]
fn top_lists_the_noisiest_call_sites_by_records_and_by_bytes() {
    let _s = serial();
    let dir = TempDir::new("stats-top");
    let guard = tapelog::Builder::new().dir(dir.path()).overflow(tapelog::Overflow::Block).start().unwrap();
    for i in 0..1000u32 {
        tapelog::info!("many small {}", i as u8);
        if i % 10 == 0 {
            tapelog::warn!("fewer but big {}", "x".repeat(200));
        }
        if i % 100 == 0 {
            tapelog::error!("rare {} {}", i, i as u64);
        }
    }
    drop(guard);
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["stats", "--json", "--top", "2", d]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sites = v["call_sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!((sites[0]["format"].as_str().unwrap(), sites[0]["records"].as_u64().unwrap()), ("many small {}", 1000));
    // Record header 10 bytes + the arguments.
    assert_eq!(sites[0]["bytes"], 1000 * (10 + 1));
    assert_eq!(
        (sites[1]["format"].as_str().unwrap(), sites[1]["records"].as_u64().unwrap()),
        ("fewer but big {}", 100)
    );
    assert_eq!(sites[1]["bytes"], 100 * (10 + 4 + 200));
    assert_eq!(v["call_sites_total"], 3);

    let (_, out, _) = run(&["stats", "--json", "--top", "1", "--by", "bytes", d]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["call_sites"][0]["format"], "fewer but big {}");

    let (_, text, _) = run(&["stats", "--top", "2", "--by", "bytes", d]);
    let table: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("per call site")).collect();
    assert_eq!(table[0], "per call site (top 2 by bytes):");
    assert_eq!(table.len(), 4, "{text}");
    assert!(table[2].contains("21400") && table[2].contains("\"fewer but big {}\""), "{text}");
    assert!(table[3].contains("11000") && table[3].contains("\"many small {}\""), "{text}");
}
