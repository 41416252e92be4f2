//! Argument kinds: one byte per argument in a call site's dictionary entry, telling a reader
//! how many bytes the argument takes in a record and how to turn them into a [`Value`].

use super::value::Value;
use crate::serde_value::Shapes;

/// The kind of one deferred argument, as written in a call site's dictionary entry.
///
/// The low 7 bits name a base kind; bit 7 ([`ArgKind::OPTION_FLAG`]) marks `Option<base>`,
/// encoded as a tag byte (0 = `None`, 1 = `Some`) followed by the base value when `Some`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgKind(pub u8);

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident = $v:expr, $size:expr;)*) => {
        impl ArgKind {
            $($(#[$doc])* pub const $name: ArgKind = ArgKind($v);)*

            /// Encoded size of a base kind whose size does not depend on the value,
            /// or `None` for length-prefixed kinds and unknown codes.
            #[inline]
            pub const fn fixed_size(self) -> Option<usize> {
                match self.0 {
                    $($v => $size,)*
                    _ => None,
                }
            }

            /// Whether this code is one this version understands.
            #[allow(clippy::manual_range_patterns)] // generated from the table above
            pub const fn is_known(self) -> bool {
                let base = ArgKind(self.0 & !Self::OPTION_FLAG);
                matches!(base.0, $($v)|*)
            }
        }
    };
}

kinds! {
    /// `u8`
    U8 = 1, Some(1);
    /// `u16`
    U16 = 2, Some(2);
    /// `u32`
    U32 = 3, Some(4);
    /// `u64`
    U64 = 4, Some(8);
    /// `u128`
    U128 = 5, Some(16);
    /// `usize`, written as 8 bytes
    USIZE = 6, Some(8);
    /// `i8`
    I8 = 7, Some(1);
    /// `i16`
    I16 = 8, Some(2);
    /// `i32`
    I32 = 9, Some(4);
    /// `i64`
    I64 = 10, Some(8);
    /// `i128`
    I128 = 11, Some(16);
    /// `isize`, written as 8 bytes
    ISIZE = 12, Some(8);
    /// `f32`
    F32 = 13, Some(4);
    /// `f64`
    F64 = 14, Some(8);
    /// `bool`, one byte 0 or 1
    BOOL = 15, Some(1);
    /// `char`, as its u32 scalar value
    CHAR = 16, Some(4);
    /// `&str`/`String`: u32 length, then UTF-8 bytes
    STR = 17, None;
    /// `&[u8]`: u32 length, then the bytes
    BYTES = 18, None;
    /// A serde value ([`crate::serde()`]): u32 shape id, u32 length, then that many bytes
    /// of bincode (read with the segment's `SHAPE` entries, see [`decode_arg_with`])
    SERDE = 19, None;
}

impl ArgKind {
    /// Bit that marks `Option<base kind>`.
    pub const OPTION_FLAG: u8 = 0x80;

    /// `Option` of this base kind.
    pub const fn option(self) -> ArgKind {
        ArgKind(self.0 | Self::OPTION_FLAG)
    }

    /// Whether this is an `Option` kind.
    pub const fn is_option(self) -> bool {
        self.0 & Self::OPTION_FLAG != 0
    }

    /// The base kind (without the `Option` flag).
    pub const fn base(self) -> ArgKind {
        ArgKind(self.0 & !Self::OPTION_FLAG)
    }

    /// Encoded size when it never depends on the value (non-`Option` fixed kinds).
    #[inline]
    pub const fn static_size(self) -> Option<usize> {
        if self.is_option() {
            None
        } else {
            self.fixed_size()
        }
    }
}

/// Why a record's argument bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// The record ends before the argument does.
    Truncated,
    /// The dictionary names an argument kind this version does not know.
    UnknownKind(u8),
    /// A `str` argument is not UTF-8, a `char` is not a scalar value, a bool or an
    /// `Option` tag is neither 0 nor 1.
    Invalid(&'static str),
}

impl core::fmt::Display for ArgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ArgError::Truncated => f.write_str("record ends inside an argument"),
            ArgError::UnknownKind(k) => write!(f, "unknown argument kind 0x{k:02x}"),
            ArgError::Invalid(what) => write!(f, "invalid argument bytes: {what}"),
        }
    }
}

/// Encoded length of one argument of `kind` at the start of `bytes`.
#[inline]
pub fn arg_len(kind: ArgKind, bytes: &[u8]) -> Result<usize, ArgError> {
    if let Some(n) = kind.static_size() {
        return if bytes.len() >= n { Ok(n) } else { Err(ArgError::Truncated) };
    }
    let (tag_len, base, rest) = if kind.is_option() {
        match bytes.first() {
            None => return Err(ArgError::Truncated),
            Some(0) => return Ok(1),
            Some(1) => (1, kind.base(), &bytes[1..]),
            Some(_) => return Err(ArgError::Invalid("option tag")),
        }
    } else {
        (0, kind, bytes)
    };
    let n = match base.fixed_size() {
        Some(n) => n,
        None if base == ArgKind::STR || base == ArgKind::BYTES => {
            let len = super::le::u32_at(rest, 0).ok_or(ArgError::Truncated)? as usize;
            4usize.checked_add(len).ok_or(ArgError::Truncated)?
        }
        None if base == ArgKind::SERDE => {
            let len = super::le::u32_at(rest, 4).ok_or(ArgError::Truncated)? as usize;
            8usize.checked_add(len).ok_or(ArgError::Truncated)?
        }
        None => return Err(ArgError::UnknownKind(base.0)),
    };
    if rest.len() < n {
        return Err(ArgError::Truncated);
    }
    Ok(tag_len + n)
}

/// Decodes one argument of `kind` from the start of `bytes`; returns it and its length.
///
/// A serde argument ([`ArgKind::SERDE`]) needs its segment's shapes: use
/// [`decode_arg_with`]. Here it is an error.
pub fn decode_arg(kind: ArgKind, bytes: &[u8]) -> Result<(Value<'_>, usize), ArgError> {
    decode(kind, bytes, None)
}

/// An argument of a fixed-size kind (integers up to 64 bits, floats) at the start of `b`,
/// and its size; `None` for another kind or too few bytes. The decoders' fast paths go
/// through it, so it inlines into them.
#[inline(always)]
pub fn fixed_value(kind: ArgKind, b: &[u8]) -> Option<(Value<'static>, usize)> {
    macro_rules! le {
        ($t:ty, $n:expr, $v:ident) => {{
            let b = b.first_chunk::<$n>()?;
            (Value::$v(<$t>::from_le_bytes(*b)), $n)
        }};
    }
    Some(match kind {
        ArgKind::U8 => le!(u8, 1, U8),
        ArgKind::U16 => le!(u16, 2, U16),
        ArgKind::U32 => le!(u32, 4, U32),
        ArgKind::U64 => le!(u64, 8, U64),
        ArgKind::USIZE => le!(u64, 8, Usize),
        ArgKind::I8 => le!(i8, 1, I8),
        ArgKind::I16 => le!(i16, 2, I16),
        ArgKind::I32 => le!(i32, 4, I32),
        ArgKind::I64 => le!(i64, 8, I64),
        ArgKind::ISIZE => le!(i64, 8, Isize),
        ArgKind::F32 => le!(f32, 4, F32),
        ArgKind::F64 => le!(f64, 8, F64),
        _ => return None,
    })
}

/// Decodes a record's arguments into `out`; returns why not, if the bytes do not match the
/// call site's kinds.
#[inline]
pub fn decode_args<'a>(
    kinds: &[u8],
    mut args: &'a [u8],
    shapes: &Shapes,
    out: &mut Vec<Value<'a>>,
) -> Result<(), String> {
    // Values are assigned into place rather than pushed: a pushed enum is assembled on the
    // stack by narrow stores and copied by wide loads, which stalls store forwarding on
    // every argument (the decoder's hot path).
    let base = out.len();
    out.resize_with(base + kinds.len(), || Value::None);
    for (i, &k) in kinds.iter().enumerate() {
        let slot = &mut out[base + i];
        if let Some((v, n)) = fixed_value(ArgKind(k), args) {
            *slot = v;
            args = &args[n..];
            continue;
        }
        match decode_arg_with(ArgKind(k), args, shapes) {
            Ok((v, n)) => {
                *slot = v;
                args = &args[n..];
            }
            Err(e) => {
                out.truncate(base + i);
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}

/// Decodes one argument of `kind` from the start of `bytes`, reading serde arguments with
/// `shapes` (the `SHAPE` entries of the record's segment); returns it and its length.
pub fn decode_arg_with<'a>(kind: ArgKind, bytes: &'a [u8], shapes: &Shapes) -> Result<(Value<'a>, usize), ArgError> {
    decode(kind, bytes, Some(shapes))
}

fn decode<'a>(kind: ArgKind, bytes: &'a [u8], shapes: Option<&Shapes>) -> Result<(Value<'a>, usize), ArgError> {
    if kind.is_option() {
        return match bytes.first() {
            None => Err(ArgError::Truncated),
            Some(0) => Ok((Value::None, 1)),
            Some(1) => {
                let (v, n) = decode(kind.base(), &bytes[1..], shapes)?;
                Ok((Value::Some(Box::new(v)), n + 1))
            }
            Some(_) => Err(ArgError::Invalid("option tag")),
        };
    }
    macro_rules! fixed {
        ($t:ty, $n:expr, $variant:ident) => {{
            let a: [u8; $n] = bytes.get(..$n).ok_or(ArgError::Truncated)?.try_into().unwrap_or([0; $n]);
            (Value::$variant(<$t>::from_le_bytes(a)), $n)
        }};
    }
    let out = match kind {
        ArgKind::U8 => fixed!(u8, 1, U8),
        ArgKind::U16 => fixed!(u16, 2, U16),
        ArgKind::U32 => fixed!(u32, 4, U32),
        ArgKind::U64 => fixed!(u64, 8, U64),
        ArgKind::U128 => fixed!(u128, 16, U128),
        ArgKind::USIZE => fixed!(u64, 8, Usize),
        ArgKind::I8 => fixed!(i8, 1, I8),
        ArgKind::I16 => fixed!(i16, 2, I16),
        ArgKind::I32 => fixed!(i32, 4, I32),
        ArgKind::I64 => fixed!(i64, 8, I64),
        ArgKind::I128 => fixed!(i128, 16, I128),
        ArgKind::ISIZE => fixed!(i64, 8, Isize),
        ArgKind::F32 => fixed!(f32, 4, F32),
        ArgKind::F64 => fixed!(f64, 8, F64),
        ArgKind::BOOL => match bytes.first() {
            None => return Err(ArgError::Truncated),
            Some(0) => (Value::Bool(false), 1),
            Some(1) => (Value::Bool(true), 1),
            Some(_) => return Err(ArgError::Invalid("bool")),
        },
        ArgKind::CHAR => {
            let (v, n) = fixed!(u32, 4, U32);
            let Value::U32(c) = v else { unreachable!() };
            let c = char::from_u32(c).ok_or(ArgError::Invalid("char"))?;
            (Value::Char(c), n)
        }
        ArgKind::STR | ArgKind::BYTES => {
            let len = super::le::u32_at(bytes, 0).ok_or(ArgError::Truncated)? as usize;
            let body = bytes.get(4..4usize.saturating_add(len)).ok_or(ArgError::Truncated)?;
            if kind == ArgKind::STR {
                let s = core::str::from_utf8(body).map_err(|_| ArgError::Invalid("utf-8"))?;
                (Value::Str(s), 4 + len)
            } else {
                (Value::Bytes(body), 4 + len)
            }
        }
        ArgKind::SERDE => {
            let shape = super::le::u32_at(bytes, 0).ok_or(ArgError::Truncated)?;
            let len = super::le::u32_at(bytes, 4).ok_or(ArgError::Truncated)? as usize;
            let body = bytes.get(8..8usize.saturating_add(len)).ok_or(ArgError::Truncated)?;
            let shapes = shapes.ok_or(ArgError::Invalid("serde value decoded without the segment's shapes"))?;
            let v = crate::serde_value::decode_arg(shapes, shape, body).map_err(ArgError::Invalid)?;
            (Value::Structured(Box::new(v)), 8 + len)
        }
        other => return Err(ArgError::UnknownKind(other.0)),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_of_str_round_trips_its_length() {
        let mut b = vec![1u8];
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(b"abc");
        let k = ArgKind::STR.option();
        assert_eq!(arg_len(k, &b), Ok(8));
        let (v, n) = decode_arg(k, &b).unwrap();
        assert_eq!(n, 8);
        assert_eq!(v, Value::Some(Box::new(Value::Str("abc"))));
        assert_eq!(arg_len(k, &b[..7]), Err(ArgError::Truncated));
    }

    #[test]
    fn unknown_kinds_are_errors_not_panics() {
        assert_eq!(arg_len(ArgKind(99), &[0; 64]), Err(ArgError::UnknownKind(99)));
        assert!(decode_arg(ArgKind(99), &[0; 64]).is_err());
        assert!(!ArgKind(99).is_known());
        assert!(ArgKind::F64.option().is_known());
    }

    #[test]
    fn huge_length_fields_do_not_overflow() {
        let b = u32::MAX.to_le_bytes();
        assert_eq!(arg_len(ArgKind::STR, &b), Err(ArgError::Truncated));
        assert!(decode_arg(ArgKind::BYTES, &b).is_err());
    }
}
