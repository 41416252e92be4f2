//! Deferred text: format-string grammar, compile-time checks, and the renderer that
//! reproduces `format!` output from decoded [`Value`]s.

mod value;
pub use value::{recycle, Value};

mod check;
pub mod line;
mod render;
mod spec;

pub use check::check_format;
pub use render::{eight_ascii_digits, RenderError};
pub use spec::{FormatError, Segment, Template};
