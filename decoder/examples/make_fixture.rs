//! Writes the format fixture committed under `tests/fixtures/` (run once per format version;
//! the committed files are then decoded by every later decoder, forever).
//!
//! `cargo run -p tapelog-decoder --example make_fixture -- tests/fixtures/v1`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: make_fixture OUT_DIR")?;
    let tmp = std::env::temp_dir().join(format!("tapelog-fixture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let guard = tapelog::Builder::new()
        .dir(&tmp)
        .ring_capacity(1024)
        .overflow(tapelog::Overflow::Drop)
        .metadata("service", "fixture")
        .metadata("version", "1")
        .start()?;
    let worker = std::thread::Builder::new().name("worker".into()).spawn(|| {
        for i in 0..5u32 {
            tapelog::debug!("worker step {} of {}", i, 5u8);
        }
        tapelog::warn!("worker done: {:?}", Some("ok"));
    })?;
    worker.join().map_err(|_| "worker panicked")?;
    tapelog::info!("Logging int: {}, int: {}, double: {}", 1u32, 2u64, 3.5f64);
    tapelog::trace!("every kind: {} {} {} {} {} {} {} {}", 1u8, -2i16, 3u128, -4isize, 1.5f32, true, 'λ', "str");
    tapelog::error!(
        "bytes {:?} opt {:?} {:?} hex {:#010x} exp {:e}",
        &[0u8, 255][..],
        None::<u64>,
        Some(-1i64),
        48879u32,
        1234.5f64
    );
    tapelog::info!("widths [{:>8}] [{:<6.2}] [{:^7}] [{:+08.3}]", "right", 1.23456f64, "mid", -2.5f64);
    tapelog::flush();
    // Overflow a 1 KiB ring on purpose so the fixture holds drop markers.
    tapelog::__private::pause_consumer(true);
    for i in 0..200u32 {
        tapelog::info!("burst {}", i);
    }
    tapelog::__private::pause_consumer(false);
    tapelog::flush();
    tapelog::info!("after the burst");
    drop(guard);
    std::fs::create_dir_all(&out)?;
    for (i, (p, _)) in tapelog::list_segments(&tmp).into_iter().enumerate() {
        let dst = std::path::Path::new(&out).join(format!("format-v{}-{i}.tlog", tapelog::wire::FORMAT_VERSION));
        std::fs::copy(&p, &dst)?;
        println!("{}", dst.display());
    }
    std::fs::remove_dir_all(&tmp)?;
    Ok(())
}
