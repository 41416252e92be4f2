//! The loop behind `tapelog cat`: pulls events from a [`Source`], filters them, renders
//! them as text or NDJSON into one large buffer, and writes that out in big chunks (and
//! whenever the source has to wait, so a follower's output appears at once).

use std::io::Write;

use tapelog_format::text::line::RECORDED_MARK;
use tapelog_format::Level;

use crate::event::{Diagnostic, Event, Severity, Source, Step, ThreadInfo};
use crate::progress::Progress;
use crate::{output, CatOptions, Outcome};

/// Output is written once this much is buffered.
const CHUNK: usize = 256 * 1024;

/// Prints diagnostics to `err` and counts them.
pub fn report(diags: Vec<Diagnostic>, err: &mut dyn Write, outcome: &mut Outcome) {
    for d in diags {
        match d.severity {
            Severity::Warning => outcome.warnings += 1,
            Severity::Error => outcome.errors += 1,
        }
        let _ = writeln!(err, "tapelog: {d}");
    }
}

fn thread_matches(filter: &str, t: &ThreadInfo) -> bool {
    t.name == filter || filter.parse::<u32>().is_ok_and(|id| id == t.id)
}

/// Prints every event of `src` that passes the filters of `opts`. Generic, so the offline
/// merger's `next` inlines into this loop.
pub fn print<S: Source + ?Sized>(
    src: &mut S,
    opts: &CatOptions,
    progress: Option<Progress>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut style = opts.style.clone();
    let mut buf = String::with_capacity(CHUNK + 4096);
    let mut msg = String::new();
    let mut args = output::ArgBuf::default();
    let mut render_errors = 0u64;
    let mut since_progress = 0u32;
    report(src.take_diagnostics(), err, &mut outcome);
    loop {
        let ev = match src.step() {
            Step::Event(ev) => ev,
            Step::Idle => {
                if flush(&mut buf, out, err, &mut outcome).is_err() {
                    return outcome;
                }
                report(src.take_diagnostics(), err, &mut outcome);
                continue;
            }
            Step::End => break,
        };
        match ev {
            Event::Record(rec) => {
                if opts.level.is_some_and(|l| rec.site.level.is_none_or(|rl| rl < l))
                    || opts.since.is_some_and(|s| rec.ts_ns < s)
                    || opts.until.is_some_and(|u| rec.ts_ns >= u)
                    || opts.thread.as_deref().is_some_and(|t| !thread_matches(t, rec.thread))
                {
                    continue;
                }
                if let Some(re) = &opts.grep {
                    msg.clear();
                    let _ = output::render_message(&rec, &mut args, &mut msg);
                    if !re.is_match(&msg) {
                        continue;
                    }
                }
                let res = if opts.json {
                    let (j, res) = output::record_json(&rec, &mut args);
                    buf.push_str(&j.to_string());
                    res
                } else {
                    if rec.recorded {
                        buf.push_str(RECORDED_MARK);
                    }
                    style.record(&rec, &mut args, &mut buf)
                };
                buf.push('\n');
                if let Err(e) = res {
                    render_errors += 1;
                    if render_errors <= 10 {
                        let _ = writeln!(err, "tapelog: error: {}:{}: {e}", rec.site.file, rec.site.line);
                    }
                    outcome.errors += 1;
                }
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
                let start = buf.len();
                if opts.grep.is_some() || !opts.json {
                    let color = style.color();
                    style.set_color(false);
                    style.drops(&d, &mut buf);
                    style.set_color(color);
                    if opts.grep.as_ref().is_some_and(|re| !re.is_match(&buf[start..])) {
                        buf.truncate(start);
                        continue;
                    }
                    if style.color() {
                        buf.truncate(start);
                        style.drops(&d, &mut buf);
                    }
                }
                if opts.json {
                    buf.truncate(start);
                    buf.push_str(&output::drops_json(&d).to_string());
                }
                buf.push('\n');
                outcome.drop_reports += 1;
            }
            Event::Dump(d) => {
                // A dump's line counts as a warning for --level (as a drop report does),
                // and --grep sees its text; --thread does not apply (it has none).
                if opts.level.is_some_and(|l| l > Level::Warn)
                    || opts.since.is_some_and(|s| d.ts_ns < s)
                    || opts.until.is_some_and(|u| d.ts_ns >= u)
                {
                    continue;
                }
                let start = buf.len();
                style.dump(&d, &mut buf);
                if opts.grep.as_ref().is_some_and(|re| !re.is_match(&buf[start..])) {
                    buf.truncate(start);
                    continue;
                }
                if opts.json {
                    buf.truncate(start);
                    buf.push_str(&output::dump_json(&d).to_string());
                }
                buf.push('\n');
            }
        }
        if buf.len() >= CHUNK && flush(&mut buf, out, err, &mut outcome).is_err() {
            return outcome;
        }
        since_progress += 1;
        if since_progress >= 1 << 16 {
            since_progress = 0;
            if let Some(p) = &progress {
                p.set(src.bytes_read());
            }
        }
    }
    let _ = flush(&mut buf, out, err, &mut outcome);
    if let Some(p) = progress {
        p.finish();
    }
    report(src.take_diagnostics(), err, &mut outcome);
    outcome
}

/// Writes and clears the buffer. `Err` means stop: the reader went away (a closed pipe is
/// not an error, as for `head`) or writing failed (reported and counted).
fn flush(buf: &mut String, out: &mut dyn Write, err: &mut dyn Write, outcome: &mut Outcome) -> Result<(), ()> {
    let res = out.write_all(buf.as_bytes()).and_then(|_| out.flush());
    buf.clear();
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(()),
        Err(e) => {
            let _ = writeln!(err, "tapelog: error: writing output: {e}");
            outcome.errors += 1;
            Err(())
        }
    }
}
