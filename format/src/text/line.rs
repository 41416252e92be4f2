//! Pieces of the default text line that both the consumer's text sinks and the decoder
//! (`tapelog cat`) write, so the two print the same bytes for the same record:
//!
//! `2026-11-21T12:00:00.123456789Z INFO  <thread> <module> <file>:<line> <message> k=v`

use std::fmt::Write as _;
use std::sync::OnceLock;

use super::{Template, Value};
use crate::Level;

/// Resets colors and styles.
pub const RESET: &str = "\x1b[0m";
/// Dims the timestamp.
pub const DIM: &str = "\x1b[2m";
/// Colors the `DROPS` tag of a drop report.
pub const DROPS_COLOR: &str = "\x1b[1;33m";
/// What starts the text line of a record a flight recorder kept and a dump wrote out
/// (`tapelog cat` and the text outputs alike).
pub const RECORDED_MARK: &str = "[recorded] ";

/// The ANSI color of a level (`None`, an unknown level, is shown like an error).
///
/// ```
/// assert_eq!(tapelog_format::text::line::level_color(Some(tapelog_format::Level::Info)), "\x1b[32m");
/// ```
pub fn level_color(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Error) | None => "\x1b[1;31m",
        Some(Level::Warn) => "\x1b[33m",
        Some(Level::Info) => "\x1b[32m",
        Some(Level::Debug) => "\x1b[34m",
        Some(Level::Trace) => "\x1b[35m",
    }
}

/// Appends a thread's label: its name, or `thread-<id>` when it has none.
///
/// ```
/// let mut s = String::new();
/// tapelog_format::text::line::push_thread(&mut s, "", 7);
/// tapelog_format::text::line::push_thread(&mut s, " oms", 8);
/// assert_eq!(s, "thread-7 oms");
/// ```
pub fn push_thread(out: &mut String, name: &str, id: u32) {
    if name.is_empty() {
        let _ = write!(out, "thread-{id}");
    } else {
        out.push_str(name);
    }
}

/// Appends a key-value field's value as logfmt does: `{}` of the value, or `{:?}` where
/// `{}` would be ambiguous (strings that are empty or hold white space, quotes or `=`; byte
/// strings; options) or is not defined.
///
/// ```
/// use tapelog_format::text::{line::push_field_value, Value};
/// let mut s = String::new();
/// push_field_value(&Value::Str("buy"), &mut s);
/// s.push(' ');
/// push_field_value(&Value::Str("a b"), &mut s);
/// s.push(' ');
/// push_field_value(&Value::F64(101.25), &mut s);
/// assert_eq!(s, r#"buy "a b" 101.25"#);
/// ```
pub fn push_field_value(v: &Value<'_>, out: &mut String) {
    static PLAIN: OnceLock<(Template, Template)> = OnceLock::new();
    let (display, debug) = PLAIN.get_or_init(|| {
        let p = |f| Template::parse(f).unwrap_or_else(|_| unreachable!("a valid literal"));
        (p("{}"), p("{:?}"))
    });
    let quote = match v {
        Value::Str(s) => s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '='),
        Value::Bytes(_) | Value::None | Value::Some(_) => true,
        _ => false,
    };
    let one = std::slice::from_ref(v);
    if quote || display.render(one, out).is_err() {
        let _ = debug.render(one, out);
    }
}

/// Appends ` name=value` for each field (the pairs the line ends with).
pub fn push_fields<'v>(out: &mut String, names: &[impl AsRef<str>], values: impl IntoIterator<Item = &'v Value<'v>>) {
    for (name, v) in names.iter().zip(values) {
        out.push(' ');
        out.push_str(name.as_ref());
        out.push('=');
        push_field_value(v, out);
    }
}

/// Formats Unix nanoseconds as RFC 3339 UTC with nine fractional digits
/// (`2026-11-21T12:00:00.123456789Z`), caching the part that changes once a second.
#[derive(Debug, Default)]
pub struct UtcNanos {
    /// Whole Unix second of `prefix`, when it holds one.
    second: Option<i64>,
    /// `YYYY-MM-DDTHH:MM:SS.` of `second`.
    prefix: String,
}

impl UtcNanos {
    /// A formatter with an empty cache.
    pub fn new() -> Self {
        UtcNanos::default()
    }

    /// Appends `ns` (Unix nanoseconds; negative is before 1970).
    ///
    /// ```
    /// let mut t = tapelog_format::text::line::UtcNanos::new();
    /// let mut s = String::new();
    /// t.push(&mut s, 1_795_262_400_123_456_789);
    /// assert_eq!(s, "2026-11-21T12:00:00.123456789Z");
    /// ```
    pub fn push(&mut self, out: &mut String, ns: i128) {
        let secs = ns.div_euclid(1_000_000_000);
        let frac = ns.rem_euclid(1_000_000_000) as u32;
        let secs = secs.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        if self.second != Some(secs) {
            self.prefix.clear();
            push_date_time(&mut self.prefix, secs);
            self.prefix.push('.');
            self.second = Some(secs);
        }
        out.push_str(&self.prefix);
        let mut digits = [b'0'; 9];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        // The digits are ASCII.
        out.push_str(std::str::from_utf8(&digits).unwrap_or("000000000"));
        out.push('Z');
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix second, in the proleptic Gregorian calendar.
fn push_date_time(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
}

/// Year, month and day of a count of days since 1970-01-01, proleptic Gregorian (Howard
/// Hinnant's algorithm). The one civil-date routine every timestamp of tapelog's goes
/// through.
///
/// ```
/// use tapelog_format::text::line::civil_from_days;
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(20_424), (2025, 12, 2));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_instants() {
        let mut t = UtcNanos::new();
        let cases: [(i128, &str); 6] = [
            (0, "1970-01-01T00:00:00.000000000Z"),
            (951_782_400_000_000_001, "2000-02-29T00:00:00.000000001Z"),
            (4_107_542_399_999_999_999, "2100-02-28T23:59:59.999999999Z"),
            (1_795_262_400_123_456_789, "2026-11-21T12:00:00.123456789Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (1_709_164_800_500_000_000, "2024-02-29T00:00:00.500000000Z"),
        ];
        for (ns, want) in cases {
            let mut s = String::new();
            t.push(&mut s, ns);
            assert_eq!(s, want, "{ns}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // Days -> civil -> days, against a simple day-by-day calendar walk.
        let (mut y, mut m, mut d) = (1900i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for z in -25_567..(-25_567 + 146_097) {
            assert_eq!(civil_from_days(z), (y, m, d), "day {z}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
