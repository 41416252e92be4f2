//! Turning events into text lines and NDJSON.

use std::fmt::Write as _;

use tapelog_format::serde_value::Shapes;
use tapelog_format::text::Value;
use tapelog_format::wire::kinds::{decode_arg_with, fixed_value, ArgKind};

use crate::event::{DropsRef, DumpRef, RecordRef};
pub use crate::timefmt::TimeFormatter;

pub use tapelog_format::text::recycle;
pub use tapelog_format::wire::kinds::decode_args;

/// Decodes arguments of the kinds whose values own nothing (integers up to 64 bits, floats,
/// and the borrowed `str`, `[u8]`, `bool` and `char`) into `arr`; false if any kind is
/// another one or the bytes do not decode. `arr` must hold only such values or `None`:
/// what it held is overwritten without being dropped.
#[inline]
fn decode_flat<'a>(kinds: &[u8], mut args: &'a [u8], shapes: &Shapes, arr: &mut [Value<'a>; 4]) -> bool {
    for (slot, &k) in arr.iter_mut().zip(kinds) {
        let k = ArgKind(k);
        let (v, n) = match fixed_value(k, args) {
            Some(fixed) => fixed,
            None if matches!(k, ArgKind::STR | ArgKind::BYTES | ArgKind::BOOL | ArgKind::CHAR) => {
                match decode_arg_with(k, args, shapes) {
                    Ok(flat) => flat,
                    Err(_) => return false,
                }
            }
            None => return false,
        };
        // The slot holds `None` or a value that owns nothing: skipping its drop (a call
        // per argument) leaks nothing.
        std::mem::forget(std::mem::replace(slot, v));
        args = args.get(n..).unwrap_or_default();
    }
    true
}

/// Encoded size of an argument kind that [`push_fixed`] prints.
pub(crate) fn fixed_size(kind: u8) -> Option<usize> {
    match ArgKind(kind) {
        ArgKind::U8 | ArgKind::I8 => Some(1),
        ArgKind::U16 | ArgKind::I16 => Some(2),
        ArgKind::U32 | ArgKind::I32 | ArgKind::F32 => Some(4),
        ArgKind::U64 | ArgKind::USIZE | ArgKind::I64 | ArgKind::ISIZE | ArgKind::F64 => Some(8),
        _ => None,
    }
}

/// Appends `{}` of the argument of kind `kind` at the start of `b`, as the message
/// renderer prints it; false (nothing appended) if the kind is not one of
/// [`fixed_size`]'s or `b` is short.
#[inline]
pub(crate) fn push_fixed(kind: u8, b: &[u8], out: &mut String) -> bool {
    let Some((v, _)) = fixed_value(ArgKind(kind), b) else { return false };
    // A fixed-size value owns nothing: skipping its drop glue (a call) leaks nothing.
    std::mem::ManuallyDrop::new(v).push_display(out)
}

/// Renders the message of a record into `out`. On failure `out` holds a readable fallback
/// (the raw format string and arguments) and the error is returned.
pub fn render_message(rec: &RecordRef<'_>, buf: &mut ArgBuf, out: &mut String) -> Result<(), String> {
    // Fast path: up to four arguments that own nothing decode into an array on the stack,
    // whose slots start as `None`, so assigning them drops nothing and nothing is copied
    // twice.
    if let (Ok(t), true) = (&rec.site.template, rec.site.kinds.len() <= 4) {
        let mut arr = [Value::None, Value::None, Value::None, Value::None];
        let decoded = decode_flat(&rec.site.kinds, rec.args, rec.shapes, &mut arr);
        let start = out.len();
        let rendered = decoded && t.render(&arr[..rec.site.kinds.len()], out).is_ok();
        // `arr` holds only `None` and values that own nothing, never a `Box`: forgetting it
        // leaks nothing and skips four calls to its drop glue.
        std::mem::forget(arr);
        if rendered {
            return Ok(());
        }
        out.truncate(start);
    }
    let start = out.len();
    let mut vals = recycle(std::mem::take(&mut buf.0));
    let res = match (&rec.site.template, decode_args(&rec.site.kinds, rec.args, rec.shapes, &mut vals)) {
        (Ok(t), Ok(())) => t.render(&vals, out).map_err(|e| e.to_string()),
        (Err(e), _) => Err(format!("unusable format string: {e}")),
        (_, Err(e)) => Err(e),
    };
    if let Err(e) = &res {
        out.truncate(start);
        let _ = write!(out, "<undecodable: {e}> format={:?} args={:?}", rec.site.format, vals);
    }
    buf.0 = recycle(vals);
    res
}

/// Appends the record's key-value fields as ` key=value` pairs (logfmt: each with a leading
/// space; strings quoted when they hold spaces, quotes or `=`). Nothing without fields.
pub fn render_fields(rec: &RecordRef<'_>, buf: &mut ArgBuf, out: &mut String) {
    let names = &rec.site.fields;
    if names.is_empty() {
        return;
    }
    let mut vals = recycle(std::mem::take(&mut buf.0));
    match decode_args(&rec.site.kinds, rec.args, rec.shapes, &mut vals) {
        Ok(()) => {
            let first = rec.site.message_args();
            tapelog_format::text::line::push_fields(out, names, vals.iter().skip(first));
        }
        Err(e) => {
            let _ = write!(out, " <undecodable fields: {e}>");
        }
    }
    buf.0 = recycle(vals);
}

/// Reusable storage for the decoded arguments of one record at a time.
#[derive(Debug, Default)]
pub struct ArgBuf(Vec<Value<'static>>);

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
        ArgKind::SERDE => "serde",
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
        Value::Structured(s) => s.to_json(),
    }
}

/// The NDJSON object of a record.
pub fn record_json(rec: &RecordRef<'_>, buf: &mut ArgBuf) -> (serde_json::Value, Result<(), String>) {
    let mut msg = String::new();
    let res = render_message(rec, buf, &mut msg);
    let mut vals = recycle(std::mem::take(&mut buf.0));
    let _ = decode_args(&rec.site.kinds, rec.args, rec.shapes, &mut vals);
    let args: Vec<serde_json::Value> = rec
        .site
        .kinds
        .iter()
        .zip(vals.iter())
        .take(rec.site.message_args())
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
    let mut j = serde_json::json!({
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
    if !rec.site.fields.is_empty() {
        let fields: serde_json::Map<String, serde_json::Value> = rec
            .site
            .fields
            .iter()
            .zip(vals.iter().skip(rec.site.message_args()))
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect();
        j["fields"] = serde_json::Value::Object(fields);
    }
    if rec.recorded {
        j["recorded"] = serde_json::Value::Bool(true);
    }
    buf.0 = recycle(vals);
    (j, res)
}

/// The NDJSON object of a flight-recorder dump.
pub fn dump_json(d: &DumpRef<'_>) -> serde_json::Value {
    serde_json::json!({
        "kind": "dump",
        "ts_ns": d.ts_ns as i64,
        "count": d.count,
        "first_ns": d.first_ns as i64,
        "last_ns": d.last_ns as i64,
        "reason": d.reason,
    })
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
    use crate::event::{SiteInfo, UNKNOWN_THREAD};
    use tapelog_format::text::Template;

    fn site(format: &str, kinds: &[ArgKind]) -> SiteInfo {
        SiteInfo {
            id: 1,
            level: None,
            level_code: 0,
            line: 1,
            kinds: kinds.iter().map(|k| k.0).collect(),
            static_len: None,
            format: format.to_string(),
            module: String::new(),
            file: String::new(),
            template: Template::parse(format).map_err(|e| e.to_string()),
            fields: Vec::new(),
        }
    }

    fn render(site: &SiteInfo, args: &[u8]) -> (String, Result<(), String>) {
        let shapes = Shapes::default();
        let rec = RecordRef {
            ts_ns: 0,
            ticks: 0,
            run: 0,
            thread: &UNKNOWN_THREAD,
            site,
            args,
            shapes: &shapes,
            recorded: false,
        };
        let mut out = String::new();
        let res = render_message(&rec, &mut ArgBuf::default(), &mut out);
        (out, res)
    }

    fn str_arg(b: &mut Vec<u8>, s: &[u8]) {
        b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        b.extend_from_slice(s);
    }

    #[test]
    fn borrowed_arguments_render_as_format_does_and_bad_ones_fall_back() {
        let mut args = Vec::new();
        str_arg(&mut args, b"AAPL");
        args.push(1);
        args.extend_from_slice(&u32::from('λ').to_le_bytes());
        args.extend_from_slice(&101.125f64.to_le_bytes());
        let kinds = [ArgKind::STR, ArgKind::BOOL, ArgKind::CHAR, ArgKind::F64];
        let fmt = "{} {:>6} {:?} {:.2}";
        let want = format!("{} {:>6} {:?} {:.2}", "AAPL", true, 'λ', 101.125);
        assert_eq!(render(&site(fmt, &kinds), &args), (want.clone(), Ok(())));

        // Five arguments take the general path, with the same text.
        let mut five = args.clone();
        five.extend_from_slice(&7u32.to_le_bytes());
        let kinds5 = [ArgKind::STR, ArgKind::BOOL, ArgKind::CHAR, ArgKind::F64, ArgKind::U32];
        assert_eq!(render(&site("{} {:>6} {:?} {:.2} {}", &kinds5), &five), (format!("{want} 7"), Ok(())));

        // Invalid UTF-8, a bad bool, and a short string body: an error and a readable line.
        let mut bad = Vec::new();
        str_arg(&mut bad, b"\xff\xfe");
        bad.extend_from_slice(&args[8..]);
        let mut bad_bool = Vec::new();
        str_arg(&mut bad_bool, b"AAPL");
        bad_bool.push(7);
        bad_bool.extend_from_slice(&args[9..]);
        for damaged in [&bad[..], &bad_bool[..], &args[..6]] {
            let (line, res) = render(&site(fmt, &kinds), damaged);
            assert!(res.is_err(), "{line}");
            assert!(line.starts_with("<undecodable: "), "{line}");
        }
    }
}
