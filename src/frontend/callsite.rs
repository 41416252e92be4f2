//! Call sites: the static metadata of one log statement, registered on its first use, with
//! the run-time filter's verdict cached in it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::sample::Sampler;
use crate::filter::Filter;
use crate::sync::table::Table;
use crate::Level;

/// Bit of [`Callsite::state`] that marks a registered call site the filter turned off.
pub const DISABLED: u32 = 1 << 31;

/// Static metadata of one log statement. Created by the log macros as a `static`; not meant to
/// be built by hand.
#[derive(Debug)]
pub struct Callsite {
    /// 0 until registered; then the id records carry, with [`DISABLED`] set while the
    /// run-time filter turns the call site off. Written only under the registry lock.
    state: AtomicU32,
    /// Severity.
    pub level: Level,
    /// The format string.
    pub format: &'static str,
    /// `module_path!()` of the statement.
    pub module: &'static str,
    /// `file!()` of the statement.
    pub file: &'static str,
    /// `line!()` of the statement.
    pub line: u32,
    /// The call site's sampler, if it asked for one.
    pub sampler: Option<&'static Sampler>,
    /// Names of key-value fields; their values are the last arguments.
    pub fields: &'static [&'static str],
    /// The logger named in the macro (`info!(logger: "trades", ...)`), for routing.
    pub logger: Option<&'static str>,
}

impl Callsite {
    /// Metadata for a macro-generated `static`.
    pub const fn new(level: Level, format: &'static str, module: &'static str, file: &'static str, line: u32) -> Self {
        Callsite {
            state: AtomicU32::new(0),
            level,
            format,
            module,
            file,
            line,
            sampler: None,
            fields: &[],
            logger: None,
        }
    }

    /// The same, with key-value fields (whose values follow the format arguments).
    pub const fn with_fields(mut self, fields: &'static [&'static str]) -> Self {
        self.fields = fields;
        self
    }

    /// The same, with the logger name in `name` (none if empty).
    pub const fn with_logger(mut self, name: &'static [&'static str]) -> Self {
        if let [n, ..] = name {
            self.logger = Some(*n);
        }
        self
    }

    /// The same, with a sampler.
    pub const fn sampled(mut self, sampler: &'static Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// 0 (not registered yet), an id (enabled), or an id with [`DISABLED`] set.
    #[inline(always)]
    pub fn state(&self) -> u32 {
        // Acquire pairs with the Release in `register`: a thread that sees the id also sees
        // the registry entry, and so does the consumer that later reads this thread's record
        // (the ring's Release/Acquire carries the chain). On x86 this is a plain load. A
        // filter change racing with this load only decides whether this one call is kept.
        self.state.load(Ordering::Acquire)
    }
}

/// A registered call site, as the consumer needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registered {
    pub cs: &'static Callsite,
    /// The argument kinds ([`crate::frontend::args::ArgList::KINDS`]), a constant.
    pub kinds: &'static [u8],
}

/// Registered call sites: entry `id - 1` is call site `id`. Ids live as long as the process,
/// so they stay valid across logger restarts.
///
/// Readers (the consumer, a sink's thread) take no lock ([`Table`]), so a program thread
/// registering a call site never waits behind a reader. Room is kept ahead of need
/// ([`keep_room`]) by the consumer and by [`crate::preallocate`], so a registration does
/// not allocate. Up to 2^20 call sites (past that, a new call site stays off).
#[cfg(not(loom))]
static SITES: Table<Registered, 4096, 256> = Table::new();
/// (Under loom, whose atomics are not `const`, made on first use; the loom models do not
/// use it.)
#[cfg(loom)]
static SITES: std::sync::LazyLock<Table<Registered, 4096, 256>> = std::sync::LazyLock::new(Table::new);

/// What registrars share: taken by a program thread's first call of a call site, and by a
/// change of the filter. Never by a reader of [`SITES`].
struct Registry {
    filter: Filter,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { filter: Filter::EVERYTHING });

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Room kept in [`SITES`] for call sites not registered yet.
const ROOM: usize = 256;

/// Makes room in the call-site table for [`ROOM`] more call sites (one allocation, rarely),
/// so that the registrations that follow do not allocate. Called off the program's hot
/// paths: by the consumer when it takes new call sites, and by [`crate::preallocate`].
pub(crate) fn keep_room() {
    SITES.reserve(ROOM);
}

fn verdict(filter: &Filter, cs: &Callsite, id: u32) -> u32 {
    if filter.enabled(cs.module, cs.level) {
        id
    } else {
        id | DISABLED
    }
}

/// Registers `cs` (once) and returns its state. Slow path: first use of a call site. Takes
/// the registrars' lock (which no reader takes) and does not allocate while the table has
/// room.
#[cold]
pub(crate) fn register(cs: &'static Callsite, kinds: &'static [u8]) -> u32 {
    let reg = registry();
    let state = cs.state.load(Ordering::Relaxed); // the lock orders this against other registrars
    if state != 0 {
        return state;
    }
    let state = match SITES.push(Registered { cs, kinds }) {
        Ok(i) => verdict(&reg.filter, cs, i as u32 + 1),
        // No id left: the call site stays off (registered, so this is not tried again).
        Err(_) => DISABLED,
    };
    // Release: publishes the registry entry to every thread that Acquire-loads the state.
    cs.state.store(state, Ordering::Release);
    state
}

/// Replaces the filter and re-evaluates every registered call site.
pub(crate) fn apply_filter(filter: Filter) {
    let mut reg = registry();
    // Under the lock no registration is under way, so every pushed entry is there.
    for (i, r) in (0..).map_while(|i| SITES.get(i).map(|r| (i, r))) {
        // Release, as in `register` (the entry itself was published then already).
        r.cs.state.store(verdict(&filter, r.cs, i as u32 + 1), Ordering::Release);
    }
    reg.filter = filter;
}

/// Copies registered call sites with ids `> known` into `out` (in id order), without a lock.
pub(crate) fn registered_since(known: usize, out: &mut Vec<Registered>) {
    out.extend((known..).map_while(|i| SITES.get(i).copied()));
}

/// Every registered call site that has a sampler, with its id.
pub(crate) fn sampled_sites() -> Vec<(u32, &'static Callsite)> {
    (0..)
        .map_while(|i| SITES.get(i).map(|r| (i, r)))
        .filter(|(_, r)| r.cs.sampler.is_some())
        .map(|(i, r)| (i as u32 + 1, r.cs))
        .collect()
}
