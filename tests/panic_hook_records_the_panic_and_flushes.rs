//! The optional panic hook writes the panic's message and location as an error record and
//! flushes it to the segment before the panic continues.

mod common;
use common::*;

#[test]
fn a_panic_is_recorded_with_its_location_and_flushed() {
    let _s = serial();
    let dir = TempDir::new("panic-hook");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    tapelog::install_panic_hook();
    let line = line!() + 4;
    let r = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| {
            panic!("order book crossed: bid {} > ask {}", 101, 100);
        })
        .unwrap()
        .join();
    assert!(r.is_err(), "the panic continued after the hook");
    // No flush or drop here: the hook already flushed, so the live segment holds the record.
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    let rec = events
        .iter()
        .find_map(|e| match e {
            Owned::Record { level, args, format, .. } if format.starts_with("thread '{}' panicked") => {
                Some((level.clone(), args.clone()))
            }
            _ => None,
        })
        .expect("panic record in the segment");
    assert_eq!(rec.0, "ERROR");
    assert_eq!(rec.1[0], "doomed");
    assert!(rec.1[1].ends_with("panic_hook_records_the_panic_and_flushes.rs"), "{:?}", rec.1);
    assert_eq!(rec.1[2], line.to_string());
    assert_eq!(rec.1[4], "order book crossed: bid 101 > ask 100");
    drop(guard);
    let _ = std::panic::take_hook();
}
