//! Line templates for text output: `--format '{ts} {level} {thread} {msg}'`.
//!
//! A template is literal text with placeholders `{name}` or `{name:<N}` / `{name:>N}`
//! (pad to N characters, left- or right-aligned); `{{` and `}}` are literal braces and `\t`
//! is a tab. Colors, when on, wrap the level and the timestamp.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::output::ArgBuf;
use tapelog_format::text::line::{level_color, push_thread, DIM, DROPS_COLOR, RESET};
use tapelog_format::text::{Segment, Template};

use crate::event::{DropsRef, DumpRef, RecordRef};
use crate::timefmt::TimeFormatter;

/// The template of the default text line.
pub const DEFAULT_FORMAT: &str = "{ts} {level:<5} {thread} {target} {file}:{line} {msg}{fields}";

/// Placeholder names, for help and error messages.
pub const FIELDS: &str = "ts, level, thread, thread_id, target (or module), file, line, msg, fields";

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Ts,
    Level,
    Thread,
    ThreadId,
    Target,
    File,
    Line,
    Msg,
    /// Key-value fields as ` key=value` pairs (each with a leading space), or nothing.
    Fields,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field { field: Field, right: bool, width: usize },
}

/// A parsed line template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTemplate {
    pieces: Vec<Piece>,
}

impl Default for LineTemplate {
    fn default() -> Self {
        DEFAULT_FORMAT.parse().expect("the default template parses")
    }
}

impl FromStr for LineTemplate {
    type Err = String;

    /// ```
    /// use tapelog_decoder::template::LineTemplate;
    /// assert!("{ts} {level:<5} {msg}".parse::<LineTemplate>().is_ok());
    /// assert!("{nope}".parse::<LineTemplate>().unwrap_err().contains("unknown placeholder"));
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err(format!("unmatched '}}' at byte {at} of the template (write '}}}}' for a brace)")),
                '\\' if chars.peek().is_some_and(|&(_, n)| n == 't') => {
                    chars.next();
                    lit.push('\t');
                }
                '{' => {
                    let end = s[at..].find('}').ok_or(format!("unclosed '{{' at byte {at} of the template"))? + at;
                    let inner = &s[at + 1..end];
                    while chars.peek().is_some_and(|&(i, _)| i <= end) {
                        chars.next();
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    }
                    pieces.push(placeholder(inner)?);
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(LineTemplate { pieces })
    }
}

fn placeholder(inner: &str) -> Result<Piece, String> {
    let (name, spec) = inner.split_once(':').unwrap_or((inner, ""));
    let field = match name.trim() {
        "ts" => Field::Ts,
        "level" => Field::Level,
        "thread" => Field::Thread,
        "thread_id" => Field::ThreadId,
        "target" | "module" => Field::Target,
        "file" => Field::File,
        "line" => Field::Line,
        "msg" => Field::Msg,
        "fields" => Field::Fields,
        other => return Err(format!("unknown placeholder {{{other}}} in the template (known: {FIELDS})")),
    };
    let (right, digits) = match spec.as_bytes().first() {
        Some(b'>') => (true, &spec[1..]),
        Some(b'<') => (false, &spec[1..]),
        _ => (false, spec),
    };
    let width = if digits.is_empty() {
        0
    } else {
        digits.parse::<usize>().ok().filter(|&w| w <= 1024).ok_or(format!(
            "bad spec {{{inner}}} in the template: expected {{{name}:<N}} or {{{name}:>N}} with N up to 1024"
        ))?
    };
    Ok(Piece::Field { field, right, width })
}

/// Everything a text line needs besides the event: template, time style, colors.
#[derive(Debug, Clone, Default)]
pub struct TextStyle {
    template: LineTemplate,
    time: TimeFormatter,
    color: bool,
    /// Templates resolved per (run, call site, thread), direct-mapped.
    cache: Vec<Resolved>,
}

/// The line of one (run, call site, thread): everything but the timestamp and the
/// arguments is fixed, so it is rendered once into literal runs with holes between them.
/// When the message is a plain `{}` layout of fixed-size arguments, its literals are
/// folded in too and each argument is a hole of its own.
#[derive(Debug, Clone, Default)]
struct Resolved {
    key: Option<(usize, u32, u32)>,
    holes: Vec<Hole>,
    /// The text after the last hole.
    tail: String,
    /// The record's argument bytes that the `Arg` holes read, when there are some: a
    /// record with another length (damage) is printed through the unfolded layout.
    args_len: Option<usize>,
}

#[derive(Debug, Clone)]
struct Hole {
    /// The text before the hole.
    before: String,
    what: HoleKind,
    right: bool,
    width: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoleKind {
    Ts,
    Msg,
    Fields,
    /// `{}` of the fixed-size argument of kind `kind` at byte `at` of the arguments.
    Arg {
        kind: u8,
        at: usize,
    },
}

const CACHE_SLOTS: usize = 64;

impl TextStyle {
    /// A style from a template, a time formatter and whether to color.
    pub fn new(template: LineTemplate, time: TimeFormatter, color: bool) -> TextStyle {
        TextStyle { template, time, color, cache: Vec::new() }
    }

    /// Whether colors are on.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Turns colors on or off.
    pub fn set_color(&mut self, on: bool) {
        self.color = on;
        self.cache.clear();
    }

    /// Appends the line of a record (without newline). Returns the message's rendering
    /// error, if any (the line then holds a readable fallback).
    #[inline(always)]
    pub fn record(&mut self, rec: &RecordRef<'_>, args: &mut ArgBuf, out: &mut String) -> Result<(), String> {
        if self.cache.is_empty() {
            self.cache.resize(CACHE_SLOTS, Resolved::default());
        }
        let key = (rec.run, rec.site.id, rec.thread.id);
        let slot = (rec.site.id as usize ^ (rec.thread.id as usize).wrapping_mul(7) ^ rec.run) % CACHE_SLOTS;
        if self.cache[slot].key != Some(key) {
            let r = &mut self.cache[slot];
            r.key = Some(key);
            resolve(&self.template, self.color, rec, true, r);
        }
        let r = &self.cache[slot];
        if r.args_len.is_some_and(|n| n != rec.args.len()) {
            let mut plain = Resolved::default();
            resolve(&self.template, self.color, rec, false, &mut plain);
            return fill(&plain, &mut self.time, self.color, rec, args, out);
        }
        fill(r, &mut self.time, self.color, rec, args, out)
    }

    /// Appends the line of a flight-recorder dump (without newline), one layout whatever
    /// the template: `<ts> flight recorder: N records from <ts> to <ts>, trigger: REASON`.
    pub fn dump(&mut self, d: &DumpRef<'_>, out: &mut String) {
        if self.color {
            out.push_str(DIM);
        }
        self.time.write(out, d.ts_ns);
        if self.color {
            out.push_str(RESET);
        }
        let _ = write!(out, " flight recorder: {} records", d.count);
        if d.count > 0 {
            out.push_str(" from ");
            self.time.write(out, d.first_ns);
            out.push_str(" to ");
            self.time.write(out, d.last_ns);
        }
        let _ = write!(out, ", trigger: {}", d.reason);
    }

    /// Appends the line of a drop report (without newline). Drop reports keep one layout
    /// whatever the template: `<ts> DROPS <thread> dropped N records between <ts> and <ts>`.
    pub fn drops(&mut self, d: &DropsRef<'_>, out: &mut String) {
        if self.color {
            out.push_str(DIM);
        }
        self.time.write(out, d.ts_ns);
        if self.color {
            out.push_str(RESET);
            out.push(' ');
            out.push_str(DROPS_COLOR);
            out.push_str("DROPS");
            out.push_str(RESET);
            out.push(' ');
        } else {
            out.push_str(" DROPS ");
        }
        push_thread(out, &d.thread.name, d.thread.id);
        let _ = write!(out, " dropped {} records between ", d.count);
        self.time.write(out, d.first_ns);
        out.push_str(" and ");
        self.time.write(out, d.last_ns);
    }
}

/// Appends the line of `rec` laid out by `r`.
#[inline]
fn fill(
    r: &Resolved,
    time: &mut TimeFormatter,
    color: bool,
    rec: &RecordRef<'_>,
    args: &mut ArgBuf,
    out: &mut String,
) -> Result<(), String> {
    let mut res = Ok(());
    for h in &r.holes {
        // Often empty (a line that starts with `{ts}`): skip the call to copy nothing.
        if !h.before.is_empty() {
            out.push_str(&h.before);
        }
        if let HoleKind::Arg { kind, at } = h.what {
            // `resolve` checked the kind and `record` the length: this always prints.
            crate::output::push_fixed(kind, rec.args.get(at..).unwrap_or_default(), out);
            continue;
        }
        let color = color && h.what == HoleKind::Ts;
        if color {
            out.push_str(DIM);
        }
        let start = out.len();
        match h.what {
            HoleKind::Ts => time.write(out, rec.ts_ns),
            HoleKind::Fields => crate::output::render_fields(rec, args, out),
            HoleKind::Msg | HoleKind::Arg { .. } => res = crate::output::render_message(rec, args, out),
        }
        pad(out, start, h.right, h.width);
        if color {
            out.push_str(RESET);
        }
    }
    if !r.tail.is_empty() {
        out.push_str(&r.tail);
    }
    res
}

/// Renders the fixed parts of the template for `rec`'s call site and thread; with `fold`,
/// folds a message of fixed-size `{}` arguments in as well (see [`Resolved`]).
fn resolve(t: &LineTemplate, color: bool, rec: &RecordRef<'_>, fold: bool, r: &mut Resolved) {
    r.holes.clear();
    r.args_len = None;
    let mut out = String::new();
    let mut hole = |out: &mut String, what, right, width| {
        r.holes.push(Hole { before: std::mem::take(out), what, right, width });
    };
    for p in &t.pieces {
        let (field, right, width) = match p {
            Piece::Literal(s) => {
                out.push_str(s);
                continue;
            }
            Piece::Field { field, right, width } => (*field, *right, *width),
        };
        match field {
            Field::Msg => {
                match fold.then(|| fold_message(rec, width)).flatten() {
                    Some((template, offsets)) => {
                        for seg in template.segments() {
                            match seg {
                                Segment::Literal(s) => out.push_str(s),
                                Segment::Display(i) => {
                                    let kind = rec.site.kinds[i];
                                    hole(&mut out, HoleKind::Arg { kind, at: offsets[i] }, false, 0);
                                }
                                // `fold_message` folds only `{}` layouts.
                                _ => {}
                            }
                        }
                        r.args_len = offsets.last().copied();
                    }
                    None => hole(&mut out, HoleKind::Msg, right, width),
                }
                continue;
            }
            Field::Ts => {
                hole(&mut out, HoleKind::Ts, right, width);
                continue;
            }
            Field::Fields if !rec.site.fields.is_empty() => {
                hole(&mut out, HoleKind::Fields, right, width);
                continue;
            }
            _ => {}
        }
        let color = color && field == Field::Level;
        if color {
            out.push_str(level_color(rec.site.level));
        }
        let start = out.len();
        match field {
            Field::Level => out.push_str(rec.site.level.map_or("?????", |l| l.as_str())),
            Field::Thread => push_thread(&mut out, rec.thread.name.as_str(), rec.thread.id),
            Field::ThreadId => push_u32(&mut out, rec.thread.id),
            Field::Target => out.push_str(&rec.site.module),
            Field::File => out.push_str(&rec.site.file),
            Field::Line => push_u32(&mut out, rec.site.line),
            Field::Ts | Field::Msg | Field::Fields => {}
        }
        pad(&mut out, start, right, width);
        if color {
            out.push_str(RESET);
        }
    }
    r.tail = out;
}

/// The format string of `rec`'s call site, where each of its arguments starts and where the
/// last one ends, if the message can be folded into the line: a parsed format string of
/// `{}` placeholders only, every argument of a kind [`crate::output::push_fixed`] prints,
/// and no width on `{msg}`. For arguments of exactly these bytes such a message renders as
/// the folded holes print it: [`Template::render`] writes each `{}` as `push_display` does.
fn fold_message<'r>(rec: &RecordRef<'r>, width: usize) -> Option<(&'r Template, Vec<usize>)> {
    let site = rec.site;
    let template = site.template.as_ref().ok()?;
    if width != 0 {
        return None;
    }
    let mut offsets = vec![0];
    for &k in &site.kinds {
        let end = offsets.last()? + crate::output::fixed_size(k)?;
        offsets.push(end);
    }
    let folds = template.segments().all(|s| match s {
        Segment::Literal(_) => true,
        Segment::Display(i) => i < site.kinds.len(),
        _ => false,
    });
    folds.then_some((template, offsets))
}

/// Pads `out[start..]` with spaces to `width` characters.
#[inline]
fn pad(out: &mut String, start: usize, right: bool, width: usize) {
    if width != 0 {
        pad_slow(out, start, right, width);
    }
}

#[inline(never)]
fn pad_slow(out: &mut String, start: usize, right: bool, width: usize) {
    let text = &out[start..];
    let n = if text.is_ascii() { text.len() } else { text.chars().count() };
    if n >= width {
        return;
    }
    if right {
        out.insert_str(start, &" ".repeat(width - n));
    } else {
        out.extend(std::iter::repeat_n(' ', width - n));
    }
}

fn push_u32(out: &mut String, n: u32) {
    let _ = write!(out, "{n}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_escapes_widths_and_reject_unknown_names() {
        let t: LineTemplate = "a{{b}}\\t{level:>7}{msg}".parse().unwrap();
        assert_eq!(
            t.pieces,
            vec![
                Piece::Literal("a{b}\t".into()),
                Piece::Field { field: Field::Level, right: true, width: 7 },
                Piece::Field { field: Field::Msg, right: false, width: 0 },
            ]
        );
        assert!("{msg".parse::<LineTemplate>().unwrap_err().contains("unclosed"));
        assert!("msg}".parse::<LineTemplate>().unwrap_err().contains("unmatched"));
        assert!("{level:x}".parse::<LineTemplate>().unwrap_err().contains("bad spec"));
        assert!("{lvl}".parse::<LineTemplate>().unwrap_err().contains("known: ts"));
    }

    #[test]
    fn padding_counts_characters() {
        let mut s = String::from("xλ");
        pad(&mut s, 1, false, 3);
        assert_eq!(s, "xλ  ");
        let mut s = String::from("ab");
        pad(&mut s, 0, true, 4);
        assert_eq!(s, "  ab");
    }
}
