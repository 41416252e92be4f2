//! A sink of the program's own: every record as one NDJSON line, posted over HTTP in batches
//! to a collector. The example starts that collector itself (a small HTTP server on
//! loopback), logs from three threads, shuts down, and checks that every record arrived.
//!
//! `cargo run --release --example custom_sink`
//!
//! The sink says it may block (it does network I/O), so tapelog runs it on a thread of its
//! own behind a bounded queue: a slow or absent server costs the sink's records (counted in
//! `stats().sinks`), never the segments or a caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Posts records as NDJSON, one request per batch of up to 256 KiB.
struct HttpNdjson {
    url: String,
    agent: ureq::Agent,
    body: String,
    failed_posts: u64,
}

impl HttpNdjson {
    fn post(&mut self) {
        if self.body.is_empty() {
            return;
        }
        let r = self.agent.post(&self.url).set("Content-Type", "application/x-ndjson").send_string(&self.body);
        if r.is_err() {
            // A real sink would retry or spill; this one counts.
            self.failed_posts += 1;
        }
        self.body.clear();
    }
}

impl tapelog::Sink for HttpNdjson {
    fn record(&mut self, r: &tapelog::Record<'_>) {
        self.body.push_str(&r.to_json());
        self.body.push('\n');
        if self.body.len() >= 256 << 10 {
            self.post();
        }
    }
    fn end_batch(&mut self) {
        self.post();
    }
    fn may_block(&self) -> bool {
        true
    }
    fn close(&mut self) {
        self.post();
        if self.failed_posts > 0 {
            eprintln!("custom_sink: {} posts failed", self.failed_posts);
        }
    }
}

/// The collector: counts the NDJSON lines it receives, checking each is a JSON record.
fn start_server() -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the HTTP server");
    let url = format!("http://{}/ingest", server.server_addr().to_ip().expect("an IP address"));
    let (lines, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (l, b) = (lines.clone(), bad.clone());
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let ok = req.as_reader().read_to_string(&mut body).is_ok();
            for line in body.lines() {
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(v) if v["msg"].is_string() && v["ts"].is_i64() => l.fetch_add(1, Ordering::Relaxed),
                    _ => b.fetch_add(1, Ordering::Relaxed),
                };
            }
            let code = if ok { 200 } else { 400 };
            let _ = req.respond(tiny_http::Response::empty(code));
        }
    });
    (url, lines, bad)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, received, bad) = start_server();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tapelog-custom-sink");
    let _ = std::fs::remove_dir_all(&dir);
    let sink =
        HttpNdjson { url: url.clone(), agent: ureq::AgentBuilder::new().build(), body: String::new(), failed_posts: 0 };
    let guard = tapelog::Builder::new()
        .dir(&dir)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .sink_queue_bytes(64 << 20)
        .sink("http-ndjson", sink)
        .start()?;
    let per_thread = 50_000u64;
    let threads: Vec<_> = (0..3u32)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("desk-{t}"))
                .spawn(move || {
                    for i in 0..per_thread {
                        tapelog::info!(desk = t, qty = i; "order {} accepted @ {:.2}", i, 100.0 + i as f64 / 100.0);
                    }
                })
                .expect("spawn")
        })
        .collect();
    for t in threads {
        t.join().expect("join");
    }
    drop(guard); // drains, then closes the sink (its last post) before returning
    let s = tapelog::stats();
    let k = &s.sinks[0];
    let logged = 3 * per_thread;
    println!("posted to {url}");
    println!(
        "logged {logged}, sink {}: {} records handed over, {} dropped; server received {} NDJSON lines ({} bad)",
        k.name,
        k.records,
        k.dropped,
        received.load(Ordering::Relaxed),
        bad.load(Ordering::Relaxed)
    );
    assert_eq!(s.total.written, logged, "segments");
    assert_eq!(k.records + k.dropped, logged, "every record handed over or counted as dropped");
    assert_eq!(k.disabled, None);
    assert_eq!(received.load(Ordering::Relaxed), k.records, "every handed-over record arrived");
    assert_eq!(bad.load(Ordering::Relaxed), 0);
    Ok(())
}
