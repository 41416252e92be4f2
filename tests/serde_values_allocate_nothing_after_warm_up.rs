//! Logging a serde value allocates nothing once its shapes have been seen and the thread's
//! staging buffer has grown to the largest value (values of bounded size).

mod common;
use common::*;
use serde::Serialize;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs;

#[derive(Serialize)]
struct Quote {
    bid: f64,
    ask: f64,
    size: u32,
}

#[derive(Serialize)]
enum Msg {
    Ack { id: u64 },
    Reject(String),
    Heartbeat,
}

#[derive(Serialize)]
struct Book {
    venue: String,
    levels: Vec<(f64, u32)>,
    last: Option<Msg>,
}

fn log_all(i: u64, books: &[Book]) {
    let q = Quote { bid: i as f64, ask: i as f64 + 0.5, size: i as u32 };
    tapelog::info!("quote {:?}", tapelog::serde(&q));
    let b = &books[i as usize % books.len()];
    tapelog::info!(book = tapelog::serde(b); "book at {}", i);
}

#[test]
fn serde_values_allocate_nothing_after_warm_up() {
    let _s = serial();
    let dir = TempDir::new("serde-noalloc");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(64 << 10)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let books: Vec<Book> = (0..4u32)
        .map(|n| Book {
            venue: format!("venue-{n}"),
            levels: (0..n).map(|l| (100.0 + l as f64, l * 10)).collect(),
            last: match n {
                0 => None,
                1 => Some(Msg::Ack { id: 7 }),
                2 => Some(Msg::Reject("too late".into())),
                _ => Some(Msg::Heartbeat),
            },
        })
        .collect();
    // Warm-up: every shape once, and the largest book once.
    for i in 0..books.len() as u64 {
        log_all(i, &books);
    }
    let before = allocs();
    let n = if cfg!(miri) { 100 } else { 100_000u64 };
    for i in 0..n {
        log_all(i, &books);
    }
    let after = allocs();
    assert_eq!(after - before, 0, "serde log calls allocated {} times", after - before);
    tapelog::flush();
    assert_eq!(tapelog::stats().total.written, 2 * (n + books.len() as u64));
    drop(guard);
}
