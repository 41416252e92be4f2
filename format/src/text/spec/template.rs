//! A format string parsed once into the pieces the renderer walks.

use super::{FormatError, Scanner, Spec, Token};

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
    /// `{}` or `{N}` with no spec: [`Value::push_display`](crate::text::Value::push_display) of
    /// argument `N`.
    Display(usize),
    /// Any other placeholder for argument `N`: only [`Template::render`] reproduces it.
    Formatted(usize),
}

/// A format string parsed once and rendered many times.
///
/// Accepts exactly what [`check_format`](crate::text::check_format) accepts: the subset of
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
    pub(in crate::text) pieces: Box<[Piece]>,
    /// One more than the highest argument index referenced, 0 without placeholders.
    pub(in crate::text) arg_count: usize,
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
    /// `Literal` as is, `Display(i)` with [`Value::push_display`](crate::text::Value::push_display)
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
