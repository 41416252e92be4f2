//! `--format` templates, `--utc`/`--local`/`--tz`, `--ts-format`, and `--color`/`--no-color`.

mod common;
use common::*;

fn fixture() -> String {
    fixture_dir().to_str().unwrap().to_string()
}

#[test]
fn templates_place_fields_and_pad_them() {
    let d = fixture();
    let (code, out, err) = run(&["cat", "--format", "{level:>5} [{thread}] {target} {file}:{line} {msg}", &d]);
    assert_eq!(code, 0, "{err}");
    let first = out.lines().next().unwrap();
    assert_eq!(first, "DEBUG [worker] make_fixture decoder/examples/make_fixture.rs:19 worker step 0 of 5");
    assert!(
        out.lines().any(|l| l
            == " INFO [main] make_fixture decoder/examples/make_fixture.rs:24 Logging int: 1, int: 2, double: 3.5"),
        "{out}"
    );
    let (_, out, _) = run(&["cat", "--format", "{{{thread_id}}}\\t{msg:<20}|", &d]);
    assert!(out.lines().any(|l| l == "{1}\tworker step 0 of 5  |"), "{out}");
}

#[test]
fn fields_render_as_key_value_pairs_in_text_and_json() {
    let _s = serial();
    let dir = TempDir::new("fields");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    tapelog::info!(order_id = 7u32, side = "buy", note = "two words"; "filled {}", 5u32);
    tapelog::info!("no fields {}", 1u8);
    drop(guard);
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["cat", "--format", "{msg}{fields}|", d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "filled 5 order_id=7 side=buy note=\"two words\"|\nno fields 1|\n");
    let (_, out, _) = run(&["cat", d]);
    assert!(out.lines().next().unwrap().ends_with(" filled 5 order_id=7 side=buy note=\"two words\""), "{out}");
    assert!(out.lines().nth(1).unwrap().ends_with(" no fields 1"), "{out}");
    let (_, out, _) = run(&["cat", "--json", d]);
    let v: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v[0]["fields"], serde_json::json!({ "order_id": 7, "side": "buy", "note": "two words" }));
    assert_eq!(v[0]["args"], serde_json::json!([{ "type": "u32", "value": 5 }]));
    assert_eq!(v[0]["msg"], "filled 5");
    assert!(v[1].get("fields").is_none());
    let (code, out, _) = run(&["check", d]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn bad_templates_exit_2_and_name_the_placeholders() {
    for (t, want) in [("{nope}", "unknown placeholder {nope}"), ("{msg", "unclosed"), ("{level:9x}", "bad spec")] {
        let (code, out, err) = run(&["cat", "--format", t, &fixture()]);
        assert_eq!(code, 2, "{t}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(want) && err.contains("ts, level, thread"), "{t}: {err}");
    }
}

#[test]
fn time_zones_and_formats() {
    let d = fixture();
    let ts = |args: &[&str], env: Option<(&str, &str)>| {
        let mut c = bin();
        c.args(["cat", "--format", "{ts}"]).args(args).arg(&d);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().next().unwrap().to_string()
    };
    let utc = ts(&[], None);
    assert_eq!(utc, "2026-11-21T12:49:11.494780181Z");
    assert_eq!(ts(&["--utc"], None), utc);
    assert_eq!(ts(&["--tz", "JST-9"], None), "2026-11-21T21:49:11.494780181+09:00");
    assert_eq!(ts(&["--local"], Some(("TZ", "EST5"))), "2026-11-21T07:49:11.494780181-05:00");
    assert_eq!(ts(&["--ts-format", "unix-ns"], None), "1795265351494780181");
    assert_eq!(ts(&["--ts-format", "unix"], None), "1795265351.494780181");
    assert_eq!(ts(&["--ts-format", "%Y/%m/%d %H:%M:%S%.3f", "--tz", "JST-9"], None), "2026/11/21 21:49:11.494");
    let (code, _, err) = run(&["cat", "--tz", "Not/AZone!", &d]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["cat", "--ts-format", "iso", &d]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["cat", "--utc", "--local", &d]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn colors_only_when_asked_or_on_a_terminal() {
    let d = fixture();
    let (_, plain, _) = run(&["cat", &d]);
    assert!(!plain.contains('\x1b'), "no colors into a pipe by default");
    let (_, colored, _) = run(&["cat", "--color", "always", &d]);
    assert!(colored.contains("\x1b[33mWARN \x1b[0m"), "{colored}");
    assert!(colored.contains("\x1b[1;33mDROPS\x1b[0m"), "{colored}");
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    assert_eq!(strip(&colored), plain, "colors change nothing but the escapes");
    let (_, never, _) = run(&["cat", "--color", "always", "--no-color", &d]);
    assert_eq!(never, plain);
    let (_, json, _) = run(&["cat", "--color", "always", "--json", &d]);
    assert!(!json.contains('\x1b'));
}
