//! serde values as deferred arguments: `info!("order {}", tapelog::serde(&order))`.
//!
//! On the hot path the value is walked twice before any ring space is reserved (its
//! `Serialize` impl is the program's code and may itself log): once to fingerprint its
//! shape (struct, field and variant names, scalar types), which a thread-local cache maps to
//! a shape id, and once to encode it with bincode into a reused thread-local buffer. The
//! record then carries `shape id, length, bincode bytes`, copied into the ring with one
//! `memcpy`. The first time a shape is seen its descriptor is registered, and the consumer
//! writes it into each segment (a `SHAPE` entry) before the first record that uses it, so
//! the decoder renders the value with its names and without the program's types.
//!
//! A shape describes what was logged, not the whole type: other variants of an enum, the
//! inside of a `None` or the element of an empty `Vec` get their own shape when they are
//! logged. See `docs/FORMAT.md` for the wire format.

mod fingerprint;
mod registry;

use std::cell::RefCell;
use std::fmt;

use tapelog_format::serde_value::encode;
pub use tapelog_format::serde_value::{decode_arg, shape, Data, Shape, Shapes, Structured, UNSERIALIZABLE};

use crate::frontend::args::Arg;
use crate::wire::ArgKind;

pub(crate) use registry::{keep_room, shapes_since};

/// Wraps a `serde::Serialize` value so it can be logged as a deferred argument or field.
///
/// ```
/// #[derive(serde::Serialize, Debug)]
/// enum Side { Buy, Sell }
/// #[derive(serde::Serialize, Debug)]
/// struct Order { id: u64, side: Side, px: Option<f64> }
///
/// let order = Order { id: 7, side: Side::Buy, px: Some(101.5) };
/// tapelog::info!("order {:?}", tapelog::serde(&order));
/// tapelog::info!(order = tapelog::serde(&order); "accepted");
/// ```
///
/// The decoder prints the value as `{:?}` would (`{:#?}` pretty-prints it), and as nested
/// JSON with `--json`. Values that fit the thread's staging buffer (grown to the largest
/// value logged, and kept between calls up to 64 KiB) cost no allocation after the first
/// call with each shape.
#[inline(always)]
pub fn serde<T: serde::Serialize + ?Sized>(value: &T) -> Serde<'_, T> {
    Serde(value)
}

/// A value logged through [`serde()`](fn@serde).
pub struct Serde<'a, T: ?Sized>(&'a T);

impl<T: serde::Serialize + ?Sized> fmt::Debug for Serde<'_, T> {
    /// What the decoder shows for the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Structured::from_value(self.0) {
            Ok(s) => fmt::Debug::fmt(&s, f),
            Err(e) => write!(f, "<unserializable: {e}>"),
        }
    }
}

impl<T: serde::Serialize + ?Sized> fmt::Display for Serde<'_, T> {
    /// The same as `Debug`: `{}` of a serde value shows its structure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl<T: serde::Serialize + ?Sized> Arg for Serde<'_, T> {
    const KIND: ArgKind = ArgKind::SERDE;
    const STATIC_LEN: Option<usize> = None;
    const STAGED: bool = true;

    #[inline(always)]
    fn stage(&self, out: &mut Vec<u8>) {
        stage(self.0, out);
    }

    /// Staged arguments are copied from the staging buffer, so this is never called.
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        0
    }

    /// Never called (see [`Arg::STAGED`]); writes nothing.
    #[inline(always)]
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
        dst
    }
}

/// Appends the record encoding of `v` (`shape:u32 len:u32 bytes`) to `out`.
#[inline]
fn stage<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    let id = fingerprint::fingerprint(v)
        .map_err(|e| e.0)
        .and_then(|fp| registry::shape_id(fp, v))
        .and_then(|id| encode(v, out).map(|()| id));
    let id = match id {
        Ok(id) => id,
        Err(e) => unserializable(out, start, &e),
    };
    let len = (out.len() - start - 8) as u32;
    out[start..start + 4].copy_from_slice(&id.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
}

#[cold]
fn unserializable(out: &mut Vec<u8>, start: usize, e: &str) -> u32 {
    out.truncate(start + 8);
    out.extend_from_slice(e.as_bytes());
    UNSERIALIZABLE
}

/// A staging buffer that grew past this (for an unusually large value) is freed after the
/// call rather than kept for the thread's life.
const STAGE_KEEP: usize = 64 << 10;

thread_local! {
    /// Staging for the serde arguments of one log call, reused between calls.
    static STAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Gives this thread's staging buffer its working size now, its memory touched, so the
/// first staged call neither allocates nor faults (see [`crate::preallocate`]); and readies
/// what the first value of a new shape needs, so that it makes no system call and takes no
/// page fault either: room in the shape table, and heap memory this thread's allocator has
/// already touched. (Registering a shape builds its descriptor, a few small allocations
/// that are freed again but one. An allocator that keeps freed memory for reuse, as glibc's
/// does below its trim threshold of 128 KiB, serves them from the touched block.)
pub(crate) fn preallocate() {
    let _ = STAGE.try_with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            if buf.capacity() < STAGE_PREALLOC {
                *buf = crate::ring::touched(STAGE_PREALLOC);
            }
        }
    });
    keep_room();
    drop(crate::ring::touched(WARM_HEAP));
}

/// Heap touched and given back by [`preallocate`] for the registration of new shapes: room
/// for hundreds of descriptors, well under glibc's trim threshold (128 KiB).
const WARM_HEAP: usize = 64 << 10;

/// What [`preallocate`] gives the staging buffer.
const STAGE_PREALLOC: usize = 4 << 10;

/// Runs `f` with the staged encoding of every staged argument of `stage_all` (in order).
/// Uses this thread's buffer; a call made while it is in use (a `Serialize` impl that logs)
/// stages into a fresh `Vec`.
#[inline]
pub(crate) fn with_staged<R>(stage_all: impl Fn(&mut Vec<u8>), f: impl FnOnce(&[u8]) -> R) -> R {
    let mut f = Some(f);
    let done = STAGE.try_with(|cell| {
        let Ok(mut buf) = cell.try_borrow_mut() else { return None };
        buf.clear();
        stage_all(&mut buf);
        let r = f.take().map(|f| f(&buf));
        if buf.capacity() > STAGE_KEEP {
            *buf = Vec::new();
        }
        r
    });
    match done {
        Ok(Some(r)) => r,
        _ => {
            let mut buf = Vec::new();
            stage_all(&mut buf);
            match f.take() {
                Some(f) => f(&buf),
                // `f` only runs once the buffer was filled, and the closure above returns
                // its result at once.
                None => unreachable!("staged log call ran twice"),
            }
        }
    }
}
