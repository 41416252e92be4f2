//! tapelog: a logger whose call costs nanoseconds.
//!
//! A log call copies a compact binary record (call-site id, tick counter, raw argument
//! bytes) into the calling thread's own lock-free SPSC ring and returns: no lock, no
//! allocation, no formatting, no system call. One consumer thread drains every ring into
//! memory-mapped segment files; the `tapelog` CLI (crate `tapelog-decoder`) turns them back
//! into exactly the text `format!` would have produced.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("tapelog-doc-lib-{}", std::process::id()));
//! let guard = tapelog::Builder::new().dir(&dir).start()?;
//! let (qty, px) = (100u32, 101.25f64);
//! tapelog::info!("fill {} @ {}", qty, px);
//! tapelog::flush();
//! drop(guard); // drains, finalizes, joins the consumer
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), tapelog::StartError>(())
//! ```
//!
//! The data flow is the module tree: [`frontend`] (the hot path) → rings → `consumer` →
//! segments, in the [`wire`] format that the decoder reads through the same code.
//!
//! This crate owns the runtime: the macros and the hot path ([`frontend`]), the hand-over
//! of rings and the flush barrier (`sync`, loom-checked), the consumer and its outputs
//! (`consumer`, `sink`, [`net`]), configuration ([`Builder`]), counters ([`stats()`]),
//! signals and panics. The bytes are `tapelog-format`'s and the segment files
//! `tapelog-segment`'s; it re-exports what its users name ([`wire`], [`text`], [`Level`]).
//! It must not import anything of the decoder (`tapelog-decoder`, which reads what this
//! crate writes without linking it).

#![deny(missing_docs, missing_debug_implementations, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod clock;
mod config;
mod consumer;
mod counters;
mod filter;
mod flight;
pub mod frontend;
pub mod log_bridge;
mod macros;
pub mod net;
mod os;
mod output;
mod panic_hook;
mod policy;
mod ring;
pub mod route;
pub mod serde_arg;
mod shared;
mod signals;
mod sink;
mod stats;
mod sync;

use std::sync::atomic::Ordering;

pub use config::{Builder, StartError, MAX_RING_CAPACITY, MIN_RING_CAPACITY};
pub use consumer::lifecycle::Guard;
pub use filter::{Filter, FilterError, LevelFilter};
pub use flight::{dump_flight_recorder, FlightRecorder, Window};
pub use frontend::args::{Arg, ArgList, BaseArg};
pub use frontend::preallocate;
pub use net::{Network, NetworkStats};
pub use panic_hook::install_panic_hook;
pub use policy::{Durability, Idle, Overflow};
pub use route::{Output, Route, TextOutput};
pub use serde_arg::{serde, Serde};
pub use signals::{install_signal_handlers, ALARM_SECS, FATAL_SIGNALS, FLUSH_WAIT};
pub use sink::{Facility, RawBatch, Record, Sink, Syslog, Transport};
pub use stats::{
    health, stats, FlightRecorderStats, Health, HealthStatus, OutputStats, SampledSite, SinkStats, Stats, TextStats,
    ThreadStats, Totals,
};
pub use tapelog_format::{text, wire, Level, ParseLevelError};
pub use tapelog_segment::{list_segments, FILE_PREFIX};

/// Returns once every record logged before the call (on any thread, in happens-before
/// order) is in the segment, and synced if [`Durability::SyncOnFlush`] is set. Returns at
/// once when no logger runs.
///
/// ```
/// tapelog::flush(); // no logger running: returns immediately
/// ```
///
/// On one of the logger's own threads (inside a [`Sink`], say) it returns at once: the
/// consumer may be waiting for that very thread.
pub fn flush() {
    if shared::GENERATION.load(Ordering::Acquire) == 0 || frontend::reentry::on_logger_thread() {
        return;
    }
    if let Some(s) = shared::current() {
        s.flush();
    }
}

/// Replaces the run-time level filter (directives such as
/// `info,my_crate::noisy=warn,my_crate::hot=off`) and re-evaluates every call site; affected
/// call sites take the change at their next call. Works with or without a running logger.
///
/// ```
/// tapelog::set_filter("warn,my_app::orders=debug")?;
/// tapelog::info!("not recorded: below warn");
/// tapelog::set_filter("trace")?;
/// # Ok::<(), tapelog::FilterError>(())
/// ```
pub fn set_filter(directives: &str) -> Result<(), FilterError> {
    let f: Filter = directives.parse()?;
    frontend::callsite::apply_filter(f);
    Ok(())
}

/// The least severe level compiled in, from the `max_level_*` and (without debug assertions)
/// `release_max_level_*` cargo features, as the `log` crate does.
pub const STATIC_MAX_LEVEL: LevelFilter = static_max_level();

const fn static_max_level() -> LevelFilter {
    if !cfg!(debug_assertions) {
        if cfg!(feature = "release_max_level_off") {
            return LevelFilter::Off;
        } else if cfg!(feature = "release_max_level_error") {
            return LevelFilter::Error;
        } else if cfg!(feature = "release_max_level_warn") {
            return LevelFilter::Warn;
        } else if cfg!(feature = "release_max_level_info") {
            return LevelFilter::Info;
        } else if cfg!(feature = "release_max_level_debug") {
            return LevelFilter::Debug;
        } else if cfg!(feature = "release_max_level_trace") {
            return LevelFilter::Trace;
        }
    }
    if cfg!(feature = "max_level_off") {
        LevelFilter::Off
    } else if cfg!(feature = "max_level_error") {
        LevelFilter::Error
    } else if cfg!(feature = "max_level_warn") {
        LevelFilter::Warn
    } else if cfg!(feature = "max_level_info") {
        LevelFilter::Info
    } else if cfg!(feature = "max_level_debug") {
        LevelFilter::Debug
    } else {
        LevelFilter::Trace
    }
}

/// Items the macros expand to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::frontend::callsite::Callsite;
    pub use crate::frontend::sample::Sampler;
    pub use crate::frontend::{log, log_enabled, log_first};

    /// Whether `level` is compiled in (a constant for the macros).
    pub const fn static_enabled(level: crate::Level) -> bool {
        crate::STATIC_MAX_LEVEL.allows(level)
    }

    /// Test hook: stops (`true`) or resumes the consumer's draining, to fill rings on
    /// purpose. `flush()` waits while paused.
    pub fn pause_consumer(paused: bool) {
        if let Some(s) = crate::shared::current() {
            s.paused.store(paused, std::sync::atomic::Ordering::Relaxed);
            s.wake_consumer();
        }
    }

    /// Test hook: stalls (`true`) or releases the consumer as if it were stuck on I/O; unlike
    /// [`pause_consumer`], a stalled consumer ignores shutdown too.
    pub fn stall_consumer(stalled: bool) {
        if let Some(s) = crate::shared::current() {
            s.stalled.store(stalled, std::sync::atomic::Ordering::Relaxed);
            s.wake_consumer();
        }
    }

    /// Test hook: the consumer thread's OS thread id (0 when none), to aim a signal at it.
    pub fn consumer_tid() -> u64 {
        crate::signals::CONSUMER_TID.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compile-time check of a format string against the argument count.
    pub const fn check_format(fmt: &str, nargs: usize) {
        if let Err(e) = crate::text::check_format(fmt, nargs) {
            panic!("{}", e);
        }
    }
}
