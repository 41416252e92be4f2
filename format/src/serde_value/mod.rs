//! serde values as the wire carries them: shapes (the names and types a value had), the
//! bincode bytes, and the structured value a reader rebuilds from both without the program's
//! types. The writing side that needs the running logger (fingerprints, the shape registry,
//! staging on the hot path) lives in `tapelog_format::serde_value`.

mod bincode_codec;
mod build;
pub mod shape;
mod structured;

use std::collections::HashMap;
use std::sync::Arc;

pub use bincode_codec::encode;
pub use build::{shape_of, BuildError};
pub use shape::Shape;
pub use structured::{Data, Structured};

/// Shape id written for a value that could not be encoded; its bytes are the error's text.
pub const UNSERIALIZABLE: u32 = 0;

/// The shapes a segment defines (its `SHAPE` entries), by id: what a reader needs to decode
/// serde arguments.
#[derive(Debug, Default, Clone)]
pub struct Shapes {
    by_id: HashMap<u32, Arc<Shape>>,
}

impl Shapes {
    /// No shapes.
    pub fn new() -> Self {
        Shapes::default()
    }

    /// Adds (or replaces) shape `id`.
    pub fn insert(&mut self, id: u32, shape: Shape) {
        self.by_id.insert(id, Arc::new(shape));
    }

    /// Shape `id`, if this segment defined it.
    pub fn get(&self, id: u32) -> Option<&Shape> {
        self.by_id.get(&id).map(|s| &**s)
    }

    /// Removes every shape (for a reader moving on to the next segment).
    pub fn clear(&mut self) {
        self.by_id.clear();
    }
}

/// Decodes the payload of a serde argument (`shape:u32 len:u32 bytes`, already framed by
/// the caller) with the segment's shapes.
pub fn decode_arg(shapes: &Shapes, shape: u32, bytes: &[u8]) -> Result<Structured, &'static str> {
    if shape == UNSERIALIZABLE {
        return Ok(Structured::Unserializable(String::from_utf8_lossy(bytes).into_owned()));
    }
    let s = shapes.get(shape).ok_or("serde value whose shape is not in the segment")?;
    Structured::decode(s, bytes).map_err(|_| "serde value bytes do not match their shape")
}
