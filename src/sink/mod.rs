//! Sinks other than the binary segments: where the consumer sends records besides
//! `consumer::segment`.
//!
//! - [`text`]: the console and plain text files, formatted on the consumer thread and
//!   written by a thread per output behind a bounded queue.
//! - [`syslog`]: RFC 5424 over UDP or TCP, one more kind of text output.
//! - [`user`]: the program's own sinks ([`Sink`]), fed by the same decoding pass.

mod out;
pub mod syslog;
pub mod text;
pub mod user;
pub(crate) mod writer;

pub use syslog::{Facility, Syslog, Transport};
pub use user::{RawBatch, Record, Sink};
