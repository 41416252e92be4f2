//! Padding to a width, and who pads: std, which can only pad with spaces on the right or
//! with sign-aware zeros, writes a number with its width where it can (the `std_*`
//! writers, chosen by [`Width`]); everything else (another fill, `<`/`^`, text) is padded
//! here, by chars, as `Formatter::pad` and `Formatter::padding` do.

use std::fmt;

use super::std_write;
use crate::text::spec::{Align, Spec};

/// Indents every line of `out[start..]` by four spaces, as std's `PadAdapter` does
/// for `{:#?}`: a line starts at `start` and after each `\n` that is not last.
pub(super) fn indent(out: &mut String, start: usize) {
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
pub(super) fn pad_str(out: &mut String, s: &str, spec: &Spec) {
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
pub(super) fn pad_number(out: &mut String, start: usize, spec: &Spec) {
    if matches!(Width::of(spec), Width::Ours) {
        pad_right(out, start, spec);
    }
}

/// Pads `out[start..]`, an ASCII number, to the width with the fill, right-aligned
/// unless told otherwise.
pub(super) fn pad_right(out: &mut String, start: usize, spec: &Spec) {
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
        pub(super) fn $name<T: fmt::$bound>(out: &mut String, v: &T, s: &Spec) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
