//! `tapelog-decoder`: reads tapelog segments and turns them back into text, JSON and
//! statistics. The `tapelog` binary is a thin command-line layer over this library.
//!
//! It reads the format through the same `tapelog::wire` code the logger writes it with.
//!
//! ```no_run
//! use tapelog_decoder::{cat, CatOptions};
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let outcome = cat(&["logs".into()], &CatOptions::default(), &mut out, &mut err)?;
//! println!("{} records", outcome.records);
//! # Ok::<(), tapelog_decoder::DiscoverError>(())
//! ```

#![deny(missing_docs)]

pub mod discover;
pub mod merge;
pub mod output;
pub mod summary;

use std::io::Write;
use std::path::PathBuf;

pub use discover::DiscoverError;
use merge::{Diagnostic, Event, Merger, Severity};
use tapelog::Level;

/// Format versions this decoder reads.
pub const READS_VERSIONS: (u16, u16) = (tapelog::wire::MIN_READ_VERSION, tapelog::wire::FORMAT_VERSION);

/// Options of `tapelog cat`.
#[derive(Debug, Clone, Default)]
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

fn report(diags: Vec<Diagnostic>, err: &mut dyn Write, outcome: &mut Outcome) {
    for d in diags {
        match d.severity {
            Severity::Warning => outcome.warnings += 1,
            Severity::Error => outcome.errors += 1,
        }
        let _ = writeln!(err, "tapelog: {d}");
    }
}

fn thread_matches(filter: &str, t: &merge::ThreadInfo) -> bool {
    t.name == filter || filter.parse::<u32>().is_ok_and(|id| id == t.id)
}

/// `tapelog cat`: prints every record of `paths` in timestamp order.
pub fn cat(
    paths: &[PathBuf],
    opts: &CatOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome, DiscoverError> {
    let (mut m, diags) = open(paths)?;
    let mut outcome = Outcome::default();
    report(diags, err, &mut outcome);
    report(m.take_diagnostics(), err, &mut outcome);
    let mut tf = output::TimeFormatter::default();
    let mut line = String::with_capacity(256);
    let mut msg = String::with_capacity(256);
    let mut vals_store = Vec::new();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut render_errors = 0u64;
    while let Some(ev) = m.next() {
        line.clear();
        match ev {
            Event::Record(rec) => {
                if opts.level.is_some_and(|l| rec.site.level.is_none_or(|rl| rl < l))
                    || opts.since.is_some_and(|s| rec.ts_ns < s)
                    || opts.until.is_some_and(|u| rec.ts_ns >= u)
                    || opts.thread.as_deref().is_some_and(|t| !thread_matches(t, rec.thread))
                {
                    continue;
                }
                let mut vals = output::recycle(std::mem::take(&mut vals_store));
                if let Some(re) = &opts.grep {
                    msg.clear();
                    let _ = output::render_message(&rec, &mut vals, &mut msg);
                    vals.clear();
                    if !re.is_match(&msg) {
                        vals_store = output::recycle(vals);
                        continue;
                    }
                }
                let res = if opts.json {
                    let (j, res) = output::record_json(&rec, &mut vals);
                    line.push_str(&j.to_string());
                    res
                } else {
                    output::text_line(&mut tf, &rec, &mut vals, &mut line)
                };
                if let Err(e) = res {
                    render_errors += 1;
                    if render_errors <= 10 {
                        let _ = writeln!(err, "tapelog: error: {}:{}: {e}", rec.site.file, rec.site.line);
                    }
                    outcome.errors += 1;
                }
                vals_store = output::recycle(vals);
                outcome.records += 1;
            }
            Event::Drops(d) => {
                // A drop report counts as a warning for --level, and --grep sees its text.
                if opts.level.is_some_and(|l| l > Level::Warn)
                    || opts.since.is_some_and(|s| d.ts_ns < s)
                    || opts.until.is_some_and(|u| d.ts_ns >= u)
                    || opts.thread.as_deref().is_some_and(|t| !thread_matches(t, d.thread))
                {
                    continue;
                }
                output::drops_line(&mut tf, &d, &mut line);
                if opts.grep.as_ref().is_some_and(|re| !re.is_match(&line)) {
                    continue;
                }
                if opts.json {
                    line.clear();
                    line.push_str(&output::drops_json(&d).to_string());
                }
                outcome.drop_reports += 1;
            }
        }
        line.push('\n');
        if let Err(e) = w.write_all(line.as_bytes()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(outcome);
            }
            let _ = writeln!(err, "tapelog: error: writing output: {e}");
            outcome.errors += 1;
            return Ok(outcome);
        }
    }
    let _ = w.flush();
    drop(w);
    report(m.take_diagnostics(), err, &mut outcome);
    Ok(outcome)
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
