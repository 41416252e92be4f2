//! tapelog's segment files on disk.
//!
//! [`SegmentWriter`] writes entries (framed by `tapelog-format`) into memory-mapped,
//! preallocated segment files, with a helper thread that prepares the pages ahead of it and
//! the next file before it is needed; it rotates, retains (`max_files`, `max_bytes`),
//! publishes the committed length for live readers and finalizes. The runtime's consumer
//! writes through it, and so does the collector (`tapelog serve`), through
//! [`SourceWriter`], which adds what a collector needs on top (continuing after a restart,
//! deduplicating dictionary entries, a durable acknowledged position).
//!
//! It owns file handling and nothing of the format (`tapelog-format`) or of the logger:
//! it must not import `rtrb`, `core_affinity` or the runtime. Where its helper thread runs
//! is the caller's to say ([`SegmentConfig::helper_setup`]).
//!
//! ```
//! use tapelog_segment::{list_segments, SegmentConfig, SegmentWriter};
//!
//! let dir = std::env::temp_dir().join(format!("tapelog-doc-segment-{}", std::process::id()));
//! let mut w = SegmentWriter::create(SegmentConfig::new(&dir, 1 << 20, 42))?;
//! assert!(w.write_entry(tapelog_format::wire::entry::RUN, b"payload"));
//! w.publish();
//! w.finalize();
//! assert_eq!(list_segments(&dir).len(), 1);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs, missing_debug_implementations, unsafe_op_in_unsafe_fn)]

mod claim;
mod prepare;
mod primitive;
mod source;
mod writer;

pub use source::{DataOutcome, SourceWriter, MAX_DICT_BYTES, POSITION_FILE};
pub use tapelog_format::wire::FILE_PREFIX;
pub use writer::{list_segments, Removed, SegmentConfig, SegmentWriter};
