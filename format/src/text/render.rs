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
use std::mem::MaybeUninit;

use super::spec::{Align, Kind, Piece, Spec, Template};
use super::Value;

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

/// Indents every line of `out[start..]` by four spaces, as std's `PadAdapter` does
/// for `{:#?}`: a line starts at `start` and after each `\n` that is not last.
fn indent(out: &mut String, start: usize) {
    let mut line = start;
    while line < out.len() {
        out.insert_str(line, "    ");
        match out[line + 4..].find('\n') {
            Some(k) => line += 4 + k + 1,
            None => break,
        }
    }
}

/// `Formatter::pad`: truncate to `precision` chars, then pad to `width` chars
/// (left-aligned unless told otherwise). The `0`, `+` and `#` flags do nothing here.
fn pad_str(out: &mut String, s: &str, spec: &Spec) {
    let s = match spec.precision {
        Some(p) => match s.char_indices().nth(p.into()) {
            Some((end, _)) => &s[..end],
            None => s,
        },
        None => s,
    };
    let width = usize::from(spec.width);
    if width == 0 {
        out.push_str(s);
        return;
    }
    let len = s.chars().count();
    let (pre, post) = split(width.saturating_sub(len), spec.align, Align::Left);
    push_fill(out, spec.fill, pre);
    out.push_str(s);
    push_fill(out, spec.fill, post);
}

/// Pads the number at `out[start..]` to the width unless std has (see [`Width`]).
fn pad_number(out: &mut String, start: usize, spec: &Spec) {
    if matches!(Width::of(spec), Width::Ours) {
        pad_right(out, start, spec);
    }
}

/// Pads `out[start..]`, an ASCII number, to the width with the fill, right-aligned
/// unless told otherwise.
fn pad_right(out: &mut String, start: usize, spec: &Spec) {
    let len = out.len() - start;
    let padding = usize::from(spec.width).saturating_sub(len);
    let (pre, post) = split(padding, spec.align, Align::Right);
    insert_fill(out, start, spec.fill, pre);
    push_fill(out, spec.fill, post);
}

/// Splits `padding` into (before, after) as std's `Formatter::padding` does.
fn split(padding: usize, align: Align, default: Align) -> (usize, usize) {
    let align = if align == Align::Unknown { default } else { align };
    match align {
        Align::Left | Align::Unknown => (0, padding),
        Align::Right => (padding, 0),
        Align::Center => (padding / 2, padding.div_ceil(2)),
    }
}

fn push_fill(out: &mut String, fill: char, n: usize) {
    out.extend(std::iter::repeat_n(fill, n));
}

/// Inserts `n` fill chars at byte `at`, in chunks so no temporary string is allocated.
fn insert_fill(out: &mut String, at: usize, fill: char, mut n: usize) {
    if n == 0 {
        return;
    }
    let mut unit = [0; 4];
    let unit = fill.encode_utf8(&mut unit).as_bytes();
    let per_chunk = 64 / unit.len();
    let mut chunk = [0u8; 64];
    for k in 0..per_chunk.min(n) {
        chunk[k * unit.len()..(k + 1) * unit.len()].copy_from_slice(unit);
    }
    while n > 0 {
        let k = n.min(per_chunk);
        // Whole copies of one encoded char: always valid UTF-8.
        out.insert_str(at, std::str::from_utf8(&chunk[..k * unit.len()]).unwrap_or_default());
        n -= k;
    }
}

/// Who pads a number to its width.
#[derive(Clone, Copy)]
enum Width {
    /// No width, or padding std cannot do at run time (a fill other than space, or
    /// `<`/`^`): [`pad_number`] pads afterwards.
    Ours,
    /// The `0` flag: std pads sign-aware with zeros, ignoring fill and alignment.
    StdZeros(usize),
    /// Right-aligned with spaces: std's default for numbers.
    StdSpaces(usize),
}

impl Width {
    fn of(s: &Spec) -> Width {
        let w = usize::from(s.width);
        if w == 0 {
            Width::Ours
        } else if s.zero {
            Width::StdZeros(w)
        } else if s.fill == ' ' && matches!(s.align, Align::Unknown | Align::Right) {
            Width::StdSpaces(w)
        } else {
            Width::Ours
        }
    }
}

/// `write_std!(out, v, ty, flags, named args)`: std writes `v` as `{:<flags><ty>}`.
macro_rules! write_std {
    ($out:ident, $v:ident, $ty:literal, $flags:literal $(, $name:ident = $arg:expr)*) => {
        std_write($out, format_args!(concat!("{:", $flags, $ty, "}"), $v $(, $name = $arg)*))
    };
}

/// Generates one function per formatting trait that lets std write a number with the
/// spec's `+`, `#`, precision and, where std can, width (see [`Width`]). Format
/// strings must be literals, so the combinations are enumerated.
macro_rules! std_core {
    ($($name:ident: $bound:ident $ty:literal;)*) => {$(
        fn $name<T: fmt::$bound>(out: &mut String, v: &T, s: &Spec) {
            use Width::{Ours, StdSpaces as Sp, StdZeros as Z};
            match (s.plus, s.alternate, s.precision.map(usize::from), Width::of(s)) {
                (false, false, None, Ours) => write_std!(out, v, $ty, ""),
                (true, false, None, Ours) => write_std!(out, v, $ty, "+"),
                (false, true, None, Ours) => write_std!(out, v, $ty, "#"),
                (true, true, None, Ours) => write_std!(out, v, $ty, "+#"),
                (false, false, Some(p), Ours) => write_std!(out, v, $ty, ".p$", p = p),
                (true, false, Some(p), Ours) => write_std!(out, v, $ty, "+.p$", p = p),
                (false, true, Some(p), Ours) => write_std!(out, v, $ty, "#.p$", p = p),
                (true, true, Some(p), Ours) => write_std!(out, v, $ty, "+#.p$", p = p),
                (false, false, None, Z(w)) => write_std!(out, v, $ty, "0w$", w = w),
                (true, false, None, Z(w)) => write_std!(out, v, $ty, "+0w$", w = w),
                (false, true, None, Z(w)) => write_std!(out, v, $ty, "#0w$", w = w),
                (true, true, None, Z(w)) => write_std!(out, v, $ty, "+#0w$", w = w),
                (false, false, Some(p), Z(w)) => write_std!(out, v, $ty, "0w$.p$", w = w, p = p),
                (true, false, Some(p), Z(w)) => write_std!(out, v, $ty, "+0w$.p$", w = w, p = p),
                (false, true, Some(p), Z(w)) => write_std!(out, v, $ty, "#0w$.p$", w = w, p = p),
                (true, true, Some(p), Z(w)) => write_std!(out, v, $ty, "+#0w$.p$", w = w, p = p),
                (false, false, None, Sp(w)) => write_std!(out, v, $ty, "w$", w = w),
                (true, false, None, Sp(w)) => write_std!(out, v, $ty, "+w$", w = w),
                (false, true, None, Sp(w)) => write_std!(out, v, $ty, "#w$", w = w),
                (true, true, None, Sp(w)) => write_std!(out, v, $ty, "+#w$", w = w),
                (false, false, Some(p), Sp(w)) => write_std!(out, v, $ty, "w$.p$", w = w, p = p),
                (true, false, Some(p), Sp(w)) => write_std!(out, v, $ty, "+w$.p$", w = w, p = p),
                (false, true, Some(p), Sp(w)) => write_std!(out, v, $ty, "#w$.p$", w = w, p = p),
                (true, true, Some(p), Sp(w)) => write_std!(out, v, $ty, "+#w$.p$", w = w, p = p),
            }
        }
    )*};
}

std_core! {
    std_display: Display "";
    std_debug: Debug "?";
    std_lower_hex: LowerHex "x";
    std_upper_hex: UpperHex "X";
    std_octal: Octal "o";
    std_binary: Binary "b";
    std_lower_exp: LowerExp "e";
    std_upper_exp: UpperExp "E";
}

/// Eight `b'0'`s, to turn digit values into ASCII eight at a time.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `n < 10^8`, zero-padded, as byte values 0..=9 of a
/// little-endian u64: the most significant digit is the lowest byte, so the bytes are in
/// reading order in memory. Branch-free: two digits per 16-bit lane, in parallel (Paul
/// Khuong's method; each multiply-shift divides exactly below the lane's bound).
#[inline]
fn eight_digits(n: u32) -> u64 {
    debug_assert!(n < 100_000_000);
    // `abcd` in the low 32 bits and `efgh` in the high ones.
    let merged = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    // Per 32-bit lane, x / 100 for x < 10^4 is (x * 10486) >> 20.
    let top = ((merged * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    let bottom = merged - 100 * top;
    // 16-bit lanes `ab`, `cd`, `ef`, `gh`; per lane, x / 10 for x < 100 is (x * 103) >> 10.
    let hundreds = (bottom << 16) + top;
    let mut tens = ((hundreds * 103) >> 10) & ((0xf << 48) | (0xf << 32) | (0xf << 16) | 0xf);
    tens += (hundreds - 10 * tens) << 8;
    tens
}

/// The eight decimal digits of `n < 10^8`, zero-padded, in ASCII (the decoder's timestamps
/// use it for their nanoseconds).
#[inline]
pub fn eight_ascii_digits(n: u32) -> [u8; 8] {
    (eight_digits(n) + ASCII_ZEROS).to_le_bytes()
}

/// Stores the eight bytes of `bytes` (little-endian) at `w[at..at + 8]`.
#[inline]
fn put8(w: &mut [MaybeUninit<u8>], at: usize, bytes: u64) {
    for (d, s) in w[at..at + 8].iter_mut().zip(bytes.to_le_bytes()) {
        d.write(s);
    }
}

/// Writes `n < 10^8` without leading zeros at `w[at..]` (storing eight bytes); returns
/// where the digits end.
#[inline]
fn put_trimmed(w: &mut [MaybeUninit<u8>], at: usize, n: u32) -> usize {
    let d = eight_digits(n);
    // Leading zero digits are the low zero bytes; `0` keeps its last digit.
    let skip = (d.trailing_zeros() / 8).min(7);
    put8(w, at, (d + ASCII_ZEROS) >> (8 * skip));
    at + 8 - skip as usize
}

/// Writes the last `k <= 8` digits of `n < 10^8`, zero-padded, at `w[at..]` (storing
/// eight bytes unless `k` is 0); returns where they end.
#[inline]
fn put_last(w: &mut [MaybeUninit<u8>], at: usize, n: u32, k: usize) -> usize {
    if k > 0 {
        put8(w, at, (eight_digits(n) + ASCII_ZEROS) >> (8 * (8 - k)));
    }
    at + k
}

/// Writes `n` in decimal at `w[at..]` (storing up to 20 bytes past `at`); returns where
/// the digits end.
#[inline]
fn put_u64(w: &mut [MaybeUninit<u8>], at: usize, n: u64) -> usize {
    const E8: u64 = 100_000_000;
    if n < E8 {
        put_trimmed(w, at, n as u32)
    } else if n < E8 * E8 {
        let at = put_trimmed(w, at, (n / E8) as u32);
        put_last(w, at, (n % E8) as u32, 8)
    } else {
        // At most four leading digits: u64::MAX < 1845 * 10^16.
        let at = put_trimmed(w, at, (n / (E8 * E8)) as u32);
        let at = put_last(w, at, (n / E8 % E8) as u32, 8);
        put_last(w, at, (n % E8) as u32, 8)
    }
}

/// Appends the ASCII that `write` puts at the start of an `N`-byte window of `out`'s
/// spare capacity; `write` returns how many bytes it wrote.
///
/// # Safety
///
/// `write` must initialize the first `len` bytes of the window with ASCII, where `len`
/// is what it returns.
#[inline]
unsafe fn push_window<const N: usize>(out: &mut String, write: impl FnOnce(&mut [MaybeUninit<u8>; N]) -> usize) {
    // SAFETY: only ASCII is appended (the caller's promise), so `out` stays valid UTF-8.
    let v = unsafe { out.as_mut_vec() };
    v.reserve(N);
    let old = v.len();
    let Some(w) = v.spare_capacity_mut().first_chunk_mut::<N>() else {
        // `reserve(N)` made room for the window.
        return;
    };
    let len = write(w).min(N);
    // SAFETY: `write` initialized `len <= N` bytes past the length (the caller's promise),
    // within the capacity `reserve` made.
    unsafe { v.set_len(old + len) };
}

/// `{}` of an unsigned integer, without the `fmt` machinery: the digits are written
/// straight into `out`'s spare capacity, eight at a time.
#[inline]
pub fn push_u64(out: &mut String, n: u64) {
    // SAFETY: `put_u64` writes ASCII digits and returns their end.
    unsafe { push_window::<24>(out, |w| put_u64(w, 0, n)) };
}

/// `{}` of a signed integer, without the `fmt` machinery.
fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

// Fast `{}` of "short" floats.
//
// std's float Display prints the shortest decimal that parses back to the float,
// positionally. When that decimal is `m / 10^k` with few digits it can be found much
// faster than by std's general algorithm. Let `B` bound `m <= |x| * 10^k < B`, with
// `B * 2^-p < 1/2` for `p` the float's fraction bits (f64: B = 10^15, p = 52, 0.22;
// f32: B = 4 * 10^6, p = 23, 0.48). Then:
// 1. The interval of reals that round to `x` is at most `ulp(x) <= |x| * 2^-p` wide,
//    below 1/2 in units of `10^-k`: at most one `m` parses back to `x`.
// 2. That `m` lies within 1/4 of `|x| * 10^k`, and computing the product (in f64)
//    errs by less than 1/4 (at most 0.11 below B), so rounding it finds `m`.
// 3. `m / 10^k == |x|` divides two exactly held numbers (`m < 2^53`, resp. `2^24`;
//    `10^k` up to 10^22, resp. 10^10) and IEEE division rounds to nearest-even as
//    parsing does, so it tests "parses back". No tie occurs: a midpoint between two
//    floats has `p + 2` significant bits, so its `m` is at least `2^(p+1) > B`.
// 4. Parsing back at `k` implies parsing back at `k + 1` (as `10m`, while below B),
//    so one probe at the largest `k` below B decides whether a short decimal exists,
//    and the smallest `k` that parses back gives the fewest significant digits (any
//    decimal with more places and fewer digits would be a second `m` at some `k`).
// Everything else (long decimals, huge or tiny magnitudes, NaN, infinities) goes to
// std. Tests compare with std on every f32 below B and on random f64s.

/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `round(s)` for `0 <= s < 2^52` without a libm call. Ties may go either way: by
/// point 2 a tie is never the decimal sought.
fn round_small(s: f64) -> u64 {
    // Through i64: both conversions are then single instructions on x86-64 (unsigned ones
    // are not), and exact below 2^53.
    let t = s as i64;
    (t + i64::from(s - t as f64 >= 0.5)) as u64
}

/// What the short-float fast path needs to know about f32 and f64.
trait ShortFloat: Copy {
    /// `B` above.
    const BOUND: f64;
    /// `floor(log10(B))`.
    const LOG10_BOUND: i32;
    /// Largest `k` with `10^k` exact in this type.
    const K_LIMIT: usize;
    /// `|x|`, exactly, as f64.
    fn wide_abs(self) -> f64;
    fn is_sign_negative(self) -> bool;
    /// `Some(m)` if `m = round(|x| * 10^k)` parses back to `|x|` (point 3).
    fn parses_back(self, k: usize) -> Option<u64>;
}

impl ShortFloat for f64 {
    const BOUND: f64 = 1e15;
    const LOG10_BOUND: i32 = 15;
    const K_LIMIT: usize = 22;
    fn wide_abs(self) -> f64 {
        self.abs()
    }
    fn is_sign_negative(self) -> bool {
        self.is_sign_negative()
    }
    fn parses_back(self, k: usize) -> Option<u64> {
        let m = round_small(self.abs() * POW10[k]);
        // `m < 2^53`: exact through i64, which converts in one instruction.
        (m as i64 as f64 / POW10[k] == self.abs()).then_some(m)
    }
}

impl ShortFloat for f32 {
    const BOUND: f64 = 4e6;
    const LOG10_BOUND: i32 = 6;
    const K_LIMIT: usize = 10;
    fn wide_abs(self) -> f64 {
        f64::from(self.abs())
    }
    fn is_sign_negative(self) -> bool {
        self.is_sign_negative()
    }
    fn parses_back(self, k: usize) -> Option<u64> {
        let m = round_small(self.wide_abs() * POW10[k]);
        (m as i64 as f32 / POW10[k] as f32 == self.abs()).then_some(m)
    }
}

/// Writes `{}` of `x` and returns true if its shortest decimal is short (`< B` once
/// scaled to an integer); otherwise writes nothing and returns false.
fn push_short<T: ShortFloat>(out: &mut String, x: T) -> bool {
    let wide = x.wide_abs();
    if wide.is_nan() || wide >= T::BOUND {
        return false;
    }
    // An integer parses back at k = 0, the smallest k: it is its own shortest decimal.
    // Through i64, exact below the bound (see `round_small`).
    let whole = wide as i64;
    let exact = whole as f64 == wide;
    let whole = whole as u64;
    if exact {
        if x.is_sign_negative() {
            out.push('-');
        }
        push_u64(out, whole);
        return true;
    }
    // Most logged fractions have a place or two: probe those first. The first `k` that
    // parses back is the smallest, so its `m` is what the search below ends with too
    // (point 4, from the other side); each probe stays below B (points 1 and 2).
    for k in [1, 2] {
        if wide * POW10[k] >= T::BOUND {
            break;
        }
        if let Some(m) = x.parses_back(k) {
            return push_split(out, x, whole, m, k);
        }
    }
    // The largest k with |x| * 10^k < B, guessed from the binary exponent
    // (log10(2) ≈ 1233/4096) and then corrected.
    let e2 = ((wide.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut k = (T::LOG10_BOUND - 1 - ((e2 * 1233) >> 12)).clamp(0, T::K_LIMIT as i32) as usize;
    while k > 0 && wide * POW10[k] >= T::BOUND {
        k -= 1;
    }
    while k < T::K_LIMIT && wide * POW10[k + 1] < T::BOUND {
        k += 1;
    }
    // Point 4: one probe at the largest k decides. If `m'` parses back at a smaller `k'`,
    // then `m' * 10^(k - k')` parses back at `k` and, being unique there (point 1), is
    // `m`; conversely `m = 10q` means `q / 10^(k-1)` is the same real, so it parses back
    // too. The smallest `k` is thus `k` less `m`'s trailing zeros: no more probes.
    let Some(mut m) = x.parses_back(k) else {
        return false;
    };
    // Strip `min(k, trailing zeros) < 32` zeros in binary steps (each applies at most once).
    for (zeros, pow) in [(16, 10_000_000_000_000_000), (8, 100_000_000), (4, 10_000), (2, 100), (1, 10)] {
        if k >= zeros && m % pow == 0 {
            m /= pow;
            k -= zeros;
        }
    }
    push_split(out, x, whole, m, k)
}

/// Writes `x`, whose shortest decimal is `m / 10^k` (`k >= 1`, `m < B`), and whose
/// truncation is `whole`; false (nothing written) if those disagree.
fn push_split<T: ShortFloat>(out: &mut String, x: T, whole: u64, m: u64, k: usize) -> bool {
    // `m / 10^k` parses back to `|x|`, which is not an integer, so both have the integer
    // part `whole` (an integer between them would be a float nearer to one than the
    // other); no division is needed to split `m`. Checked all the same: if the split
    // were off, std would write the number.
    let split = |p: u64| whole.checked_mul(p).and_then(|wp| m.checked_sub(wp)).filter(|&f| f < p);
    let frac = match POW10_U64.get(k) {
        Some(&p) => split(p),
        None => (whole == 0).then_some(m),
    };
    let Some(frac) = frac else {
        return false;
    };
    if x.is_sign_negative() {
        out.push('-');
    }
    push_decimal(out, whole, frac, k);
    true
}

// Fast `{:.p}` of floats.
//
// std prints `|x| * 10^p` rounded to the nearest integer `m` (ties to even), as `m / 10^p`
// with `p` decimals, after a `-` for every negative `x` (so `-0.001` is `-0.00`). Let
// `X = |x| * 10^p` (exact) and `y = fl(X)`, for `p <= 15` (10^p exact in f64; an f32 is
// widened exactly). If `y < 2^40`, `|y - X| <= ulp(y) / 2 <= 2^-13`; and `f = y - floor(y)`
// is exact. If `|f - 1/2| > 2^-10`, then `X` is on the same side of `floor(y) + 1/2` as `y`,
// more than `2^-10 - 2^-13` away: no tie, and `X` rounds to the integer nearest `y`,
// `floor(y) + (f > 1/2)`, which is then `m`. Near a half (1 value in 512, and every exact
// tie) and past `2^40` std decides. Tests compare with std for random values at every `p`.

/// The largest `p` of [`push_fixed`] (`10^p` exact in f64).
const FIXED_MAX_P: usize = 15;
/// `y` must stay below this.
const FIXED_LIMIT: f64 = (1u64 << 40) as f64;
/// How far from a half `y`'s fraction must be.
const FIXED_MARGIN: f64 = 1.0 / 1024.0;

/// Writes `{:.p}` of `x` and returns true when that is quick to get exactly (see above);
/// otherwise writes nothing and returns false.
fn push_fixed<T: ShortFloat>(out: &mut String, x: T, p: usize) -> bool {
    let Some(&scale) = POW10.get(p).filter(|_| p <= FIXED_MAX_P) else {
        return false;
    };
    let y = x.wide_abs() * scale;
    // NaN is refused here too.
    if y.is_nan() || y >= FIXED_LIMIT {
        return false;
    }
    // Through i64: exact below 2^40, and one instruction each way.
    let whole = y as i64;
    let f = y - whole as f64;
    if (f - 0.5).abs() <= FIXED_MARGIN {
        return false;
    }
    let m = whole as u64 + u64::from(f > 0.5);
    if x.is_sign_negative() {
        out.push('-');
    }
    // `m < 2^40 < 10^15`, as `push_decimal` needs.
    match POW10_U64.get(p) {
        Some(&d) if p > 0 => push_decimal(out, m / d, m % d, p),
        _ => push_u64(out, m),
    }
    true
}

/// Writes `int.frac`, with `frac` zero-padded on the left to `1 <= k <= 22` digits;
/// `int < 10^15` and `frac < 10^min(k, 15)`.
fn push_decimal(out: &mut String, int: u64, frac: u64, k: usize) {
    const E8: u64 = 100_000_000;
    // The integer part (at most 15 digits), the point, then the fraction digits: at most
    // 40 bytes stored.
    // SAFETY: every byte up to the returned end is an ASCII digit or the point.
    unsafe {
        push_window::<48>(out, |w| {
            let at = put_u64(w, 0, int);
            w[at].write(b'.');
            let at = at + 1;
            match k {
                0..=8 => put_last(w, at, frac as u32, k),
                9..=16 => {
                    let at = put_last(w, at, (frac / E8 % E8) as u32, k - 8);
                    put_last(w, at, (frac % E8) as u32, 8)
                }
                _ => {
                    // `frac < 10^15`: the first `k - 16 <= 6` digits are zeros.
                    put8(w, at, ASCII_ZEROS);
                    let at = put_last(w, at + k.min(22) - 16, (frac / E8 % E8) as u32, 8);
                    put_last(w, at, (frac % E8) as u32, 8)
                }
            }
        })
    };
}

/// Powers of ten that u64 holds.
const POW10_U64: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_match_std_at_every_length() {
        let mut out = String::new();
        let mut n = 1u64;
        loop {
            for m in [n - 1, n, n + 1] {
                out.clear();
                push_u64(&mut out, m);
                assert_eq!(out, m.to_string());
            }
            match n.checked_mul(10) {
                Some(next) => n = next,
                None => break,
            }
        }
        for m in [i64::MIN, i64::MIN + 1, -100, -1, 0, i64::MAX] {
            out.clear();
            push_i64(&mut out, m);
            assert_eq!(out, m.to_string());
        }
        out.clear();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string());
    }

    #[test]
    fn digits_match_std_for_random_widths() {
        let mut out = String::from("x");
        let mut r = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            // Every length from 1 to 20 digits.
            let n = r >> (i % 64);
            out.truncate(1);
            push_u64(&mut out, n);
            assert_eq!(out[1..], n.to_string());
        }
    }

    #[test]
    fn decimals_place_the_point_at_every_k() {
        let mut out = String::new();
        for m in [1u64, 7, 12, 105, 99_999_999, 100_000_001, 123_456_789_012_345, 999_999_999_999_999] {
            for k in 0..=22 {
                if k > 0 && m % 10 == 0 {
                    continue;
                }
                out.clear();
                if k == 0 {
                    push_u64(&mut out, m);
                } else {
                    let p = 10u128.pow(k as u32);
                    push_decimal(&mut out, (u128::from(m) / p) as u64, (u128::from(m) % p) as u64, k);
                }
                let digits = format!("{m:0>w$}", w = k + 1);
                let want = if k == 0 {
                    digits
                } else {
                    let (int, frac) = digits.split_at(digits.len() - k);
                    format!("{int}.{frac}")
                };
                assert_eq!(out, want, "{m} / 10^{k}");
            }
        }
    }

    /// Random floats of the shapes that matter: any bit pattern, short decimals,
    /// 15–17 digit decimals, values next to the bound and to powers of ten.
    fn sample_floats(n: usize, mut check: impl FnMut(f64, f32)) {
        let mut r = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..n {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let scale = POW10[(r >> 58) as usize % 23];
            let x = match i % 6 {
                0 => f64::from_bits(r),
                1 => (r % 100_000_000) as f64 / scale,
                2 => (r >> 11) as f64 / scale,
                3 => f64::from_bits(scale.to_bits() + (r % 64) - 32),
                4 => f64::from_bits(1e15f64.to_bits() - (r % 64)),
                _ => (r % 1000) as f64 * 0.01 + (r % 7) as f64 * 0.1,
            };
            let y = match i % 4 {
                0 => f32::from_bits(r as u32),
                1 => (r % 100_000) as f32 / POW10[(r >> 60) as usize % 11] as f32,
                2 => f32::from_bits((4e6f32).to_bits() - (r % 64) as u32),
                _ => x as f32,
            };
            check(x, y);
            check(-x, -y);
        }
    }

    #[test]
    fn short_floats_match_std() {
        let (mut ours, mut want) = (String::new(), String::new());
        let (mut hits64, mut hits32) = (0, 0);
        let compare = |hit: bool, ours: &mut String, want: &mut String| {
            if hit {
                assert_eq!(ours, want);
            } else {
                assert!(ours.is_empty(), "{ours}");
            }
            ours.clear();
            want.clear();
            usize::from(hit)
        };
        sample_floats(200_000, |x, y| {
            let hit = push_short(&mut ours, x);
            std_write(&mut want, format_args!("{x}"));
            hits64 += compare(hit, &mut ours, &mut want);
            let hit = push_short(&mut ours, y);
            std_write(&mut want, format_args!("{y}"));
            hits32 += compare(hit, &mut ours, &mut want);
        });
        // The fast path must actually be taken for short decimals.
        assert!(hits64 > 100_000 && hits32 > 100_000, "{hits64} {hits32}");
        for x in
            [0.0, -0.0, 1.0, -61.0, 61.5, 0.1 + 0.2, 1e15, 999_999_999_999_999.0, 999_999_999_999_999.9, 1e-7, 5e-324]
        {
            ours.clear();
            want.clear();
            if push_short(&mut ours, x) {
                std_write(&mut want, format_args!("{x}"));
                assert_eq!(ours, want);
            }
        }
    }

    #[test]
    fn fixed_precision_floats_match_std() {
        let mut out = String::new();
        let (mut hits, mut tries) = (0usize, 0usize);
        // `out` holds what `push_fixed` wrote on a hit, or nothing; 1 for a hit.
        let agree = |out: &mut String, hit: bool, want: String, what: &str| {
            if hit {
                assert_eq!(*out, want, "{what}");
            } else {
                assert!(out.is_empty(), "{out}");
            }
            out.clear();
            usize::from(hit)
        };
        let mut check = |x: f64, y: f32, p: usize| {
            let hit = push_fixed(&mut out, x, p);
            hits += agree(&mut out, hit, format!("{x:.p$}"), &format!("{x:e} at .{p}"));
            let hit = push_fixed(&mut out, y, p);
            hits += agree(&mut out, hit, format!("{y:.p$}"), &format!("{y:e}f32 at .{p}"));
            tries += 2;
        };
        let mut i = 0;
        sample_floats(60_000, |x, y| {
            i += 1;
            check(x, y, i % (FIXED_MAX_P + 3));
        });
        // Prices as they are computed (0.01 steps that accumulate error), every tie at
        // every precision up to 3, and the edges of the range.
        let mut px = 101.25f64;
        for i in 0..20_000u64 {
            px += ((i * 7919) % 13) as f64 * 0.01 - 0.06;
            check(px, px as f32, (i % 5) as usize);
            check(px * 1000.0, (px * 1000.0) as f32, 0);
        }
        for (p, scale) in POW10.iter().enumerate().take(4) {
            for m in 0..2_000u64 {
                let tie = (m as f64 + 0.5) / scale;
                check(tie, tie as f32, p);
                check(-tie, -tie as f32, p);
            }
        }
        let edges = [0.0, -0.0, 1e-300, -1e-300, 0.5, 1.5, 2.5, FIXED_LIMIT, FIXED_LIMIT - 0.75, 1e15, f64::NAN];
        for x in edges.into_iter().chain([f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE]) {
            for p in 0..=FIXED_MAX_P + 2 {
                check(x, x as f32, p);
            }
        }
        // The fast path must actually be taken for most values in range.
        assert!(hits > tries / 2, "{hits} of {tries}");
    }

    #[test]
    fn fixed_precision_keeps_sign_width_fill_and_alignment() {
        for (fmt, x, want) in [
            ("{:.2}", -0.001, format!("{:.2}", -0.001)),
            ("{:+.2}", 1.005, format!("{:+.2}", 1.005)),
            ("{:+.3}", -0.0, format!("{:+.3}", -0.0)),
            ("{:>10.3}", 101.137_5, format!("{:>10.3}", 101.137_5)),
            ("{:*^12.1}", -2.25, format!("{:*^12.1}", -2.25)),
            ("{:<8.0}", 1234.5, format!("{:<8.0}", 1234.5)),
            ("{:08.2}", -1.5, format!("{:08.2}", -1.5)),
            ("{:9.4}", 0.000_05, format!("{:9.4}", 0.000_05)),
        ] {
            let t = Template::parse(fmt).unwrap();
            let mut out = String::new();
            t.render(&[Value::F64(x)], &mut out).unwrap();
            assert_eq!(out, want, "{fmt} of {x}");
            out.clear();
            t.render(&[Value::F32(x as f32)], &mut out).unwrap();
            assert_eq!(out, std_f32(fmt, x as f32), "{fmt} of {x}f32");
        }
    }

    /// `format!` of an f32 with one of the specs above (format strings must be literals).
    fn std_f32(fmt: &str, y: f32) -> String {
        match fmt {
            "{:.2}" => format!("{y:.2}"),
            "{:+.2}" => format!("{y:+.2}"),
            "{:+.3}" => format!("{y:+.3}"),
            "{:>10.3}" => format!("{y:>10.3}"),
            "{:*^12.1}" => format!("{y:*^12.1}"),
            "{:<8.0}" => format!("{y:<8.0}"),
            "{:08.2}" => format!("{y:08.2}"),
            "{:9.4}" => format!("{y:9.4}"),
            _ => unreachable!("{fmt}"),
        }
    }

    #[test]
    fn indent_skips_the_final_empty_line() {
        let mut out = String::from("x[\n1,\n");
        indent(&mut out, 1);
        assert_eq!(out, "x    [\n    1,\n");
    }

    #[test]
    fn insert_fill_handles_long_and_wide_fills() {
        let mut out = String::from("ab");
        insert_fill(&mut out, 1, 'é', 40);
        assert_eq!(out, format!("a{}b", "é".repeat(40)));
    }
}
