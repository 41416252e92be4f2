//! A flight recorder: a loop logs every step at DEBUG, which is kept in memory, not written;
//! one ERROR record writes out the last 50 ms of steps before it, marked as recorded.
//! Then it prints what `tapelog cat` shows around the error, and the counters.
//!
//! `cargo run --release --example flight_recorder`

use std::time::Duration;

use tapelog::{FlightRecorder, Window};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("tapelog-flight-recorder-{}", std::process::id()));
    let guard = tapelog::Builder::new()
        .dir(&dir)
        .filter("debug")
        .flight_recorder(
            FlightRecorder::new().max_bytes(4 << 20).window_before(Window::Time(Duration::from_millis(50))),
        )
        .start()?;
    tapelog::install_panic_hook();
    for step in 0..20_000u64 {
        tapelog::debug!("step {} price {}", step, 100.0 + (step % 7) as f64 * 0.25);
        if step % 5_000 == 0 {
            tapelog::info!("heartbeat {}", step);
        }
        if step == 15_000 {
            tapelog::error!("order book crossed at step {}", step);
        }
        if step % 100 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    tapelog::flush();
    let f = tapelog::stats().flight_recorder.expect("configured");
    drop(guard);

    let mut out = Vec::new();
    let mut err = Vec::new();
    tapelog_decoder::cat(std::slice::from_ref(&dir), &Default::default(), &mut out, &mut err)?;
    let text = String::from_utf8(out)?;
    let lines: Vec<&str> = text.lines().collect();
    let error_at = lines.iter().position(|l| l.contains("order book crossed")).expect("the error is written");
    println!("{} lines written; the last ones before the error, the error, and the dump's line:", lines.len());
    for l in &lines[error_at.saturating_sub(3)..(error_at + 2).min(lines.len())] {
        println!("  {l}");
    }
    println!(
        "kept {} records: {} written out by {} dump(s), {} evicted, {} still held at the last flush \
         (discarded at shutdown; the bound is {} bytes)",
        f.kept, f.dumped, f.dumps, f.evicted, f.held, f.max_bytes
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
