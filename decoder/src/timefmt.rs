//! Timestamps for text output: RFC 3339 (the default), Unix seconds or nanoseconds, or any
//! `strftime` pattern, in UTC, the local time zone or a named one. The date and time of day
//! are computed once per second of log time and cached as a whole timestamp with zeros for
//! the nanoseconds, so a record costs one copy and nine digits written over those zeros.

use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::str::FromStr;

use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use tapelog_format::text::line::civil_from_days;

/// How a timestamp is written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsStyle {
    /// `2026-11-21T12:00:00.123456789Z` (UTC) or `...+01:00` (other zones).
    Rfc3339,
    /// Unix seconds with nanoseconds: `1795262400.123456789`.
    Unix,
    /// Unix nanoseconds: `1795262400123456789`.
    UnixNs,
    /// A `strftime` pattern (jiff's `%Y-%m-%d %H:%M:%S%.3f`, ...).
    Strftime(String),
}

impl FromStr for TsStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rfc3339" => Ok(TsStyle::Rfc3339),
            "unix" => Ok(TsStyle::Unix),
            "unix-ns" => Ok(TsStyle::UnixNs),
            _ if s.contains('%') => {
                let probe = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
                let mut out = String::new();
                BrokenDownTime::from(&probe).format(s, &mut out).map_err(|e| format!("bad --ts-format {s:?}: {e}"))?;
                Ok(TsStyle::Strftime(s.to_string()))
            }
            _ => Err(format!("{s:?} is not rfc3339, unix, unix-ns or a strftime pattern (with %)")),
        }
    }
}

/// Writes timestamps in one zone and style, caching per second.
#[derive(Debug, Clone)]
pub struct TimeFormatter {
    tz: TimeZone,
    utc: bool,
    style: TsStyle,
    /// Whether a strftime pattern prints sub-second digits (then nothing is cached).
    fractional: bool,
    /// The second `stamp` was made for.
    sec: Option<i64>,
    /// The timestamp of `sec`, with `000000000` where the nanoseconds go.
    stamp: String,
    /// Where the nanoseconds start in `stamp` (`None` when the style has none).
    nanos_at: Option<usize>,
    /// `stamp` padded with zeros to [`STAMP_WINDOW`] bytes, when it fits.
    fixed: Option<[u8; STAMP_WINDOW]>,
}

/// Stamps up to this long (every RFC 3339 and Unix stamp) are copied as one fixed-size block.
const STAMP_WINDOW: usize = 48;

impl Default for TimeFormatter {
    fn default() -> Self {
        TimeFormatter::new(TimeZone::UTC, TsStyle::Rfc3339)
    }
}

impl TimeFormatter {
    /// A formatter for `tz` in `style`.
    pub fn new(tz: TimeZone, style: TsStyle) -> TimeFormatter {
        let utc = tz == TimeZone::UTC;
        let fractional = match &style {
            // A pattern prints sub-second digits if two instants in one second differ.
            TsStyle::Strftime(p) => strftime(&tz, p, 0) != strftime(&tz, p, 123_456_789),
            _ => false,
        };
        TimeFormatter { tz, utc, style, fractional, sec: None, stamp: String::new(), nanos_at: None, fixed: None }
    }

    /// Appends the timestamp of `ns` (Unix nanoseconds).
    #[inline]
    pub fn write(&mut self, out: &mut String, ns: i128) {
        // The common case: `ns` falls in the second cached last, which has a slot for the
        // nanoseconds (RFC 3339 and Unix styles): no division, no style dispatch.
        if let (Some(at), Some(sec)) = (self.nanos_at, self.sec) {
            let frac = ns - i128::from(sec) * 1_000_000_000;
            if (0..1_000_000_000).contains(&frac) {
                self.push_stamp(out, at, frac as u32);
                return;
            }
        }
        self.write_uncached(out, ns);
    }

    /// [`Self::write`] for a timestamp in another second than the cached one, or in a style
    /// without a nanosecond slot.
    fn write_uncached(&mut self, out: &mut String, ns: i128) {
        if self.style == TsStyle::UnixNs {
            let _ = write!(out, "{ns}");
            return;
        }
        let (sec, frac) = match i64::try_from(ns) {
            Ok(n) => (n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000) as u32),
            Err(_) => (ns.div_euclid(1_000_000_000) as i64, ns.rem_euclid(1_000_000_000) as u32),
        };
        if self.fractional {
            if let TsStyle::Strftime(p) = &self.style {
                out.push_str(&strftime(&self.tz, p, ns));
            }
            return;
        }
        if self.sec != Some(sec) {
            self.refresh(sec);
        }
        match self.nanos_at {
            Some(at) => self.push_stamp(out, at, frac),
            None => out.push_str(&self.stamp),
        }
    }

    /// Appends the cached stamp with the nine digits of `frac` in its slot at `at`.
    #[inline]
    fn push_stamp(&self, out: &mut String, at: usize, frac: u32) {
        if let Some(fixed) = &self.fixed {
            // SAFETY: the bytes made part of `out` below are the stamp's (a `&str`) with
            // nine of its ASCII zeros replaced by ASCII digits, so `out` stays UTF-8.
            let v = unsafe { out.as_mut_vec() };
            v.reserve(STAMP_WINDOW);
            let old = v.len();
            let w = v.spare_capacity_mut().first_chunk_mut::<STAMP_WINDOW>();
            // A whole-window copy of fixed size (no call, no length-dependent branch),
            // then the digits: one byte and one eight-byte store.
            if let Some(w) = w {
                *w = fixed.map(MaybeUninit::new);
                let slot = w.get_mut(at..at + 9).and_then(|s| s.split_first_mut());
                if let Some((d, Some(low))) = slot.map(|(d, rest)| (d, rest.first_chunk_mut::<8>())) {
                    d.write(b'0' + (frac / 100_000_000) as u8);
                    *low = tapelog_format::text::eight_ascii_digits(frac % 100_000_000).map(MaybeUninit::new);
                    // SAFETY: the window, initialized above up to `STAMP_WINDOW >=
                    // stamp.len()` bytes, lies within the capacity `reserve` made.
                    unsafe { v.set_len(old + self.stamp.len()) };
                    return;
                }
            }
        }
        self.push_stamp_copy(out, at, frac);
    }

    /// [`Self::push_stamp`] for a stamp longer than [`STAMP_WINDOW`].
    #[inline(never)]
    fn push_stamp_copy(&self, out: &mut String, at: usize, frac: u32) {
        let start = out.len();
        out.push_str(&self.stamp);
        // SAFETY: only the nine ASCII zeros pushed there just above are overwritten, with
        // nine ASCII digits, so `out` stays valid UTF-8.
        let bytes = unsafe { out.as_mut_vec() };
        if let Some(slot) = bytes.get_mut(start + at..start + at + 9) {
            slot.copy_from_slice(&nine_digits(frac));
        }
    }

    fn refresh(&mut self, sec: i64) {
        self.sec = Some(sec);
        self.stamp.clear();
        self.nanos_at = None;
        match &self.style {
            TsStyle::Rfc3339 => {
                let offset = if self.utc {
                    0
                } else {
                    Timestamp::from_second(sec).map_or(0, |t| self.tz.to_offset(t).seconds() as i64)
                };
                let local = sec + offset;
                let (y, m, d) = civil_from_days(local.div_euclid(86_400));
                let rem = local.rem_euclid(86_400);
                let _ =
                    write!(self.stamp, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.", rem / 3600, rem / 60 % 60, rem % 60);
                self.push_nanos_placeholder();
                if self.utc {
                    self.stamp.push('Z');
                } else {
                    let sign = if offset < 0 { '-' } else { '+' };
                    let o = offset.abs();
                    let _ = write!(self.stamp, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60);
                    if o % 60 != 0 {
                        let _ = write!(self.stamp, ":{:02}", o % 60);
                    }
                }
            }
            TsStyle::Unix => {
                let _ = write!(self.stamp, "{sec}.");
                self.push_nanos_placeholder();
            }
            TsStyle::Strftime(p) => self.stamp = strftime(&self.tz, p, sec as i128 * 1_000_000_000),
            TsStyle::UnixNs => {}
        }
        self.fixed = (self.nanos_at.is_some() && self.stamp.len() <= STAMP_WINDOW).then(|| {
            let mut f = [0u8; STAMP_WINDOW];
            f[..self.stamp.len()].copy_from_slice(self.stamp.as_bytes());
            f
        });
    }
}

impl TimeFormatter {
    fn push_nanos_placeholder(&mut self) {
        self.nanos_at = Some(self.stamp.len());
        self.stamp.push_str("000000000");
    }
}

fn strftime(tz: &TimeZone, pattern: &str, ns: i128) -> String {
    let Ok(t) = Timestamp::from_nanosecond(ns) else { return ns.to_string() };
    let z = t.to_zoned(tz.clone());
    let mut out = String::new();
    if BrokenDownTime::from(&z).format(pattern, &mut out).is_err() {
        out.clear();
        let _ = write!(out, "{ns}");
    }
    out
}

/// The nine digits of `f < 10^9`, zero-padded, as ASCII. Built in registers, the last
/// eight at once by `tapelog_format::text`'s integer writer's method, so that copying them out is
/// one eight-byte load of a single eight-byte store: digits stored a byte or three at a
/// time and loaded as eight stall the store-to-load forwarding, which cost more than the
/// arithmetic here.
#[inline]
fn nine_digits(f: u32) -> [u8; 9] {
    let f = f % 1_000_000_000;
    let mut d = [0u8; 9];
    d[0] = b'0' + (f / 100_000_000) as u8;
    d[1..].copy_from_slice(&tapelog_format::text::eight_ascii_digits(f % 100_000_000));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(tf: &mut TimeFormatter, ns: i128) -> String {
        let mut s = String::new();
        tf.write(&mut s, ns);
        s
    }

    #[test]
    fn timestamps_format_as_rfc3339_utc_with_nanoseconds() {
        let mut tf = TimeFormatter::default();
        assert_eq!(fmt(&mut tf, 1_795_262_400_123_456_789), "2026-11-21T12:00:00.123456789Z");
        assert_eq!(fmt(&mut tf, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(fmt(&mut tf, 951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn nanoseconds_are_nine_zero_padded_digits() {
        let mut f = 0u32;
        while f < 1_000_000_000 {
            for g in [f, f + 1, f + 9_999, f + 99_999_999 % (1_000_000_000 - f)] {
                assert_eq!(std::str::from_utf8(&nine_digits(g)).unwrap(), format!("{g:09}"));
            }
            f += 7_654_321;
        }
        assert_eq!(&nine_digits(999_999_999), b"999999999");
    }

    #[test]
    fn other_zones_carry_their_offset_across_a_dst_change() {
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let mut tf = TimeFormatter::new(tz, TsStyle::Rfc3339);
        // 2026-03-29 00:59:59 UTC is 01:59:59 CET; one second later it is 03:00:00 CEST.
        let t = 1_774_745_999_000_000_000i128;
        assert_eq!(fmt(&mut tf, t), "2026-03-29T01:59:59.000000000+01:00");
        assert_eq!(fmt(&mut tf, t + 1_000_000_000), "2026-03-29T03:00:00.000000000+02:00");
    }

    #[test]
    fn unix_and_strftime_styles() {
        let t = 1_795_262_400_123_456_789i128;
        assert_eq!(fmt(&mut TimeFormatter::new(TimeZone::UTC, TsStyle::Unix), t), "1795262400.123456789");
        assert_eq!(fmt(&mut TimeFormatter::new(TimeZone::UTC, TsStyle::UnixNs), t), "1795262400123456789");
        let p: TsStyle = "%H:%M:%S%.3f".parse().unwrap();
        let mut tf = TimeFormatter::new(TimeZone::UTC, p);
        assert_eq!(fmt(&mut tf, t), "12:00:00.123");
        assert_eq!(fmt(&mut tf, t + 1), "12:00:00.123");
        let p: TsStyle = "%d/%m/%Y %H:%M:%S".parse().unwrap();
        assert_eq!(fmt(&mut TimeFormatter::new(TimeZone::UTC, p), t), "21/11/2026 12:00:00");
        assert!("no-percent".parse::<TsStyle>().is_err());
    }
}
