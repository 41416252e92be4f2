//! Call sites: the static metadata of one log statement, registered on its first use.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::Level;

/// Static metadata of one log statement. Created by the log macros as a `static`; not meant to
/// be built by hand.
#[derive(Debug)]
pub struct Callsite {
    /// 0 until registered, then the id records carry. Written once under the registry lock.
    id: AtomicU32,
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
}

impl Callsite {
    /// Metadata for a macro-generated `static`.
    pub const fn new(level: Level, format: &'static str, module: &'static str, file: &'static str, line: u32) -> Self {
        Callsite { id: AtomicU32::new(0), level, format, module, file, line }
    }

    /// The registered id, or 0.
    #[inline(always)]
    pub fn id(&self) -> u32 {
        // Acquire pairs with the Release in `register`: a thread that sees the id also sees
        // the registry entry, and so does the consumer that later reads this thread's record
        // (the ring's Release/Acquire carries the chain). On x86 this is a plain load.
        self.id.load(Ordering::Acquire)
    }
}

/// A registered call site, as the consumer needs it.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub cs: &'static Callsite,
    pub kinds: Arc<[u8]>,
}

/// Every call site of the process, indexed by `id - 1`. Ids live as long as the process, so
/// they stay valid across logger restarts.
static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Registers `cs` (once) and returns its id. Slow path: first use of a call site.
#[cold]
pub(crate) fn register(cs: &'static Callsite, kinds: impl FnOnce(&mut Vec<u8>)) -> u32 {
    let mut reg = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let id = cs.id.load(Ordering::Relaxed); // the lock orders this against other registrars
    if id != 0 {
        return id;
    }
    let mut k = Vec::new();
    kinds(&mut k);
    reg.push(Registered { cs, kinds: k.into() });
    let id = reg.len() as u32;
    // Release: publishes the registry entry to every thread that Acquire-loads the id.
    cs.id.store(id, Ordering::Release);
    id
}

/// Copies registered call sites with ids `> known` into `out` (in id order).
pub(crate) fn registered_since(known: usize, out: &mut Vec<Registered>) {
    let reg = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    if reg.len() > known {
        out.extend_from_slice(&reg[known..]);
    }
}
