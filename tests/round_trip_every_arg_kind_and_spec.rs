//! Every argument kind and format spec round-trips: the decoder's text equals what `format!`
//! prints for the same format string and arguments.

mod common;
use common::*;

macro_rules! cases {
    ($expected:ident; $( $fmt:literal $(, $arg:expr)* ;)*) => {$(
        tapelog::info!($fmt $(, $arg)*);
        $expected.push(format!($fmt $(, $arg)*));
    )*};
}

#[test]
fn decoded_text_equals_format_for_every_kind_and_spec() {
    let _s = serial();
    let dir = TempDir::new("roundtrip");
    let guard = tapelog::Builder::new().dir(dir.path()).overflow(tapelog::Overflow::Block).start().unwrap();
    let mut expected: Vec<String> = Vec::new();
    let s = String::from("owned \"quoted\" ünïcödé\n");
    let bytes: &[u8] = &[0, 1, 0xfe, 0xff];
    let arr = *b"abc";
    let v: Vec<u8> = vec![9, 8, 7];
    cases! { expected;
        "no arguments at all";
        "braces {{}} escaped {{{}}}", 1u8;
        "u8 {} u16 {} u32 {} u64 {} u128 {}", u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX;
        "i8 {} i16 {} i32 {} i64 {} i128 {}", i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN;
        "usize {} isize {}", usize::MAX, isize::MIN;
        "f32 {} f64 {} {} {} {}", 1.5f32, 0.1f64 + 0.2, f64::NAN, f64::NEG_INFINITY, -0.0f64;
        "f64 debug {:?} {:?} {:?}", 1.0f64, 1e20f64, 1e-7f64;
        "precision {:.0} {:.3} {:.10}", 2.5f64, std::f64::consts::PI, 1.0f32 / 3.0;
        "width {:8}|{:<8}|{:^8}|{:>8}|", 42u32, 42u32, 42u32, 42u32;
        "fill {:*<8}|{:-^9}|{:#>7}|", "ab", "mid", 5i64;
        "sign {:+} {:+} {:+.2}", 5i32, -5i32, 1.005f64;
        "zero {:08} {:08.3} {:+08} {:08}", -42i32, -3.25159f64, 7u8, -0.5f32;
        "hex {:x} {:X} {:#x} {:#X} {:#010x} {:x}", 255u32, 255u32, 255u8, 3054u64, 255u16, -1i8;
        "bin {:b} {:#b} {:#018b} oct {:o} {:#o}", 5u8, 5u8, 5u16, 64u32, 64i64;
        "exp {:e} {:E} {:e} {:.2e} {:e}", 1234.5f64, 0.00012f64, 1500u32, 123456.0f64, 0f64;
        "bool {} {:>6} {:?}", true, false, true;
        "char {} {:?} {:?} {:>4}", 'x', '\'', '\n', 'é';
        "str {} {:?} {:>10} {:.3} {:>10.2}", "plain", "esc\"aped\t", "right", "truncate", "tr";
        "string {} {:?}", s, s;
        "bytes {:?} {:?} {:?}", bytes, arr, v;
        "option {:?} {:?} {:?} {:?}", Some(5u32), None::<u32>, Some("text"), Some('c');
        "option pretty {:#?}", Some(-1i16);
        "option width {:5?}|{:>8?}|", Some(1u8), None::<u8>;
        "positional {1} {0} {1}", "a", "b";
        "mixed {} {:?} {:.1} {:#x} {:>5}", 1u8, "s", 2.25f64, 255u64, true;
    };
    drop(guard);

    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = tapelog_decoder::CatOptions { json: true, ..Default::default() };
    let outcome = tapelog_decoder::cat(&[dir.path().to_path_buf()], &opts, &mut out, &mut err).unwrap();
    assert_eq!(outcome.errors, 0, "{}", String::from_utf8_lossy(&err));
    let got: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["msg"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }

    // The text form carries the same message after the fixed prefix.
    let mut out = Vec::new();
    tapelog_decoder::cat(&[dir.path().to_path_buf()], &Default::default(), &mut out, &mut err).unwrap();
    let text = String::from_utf8(out).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.ends_with(" no arguments at all"), "{first}");
    assert!(first.contains(" INFO  "), "{first}");
    assert!(first.contains("round_trip_every_arg_kind_and_spec"), "{first}");
}
