//! Reproduces `format!` output from a [`Template`] and decoded [`Value`]s.
//!
//! std writes every number (digits, sign, `0x` prefix, precision, and the width when
//! it pads with zeros or spaces on the left), because std's integer and float
//! algorithms define the output. std cannot take a fill character or an alignment at
//! run time, so other padding is applied here: by chars, left-aligned by default for
//! text and right-aligned for numbers. Text is truncated and padded here too, and
//! `Option`/`[u8]` Debug is built the way `debug_tuple`/`debug_list` build it,
//! handing the whole spec down to each element.
//!
//! Fast paths skip `fmt` for plain `{}` of integers up to 64 bits and of floats whose
//! shortest decimal is short (see [`push_short`]), and for floats with a precision,
//! `{:.2}` (see [`push_fixed`]); all are checked against std.

use std::fmt::{self, Write as _};

use super::spec::{Kind, Piece, Spec, Template};
use super::Value;

mod digits;
mod float;
mod pad;

pub use digits::eight_ascii_digits;
use digits::{push_i64, push_u64};
use float::{push_fixed, push_short, ShortFloat};
use pad::{
    indent, pad_number, pad_right, pad_str, std_binary, std_debug, std_display, std_lower_exp, std_lower_hex,
    std_octal, std_upper_exp, std_upper_hex,
};

/// Why a record could not be rendered. Only corrupt or mismatched input causes these:
/// a record that was logged through the checked macros always renders.
///
/// ```
/// use tapelog_format::text::{RenderError, Template, Value};
///
/// let t = Template::parse("{:x}")?;
/// let mut out = String::new();
/// assert_eq!(
///     t.render(&[Value::Str("ff")], &mut out),
///     Err(RenderError::Unsupported { index: 0, spec: "LowerHex (`{:x}`)", value: "str" })
/// );
/// assert_eq!(
///     t.render(&[], &mut out),
///     Err(RenderError::MissingArgument { index: 0, len: 0 })
/// );
/// # Ok::<(), tapelog_format::text::FormatError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// The template refers to argument `index` but the record carries only `len`.
    MissingArgument {
        /// Index the placeholder refers to.
        index: usize,
        /// Number of arguments given.
        len: usize,
    },
    /// Argument `index` is of a type Rust would not have formatted with this spec
    /// (for example `{:x}` on a string), so `format!` has no output to reproduce.
    Unsupported {
        /// Index of the argument.
        index: usize,
        /// The formatting trait the placeholder asks for.
        spec: &'static str,
        /// The argument's type.
        value: &'static str,
    },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::MissingArgument { index, len } => {
                write!(f, "format string refers to argument {index} but the record has {len}")
            }
            RenderError::Unsupported { index, spec, value } => {
                write!(f, "argument {index} is a `{value}`, which does not implement {spec}")
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// The value cannot be formatted with the spec (the caller knows which argument it is).
pub(super) struct Mismatch;

impl Template {
    /// Appends to `out` exactly what `format!` printed for this format string and
    /// these arguments. `out` is not cleared first, so one buffer can be reused.
    ///
    /// Arguments past [`arg_count`](Template::arg_count) are ignored. On error, `out`
    /// holds whatever was rendered before the failing placeholder.
    ///
    /// ```
    /// use tapelog_format::text::{Template, Value};
    ///
    /// let t = Template::parse("{:?} {:*^9.1} {0:?}")?;
    /// let mut out = String::new();
    /// t.render(&[Value::Str("a\"b"), Value::F64(2.25)], &mut out)?;
    /// assert_eq!(out, format!("{:?} {:*^9.1} {0:?}", "a\"b", 2.25));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render(&self, args: &[Value<'_>], out: &mut String) -> Result<(), RenderError> {
        for piece in self.pieces.iter() {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Plain(index) => {
                    let v = arg(args, *index)?;
                    if plain(v, out).is_err() {
                        return Err(unsupported(*index, Kind::Display, v));
                    }
                }
                Piece::Arg { index, spec } => {
                    let v = arg(args, *index)?;
                    if value(v, spec, out).is_err() {
                        return Err(unsupported(*index, spec.kind, v));
                    }
                }
            }
        }
        Ok(())
    }
}

fn arg<'v, 'a>(args: &'v [Value<'a>], index: usize) -> Result<&'v Value<'a>, RenderError> {
    args.get(index).ok_or(RenderError::MissingArgument { index, len: args.len() })
}

fn unsupported(index: usize, kind: Kind, v: &Value<'_>) -> RenderError {
    RenderError::Unsupported { index, spec: kind.describe(), value: type_name(v) }
}

fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::U8(_) => "u8",
        Value::U16(_) => "u16",
        Value::U32(_) => "u32",
        Value::U64(_) => "u64",
        Value::U128(_) => "u128",
        Value::Usize(_) => "usize",
        Value::I8(_) => "i8",
        Value::I16(_) => "i16",
        Value::I32(_) => "i32",
        Value::I64(_) => "i64",
        Value::I128(_) => "i128",
        Value::Isize(_) => "isize",
        Value::F32(_) => "f32",
        Value::F64(_) => "f64",
        Value::Bool(_) => "bool",
        Value::Char(_) => "char",
        Value::Str(_) => "str",
        Value::Bytes(_) => "[u8]",
        Value::None | Value::Some(_) => "Option",
        Value::Structured(_) => "serde value",
    }
}

/// `{}` with no spec: the hot path of the decoder.
#[inline]
pub(super) fn plain(v: &Value<'_>, out: &mut String) -> Result<(), Mismatch> {
    match *v {
        Value::U8(n) => push_u64(out, n.into()),
        Value::U16(n) => push_u64(out, n.into()),
        Value::U32(n) => push_u64(out, n.into()),
        Value::U64(n) | Value::Usize(n) => push_u64(out, n),
        Value::I8(n) => push_i64(out, n.into()),
        Value::I16(n) => push_i64(out, n.into()),
        Value::I32(n) => push_i64(out, n.into()),
        Value::I64(n) | Value::Isize(n) => push_i64(out, n),
        Value::U128(n) => std_write(out, format_args!("{n}")),
        Value::I128(n) => std_write(out, format_args!("{n}")),
        Value::F32(x) => {
            if !push_short(out, x) {
                std_write(out, format_args!("{x}"));
            }
        }
        Value::F64(x) => {
            if !push_short(out, x) {
                std_write(out, format_args!("{x}"));
            }
        }
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Char(c) => out.push(c),
        Value::Str(s) => out.push_str(s),
        Value::Structured(ref s) => std_write(out, format_args!("{s:?}")),
        Value::Bytes(_) | Value::None | Value::Some(_) => return Err(Mismatch),
    }
    Ok(())
}

/// Any value with any spec.
fn value(v: &Value<'_>, spec: &Spec, out: &mut String) -> Result<(), Mismatch> {
    let debug = spec.kind.is_debug();
    match v {
        Value::U8(n) => int(*n, spec, out),
        Value::U16(n) => int(*n, spec, out),
        Value::U32(n) => int(*n, spec, out),
        // usize/isize format exactly like the 64-bit integers they are carried as.
        Value::U64(n) | Value::Usize(n) => int(*n, spec, out),
        Value::U128(n) => int(*n, spec, out),
        Value::I8(n) => int(*n, spec, out),
        Value::I16(n) => int(*n, spec, out),
        Value::I32(n) => int(*n, spec, out),
        Value::I64(n) | Value::Isize(n) => int(*n, spec, out),
        Value::I128(n) => int(*n, spec, out),
        Value::F32(x) => float(*x, spec, out)?,
        Value::F64(x) => float(*x, spec, out)?,
        // bool's Debug is its Display: both go through `Formatter::pad`.
        Value::Bool(b) if debug || spec.kind == Kind::Display => pad_str(out, if *b { "true" } else { "false" }, spec),
        Value::Char(c) if spec.kind == Kind::Display => pad_str(out, c.encode_utf8(&mut [0; 4]), spec),
        Value::Str(s) if spec.kind == Kind::Display => pad_str(out, s, spec),
        // str and char Debug ignore width, precision and every flag.
        Value::Char(c) if debug => std_write(out, format_args!("{c:?}")),
        Value::Str(s) if debug => std_write(out, format_args!("{s:?}")),
        Value::Bytes(b) if debug => bytes(b, spec, out),
        // A unit variant's derived Debug is a bare `write_str`: no padding.
        Value::None if debug => out.push_str("None"),
        Value::Some(inner) if debug => {
            // `debug_tuple("Some").field(inner)`, handing the spec to `inner`.
            if spec.alternate {
                out.push_str("Some(\n");
                let start = out.len();
                value(inner, spec, out)?;
                out.push_str(",\n");
                indent(out, start);
                out.push(')');
            } else {
                out.push_str("Some(");
                value(inner, spec, out)?;
                out.push(')');
            }
        }
        // Display of a serde value is its Debug (see `serde_arg::Serde`).
        Value::Structured(s) if debug || spec.kind == Kind::Display => structured(s, spec, out),
        _ => return Err(Mismatch),
    }
    Ok(())
}

/// A serde value's Debug, with the spec's `#`, hex-debug, width and precision handed to its
/// leaves as derived `Debug` hands them (fill, alignment, `+` and `0` are not applied).
fn structured(s: &crate::serde_value::Structured, spec: &Spec, out: &mut String) {
    let w = spec.width as usize;
    let p = spec.precision.map(|p| p as usize);
    match (spec.alternate, spec.kind, p) {
        (false, Kind::DebugLowerHex, None) => std_write(out, format_args!("{s:w$x?}")),
        (false, Kind::DebugUpperHex, None) => std_write(out, format_args!("{s:w$X?}")),
        (true, Kind::DebugLowerHex, None) => std_write(out, format_args!("{s:#w$x?}")),
        (true, Kind::DebugUpperHex, None) => std_write(out, format_args!("{s:#w$X?}")),
        (false, _, None) => std_write(out, format_args!("{s:w$?}")),
        (true, _, None) => std_write(out, format_args!("{s:#w$?}")),
        (false, Kind::DebugLowerHex, Some(p)) => std_write(out, format_args!("{s:w$.p$x?}")),
        (false, Kind::DebugUpperHex, Some(p)) => std_write(out, format_args!("{s:w$.p$X?}")),
        (true, Kind::DebugLowerHex, Some(p)) => std_write(out, format_args!("{s:#w$.p$x?}")),
        (true, Kind::DebugUpperHex, Some(p)) => std_write(out, format_args!("{s:#w$.p$X?}")),
        (false, _, Some(p)) => std_write(out, format_args!("{s:w$.p$?}")),
        (true, _, Some(p)) => std_write(out, format_args!("{s:#w$.p$?}")),
    }
}

/// Appends std's rendering of `args`. Writing into a String never fails, nor do
/// std's own impls, so the `fmt::Result` carries nothing.
fn std_write(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// Every integer type implements every formatting trait the grammar has, and its
/// `{:x?}`/`{:X?}`/`{:?}` are exactly its `{:x}`/`{:X}`/`{}` with the same flags.
fn int<T>(n: T, spec: &Spec, out: &mut String)
where
    T: fmt::Display + fmt::LowerHex + fmt::UpperHex + fmt::Octal + fmt::Binary,
    T: fmt::LowerExp + fmt::UpperExp,
{
    let start = out.len();
    match spec.kind {
        Kind::Display | Kind::Debug => std_display(out, &n, spec),
        Kind::LowerHex | Kind::DebugLowerHex => std_lower_hex(out, &n, spec),
        Kind::UpperHex | Kind::DebugUpperHex => std_upper_hex(out, &n, spec),
        Kind::Octal => std_octal(out, &n, spec),
        Kind::Binary => std_binary(out, &n, spec),
        Kind::LowerExp => std_lower_exp(out, &n, spec),
        Kind::UpperExp => std_upper_exp(out, &n, spec),
    }
    pad_number(out, start, spec);
}

/// Floats: Display, Debug (which ignores the hex flags), and the exponent forms.
fn float<T>(x: T, spec: &Spec, out: &mut String) -> Result<(), Mismatch>
where
    T: fmt::Display + fmt::Debug + fmt::LowerExp + fmt::UpperExp + ShortFloat,
{
    let start = out.len();
    match spec.kind {
        // `#` means nothing to float Display; `0` with a width is left to std.
        Kind::Display if !(spec.zero && spec.width > 0) => {
            // std writes `+` before every non-negative number but NaN, which the fast
            // paths refuse: std then starts again.
            if spec.plus && !x.is_sign_negative() {
                out.push('+');
            }
            let done = match spec.precision {
                None => push_short(out, x),
                Some(p) => push_fixed(out, x, p.into()),
            };
            if done {
                pad_right(out, start, spec);
                return Ok(());
            }
            out.truncate(start);
            std_display(out, &x, spec);
        }
        Kind::Display => std_display(out, &x, spec),
        Kind::Debug | Kind::DebugLowerHex | Kind::DebugUpperHex => std_debug(out, &x, spec),
        Kind::LowerExp => std_lower_exp(out, &x, spec),
        Kind::UpperExp => std_upper_exp(out, &x, spec),
        Kind::LowerHex | Kind::UpperHex | Kind::Octal | Kind::Binary => return Err(Mismatch),
    }
    pad_number(out, start, spec);
    Ok(())
}

/// `[u8]` Debug, as `debug_list` writes it; each byte gets the whole spec.
fn bytes(b: &[u8], spec: &Spec, out: &mut String) {
    // `{:?}`/`{:#?}` of a byte with no width or sign is its plain digits.
    let digits = spec.kind == Kind::Debug && spec.width == 0 && !spec.plus;
    let byte = |x: u8, out: &mut String| {
        if digits {
            push_u64(out, x.into());
        } else {
            int(x, spec, out);
        }
    };
    if spec.alternate {
        if b.is_empty() {
            out.push_str("[]");
            return;
        }
        out.push_str("[\n");
        for &x in b {
            let start = out.len();
            byte(x, out);
            out.push_str(",\n");
            indent(out, start);
        }
        out.push(']');
    } else {
        out.push('[');
        for (i, &x) in b.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            byte(x, out);
        }
        out.push(']');
    }
}
