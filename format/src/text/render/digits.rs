//! `{}` of integers without the `fmt` machinery: decimal digits eight at a time, written
//! straight into a `String`'s spare capacity (the decoder's hot path, and the digits of the
//! float fast paths in [`super::float`]).

use std::mem::MaybeUninit;

/// Eight `b'0'`s, to turn digit values into ASCII eight at a time.
pub(super) const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `n < 10^8`, zero-padded, as byte values 0..=9 of a
/// little-endian u64: the most significant digit is the lowest byte, so the bytes are in
/// reading order in memory. Branch-free: two digits per 16-bit lane, in parallel (Paul
/// Khuong's method; each multiply-shift divides exactly below the lane's bound).
#[inline]
fn eight_digits(n: u32) -> u64 {
    debug_assert!(n < 100_000_000);
    // `abcd` in the low 32 bits and `efgh` in the high ones.
    let merged = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    // Per 32-bit lane, x / 100 for x < 10^4 is (x * 10486) >> 20.
    let top = ((merged * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    let bottom = merged - 100 * top;
    // 16-bit lanes `ab`, `cd`, `ef`, `gh`; per lane, x / 10 for x < 100 is (x * 103) >> 10.
    let hundreds = (bottom << 16) + top;
    let mut tens = ((hundreds * 103) >> 10) & ((0xf << 48) | (0xf << 32) | (0xf << 16) | 0xf);
    tens += (hundreds - 10 * tens) << 8;
    tens
}

/// The eight decimal digits of `n < 10^8`, zero-padded, in ASCII (the decoder's timestamps
/// use it for their nanoseconds).
#[inline]
pub fn eight_ascii_digits(n: u32) -> [u8; 8] {
    (eight_digits(n) + ASCII_ZEROS).to_le_bytes()
}

/// Stores the eight bytes of `bytes` (little-endian) at `w[at..at + 8]`.
#[inline]
pub(super) fn put8(w: &mut [MaybeUninit<u8>], at: usize, bytes: u64) {
    for (d, s) in w[at..at + 8].iter_mut().zip(bytes.to_le_bytes()) {
        d.write(s);
    }
}

/// Writes `n < 10^8` without leading zeros at `w[at..]` (storing eight bytes); returns
/// where the digits end.
#[inline]
fn put_trimmed(w: &mut [MaybeUninit<u8>], at: usize, n: u32) -> usize {
    let d = eight_digits(n);
    // Leading zero digits are the low zero bytes; `0` keeps its last digit.
    let skip = (d.trailing_zeros() / 8).min(7);
    put8(w, at, (d + ASCII_ZEROS) >> (8 * skip));
    at + 8 - skip as usize
}

/// Writes the last `k <= 8` digits of `n < 10^8`, zero-padded, at `w[at..]` (storing
/// eight bytes unless `k` is 0); returns where they end.
#[inline]
pub(super) fn put_last(w: &mut [MaybeUninit<u8>], at: usize, n: u32, k: usize) -> usize {
    if k > 0 {
        put8(w, at, (eight_digits(n) + ASCII_ZEROS) >> (8 * (8 - k)));
    }
    at + k
}

/// Writes `n` in decimal at `w[at..]` (storing up to 20 bytes past `at`); returns where
/// the digits end.
#[inline]
pub(super) fn put_u64(w: &mut [MaybeUninit<u8>], at: usize, n: u64) -> usize {
    const E8: u64 = 100_000_000;
    if n < E8 {
        put_trimmed(w, at, n as u32)
    } else if n < E8 * E8 {
        let at = put_trimmed(w, at, (n / E8) as u32);
        put_last(w, at, (n % E8) as u32, 8)
    } else {
        // At most four leading digits: u64::MAX < 1845 * 10^16.
        let at = put_trimmed(w, at, (n / (E8 * E8)) as u32);
        let at = put_last(w, at, (n / E8 % E8) as u32, 8);
        put_last(w, at, (n % E8) as u32, 8)
    }
}

/// Appends the ASCII that `write` puts at the start of an `N`-byte window of `out`'s
/// spare capacity; `write` returns how many bytes it wrote.
///
/// # Safety
///
/// `write` must initialize the first `len` bytes of the window with ASCII, where `len`
/// is what it returns.
#[inline]
pub(super) unsafe fn push_window<const N: usize>(
    out: &mut String,
    write: impl FnOnce(&mut [MaybeUninit<u8>; N]) -> usize,
) {
    // SAFETY: only ASCII is appended (the caller's promise), so `out` stays valid UTF-8.
    let v = unsafe { out.as_mut_vec() };
    v.reserve(N);
    let old = v.len();
    let Some(w) = v.spare_capacity_mut().first_chunk_mut::<N>() else {
        // `reserve(N)` made room for the window.
        return;
    };
    let len = write(w).min(N);
    // SAFETY: `write` initialized `len <= N` bytes past the length (the caller's promise),
    // within the capacity `reserve` made.
    unsafe { v.set_len(old + len) };
}

/// `{}` of an unsigned integer, without the `fmt` machinery: the digits are written
/// straight into `out`'s spare capacity, eight at a time.
#[inline]
pub fn push_u64(out: &mut String, n: u64) {
    // SAFETY: `put_u64` writes ASCII digits and returns their end.
    unsafe { push_window::<24>(out, |w| put_u64(w, 0, n)) };
}

/// `{}` of a signed integer, without the `fmt` machinery.
pub(super) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_match_std_at_every_length() {
        let mut out = String::new();
        let mut n = 1u64;
        loop {
            for m in [n - 1, n, n + 1] {
                out.clear();
                push_u64(&mut out, m);
                assert_eq!(out, m.to_string());
            }
            match n.checked_mul(10) {
                Some(next) => n = next,
                None => break,
            }
        }
        for m in [i64::MIN, i64::MIN + 1, -100, -1, 0, i64::MAX] {
            out.clear();
            push_i64(&mut out, m);
            assert_eq!(out, m.to_string());
        }
        out.clear();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string());
    }

    #[test]
    fn digits_match_std_for_random_widths() {
        let mut out = String::from("x");
        let mut r = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            // Every length from 1 to 20 digits.
            let n = r >> (i % 64);
            out.truncate(1);
            push_u64(&mut out, n);
            assert_eq!(out[1..], n.to_string());
        }
    }
}
