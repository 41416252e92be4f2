//! Shapes: what a reader needs to turn a serde value's bincode bytes back into named
//! structs, fields and variants, without the program's types.
//!
//! A shape describes one *logged value*, not its Rust type: an enum lists only the variants
//! the value used, an `Option` that was `None` and an empty `Vec` have no inner shape. The
//! elements of one sequence (or map) may differ (`[Some(1), None]`, two variants of an
//! enum); their shapes are merged into one that reads every element.

use std::sync::Arc;

/// Scalar leaves, with their descriptor codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the serde data model's
pub enum Prim {
    Unit = 1,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    Bytes,
}

const PRIMS: [Prim; 17] = [
    Prim::Unit,
    Prim::Bool,
    Prim::I8,
    Prim::I16,
    Prim::I32,
    Prim::I64,
    Prim::I128,
    Prim::U8,
    Prim::U16,
    Prim::U32,
    Prim::U64,
    Prim::U128,
    Prim::F32,
    Prim::F64,
    Prim::Char,
    Prim::Str,
    Prim::Bytes,
];

/// Calls the macro `$m` with every scalar `serialize_*` method of `serde::Serializer`, its
/// argument type and the [`Prim`] it makes: `$m!(serialize_bool bool => Bool, ...)`. The shape
/// builder (`serde_value::build`) and the runtime's fingerprint of a shape generate their
/// scalar methods from this one list, so they cannot disagree about which scalar is which.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_serde_prim {
    ($m:ident) => {
        $m!(serialize_bool bool => Bool, serialize_i8 i8 => I8, serialize_i16 i16 => I16,
            serialize_i32 i32 => I32, serialize_i64 i64 => I64, serialize_i128 i128 => I128,
            serialize_u8 u8 => U8, serialize_u16 u16 => U16, serialize_u32 u32 => U32,
            serialize_u64 u64 => U64, serialize_u128 u128 => U128, serialize_f32 f32 => F32,
            serialize_f64 f64 => F64, serialize_char char => Char, serialize_str &str => Str,
            serialize_bytes &[u8] => Bytes);
    };
}

/// Named fields of a struct or struct variant, in serialization order.
pub type Fields = Vec<(Arc<str>, Shape)>;

/// The shape of one serde value (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A scalar.
    Prim(Prim),
    /// `Option`; `None` inside when only `None` was seen.
    Option(Option<Box<Shape>>),
    /// A sequence (`Vec`, slice, set); `None` inside when it was empty.
    Seq(Option<Box<Shape>>),
    /// A tuple or fixed-size array.
    Tuple(Vec<Shape>),
    /// A map; `None` inside when it was empty.
    Map(Option<Box<(Shape, Shape)>>),
    /// `struct S;`
    UnitStruct(Arc<str>),
    /// `struct S(T);`
    NewtypeStruct(Arc<str>, Box<Shape>),
    /// `struct S(T, U);`
    TupleStruct(Arc<str>, Vec<Shape>),
    /// `struct S { a: T }`
    Struct(Arc<str>, Fields),
    /// An enum with the variants seen, by ascending index.
    Enum(Arc<str>, Vec<Variant>),
}

/// One variant of an enum shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The index bincode writes.
    pub index: u32,
    /// The variant's name.
    pub name: Arc<str>,
    /// What follows the index.
    pub body: Body,
}

/// The data of a struct or an enum variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No data.
    Unit,
    /// One unnamed field.
    Newtype(Box<Shape>),
    /// Unnamed fields.
    Tuple(Vec<Shape>),
    /// Named fields.
    Struct(Fields),
}

/// Two element shapes that no single bincode reading covers (for example a number and a
/// string in one sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incompatible;

fn merge_opt(a: Option<Box<Shape>>, b: Option<Box<Shape>>) -> Result<Option<Box<Shape>>, Incompatible> {
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(Box::new(a.merge(*b)?)),
        (a, None) => a,
        (None, b) => b,
    })
}

fn merge_all(a: Vec<Shape>, b: Vec<Shape>) -> Result<Vec<Shape>, Incompatible> {
    if a.len() != b.len() {
        return Err(Incompatible);
    }
    a.into_iter().zip(b).map(|(a, b)| a.merge(b)).collect()
}

fn merge_fields(a: Fields, b: Fields) -> Result<Fields, Incompatible> {
    if a.len() != b.len() || a.iter().zip(&b).any(|((x, _), (y, _))| x != y) {
        return Err(Incompatible);
    }
    a.into_iter().zip(b).map(|((n, a), (_, b))| Ok((n, a.merge(b)?))).collect()
}

impl Body {
    fn merge(self, other: Body) -> Result<Body, Incompatible> {
        Ok(match (self, other) {
            (Body::Unit, Body::Unit) => Body::Unit,
            (Body::Newtype(a), Body::Newtype(b)) => Body::Newtype(Box::new(a.merge(*b)?)),
            (Body::Tuple(a), Body::Tuple(b)) => Body::Tuple(merge_all(a, b)?),
            (Body::Struct(a), Body::Struct(b)) => Body::Struct(merge_fields(a, b)?),
            _ => return Err(Incompatible),
        })
    }
}

impl Shape {
    /// One shape that reads values of both shapes. Commutative and associative, so the
    /// merge of a sequence's element shapes does not depend on their order.
    pub fn merge(self, other: Shape) -> Result<Shape, Incompatible> {
        use Shape::*;
        Ok(match (self, other) {
            (Prim(a), Prim(b)) if a == b => Prim(a),
            (Option(a), Option(b)) => Option(merge_opt(a, b)?),
            (Seq(a), Seq(b)) => Seq(merge_opt(a, b)?),
            (Tuple(a), Tuple(b)) => Tuple(merge_all(a, b)?),
            (Map(a), Map(b)) => Map(match (a, b) {
                (Some(a), Some(b)) => {
                    let ((ak, av), (bk, bv)) = (*a, *b);
                    Some(Box::new((ak.merge(bk)?, av.merge(bv)?)))
                }
                (a, None) => a,
                (None, b) => b,
            }),
            (UnitStruct(a), UnitStruct(b)) if a == b => UnitStruct(a),
            (NewtypeStruct(a, x), NewtypeStruct(b, y)) if a == b => NewtypeStruct(a, Box::new(x.merge(*y)?)),
            (TupleStruct(a, x), TupleStruct(b, y)) if a == b => TupleStruct(a, merge_all(x, y)?),
            (Struct(a, x), Struct(b, y)) if a == b => Struct(a, merge_fields(x, y)?),
            (Enum(a, x), Enum(b, y)) if a == b => {
                let mut out: Vec<Variant> = Vec::with_capacity(x.len() + y.len());
                for v in x.into_iter().chain(y) {
                    match out.binary_search_by_key(&v.index, |o| o.index) {
                        Ok(i) => {
                            let o = out.remove(i);
                            if o.name != v.name {
                                return Err(Incompatible);
                            }
                            out.insert(i, Variant { index: v.index, name: v.name, body: o.body.merge(v.body)? });
                        }
                        Err(i) => out.insert(i, v),
                    }
                }
                Enum(a, out)
            }
            _ => return Err(Incompatible),
        })
    }
}

// Descriptor codes (docs/FORMAT.md, "Shapes"). 1..=17 are `Prim`s.
const OPTION_NONE: u8 = 18;
const OPTION: u8 = 19;
const SEQ_EMPTY: u8 = 20;
const SEQ: u8 = 21;
const TUPLE: u8 = 22;
const MAP_EMPTY: u8 = 23;
const MAP: u8 = 24;
const UNIT_STRUCT: u8 = 25;
const NEWTYPE_STRUCT: u8 = 26;
const TUPLE_STRUCT: u8 = 27;
const STRUCT: u8 = 28;
const ENUM: u8 = 29;

const BODY_UNIT: u8 = 0;
const BODY_NEWTYPE: u8 = 1;
const BODY_TUPLE: u8 = 2;
const BODY_STRUCT: u8 = 3;

/// Deepest nesting a descriptor may have; deeper ones are refused as damaged (a reader
/// recurses once per level).
pub const MAX_DEPTH: usize = 128;

fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_fields(out: &mut Vec<u8>, f: &Fields) {
    put_len(out, f.len());
    for (name, s) in f {
        put_str(out, name);
        s.encode(out);
    }
}

impl Shape {
    /// Appends the descriptor (docs/FORMAT.md, "Shapes").
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Shape::Prim(p) => out.push(*p as u8),
            Shape::Option(None) => out.push(OPTION_NONE),
            Shape::Option(Some(s)) => {
                out.push(OPTION);
                s.encode(out);
            }
            Shape::Seq(None) => out.push(SEQ_EMPTY),
            Shape::Seq(Some(s)) => {
                out.push(SEQ);
                s.encode(out);
            }
            Shape::Tuple(v) => {
                out.push(TUPLE);
                put_len(out, v.len());
                v.iter().for_each(|s| s.encode(out));
            }
            Shape::Map(None) => out.push(MAP_EMPTY),
            Shape::Map(Some(kv)) => {
                out.push(MAP);
                kv.0.encode(out);
                kv.1.encode(out);
            }
            Shape::UnitStruct(n) => {
                out.push(UNIT_STRUCT);
                put_str(out, n);
            }
            Shape::NewtypeStruct(n, s) => {
                out.push(NEWTYPE_STRUCT);
                put_str(out, n);
                s.encode(out);
            }
            Shape::TupleStruct(n, v) => {
                out.push(TUPLE_STRUCT);
                put_str(out, n);
                put_len(out, v.len());
                v.iter().for_each(|s| s.encode(out));
            }
            Shape::Struct(n, f) => {
                out.push(STRUCT);
                put_str(out, n);
                put_fields(out, f);
            }
            Shape::Enum(n, vars) => {
                out.push(ENUM);
                put_str(out, n);
                put_len(out, vars.len());
                for v in vars {
                    out.extend_from_slice(&v.index.to_le_bytes());
                    put_str(out, &v.name);
                    match &v.body {
                        Body::Unit => out.push(BODY_UNIT),
                        Body::Newtype(s) => {
                            out.push(BODY_NEWTYPE);
                            s.encode(out);
                        }
                        Body::Tuple(t) => {
                            out.push(BODY_TUPLE);
                            put_len(out, t.len());
                            t.iter().for_each(|s| s.encode(out));
                        }
                        Body::Struct(f) => {
                            out.push(BODY_STRUCT);
                            put_fields(out, f);
                        }
                    }
                }
            }
        }
    }

    /// Reads a descriptor from the front of `b`; returns it and the bytes it took.
    pub fn decode(b: &[u8]) -> Result<(Shape, usize), &'static str> {
        let mut c = Cur { b, at: 0 };
        let s = c.shape(0)?;
        Ok((s, c.at))
    }
}

struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

const SHORT: &str = "shape descriptor ends early";

impl Cur<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let s = self.b.get(self.at..self.at.checked_add(n).ok_or(SHORT)?).ok_or(SHORT)?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    /// A count of items that each take at least one byte (so a damaged count cannot make
    /// the reader allocate more than the descriptor holds).
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.u32()? as usize;
        if n > self.b.len() - self.at {
            return Err("shape count larger than the descriptor");
        }
        Ok(n)
    }
    fn name(&mut self) -> Result<Arc<str>, &'static str> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        let n = u16::from_le_bytes(a) as usize;
        let s = core::str::from_utf8(self.take(n)?).map_err(|_| "shape name is not UTF-8")?;
        Ok(s.into())
    }
    fn list(&mut self, depth: usize) -> Result<Vec<Shape>, &'static str> {
        let n = self.count()?;
        (0..n).map(|_| self.shape(depth + 1)).collect()
    }
    fn fields(&mut self, depth: usize) -> Result<Fields, &'static str> {
        let n = self.count()?;
        (0..n).map(|_| Ok((self.name()?, self.shape(depth + 1)?))).collect()
    }
    fn shape(&mut self, depth: usize) -> Result<Shape, &'static str> {
        if depth > MAX_DEPTH {
            return Err("shape nested too deep");
        }
        let d = depth + 1;
        let code = self.u8()?;
        Ok(match code {
            1..=17 => Shape::Prim(PRIMS[code as usize - 1]),
            OPTION_NONE => Shape::Option(None),
            OPTION => Shape::Option(Some(Box::new(self.shape(d)?))),
            SEQ_EMPTY => Shape::Seq(None),
            SEQ => Shape::Seq(Some(Box::new(self.shape(d)?))),
            TUPLE => Shape::Tuple(self.list(d)?),
            MAP_EMPTY => Shape::Map(None),
            MAP => Shape::Map(Some(Box::new((self.shape(d)?, self.shape(d)?)))),
            UNIT_STRUCT => Shape::UnitStruct(self.name()?),
            NEWTYPE_STRUCT => Shape::NewtypeStruct(self.name()?, Box::new(self.shape(d)?)),
            TUPLE_STRUCT => Shape::TupleStruct(self.name()?, self.list(d)?),
            STRUCT => Shape::Struct(self.name()?, self.fields(d)?),
            ENUM => {
                let name = self.name()?;
                let n = self.count()?;
                let mut vars = Vec::with_capacity(n);
                for _ in 0..n {
                    let index = self.u32()?;
                    let vname = self.name()?;
                    let body = match self.u8()? {
                        BODY_UNIT => Body::Unit,
                        BODY_NEWTYPE => Body::Newtype(Box::new(self.shape(d)?)),
                        BODY_TUPLE => Body::Tuple(self.list(d)?),
                        BODY_STRUCT => Body::Struct(self.fields(d)?),
                        _ => return Err("unknown variant body code"),
                    };
                    vars.push(Variant { index, name: vname, body });
                }
                Shape::Enum(name, vars)
            }
            _ => return Err("unknown shape code"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt_u32() -> Shape {
        Shape::Option(Some(Box::new(Shape::Prim(Prim::U32))))
    }

    #[test]
    fn merging_fills_in_what_one_sample_lacked() {
        let none = Shape::Option(None);
        assert_eq!(none.clone().merge(opt_u32()), Ok(opt_u32()));
        assert_eq!(opt_u32().merge(none), Ok(opt_u32()));
        assert_eq!(Shape::Prim(Prim::U32).merge(Shape::Prim(Prim::Str)), Err(Incompatible));
        let e = |i: u32, n: &str| Shape::Enum("E".into(), vec![Variant { index: i, name: n.into(), body: Body::Unit }]);
        let both = e(2, "B").merge(e(0, "A")).unwrap();
        let Shape::Enum(_, v) = &both else { panic!() };
        assert_eq!(v.iter().map(|v| v.index).collect::<Vec<_>>(), [0, 2]);
    }

    #[test]
    fn descriptors_round_trip_and_refuse_damage() {
        let s = Shape::Struct(
            "S".into(),
            vec![
                ("a".into(), opt_u32()),
                ("b".into(), Shape::Seq(Some(Box::new(Shape::Tuple(vec![Shape::Prim(Prim::Str)]))))),
                ("c".into(), Shape::Map(Some(Box::new((Shape::Prim(Prim::Char), Shape::UnitStruct("U".into())))))),
            ],
        );
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(Shape::decode(&b), Ok((s, b.len())));
        for cut in 0..b.len() {
            assert!(Shape::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let deep = vec![SEQ; MAX_DEPTH + 10];
        assert!(Shape::decode(&deep).is_err());
    }
}
