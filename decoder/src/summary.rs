//! `tapelog stats`: counts per level, call site and thread, drops, time span and size.
//!
//! Counting needs no timestamp order, so this does not merge: it reads each segment once,
//! front to back, and walks every batch's records by their call sites' lengths (one table
//! lookup per record). Only the first and last record of each batch get a timestamp.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use tapelog_format::wire::reader::{Entry, EntryReader, Next, ReadError};
use tapelog_format::wire::record::Anchor;
use tapelog_format::wire::{unwrap_ticks, Malformed, Records};

use crate::event::{Diagnostic, RunTables};
use crate::{report, DiscoverError, Outcome};

/// Counts of one call site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteStats {
    /// `file:line`.
    pub location: String,
    /// The format string.
    pub format: String,
    /// Level name.
    pub level: String,
    /// Records logged there.
    pub records: u64,
    /// Bytes those records take in batches (record headers and arguments).
    pub bytes: u64,
}

/// Statistics over a set of segments.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Segment files read.
    pub segments: u64,
    /// Committed bytes of those files.
    pub bytes: u64,
    /// Records.
    pub records: u64,
    /// Records per level name.
    pub per_level: BTreeMap<String, u64>,
    /// Per call site, keyed by (run, site id).
    pub per_site: HashMap<(usize, u32), SiteStats>,
    /// Records per thread label.
    pub per_thread: BTreeMap<String, u64>,
    /// Records reported dropped.
    pub dropped: u64,
    /// Drop reports.
    pub drop_reports: u64,
    /// First and last timestamps (Unix ns).
    pub span: Option<(i128, i128)>,
    /// Header metadata of each run.
    pub metadata: Vec<Vec<(String, String)>>,
    /// The loggers' start-up and clean-shutdown records, in file order.
    pub lifecycle: Vec<Lifecycle>,
    /// Records a flight recorder kept and dumps wrote out (counted in `records` too).
    pub recorded: u64,
    /// Flight-recorder dumps (DUMP entries).
    pub dumps: u64,
}

/// A logger's start-up record (configuration, format version, tick rate) or clean-shutdown
/// record (totals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// `started` or `stopped`.
    pub phase: &'static str,
    /// When, Unix ns.
    pub unix_ns: u64,
    /// What, in order.
    pub items: Vec<(String, String)>,
}

impl Summary {
    /// Average bytes on disk per record (headers, dictionaries and framing included).
    pub fn bytes_per_record(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.bytes as f64 / self.records as f64
        }
    }

    /// Call sites, most records (or bytes) first.
    pub fn top_sites(&self, by_bytes: bool) -> Vec<&SiteStats> {
        let mut v: Vec<&SiteStats> = self.per_site.values().collect();
        v.sort_by(|a, b| {
            let (ka, kb) = if by_bytes { (a.bytes, b.bytes) } else { (a.records, b.records) };
            kb.cmp(&ka).then_with(|| a.location.cmp(&b.location)).then_with(|| a.format.cmp(&b.format))
        });
        v
    }
}

/// Per-site counters during the scan, indexed by call-site id.
#[derive(Default, Clone, Copy)]
struct Count {
    records: u64,
    bytes: u64,
}

/// Reads everything and counts.
pub fn summarize(paths: &[PathBuf], err: &mut dyn Write) -> Result<(Summary, Outcome), DiscoverError> {
    let files = crate::discover::expand(paths)?;
    let (runs, errs) = crate::discover::open_runs(&files);
    let mut outcome = Outcome::default();
    let mut diags: Vec<Diagnostic> = errs.into_iter().map(|e| Diagnostic::from_read(e.path, e.error)).collect();
    let mut s = Summary::default();
    let mut level_counts = [0u64; 6];
    for (r, run) in runs.iter().enumerate() {
        s.metadata.push(run.segments.first().map(|seg| seg.header.metadata.clone()).unwrap_or_default());
        let mut tables = RunTables::default();
        let mut counts: Vec<Count> = Vec::new();
        let mut threads: HashMap<u32, u64> = HashMap::new();
        for seg in &run.segments {
            s.segments += 1;
            let len = seg.file.metadata().map(|md| md.len()).unwrap_or(0);
            s.bytes += seg.header.committed.min(len);
            let mut scan =
                Scan { tables: &mut tables, counts: &mut counts, threads: &mut threads, s: &mut s, anchor: None };
            scan.segment(seg, len, &mut diags);
        }
        for (id, c) in counts.iter().enumerate() {
            let Some(site) = tables.site(id as u32).filter(|_| c.records > 0) else { continue };
            level_counts[site.level.map_or(5, |l| l as usize)] += c.records;
            s.per_site.insert(
                (r, id as u32),
                SiteStats {
                    location: format!("{}:{}", site.file, site.line),
                    format: site.format.clone(),
                    level: site.level.map_or("UNKNOWN", |l| l.as_str()).to_string(),
                    records: c.records,
                    bytes: c.bytes,
                },
            );
        }
        for (t, n) in threads {
            *s.per_thread.entry(tables.thread(t).label().into_owned()).or_default() += n;
        }
    }
    for (i, n) in level_counts.iter().enumerate() {
        if *n > 0 {
            let name = tapelog_format::Level::from_u8(i as u8).map_or("UNKNOWN", |l| l.as_str());
            s.per_level.insert(name.to_string(), *n);
        }
    }
    report(diags, err, &mut outcome);
    outcome.records = s.records;
    outcome.drop_reports = s.drop_reports;
    Ok((s, outcome))
}

struct Scan<'a> {
    tables: &'a mut RunTables,
    counts: &'a mut Vec<Count>,
    threads: &'a mut HashMap<u32, u64>,
    s: &'a mut Summary,
    anchor: Option<Anchor>,
}

impl Scan<'_> {
    fn segment(&mut self, seg: &crate::discover::Segment, file_len: u64, diags: &mut Vec<Diagnostic>) {
        let diag = |e: ReadError| Diagnostic::from_read(seg.path.clone(), e);
        let mut reader = match EntryReader::open(&*seg.file) {
            Ok(r) => r,
            Err(e) => return diags.push(diag(e)),
        };
        while let Some(next) = reader.next_checked(|_| true) {
            let (h, e) = match next {
                Next::Entry(h, e) => (h, e),
                Next::Unloaded(_) => continue,
                Next::Damaged(e) | Next::Stopped(e) | Next::End(e) => {
                    diags.push(diag(e));
                    continue;
                }
            };
            match e {
                Entry::Callsite(cs) => {
                    self.tables.add_site(&cs);
                    if self.counts.len() < self.tables.sites.len() {
                        self.counts.resize(self.tables.sites.len(), Count::default());
                    }
                }
                Entry::Thread(t) => self.tables.add_thread(&t),
                Entry::Anchor(a) => self.anchor = Some(a),
                Entry::Batch(bh, recs) => {
                    if let Err(m) = self.batch(bh.thread, bh.base_ticks, recs) {
                        let what = format!("thread {}: {m} (rest of batch skipped)", bh.thread);
                        diags.push(diag(ReadError::Corrupt { offset: h.off, what }));
                    }
                }
                Entry::Recorded(bh, recs) => {
                    let before = self.s.records;
                    if let Err(m) = self.batch(bh.thread, bh.base_ticks, recs) {
                        let what = format!("thread {}: {m} (rest of recorded batch skipped)", bh.thread);
                        diags.push(diag(ReadError::Corrupt { offset: h.off, what }));
                    }
                    self.s.recorded += self.s.records - before;
                }
                Entry::Dump(_) => self.s.dumps += 1,
                Entry::Drops(d) => {
                    self.s.dropped += d.count;
                    self.s.drop_reports += 1;
                }
                Entry::Run(r) => self.s.lifecycle.push(Lifecycle {
                    phase: if r.phase == tapelog_format::wire::record::RunInfo::STOP { "stopped" } else { "started" },
                    unix_ns: r.unix_ns,
                    items: r.items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                }),
                _ => {}
            }
        }
        diags.extend(Diagnostic::segment_end(seg.path.clone(), reader.header(), reader.end(), file_len));
    }

    /// Counts the records of one batch: the hot loop of `stats`.
    fn batch(&mut self, thread: u32, base: u64, recs: &[u8]) -> Result<(), Malformed> {
        let (mut first, mut last, mut n) = (None, None, 0u64);
        let mut result = Ok(());
        let tables = &*self.tables;
        for rec in Records::new(recs, |id| tables.layout(id)) {
            let rec = match rec {
                Ok(rec) => rec,
                Err(e) => {
                    result = Err(e.what);
                    break;
                }
            };
            if let Some(d) = rec.drops {
                self.s.dropped += d.count;
                self.s.drop_reports += 1;
                continue;
            }
            let c = &mut self.counts[rec.id as usize];
            c.records += 1;
            c.bytes += rec.len as u64;
            first.get_or_insert(rec.ticks48);
            last = Some(rec.ticks48);
            n += 1;
        }
        for t48 in first.into_iter().chain(last) {
            span(self.s, self.anchor.as_ref(), unwrap_ticks(t48, base));
        }
        self.s.records += n;
        *self.threads.entry(thread).or_default() += n;
        result
    }
}

/// Widens the summary's time span to take in `ticks`.
fn span(s: &mut Summary, anchor: Option<&Anchor>, ticks: u64) {
    let ts = crate::event::ticks_to_ns(anchor, ticks);
    s.span = Some(match s.span {
        None => (ts, ts),
        Some((a, b)) => (a.min(ts), b.max(ts)),
    });
}

/// The human-readable report, listing the `top` call sites by records (or by bytes).
pub fn render(s: &Summary, top: usize, by_bytes: bool) -> String {
    let mut o = String::new();
    let mut tf = crate::timefmt::TimeFormatter::default();
    for (i, md) in s.metadata.iter().enumerate() {
        if !md.is_empty() {
            let kv: Vec<String> = md.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(o, "run {i}: {}", kv.join(" "));
        }
    }
    let _ = writeln!(
        o,
        "segments: {}  bytes: {}  records: {}  bytes/record: {:.2}",
        s.segments,
        s.bytes,
        s.records,
        s.bytes_per_record()
    );
    if let Some((a, b)) = s.span {
        let mut sa = String::new();
        let mut sb = String::new();
        tf.write(&mut sa, a);
        tf.write(&mut sb, b);
        let _ = writeln!(o, "span: {sa} .. {sb} ({:.6} s)", (b - a) as f64 / 1e9);
    }
    let _ = writeln!(o, "dropped: {} records in {} reports", s.dropped, s.drop_reports);
    if s.dumps > 0 || s.recorded > 0 {
        let _ = writeln!(o, "flight recorder: {} recorded records in {} dumps", s.recorded, s.dumps);
    }
    for l in &s.lifecycle {
        let mut t = String::new();
        tf.write(&mut t, l.unix_ns as i128);
        let kv: Vec<String> = l.items.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(o, "logger {} {t}: {}", l.phase, kv.join(" "));
    }
    let _ = writeln!(o, "per level:");
    for (l, n) in &s.per_level {
        let _ = writeln!(o, "  {l:<5} {n}");
    }
    let _ = writeln!(o, "per thread:");
    for (t, n) in &s.per_thread {
        let _ = writeln!(o, "  {t} {n}");
    }
    let total_bytes: u64 = s.per_site.values().map(|v| v.bytes).sum();
    let pct = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 * 100.0 / of as f64 };
    let _ = writeln!(o, "per call site (top {top} by {}):", if by_bytes { "bytes" } else { "records" });
    let _ = writeln!(o, "  {:>12} {:>6} {:>12} {:>6}  location format", "records", "%", "bytes", "%");
    for site in s.top_sites(by_bytes).into_iter().take(top) {
        let _ = writeln!(
            o,
            "  {:>12} {:>5.1}% {:>12} {:>5.1}%  {} {:?}",
            site.records,
            pct(site.records, s.records),
            site.bytes,
            pct(site.bytes, total_bytes),
            site.location,
            site.format
        );
    }
    o
}

/// The machine-readable report (`tapelog stats --json`).
pub fn to_json(s: &Summary, top: usize, by_bytes: bool) -> serde_json::Value {
    use serde_json::json;
    let ts = |ns: i128| {
        let mut t = String::new();
        crate::timefmt::TimeFormatter::default().write(&mut t, ns);
        t
    };
    let span = s.span.map(|(a, b)| {
        json!({ "first_ns": a as i64, "last_ns": b as i64, "first": ts(a), "last": ts(b), "seconds": (b - a) as f64 / 1e9 })
    });
    let sites: Vec<_> = s
        .top_sites(by_bytes)
        .into_iter()
        .take(top)
        .map(|c| {
            json!({ "location": c.location, "format": c.format, "level": c.level, "records": c.records, "bytes": c.bytes })
        })
        .collect();
    let runs: Vec<_> =
        s.metadata.iter().map(|md| json!({ "metadata": md.iter().cloned().collect::<BTreeMap<_, _>>() })).collect();
    let mut j = json!({
        "segments": s.segments,
        "bytes": s.bytes,
        "records": s.records,
        "bytes_per_record": s.bytes_per_record(),
        "span": span,
        "dropped": { "records": s.dropped, "reports": s.drop_reports },
        "per_level": s.per_level,
        "per_thread": s.per_thread,
        "call_sites": sites,
        "call_sites_total": s.per_site.len(),
        "runs": runs,
        "lifecycle": s.lifecycle.iter().map(|l| json!({
            "phase": l.phase,
            "unix_ns": l.unix_ns,
            "time": ts(l.unix_ns as i128),
            "items": l.items.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    if s.dumps > 0 || s.recorded > 0 {
        j["flight_recorder"] = json!({ "recorded": s.recorded, "dumps": s.dumps });
    }
    j
}
