//! The `const` scanner that walks a format string token by token, by the grammar in
//! [`super`]: the compile-time check and [`Template::parse`](super::Template::parse) both
//! go through it.

use super::{Align, FormatError, Kind, Spec};

/// One step of a [`Scanner`].
#[derive(Clone, Copy, Debug)]
pub enum Token {
    /// Literal text `fmt[start..end]`. An escaped brace (`{{`, `}}`) is a one-byte
    /// `Text` covering the first brace of the pair.
    Text { start: usize, end: usize },
    /// A placeholder referring to argument `index`.
    Arg { index: usize, spec: Spec },
}

/// Walks a format string token by token. Usable in `const` context, so it steps by
/// value (`const fn` cannot take `&mut self` before Rust 1.83).
#[derive(Clone, Copy, Debug)]
pub struct Scanner<'a> {
    bytes: &'a [u8],
    /// Next byte to scan; always on a char boundary, at most `bytes.len()`.
    pos: usize,
    /// Index the next `{}` refers to (explicit indices do not move it, as in std).
    next_implicit: usize,
}

impl<'a> Scanner<'a> {
    pub const fn new(fmt: &'a str) -> Self {
        Scanner { bytes: fmt.as_bytes(), pos: 0, next_implicit: 0 }
    }

    /// The next token and the scanner after it; `Ok(None)` at the end of the string.
    pub const fn next(mut self) -> Result<Option<(Token, Self)>, FormatError> {
        let b = self.bytes;
        let start = self.pos;
        if start >= b.len() {
            return Ok(None);
        }
        let token = match b[start] {
            b'{' | b'}' if at(b, start + 1) == b[start] => {
                self.pos = start + 2;
                Token::Text { start, end: start + 1 }
            }
            b'}' => return Err(FormatError::UnmatchedClose { offset: start }),
            b'{' => match self.placeholder(start) {
                Ok(next) => return Ok(Some(next)),
                Err(e) => return Err(e),
            },
            _ => {
                let mut end = start + 1;
                while end < b.len() && b[end] != b'{' && b[end] != b'}' {
                    end += 1;
                }
                self.pos = end;
                Token::Text { start, end }
            }
        };
        Ok(Some((token, self)))
    }

    /// Parses the placeholder whose `{` is at `open`.
    const fn placeholder(mut self, open: usize) -> Result<(Token, Self), FormatError> {
        let b = self.bytes;
        let mut i = open + 1;

        let mut explicit = None;
        if at(b, i).is_ascii_digit() {
            let (n, end) = match integer(b, i) {
                Ok(v) => v,
                Err(e) => return Err(e),
            };
            explicit = Some(n as usize);
            i = end;
        } else if word_start(b, i) {
            return Err(FormatError::NamedArgument { offset: i });
        }
        i = skip_ws(b, i);

        let mut spec = Spec::PLAIN;
        if at(b, i) == b':' {
            i += 1;
            // A fill is any char followed by an alignment.
            if i < b.len() {
                let (c, len) = decode(b, i);
                if is_align(at(b, i + len)) {
                    spec.fill = c;
                    i += len;
                }
            }
            spec.align = match at(b, i) {
                b'<' => Align::Left,
                b'^' => Align::Center,
                b'>' => Align::Right,
                _ => Align::Unknown,
            };
            if !matches!(spec.align, Align::Unknown) {
                i += 1;
            }
            match at(b, i) {
                b'+' => {
                    spec.plus = true;
                    i += 1;
                }
                b'-' => i += 1,
                _ => {}
            }
            if at(b, i) == b'#' {
                spec.alternate = true;
                i += 1;
            }
            if at(b, i) == b'0' {
                // `0$` is "width from argument 0", not the `0` flag (rustc decides the same).
                if at(b, i + 1) == b'$' {
                    return Err(FormatError::DynamicWidth { offset: i });
                }
                spec.zero = true;
                i += 1;
            }
            if at(b, i).is_ascii_digit() {
                let (n, end) = match integer(b, i) {
                    Ok(v) => v,
                    Err(e) => return Err(e),
                };
                if at(b, end) == b'$' {
                    return Err(FormatError::DynamicWidth { offset: i });
                }
                spec.width = n;
                i = end;
            } else if word_start(b, i) && at(b, word_end(b, i)) == b'$' {
                return Err(FormatError::DynamicWidth { offset: i });
            }
            if at(b, i) == b'.' {
                let dot = i;
                i += 1;
                if at(b, i) == b'*' {
                    return Err(FormatError::DynamicPrecision { offset: dot });
                }
                if at(b, i).is_ascii_digit() {
                    let (n, end) = match integer(b, i) {
                        Ok(v) => v,
                        Err(e) => return Err(e),
                    };
                    if at(b, end) == b'$' {
                        return Err(FormatError::DynamicPrecision { offset: dot });
                    }
                    spec.precision = Some(n);
                    i = end;
                } else if word_start(b, i) && at(b, word_end(b, i)) == b'$' {
                    return Err(FormatError::DynamicPrecision { offset: dot });
                }
                // Otherwise (`{:.}`, `{:.x}`) rustc reads "no precision": so do we.
            }
            let ty = i;
            let (kind, len) = match (at(b, i), at(b, i + 1)) {
                (b'?', _) => (Kind::Debug, 1),
                (b'x', b'?') => (Kind::DebugLowerHex, 2),
                (b'X', b'?') => (Kind::DebugUpperHex, 2),
                (b'x', _) => (Kind::LowerHex, 1),
                (b'X', _) => (Kind::UpperHex, 1),
                (b'o', _) => (Kind::Octal, 1),
                (b'b', _) => (Kind::Binary, 1),
                (b'e', _) => (Kind::LowerExp, 1),
                (b'E', _) => (Kind::UpperExp, 1),
                _ => (Kind::Display, 0),
            };
            spec.kind = kind;
            i += len;
            // rustc reads the type as a whole identifier: `{:ex}` is an unknown type,
            // not `e` followed by junk. (`x?`/`?` end the type; junk after them is
            // reported as unexpected below, as rustc does.)
            let word_type = len == 1 && !matches!(kind, Kind::Debug);
            if (word_type || len == 0) && word_start(b, ty) && word_end(b, ty) > i {
                if at(b, ty) == b'p' && word_end(b, ty) == ty + 1 {
                    return Err(FormatError::Pointer { offset: ty });
                }
                return Err(FormatError::UnknownType { offset: ty });
            }
        }
        i = skip_ws(b, i);

        if i >= b.len() {
            return Err(FormatError::Unclosed { offset: open });
        }
        if b[i] != b'}' {
            return Err(FormatError::Unexpected { offset: i });
        }
        self.pos = i + 1;
        let index = match explicit {
            Some(n) => n,
            None => {
                self.next_implicit += 1;
                self.next_implicit - 1
            }
        };
        Ok((Token::Arg { index, spec }, self))
    }
}

/// `b[i]`, or 0 past the end (0 matches nothing the grammar looks for).
const fn at(b: &[u8], i: usize) -> u8 {
    if i < b.len() {
        b[i]
    } else {
        0
    }
}

const fn is_align(c: u8) -> bool {
    matches!(c, b'<' | b'^' | b'>')
}

/// Decodes the char starting at `b[i]`; `b` is valid UTF-8 and `i` a char boundary.
const fn decode(b: &[u8], i: usize) -> (char, usize) {
    let first = b[i] as u32;
    let (mut cp, len) = if first < 0x80 {
        (first, 1)
    } else if first < 0xE0 {
        (first & 0x1F, 2)
    } else if first < 0xF0 {
        (first & 0x0F, 3)
    } else {
        (first & 0x07, 4)
    };
    let mut k = 1;
    while k < len {
        cp = (cp << 6) | (at(b, i + k) as u32 & 0x3F);
        k += 1;
    }
    match char::from_u32(cp) {
        Some(c) => (c, len),
        None => (char::REPLACEMENT_CHARACTER, len),
    }
}

/// `char::is_whitespace` (the Unicode `White_Space` property), which is not a
/// `const fn` before Rust 1.87.
const fn is_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Skips Unicode whitespace, as rustc does around the argument and before `}`.
const fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let (c, len) = decode(b, i);
        if !is_whitespace(c) {
            break;
        }
        i += len;
    }
    i
}

/// Whether an identifier could start at `b[i]`. rustc uses XID_Start, which a `const fn`
/// cannot test; any non-ASCII non-whitespace char counts here. This only ever decides
/// which error to report, never whether a string is accepted.
const fn word_start(b: &[u8], i: usize) -> bool {
    let c = at(b, i);
    c.is_ascii_alphabetic() || c == b'_' || (c >= 0x80 && !is_whitespace(decode(b, i).0))
}

/// End of the identifier starting at `b[i]` (same approximation as [`word_start`]).
const fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || c == b'_' {
            i += 1;
        } else if c >= 0x80 {
            let (ch, len) = decode(b, i);
            if is_whitespace(ch) {
                break;
            }
            i += len;
        } else {
            break;
        }
    }
    i
}

/// Parses the decimal integer at `b[i..]` (at least one digit), limited to `u16` as rustc.
const fn integer(b: &[u8], start: usize) -> Result<(u16, usize), FormatError> {
    let mut i = start;
    let mut n: u32 = 0;
    while at(b, i).is_ascii_digit() {
        n = n * 10 + (b[i] - b'0') as u32;
        if n > u16::MAX as u32 {
            return Err(FormatError::TooLarge { offset: start });
        }
        i += 1;
    }
    Ok((n as u16, i))
}
