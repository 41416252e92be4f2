//! Typed argument values as the decoder (and the consumer's text sinks) see them.

/// One decoded argument of a log record.
///
/// Integers keep their width and signedness, because `{:x}` of `-1i8` is `ff` while
/// `{:x}` of `-1i64` is `ffffffffffffffff`: the renderer must know the original type to
/// reproduce what `format!` printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `u8`
    U8(u8),
    /// `u16`
    U16(u16),
    /// `u32`
    U32(u32),
    /// `u64`
    U64(u64),
    /// `u128`
    U128(u128),
    /// `usize` (carried as 64 bits on the wire)
    Usize(u64),
    /// `i8`
    I8(i8),
    /// `i16`
    I16(i16),
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `i128`
    I128(i128),
    /// `isize` (carried as 64 bits on the wire)
    Isize(i64),
    /// `f32`
    F32(f32),
    /// `f64`
    F64(f64),
    /// `bool`
    Bool(bool),
    /// `char`
    Char(char),
    /// `&str` / `String`
    Str(&'a str),
    /// `&[u8]` (renders like `format!("{:?}", bytes)`)
    Bytes(&'a [u8]),
    /// `Option<T>::None` of a supported `T`
    None,
    /// `Option<T>::Some(v)`; the payload is never itself `Some`/`None`
    Some(Box<Value<'a>>),
    /// A serde value ([`crate::serde()`]); `{}`, `{:?}` and `{:#?}` render it as its
    /// `Debug` would
    Structured(Box<crate::serde_value::Structured>),
}

/// Reuses a vector's allocation for values of another lifetime.
pub fn recycle<'b>(mut v: Vec<Value<'_>>) -> Vec<Value<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}
