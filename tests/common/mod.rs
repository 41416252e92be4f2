//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tapelog::text::Value;
use tapelog_decoder::merge::{Event, Merger};
use tapelog_decoder::output::decode_args;

/// The logger is process-global: tests in one binary take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh, empty directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let p = base.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A decoded event, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    Record { ts_ns: i128, thread: String, format: String, args: Vec<String>, level: String, file: String, line: u32 },
    Drops { thread: String, count: u64 },
}

/// The format of the consumer's capacity warnings.
pub const CAPACITY_WARNING: &str = "ring of thread {} (id {}) is {}% full: {} of {} bytes, high-water {} bytes";

/// Decodes everything under `paths` through the decoder library, leaving out the consumer's
/// capacity warnings, which tests of the program's records do not count.
pub fn decode(paths: &[PathBuf]) -> (Vec<Owned>, Vec<String>) {
    let (mut events, diags) = decode_all(paths);
    events.retain(|e| !matches!(e, Owned::Record { format, .. } if format == CAPACITY_WARNING));
    (events, diags)
}

/// Decodes everything under `paths`, capacity warnings included.
pub fn decode_all(paths: &[PathBuf]) -> (Vec<Owned>, Vec<String>) {
    let (mut m, diags) = tapelog_decoder::open(paths).expect("open");
    let mut out = Vec::new();
    collect(&mut m, &mut out);
    let mut d: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    d.extend(m.take_diagnostics().iter().map(|d| d.to_string()));
    (out, d)
}

fn collect(m: &mut Merger, out: &mut Vec<Owned>) {
    while let Some(ev) = m.next() {
        match ev {
            Event::Record(r) => {
                let mut vals: Vec<Value<'_>> = Vec::new();
                decode_args(&r.site.kinds, r.args, r.shapes, &mut vals).expect("args decode");
                out.push(Owned::Record {
                    ts_ns: r.ts_ns,
                    thread: r.thread.label().into_owned(),
                    format: r.site.format.clone(),
                    args: vals.iter().map(value_string).collect(),
                    level: r.site.level.map(|l| l.as_str().to_string()).unwrap_or_default(),
                    file: r.site.file.clone(),
                    line: r.site.line,
                });
            }
            Event::Drops(d) => out.push(Owned::Drops { thread: d.thread.label().into_owned(), count: d.count }),
            // Flight-recorder dump lines: tests of them read `tapelog cat`'s output.
            Event::Dump(_) => {}
        }
    }
}

/// A plain rendering of a value (for comparisons in tests).
pub fn value_string(v: &Value<'_>) -> String {
    match v {
        Value::U8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::U64(x) | Value::Usize(x) => x.to_string(),
        Value::U128(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::I64(x) | Value::Isize(x) => x.to_string(),
        Value::I128(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
        Value::Char(x) => x.to_string(),
        Value::Str(x) => x.to_string(),
        Value::Bytes(x) => format!("{x:?}"),
        Value::None => "None".into(),
        Value::Some(x) => format!("Some({})", value_string(x)),
        Value::Structured(x) => format!("{x:?}"),
    }
}

/// Records (not drop reports) with this format string, as their argument strings.
pub fn args_of<'a>(events: &'a [Owned], format: &str) -> impl Iterator<Item = (&'a str, &'a [String])> + 'a {
    let format = format.to_string();
    events.iter().filter_map(move |e| match e {
        Owned::Record { thread, format: f, args, .. } if *f == format => Some((thread.as_str(), args.as_slice())),
        _ => None,
    })
}

/// Total records dropped according to the decoded drop reports.
pub fn reported_drops(events: &[Owned]) -> u64 {
    events.iter().map(|e| if let Owned::Drops { count, .. } = e { *count } else { 0 }).sum()
}

pub fn record_count(events: &[Owned]) -> usize {
    events.iter().filter(|e| matches!(e, Owned::Record { .. })).count()
}

/// Ends the process with a message if the test is still running after `secs` seconds: a
/// test of "never hangs" must fail, not hang CI. Dropping the returned guard disarms it.
pub fn watchdog(what: &'static str, secs: u64) -> Watchdog {
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let a = armed.clone();
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if !a.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        eprintln!("{what}: still running after {secs} s: it hangs");
        std::process::abort();
    });
    Watchdog(armed)
}

/// Disarms the watchdog on drop.
pub struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}
