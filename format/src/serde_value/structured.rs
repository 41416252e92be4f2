//! A serde value decoded without its Rust type: read from bincode bytes by its [`Shape`],
//! rendered exactly as `{:?}`/`{:#?}` of a `#[derive(Debug)]` type prints it, and as the
//! `serde_json::Value` that `serde_json::to_value` makes of it.

use std::fmt;
use std::sync::Arc;

use super::bincode_codec::{DecodeError, Reader};
use super::shape::{Body, Fields, Prim, Shape};

/// A decoded serde value.
///
/// Its `Debug` output is the original value's `Debug` output when that was derived (any
/// flags, such as `{:#?}` or `{:x?}`, reach the leaves as they would). What serde's data
/// model does not keep is rendered in serde's terms: an array `[T; N]` serializes as a
/// tuple and prints as `(a, b)`, a set as a sequence and prints as `[a, b]`.
///
/// ```
/// use tapelog_format::serde_value::Structured;
/// #[derive(serde::Serialize, Debug)]
/// struct Fill { qty: u32, px: f64, venue: Option<String> }
/// let fill = Fill { qty: 5, px: 101.5, venue: None };
/// let s = Structured::from_value(&fill).unwrap();
/// assert_eq!(format!("{s:?}"), format!("{fill:?}"));
/// assert_eq!(format!("{s:#?}"), format!("{fill:#?}"));
/// assert_eq!(s.to_json(), serde_json::to_value(&fill).unwrap());
/// ```
#[derive(Clone, PartialEq)]
#[allow(missing_docs)] // the serde data model's scalars
pub enum Structured {
    Unit,
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    /// `Option`.
    Option(Option<Box<Structured>>),
    /// A sequence.
    Seq(Vec<Structured>),
    /// A tuple (or array).
    Tuple(Vec<Structured>),
    /// A map, in serialization order.
    Map(Vec<(Structured, Structured)>),
    /// A struct (unit, newtype, tuple or named fields).
    Struct {
        /// The struct's name.
        name: Arc<str>,
        /// Its data.
        body: Data,
    },
    /// An enum variant.
    Variant {
        /// The enum's name.
        enum_name: Arc<str>,
        /// The variant's name.
        name: Arc<str>,
        /// Its data.
        body: Data,
    },
    /// The program's `Serialize` impl failed (or the value could not be described); the
    /// record carries the error's text instead of the value.
    Unserializable(String),
}

/// The data of a struct or variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// None.
    Unit,
    /// One unnamed field.
    Newtype(Box<Structured>),
    /// Unnamed fields.
    Tuple(Vec<Structured>),
    /// Named fields, in order.
    Fields(Vec<(Arc<str>, Structured)>),
}

impl Structured {
    /// Decodes bincode `bytes` (the whole encoding) by `shape`.
    pub fn decode(shape: &Shape, bytes: &[u8]) -> Result<Structured, String> {
        let mut r = Reader::new(bytes);
        read(shape, &mut r, bytes.len()).map_err(|e| e.0)
    }

    /// Encodes `v` the way the hot path does and decodes it again: what the decoder will
    /// show for it. For tests and documentation.
    pub fn from_value<T: serde::Serialize + ?Sized>(v: &T) -> Result<Structured, String> {
        let shape = super::build::shape_of(v).map_err(|e| e.0)?;
        let mut b = Vec::new();
        super::bincode_codec::encode(v, &mut b)?;
        Structured::decode(&shape, &b)
    }
}

fn read(shape: &Shape, r: &mut Reader<'_>, cap: usize) -> Result<Structured, DecodeError> {
    use Structured as S;
    Ok(match shape {
        Shape::Prim(p) => match p {
            Prim::Unit => S::Unit,
            Prim::Bool => S::Bool(r.get()?),
            Prim::I8 => S::I8(r.get()?),
            Prim::I16 => S::I16(r.get()?),
            Prim::I32 => S::I32(r.get()?),
            Prim::I64 => S::I64(r.get()?),
            Prim::I128 => S::I128(r.get()?),
            Prim::U8 => S::U8(r.get()?),
            Prim::U16 => S::U16(r.get()?),
            Prim::U32 => S::U32(r.get()?),
            Prim::U64 => S::U64(r.get()?),
            Prim::U128 => S::U128(r.get()?),
            Prim::F32 => S::F32(r.get()?),
            Prim::F64 => S::F64(r.get()?),
            Prim::Char => S::Char(r.get()?),
            Prim::Str => S::Str(r.str()?.to_owned()),
            Prim::Bytes => S::Bytes(r.bytes()?.to_vec()),
        },
        Shape::Option(inner) => match (r.option_tag()?, inner) {
            (false, _) => S::Option(None),
            (true, Some(s)) => S::Option(Some(Box::new(read(s, r, cap)?))),
            (true, None) => return Err(DecodeError("Some where the shape saw only None".into())),
        },
        Shape::Seq(elem) => S::Seq(read_n(elem.as_deref(), r, cap)?),
        Shape::Tuple(items) => S::Tuple(read_all(items, r, cap)?),
        Shape::Map(kv) => {
            let n = r.len()?;
            if n > cap && n > MAX_EMPTY_ELEMENTS {
                return Err(DecodeError(format!("map of {n} entries in {cap} bytes")));
            }
            let mut out = Vec::with_capacity(n.min(cap));
            if n > 0 {
                let Some(kv) = kv else { return Err(DecodeError("entries where the shape saw an empty map".into())) };
                for _ in 0..n {
                    out.push((read(&kv.0, r, cap)?, read(&kv.1, r, cap)?));
                }
            }
            S::Map(out)
        }
        Shape::UnitStruct(n) => S::Struct { name: n.clone(), body: Data::Unit },
        Shape::NewtypeStruct(n, s) => S::Struct { name: n.clone(), body: Data::Newtype(Box::new(read(s, r, cap)?)) },
        Shape::TupleStruct(n, items) => S::Struct { name: n.clone(), body: Data::Tuple(read_all(items, r, cap)?) },
        Shape::Struct(n, f) => S::Struct { name: n.clone(), body: Data::Fields(read_fields(f, r, cap)?) },
        Shape::Enum(n, vars) => {
            let i = r.variant()?;
            let Ok(at) = vars.binary_search_by_key(&i, |v| v.index) else {
                return Err(DecodeError(format!("variant index {i} is not in the shape of {n}")));
            };
            let v = &vars[at];
            let body = match &v.body {
                Body::Unit => Data::Unit,
                Body::Newtype(s) => Data::Newtype(Box::new(read(s, r, cap)?)),
                Body::Tuple(items) => Data::Tuple(read_all(items, r, cap)?),
                Body::Struct(f) => Data::Fields(read_fields(f, r, cap)?),
            };
            S::Variant { enum_name: n.clone(), name: v.name.clone(), body }
        }
    })
}

/// Most elements a sequence may have beyond one per byte present (elements that take no
/// bytes, such as `()`, are the only way to have more).
const MAX_EMPTY_ELEMENTS: usize = 1 << 16;

fn read_n(elem: Option<&Shape>, r: &mut Reader<'_>, cap: usize) -> Result<Vec<Structured>, DecodeError> {
    let n = r.len()?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if n > cap && n > MAX_EMPTY_ELEMENTS {
        return Err(DecodeError(format!("sequence of {n} elements in {cap} bytes")));
    }
    let Some(elem) = elem else { return Err(DecodeError("elements where the shape saw an empty sequence".into())) };
    // Elements may take no bytes (units), so a length is not checked against the bytes
    // left; only the up-front reservation is bounded by them.
    let mut out = Vec::with_capacity(n.min(cap));
    for _ in 0..n {
        out.push(read(elem, r, cap)?);
    }
    Ok(out)
}

fn read_all(items: &[Shape], r: &mut Reader<'_>, cap: usize) -> Result<Vec<Structured>, DecodeError> {
    items.iter().map(|s| read(s, r, cap)).collect()
}

fn read_fields(f: &Fields, r: &mut Reader<'_>, cap: usize) -> Result<Vec<(Arc<str>, Structured)>, DecodeError> {
    f.iter().map(|(n, s)| Ok((n.clone(), read(s, r, cap)?))).collect()
}

fn data(f: &mut fmt::Formatter<'_>, name: &str, body: &Data) -> fmt::Result {
    match body {
        Data::Unit => f.write_str(name),
        Data::Newtype(v) => f.debug_tuple(name).field(v).finish(),
        Data::Tuple(items) => {
            let mut t = f.debug_tuple(name);
            items.iter().for_each(|v| {
                t.field(v);
            });
            t.finish()
        }
        Data::Fields(fields) => {
            let mut s = f.debug_struct(name);
            fields.iter().for_each(|(n, v)| {
                s.field(n, v);
            });
            s.finish()
        }
    }
}

impl fmt::Debug for Structured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Structured as S;
        match self {
            S::Unit => f.write_str("()"),
            S::Bool(v) => fmt::Debug::fmt(v, f),
            S::I8(v) => fmt::Debug::fmt(v, f),
            S::I16(v) => fmt::Debug::fmt(v, f),
            S::I32(v) => fmt::Debug::fmt(v, f),
            S::I64(v) => fmt::Debug::fmt(v, f),
            S::I128(v) => fmt::Debug::fmt(v, f),
            S::U8(v) => fmt::Debug::fmt(v, f),
            S::U16(v) => fmt::Debug::fmt(v, f),
            S::U32(v) => fmt::Debug::fmt(v, f),
            S::U64(v) => fmt::Debug::fmt(v, f),
            S::U128(v) => fmt::Debug::fmt(v, f),
            S::F32(v) => fmt::Debug::fmt(v, f),
            S::F64(v) => fmt::Debug::fmt(v, f),
            S::Char(v) => fmt::Debug::fmt(v, f),
            S::Str(v) => fmt::Debug::fmt(v.as_str(), f),
            S::Bytes(v) => fmt::Debug::fmt(v.as_slice(), f),
            S::Option(None) => f.write_str("None"),
            S::Option(Some(v)) => f.debug_tuple("Some").field(v).finish(),
            S::Seq(items) => f.debug_list().entries(items).finish(),
            S::Tuple(items) => {
                let mut t = f.debug_tuple("");
                items.iter().for_each(|v| {
                    t.field(v);
                });
                t.finish()
            }
            S::Map(entries) => f.debug_map().entries(entries.iter().map(|(k, v)| (k, v))).finish(),
            S::Struct { name, body } => data(f, name, body),
            S::Variant { name, body, .. } => data(f, name, body),
            S::Unserializable(e) => write!(f, "<unserializable: {e}>"),
        }
    }
}

type Json = serde_json::Value;

fn json_of<T: serde::Serialize>(v: T) -> Json {
    serde_json::to_value(v).unwrap_or_else(|e| Json::String(e.to_string()))
}

impl Structured {
    /// What `serde_json::to_value` makes of the original value (serde's externally tagged
    /// enums, `None` and units as `null`, map keys as strings). A 128-bit integer that
    /// `serde_json` cannot hold, or a map key it refuses, becomes the error's text.
    pub fn to_json(&self) -> Json {
        use Structured as S;
        match self {
            S::Unit => Json::Null,
            S::Bool(v) => Json::Bool(*v),
            S::I8(v) => json_of(v),
            S::I16(v) => json_of(v),
            S::I32(v) => json_of(v),
            S::I64(v) => json_of(v),
            S::I128(v) => json_of(v),
            S::U8(v) => json_of(v),
            S::U16(v) => json_of(v),
            S::U32(v) => json_of(v),
            S::U64(v) => json_of(v),
            S::U128(v) => json_of(v),
            S::F32(v) => json_of(v),
            S::F64(v) => json_of(v),
            S::Char(v) => Json::String(v.to_string()),
            S::Str(v) => Json::String(v.clone()),
            S::Bytes(v) => json_of(v),
            S::Option(None) => Json::Null,
            S::Option(Some(v)) => v.to_json(),
            S::Seq(items) | S::Tuple(items) => Json::Array(items.iter().map(Structured::to_json).collect()),
            S::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.json_key(), v.to_json())).collect()),
            S::Struct { body, .. } => match body {
                Data::Unit => Json::Null,
                Data::Newtype(v) => v.to_json(),
                Data::Tuple(items) => Json::Array(items.iter().map(Structured::to_json).collect()),
                Data::Fields(f) => Json::Object(f.iter().map(|(n, v)| (n.to_string(), v.to_json())).collect()),
            },
            S::Variant { name, body, .. } => {
                let inner = match body {
                    Data::Unit => return Json::String(name.to_string()),
                    Data::Newtype(v) => v.to_json(),
                    Data::Tuple(items) => Json::Array(items.iter().map(Structured::to_json).collect()),
                    Data::Fields(f) => Json::Object(f.iter().map(|(n, v)| (n.to_string(), v.to_json())).collect()),
                };
                Json::Object([(name.to_string(), inner)].into_iter().collect())
            }
            S::Unserializable(e) => Json::String(format!("<unserializable: {e}>")),
        }
    }

    /// A map key as `serde_json` writes it.
    fn json_key(&self) -> String {
        match self.to_json() {
            Json::String(s) => s,
            Json::Null => String::new(),
            other => other.to_string(),
        }
    }
}
