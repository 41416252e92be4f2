//! Sinks other than the binary segments: where the consumer sends records besides
//! `consumer::segment`.
//!
//! - [`text`]: the console and plain text files, formatted on the consumer thread and
//!   written by a thread per output behind a bounded queue.

pub mod text;
pub(crate) mod writer;

pub use text::TextOutput;
