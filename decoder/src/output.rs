//! Turning events into text lines and NDJSON.

use std::fmt::Write as _;

use tapelog::text::Value;
use tapelog::wire::kinds::{fixed_value, ArgKind};

use crate::event::{DropsRef, RecordRef};
pub use crate::timefmt::TimeFormatter;

pub use tapelog::text::recycle;
pub use tapelog::wire::kinds::decode_args;

/// Decodes arguments of the fixed-size kinds (integers up to 64 bits, floats) into `arr`;
/// false if any kind is another one or the bytes are short. `arr` must hold only `None` or
/// fixed-size values: what it held is overwritten without being dropped.
#[inline]
fn decode_fixed<'a>(kinds: &[u8], mut args: &'a [u8], arr: &mut [Value<'a>; 4]) -> bool {
    for (slot, &k) in arr.iter_mut().zip(kinds) {
        let Some((v, n)) = fixed_value(ArgKind(k), args) else { return false };
        // The slot holds `None` or a fixed-size value, which own nothing: skipping its drop
        // (a call per argument) leaks nothing.
        std::mem::forget(std::mem::replace(slot, v));
        args = &args[n..];
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
    // Fast path: up to four fixed-size arguments decode into an array on the stack, whose
    // slots start as `None`, so assigning them drops nothing and nothing is copied twice.
    if let (Ok(t), true) = (&rec.site.template, rec.site.kinds.len() <= 4) {
        let mut arr = [Value::None, Value::None, Value::None, Value::None];
        let decoded = decode_fixed(&rec.site.kinds, rec.args, &mut arr);
        let start = out.len();
        let rendered = decoded && t.render(&arr[..rec.site.kinds.len()], out).is_ok();
        // `arr` holds only `None` and fixed-size values, never a `Box`: forgetting it leaks
        // nothing and skips four calls to its drop glue.
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
            tapelog::text::line::push_fields(out, names, vals.iter().skip(first));
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
    buf.0 = recycle(vals);
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
