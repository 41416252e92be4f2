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
//! Each distinct `log` statement becomes one tapelog call site (allocated once, never
//! freed), so the run-time filter (`TAPELOG`, [`set_filter`](crate::set_filter)) applies to
//! it by its target.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

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
}

static SITES: Mutex<Option<HashMap<Key, &'static Callsite>>> = Mutex::new(None);

thread_local! {
    /// This thread's view of `SITES`, by a hash of the key (checked against the call site).
    static CACHE: RefCell<HashMap<u64, &'static Callsite>> = RefCell::new(HashMap::new());
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
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

fn quick_hash(level: Level, target: &str, file: &str, line: u32, message: usize) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (level as u8, target, file, line, message).hash(&mut h);
    h.finish()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The call site for a statement, made once per distinct statement.
fn callsite(level: Level, target: &str, file: &str, line: u32, message: Option<&'static str>) -> &'static Callsite {
    let msg_addr = message.map_or(0, |m| m.as_ptr() as usize);
    let h = quick_hash(level, target, file, line, msg_addr);
    let matches = |cs: &Callsite| {
        cs.level == level
            && cs.module == target
            && cs.file == file
            && cs.line == line
            && (msg_addr == 0) == (cs.format == "{}")
    };
    let hit = CACHE.try_with(|c| c.borrow().get(&h).copied().filter(|cs| matches(cs))).ok().flatten();
    if let Some(cs) = hit {
        return cs;
    }
    let key = Key { level, target: target.to_owned(), file: file.to_owned(), line, message: msg_addr };
    let mut sites = SITES.lock().unwrap_or_else(|p| p.into_inner());
    let cs = *sites.get_or_insert_with(HashMap::new).entry(key).or_insert_with(|| {
        let format = match message {
            // The message is literal text: escape braces so it renders back verbatim.
            Some(m) => leak(&m.replace('{', "{{").replace('}', "}}")),
            None => "{}",
        };
        Box::leak(Box::new(Callsite::new(level, format, leak(target), leak(file), line)))
    });
    let _ = CACHE.try_with(|c| c.borrow_mut().insert(h, cs));
    cs
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
        let file = r.file().unwrap_or("<unknown>");
        let line = r.line().unwrap_or(0);
        match r.args().as_str() {
            Some(msg) => {
                let cs = callsite(lvl, r.target(), file, line, Some(msg));
                crate::frontend::log(cs, ());
            }
            None => {
                let cs = callsite(lvl, r.target(), file, line, None);
                if (cs.state() as i32) < 0 {
                    return; // filtered out: do not even format
                }
                let logged = BUF.try_with(|b| match b.try_borrow_mut() {
                    Ok(mut buf) => {
                        buf.clear();
                        let _ = write!(buf, "{}", r.args());
                        crate::frontend::log(cs, (&buf.as_str(),));
                        true
                    }
                    Err(_) => false,
                });
                if logged != Ok(true) {
                    // Re-entered from a Display impl, or the thread is exiting.
                    crate::frontend::log(cs, (&r.args().to_string().as_str(),));
                }
            }
        }
    }

    fn flush(&self) {
        crate::flush();
    }
}
