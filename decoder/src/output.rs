//! Turning events into text lines and NDJSON.

use std::fmt::Write as _;

use tapelog::text::Value;
use tapelog::wire::kinds::{decode_arg, ArgKind};

use crate::merge::{DropsRef, RecordRef};

/// Formats Unix ns as `2026-11-21T12:00:00.123456789Z`, caching the date part per second.
#[derive(Debug, Default)]
pub struct TimeFormatter {
    sec: Option<i64>,
    prefix: String,
}

impl TimeFormatter {
    /// Appends the RFC 3339 UTC timestamp with nanoseconds.
    pub fn write(&mut self, out: &mut String, ns: i128) {
        let sec = ns.div_euclid(1_000_000_000) as i64;
        let frac = ns.rem_euclid(1_000_000_000) as u32;
        if self.sec != Some(sec) {
            self.sec = Some(sec);
            self.prefix.clear();
            let days = sec.div_euclid(86_400);
            let rem = sec.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let _ = write!(self.prefix, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.", rem / 3600, rem / 60 % 60, rem % 60);
        }
        out.push_str(&self.prefix);
        let mut digits = [b'0'; 9];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.push_str(core::str::from_utf8(&digits).unwrap_or("000000000"));
        out.push('Z');
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Decodes a record's arguments into `out`; returns why not, if the bytes do not match the
/// call site's kinds.
pub fn decode_args<'a>(kinds: &[u8], mut args: &'a [u8], out: &mut Vec<Value<'a>>) -> Result<(), String> {
    for &k in kinds {
        let (v, n) = decode_arg(ArgKind(k), args).map_err(|e| e.to_string())?;
        out.push(v);
        args = &args[n..];
    }
    Ok(())
}

/// Reuses a vector's allocation for values of another lifetime.
pub fn recycle<'b>(mut v: Vec<Value<'_>>) -> Vec<Value<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

/// Renders the message of a record into `out`. On failure `out` holds a readable fallback
/// (the raw format string and arguments) and the error is returned.
pub fn render_message<'a>(rec: &RecordRef<'a>, vals: &mut Vec<Value<'a>>, out: &mut String) -> Result<(), String> {
    let start = out.len();
    let res = match (&rec.site.template, decode_args(&rec.site.kinds, rec.args, vals)) {
        (Ok(t), Ok(())) => t.render(vals, out).map_err(|e| e.to_string()),
        (Err(e), _) => Err(format!("unusable format string: {e}")),
        (_, Err(e)) => Err(e),
    };
    if let Err(e) = &res {
        out.truncate(start);
        let _ = write!(out, "<undecodable: {e}> format={:?} args={:?}", rec.site.format, vals);
    }
    res
}

/// Writes the default text line of a record (without newline).
pub fn text_line<'a>(
    tf: &mut TimeFormatter,
    rec: &RecordRef<'a>,
    vals: &mut Vec<Value<'a>>,
    out: &mut String,
) -> Result<(), String> {
    tf.write(out, rec.ts_ns);
    out.push(' ');
    let level = rec.site.level.map_or("?????", |l| l.as_str());
    out.push_str(level);
    for _ in level.len()..5 {
        out.push(' ');
    }
    out.push(' ');
    if rec.thread.name.is_empty() {
        let _ = write!(out, "thread-{}", rec.thread.id);
    } else {
        out.push_str(&rec.thread.name);
    }
    out.push(' ');
    out.push_str(&rec.site.module);
    out.push(' ');
    out.push_str(&rec.site.file);
    out.push(':');
    let _ = write!(out, "{}", rec.site.line);
    out.push(' ');
    render_message(rec, vals, out)
}

/// Writes the text line of a drop report (without newline).
pub fn drops_line(tf: &mut TimeFormatter, d: &DropsRef<'_>, out: &mut String) {
    tf.write(out, d.ts_ns);
    out.push_str(" DROPS ");
    out.push_str(&d.thread.label());
    let _ = write!(out, " dropped {} records between ", d.count);
    let mut t = TimeFormatter::default();
    t.write(out, d.first_ns);
    out.push_str(" and ");
    t.write(out, d.last_ns);
}

fn kind_name(k: u8) -> &'static str {
    match ArgKind(k & !ArgKind::OPTION_FLAG) {
        ArgKind::U8 => "u8",
        ArgKind::U16 => "u16",
        ArgKind::U32 => "u32",
        ArgKind::U64 => "u64",
        ArgKind::U128 => "u128",
        ArgKind::USIZE => "usize",
        ArgKind::I8 => "i8",
        ArgKind::I16 => "i16",
        ArgKind::I32 => "i32",
        ArgKind::I64 => "i64",
        ArgKind::I128 => "i128",
        ArgKind::ISIZE => "isize",
        ArgKind::F32 => "f32",
        ArgKind::F64 => "f64",
        ArgKind::BOOL => "bool",
        ArgKind::CHAR => "char",
        ArgKind::STR => "str",
        ArgKind::BYTES => "bytes",
        _ => "unknown",
    }
}

/// A value as JSON.
pub fn value_json(v: &Value<'_>) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::U8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::U64(x) | Value::Usize(x) => json!(x),
        // JSON numbers beyond 64 bits lose precision in most readers: use a string.
        Value::U128(x) => u64::try_from(*x).map_or_else(|_| json!(x.to_string()), |v| json!(v)),
        Value::I8(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::I64(x) | Value::Isize(x) => json!(x),
        Value::I128(x) => i64::try_from(*x).map_or_else(|_| json!(x.to_string()), |v| json!(v)),
        Value::F32(x) => json!(x),
        Value::F64(x) => json!(x),
        Value::Bool(x) => json!(x),
        Value::Char(x) => json!(x.to_string()),
        Value::Str(x) => json!(x),
        Value::Bytes(x) => json!(x),
        Value::None => serde_json::Value::Null,
        Value::Some(x) => value_json(x),
    }
}

/// The NDJSON object of a record.
pub fn record_json<'a>(rec: &RecordRef<'a>, vals: &mut Vec<Value<'a>>) -> (serde_json::Value, Result<(), String>) {
    let mut msg = String::new();
    let res = render_message(rec, vals, &mut msg);
    let args: Vec<serde_json::Value> = rec
        .site
        .kinds
        .iter()
        .zip(vals.iter())
        .map(|(k, v)| {
            let ty = if k & ArgKind::OPTION_FLAG != 0 {
                format!("Option<{}>", kind_name(*k))
            } else {
                kind_name(*k).to_string()
            };
            serde_json::json!({ "type": ty, "value": value_json(v) })
        })
        .collect();
    let mut ts = String::new();
    TimeFormatter::default().write(&mut ts, rec.ts_ns);
    let j = serde_json::json!({
        "kind": "record",
        "ts_ns": rec.ts_ns as i64,
        "ts": ts,
        "level": rec.site.level.map_or("?", |l| l.as_str()),
        "thread": rec.thread.label(),
        "thread_id": rec.thread.id,
        "target": rec.site.module,
        "file": rec.site.file,
        "line": rec.site.line,
        "msg": msg,
        "args": args,
    });
    (j, res)
}

/// The NDJSON object of a drop report.
pub fn drops_json(d: &DropsRef<'_>) -> serde_json::Value {
    serde_json::json!({
        "kind": "drops",
        "ts_ns": d.ts_ns as i64,
        "thread": d.thread.label(),
        "thread_id": d.thread.id,
        "count": d.count,
        "first_ns": d.first_ns as i64,
        "last_ns": d.last_ns as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339_utc_with_nanoseconds() {
        let mut tf = TimeFormatter::default();
        let mut s = String::new();
        tf.write(&mut s, 1_795_262_400_123_456_789);
        assert_eq!(s, "2026-11-21T12:00:00.123456789Z");
        s.clear();
        tf.write(&mut s, 0);
        assert_eq!(s, "1970-01-01T00:00:00.000000000Z");
        s.clear();
        tf.write(&mut s, 951_782_400_000_000_001); // leap day 2000
        assert_eq!(s, "2000-02-29T00:00:00.000000001Z");
    }
}
