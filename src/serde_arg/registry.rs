//! Shape ids: the process-wide table from fingerprint to shape id and descriptor, and each
//! thread's cache of it, so a value whose shape was seen before costs one array probe.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tapelog_format::serde_value as build;

use crate::sync::table::Table;

/// What registering threads share, under one lock that no reader takes.
struct Registry {
    by_fp: HashMap<u64, u32>,
    /// One id per distinct descriptor, however many fingerprints lead to it.
    by_desc: HashMap<Arc<[u8]>, u32>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Descriptor of shape id `i + 1`. Ids live as long as the process (like call-site ids).
/// The consumer and the text output read it without a lock ([`Table`]). Up to 2^20 shapes.
#[cfg(not(loom))]
static SHAPES: Table<Arc<[u8]>, 4096, 256> = Table::new();
/// (Under loom, made on first use, as `frontend::callsite::SITES`.)
#[cfg(loom)]
static SHAPES: std::sync::LazyLock<Table<Arc<[u8]>, 4096, 256>> = std::sync::LazyLock::new(Table::new);

/// Shapes a registry starts with room for.
const START: usize = 64;

fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut g = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let r = g.get_or_insert_with(|| Registry {
        by_fp: HashMap::with_capacity(START),
        by_desc: HashMap::with_capacity(START),
    });
    f(r)
}

/// Makes room in the shape table for more shapes, off the program's hot paths (by the
/// consumer when it takes new shapes, and by `preallocate`).
pub(crate) fn keep_room() {
    SHAPES.reserve(START);
}

const CACHE: usize = 64;

thread_local! {
    /// Direct-mapped (fingerprint, id) pairs; fingerprint 0 is an empty slot (fingerprints
    /// are never 0). Plain data without a destructor, like the hot path's `Hot`.
    static CACHE_SLOTS: [Cell<(u64, u32)>; CACHE] = const { [const { Cell::new((0, 0)) }; CACHE] };
}

/// The shape id of a value with fingerprint `fp`, registering `v`'s shape on a miss.
#[inline]
pub(crate) fn shape_id<T: serde::Serialize + ?Sized>(fp: u64, v: &T) -> Result<u32, String> {
    let slot = (fp >> 32) as usize % CACHE;
    let hit = CACHE_SLOTS.try_with(|c| {
        let (f, id) = c[slot].get();
        if f == fp {
            id
        } else {
            0
        }
    });
    match hit {
        Ok(id) if id != 0 => Ok(id),
        _ => register(fp, v, slot),
    }
}

#[cold]
#[inline(never)]
fn register<T: serde::Serialize + ?Sized>(fp: u64, v: &T, slot: usize) -> Result<u32, String> {
    let known = with_registry(|r| r.by_fp.get(&fp).copied());
    let id = match known {
        Some(id) => id,
        None => {
            // Built outside the lock: `v`'s Serialize impl is the program's code and may log.
            let shape = build::shape_of(v).map_err(|e| e.0)?;
            let mut desc = Vec::new();
            shape.encode(&mut desc);
            let desc: Arc<[u8]> = desc.into();
            with_registry(|r| {
                let id = match r.by_desc.get(&desc) {
                    Some(&id) => id,
                    None => {
                        let id = SHAPES.push(desc.clone()).map_err(|_| "too many serde shapes (2^20)".to_string())?;
                        let id = id as u32 + 1;
                        r.by_desc.insert(desc, id);
                        id
                    }
                };
                r.by_fp.insert(fp, id);
                Ok::<u32, String>(id)
            })?
        }
    };
    let _ = CACHE_SLOTS.try_with(|c| c[slot].set((fp, id)));
    Ok(id)
}

/// Appends the descriptors of shape ids `known + 1 ..` (in id order) to `out`, without a
/// lock.
pub(crate) fn shapes_since(known: usize, out: &mut Vec<Arc<[u8]>>) {
    out.extend((known..).map_while(|i| SHAPES.get(i).cloned()));
}
