//! What the decoder hands to its printers: call sites, threads, records, drop reports and
//! diagnostics, shared by the offline merger ([`crate::merge`]) and the streaming one
//! ([`crate::stream`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use tapelog_format::text::Template;
pub use tapelog_format::wire::record::TickClock;
use tapelog_format::wire::record::{static_args_len, Anchor, CallsiteEntry, ThreadEntry};
use tapelog_format::wire::{FileHeader, Layout};
use tapelog_format::Level;

/// A call site as the decoder knows it.
#[derive(Debug)]
pub struct SiteInfo {
    /// Its id within the run.
    pub id: u32,
    /// Its level (`None` for a level code this decoder does not know).
    pub level: Option<Level>,
    /// Raw level code.
    pub level_code: u8,
    /// Source line.
    pub line: u32,
    /// Argument kinds.
    pub kinds: Vec<u8>,
    /// Bytes of the arguments when no kind has a value-dependent size.
    pub static_len: Option<usize>,
    /// The format string.
    pub format: String,
    /// Module path.
    pub module: String,
    /// Source file.
    pub file: String,
    /// The parsed format string, or why it could not be parsed.
    pub template: Result<Template, String>,
    /// Names of the key-value fields: the last `fields.len()` arguments are their values.
    pub fields: Vec<String>,
}

impl SiteInfo {
    /// How many leading arguments belong to the message (the rest are field values).
    pub fn message_args(&self) -> usize {
        self.kinds.len().saturating_sub(self.fields.len())
    }
}

/// A producer thread as the decoder knows it.
#[derive(Debug, Clone, Default)]
pub struct ThreadInfo {
    /// tapelog's thread id.
    pub id: u32,
    /// OS thread id.
    pub os_tid: u64,
    /// Thread name (may be empty).
    pub name: String,
}

impl ThreadInfo {
    /// The name, or `thread-<id>` for unnamed threads.
    pub fn label(&self) -> Cow<'_, str> {
        if self.name.is_empty() {
            format!("thread-{}", self.id).into()
        } else {
            self.name.as_str().into()
        }
    }
}

/// Stand-in for a thread whose dictionary entry is missing (damaged input).
pub static UNKNOWN_THREAD: ThreadInfo = ThreadInfo { id: 0, os_tid: 0, name: String::new() };

/// The dictionaries of one run: call sites by id and threads by id.
#[derive(Debug, Default)]
pub struct RunTables {
    /// Indexed by call-site id.
    pub sites: Vec<Option<SiteInfo>>,
    /// By tapelog thread id.
    pub threads: HashMap<u32, ThreadInfo>,
    /// Copies of `threads` with small ids, indexed by id (no hashing per record).
    dense: Vec<Option<ThreadInfo>>,
    /// Shapes of serde arguments (ids are unique within a run).
    pub shapes: tapelog_format::serde_value::Shapes,
}

impl RunTables {
    /// Adds a call site unless its id is already known (every segment repeats the entries
    /// it uses) or absurdly large (damage).
    pub fn add_site(&mut self, cs: &CallsiteEntry<'_>) {
        let i = cs.id as usize;
        if i > 1 << 24 {
            return;
        }
        if self.sites.len() <= i {
            self.sites.resize_with(i + 1, || None);
        }
        if self.sites[i].is_some() {
            return;
        }
        self.sites[i] = Some(SiteInfo {
            id: cs.id,
            level: Level::from_u8(cs.level),
            level_code: cs.level,
            line: cs.line,
            kinds: cs.kinds.to_vec(),
            static_len: static_args_len(cs.kinds),
            format: cs.format.to_string(),
            module: cs.module.to_string(),
            file: cs.file.to_string(),
            template: Template::parse(cs.format).map_err(|e| e.to_string()),
            fields: cs.fields.iter().map(|f| f.to_string()).collect(),
        });
    }

    /// Adds a thread unless already known.
    pub fn add_thread(&mut self, t: &ThreadEntry<'_>) {
        if self.threads.contains_key(&t.thread) {
            return;
        }
        let info = ThreadInfo { id: t.thread, os_tid: t.os_tid, name: t.name.to_string() };
        let i = t.thread as usize;
        if i < 1 << 16 {
            if self.dense.len() <= i {
                self.dense.resize(i + 1, None);
            }
            self.dense[i] = Some(info.clone());
        }
        self.threads.insert(t.thread, info);
    }

    /// The call site with this id, if defined.
    #[inline]
    pub fn site(&self, id: u32) -> Option<&SiteInfo> {
        self.sites.get(id as usize)?.as_ref()
    }

    /// How long the records of the call site with this id are, for
    /// [`tapelog_format::wire::Records`].
    #[inline]
    pub fn layout(&self, id: u32) -> Option<Layout<'_>> {
        self.site(id).map(|s| Layout::of(&s.kinds, s.static_len))
    }

    /// The thread with this id, or [`UNKNOWN_THREAD`].
    #[inline]
    pub fn thread(&self, id: u32) -> &ThreadInfo {
        match self.dense.get(id as usize) {
            Some(Some(t)) => t,
            _ => self.threads.get(&id).unwrap_or(&UNKNOWN_THREAD),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Expected after a crash or while a writer is live (torn tail, unfinished segment).
    Warning,
    /// Damage: data that should be there is not readable.
    Error,
}

/// A problem found while reading, with the file and byte offset.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// The file.
    pub path: PathBuf,
    /// Byte offset, where known.
    pub offset: Option<u64>,
    /// What happened.
    pub message: String,
}

impl Diagnostic {
    /// What the end of a segment read up to `end` (its committed length, bounded by the
    /// file) says about how it was closed: bytes past the committed length of a finalized
    /// file, or a file the writer never finalized.
    pub fn segment_end(path: PathBuf, header: &FileHeader, end: u64, file_len: u64) -> Option<Diagnostic> {
        if !header.is_finalized() {
            return Some(Diagnostic {
                severity: Severity::Warning,
                path,
                offset: Some(end),
                message: "segment was not closed cleanly (writer crashed or is still running); read up to its committed length".into(),
            });
        }
        (file_len > header.committed).then(|| Diagnostic {
            severity: Severity::Error,
            path,
            offset: Some(header.committed),
            message: format!(
                "finalized segment has {} bytes past its committed length (committed-length field damaged?)",
                file_len - header.committed
            ),
        })
    }

    /// A diagnostic for a read error: torn tails are warnings, everything else errors.
    pub fn from_read(path: PathBuf, e: tapelog_format::wire::ReadError) -> Diagnostic {
        let severity = if e.is_torn() { Severity::Warning } else { Severity::Error };
        Diagnostic { severity, path, offset: e.offset(), message: e.to_string() }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}", self.path.display())?;
        if let Some(o) = self.offset {
            write!(f, " at byte {o}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One item of the merged stream.
#[derive(Debug)]
pub enum Event<'a> {
    /// A log record.
    Record(RecordRef<'a>),
    /// Records of a thread that were lost.
    Drops(DropsRef<'a>),
    /// A flight-recorder dump (its records are `Record`s marked `recorded`).
    Dump(DumpRef<'a>),
}

/// A flight-recorder dump: `flight recorder: N records from t1 to t2, trigger: ...`.
#[derive(Debug)]
pub struct DumpRef<'a> {
    /// Where it sorts: its trigger (Unix ns).
    pub ts_ns: i128,
    /// Index of the run.
    pub run: usize,
    /// Records it wrote out.
    pub count: u64,
    /// Oldest and newest of them, Unix ns.
    pub first_ns: i128,
    /// See `first_ns`.
    pub last_ns: i128,
    /// What triggered it.
    pub reason: &'a str,
}

/// A log record, borrowing the merger's buffers.
#[derive(Debug)]
pub struct RecordRef<'a> {
    /// Unix time in ns.
    pub ts_ns: i128,
    /// Raw ticks.
    pub ticks: u64,
    /// Index of the run (in the order the merger found them).
    pub run: usize,
    /// The thread.
    pub thread: &'a ThreadInfo,
    /// The call site.
    pub site: &'a SiteInfo,
    /// Encoded arguments.
    pub args: &'a [u8],
    /// The run's shapes, for serde arguments.
    pub shapes: &'a tapelog_format::serde_value::Shapes,
    /// Kept by a flight recorder and written out by a dump (a RECORDED entry).
    pub recorded: bool,
}

/// A drop report.
#[derive(Debug)]
pub struct DropsRef<'a> {
    /// Where it sorts (Unix ns).
    pub ts_ns: i128,
    /// Index of the run.
    pub run: usize,
    /// The thread that lost records.
    pub thread: &'a ThreadInfo,
    /// How many.
    pub count: u64,
    /// First drop, Unix ns.
    pub first_ns: i128,
    /// Last drop, Unix ns.
    pub last_ns: i128,
}

/// One step of an event source that may have to wait for data (a live directory, a pipe).
#[derive(Debug)]
pub enum Step<'a> {
    /// The next event in timestamp order.
    Event(Event<'a>),
    /// Nothing is ready yet: flush what was printed; the next call waits for data.
    Idle,
    /// No more events will come.
    End,
}

/// Anything `cat` can print: the offline merger, a stdin stream, a live follower.
pub trait Source {
    /// The next step.
    fn step(&mut self) -> Step<'_>;
    /// Problems found so far (drained, each reported once).
    fn take_diagnostics(&mut self) -> Vec<Diagnostic>;
    /// Input bytes consumed so far (for progress reports).
    fn bytes_read(&self) -> u64 {
        0
    }
}

/// Unix ns of a tick value by the anchor in force (raw ticks without one): what
/// [`Anchor::to_unix_ns`] gives.
#[inline]
pub fn ticks_to_ns(a: Option<&Anchor>, ticks: u64) -> i128 {
    match a {
        Some(a) => TickClock::new(a).ns(ticks),
        None => ticks as i128,
    }
}

/// Unix ns of a tick value by the clock in force (raw ticks without one).
#[inline]
pub fn clock_ns(c: Option<&TickClock>, ticks: u64) -> i128 {
    match c {
        Some(c) => c.ns(ticks),
        None => ticks as i128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversion in floating point, before rounding: within about 1e-7 ns of the exact
    /// value for the distances below (a few seconds of ticks).
    fn exact(a: &Anchor, t: u64) -> f64 {
        let d = t.wrapping_sub(a.ticks) as i64;
        (d as f64) * 1e9 / a.ticks_per_sec
    }

    #[test]
    fn tick_conversion_is_the_rounded_exact_value() {
        for rate in [1e9, 2e9, 2_999_876_543.21, 2_445_123_456.0, 1e6, 3.3e10] {
            let a = Anchor { ticks: 1 << 40, unix_ns: 1_795_262_400_000_000_000, ticks_per_sec: rate };
            let c = TickClock::new(&a);
            let mut t = (1u64 << 40) - 5_000_000_000;
            for _ in 0..200_000 {
                let got = c.ns(t) - a.unix_ns as i128;
                let want = exact(&a, t);
                // Off by at most 2^-15 ns before rounding at these distances (under 2^33
                // ticks): the exact value rounded, unless it lies that close to a half.
                let near_half = (want.abs().fract() - 0.5).abs() < 0.01;
                assert!(
                    got == want.round() as i128 || (near_half && (got as f64 - want).abs() <= 0.51),
                    "rate {rate}, ticks {t}: {got} vs {want}"
                );
                assert_eq!(ticks_to_ns(Some(&a), t), a.to_unix_ns(t));
                t = t.wrapping_add(77_777);
            }
        }
    }

    #[test]
    fn tick_conversion_stays_exact_minutes_from_the_anchor() {
        // 2^40 ticks from the anchor (7.5 minutes at 2.445 GHz): the fixed-point error may
        // reach 2^-9 ns there, the float reference's about 1e-4 ns.
        let a = Anchor { ticks: 1 << 50, unix_ns: 1_795_262_400_000_000_000, ticks_per_sec: 2_445_123_456.0 };
        let c = TickClock::new(&a);
        let mut misses = 0;
        for k in 0..100_000u64 {
            for t in [a.ticks + (1 << 40) + k * 7_777_777, a.ticks - (1 << 40) - k * 7_777_777] {
                let got = c.ns(t) - a.unix_ns as i128;
                let want = exact(&a, t);
                let near_half = (want.abs().fract() - 0.5).abs() < 0.003;
                if got != want.round() as i128 {
                    assert!(near_half && (got as f64 - want).abs() <= 0.51, "ticks {t}: {got} vs {want}");
                    misses += 1;
                }
            }
        }
        assert!(misses < 2_000, "{misses} of 200000 conversions off by 1 ns");
    }

    #[test]
    fn tick_conversion_rounds_half_away_from_zero_and_survives_extremes() {
        let a = Anchor { ticks: 1000, unix_ns: 5_000, ticks_per_sec: 2e9 };
        let c = TickClock::new(&a);
        assert_eq!(c.ns(1003), 5_002); // +1.5 ns
        assert_eq!(c.ns(997), 4_998); // -1.5 ns
        assert_eq!(c.ns(1000), 5_000);
        for t in [0, u64::MAX, 1 << 63, (1 << 63) - 1] {
            let _ = c.ns(t);
        }
        // A rate too slow for fixed point, and rates that are not positive numbers.
        let slow = Anchor { ticks: 0, unix_ns: 0, ticks_per_sec: 10.0 };
        assert_eq!(TickClock::new(&slow).ns(3), 300_000_000);
        for bad in [0.0, -1.0, f64::NAN] {
            let a = Anchor { ticks: 10, unix_ns: 100, ticks_per_sec: bad };
            assert_eq!(TickClock::new(&a).ns(15), 105);
        }
        let inf = Anchor { ticks: 10, unix_ns: 100, ticks_per_sec: f64::INFINITY };
        assert_eq!(TickClock::new(&inf).ns(u64::MAX), 100);
    }
}
