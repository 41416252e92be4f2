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
//! A segment in memory, written and read back through the one entry writer and the one
//! entry reader:
//!
//! ```
//! use tapelog_format::net::push_entry;
//! use tapelog_format::wire::header::{FileHeader, CLOCK_MONOTONIC, COMMITTED_OFFSET};
//! use tapelog_format::wire::record::ThreadEntry;
//! use tapelog_format::wire::{entry, Entry, EntryReader, FORMAT_VERSION};
//!
//! let header = FileHeader {
//!     version: FORMAT_VERSION,
//!     flags: 0,
//!     header_len: 0, // `encode` fills it in
//!     committed: 0,
//!     run_id: 1,
//!     seq: 0,
//!     pid: 42,
//!     created_unix_ns: 0,
//!     clock: CLOCK_MONOTONIC,
//!     metadata: Vec::new(),
//! };
//! let mut segment = header.encode();
//! let mut payload = Vec::new();
//! ThreadEntry { thread: 7, os_tid: 1234, name: "main" }.encode(&mut payload);
//! push_entry(&mut segment, entry::THREAD, &payload);
//! // Publish the committed length, as the segment writer does after each batch.
//! let committed = segment.len() as u64;
//! segment[COMMITTED_OFFSET..COMMITTED_OFFSET + 8].copy_from_slice(&committed.to_le_bytes());
//!
//! let mut reader = EntryReader::open(&segment[..])?;
//! let Some((_, Entry::Thread(t))) = reader.next_entry()? else { panic!("no thread entry") };
//! assert_eq!((t.thread, t.os_tid, t.name), (7, 1234, "main"));
//! assert!(reader.next_entry()?.is_none());
//! # Ok::<(), tapelog_format::wire::ReadError>(())
//! ```
//!
//! And the text a record renders to:
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
