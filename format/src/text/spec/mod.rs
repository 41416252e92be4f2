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

mod scanner;
mod template;

pub use scanner::{Scanner, Token};
pub use template::{Piece, Segment, Template};

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
