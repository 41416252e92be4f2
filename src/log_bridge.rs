//! A [`log`] crate backend, so records from dependencies that log through `log::info!` and
//! friends land in the same segments, with their level, target, file and line.
//!
//! ```
//! tapelog::log_bridge::init().ok(); // once, at start-up
//! log::info!(target: "vendor::feed", "connected");
//! ```
//!
//! Cost on the calling thread:
//! * a message with no arguments (`Arguments::as_str()` is `Some`) is deferred like tapelog's
//!   own calls: no formatting, just a call-site lookup (a hash of level, target, file, line
//!   in a thread-local map, ~20-40 ns) and the ring write;
//! * any other message is formatted on the calling thread into a reused thread-local buffer
//!   (what `log` backends always do, typically 100 ns to a few µs), then logged as one string
//!   argument.
//!
//! Key-value pairs (`log::info!(order = 7, venue = "XNAS"; "filled")`, `log`'s `kv`
//! feature) arrive as typed fields, as tapelog's own `info!(order = 7; ...)` does: integers
//! as `u64`/`i64`, floats as `f64`, booleans and strings as themselves, deferred like any
//! argument; any other value (a `Display`, `Debug` or serde value) is formatted on the
//! calling thread into a string field. Names and values are copied into a reused
//! thread-local buffer, so a warm statement allocates nothing.
//!
//! Each distinct `log` statement (with its field names and kinds) becomes one tapelog call
//! site (allocated once, never freed), so the run-time filter (`TAPELOG`,
//! [`set_filter`](crate::set_filter)) applies to it by its target.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use std::ops::Range;

use crate::frontend::args::{DynArg, DynArgs};
use crate::frontend::callsite::Callsite;
use crate::Level;

/// Installs the bridge as the `log` crate's logger (fails if another logger is installed).
pub fn init() -> Result<(), log::SetLoggerError> {
    log::set_logger(&Bridge)?;
    log::set_max_level(match crate::STATIC_MAX_LEVEL {
        crate::LevelFilter::Off => log::LevelFilter::Off,
        crate::LevelFilter::Error => log::LevelFilter::Error,
        crate::LevelFilter::Warn => log::LevelFilter::Warn,
        crate::LevelFilter::Info => log::LevelFilter::Info,
        crate::LevelFilter::Debug => log::LevelFilter::Debug,
        crate::LevelFilter::Trace => log::LevelFilter::Trace,
    });
    Ok(())
}

struct Bridge;

/// What identifies a `log` statement.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    level: Level,
    target: String,
    file: String,
    line: u32,
    /// Address of the static message, for deferred messages; 0 for formatted ones.
    message: usize,
    /// Names and kind codes of the key-value fields.
    fields: Vec<(String, u8)>,
}

/// Every statement's call site, with the kind codes of its fields.
static SITES: Mutex<Option<HashMap<Key, Site>>> = Mutex::new(None);

type Site = (&'static Callsite, &'static [u8]);

thread_local! {
    /// This thread's view of `SITES`, by a hash of the key (checked against the call site).
    static CACHE: RefCell<HashMap<u64, Site>> = RefCell::new(HashMap::new());
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
    static KV: RefCell<Fields> = const { RefCell::new(Fields::new()) };
}

/// A field value as collected: a number, or a string at a range of [`Fields::text`].
#[derive(Clone)]
enum Val {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(Range<usize>),
}

/// The key-value fields of one record: names and string values copied into `text`.
struct Fields {
    text: String,
    items: Vec<(Range<usize>, Val)>,
}

impl Fields {
    const fn new() -> Fields {
        Fields { text: String::new(), items: Vec::new() }
    }

    /// Takes the record's pairs (any `log` value that is not a number, a bool or a string is
    /// formatted with `Display`).
    fn collect(&mut self, r: &log::Record<'_>) {
        self.text.clear();
        self.items.clear();
        let _ = r.key_values().visit(self);
    }

    fn name(&self, i: usize) -> &str {
        &self.text[self.items[i].0.clone()]
    }

    fn kind(&self, i: usize) -> u8 {
        self.arg(i).kind().0
    }

    fn arg(&self, i: usize) -> DynArg<'_> {
        match &self.items[i].1 {
            Val::U64(v) => DynArg::U64(*v),
            Val::I64(v) => DynArg::I64(*v),
            Val::F64(v) => DynArg::F64(*v),
            Val::Bool(v) => DynArg::Bool(*v),
            Val::Str(r) => DynArg::Str(&self.text[r.clone()]),
        }
    }

    fn push_str(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }
}

impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: log::kv::Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        let name = self.push_str(key.as_str());
        let mut v = ValueOf { fields: self, val: None };
        value.visit(&mut v)?;
        let val = match v.val {
            Some(val) => val,
            None => Val::Str(self.push_str("")),
        };
        self.items.push((name, val));
        Ok(())
    }
}

/// Reads one value into a [`Val`].
struct ValueOf<'f> {
    fields: &'f mut Fields,
    val: Option<Val>,
}

impl<'v> log::kv::VisitValue<'v> for ValueOf<'_> {
    fn visit_any(&mut self, value: log::kv::Value<'_>) -> Result<(), log::kv::Error> {
        let start = self.fields.text.len();
        let _ = write!(self.fields.text, "{value}");
        self.val = Some(Val::Str(start..self.fields.text.len()));
        Ok(())
    }
    fn visit_u64(&mut self, v: u64) -> Result<(), log::kv::Error> {
        self.val = Some(Val::U64(v));
        Ok(())
    }
    fn visit_i64(&mut self, v: i64) -> Result<(), log::kv::Error> {
        self.val = Some(Val::I64(v));
        Ok(())
    }
    fn visit_f64(&mut self, v: f64) -> Result<(), log::kv::Error> {
        self.val = Some(Val::F64(v));
        Ok(())
    }
    fn visit_bool(&mut self, v: bool) -> Result<(), log::kv::Error> {
        self.val = Some(Val::Bool(v));
        Ok(())
    }
    fn visit_str(&mut self, v: &str) -> Result<(), log::kv::Error> {
        self.val = Some(Val::Str(self.fields.push_str(v)));
        Ok(())
    }
}

fn level(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warn,
        log::Level::Info => Level::Info,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

fn quick_hash(level: Level, target: &str, file: &str, line: u32, message: usize, kv: &Fields) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (level as u8, target, file, line, message).hash(&mut h);
    for i in 0..kv.items.len() {
        (kv.name(i), kv.kind(i)).hash(&mut h);
    }
    h.finish()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The call site for a statement with the fields in `kv`, made once per distinct statement.
/// A call site with fields is registered here, with its kinds (a string for a formatted
/// message, then each field's); one without is registered by its first call.
fn callsite(
    level: Level,
    target: &str,
    file: &str,
    line: u32,
    message: Option<&'static str>,
    kv: &Fields,
) -> &'static Callsite {
    let msg_addr = message.map_or(0, |m| m.as_ptr() as usize);
    let h = quick_hash(level, target, file, line, msg_addr, kv);
    let matches = |&(cs, kinds): &Site| {
        cs.level == level
            && cs.module == target
            && cs.file == file
            && cs.line == line
            && (msg_addr == 0) == (cs.format == "{}")
            && cs.fields.len() == kv.items.len()
            && cs.fields.iter().enumerate().all(|(i, n)| *n == kv.name(i) && kinds[i] == kv.kind(i))
    };
    let hit = CACHE.try_with(|c| c.borrow().get(&h).copied().filter(matches)).ok().flatten();
    if let Some((cs, _)) = hit {
        return cs;
    }
    let fields: Vec<(String, u8)> = (0..kv.items.len()).map(|i| (kv.name(i).to_owned(), kv.kind(i))).collect();
    let key = Key { level, target: target.to_owned(), file: file.to_owned(), line, message: msg_addr, fields };
    let mut sites = SITES.lock().unwrap_or_else(|p| p.into_inner());
    let site = *sites.get_or_insert_with(HashMap::new).entry(key.clone()).or_insert_with(|| {
        let format = match message {
            // The message is literal text: escape braces so it renders back verbatim.
            Some(m) => leak(&m.replace('{', "{{").replace('}', "}}")),
            None => "{}",
        };
        let cs = Callsite::new(level, format, leak(target), leak(file), line);
        if key.fields.is_empty() {
            return (Box::leak(Box::new(cs)), &[]);
        }
        let names: Vec<&'static str> = key.fields.iter().map(|(n, _)| leak(n)).collect();
        let cs: &'static Callsite = Box::leak(Box::new(cs.with_fields(Box::leak(names.into_boxed_slice()))));
        let kinds: Vec<u8> = message
            .is_none()
            .then_some(crate::wire::ArgKind::STR.0)
            .into_iter()
            .chain(key.fields.iter().map(|(_, k)| *k))
            .collect();
        let kinds: &'static [u8] = Box::leak(kinds.into_boxed_slice());
        crate::frontend::callsite::register(cs, kinds);
        (cs, &kinds[kinds.len() - key.fields.len()..])
    });
    let _ = CACHE.try_with(|c| c.borrow_mut().insert(h, site));
    site.0
}

/// Logs through `cs`: the formatted message (if any) and the fields of `kv`, typed.
fn log_fields(cs: &'static Callsite, message: Option<&str>, kv: &Fields) {
    const MAX: usize = 64;
    let mut args = [DynArg::Bool(false); MAX];
    let mut n = 0;
    if let Some(m) = message {
        args[0] = DynArg::Str(m);
        n = 1;
    }
    for i in 0..kv.items.len().min(MAX - n) {
        args[n] = kv.arg(i);
        n += 1;
    }
    crate::frontend::log(cs, DynArgs(&args[..n]));
}

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        crate::STATIC_MAX_LEVEL.allows(level(m.level()))
    }

    fn log(&self, r: &log::Record<'_>) {
        let lvl = level(r.level());
        if !crate::STATIC_MAX_LEVEL.allows(lvl) {
            return;
        }
        // The fields, in this thread's buffer (or a fresh one when re-entered from a
        // value's Display impl, or while the thread exits).
        let done = KV.try_with(|kv| match kv.try_borrow_mut() {
            Ok(mut kv) => {
                log_record(lvl, r, &mut kv);
                true
            }
            Err(_) => false,
        });
        if done != Ok(true) {
            log_record(lvl, r, &mut Fields::new());
        }
    }

    fn flush(&self) {
        crate::flush();
    }
}

fn log_record(lvl: Level, r: &log::Record<'_>, kv: &mut Fields) {
    kv.collect(r);
    let file = r.file().unwrap_or("<unknown>");
    let line = r.line().unwrap_or(0);
    match r.args().as_str() {
        Some(msg) => {
            let cs = callsite(lvl, r.target(), file, line, Some(msg), kv);
            if kv.items.is_empty() {
                crate::frontend::log(cs, ());
            } else {
                log_fields(cs, None, kv);
            }
        }
        None => {
            let cs = callsite(lvl, r.target(), file, line, None, kv);
            if (cs.state() as i32) < 0 {
                return; // filtered out: do not even format
            }
            let logged = BUF.try_with(|b| match b.try_borrow_mut() {
                Ok(mut buf) => {
                    buf.clear();
                    let _ = write!(buf, "{}", r.args());
                    log_message(cs, &buf, kv);
                    true
                }
                Err(_) => false,
            });
            if logged != Ok(true) {
                // Re-entered from a Display impl, or the thread is exiting.
                log_message(cs, &r.args().to_string(), kv);
            }
        }
    }
}

/// Logs a formatted message, with the fields if there are any.
fn log_message(cs: &'static Callsite, msg: &str, kv: &Fields) {
    if kv.items.is_empty() {
        crate::frontend::log(cs, (&msg,));
    } else {
        log_fields(cs, Some(msg), kv);
    }
}
