//! Deferred arguments: how each loggable type is copied into a record.
//!
//! Encoding is a handful of unaligned little-endian stores into ring memory; sizes of
//! fixed-size argument lists are constants the compiler folds away.

use crate::wire::ArgKind;

/// A value that can be logged as a deferred argument: copied as raw bytes now, formatted
/// later by the decoder.
///
/// Implemented for every integer type, `f32`, `f64`, `bool`, `char`, `str`, `String`,
/// `[u8]`, `[u8; N]`, `Vec<u8>`, references to these, and `Option` of these.
///
/// ```
/// tapelog::info!("qty {} px {:.2} venue {} ok {}", 100u32, 101.25f64, "XNAS", true);
/// ```
///
/// A type that only implements `Display` is refused at compile time:
///
/// ```compile_fail
/// struct Px(f64);
/// impl std::fmt::Display for Px {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}", self.0) }
/// }
/// tapelog::info!("px {}", Px(1.0));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be logged as a deferred tapelog argument",
    label = "not a deferred argument type",
    note = "tapelog defers integers, floats, bool, char, &str/String, &[u8] and Option of these; \
            log the fields you need, or format the value yourself and log the string"
)]
pub trait Arg {
    /// The kind written in the call site's dictionary entry.
    const KIND: ArgKind;
    /// Encoded size when it never depends on the value.
    const STATIC_LEN: Option<usize>;
    /// Encoded size of this value.
    fn encoded_len(&self) -> usize;
    /// Writes the encoding at `dst` and returns the end.
    ///
    /// # Safety
    /// `dst` must be valid for writes of [`Arg::encoded_len`] bytes.
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8;
    /// Whether this argument is encoded by [`Arg::stage`] before ring space is reserved
    /// (because encoding runs code that is not tapelog's, such as a `Serialize` impl, which
    /// may itself log). Staged arguments are then copied from the staging buffer; their
    /// `encoded_len` and `encode` are not used. `false` for every plain argument, which
    /// makes staging compile to nothing.
    const STAGED: bool = false;
    /// Appends the whole encoding to `out`, which must then start with
    /// `u32 (any) + u32 length of the rest` (the layout of
    /// [`ArgKind::SERDE`]). Only called when [`Arg::STAGED`].
    #[inline(always)]
    fn stage(&self, _out: &mut Vec<u8>) {}
}

/// An [`Arg`] that is not an `Option` (so `Option<T>` cannot nest).
pub trait BaseArg: Arg {}

macro_rules! int_arg {
    ($($t:ty => $kind:ident as $wire:ty),* $(,)?) => {$(
        impl Arg for $t {
            const KIND: ArgKind = ArgKind::$kind;
            const STATIC_LEN: Option<usize> = Some(core::mem::size_of::<$wire>());
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                core::mem::size_of::<$wire>()
            }
            #[inline(always)]
            unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
                const N: usize = core::mem::size_of::<$wire>();
                // SAFETY: the caller guarantees `dst` is valid for `encoded_len()` = N bytes.
                unsafe {
                    dst.cast::<[u8; N]>().write_unaligned((*self as $wire).to_le_bytes());
                    dst.add(N)
                }
            }
        }
        impl BaseArg for $t {}
    )*};
}

int_arg! {
    u8 => U8 as u8, u16 => U16 as u16, u32 => U32 as u32, u64 => U64 as u64, u128 => U128 as u128,
    usize => USIZE as u64,
    i8 => I8 as i8, i16 => I16 as i16, i32 => I32 as i32, i64 => I64 as i64, i128 => I128 as i128,
    isize => ISIZE as i64,
}

macro_rules! bits_arg {
    ($($t:ty => $kind:ident via $conv:expr, $n:expr);* $(;)?) => {$(
        impl Arg for $t {
            const KIND: ArgKind = ArgKind::$kind;
            const STATIC_LEN: Option<usize> = Some($n);
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                $n
            }
            #[inline(always)]
            unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
                let conv: fn($t) -> [u8; $n] = $conv;
                // SAFETY: the caller guarantees `dst` is valid for `encoded_len()` bytes.
                unsafe {
                    dst.cast::<[u8; $n]>().write_unaligned(conv(*self));
                    dst.add($n)
                }
            }
        }
        impl BaseArg for $t {}
    )*};
}

bits_arg! {
    f32 => F32 via |v| v.to_bits().to_le_bytes(), 4;
    f64 => F64 via |v| v.to_bits().to_le_bytes(), 8;
    bool => BOOL via |v| [v as u8], 1;
    char => CHAR via |v| (v as u32).to_le_bytes(), 4;
}

/// Length-prefixed byte strings: `u32` length, then the bytes.
#[inline(always)]
unsafe fn encode_bytes(b: &[u8], dst: *mut u8) -> *mut u8 {
    // SAFETY: the caller guarantees `dst` is valid for 4 + b.len() bytes; `b` is a live
    // slice that cannot overlap ring memory the producer has reserved but not committed.
    unsafe {
        dst.cast::<[u8; 4]>().write_unaligned((b.len() as u32).to_le_bytes());
        core::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(4), b.len());
        dst.add(4 + b.len())
    }
}

macro_rules! bytes_arg {
    ($($t:ty => $kind:ident, |$s:ident| $as_bytes:expr;)*) => {$(
        impl Arg for $t {
            const KIND: ArgKind = ArgKind::$kind;
            const STATIC_LEN: Option<usize> = None;
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                let $s = self;
                4 + $as_bytes.len()
            }
            #[inline(always)]
            unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
                let $s = self;
                // SAFETY: forwarded from the caller; encoded_len() counted these bytes.
                unsafe { encode_bytes($as_bytes, dst) }
            }
        }
        impl BaseArg for $t {}
    )*};
}

bytes_arg! {
    str => STR, |s| s.as_bytes();
    String => STR, |s| s.as_bytes();
    [u8] => BYTES, |s| s;
    Vec<u8> => BYTES, |s| s.as_slice();
}

impl<const N: usize> Arg for [u8; N] {
    const KIND: ArgKind = ArgKind::BYTES;
    const STATIC_LEN: Option<usize> = Some(4 + N);
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        4 + N
    }
    #[inline(always)]
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { encode_bytes(self, dst) }
    }
}
impl<const N: usize> BaseArg for [u8; N] {}

impl<T: Arg + ?Sized> Arg for &T {
    const KIND: ArgKind = T::KIND;
    const STATIC_LEN: Option<usize> = T::STATIC_LEN;
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    #[inline(always)]
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { (**self).encode(dst) }
    }
    const STAGED: bool = T::STAGED;
    #[inline(always)]
    fn stage(&self, out: &mut Vec<u8>) {
        (**self).stage(out)
    }
}
impl<T: BaseArg + ?Sized> BaseArg for &T {}

impl<T: BaseArg> Arg for Option<T> {
    const KIND: ArgKind = T::KIND.option();
    const STATIC_LEN: Option<usize> = None;
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        match self {
            None => 1,
            Some(v) => 1 + v.encoded_len(),
        }
    }
    #[inline(always)]
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
        // SAFETY: forwarded from the caller; encoded_len() counted the tag byte.
        unsafe {
            match self {
                None => {
                    dst.write(0);
                    dst.add(1)
                }
                Some(v) => {
                    dst.write(1);
                    v.encode(dst.add(1))
                }
            }
        }
    }
}

/// A call's whole argument list: a tuple of references to [`Arg`]s.
pub trait ArgList {
    /// Encoded size of the whole list when it never depends on the values.
    const STATIC_LEN: Option<usize>;
    /// Whether any argument is [staged](Arg::STAGED).
    const STAGED: bool;
    /// Encoded size of these values, not counting staged arguments.
    fn encoded_len(&self) -> usize;
    /// Writes every argument in order (a list without staged arguments).
    ///
    /// # Safety
    /// `dst` must be valid for writes of [`ArgList::encoded_len`] bytes, and the list must
    /// have no staged arguments.
    #[inline(always)]
    unsafe fn encode(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller; no staged arguments, so none are copied.
        unsafe { self.encode_staged(dst, &[]) }
    }
    /// Writes every argument in order, copying staged ones from `staged`.
    ///
    /// # Safety
    /// `staged` must be what [`ArgList::stage`] appended for these values, and `dst` must be
    /// valid for writes of [`ArgList::encoded_len`]` + staged.len()` bytes.
    unsafe fn encode_staged(&self, dst: *mut u8, staged: &[u8]);
    /// Appends the encodings of the staged arguments, in order.
    fn stage(&self, out: &mut Vec<u8>);
    /// The kind codes, in order: a constant, so registering a call site copies nothing.
    const KINDS: &'static [u8];
}

/// `copy_nonoverlapping` that copies 16..=64 bytes as two overlapping fixed-size blocks
/// instead of calling `memcpy` (a small struct's staged encoding is about 30 bytes).
///
/// # Safety
/// As for `copy_nonoverlapping(src, dst, n)`.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, n: usize) {
    macro_rules! two_blocks {
        ($w:expr) => {{
            // SAFETY: `$w <= n`, so both blocks lie within the `n` bytes at `src` and `dst`.
            unsafe {
                let a = src.cast::<[u8; $w]>().read_unaligned();
                let b = src.add(n - $w).cast::<[u8; $w]>().read_unaligned();
                dst.cast::<[u8; $w]>().write_unaligned(a);
                dst.add(n - $w).cast::<[u8; $w]>().write_unaligned(b);
            }
        }};
    }
    match n {
        16..=32 => two_blocks!(16),
        33..=64 => two_blocks!(32),
        // SAFETY: forwarded from the caller.
        _ => unsafe { core::ptr::copy_nonoverlapping(src, dst, n) },
    }
}

/// Copies the staged encoding at the front of `staged` (`u32, len: u32, len bytes`) to `dst`
/// and moves `staged` past it.
///
/// # Safety
/// `dst` must be valid for writes of that encoding's length, and `staged` must start with a
/// complete one.
#[inline(always)]
unsafe fn copy_staged(staged: &mut &[u8], dst: *mut u8) -> *mut u8 {
    let len = u32::from_le_bytes([staged[4], staged[5], staged[6], staged[7]]) as usize;
    let (this, rest) = staged.split_at(8 + len);
    // SAFETY: the caller reserved these bytes; `this` is the staging buffer, not ring memory.
    unsafe { copy_small(this.as_ptr(), dst, this.len()) };
    *staged = rest;
    // SAFETY: within the reservation, just past the copied bytes.
    unsafe { dst.add(this.len()) }
}

impl ArgList for () {
    const STATIC_LEN: Option<usize> = Some(0);
    const STAGED: bool = false;
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        0
    }
    #[inline(always)]
    unsafe fn encode_staged(&self, _dst: *mut u8, _staged: &[u8]) {}
    #[inline(always)]
    fn stage(&self, _out: &mut Vec<u8>) {}
    const KINDS: &'static [u8] = &[];
}

const fn add_static(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    }
}

macro_rules! tuple_args {
    ($( ($($name:ident $idx:tt),+) )*) => {$(
        impl<$($name: Arg),+> ArgList for ($($name,)+) {
            const STATIC_LEN: Option<usize> = {
                let n = Some(0);
                $(let n = add_static(n, $name::STATIC_LEN);)+
                n
            };
            const STAGED: bool = false $(|| $name::STAGED)+;
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                match Self::STATIC_LEN {
                    Some(n) => n,
                    None => 0 $(+ self.$idx.encoded_len())+,
                }
            }
            #[inline(always)]
            unsafe fn encode_staged(&self, dst: *mut u8, staged: &[u8]) {
                let p = dst;
                let mut staged = staged;
                // SAFETY: each plain argument writes exactly its encoded_len() bytes, each
                // staged one its staged bytes, and the caller reserved their sum. The
                // `STAGED` tests are constants.
                $(let p = unsafe {
                    if $name::STAGED { copy_staged(&mut staged, p) } else { self.$idx.encode(p) }
                };)+
                let _ = (p, staged);
            }
            #[inline(always)]
            fn stage(&self, out: &mut Vec<u8>) {
                $(if $name::STAGED { self.$idx.stage(out); })+
            }
            const KINDS: &'static [u8] = &[$($name::KIND.0),+];
        }
    )*};
}

tuple_args! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15)
}

/// One argument whose type is known only at run time (the `log` bridge's key-value fields).
#[derive(Debug, Clone, Copy)]
pub(crate) enum DynArg<'a> {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
}

impl DynArg<'_> {
    /// The kind code its call site registers.
    pub(crate) fn kind(&self) -> ArgKind {
        match self {
            DynArg::U64(_) => u64::KIND,
            DynArg::I64(_) => i64::KIND,
            DynArg::F64(_) => f64::KIND,
            DynArg::Bool(_) => bool::KIND,
            DynArg::Str(_) => str::KIND,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            DynArg::U64(v) => v.encoded_len(),
            DynArg::I64(v) => v.encoded_len(),
            DynArg::F64(v) => v.encoded_len(),
            DynArg::Bool(v) => v.encoded_len(),
            DynArg::Str(v) => v.encoded_len(),
        }
    }

    /// # Safety
    /// As [`Arg::encode`].
    unsafe fn encode(&self, dst: *mut u8) -> *mut u8 {
        // SAFETY: forwarded from the caller; each arm is that type's own encoding.
        unsafe {
            match self {
                DynArg::U64(v) => v.encode(dst),
                DynArg::I64(v) => v.encode(dst),
                DynArg::F64(v) => v.encode(dst),
                DynArg::Bool(v) => v.encode(dst),
                DynArg::Str(v) => v.encode(dst),
            }
        }
    }
}

/// An argument list made at run time. Its kinds are not a constant, so its call site must be
/// registered with them ([`DynArg::kind`]) before the first call: [`ArgList::KINDS`] is
/// empty and never used for it.
pub(crate) struct DynArgs<'a>(pub &'a [DynArg<'a>]);

impl ArgList for DynArgs<'_> {
    const STATIC_LEN: Option<usize> = None;
    const STAGED: bool = false;
    fn encoded_len(&self) -> usize {
        self.0.iter().map(DynArg::encoded_len).sum()
    }
    unsafe fn encode_staged(&self, dst: *mut u8, _staged: &[u8]) {
        let mut p = dst;
        for a in self.0 {
            // SAFETY: the caller reserved `encoded_len()` bytes, the sum of these.
            p = unsafe { a.encode(p) };
        }
    }
    fn stage(&self, _out: &mut Vec<u8>) {}
    const KINDS: &'static [u8] = &[];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<L: ArgList>(l: L) -> Vec<u8> {
        let mut v = vec![0u8; l.encoded_len()];
        // SAFETY: `v` has exactly encoded_len() bytes.
        unsafe { l.encode(v.as_mut_ptr()) };
        v
    }

    #[test]
    fn three_number_record_args_take_twenty_bytes() {
        assert_eq!(<(&u32, &u64, &f64) as ArgList>::STATIC_LEN, Some(20));
        let b = enc((&7u32, &8u64, &1.5f64));
        assert_eq!(&b[..4], &7u32.to_le_bytes());
        assert_eq!(&b[4..12], &8u64.to_le_bytes());
        assert_eq!(&b[12..], &1.5f64.to_bits().to_le_bytes());
    }

    #[test]
    fn strings_and_options_are_length_prefixed_and_tagged() {
        let s = String::from("hey");
        let b = enc((&s.as_str(), &Some(3u8), &None::<&str>));
        assert_eq!(b, [3, 0, 0, 0, b'h', b'e', b'y', 1, 3, 0]);
        let k = <(&&str, &Option<u8>, &Option<&str>) as ArgList>::KINDS;
        assert_eq!(k, [ArgKind::STR.0, ArgKind::U8.option().0, ArgKind::STR.option().0]);
    }
}
