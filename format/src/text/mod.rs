//! Deferred text: format-string grammar, compile-time checks, and the renderer that
//! reproduces `format!` output from decoded [`Value`]s.

// Values belong to the wire format (what an argument decodes to); the renderer reads them.
pub use crate::wire::{recycle, Value};

mod check;
pub mod line;
mod render;
mod spec;

pub use check::check_format;
pub use render::{eight_ascii_digits, RenderError};
pub use spec::{FormatError, Segment, Template};

// Rendering a value is the renderer's business, so this method lives here, not in `wire`.
impl Value<'_> {
    /// Appends `{}` of the value exactly as `format!` prints it, and returns true; for a
    /// value without `Display` (`[u8]`, `Option`) appends nothing and returns false.
    /// Integers and floats with a short decimal skip the `fmt` machinery.
    ///
    /// ```
    /// use tapelog_format::text::Value;
    ///
    /// let mut s = String::new();
    /// assert!(Value::U64(42).push_display(&mut s));
    /// s.push(' ');
    /// assert!(Value::F64(0.1 + 0.2).push_display(&mut s));
    /// assert!(!Value::None.push_display(&mut s));
    /// assert_eq!(s, format!("42 {}", 0.1 + 0.2));
    /// ```
    #[inline]
    pub fn push_display(&self, out: &mut String) -> bool {
        render::plain(self, out).is_ok()
    }
}
