//! Fast paths for floats: `{}` of floats whose shortest decimal is short ([`push_short`]),
//! and `{:.p}` ([`push_fixed`]). Each either writes exactly what std writes or writes nothing
//! and leaves the value to std; the tests compare both with std.

use super::digits::{push_u64, push_window, put8, put_last, put_u64, ASCII_ZEROS};

// Fast `{}` of "short" floats.
//
// std's float Display prints the shortest decimal that parses back to the float,
// positionally. When that decimal is `m / 10^k` with few digits it can be found much
// faster than by std's general algorithm. Let `B` bound `m <= |x| * 10^k < B`, with
// `B * 2^-p < 1/2` for `p` the float's fraction bits (f64: B = 10^15, p = 52, 0.22;
// f32: B = 4 * 10^6, p = 23, 0.48). Then:
// 1. The interval of reals that round to `x` is at most `ulp(x) <= |x| * 2^-p` wide,
//    below 1/2 in units of `10^-k`: at most one `m` parses back to `x`.
// 2. That `m` lies within 1/4 of `|x| * 10^k`, and computing the product (in f64)
//    errs by less than 1/4 (at most 0.11 below B), so rounding it finds `m`.
// 3. `m / 10^k == |x|` divides two exactly held numbers (`m < 2^53`, resp. `2^24`;
//    `10^k` up to 10^22, resp. 10^10) and IEEE division rounds to nearest-even as
//    parsing does, so it tests "parses back". No tie occurs: a midpoint between two
//    floats has `p + 2` significant bits, so its `m` is at least `2^(p+1) > B`.
// 4. Parsing back at `k` implies parsing back at `k + 1` (as `10m`, while below B),
//    so one probe at the largest `k` below B decides whether a short decimal exists,
//    and the smallest `k` that parses back gives the fewest significant digits (any
//    decimal with more places and fewer digits would be a second `m` at some `k`).
// Everything else (long decimals, huge or tiny magnitudes, NaN, infinities) goes to
// std. Tests compare with std on every f32 below B and on random f64s.

/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `round(s)` for `0 <= s < 2^52` without a libm call. Ties may go either way: by
/// point 2 a tie is never the decimal sought.
fn round_small(s: f64) -> u64 {
    // Through i64: both conversions are then single instructions on x86-64 (unsigned ones
    // are not), and exact below 2^53.
    let t = s as i64;
    (t + i64::from(s - t as f64 >= 0.5)) as u64
}

/// What the short-float fast path needs to know about f32 and f64.
pub(super) trait ShortFloat: Copy {
    /// `B` above.
    const BOUND: f64;
    /// `floor(log10(B))`.
    const LOG10_BOUND: i32;
    /// Largest `k` with `10^k` exact in this type.
    const K_LIMIT: usize;
    /// `|x|`, exactly, as f64.
    fn wide_abs(self) -> f64;
    fn is_sign_negative(self) -> bool;
    /// `Some(m)` if `m = round(|x| * 10^k)` parses back to `|x|` (point 3).
    fn parses_back(self, k: usize) -> Option<u64>;
}

impl ShortFloat for f64 {
    const BOUND: f64 = 1e15;
    const LOG10_BOUND: i32 = 15;
    const K_LIMIT: usize = 22;
    fn wide_abs(self) -> f64 {
        self.abs()
    }
    fn is_sign_negative(self) -> bool {
        self.is_sign_negative()
    }
    fn parses_back(self, k: usize) -> Option<u64> {
        let m = round_small(self.abs() * POW10[k]);
        // `m < 2^53`: exact through i64, which converts in one instruction.
        (m as i64 as f64 / POW10[k] == self.abs()).then_some(m)
    }
}

impl ShortFloat for f32 {
    const BOUND: f64 = 4e6;
    const LOG10_BOUND: i32 = 6;
    const K_LIMIT: usize = 10;
    fn wide_abs(self) -> f64 {
        f64::from(self.abs())
    }
    fn is_sign_negative(self) -> bool {
        self.is_sign_negative()
    }
    fn parses_back(self, k: usize) -> Option<u64> {
        let m = round_small(self.wide_abs() * POW10[k]);
        (m as i64 as f32 / POW10[k] as f32 == self.abs()).then_some(m)
    }
}

/// Writes `{}` of `x` and returns true if its shortest decimal is short (`< B` once
/// scaled to an integer); otherwise writes nothing and returns false.
pub(super) fn push_short<T: ShortFloat>(out: &mut String, x: T) -> bool {
    let wide = x.wide_abs();
    if wide.is_nan() || wide >= T::BOUND {
        return false;
    }
    // An integer parses back at k = 0, the smallest k: it is its own shortest decimal.
    // Through i64, exact below the bound (see `round_small`).
    let whole = wide as i64;
    let exact = whole as f64 == wide;
    let whole = whole as u64;
    if exact {
        if x.is_sign_negative() {
            out.push('-');
        }
        push_u64(out, whole);
        return true;
    }
    // Most logged fractions have a place or two: probe those first. The first `k` that
    // parses back is the smallest, so its `m` is what the search below ends with too
    // (point 4, from the other side); each probe stays below B (points 1 and 2).
    for k in [1, 2] {
        if wide * POW10[k] >= T::BOUND {
            break;
        }
        if let Some(m) = x.parses_back(k) {
            return push_split(out, x, whole, m, k);
        }
    }
    // The largest k with |x| * 10^k < B, guessed from the binary exponent
    // (log10(2) ≈ 1233/4096) and then corrected.
    let e2 = ((wide.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut k = (T::LOG10_BOUND - 1 - ((e2 * 1233) >> 12)).clamp(0, T::K_LIMIT as i32) as usize;
    while k > 0 && wide * POW10[k] >= T::BOUND {
        k -= 1;
    }
    while k < T::K_LIMIT && wide * POW10[k + 1] < T::BOUND {
        k += 1;
    }
    // Point 4: one probe at the largest k decides. If `m'` parses back at a smaller `k'`,
    // then `m' * 10^(k - k')` parses back at `k` and, being unique there (point 1), is
    // `m`; conversely `m = 10q` means `q / 10^(k-1)` is the same real, so it parses back
    // too. The smallest `k` is thus `k` less `m`'s trailing zeros: no more probes.
    let Some(mut m) = x.parses_back(k) else {
        return false;
    };
    // Strip `min(k, trailing zeros) < 32` zeros in binary steps (each applies at most once).
    for (zeros, pow) in [(16, 10_000_000_000_000_000), (8, 100_000_000), (4, 10_000), (2, 100), (1, 10)] {
        if k >= zeros && m % pow == 0 {
            m /= pow;
            k -= zeros;
        }
    }
    push_split(out, x, whole, m, k)
}

/// Writes `x`, whose shortest decimal is `m / 10^k` (`k >= 1`, `m < B`), and whose
/// truncation is `whole`; false (nothing written) if those disagree.
fn push_split<T: ShortFloat>(out: &mut String, x: T, whole: u64, m: u64, k: usize) -> bool {
    // `m / 10^k` parses back to `|x|`, which is not an integer, so both have the integer
    // part `whole` (an integer between them would be a float nearer to one than the
    // other); no division is needed to split `m`. Checked all the same: if the split
    // were off, std would write the number.
    let split = |p: u64| whole.checked_mul(p).and_then(|wp| m.checked_sub(wp)).filter(|&f| f < p);
    let frac = match POW10_U64.get(k) {
        Some(&p) => split(p),
        None => (whole == 0).then_some(m),
    };
    let Some(frac) = frac else {
        return false;
    };
    if x.is_sign_negative() {
        out.push('-');
    }
    push_decimal(out, whole, frac, k);
    true
}

// Fast `{:.p}` of floats.
//
// std prints `|x| * 10^p` rounded to the nearest integer `m` (ties to even), as `m / 10^p`
// with `p` decimals, after a `-` for every negative `x` (so `-0.001` is `-0.00`). Let
// `X = |x| * 10^p` (exact) and `y = fl(X)`, for `p <= 15` (10^p exact in f64; an f32 is
// widened exactly). If `y < 2^40`, `|y - X| <= ulp(y) / 2 <= 2^-13`; and `f = y - floor(y)`
// is exact. If `|f - 1/2| > 2^-10`, then `X` is on the same side of `floor(y) + 1/2` as `y`,
// more than `2^-10 - 2^-13` away: no tie, and `X` rounds to the integer nearest `y`,
// `floor(y) + (f > 1/2)`, which is then `m`. Near a half (1 value in 512, and every exact
// tie) and past `2^40` std decides. Tests compare with std for random values at every `p`.

/// The largest `p` of [`push_fixed`] (`10^p` exact in f64).
const FIXED_MAX_P: usize = 15;
/// `y` must stay below this.
const FIXED_LIMIT: f64 = (1u64 << 40) as f64;
/// How far from a half `y`'s fraction must be.
const FIXED_MARGIN: f64 = 1.0 / 1024.0;

/// Writes `{:.p}` of `x` and returns true when that is quick to get exactly (see above);
/// otherwise writes nothing and returns false.
pub(super) fn push_fixed<T: ShortFloat>(out: &mut String, x: T, p: usize) -> bool {
    let Some(&scale) = POW10.get(p).filter(|_| p <= FIXED_MAX_P) else {
        return false;
    };
    let y = x.wide_abs() * scale;
    // NaN is refused here too.
    if y.is_nan() || y >= FIXED_LIMIT {
        return false;
    }
    // Through i64: exact below 2^40, and one instruction each way.
    let whole = y as i64;
    let f = y - whole as f64;
    if (f - 0.5).abs() <= FIXED_MARGIN {
        return false;
    }
    let m = whole as u64 + u64::from(f > 0.5);
    if x.is_sign_negative() {
        out.push('-');
    }
    // `m < 2^40 < 10^15`, as `push_decimal` needs.
    match POW10_U64.get(p) {
        Some(&d) if p > 0 => push_decimal(out, m / d, m % d, p),
        _ => push_u64(out, m),
    }
    true
}

/// Writes `int.frac`, with `frac` zero-padded on the left to `1 <= k <= 22` digits;
/// `int < 10^15` and `frac < 10^min(k, 15)`.
fn push_decimal(out: &mut String, int: u64, frac: u64, k: usize) {
    const E8: u64 = 100_000_000;
    // The integer part (at most 15 digits), the point, then the fraction digits: at most
    // 40 bytes stored.
    // SAFETY: every byte up to the returned end is an ASCII digit or the point.
    unsafe {
        push_window::<48>(out, |w| {
            let at = put_u64(w, 0, int);
            w[at].write(b'.');
            let at = at + 1;
            match k {
                0..=8 => put_last(w, at, frac as u32, k),
                9..=16 => {
                    let at = put_last(w, at, (frac / E8 % E8) as u32, k - 8);
                    put_last(w, at, (frac % E8) as u32, 8)
                }
                _ => {
                    // `frac < 10^15`: the first `k - 16 <= 6` digits are zeros.
                    put8(w, at, ASCII_ZEROS);
                    let at = put_last(w, at + k.min(22) - 16, (frac / E8 % E8) as u32, 8);
                    put_last(w, at, (frac % E8) as u32, 8)
                }
            }
        })
    };
}

/// Powers of ten that u64 holds.
const POW10_U64: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

#[cfg(test)]
mod tests {
    use super::super::std_write;
    use super::*;
    use crate::text::{Template, Value};

    #[test]
    fn decimals_place_the_point_at_every_k() {
        let mut out = String::new();
        for m in [1u64, 7, 12, 105, 99_999_999, 100_000_001, 123_456_789_012_345, 999_999_999_999_999] {
            for k in 0..=22 {
                if k > 0 && m % 10 == 0 {
                    continue;
                }
                out.clear();
                if k == 0 {
                    push_u64(&mut out, m);
                } else {
                    let p = 10u128.pow(k as u32);
                    push_decimal(&mut out, (u128::from(m) / p) as u64, (u128::from(m) % p) as u64, k);
                }
                let digits = format!("{m:0>w$}", w = k + 1);
                let want = if k == 0 {
                    digits
                } else {
                    let (int, frac) = digits.split_at(digits.len() - k);
                    format!("{int}.{frac}")
                };
                assert_eq!(out, want, "{m} / 10^{k}");
            }
        }
    }

    /// Random floats of the shapes that matter: any bit pattern, short decimals,
    /// 15–17 digit decimals, values next to the bound and to powers of ten.
    fn sample_floats(n: usize, mut check: impl FnMut(f64, f32)) {
        let mut r = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..n {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let scale = POW10[(r >> 58) as usize % 23];
            let x = match i % 6 {
                0 => f64::from_bits(r),
                1 => (r % 100_000_000) as f64 / scale,
                2 => (r >> 11) as f64 / scale,
                3 => f64::from_bits(scale.to_bits() + (r % 64) - 32),
                4 => f64::from_bits(1e15f64.to_bits() - (r % 64)),
                _ => (r % 1000) as f64 * 0.01 + (r % 7) as f64 * 0.1,
            };
            let y = match i % 4 {
                0 => f32::from_bits(r as u32),
                1 => (r % 100_000) as f32 / POW10[(r >> 60) as usize % 11] as f32,
                2 => f32::from_bits((4e6f32).to_bits() - (r % 64) as u32),
                _ => x as f32,
            };
            check(x, y);
            check(-x, -y);
        }
    }

    #[test]
    fn short_floats_match_std() {
        let (mut ours, mut want) = (String::new(), String::new());
        let (mut hits64, mut hits32) = (0, 0);
        let compare = |hit: bool, ours: &mut String, want: &mut String| {
            if hit {
                assert_eq!(ours, want);
            } else {
                assert!(ours.is_empty(), "{ours}");
            }
            ours.clear();
            want.clear();
            usize::from(hit)
        };
        sample_floats(200_000, |x, y| {
            let hit = push_short(&mut ours, x);
            std_write(&mut want, format_args!("{x}"));
            hits64 += compare(hit, &mut ours, &mut want);
            let hit = push_short(&mut ours, y);
            std_write(&mut want, format_args!("{y}"));
            hits32 += compare(hit, &mut ours, &mut want);
        });
        // The fast path must actually be taken for short decimals.
        assert!(hits64 > 100_000 && hits32 > 100_000, "{hits64} {hits32}");
        for x in
            [0.0, -0.0, 1.0, -61.0, 61.5, 0.1 + 0.2, 1e15, 999_999_999_999_999.0, 999_999_999_999_999.9, 1e-7, 5e-324]
        {
            ours.clear();
            want.clear();
            if push_short(&mut ours, x) {
                std_write(&mut want, format_args!("{x}"));
                assert_eq!(ours, want);
            }
        }
    }

    #[test]
    fn fixed_precision_floats_match_std() {
        let mut out = String::new();
        let (mut hits, mut tries) = (0usize, 0usize);
        // `out` holds what `push_fixed` wrote on a hit, or nothing; 1 for a hit.
        let agree = |out: &mut String, hit: bool, want: String, what: &str| {
            if hit {
                assert_eq!(*out, want, "{what}");
            } else {
                assert!(out.is_empty(), "{out}");
            }
            out.clear();
            usize::from(hit)
        };
        let mut check = |x: f64, y: f32, p: usize| {
            let hit = push_fixed(&mut out, x, p);
            hits += agree(&mut out, hit, format!("{x:.p$}"), &format!("{x:e} at .{p}"));
            let hit = push_fixed(&mut out, y, p);
            hits += agree(&mut out, hit, format!("{y:.p$}"), &format!("{y:e}f32 at .{p}"));
            tries += 2;
        };
        let mut i = 0;
        sample_floats(60_000, |x, y| {
            i += 1;
            check(x, y, i % (FIXED_MAX_P + 3));
        });
        // Prices as they are computed (0.01 steps that accumulate error), every tie at
        // every precision up to 3, and the edges of the range.
        let mut px = 101.25f64;
        for i in 0..20_000u64 {
            px += ((i * 7919) % 13) as f64 * 0.01 - 0.06;
            check(px, px as f32, (i % 5) as usize);
            check(px * 1000.0, (px * 1000.0) as f32, 0);
        }
        for (p, scale) in POW10.iter().enumerate().take(4) {
            for m in 0..2_000u64 {
                let tie = (m as f64 + 0.5) / scale;
                check(tie, tie as f32, p);
                check(-tie, -tie as f32, p);
            }
        }
        let edges = [0.0, -0.0, 1e-300, -1e-300, 0.5, 1.5, 2.5, FIXED_LIMIT, FIXED_LIMIT - 0.75, 1e15, f64::NAN];
        for x in edges.into_iter().chain([f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE]) {
            for p in 0..=FIXED_MAX_P + 2 {
                check(x, x as f32, p);
            }
        }
        // The fast path must actually be taken for most values in range.
        assert!(hits > tries / 2, "{hits} of {tries}");
    }

    #[test]
    fn fixed_precision_keeps_sign_width_fill_and_alignment() {
        for (fmt, x, want) in [
            ("{:.2}", -0.001, format!("{:.2}", -0.001)),
            ("{:+.2}", 1.005, format!("{:+.2}", 1.005)),
            ("{:+.3}", -0.0, format!("{:+.3}", -0.0)),
            ("{:>10.3}", 101.137_5, format!("{:>10.3}", 101.137_5)),
            ("{:*^12.1}", -2.25, format!("{:*^12.1}", -2.25)),
            ("{:<8.0}", 1234.5, format!("{:<8.0}", 1234.5)),
            ("{:08.2}", -1.5, format!("{:08.2}", -1.5)),
            ("{:9.4}", 0.000_05, format!("{:9.4}", 0.000_05)),
        ] {
            let t = Template::parse(fmt).unwrap();
            let mut out = String::new();
            t.render(&[Value::F64(x)], &mut out).unwrap();
            assert_eq!(out, want, "{fmt} of {x}");
            out.clear();
            t.render(&[Value::F32(x as f32)], &mut out).unwrap();
            assert_eq!(out, std_f32(fmt, x as f32), "{fmt} of {x}f32");
        }
    }

    /// `format!` of an f32 with one of the specs above (format strings must be literals).
    fn std_f32(fmt: &str, y: f32) -> String {
        match fmt {
            "{:.2}" => format!("{y:.2}"),
            "{:+.2}" => format!("{y:+.2}"),
            "{:+.3}" => format!("{y:+.3}"),
            "{:>10.3}" => format!("{y:>10.3}"),
            "{:*^12.1}" => format!("{y:*^12.1}"),
            "{:<8.0}" => format!("{y:<8.0}"),
            "{:08.2}" => format!("{y:08.2}"),
            "{:9.4}" => format!("{y:9.4}"),
            _ => unreachable!("{fmt}"),
        }
    }
}
