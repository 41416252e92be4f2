//! Call sites: the static metadata of one log statement, registered on its first use, with
//! the run-time filter's verdict cached in it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::sample::Sampler;
use crate::filter::Filter;
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
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub cs: &'static Callsite,
    pub kinds: Arc<[u8]>,
}

struct Registry {
    /// Indexed by `id - 1`. Ids live as long as the process, so they stay valid across
    /// logger restarts.
    sites: Vec<Registered>,
    filter: Filter,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { sites: Vec::new(), filter: Filter::EVERYTHING });

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

fn verdict(filter: &Filter, cs: &Callsite, id: u32) -> u32 {
    if filter.enabled(cs.module, cs.level) {
        id
    } else {
        id | DISABLED
    }
}

/// Registers `cs` (once) and returns its state. Slow path: first use of a call site.
#[cold]
pub(crate) fn register(cs: &'static Callsite, kinds: impl FnOnce(&mut Vec<u8>)) -> u32 {
    let mut reg = registry();
    let state = cs.state.load(Ordering::Relaxed); // the lock orders this against other registrars
    if state != 0 {
        return state;
    }
    let mut k = Vec::new();
    kinds(&mut k);
    reg.sites.push(Registered { cs, kinds: k.into() });
    let id = reg.sites.len() as u32;
    let state = verdict(&reg.filter, cs, id);
    // Release: publishes the registry entry to every thread that Acquire-loads the state.
    cs.state.store(state, Ordering::Release);
    state
}

/// Replaces the filter and re-evaluates every registered call site.
pub(crate) fn apply_filter(filter: Filter) {
    let mut reg = registry();
    for (i, r) in reg.sites.iter().enumerate() {
        // Release, as in `register` (the entry itself was published then already).
        r.cs.state.store(verdict(&filter, r.cs, i as u32 + 1), Ordering::Release);
    }
    reg.filter = filter;
}

/// Copies registered call sites with ids `> known` into `out` (in id order).
pub(crate) fn registered_since(known: usize, out: &mut Vec<Registered>) {
    let reg = registry();
    if reg.sites.len() > known {
        out.extend_from_slice(&reg.sites[known..]);
    }
}

/// Every registered call site that has a sampler, with its id.
pub(crate) fn sampled_sites() -> Vec<(u32, &'static Callsite)> {
    registry()
        .sites
        .iter()
        .enumerate()
        .filter(|(_, r)| r.cs.sampler.is_some())
        .map(|(i, r)| (i as u32 + 1, r.cs))
        .collect()
}
