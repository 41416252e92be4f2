//! The physical limit: the same bytes pushed into an rtrb ring of `RING` bytes, plus one
//! TSC read. Every ring is written once in `start` (pre-touched), so no push takes a
//! first-touch page fault, as no tapelog call does once its ring is made.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Result};
use rtrb::{Consumer, Producer, RingBuffer};

use crate::harness::{files, Counted, Finished, Peer};

/// Below this many bytes drained, the consumer pauses before polling again.
const BATCH: usize = 16 << 10;
/// That pause, in TSC ticks (~1 µs at 3 GHz).
const POLL_PAUSE_TICKS: u64 = 3_000;

/// One ring of `RING` bytes per logging thread, drained into one file by one consumer thread.
pub struct BareRtrb<const RING: usize> {
    /// Producers not yet claimed by a logging thread.
    free: Mutex<Vec<Producer<u8>>>,
    /// Set (Release) after the last push; the consumer's Acquire load then sees every push.
    stop: Arc<AtomicBool>,
    consumer: JoinHandle<std::io::Result<()>>,
}

/// The time-stamp counter without fences: what a logger would store.
#[inline(always)]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` exists on every x86_64 CPU and touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Writes the header: 2-byte length, 4-byte call-site id, 6 low bytes of the TSC.
#[inline(always)]
fn header(rec: &mut [u8], len: usize, id: u32) {
    rec[0..2].copy_from_slice(&(len as u16).to_le_bytes());
    rec[2..6].copy_from_slice(&id.to_le_bytes());
    rec[6..12].copy_from_slice(&ticks().to_le_bytes()[..6]);
}

/// Copies `rec` into the ring, spinning while it is full (blocking mode).
#[inline(always)]
fn push(p: &mut Producer<u8>, rec: &[u8]) {
    loop {
        if let Ok(mut chunk) = p.write_chunk_uninit(rec.len()) {
            let (x, y) = chunk.as_mut_slices();
            let (r1, r2) = rec.split_at(x.len());
            // SAFETY: `x` and `y` are `r1.len()` and `r2.len()` (= `rec.len() - x.len()`)
            // writable slots; `MaybeUninit<u8>` has `u8`'s layout; the ring's memory
            // cannot overlap the caller's `rec`.
            unsafe {
                std::ptr::copy_nonoverlapping(r1.as_ptr(), x.as_mut_ptr().cast::<u8>(), r1.len());
                std::ptr::copy_nonoverlapping(r2.as_ptr(), y.as_mut_ptr().cast::<u8>(), r2.len());
            }
            // SAFETY: every slot of the chunk was initialised just above.
            unsafe { chunk.commit_all() };
            return;
        }
        std::hint::spin_loop();
    }
}

/// Writes every byte of the empty ring once without committing anything, so its pages are
/// mapped before the first push (what tapelog does when it makes a ring).
fn pre_touch(p: &mut Producer<u8>) {
    let n = p.slots();
    let Ok(mut chunk) = p.write_chunk_uninit(n) else { return };
    let (a, b) = chunk.as_mut_slices();
    for s in [a, b] {
        // SAFETY: `s` is `s.len()` writable slots of the ring; zero is a valid
        // `MaybeUninit<u8>`.
        unsafe { std::ptr::write_bytes(s.as_mut_ptr(), 0, s.len()) };
    }
    // Dropped without a commit: the consumer sees nothing, the pages stay mapped.
}

/// Moves everything readable from every ring to `w`; returns the bytes moved.
fn drain(rings: &mut [Consumer<u8>], w: &mut impl Write) -> std::io::Result<usize> {
    let mut moved = 0;
    for c in rings.iter_mut() {
        let n = c.slots();
        if n == 0 {
            continue;
        }
        let chunk = c.read_chunk(n).expect("slots() were readable");
        let (a, b) = chunk.as_slices();
        w.write_all(a)?;
        w.write_all(b)?;
        chunk.commit_all();
        moved += n;
    }
    Ok(moved)
}

/// The consumer loop, with a backoff like tapelog's default `Idle::Backoff`.
fn consume(mut rings: Vec<Consumer<u8>>, mut w: BufWriter<File>, stop: &AtomicBool) -> std::io::Result<()> {
    let mut idle = 0u32;
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let moved = drain(&mut rings, &mut w)?;
        if moved > 0 {
            idle = 0;
            if moved < BATCH {
                // Let a batch build up instead of re-reading the producers' indices at
                // once: polling right behind the producer makes its cache line bounce.
                crate::timing::spin(POLL_PAUSE_TICKS);
            }
            continue;
        }
        if stopping {
            break;
        }
        idle += 1;
        match idle {
            0..=64 => std::hint::spin_loop(),
            65..=80 => std::thread::yield_now(),
            _ => std::thread::sleep(Duration::from_micros(50 << (idle - 81).min(4))),
        }
    }
    w.flush()
}

impl<const RING: usize> Peer for BareRtrb<RING> {
    type Local = Producer<u8>;

    fn start(dir: &Path, threads: usize) -> Result<Self> {
        let (mut producers, consumers): (Vec<_>, Vec<_>) = (0..threads).map(|_| RingBuffer::<u8>::new(RING)).unzip();
        producers.iter_mut().for_each(pre_touch);
        let w = BufWriter::with_capacity(64 << 10, File::create(dir.join("bare-rtrb.bin"))?);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let consumer = std::thread::spawn(move || consume(consumers, w, &flag));
        Ok(BareRtrb { free: Mutex::new(producers), stop, consumer })
    }

    fn local(&self) -> Producer<u8> {
        self.free.lock().expect("producer list").pop().expect("one ring per logging thread")
    }

    #[inline(always)]
    fn log_a(&self, p: &mut Producer<u8>, a: u32, b: u64, c: f64) {
        let mut rec = [0u8; 32];
        header(&mut rec, 32, 1);
        rec[12..16].copy_from_slice(&a.to_le_bytes());
        rec[16..24].copy_from_slice(&b.to_le_bytes());
        rec[24..32].copy_from_slice(&c.to_bits().to_le_bytes());
        push(p, &rec);
    }

    #[inline(always)]
    fn log_b(&self, p: &mut Producer<u8>) {
        let mut rec = [0u8; 12];
        header(&mut rec, 12, 2);
        push(p, &rec);
    }

    #[inline(always)]
    fn log_c(&self, p: &mut Producer<u8>, s: &str) {
        let mut rec = [0u8; 14 + 48];
        let n = s.len().min(48);
        header(&mut rec, 14 + n, 3);
        rec[12..14].copy_from_slice(&(n as u16).to_le_bytes());
        rec[14..14 + n].copy_from_slice(&s.as_bytes()[..n]);
        push(p, &rec[..14 + n]);
    }

    fn log_d(&self, p: &mut Producer<u8>, o: &crate::harness::Order) {
        self.log_a(p, o.qty, o.id, o.px);
    }

    fn finish(self) -> Result<Finished> {
        self.stop.store(true, Ordering::Release);
        self.consumer.join().map_err(|_| anyhow!("consumer thread panicked"))??;
        Ok(Finished::default())
    }

    /// Walks the length prefixes of the records in the file.
    fn count(dir: &Path) -> Result<Counted> {
        let (mut records, mut bytes) = (0u64, 0u64);
        for f in files(dir)? {
            let data = std::fs::read(f)?;
            bytes += data.len() as u64;
            let mut at = 0;
            while at + 2 <= data.len() {
                let len = u16::from_le_bytes([data[at], data[at + 1]]) as usize;
                if len < 12 || at + len > data.len() {
                    break;
                }
                at += len;
                records += 1;
            }
        }
        Ok(Counted { messages: Some(records), bytes })
    }
}
