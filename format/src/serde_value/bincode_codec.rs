//! The only module that names `bincode`: it encodes a serde value into record bytes on the
//! hot path, and reads the primitives of those bytes back for the structured decoder.
//!
//! The wire uses bincode 2's standard configuration with **fixed-width integers**
//! (little-endian; `u32` enum variant indices, `u64` sequence/map/string lengths, one tag
//! byte for `Option` and `bool`, chars as their UTF-8 bytes). Fixed widths cost no branches
//! to encode and keep a numeric struct's size constant. `docs/FORMAT.md` states the same.

use bincode::config::{Configuration, Fixint, LittleEndian, NoLimit};
use bincode::de::read::SliceReader;
use bincode::de::DecoderImpl;
use bincode::{BorrowDecode, Decode};

type Config = Configuration<LittleEndian, Fixint, NoLimit>;

const CONFIG: Config = bincode::config::standard().with_fixed_int_encoding();

/// Appends bincode writes to a `Vec` without going through `std::io::Write`.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecWriter<'_> {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        // Scalars arrive as 1-, 2-, 4- or 8-byte slices: copying them as arrays of known
        // size keeps them stores instead of `memcpy` calls.
        match bytes.len() {
            1 => self.0.push(bytes[0]),
            2 => self.0.extend_from_slice(&[bytes[0], bytes[1]]),
            4 => self.0.extend_from_slice(&<[u8; 4]>::try_from(bytes).unwrap_or_default()),
            8 => self.0.extend_from_slice(&<[u8; 8]>::try_from(bytes).unwrap_or_default()),
            _ => self.0.extend_from_slice(bytes),
        }
        Ok(())
    }
}

/// Appends the bincode encoding of `value` to `out`. On error (a `Serialize` impl that
/// fails, or a sequence of unknown length) returns the error's text; `out` may then hold a
/// partial encoding, which the caller truncates.
#[inline]
pub fn encode<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    bincode::serde::encode_into_writer(value, VecWriter(out), CONFIG).map_err(|e| e.to_string())
}

/// Why bytes could not be read as the shape says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl From<bincode::error::DecodeError> for DecodeError {
    fn from(e: bincode::error::DecodeError) -> Self {
        DecodeError(e.to_string())
    }
}

/// Reads bincode primitives from the front of a byte slice.
pub struct Reader<'a> {
    dec: DecoderImpl<SliceReader<'a>, Config, ()>,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { dec: DecoderImpl::new(SliceReader::new(bytes), CONFIG, ()) }
    }

    /// One fixed-size primitive (`bool`, integers, floats, `char`).
    pub fn get<T: Decode<()>>(&mut self) -> Result<T, DecodeError> {
        Ok(T::decode(&mut self.dec)?)
    }

    /// A length-prefixed string, borrowed.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        Ok(<&'a str as BorrowDecode<'a, ()>>::borrow_decode(&mut self.dec)?)
    }

    /// A length-prefixed byte string, borrowed.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        Ok(<&'a [u8] as BorrowDecode<'a, ()>>::borrow_decode(&mut self.dec)?)
    }

    /// A sequence or map length.
    pub fn len(&mut self) -> Result<usize, DecodeError> {
        let n: u64 = self.get()?;
        usize::try_from(n).map_err(|_| DecodeError("length does not fit in usize".into()))
    }

    /// An enum's variant index.
    pub fn variant(&mut self) -> Result<u32, DecodeError> {
        self.get()
    }

    /// An `Option` tag: whether a value follows.
    pub fn option_tag(&mut self) -> Result<bool, DecodeError> {
        match self.get::<u8>()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(DecodeError(format!("invalid Option tag {t}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_int_encoding_is_what_the_format_says() {
        let mut v = Vec::new();
        encode(&(7u32, Some(1u8), "ab", vec![2u16]), &mut v).unwrap();
        let mut want = 7u32.to_le_bytes().to_vec();
        want.extend_from_slice(&[1, 1]);
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(b"ab");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&2u16.to_le_bytes());
        assert_eq!(v, want);
        let mut r = Reader::new(&v);
        assert_eq!(r.get::<u32>(), Ok(7));
        assert_eq!(r.option_tag(), Ok(true));
        assert_eq!(r.get::<u8>(), Ok(1));
        assert_eq!(r.str(), Ok("ab"));
        assert_eq!(r.len(), Ok(1));
        assert_eq!(r.get::<u16>(), Ok(2));
        assert!(r.get::<u8>().is_err());
    }
}
