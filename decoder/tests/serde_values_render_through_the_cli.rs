//! serde values logged with `tapelog::serde(&v)` render through the `tapelog` binary (a
//! separate process that does not link the logged types): text equals `format!("{:?}")` and
//! `{:#?}`, and `--json` equals `serde_json::to_value`.

mod common;
use common::*;
use serde::Serialize;

#[derive(Debug, Serialize, Clone)]
enum Side {
    Buy,
    Sell { reason: String },
}

#[derive(Debug, Serialize, Clone)]
struct Fill {
    id: u64,
    px: f64,
    side: Side,
    tags: Vec<String>,
    venue: Option<(char, u16)>,
}

#[test]
fn serde_values_render_like_debug_and_json_like_serde_json() {
    let _s = serial();
    let dir = TempDir::new("serde-cli");
    let fills = [
        Fill { id: 1, px: 101.25, side: Side::Buy, tags: vec![], venue: Some(('X', 7)) },
        Fill {
            id: 2,
            px: -0.5,
            side: Side::Sell { reason: "risk \"limit\"".into() },
            tags: vec!["a".into()],
            venue: None,
        },
    ];
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    for f in &fills {
        tapelog::info!("fill {:?}", tapelog::serde(f));
        tapelog::info!("pretty {:#?}", tapelog::serde(f));
    }
    drop(guard);
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["cat", "--format", "{msg}", d]);
    assert_eq!(code, 0, "{err}");
    let mut expected = String::new();
    for f in &fills {
        expected.push_str(&format!("fill {f:?}\n"));
        expected.push_str(&format!("pretty {f:#?}\n"));
    }
    assert_eq!(out, expected);

    let (code, out, err) = run(&["cat", "--json", d]);
    assert_eq!(code, 0, "{err}");
    let values: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["msg"].as_str().unwrap().starts_with("fill"))
        .map(|v| v["args"][0]["value"].clone())
        .collect();
    let want: Vec<serde_json::Value> = fills.iter().map(|f| serde_json::to_value(f).unwrap()).collect();
    assert_eq!(values, want);
}
