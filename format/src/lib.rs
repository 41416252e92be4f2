//! tapelog's wire format, in both directions, and the text it renders to.
//!
//! This crate owns every piece of knowledge about bytes that tapelog writes: the segment
//! header and file naming, entry framing (one writer, one reader), the record header, the
//! argument kinds and the values they decode to, serde value shapes, and the `format!`
//! conformant renderer that turns a call site's format string and its values back into text.
//! The runtime (`tapelog`), the decoder CLI (`tapelog-decoder`) and the collector all go
//! through it.
//!
//! It must not import the runtime or anything only the runtime needs: no `rtrb`, `memmap2`,
//! `core_affinity` or `libc`. Reading a log needs this crate and nothing of the logger.
//!
//! ```
//! use tapelog_format::text::{Template, Value};
//!
//! let t = Template::parse("fill {} @ {:.2}")?;
//! let mut line = String::new();
//! t.render(&[Value::U32(100), Value::F64(101.25)], &mut line)?;
//! assert_eq!(line, "fill 100 @ 101.25");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs, missing_debug_implementations, unsafe_op_in_unsafe_fn)]

pub mod level;
pub mod net;
pub mod serde_value;
pub mod text;
pub mod wire;

pub use level::{Level, ParseLevelError};
