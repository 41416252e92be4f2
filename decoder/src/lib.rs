//! `tapelog-decoder`: reads tapelog segments and turns them back into text, JSON and
//! statistics. The `tapelog` binary is a thin command-line layer (clap wiring in `main.rs`)
//! over this library.
//!
//! It owns reading (discover, merge, stream, follow, stdin), rendering (line templates,
//! JSON) and one module per command (`check`, `summary` for stats, `serve` for the
//! collector). It reads the format through the same `tapelog_format::wire` code the logger
//! writes it with, and writes the collector's segments through `tapelog-segment`.
//!
//! It must not import the runtime (`tapelog`) or what only the runtime needs (`rtrb`,
//! `core_affinity`): reading a log never links the logger. Only its tests, benches and doc
//! examples log through the runtime, as a dev-dependency, to make the segments they read.
//!
//! ```
//! use tapelog_decoder::{cat, CatOptions};
//!
//! let dir = std::env::temp_dir().join(format!("tapelog-doc-decoder-{}", std::process::id()));
//! let guard = tapelog::Builder::new().dir(&dir).start()?;
//! tapelog::info!("fill {} @ {}", 100u32, 101.25f64);
//! drop(guard); // drains and finalizes the segment
//!
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let outcome = cat(&[dir.clone()], &CatOptions::default(), &mut out, &mut err)?;
//! assert_eq!((outcome.records, outcome.errors), (1, 0));
//! assert!(String::from_utf8(out)?.contains("fill 100 @ 101.25"));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod check;
pub mod discover;
pub mod event;
pub mod follow;
pub mod input;
pub mod merge;
pub mod output;
pub mod printer;
pub mod progress;
pub mod serve;
pub mod stream;
pub mod summary;
pub mod template;
pub mod timefmt;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

pub use discover::DiscoverError;
use merge::{Diagnostic, Merger, Severity};
pub(crate) use printer::report;
use tapelog_format::Level;
pub use template::TextStyle;

/// Format versions this decoder reads.
pub const READS_VERSIONS: (u16, u16) = (tapelog_format::wire::MIN_READ_VERSION, tapelog_format::wire::FORMAT_VERSION);

/// The path that means standard input.
pub const STDIN: &str = "-";

/// Options of `tapelog cat`.
#[derive(Debug, Clone)]
pub struct CatOptions {
    /// NDJSON instead of text.
    pub json: bool,
    /// Only records at this level or above.
    pub level: Option<Level>,
    /// Only records at or after this Unix ns.
    pub since: Option<i128>,
    /// Only records before this Unix ns.
    pub until: Option<i128>,
    /// Only records of threads with this name or id.
    pub thread: Option<String>,
    /// Only records whose message matches.
    pub grep: Option<regex::Regex>,
    /// Text layout: line template, time zone and format, colors.
    pub style: TextStyle,
    /// Keep reading live segments, new segments and new runs (like `tail -F`).
    pub follow: bool,
    /// How long streamed input (stdin, `follow`) holds records back to order threads.
    pub window: Duration,
    /// Show a progress bar on stderr for inputs over 100 MB.
    pub progress: bool,
}

impl Default for CatOptions {
    fn default() -> Self {
        CatOptions {
            json: false,
            level: None,
            since: None,
            until: None,
            thread: None,
            grep: None,
            style: TextStyle::default(),
            follow: false,
            window: Duration::from_nanos(stream::DEFAULT_WINDOW_NS as u64),
            progress: false,
        }
    }
}

/// What a decode produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records printed.
    pub records: u64,
    /// Drop reports printed.
    pub drop_reports: u64,
    /// Warnings (torn tails, unfinished segments).
    pub warnings: u64,
    /// Errors (corruption, unreadable files).
    pub errors: u64,
}

impl Outcome {
    /// The process exit code: 0 when no errors (warnings allowed), 1 when data was damaged.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            1
        } else {
            0
        }
    }
}

/// Opens the inputs for merging; unreadable files become diagnostics.
pub fn open(paths: &[PathBuf]) -> Result<(Merger, Vec<Diagnostic>), DiscoverError> {
    let files = discover::expand(paths)?;
    let (runs, errs) = discover::open_runs(&files);
    let diags = errs
        .into_iter()
        .map(|e| Diagnostic {
            severity: if e.error.is_torn() { Severity::Warning } else { Severity::Error },
            offset: e.error.offset(),
            message: e.error.to_string(),
            path: e.path,
        })
        .collect();
    Ok((Merger::new(runs), diags))
}

/// `tapelog cat`: prints every record of `paths` in timestamp order. A single path `-`
/// reads a segment stream from standard input; [`CatOptions::follow`] keeps following.
pub fn cat(
    paths: &[PathBuf],
    opts: &CatOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome, DiscoverError> {
    if paths.iter().any(|p| p.as_os_str() == STDIN) {
        if paths.len() != 1 {
            return Err(DiscoverError::Usage("`-` (standard input) cannot be combined with other paths".into()));
        }
        return Ok(cat_reader(std::io::stdin().lock(), opts, out, err));
    }
    let window = opts.window.as_nanos() as i128;
    if opts.follow {
        let mut src = follow::Follower::new(paths, window);
        return Ok(printer::print(&mut src, opts, None, out, err));
    }
    let (mut m, diags) = open(paths)?;
    let mut outcome = Outcome::default();
    report(diags, err, &mut outcome);
    let progress = if opts.progress { progress::Progress::for_bytes(input_bytes(&m)) } else { None };
    let o = printer::print(&mut m, opts, progress, out, err);
    Ok(Outcome { warnings: outcome.warnings + o.warnings, errors: outcome.errors + o.errors, ..o })
}

/// `tapelog cat -`: prints the records of a segment stream (one or more segments back to
/// back), merged through the reorder window of [`CatOptions::window`].
pub fn cat_reader(src: impl Read, opts: &CatOptions, out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
    let mut s = input::ReadSource::new(src, "<stdin>", opts.window.as_nanos() as i128);
    printer::print(&mut s, opts, None, out, err)
}

/// Committed bytes of every segment the merger reads.
fn input_bytes(m: &Merger) -> u64 {
    m.runs().flat_map(|r| r.segments.iter()).map(|s| s.header.committed).sum()
}

/// Parses `--since`/`--until`: RFC 3339 (`2026-11-21T12:00:00Z`) or integer Unix ns.
pub fn parse_time(s: &str) -> Result<i128, String> {
    if let Ok(n) = s.parse::<i128>() {
        return Ok(n);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .map_err(|e| format!("{s:?} is neither RFC 3339 (2026-11-21T12:00:00Z) nor Unix nanoseconds: {e}"))
}
