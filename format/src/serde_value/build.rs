//! Builds a value's [`Shape`] by walking its `Serialize` impl. Runs once per distinct
//! fingerprint (a slow path), so it may allocate.

use std::sync::Arc;

use serde::ser::{self, Serialize};

use super::shape::{Body, Fields, Prim, Shape, Variant};

/// Why no shape could be built.
#[derive(Debug)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

impl ser::Error for BuildError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        BuildError(msg.to_string())
    }
}

fn incompatible() -> BuildError {
    BuildError("elements of one sequence or map have shapes that no single reading covers".into())
}

/// The shape of `v`.
pub fn shape_of<T: Serialize + ?Sized>(v: &T) -> Result<Shape, BuildError> {
    v.serialize(Build)
}

fn merge(acc: &mut Option<Shape>, s: Shape) -> Result<(), BuildError> {
    *acc = Some(match acc.take() {
        None => s,
        Some(a) => a.merge(s).map_err(|_| incompatible())?,
    });
    Ok(())
}

struct Build;

/// Collects a sequence's merged element shape.
pub struct SeqB(Option<Shape>);
/// Collects unnamed fields.
pub struct ListB {
    items: Vec<Shape>,
    kind: ListKind,
}
enum ListKind {
    Tuple,
    TupleStruct(&'static str),
    Variant(&'static str, u32, &'static str),
}
/// Collects named fields.
pub struct FieldsB {
    fields: Fields,
    variant: Option<(u32, &'static str)>,
    name: &'static str,
}
/// Collects a map's merged key and value shapes.
pub struct MapB {
    k: Option<Shape>,
    v: Option<Shape>,
}

fn variant(name: &'static str, index: u32, vname: &'static str, body: Body) -> Shape {
    Shape::Enum(name.into(), vec![Variant { index, name: vname.into(), body }])
}

macro_rules! prims {
    ($($f:ident $t:ty => $p:ident),*) => {$(
        fn $f(self, _v: $t) -> Result<Shape, BuildError> { Ok(Shape::Prim(Prim::$p)) }
    )*};
}

impl ser::Serializer for Build {
    type Ok = Shape;
    type Error = BuildError;
    type SerializeSeq = SeqB;
    type SerializeTuple = ListB;
    type SerializeTupleStruct = ListB;
    type SerializeTupleVariant = ListB;
    type SerializeMap = MapB;
    type SerializeStruct = FieldsB;
    type SerializeStructVariant = FieldsB;

    crate::__for_each_serde_prim!(prims);

    fn serialize_none(self) -> Result<Shape, BuildError> {
        Ok(Shape::Option(None))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Shape, BuildError> {
        Ok(Shape::Option(Some(Box::new(v.serialize(Build)?))))
    }
    fn serialize_unit(self) -> Result<Shape, BuildError> {
        Ok(Shape::Prim(Prim::Unit))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Shape, BuildError> {
        Ok(Shape::UnitStruct(name.into()))
    }
    fn serialize_unit_variant(self, name: &'static str, index: u32, v: &'static str) -> Result<Shape, BuildError> {
        Ok(variant(name, index, v, Body::Unit))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, v: &T) -> Result<Shape, BuildError> {
        Ok(Shape::NewtypeStruct(name.into(), Box::new(v.serialize(Build)?)))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        vname: &'static str,
        v: &T,
    ) -> Result<Shape, BuildError> {
        Ok(variant(name, index, vname, Body::Newtype(Box::new(v.serialize(Build)?))))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqB, BuildError> {
        Ok(SeqB(None))
    }
    fn serialize_tuple(self, len: usize) -> Result<ListB, BuildError> {
        Ok(ListB { items: Vec::with_capacity(len), kind: ListKind::Tuple })
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<ListB, BuildError> {
        Ok(ListB { items: Vec::with_capacity(len), kind: ListKind::TupleStruct(name) })
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        vname: &'static str,
        len: usize,
    ) -> Result<ListB, BuildError> {
        Ok(ListB { items: Vec::with_capacity(len), kind: ListKind::Variant(name, index, vname) })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapB, BuildError> {
        Ok(MapB { k: None, v: None })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<FieldsB, BuildError> {
        Ok(FieldsB { fields: Vec::with_capacity(len), variant: None, name })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        vname: &'static str,
        len: usize,
    ) -> Result<FieldsB, BuildError> {
        Ok(FieldsB { fields: Vec::with_capacity(len), variant: Some((index, vname)), name })
    }
    fn is_human_readable(&self) -> bool {
        // bincode is not: types such as IP addresses pick their compact form, as they do
        // for the encoding this shape describes.
        false
    }
}

impl ser::SerializeSeq for SeqB {
    type Ok = Shape;
    type Error = BuildError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BuildError> {
        merge(&mut self.0, v.serialize(Build)?)
    }
    fn end(self) -> Result<Shape, BuildError> {
        Ok(Shape::Seq(self.0.map(Box::new)))
    }
}

impl ListB {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BuildError> {
        self.items.push(v.serialize(Build)?);
        Ok(())
    }
    fn finish(self) -> Shape {
        match self.kind {
            ListKind::Tuple => Shape::Tuple(self.items),
            ListKind::TupleStruct(n) => Shape::TupleStruct(n.into(), self.items),
            ListKind::Variant(n, i, v) => variant(n, i, v, Body::Tuple(self.items)),
        }
    }
}

macro_rules! list_impl {
    ($($tr:ident $m:ident),*) => {$(
        impl ser::$tr for ListB {
            type Ok = Shape;
            type Error = BuildError;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BuildError> {
                self.push(v)
            }
            fn end(self) -> Result<Shape, BuildError> {
                Ok(self.finish())
            }
        }
    )*};
}
list_impl!(SerializeTuple serialize_element, SerializeTupleStruct serialize_field, SerializeTupleVariant serialize_field);

impl ser::SerializeMap for MapB {
    type Ok = Shape;
    type Error = BuildError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), BuildError> {
        merge(&mut self.k, k.serialize(Build)?)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BuildError> {
        merge(&mut self.v, v.serialize(Build)?)
    }
    fn end(self) -> Result<Shape, BuildError> {
        Ok(Shape::Map(match (self.k, self.v) {
            (Some(k), Some(v)) => Some(Box::new((k, v))),
            _ => None,
        }))
    }
}

impl FieldsB {
    fn push<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), BuildError> {
        self.fields.push((Arc::from(key), v.serialize(Build)?));
        Ok(())
    }
    fn finish(self) -> Shape {
        match self.variant {
            None => Shape::Struct(self.name.into(), self.fields),
            Some((i, v)) => variant(self.name, i, v, Body::Struct(self.fields)),
        }
    }
}

macro_rules! fields_impl {
    ($($tr:ident),*) => {$(
        impl ser::$tr for FieldsB {
            type Ok = Shape;
            type Error = BuildError;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), BuildError> {
                self.push(key, v)
            }
            fn end(self) -> Result<Shape, BuildError> {
                Ok(self.finish())
            }
        }
    )*};
}
fields_impl!(SerializeStruct, SerializeStructVariant);
