//! The records and flight-recorder dumps of a logger's segments, read at the level of
//! entries: which records came in RECORDED entries, and the DUMP entries.
//! Include with `#[path = "common/recorded.rs"] mod recorded;`.
#![allow(dead_code)]

use std::collections::HashMap;

use tapelog::wire::reader::Entry;
use tapelog::wire::record::static_args_len;
use tapelog::wire::{unwrap_ticks, EntryReader, Layout, Records};

/// One record read back from the segments.
#[derive(Debug, Clone)]
pub struct Rec {
    pub format: String,
    /// The first argument, if it is a u64.
    pub value: u64,
    pub ticks: u64,
    pub recorded: bool,
}

/// One DUMP entry.
#[derive(Debug, Clone)]
pub struct Dump {
    pub count: u64,
    pub first: u64,
    pub last: u64,
    pub trigger: u64,
    pub reason: String,
}

/// Every record and DUMP entry of the segments in `dir`, in file order.
pub fn read_back(dir: &std::path::Path) -> (Vec<Rec>, Vec<Dump>) {
    let (mut recs, mut dumps) = (Vec::new(), Vec::new());
    for (path, _) in tapelog::list_segments(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let mut r = EntryReader::open(&bytes[..]).unwrap();
        // By call-site id: format, argument kinds.
        let mut sites: HashMap<u32, (String, Vec<u8>)> = HashMap::new();
        while let Some((_, e)) = r.next_entry().unwrap() {
            let (head, payload, recorded) = match e {
                Entry::Callsite(cs) => {
                    sites.insert(cs.id, (cs.format.to_string(), cs.kinds.to_vec()));
                    continue;
                }
                Entry::Dump(d) => {
                    dumps.push(Dump {
                        count: d.count,
                        first: d.first_ticks,
                        last: d.last_ticks,
                        trigger: d.trigger_ticks,
                        reason: d.reason.to_string(),
                    });
                    continue;
                }
                Entry::Batch(h, p) => (h, p, false),
                Entry::Recorded(h, p) => (h, p, true),
                _ => continue,
            };
            let lookup = |id: u32| sites.get(&id).map(|(_, k)| Layout::of(k, static_args_len(k)));
            for rec in Records::new(payload, lookup) {
                let rec = rec.expect("records take apart");
                if rec.drops.is_some() {
                    continue;
                }
                let (format, kinds) = &sites[&rec.id];
                let at = rec.at;
                let mut t = [0u8; 8];
                t[..6].copy_from_slice(&payload[at + 4..at + 10]);
                let value = if kinds.first() == Some(&tapelog::wire::ArgKind::U64.0) {
                    u64::from_le_bytes(payload[rec.args_at()..rec.args_at() + 8].try_into().unwrap())
                } else {
                    u64::MAX
                };
                recs.push(Rec {
                    format: format.clone(),
                    value,
                    ticks: unwrap_ticks(u64::from_le_bytes(t), head.base_ticks),
                    recorded,
                });
            }
        }
    }
    (recs, dumps)
}
