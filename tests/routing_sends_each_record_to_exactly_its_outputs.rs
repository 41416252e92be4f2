//! Named outputs with routes: by target prefix, by level and by the logger named in the
//! macro, each record reaches exactly the outputs it should (and the main segments get
//! everything); each output directory decodes on its own and keeps its own retention.

mod common;
use common::*;
use tapelog::{Level, Output, Route, TextOutput};

mod orders {
    pub fn accepted(i: u64) {
        tapelog::info!("order {} accepted", i);
    }
    pub fn rejected(i: u64) {
        tapelog::error!("order {} rejected", i);
    }
    pub mod fix {
        pub fn sent(i: u64) {
            tapelog::debug!("fix {} sent", i);
        }
    }
}

mod ordersx {
    pub fn not_orders(i: u64) {
        tapelog::info!("ordersx {}", i);
    }
}

fn formats(dir: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let (events, diags) = decode(&[dir.to_path_buf()]);
    assert!(diags.is_empty(), "{}: {diags:?}", dir.display());
    let mut m = std::collections::BTreeMap::new();
    for e in events {
        if let Owned::Record { format, .. } = e {
            *m.entry(format).or_default() += 1;
        }
    }
    m
}

#[test]
fn records_reach_exactly_their_outputs() {
    let _s = serial();
    let dir = TempDir::new("routing");
    let p = dir.path();
    let errors_log = p.join("errors.log");
    let target = format!("{}::orders", module_path!());
    let guard = tapelog::Builder::new()
        .dir(p.join("main"))
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .filter("trace")
        .output(Output::segments("orders", p.join("orders")).route(Route::target(&target)))
        .output(Output::segments("trades", p.join("trades")).route(Route::logger("trades")))
        .output(Output::text("errors", TextOutput::File(errors_log.clone())).route(Route::level(Level::Error)))
        .output(Output::segments("tiny", p.join("tiny")).segment_size(256 << 10).max_files(2))
        .output(
            Output::text("trades-json", TextOutput::File(p.join("trades.ndjson")))
                .route(Route::logger("trades").and(Route::level(Level::Info)))
                .json(),
        )
        .ring_capacity(64 << 10)
        .segment_size(4 << 20)
        .start()
        .unwrap();
    let n = 20_000u64;
    for i in 0..n {
        orders::accepted(i);
        orders::fix::sent(i);
        ordersx::not_orders(i);
        tapelog::info!(logger: "trades", "trade {} booked", i);
        tapelog::info!("plain {}", i);
        if i % 10 == 0 {
            orders::rejected(i);
            tapelog::error!("risk limit {} hit", i);
        }
    }
    tapelog::flush();
    drop(guard);
    let n = n as usize;
    let e = n / 10;

    let main = formats(&p.join("main"));
    let all: Vec<(&str, usize)> = vec![
        ("fix {} sent", n),
        ("order {} accepted", n),
        ("order {} rejected", e),
        ("ordersx {}", n),
        ("plain {}", n),
        ("risk limit {} hit", e),
        ("trade {} booked", n),
    ];
    assert_eq!(main.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), all);

    // By target prefix: the module and its submodule, not `ordersx`.
    let orders = formats(&p.join("orders"));
    assert_eq!(
        orders.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(),
        [("fix {} sent", n), ("order {} accepted", n), ("order {} rejected", e)]
    );
    // By logger name.
    let trades = formats(&p.join("trades"));
    assert_eq!(trades.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), [("trade {} booked", n)]);
    // By level, to a text file.
    let text = std::fs::read_to_string(&errors_log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * e, "{}", &text[..text.len().min(500)]);
    assert!(lines.iter().all(|l| l.contains(" ERROR ")));
    assert_eq!(lines.iter().filter(|l| l.contains("risk limit")).count(), e);
    assert_eq!(lines.iter().filter(|l| l.contains("rejected")).count(), e);

    // Its own format: NDJSON.
    let nd = std::fs::read_to_string(p.join("trades.ndjson")).unwrap();
    let objs: Vec<serde_json::Value> = nd.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objs.len(), n);
    for (i, o) in objs.iter().enumerate() {
        assert_eq!(o["msg"], format!("trade {i} booked"));
        assert_eq!(o["level"], "INFO");
    }

    // Its own retention: at most 2 files, the newest records in them.
    let tiny = tapelog::list_segments(&p.join("tiny"));
    assert!(tiny.len() <= 2, "{tiny:?}");
    let t = formats(&p.join("tiny"));
    let kept: usize = t.values().sum();
    assert!(kept > 0 && kept < 5 * n, "{kept} records in {tiny:?}");

    let s = tapelog::stats();
    let outs: Vec<_> = s.outputs.iter().map(|o| (o.name.as_str(), o.records, o.errors)).collect();
    assert_eq!(outs, [("orders", (2 * n + e) as u64, 0), ("trades", n as u64, 0), ("tiny", (5 * n + 2 * e) as u64, 0)]);
    assert_eq!(s.text.iter().find(|t| t.output == "errors").map(|t| t.lines), Some(2 * e as u64));
}
