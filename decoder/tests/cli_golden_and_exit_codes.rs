//! The `tapelog` binary: golden output for the committed format fixtures (old versions keep
//! decoding forever), and documented exit codes on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tapelog"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compares with a golden file; `TAPELOG_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = fixtures().join(name);
    if std::env::var_os("TAPELOG_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
}

#[test]
fn format_v1_fixture_decodes_to_its_golden_text_json_and_stats() {
    let dir = fixtures().join("v1");
    let d = dir.to_str().unwrap();
    let (code, out, err) = run(&["cat", d]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    golden("v1.cat.out", &out);
    let (code, out, _) = run(&["cat", "--json", d]);
    assert_eq!(code, 0);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["ts_ns"].is_i64());
        if v["kind"] == "record" {
            for key in ["level", "thread", "target", "file", "line", "msg", "args"] {
                assert!(!v[key].is_null(), "missing {key} in {line}");
            }
        }
    }
    golden("v1.cat.json.out", &out);
    let (code, out, _) = run(&["stats", d]);
    assert_eq!(code, 0);
    golden("v1.stats.out", &out);
}

#[test]
fn filters_select_by_level_thread_time_and_regex() {
    let d = fixtures().join("v1");
    let d = d.to_str().unwrap();
    let (_, all, _) = run(&["cat", d]);
    let (_, warn, _) = run(&["cat", "--level", "warn", d]);
    assert!(!warn.is_empty());
    // Drop reports count as warnings.
    assert!(warn.lines().all(|l| l.contains(" WARN  ") || l.contains(" ERROR ") || l.contains(" DROPS ")), "{warn}");
    assert_eq!(warn.lines().count(), 3, "{warn}");
    let (_, worker, _) = run(&["cat", "--thread", "worker", d]);
    assert_eq!(worker.lines().count(), 6, "{worker}");
    let (_, grep, _) = run(&["cat", "--grep", "^burst 1[0-9]$", d]);
    assert!(grep.lines().count() >= 1 && grep.lines().all(|l| l.contains("burst 1")), "{grep}");
    // --since the timestamp of the last record keeps only it (and anything at that time).
    let last_ts = all.lines().last().unwrap().split(' ').next().unwrap();
    let (_, since, _) = run(&["cat", "--since", last_ts, d]);
    assert_eq!(since.lines().count(), 1, "{since}");
    let (_, until, _) = run(&["cat", "--until", last_ts, d]);
    assert_eq!(until.lines().count(), all.lines().count() - 1);
}

#[test]
fn version_names_the_format_versions_it_reads() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains("reads segment format versions 1..=1"), "{out}");
}

#[test]
fn bad_input_exits_nonzero_with_file_and_reason() {
    let tmp = std::env::temp_dir().join(format!("tapelog-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (code, _, err) = run(&["cat", tmp.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no tapelog segments"), "{err}");
    let (code, _, err) = run(&["cat", tmp.join("missing.tlog").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let junk = tmp.join("junk.tlog");
    std::fs::write(&junk, b"this is not a segment at all, just text").unwrap();
    let (code, _, err) = run(&["cat", junk.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("junk.tlog") && err.contains("magic"), "{err}");
    let src = std::fs::read(fixtures().join("v1").join("format-v1-0.tlog")).unwrap();
    let torn = tmp.join("torn.tlog");
    std::fs::write(&torn, &src[..src.len() - 7]).unwrap();
    let (code, out, err) = run(&["cat", torn.to_str().unwrap()]);
    assert_eq!(code, 0, "a torn tail is a warning: {err}");
    assert!(err.contains("warning") && err.contains("torn tail at byte"), "{err}");
    assert!(out.lines().count() > 5);
    std::fs::remove_dir_all(&tmp).unwrap();
}
