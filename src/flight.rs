//! The flight recorder's settings ([`FlightRecorder`]) and the program's way to ask for a
//! dump ([`dump_flight_recorder`]).
//!
//! Owns what the recorder is asked to keep and when to write it out, nothing of keeping it:
//! the bounded buffer and the dumps are the consumer's (`consumer/recorder.rs`). Nothing
//! here runs on the hot path: a log call does exactly what it does without a recorder, and
//! the consumer decides, per call site, whether a record it drained is kept or written.

use std::time::Duration;

use crate::frontend::callsite::Callsite;
use crate::Level;

/// How far back a level trigger reaches: the kept records written out before the
/// triggering record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The records of this long before the trigger.
    Time(Duration),
    /// The newest kept records before the trigger, up to this many bytes as the recorder
    /// counts them (record bytes plus [`FlightRecorder::RECORD_OVERHEAD`] each).
    Bytes(usize),
}

/// A flight recorder ([`Builder::flight_recorder`](crate::Builder::flight_recorder)): records
/// at or below a level (by default DEBUG and TRACE), optionally only of some modules, are
/// drained from the rings as always but kept by the consumer in a bounded in-memory buffer
/// instead of being written. Everything else is written as before. The kept records are
/// written out, marked as recorded, when something goes wrong:
///
/// - a record at or above the trigger level (default ERROR): the kept records of the
///   [`Window`] before it (default: the last second), and of `after` after it (default
///   none);
/// - [`dump_flight_recorder`]: every kept record;
/// - a panic or a fatal signal, when [`install_panic_hook`](crate::install_panic_hook) or
///   [`install_signal_handlers`](crate::install_signal_handlers) installed the handlers:
///   every kept record.
///
/// Each dump writes one DUMP entry, which `tapelog cat` shows as a line
/// `flight recorder: N records from t1 to t2, trigger: ...`; the records themselves show in
/// their place in time, marked.
///
/// The buffer never holds more than `max_bytes` (default 64 MiB) as it counts them (record
/// bytes plus [`Self::RECORD_OVERHEAD`] each) and, with `max_age`, nothing older: the oldest
/// records are evicted and counted. Counters are in
/// [`Stats::flight_recorder`](crate::Stats::flight_recorder).
///
/// `flush()` does not dump: kept records stay kept. A clean shutdown discards the records
/// still kept and counts them as evicted (nothing went wrong), unless
/// [`dump_on_shutdown`](Self::dump_on_shutdown) is set.
///
/// ```
/// use std::time::Duration;
/// use tapelog::{FlightRecorder, Level, Window};
///
/// let fr = FlightRecorder::new()
///     .keep(Level::Debug)                          // DEBUG and TRACE are kept
///     .targets(["my_app::orders"])                 // ... of this module and those under it
///     .max_bytes(16 << 20)
///     .max_age(Duration::from_secs(60))
///     .trigger(Some(Level::Error))
///     .window_before(Window::Time(Duration::from_millis(500)))
///     .window_after(Duration::from_millis(100));
/// let _builder = tapelog::Builder::new().flight_recorder(fr);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightRecorder {
    pub(crate) keep: Level,
    pub(crate) targets: Vec<String>,
    pub(crate) max_bytes: usize,
    pub(crate) max_age: Option<Duration>,
    pub(crate) trigger: Option<Level>,
    pub(crate) before: Window,
    pub(crate) after: Duration,
    pub(crate) dump_on_shutdown: bool,
}

impl Default for FlightRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl FlightRecorder {
    /// Bytes the recorder counts for each kept record besides the record's own: its index
    /// entry (full ticks, thread, length).
    pub const RECORD_OVERHEAD: usize = 16;

    /// Keeps DEBUG and TRACE records of every module, at most 64 MiB, of any age; an ERROR
    /// record writes out the last second's.
    pub fn new() -> Self {
        FlightRecorder {
            keep: Level::Debug,
            targets: Vec::new(),
            max_bytes: 64 << 20,
            max_age: None,
            trigger: Some(Level::Error),
            before: Window::Time(Duration::from_secs(1)),
            after: Duration::ZERO,
            dump_on_shutdown: false,
        }
    }

    /// Keeps records at or below `level` (`Level::Debug`: DEBUG and TRACE).
    pub fn keep(mut self, level: Level) -> Self {
        self.keep = level;
        self
    }

    /// Keeps only records of these modules (a module and every module under it, as in
    /// filter directives); records of other modules are written as usual. Empty: every
    /// module.
    pub fn targets<S: Into<String>>(mut self, modules: impl IntoIterator<Item = S>) -> Self {
        self.targets = modules.into_iter().map(Into::into).collect();
        self
    }

    /// The most bytes the buffer holds (at least 4 KiB).
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Evicts records older than this (checked about once per drain pass).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Records at or above this level trigger a dump of the window around them; `None`:
    /// only [`dump_flight_recorder`], panics and signals do. Must be above the kept level.
    pub fn trigger(mut self, level: Option<Level>) -> Self {
        self.trigger = level;
        self
    }

    /// How far back a triggering record reaches.
    pub fn window_before(mut self, w: Window) -> Self {
        self.before = w;
        self
    }

    /// How long after a triggering record kept records go on being written out.
    pub fn window_after(mut self, d: Duration) -> Self {
        self.after = d;
        self
    }

    /// Whether a clean shutdown writes out the records still kept (default: no, they are
    /// discarded and counted as evicted).
    pub fn dump_on_shutdown(mut self, on: bool) -> Self {
        self.dump_on_shutdown = on;
        self
    }

    /// Why these settings cannot work, if they cannot.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.max_bytes < 4096 {
            return Err(format!("flight recorder max_bytes {} is below 4 KiB", self.max_bytes));
        }
        if let Some(t) = self.trigger {
            if t <= self.keep {
                return Err(format!("flight recorder trigger level {t:?} is not above the kept level {:?}", self.keep));
            }
        }
        if self.targets.iter().any(String::is_empty) {
            return Err("flight recorder target is an empty module path".into());
        }
        Ok(())
    }

    /// The settings in one line, for the logger's start-up record:
    /// `keep<=DEBUG,max_bytes=67108864,trigger>=ERROR,before=1s,after=0ns` (targets
    /// separated by `|`).
    pub(crate) fn summary(&self) -> String {
        let mut s = format!("keep<={},max_bytes={}", self.keep.as_str(), self.max_bytes);
        if !self.targets.is_empty() {
            s += &format!(",targets={}", self.targets.join("|"));
        }
        if let Some(a) = self.max_age {
            s += &format!(",max_age={a:?}");
        }
        match self.trigger {
            Some(t) => s += &format!(",trigger>={}", t.as_str()),
            None => s += ",trigger=none",
        }
        match self.before {
            Window::Time(d) => s += &format!(",before={d:?}"),
            Window::Bytes(n) => s += &format!(",before={n}B"),
        }
        s + &format!(",after={:?}", self.after)
    }

    /// What the consumer does with the records of call site `cs`.
    pub(crate) fn class_of(&self, cs: &Callsite) -> Class {
        if cs.level <= self.keep && self.takes_module(cs.module) {
            Class::Keep
        } else if self.trigger.is_some_and(|t| cs.level >= t) {
            Class::Trigger
        } else {
            Class::Write
        }
    }

    fn takes_module(&self, module: &str) -> bool {
        self.targets.is_empty()
            || self
                .targets
                .iter()
                .any(|p| module == p || (module.starts_with(p.as_str()) && module[p.len()..].starts_with("::")))
    }
}

/// What the consumer does with a call site's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Class {
    /// Written as usual.
    #[default]
    Write,
    /// Kept by the flight recorder.
    Keep,
    /// Written, and triggers a dump of the window around it.
    Trigger,
}

/// Writes out every record the flight recorder keeps, with `reason` in the dump's line, and
/// returns once they are written (as [`flush()`](crate::flush) does, which it implies).
/// Does nothing but flush when the logger has no flight recorder, and nothing at all when
/// no logger runs or when called on one of the logger's own threads.
///
/// ```
/// tapelog::dump_flight_recorder("order book crossed"); // no logger: returns at once
/// ```
pub fn dump_flight_recorder(reason: &str) {
    if crate::frontend::reentry::on_logger_thread() {
        return;
    }
    let Some(s) = crate::shared::current() else { return };
    if s.generation != crate::shared::GENERATION.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    s.request_dump(reason.to_owned());
    s.flush();
}
