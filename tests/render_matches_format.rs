//! `Template::render` reproduces `format!` byte for byte, for every value type and
//! every spec that compiles; broken templates and mismatched values are errors, never
//! panics.

use tapelog::text::{check_format, RenderError, Template, Value};

/// How a test argument looks once logged and decoded.
trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

macro_rules! to_value {
    ($($t:ty => $variant:ident $(as $wire:ty)?),* $(,)?) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::$variant(*self $(as $wire)?)
            }
        }
    )*};
}

to_value! {
    u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128, usize => Usize as u64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128, isize => Isize as i64,
    f32 => F32, f64 => F64, bool => Bool, char => Char,
}

impl ToValue for &str {
    fn to_value(&self) -> Value<'_> {
        Value::Str(self)
    }
}

impl ToValue for &[u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            None => Value::None,
            Some(v) => Value::Some(Box::new(v.to_value())),
        }
    }
}

/// Collects every mismatch so one run reports them all.
#[derive(Default)]
struct Checker {
    cases: usize,
    failures: Vec<String>,
}

impl Checker {
    fn check(&mut self, fmt: &str, expected: String, args: &[Value<'_>], shown: &str) {
        self.cases += 1;
        let template = match Template::parse(fmt) {
            Ok(t) => t,
            Err(e) => {
                self.failures.push(format!("{fmt:?} does not parse: {e}"));
                return;
            }
        };
        if let Err(e) = check_format(fmt, args.len()) {
            self.failures.push(format!("{fmt:?} fails check_format: {e}"));
        }
        let mut out = String::from("prefix:");
        match template.render(args, &mut out) {
            Ok(()) if out.strip_prefix("prefix:") == Some(expected.as_str()) => {}
            Ok(()) => self
                .failures
                .push(format!("{fmt:?} with {shown}\n     got {:?}\n    want {expected:?}", &out["prefix:".len()..])),
            Err(e) => self.failures.push(format!("{fmt:?} with {shown}: render error {e}")),
        }
    }

    fn finish(self, min_cases: usize) {
        assert!(
            self.failures.is_empty(),
            "{} of {} cases differ from format!:\n{}",
            self.failures.len(),
            self.cases,
            self.failures.join("\n")
        );
        assert!(self.cases >= min_cases, "only {} cases ran", self.cases);
    }
}

/// `case!(checker, "fmt", args...)`: render must equal `format!("fmt", args...)`.
macro_rules! case {
    ($c:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {
        $c.check(
            $fmt,
            format!($fmt $(, $arg)*),
            &[$(ToValue::to_value(&$arg)),*],
            stringify!($($arg),*),
        )
    };
}

/// Every format string against every value.
macro_rules! matrix {
    ($c:ident, [$($fmt:literal),* $(,)?], $values:tt) => {
        $( row!($c, $fmt, $values); )*
    };
}

macro_rules! row {
    ($c:ident, $fmt:literal, [$($v:expr),* $(,)?]) => {
        $( case!($c, $fmt, $v); )*
    };
}

// Spec sets, `name!(checker, [values])`, run every spec against every value, and
// value sets, `name!(spec_set!(checker))`, feed them. Brace-delimited calls keep
// rustfmt from putting one list item per line.

/// Specs that every `Display` type accepts: fill, alignment, flags, width and
/// precision in every order rustc allows, whitespace where rustc allows it.
macro_rules! display_specs {
    ($c:ident, $values:tt) => {
        matrix! { $c, [
            "{}", "{:}", "{0}", "{ }", "{0 }", "{:5}", "{:1}", "{:<5}", "{:^5}", "{:>5}",
            "{:^6}", "{:*<7}", "{:*^7}", "{:*>7}", "{:é^8}", "{:}>4}", "{:{<4}", "{:<<4}",
            "{:^^5}", "{:\n>3}", "{: >3}", "{:+}", "{:-}", "{:#}", "{:0}", "{:00}", "{:08}",
            "{:+08}", "{:<08}", "{:^08}", "{:*>08}", "{:*^+#09}", "{:.0}", "{:.1}", "{:.3}",
            "{:.}", "{:5.}", "{:10.3}", "{:<10.3}", "{:^+10.3}", "{:*>+010.2}", "{:+.2}",
            "{:#.2}", "{:-#5}", "{:>1.1}", "{:\u{3000}^6}", "{:.5 }", "{:40}", "{:^39}",
        ], $values }
    };
}

/// Debug specs (any type): hex flags, pretty printing, padding handed to elements.
macro_rules! debug_specs {
    ($c:ident, $values:tt) => {
        matrix! { $c, [
            "{:?}", "{:#?}", "{:x?}", "{:X?}", "{:#x?}", "{:#X?}", "{:5?}", "{:<5?}",
            "{:*^9?}", "{:+?}", "{:08?}", "{:+08?}", "{:.2?}", "{:.0?}", "{:010.3?}",
            "{:*>+12.1?}", "{:#010x?}", "{:^#12X?}", "{:\n^#5?}", "{:é<#4?}", "{:-?}",
            "{0:?}", "{ :? }",
        ], $values }
    };
}

/// Radix specs (integers only).
macro_rules! radix_specs {
    ($c:ident, $values:tt) => {
        matrix! { $c, [
            "{:x}", "{:X}", "{:o}", "{:b}", "{:#x}", "{:#X}", "{:#o}", "{:#b}", "{:010x}",
            "{:#010x}", "{:+#010x}", "{:*^#12b}", "{:>8o}", "{:<+#8X}", "{:.3x}",
            "{:08.2b}", "{:#0x}", "{:^+#06o}", "{:é>#40b}", "{:.x}",
        ], $values }
    };
}

/// Exponent specs (integers and floats).
macro_rules! exp_specs {
    ($c:ident, $values:tt) => {
        matrix! { $c, [
            "{:e}", "{:E}", "{:.0e}", "{:.1e}", "{:.2e}", "{:+.3E}", "{:012.2e}",
            "{:*^12.1e}", "{:#e}", "{:+e}", "{:<+10E}", "{:.20e}", "{:.45E}", "{:-09e}",
        ], $values }
    };
}

macro_rules! unsigned {
    ($specs:ident!($c:ident)) => {
        $specs! { $c, [
            0u8, 1u8, 9u8, 10u8, 99u8, 100u8, 127u8, 128u8, u8::MAX,
            0u16, 7u16, 1000u16, 4096u16, u16::MAX,
            0u32, 42u32, 65_536u32, 1_000_000u32, u32::MAX,
            0u64, 1u64, 12_345_678_901u64, u64::MAX,
            0u128, 1u128, 1u128 << 100, u128::MAX,
            0usize, 3usize, usize::MAX,
        ] }
    };
}

macro_rules! signed {
    ($specs:ident!($c:ident)) => {
        $specs! { $c, [
            i8::MIN, -1i8, 0i8, 1i8, i8::MAX,
            i16::MIN, -300i16, 0i16, i16::MAX,
            i32::MIN, -42i32, 0i32, 7i32, i32::MAX,
            i64::MIN, -1_000_000_007i64, -1i64, 0i64, i64::MAX,
            i128::MIN, -1i128, 0i128, 1i128 << 90, i128::MAX,
            isize::MIN, -5isize, 0isize, isize::MAX,
        ] }
    };
}

/// Round-half-even cases, the Display/Debug switch to exponents (1e16, 1e-5),
/// extremes, subnormals, signed zero, NaN and infinities.
macro_rules! floats {
    ($specs:ident!($c:ident)) => {
        $specs! { $c, [
            0.0f64, -0.0f64, 1.0f64, -1.0f64, 0.1f64, 0.5f64, 1.5f64, 2.5f64, -2.5f64,
            0.125f64, 1234.5678f64, 123456.789f64, 1e15f64, 1e16f64, 1e20f64, -1e21f64,
            1e-4f64, 1e-5f64, 1e-7f64, 1.0f64 / 3.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE,
            5e-324f64, f64::EPSILON, f64::NAN, f64::INFINITY, f64::NEG_INFINITY,
            0.0f32, -0.0f32, 1.0f32, 0.1f32, 2.5f32, -1.25f32, 16_777_217.0f32, 1e10f32,
            1e-10f32, f32::MAX, f32::MIN_POSITIVE, 1e-45f32, f32::NAN, f32::NEG_INFINITY,
        ] }
    };
}

/// Strings and chars that exercise escaping (quotes, controls, combining marks,
/// invisible and astral chars) and char-counted padding; bools.
macro_rules! text {
    ($specs:ident!($c:ident)) => {
        $specs! { $c, [
            "", "a", "hello world", "ünï¢ødé", "tab\there", "quote\"s'", "new\nline",
            "back\\slash", "\0nul", "\u{7f}del", "\u{301}leading combining", "e\u{301}",
            "crab 🦀!", "zero\u{200b}width", "\r\n", "\u{feff}bom \u{10ffff}",
            'a', 'é', '🦀', '\'', '"', '\n', '\t', '\0', '\u{301}', '\u{7f}', ' ', '\\',
            '\u{ffff}', '{', '}',
            true, false,
        ] }
    };
}

/// Byte slices and `Option`s of every payload kind (Debug only).
macro_rules! debug_only {
    ($specs:ident!($c:ident)) => {
        $specs! { $c, [
            EMPTY, &[0u8][..], BYTES, &b"hi\n"[..],
            None::<u8>, Some(5u8), Some(-3i64), Some(u128::MAX), Some(i128::MIN),
            Some(usize::MAX), Some(1.5f64), Some(-0.0f64), Some(1e20f64), Some(f64::NAN),
            Some(0.1f32), Some("a\"b"), Some(""), Some('x'), Some('\n'), Some(true),
            None::<&str>, Some(EMPTY), Some(BYTES), None::<&[u8]>,
            Some(Some(7i32)), Some(None::<i32>), Some(Some(BYTES)),
        ] }
    };
}

const EMPTY: &[u8] = &[];
const BYTES: &[u8] = &[1, 2, 255];

#[test]
fn unsigned_integers_render_like_format() {
    let mut c = Checker::default();
    unsigned!(display_specs!(c));
    unsigned!(debug_specs!(c));
    unsigned!(radix_specs!(c));
    unsigned!(exp_specs!(c));
    c.finish(3000);
}

#[test]
fn signed_integers_render_like_format() {
    let mut c = Checker::default();
    signed!(display_specs!(c));
    signed!(debug_specs!(c));
    signed!(radix_specs!(c));
    signed!(exp_specs!(c));
    c.finish(2800);
}

#[test]
fn floats_render_like_format() {
    let mut c = Checker::default();
    floats!(display_specs!(c));
    floats!(debug_specs!(c));
    floats!(exp_specs!(c));
    matrix!(
        c,
        ["{:.17}", "{:.20}", "{:.300}", "{:.16e}", "{:08.3}", "{:+.0}", "{:.1?}"],
        [0.1f64, 1.0f64 / 3.0, f64::MIN_POSITIVE, 5e-324f64, 0.1f32, f32::MIN_POSITIVE]
    );
    c.finish(3500);
}

#[test]
fn text_bools_and_chars_render_like_format() {
    let mut c = Checker::default();
    text!(display_specs!(c));
    text!(debug_specs!(c));
    c.finish(2300);
}

#[test]
fn bytes_and_options_render_like_format() {
    let mut c = Checker::default();
    debug_only!(debug_specs!(c));
    c.finish(600);
}

#[test]
fn several_arguments_positions_and_escapes_render_like_format() {
    let mut c = Checker::default();
    case!(c, "Logging int: {}, int: {}, double: {}", 7u32, 1_234_567_890_123u64, 3.25f64);
    case!(c, "px {:>8.2} qty {:x}", 101.257f64, 3000u32);
    case!(c, "{} {}", "a", 'b');
    case!(c, "{1} {0}", 1u8, 2u8);
    case!(c, "{0} {0:?} {0:>5}", "q");
    case!(c, "{} {0} {} {1:#x}", 10u16, 11u16);
    case!(c, "{2}{1}{0}{}", 'a', 'b', 'c');
    case!(c, "{{}}");
    case!(c, "{{{}}}", 5i8);
    case!(c, "}}{{ {:?} }}{{", "x");
    case!(c, "{{0}} {0}", true);
    case!(c, "");
    case!(c, "no placeholders, ünïcode ✓");
    case!(c, "{}{}{}{}{}{}{}{}{}{}{}{}", 1u8, 2u16, 3u32, 4u64, 5u128, 6usize, 7i8, 8i16, 9i32, 10i64, 11i128, 12isize);
    case!(c, "{:?} {:#?} {}", Some(1u8), None::<u8>, 'z');
    case!(c, "a{}b{:?}c{:e}d", 0.5f32, &[9u8][..], 12345u64);
    case!(c, "{:5}|{:<5}|{:^5}|{:>5}|", 1u8, 2i8, 3.0f32, "4");
    case!(c, "{:65535}", 1u8);
    case!(c, "{:.65535}", "short");
    c.finish(19);
}

#[test]
fn values_rust_would_not_format_are_errors() {
    let all = [
        Value::U8(1),
        Value::I128(-1),
        Value::Usize(2),
        Value::F32(1.0),
        Value::F64(1.0),
        Value::Bool(true),
        Value::Char('c'),
        Value::Str("s"),
        Value::Bytes(&[1]),
        Value::None,
        Value::Some(Box::new(Value::U8(1))),
    ];
    // (spec, which of `all` compile with it)
    let table: [(&str, [bool; 11]); 8] = [
        ("{}", [true, true, true, true, true, true, true, true, false, false, false]),
        ("{:>3}", [true, true, true, true, true, true, true, true, false, false, false]),
        ("{:?}", [true; 11]),
        ("{:#x?}", [true; 11]),
        ("{:x}", [true, true, true, false, false, false, false, false, false, false, false]),
        ("{:#010b}", [true, true, true, false, false, false, false, false, false, false, false]),
        ("{:o}", [true, true, true, false, false, false, false, false, false, false, false]),
        ("{:.2E}", [true, true, true, true, true, false, false, false, false, false, false]),
    ];
    for (fmt, ok) in table {
        let t = Template::parse(fmt).unwrap();
        for (v, ok) in all.iter().zip(ok) {
            let mut out = String::new();
            let got = t.render(std::slice::from_ref(v), &mut out);
            match got {
                Ok(()) => assert!(ok, "{fmt} rendered {v:?} as {out:?}"),
                Err(RenderError::Unsupported { index: 0, .. }) => {
                    assert!(!ok, "{fmt} refused {v:?}")
                }
                Err(e) => panic!("{fmt} with {v:?}: unexpected {e}"),
            }
        }
    }
    let t = Template::parse("{} {2}").unwrap();
    let mut out = String::new();
    assert_eq!(
        t.render(&[Value::U8(1), Value::U8(2)], &mut out),
        Err(RenderError::MissingArgument { index: 2, len: 2 })
    );
    assert_eq!(out, "1 ", "the partial render is kept");
    let err = Template::parse("{:x}").unwrap().render(&[Value::Str("s")], &mut out).unwrap_err();
    assert_eq!(err.to_string(), "argument 0 is a `str`, which does not implement LowerHex (`{:x}`)");
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_templates_and_values_are_errors_not_panics() {
    const ALPHABET: &[&str] = &[
        "{", "}", "{", "}", ":", "<", ">", "^", "+", "-", "#", "0", "1", "9", ".", "$", "*", "?", "x", "X", "o", "b",
        "e", "E", "p", "a", "_", " ", "é", "\n", "\u{3000}", "🦀", "\0", "{}", "{:", "{0", "65536",
    ];
    let values = [
        Value::U8(200),
        Value::I64(-5),
        Value::U128(u128::MAX),
        Value::F64(f64::NAN),
        Value::F32(-0.0),
        Value::Bool(false),
        Value::Char('\''),
        Value::Str("s\"\n"),
        Value::Bytes(&[0, 255]),
        Value::None,
        Value::Some(Box::new(Value::Bytes(&[7]))),
        Value::Some(Box::new(Value::Some(Box::new(Value::Str("deep"))))),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut parsed, mut rendered) = (0, 0);
    let mut out = String::new();
    for _ in 0..200_000 {
        let mut fmt = String::new();
        for _ in 0..rng.below(16) {
            fmt.push_str(ALPHABET[rng.below(ALPHABET.len())]);
        }
        let template = Template::parse(&fmt);
        let n = template.as_ref().map_or(rng.below(4), |t| t.arg_count());
        assert_eq!(
            check_format(&fmt, n).is_ok(),
            template.is_ok(),
            "check_format and Template::parse disagree on {fmt:?}"
        );
        let Ok(template) = template else { continue };
        parsed += 1;
        let args: Vec<Value<'_>> = (0..rng.below(n + 2)).map(|_| values[rng.below(values.len())].clone()).collect();
        out.clear();
        if template.render(&args, &mut out).is_ok() {
            rendered += 1;
        }
    }
    assert!(parsed > 1_000 && rendered > 500, "{parsed} parsed, {rendered} rendered");
}

#[test]
fn unsupported_but_valid_rust_is_rejected_with_a_reason() {
    for (fmt, n, needle) in [
        ("{name}", 0, "positionally"),
        ("{0:1$}", 2, "width"),
        ("{:w$}", 1, "width"),
        ("{:.*}", 2, "precision"),
        ("{:.p$}", 1, "precision"),
        ("{:p}", 1, "{:p}"),
    ] {
        let err = Template::parse(fmt).unwrap_err();
        assert!(err.to_string().contains(needle), "{fmt}: {err}");
        assert!(check_format(fmt, n).unwrap_err().contains(needle), "{fmt}");
    }
}
