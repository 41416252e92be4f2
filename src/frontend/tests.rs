//! The hot path against a real ring, without a consumer thread or files, so it also runs
//! under Miri (`cargo +nightly miri test -p tapelog --lib frontend::`): exact record bytes,
//! records that wrap around the ring's end, drops and the in-band marker, and detaching.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::shared::{Shared, CURRENT, GENERATION};
use crate::wire::record::record_head;
use crate::wire::{DROP_MARKER_ID, RECORD_HEADER_LEN};

/// Pops `n` bytes from the ring.
fn pop(ring: &mut rtrb::Consumer<u8>, n: usize) -> Vec<u8> {
    let c = ring.read_chunk(n).expect("enough bytes");
    let (a, b) = c.as_slices();
    let v = [a, b].concat();
    c.commit_all();
    v
}

#[test]
fn records_wraps_drops_and_markers_are_exact_bytes_in_the_ring() {
    // A private logger generation with no consumer: the test plays the consumer.
    let cfg = crate::Builder::new().ring_capacity(100).overflow(crate::Overflow::Drop).into_config();
    let generation = 1_000_000;
    let shared = Arc::new(Shared::new(generation, cfg, Vec::new()));
    *CURRENT.lock().unwrap() = Some(shared.clone());
    GENERATION.store(generation, Ordering::SeqCst);

    std::thread::spawn(move || {
        // Record (u32, u64, f64) = 10 + 20 = 30 bytes; 3 fit in the 100-byte ring.
        for i in 0..3u32 {
            crate::info!("n {} {} {}", i, u64::from(i) * 10, f64::from(i) / 2.0);
        }
        let mut handed = Vec::new();
        shared.handover.take(&mut handed);
        let mut ring = handed.pop().expect("attached").ring;
        let bytes = pop(&mut ring, 90);
        for (i, rec) in bytes.chunks(30).enumerate() {
            let (id, _) = record_head(rec).unwrap();
            assert!(id > 0);
            assert_eq!(&rec[10..14], &(i as u32).to_le_bytes());
            assert_eq!(&rec[14..22], &(i as u64 * 10).to_le_bytes());
            assert_eq!(&rec[22..30], &(i as f64 / 2.0).to_bits().to_le_bytes());
        }
        // The ring's write position is now 90: the next record wraps (10 + 20 bytes).
        crate::info!("n {} {} {}", 7u32, 70u64, 3.5f64);
        let rec = pop(&mut ring, 30);
        assert_eq!(&rec[10..14], &7u32.to_le_bytes());
        assert_eq!(&rec[22..30], &3.5f64.to_bits().to_le_bytes());

        // Fill the ring (3 records), then two more are dropped.
        for i in 0..5u32 {
            crate::warn!("fill {} {} {}", i, 0u64, 0f64);
        }
        let before = pop(&mut ring, 90);
        assert_eq!(before.len(), 90);
        // Room again: the next call first writes the drop marker (10 + 24), then itself.
        crate::warn!("after {} {} {}", 9u32, 9u64, 9f64);
        let marker = pop(&mut ring, RECORD_HEADER_LEN + 24);
        assert_eq!(record_head(&marker).unwrap().0, DROP_MARKER_ID);
        assert_eq!(&marker[10..18], &2u64.to_le_bytes(), "two records dropped");
        let rec = pop(&mut ring, 30);
        assert_eq!(&rec[10..14], &9u32.to_le_bytes());
        assert_eq!(ring.slots(), 0);

        let p = &shared.threads.lock().unwrap()[0].producer;
        assert_eq!(p.logged.load(Ordering::Relaxed), 10);
        assert_eq!(p.dropped.load(Ordering::Relaxed), 2);

        // Stop the logger: the next call detaches (freeing the ring) and is counted.
        GENERATION.store(0, Ordering::SeqCst);
        let before = crate::shared::NO_LOGGER_DROPS.load(Ordering::Relaxed);
        crate::info!("after stop {}", 1u8);
        assert_eq!(crate::shared::NO_LOGGER_DROPS.load(Ordering::Relaxed), before + 1);
        assert!(ring.is_abandoned(), "detaching dropped the producer");
    })
    .join()
    .unwrap();
    *CURRENT.lock().unwrap() = None;
}
