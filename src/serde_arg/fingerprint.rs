//! The hot path's shape check: a 64-bit fingerprint of a value's shape, computed by walking
//! its `Serialize` impl without allocating (for sequences with up to 8 distinct element
//! shapes).
//!
//! Names are hashed by address and length: serde hands out `&'static str`s, so equal
//! addresses mean equal names, and the fingerprint only has to be stable within one
//! process (the registry maps it to a shape id that travels). Equal fingerprints must mean
//! equal [`Shape`](super::shape::Shape)s, so a sequence hashes the *set* of its distinct
//! element fingerprints, as [`Shape::merge`](super::shape::Shape::merge) merges their shapes
//! whatever their order and count.

use serde::ser::{self, Serialize};

use super::shape::Prim;

/// A failing `Serialize` impl.
#[derive(Debug)]
pub(crate) struct FpError(pub String);

impl std::fmt::Display for FpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FpError {}

impl ser::Error for FpError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        FpError(msg.to_string())
    }
}

/// The fingerprint of `v`'s shape. Never 0 (the registry's cache uses 0 for "empty").
#[inline]
pub(crate) fn fingerprint<T: Serialize + ?Sized>(v: &T) -> Result<u64, FpError> {
    v.serialize(Fp).map(|h| h | 1)
}

const K: u64 = 0x517c_c1b7_2722_0a95;

#[inline(always)]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(K)
}

/// A name as one word: its address (below 2^48 on every 64-bit target we run on) and its
/// length above it.
#[inline(always)]
fn word(s: &'static str) -> u64 {
    s.as_ptr() as u64 ^ ((s.len() as u64) << 48)
}

#[inline(always)]
fn name(h: u64, s: &'static str) -> u64 {
    mix(h, word(s))
}

/// Adds a named field to a running hash. The multiply depends only on the field, so the
/// fields of a struct hash in parallel; the running hash takes one rotate and one xor per
/// field, and the rotation keeps field order significant.
#[inline(always)]
fn field(h: u64, key: &'static str, fp: u64) -> u64 {
    h.rotate_left(7) ^ (word(key) ^ fp.rotate_left(17)).wrapping_mul(K)
}

// Tags: primitives use their `Prim` code (`Prim::Bytes` = 17 is the highest); compounds these.
const T_NONE: u64 = 18;
const T_SOME: u64 = 19;
const T_SEQ: u64 = 21;
const T_TUPLE: u64 = 22;
const T_MAP: u64 = 24;
const T_UNIT_STRUCT: u64 = 25;
const T_NEWTYPE_STRUCT: u64 = 26;
const T_TUPLE_STRUCT: u64 = 27;
const T_STRUCT: u64 = 28;
const T_VARIANT: u64 = 29;
const T_END: u64 = 30;

struct Fp;

/// The distinct fingerprints of a sequence's elements (or a map's keys or values).
#[derive(Default)]
struct Distinct {
    n: usize,
    small: [u64; 8],
    more: Vec<u64>,
}

impl Distinct {
    #[inline]
    fn add(&mut self, fp: u64) {
        if self.small[..self.n].contains(&fp) || self.more.contains(&fp) {
            return;
        }
        if self.n < self.small.len() {
            self.small[self.n] = fp;
            self.n += 1;
        } else {
            self.more.push(fp);
        }
    }
    #[inline]
    fn finish(mut self, h: u64) -> u64 {
        let mut h = mix(h, (self.n + self.more.len()) as u64);
        if self.n == 1 && self.more.is_empty() {
            return mix(h, self.small[0]);
        }
        self.small[..self.n].sort_unstable();
        self.more.sort_unstable();
        for &x in self.small[..self.n].iter().chain(&self.more) {
            h = mix(h, x);
        }
        h
    }
}

pub(crate) struct SeqF(Distinct);
pub(crate) struct MapF {
    k: Distinct,
    v: Distinct,
}
pub(crate) struct ListF(u64);

macro_rules! prims {
    ($($f:ident $t:ty => $p:ident),*) => {$(
        #[inline(always)]
        fn $f(self, _v: $t) -> Result<u64, FpError> { Ok(Prim::$p as u64) }
    )*};
}

impl ser::Serializer for Fp {
    type Ok = u64;
    type Error = FpError;
    type SerializeSeq = SeqF;
    type SerializeTuple = ListF;
    type SerializeTupleStruct = ListF;
    type SerializeTupleVariant = ListF;
    type SerializeMap = MapF;
    type SerializeStruct = ListF;
    type SerializeStructVariant = ListF;

    // Each scalar hashes to its `Prim` code, from the list the shape builder uses too.
    tapelog_format::__for_each_serde_prim!(prims);

    #[inline]
    fn serialize_none(self) -> Result<u64, FpError> {
        Ok(T_NONE)
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<u64, FpError> {
        Ok(mix(T_SOME, v.serialize(Fp)?))
    }
    #[inline]
    fn serialize_unit(self) -> Result<u64, FpError> {
        Ok(Prim::Unit as u64)
    }
    #[inline]
    fn serialize_unit_struct(self, n: &'static str) -> Result<u64, FpError> {
        Ok(name(T_UNIT_STRUCT, n))
    }
    #[inline]
    fn serialize_unit_variant(self, n: &'static str, i: u32, v: &'static str) -> Result<u64, FpError> {
        Ok(mix(name(name(mix(T_VARIANT, i.into()), n), v), 0))
    }
    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, n: &'static str, v: &T) -> Result<u64, FpError> {
        Ok(mix(name(T_NEWTYPE_STRUCT, n), v.serialize(Fp)?))
    }
    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        n: &'static str,
        i: u32,
        vn: &'static str,
        v: &T,
    ) -> Result<u64, FpError> {
        Ok(mix(name(name(mix(T_VARIANT, i.into()), n), vn), mix(1, v.serialize(Fp)?)))
    }
    #[inline]
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqF, FpError> {
        Ok(SeqF(Distinct::default()))
    }
    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<ListF, FpError> {
        Ok(ListF(T_TUPLE))
    }
    #[inline]
    fn serialize_tuple_struct(self, n: &'static str, _len: usize) -> Result<ListF, FpError> {
        Ok(ListF(name(T_TUPLE_STRUCT, n)))
    }
    #[inline]
    fn serialize_tuple_variant(self, n: &'static str, i: u32, vn: &'static str, _len: usize) -> Result<ListF, FpError> {
        Ok(ListF(mix(name(name(mix(T_VARIANT, i.into()), n), vn), 2)))
    }
    #[inline]
    fn serialize_map(self, _len: Option<usize>) -> Result<MapF, FpError> {
        Ok(MapF { k: Distinct::default(), v: Distinct::default() })
    }
    #[inline]
    fn serialize_struct(self, n: &'static str, _len: usize) -> Result<ListF, FpError> {
        Ok(ListF(name(T_STRUCT, n)))
    }
    #[inline]
    fn serialize_struct_variant(
        self,
        n: &'static str,
        i: u32,
        vn: &'static str,
        _len: usize,
    ) -> Result<ListF, FpError> {
        Ok(ListF(mix(name(name(mix(T_VARIANT, i.into()), n), vn), 3)))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for SeqF {
    type Ok = u64;
    type Error = FpError;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FpError> {
        self.0.add(v.serialize(Fp)?);
        Ok(())
    }
    #[inline]
    fn end(self) -> Result<u64, FpError> {
        Ok(self.0.finish(T_SEQ))
    }
}

impl ser::SerializeMap for MapF {
    type Ok = u64;
    type Error = FpError;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), FpError> {
        self.k.add(k.serialize(Fp)?);
        Ok(())
    }
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FpError> {
        self.v.add(v.serialize(Fp)?);
        Ok(())
    }
    #[inline]
    fn end(self) -> Result<u64, FpError> {
        let h = self.k.finish(T_MAP);
        Ok(self.v.finish(h))
    }
}

macro_rules! list_impl {
    ($($tr:ident $m:ident),*) => {$(
        impl ser::$tr for ListF {
            type Ok = u64;
            type Error = FpError;
            #[inline]
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FpError> {
                self.0 = self.0.rotate_left(7) ^ v.serialize(Fp)?.wrapping_mul(K);
                Ok(())
            }
            #[inline]
            fn end(self) -> Result<u64, FpError> {
                Ok(mix(self.0, T_END))
            }
        }
    )*};
}
list_impl!(SerializeTuple serialize_element, SerializeTupleStruct serialize_field, SerializeTupleVariant serialize_field);

macro_rules! fields_impl {
    ($($tr:ident),*) => {$(
        impl ser::$tr for ListF {
            type Ok = u64;
            type Error = FpError;
            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), FpError> {
                self.0 = field(self.0, key, v.serialize(Fp)?);
                Ok(())
            }
            #[inline]
            fn end(self) -> Result<u64, FpError> {
                Ok(mix(self.0, T_END))
            }
        }
    )*};
}
fields_impl!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::fingerprint as fp;

    #[derive(serde::Serialize)]
    enum E {
        A,
        B(u8),
    }

    #[test]
    fn equal_shapes_share_a_fingerprint_and_different_ones_do_not() {
        assert_eq!(fp(&(1u8, "a")).unwrap(), fp(&(2u8, "bcd")).unwrap());
        assert_ne!(fp(&(1u8, "a")).unwrap(), fp(&(1u16, "a")).unwrap());
        // Element shapes form a set: order and repetition do not matter, as in the merge.
        let a = fp(&[Some(1u32), None, Some(2)][..]).unwrap();
        assert_eq!(a, fp(&[None, Some(3u32)][..]).unwrap());
        assert_ne!(a, fp(&[None::<u32>][..]).unwrap());
        assert_ne!(fp(&Vec::<u32>::new()).unwrap(), fp(&vec![1u32]).unwrap());
        assert_ne!(fp(&E::A).unwrap(), fp(&E::B(1)).unwrap());
        assert_eq!(fp(&vec![E::A, E::B(1)]).unwrap(), fp(&vec![E::B(2), E::A, E::A]).unwrap());
        // More distinct element shapes than the inline set holds.
        let many: Vec<Vec<Option<u8>>> = (0..12).map(|n| vec![None; n]).collect();
        let mut rev = many.clone();
        rev.reverse();
        assert_eq!(fp(&many).unwrap(), fp(&rev).unwrap());
    }
}
