//! The format-string grammar: one `const` scanner shared by the compile-time check
//! ([`check_format`](super::check_format)) and the runtime [`Template`], so the two
//! can never disagree about what is accepted.
//!
//! The grammar is the subset of `format_args!`'s that the renderer reproduces exactly:
//!
//! ```text
//! placeholder := '{' [index] ws [':' spec] ws '}'
//! spec        := [[fill] align] ['+' | '-'] ['#'] ['0'] [width] ['.' [precision]] type
//! align       := '<' | '^' | '>'
//! width       := integer            (literal only, at most u16::MAX)
//! precision   := integer            (literal only, at most u16::MAX)
//! type        := '' | '?' | 'x?' | 'X?' | 'x' | 'X' | 'o' | 'b' | 'e' | 'E'
//! ```
//!
//! `ws` is any run of Unicode whitespace, as rustc allows (`{0 }`, `{:x }`). Named
//! arguments, widths or precisions taken from arguments (`{:1$}`, `{:.*}`, `{:w$}`)
//! and `{:p}` are rejected with a [`FormatError`].

use std::fmt;

/// Where a placeholder puts its padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// No alignment written: the type's default (left for text, right for numbers).
    Unknown,
    /// `<`
    Left,
    /// `^`
    Center,
    /// `>`
    Right,
}

/// The formatting trait a placeholder asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{}`
    Display,
    /// `{:?}`
    Debug,
    /// `{:x?}`
    DebugLowerHex,
    /// `{:X?}`
    DebugUpperHex,
    /// `{:x}`
    LowerHex,
    /// `{:X}`
    UpperHex,
    /// `{:o}`
    Octal,
    /// `{:b}`
    Binary,
    /// `{:e}`
    LowerExp,
    /// `{:E}`
    UpperExp,
}

impl Kind {
    /// Whether this is one of the `Debug` flavours.
    pub const fn is_debug(self) -> bool {
        matches!(self, Kind::Debug | Kind::DebugLowerHex | Kind::DebugUpperHex)
    }

    /// The trait's name and spelling, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Kind::Display => "Display (`{}`)",
            Kind::Debug => "Debug (`{:?}`)",
            Kind::DebugLowerHex => "Debug (`{:x?}`)",
            Kind::DebugUpperHex => "Debug (`{:X?}`)",
            Kind::LowerHex => "LowerHex (`{:x}`)",
            Kind::UpperHex => "UpperHex (`{:X}`)",
            Kind::Octal => "Octal (`{:o}`)",
            Kind::Binary => "Binary (`{:b}`)",
            Kind::LowerExp => "LowerExp (`{:e}`)",
            Kind::UpperExp => "UpperExp (`{:E}`)",
        }
    }
}

/// Everything after the `:` of a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Padding character; `' '` unless written.
    pub fill: char,
    pub align: Align,
    /// `+` flag. (`-` is accepted and, as in std, has no effect.)
    pub plus: bool,
    /// `#` flag.
    pub alternate: bool,
    /// `0` flag (sign-aware zero padding).
    pub zero: bool,
    /// Minimum width in chars; 0 when absent, which std treats the same as "no width".
    pub width: u16,
    pub precision: Option<u16>,
    pub kind: Kind,
}

impl Spec {
    /// The spec of a bare `{}`.
    pub const PLAIN: Spec = Spec {
        fill: ' ',
        align: Align::Unknown,
        plus: false,
        alternate: false,
        zero: false,
        width: 0,
        precision: None,
        kind: Kind::Display,
    };
}

/// Why a format string was rejected. Every variant carries the byte offset in the
/// format string where the problem was found.
///
/// ```
/// use tapelog_format::text::{FormatError, Template};
///
/// let err = Template::parse("px {price}").unwrap_err();
/// assert_eq!(err, FormatError::NamedArgument { offset: 4 });
/// assert!(err.to_string().contains("positionally"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// A `}` that closes nothing (a literal `}` is written `}}`).
    UnmatchedClose {
        /// Offset of the `}`.
        offset: usize,
    },
    /// A `{` whose placeholder runs to the end of the string (a literal `{` is written `{{`).
    Unclosed {
        /// Offset of the `{`.
        offset: usize,
    },
    /// A character that cannot appear at this point of a placeholder.
    Unexpected {
        /// Offset of the character.
        offset: usize,
    },
    /// A named or captured argument such as `{name}`: pass the value positionally.
    NamedArgument {
        /// Offset of the name.
        offset: usize,
    },
    /// A width taken from an argument: `{:1$}`, `{:w$}`.
    DynamicWidth {
        /// Offset of the width.
        offset: usize,
    },
    /// A precision taken from an argument: `{:.*}`, `{:.1$}`, `{:.p$}`.
    DynamicPrecision {
        /// Offset of the `.`.
        offset: usize,
    },
    /// `{:p}`: an address means nothing once the record leaves the process.
    Pointer {
        /// Offset of the `p`.
        offset: usize,
    },
    /// A format type other than `?`, `x?`, `X?`, `x`, `X`, `o`, `b`, `e`, `E`.
    UnknownType {
        /// Offset of the type.
        offset: usize,
    },
    /// An argument index, width or precision above `u16::MAX` (rustc's limit too).
    TooLarge {
        /// Offset of the first digit.
        offset: usize,
    },
}

impl FormatError {
    /// Byte offset in the format string where the problem was found.
    ///
    /// ```
    /// use tapelog_format::text::Template;
    ///
    /// assert_eq!(Template::parse("a } b").unwrap_err().offset(), 2);
    /// ```
    pub const fn offset(&self) -> usize {
        match *self {
            FormatError::UnmatchedClose { offset }
            | FormatError::Unclosed { offset }
            | FormatError::Unexpected { offset }
            | FormatError::NamedArgument { offset }
            | FormatError::DynamicWidth { offset }
            | FormatError::DynamicPrecision { offset }
            | FormatError::Pointer { offset }
            | FormatError::UnknownType { offset }
            | FormatError::TooLarge { offset } => offset,
        }
    }

    /// What is wrong, without the offset. These are also the compile-time messages
    /// of [`check_format`](super::check_format), hence the `tapelog:` prefix.
    ///
    /// ```
    /// use tapelog_format::text::Template;
    ///
    /// let err = Template::parse("{:p}").unwrap_err();
    /// assert!(err.message().contains("{:p}"));
    /// ```
    pub const fn message(&self) -> &'static str {
        match self {
            FormatError::UnmatchedClose { .. } => {
                "tapelog: unmatched `}` in format string (write `}}` for a literal `}`)"
            }
            FormatError::Unclosed { .. } => {
                "tapelog: `{` is never closed in format string (write `{{` for a literal `{`)"
            }
            FormatError::Unexpected { .. } => "tapelog: invalid placeholder in format string: expected `}`",
            FormatError::NamedArgument { .. } => {
                "tapelog: named and captured arguments (`{name}`) are not supported: \
                 pass the value positionally, as in `\"{}\", name`"
            }
            FormatError::DynamicWidth { .. } => {
                "tapelog: a width taken from an argument (`{:1$}`, `{:w$}`) is not \
                 supported: write the width as a number"
            }
            FormatError::DynamicPrecision { .. } => {
                "tapelog: a precision taken from an argument (`{:.*}`, `{:.1$}`, `{:.p$}`) \
                 is not supported: write the precision as a number"
            }
            FormatError::Pointer { .. } => {
                "tapelog: `{:p}` is not supported: an address means nothing outside the \
                 process; log it as an integer with `{:x}` instead"
            }
            FormatError::UnknownType { .. } => {
                "tapelog: unsupported format type: use one of ``, `?`, `x?`, `X?`, `x`, \
                 `X`, `o`, `b`, `e`, `E`"
            }
            FormatError::TooLarge { .. } => "tapelog: argument index, width or precision above 65535 in format string",
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message(), self.offset())
    }
}

impl std::error::Error for FormatError {}

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

/// One parsed piece of a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Text copied as is (escapes already resolved).
    Literal(Box<str>),
    /// `{}` or `{N}` with no spec: the fast path.
    Plain(usize),
    /// Any other placeholder.
    Arg { index: usize, spec: Spec },
}

/// One piece of a [`Template`] as [`Template::segments`] shows it, for callers that lay a
/// line out around the message themselves (the decoder folds each call site's message
/// into its line layout once, then fills in only the arguments per record).
///
/// ```
/// use tapelog_format::text::{Segment, Template};
///
/// let t = Template::parse("qty {:>6}")?;
/// assert_eq!(t.segments().last(), Some(Segment::Formatted(0)));
/// # Ok::<(), tapelog_format::text::FormatError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment<'t> {
    /// Text copied as is (escapes already resolved).
    Literal(&'t str),
    /// `{}` or `{N}` with no spec: [`Value::push_display`](super::Value::push_display) of
    /// argument `N`.
    Display(usize),
    /// Any other placeholder for argument `N`: only [`Template::render`] reproduces it.
    Formatted(usize),
}

/// A format string parsed once and rendered many times.
///
/// Accepts exactly what [`check_format`](super::check_format) accepts: the subset of
/// `format!` syntax that [`render`](Template::render) reproduces byte for byte.
///
/// ```
/// use tapelog_format::text::{Template, Value};
///
/// let t = Template::parse("px {:>8.2} qty {:#x}")?;
/// assert_eq!(t.arg_count(), 2);
/// let mut out = String::new();
/// t.render(&[Value::F64(101.257), Value::U32(255)], &mut out)?;
/// assert_eq!(out, format!("px {:>8.2} qty {:#x}", 101.257, 255u32));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// In output order; adjacent literals are merged.
    pub(super) pieces: Box<[Piece]>,
    /// One more than the highest argument index referenced, 0 without placeholders.
    pub(super) arg_count: usize,
}

impl Template {
    /// Parses `fmt`, or says what in it cannot be reproduced.
    ///
    /// ```
    /// use tapelog_format::text::{FormatError, Template};
    ///
    /// assert!(Template::parse("{} {0:>5} {{literal}}").is_ok());
    /// assert_eq!(
    ///     Template::parse("{:.*}").unwrap_err(),
    ///     FormatError::DynamicPrecision { offset: 2 }
    /// );
    /// ```
    pub fn parse(fmt: &str) -> Result<Template, FormatError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut arg_count = 0;
        let mut scanner = Scanner::new(fmt);
        while let Some((token, next)) = scanner.next()? {
            scanner = next;
            match token {
                Token::Text { start, end } => literal.push_str(&fmt[start..end]),
                Token::Arg { index, spec } => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                    }
                    arg_count = arg_count.max(index + 1);
                    pieces.push(if spec == Spec::PLAIN { Piece::Plain(index) } else { Piece::Arg { index, spec } });
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.into()));
        }
        Ok(Template { pieces: pieces.into_boxed_slice(), arg_count })
    }

    /// How many arguments a record must carry: one more than the highest index
    /// referenced (`"{0} {0}"` needs 1, `"{1}"` needs 2), 0 without placeholders.
    ///
    /// ```
    /// use tapelog_format::text::Template;
    ///
    /// assert_eq!(Template::parse("{} {0} {}")?.arg_count(), 2);
    /// assert_eq!(Template::parse("no args {{}}")?.arg_count(), 0);
    /// # Ok::<(), tapelog_format::text::FormatError>(())
    /// ```
    pub fn arg_count(&self) -> usize {
        self.arg_count
    }

    /// The template's pieces in output order, adjacent literals merged. Rendering
    /// `Literal` as is, `Display(i)` with [`Value::push_display`](super::Value::push_display)
    /// and `Formatted(i)` as [`render`](Template::render) would, gives `render`'s output.
    ///
    /// ```
    /// use tapelog_format::text::{Segment, Template};
    ///
    /// let t = Template::parse("a {} b {0:>4} {{c}}")?;
    /// let s: Vec<Segment> = t.segments().collect();
    /// assert_eq!(
    ///     s,
    ///     [
    ///         Segment::Literal("a "),
    ///         Segment::Display(0),
    ///         Segment::Literal(" b "),
    ///         Segment::Formatted(0),
    ///         Segment::Literal(" {c}"),
    ///     ]
    /// );
    /// # Ok::<(), tapelog_format::text::FormatError>(())
    /// ```
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        self.pieces.iter().map(|p| match p {
            Piece::Literal(s) => Segment::Literal(s),
            Piece::Plain(i) => Segment::Display(*i),
            Piece::Arg { index, .. } => Segment::Formatted(*index),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fmt: &str) -> Spec {
        match &Template::parse(fmt).unwrap().pieces[..] {
            [Piece::Arg { spec, .. }] => *spec,
            [Piece::Plain(_)] => Spec::PLAIN,
            other => panic!("{fmt}: {other:?}"),
        }
    }

    #[test]
    fn full_spec_parses_every_field() {
        let s = spec("{:é^+#012.3x?}");
        assert_eq!(s.fill, 'é');
        assert_eq!(s.align, Align::Center);
        assert!(s.plus && s.alternate && s.zero);
        assert_eq!(s.width, 12);
        assert_eq!(s.precision, Some(3));
        assert_eq!(s.kind, Kind::DebugLowerHex);
    }

    #[test]
    fn ambiguous_specs_read_as_rustc_reads_them() {
        assert_eq!(spec("{:}>5}").fill, '}');
        assert_eq!(spec("{:<<}").fill, '<');
        assert_eq!(spec("{:>}").fill, ' ');
        assert_eq!(spec("{:00}").width, 0);
        assert!(spec("{:00}").zero);
        assert_eq!(spec("{:005}").width, 5);
        assert_eq!(spec("{:.}").precision, None);
        assert_eq!(spec("{:.x}").kind, Kind::LowerHex);
        assert_eq!(spec("{:-}"), Spec::PLAIN);
        assert_eq!(spec("{ }"), Spec::PLAIN);
        assert_eq!(spec("{0\u{3000}:x }").kind, Kind::LowerHex);
    }

    #[test]
    fn implicit_indices_skip_explicit_ones() {
        let t = Template::parse("{} {0} {} {5}").unwrap();
        let idx: Vec<usize> = t
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Plain(i) => Some(*i),
                _ => None,
            })
            .collect();
        assert_eq!(idx, [0, 0, 1, 5]);
        assert_eq!(t.arg_count(), 6);
    }

    #[test]
    fn escapes_merge_into_one_literal() {
        let t = Template::parse("a{{b}}c").unwrap();
        assert_eq!(&t.pieces[..], [Piece::Literal("a{b}c".into())]);
    }

    #[test]
    fn errors_name_the_offending_byte() {
        use FormatError::*;
        let cases = [
            ("ab}", UnmatchedClose { offset: 2 }),
            ("ab{", Unclosed { offset: 2 }),
            ("{:x", Unclosed { offset: 0 }),
            ("{ 0}", Unexpected { offset: 2 }),
            ("{:+-}", Unexpected { offset: 3 }),
            ("{:?x}", Unexpected { offset: 3 }),
            ("{x}", NamedArgument { offset: 1 }),
            ("{_}", NamedArgument { offset: 1 }),
            ("{é}", NamedArgument { offset: 1 }),
            ("{:1$}", DynamicWidth { offset: 2 }),
            ("{:0$}", DynamicWidth { offset: 2 }),
            ("{:w$}", DynamicWidth { offset: 2 }),
            ("{:.*}", DynamicPrecision { offset: 2 }),
            ("{:.1$}", DynamicPrecision { offset: 2 }),
            ("{:.p$}", DynamicPrecision { offset: 2 }),
            ("{:p}", Pointer { offset: 2 }),
            ("{:#p}", Pointer { offset: 3 }),
            ("{:y}", UnknownType { offset: 2 }),
            ("{:ex}", UnknownType { offset: 2 }),
            ("{:e5}", UnknownType { offset: 2 }),
            ("{:px}", UnknownType { offset: 2 }),
            ("{65536}", TooLarge { offset: 1 }),
            ("{:65536}", TooLarge { offset: 2 }),
            ("{:.99999999999999999999}", TooLarge { offset: 3 }),
        ];
        for (fmt, want) in cases {
            assert_eq!(Template::parse(fmt), Err(want), "{fmt}");
        }
    }
}
