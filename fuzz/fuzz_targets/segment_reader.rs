//! Feeds arbitrary bytes to every reader of a segment; see `../entry.rs`.
#![no_main]

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::read_segment(data));
