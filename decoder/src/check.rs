//! `tapelog check`: verifies segments without printing them. For each file it checks the
//! header, every entry's framing and checksum up to the committed length, that dictionary
//! entries precede the records that use them (every segment is self-contained), that every
//! record's arguments decode, and that a finalized file ends at its committed length.
//!
//! Exit codes ([`exit_code`]): 0 every file is OK, 1 some file is corrupt, 2 a path could
//! not be read, 3 the worst is a torn tail (a crash, or a file cut short).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use tapelog_format::text::Template;
use tapelog_format::wire::kinds::ArgKind;
use tapelog_format::wire::reader::{Entry, EntryReader, Next, ReadError};
use tapelog_format::wire::{Layout, Malformed, RecordError, Records, Value, DROP_MARKER_ID, RECORD_HEADER_LEN};

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Everything committed is valid.
    Ok,
    /// The data ends inside an entry at `offset`; everything before it is valid.
    Torn {
        /// Byte offset of the incomplete entry.
        offset: u64,
        /// Details.
        message: String,
    },
    /// The first damage found is at `offset`.
    Corrupt {
        /// Byte offset of the damaged header field or entry.
        offset: u64,
        /// Details.
        message: String,
    },
    /// The file could not be read at all.
    Unreadable(String),
}

/// The verdict on one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// The verdict.
    pub status: Status,
    /// Whether the writer closed it cleanly.
    pub finalized: bool,
    /// Valid entries read.
    pub entries: u64,
    /// Valid records read (drop markers not included).
    pub records: u64,
    /// Damaged entries found (checksum or payload errors), including the first.
    pub damaged: u64,
    /// Committed bytes the header declares.
    pub committed: u64,
}

/// Verifies one file.
pub fn check_file(path: &Path) -> FileReport {
    let mut r = FileReport {
        path: path.to_path_buf(),
        status: Status::Ok,
        finalized: false,
        entries: 0,
        records: 0,
        damaged: 0,
        committed: 0,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            r.status = Status::Unreadable(e.to_string());
            return r;
        }
    };
    let file_len = file.metadata().map_or(0, |m| m.len());
    let mut reader = match EntryReader::open(&file) {
        Ok(rd) => rd,
        Err(e) => {
            r.status = status_of(e);
            return r;
        }
    };
    r.finalized = reader.header().is_finalized();
    r.committed = reader.header().committed;
    let mut v = Validator::default();
    while let Some(next) = reader.next_checked(|_| true) {
        let (h, e) = match next {
            Next::Entry(h, e) => (h, e),
            Next::Unloaded(_) => continue,
            Next::Damaged(e) | Next::Stopped(e) => {
                r.damaged += 1;
                r.damage(status_of(e));
                continue;
            }
            Next::End(e) => {
                r.damage(status_of(e));
                continue;
            }
        };
        match v.entry(e) {
            Ok(n) => {
                r.entries += 1;
                r.records += n;
            }
            Err(what) => {
                r.damaged += 1;
                r.damage(Status::Corrupt { offset: h.off, message: what });
            }
        }
    }
    if r.finalized && file_len > r.committed {
        let message = format!("finalized segment has {} bytes past its committed length", file_len - r.committed);
        r.damage(Status::Corrupt { offset: r.committed, message });
    }
    r
}

impl FileReport {
    /// Keeps the first damage (a torn tail after corruption does not hide it).
    fn damage(&mut self, s: Status) {
        if self.status == Status::Ok
            || matches!(self.status, Status::Torn { .. }) && matches!(s, Status::Corrupt { .. })
        {
            self.status = s;
        }
    }

    /// One line for humans.
    pub fn line(&self) -> String {
        let p = self.path.display();
        match &self.status {
            Status::Ok if self.finalized => {
                format!("{p}: OK ({} entries, {} records, {} bytes)", self.entries, self.records, self.committed)
            }
            Status::Ok => format!(
                "{p}: OK, not finalized (writer live or crashed; {} entries, {} records, {} committed bytes)",
                self.entries, self.records, self.committed
            ),
            Status::Torn { offset, message } => format!("{p}: TORN at byte {offset}: {message}"),
            Status::Corrupt { offset, message } => {
                let more =
                    if self.damaged > 1 { format!(" ({} damaged entries)", self.damaged) } else { String::new() };
                format!("{p}: CORRUPT at byte {offset}: {message}{more}")
            }
            Status::Unreadable(m) => format!("{p}: UNREADABLE: {m}"),
        }
    }

    /// One NDJSON object.
    pub fn json(&self) -> serde_json::Value {
        let (status, offset, message) = match &self.status {
            Status::Ok => ("ok", None, None),
            Status::Torn { offset, message } => ("torn", Some(*offset), Some(message.clone())),
            Status::Corrupt { offset, message } => ("corrupt", Some(*offset), Some(message.clone())),
            Status::Unreadable(m) => ("unreadable", None, Some(m.clone())),
        };
        serde_json::json!({
            "path": self.path.display().to_string(),
            "status": status,
            "offset": offset,
            "message": message,
            "finalized": self.finalized,
            "entries": self.entries,
            "records": self.records,
            "damaged_entries": self.damaged,
            "committed": self.committed,
        })
    }
}

/// The exit code for a set of reports (see the module docs).
pub fn exit_code(reports: &[FileReport]) -> i32 {
    let has = |f: fn(&Status) -> bool| reports.iter().any(|r| f(&r.status));
    if has(|s| matches!(s, Status::Corrupt { .. })) {
        1
    } else if has(|s| matches!(s, Status::Unreadable(_))) {
        2
    } else if has(|s| matches!(s, Status::Torn { .. })) {
        3
    } else {
        0
    }
}

fn status_of(e: ReadError) -> Status {
    use tapelog_format::wire::header::HeaderError;
    match e {
        ReadError::Torn { offset, need, have } => {
            Status::Torn { offset, message: format!("entry needs {need} bytes, {have} present") }
        }
        ReadError::Header(HeaderError::Truncated { need, have }) => {
            Status::Torn { offset: have as u64, message: format!("header needs {need} bytes, file has {have}") }
        }
        ReadError::Header(h) => {
            let offset = match &h {
                HeaderError::UnsupportedVersion(_) => 8,
                HeaderError::Corrupt { offset, .. } => *offset as u64,
                _ => 0,
            };
            Status::Corrupt { offset, message: h.to_string() }
        }
        ReadError::Corrupt { offset, what } => Status::Corrupt { offset, message: what },
        ReadError::Checksum { offset } => Status::Corrupt { offset, message: "checksum mismatch".into() },
        ReadError::Io(e) => Status::Unreadable(e.to_string()),
    }
}

/// What one segment has defined so far.
#[derive(Default)]
struct Validator {
    /// Call site id -> argument kinds.
    sites: HashMap<u32, Vec<u8>>,
    threads: HashSet<u32>,
    anchored: bool,
    /// Shapes of serde arguments defined so far in this segment.
    shapes: tapelog_format::serde_value::Shapes,
}

impl Validator {
    /// Checks one decoded entry; returns the records it holds.
    fn entry(&mut self, e: Entry<'_>) -> Result<u64, String> {
        match e {
            Entry::Shape(s) => {
                let shape = s.shape().map_err(|e| format!("shape {}: {e}", s.id))?;
                self.shapes.insert(s.id, shape);
                Ok(0)
            }
            Entry::Callsite(cs) => {
                if let Some(k) = cs.kinds.iter().find(|&&k| !ArgKind(k).is_known()) {
                    return Err(format!("call site {} has unknown argument kind 0x{k:02x}", cs.id));
                }
                let t =
                    Template::parse(cs.format).map_err(|e| format!("call site {}: bad format string: {e}", cs.id))?;
                if cs.fields.len() > cs.kinds.len() || t.arg_count() > cs.kinds.len() - cs.fields.len() {
                    return Err(format!(
                        "call site {}: {} arguments cannot hold {} message arguments and {} fields",
                        cs.id,
                        cs.kinds.len(),
                        t.arg_count(),
                        cs.fields.len()
                    ));
                }
                if cs.id == DROP_MARKER_ID {
                    return Err("call site id 0 is reserved for drop markers".into());
                }
                if let Some(prev) = self.sites.insert(cs.id, cs.kinds.to_vec()) {
                    if prev != cs.kinds {
                        return Err(format!("call site {} defined twice with different kinds", cs.id));
                    }
                }
                Ok(0)
            }
            Entry::Thread(t) => {
                self.threads.insert(t.thread);
                Ok(0)
            }
            Entry::Anchor(_) => {
                self.anchored = true;
                Ok(0)
            }
            Entry::Batch(h, recs) | Entry::Recorded(h, recs) => {
                if !self.anchored {
                    return Err("batch before any anchor".into());
                }
                if !self.threads.contains(&h.thread) {
                    return Err(format!("batch of thread {} before its THREAD entry", h.thread));
                }
                self.records(recs)
            }
            Entry::Drops(_) | Entry::ThreadEnd(_) | Entry::Run(_) | Entry::Dump(_) | Entry::Unknown { .. } => Ok(0),
        }
    }

    fn records(&self, recs: &[u8]) -> Result<u64, String> {
        let mut n = 0u64;
        let mut vals = Vec::new();
        let layout = |id| self.sites.get(&id).map(|k| Layout::Kinds(k));
        for rec in Records::new(recs, layout) {
            let rec = rec.map_err(|e| self.record_error(recs, e))?;
            if rec.drops.is_none() {
                self.decode(recs, rec.at, rec.id, &mut vals)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Decodes the arguments of the record of call site `id` at `at` (to check them).
    fn decode<'a>(&self, recs: &'a [u8], at: usize, id: u32, vals: &mut Vec<Value<'a>>) -> Result<(), String> {
        let kinds = self.sites.get(&id).map_or(&[][..], |k| &k[..]);
        vals.clear();
        crate::output::decode_args(kinds, &recs[at + RECORD_HEADER_LEN..], &self.shapes, vals)
            .map_err(|e| format!("record at batch byte {at} (call site {id}): {e}"))
    }

    /// The message for a record that cannot be walked. Arguments that cannot be measured
    /// are decoded first, whose error names the argument.
    fn record_error(&self, recs: &[u8], e: RecordError) -> String {
        let at = e.at;
        match e.what {
            Malformed::Header => format!("record header at batch byte {at} runs past the batch"),
            Malformed::Marker => format!("drop marker at batch byte {at} runs past the batch"),
            Malformed::UnknownSite(id) => {
                format!("record at batch byte {at} uses call site {id}, not defined before it in this segment")
            }
            Malformed::Args { id, error } => match self.decode(recs, at, id, &mut Vec::new()) {
                Err(m) => m,
                Ok(()) => error.to_string(),
            },
        }
    }
}

/// Expands directories into their segment files; other paths are kept as given (a missing
/// one is then reported as unreadable).
pub fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            match crate::discover::expand(std::slice::from_ref(p)) {
                Ok(v) => out.extend(v),
                Err(_) => out.push(p.clone()),
            }
        } else {
            out.push(p.clone());
        }
    }
    out
}
