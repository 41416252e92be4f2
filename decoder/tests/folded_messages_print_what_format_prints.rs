//! `tapelog cat` folds a plain message (`{}` of fixed-size arguments) into its line layout
//! and writes each argument straight from the record's bytes. Whatever the values, the line
//! must hold what `format!` printed: random integers of every width and sign, and floats of
//! every shape (short decimals, long ones, huge, tiny, negative zero, infinities, NaN).

mod common;
use common::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A float of one of the shapes the short-float writer treats differently.
    fn float(&mut self) -> f64 {
        let r = self.next();
        let scale = 10f64.powi((r >> 59) as i32 % 20);
        match r % 8 {
            0 => f64::from_bits(self.next()),
            1 => (r % 100_000) as f64 / scale,
            2 => (r >> 11) as f64 / scale,
            3 => (r % 2_000_000) as f64 * 0.5,
            4 => (r % 10_000) as f64 * 0.01,
            5 => [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e15, 1e-7, 5e-324][(r >> 32) as usize % 8],
            6 => -((r % 1_000_000_000) as f64 / 1000.0),
            _ => (r >> 20) as f64,
        }
    }
}

#[test]
fn folded_messages_match_format_for_random_values() {
    let _s = serial();
    let dir = TempDir::new("folded");
    let guard = tapelog::Builder::new()
        .no_capacity_warning()
        .dir(dir.path())
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut want = Vec::new();
    for i in 0..20_000u32 {
        let (a, b, c, d) = (rng.next(), rng.next(), rng.next(), rng.next());
        let (x, y) = (rng.float(), rng.float());
        match i % 5 {
            0 => {
                let (a, b, x) = (a as u32, b, x);
                tapelog::info!("Logging int: {}, int: {}, double: {}", a, b, x);
                want.push(format!("Logging int: {a}, int: {b}, double: {x}"));
            }
            1 => {
                let (a, b, c, d) = (a as i8, b as i16, c as i32, d as i64);
                tapelog::info!("{}|{}|{}|{}", a, b, c, d);
                want.push(format!("{a}|{b}|{c}|{d}"));
            }
            2 => {
                // More than four arguments, repeated and out of order.
                let (a, b, c, y32) = (a as u8, b as u16, c as usize, y as f32);
                tapelog::info!("{4} {} {} {} {} {} {0}", a, b, c, y32, x);
                want.push(format!("{x} {a} {b} {c} {y32} {x} {a}"));
            }
            3 => {
                let (a, y32) = (a as isize, y as f32);
                tapelog::info!(k = d; "f32 {} and {}", y32, a);
                want.push(format!("f32 {y32} and {a} k={d}"));
            }
            _ => {
                // Not plain: printed through the message renderer, next to folded lines.
                tapelog::info!("{:>8.2} {}", x, a as u32);
                want.push(format!("{x:>8.2} {}", a as u32));
            }
        }
    }
    drop(guard);
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["cat", "--format", "{msg}{fields}", d]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i}");
    }
    // The default layout folds the same messages after the fixed parts of the line.
    let (code, out, err) = run(&["cat", d]);
    assert_eq!(code, 0, "{err}");
    for (i, (g, w)) in out.lines().zip(&want).enumerate() {
        assert!(g.ends_with(&format!(" {w}")), "record {i}: {g:?} does not end with {w:?}");
    }
}
