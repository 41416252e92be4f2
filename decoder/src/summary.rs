//! `tapelog stats`: counts per level, call site and thread, drops, time span and size.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use crate::merge::Event;
use crate::{open, report, DiscoverError, Outcome};

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
    /// Records per call site: (run, site id) -> (file:line, format, count).
    pub per_site: HashMap<(usize, u32), (String, String, u64)>,
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
}

/// Reads everything and counts.
pub fn summarize(paths: &[PathBuf], err: &mut dyn Write) -> Result<(Summary, Outcome), DiscoverError> {
    let (mut m, diags) = open(paths)?;
    let mut outcome = Outcome::default();
    report(diags, err, &mut outcome);
    let mut s = Summary::default();
    for run in m.runs() {
        s.metadata.push(run.segments.first().map(|seg| seg.header.metadata.clone()).unwrap_or_default());
        for seg in &run.segments {
            s.segments += 1;
            let len = seg.file.metadata().map(|md| md.len()).unwrap_or(0);
            s.bytes += seg.header.committed.min(len);
        }
    }
    let mut level_counts = [0u64; 6];
    let mut thread_counts: HashMap<(usize, u32), (String, u64)> = HashMap::new();
    while let Some(ev) = m.next() {
        match ev {
            Event::Record(r) => {
                s.records += 1;
                level_counts[r.site.level.map_or(5, |l| l as usize)] += 1;
                s.per_site
                    .entry((r.run, r.site.id))
                    .or_insert_with(|| (format!("{}:{}", r.site.file, r.site.line), r.site.format.clone(), 0))
                    .2 += 1;
                thread_counts.entry((r.run, r.thread.id)).or_insert_with(|| (r.thread.label().into_owned(), 0)).1 += 1;
                s.span = Some(match s.span {
                    None => (r.ts_ns, r.ts_ns),
                    Some((a, b)) => (a.min(r.ts_ns), b.max(r.ts_ns)),
                });
            }
            Event::Drops(d) => {
                s.dropped += d.count;
                s.drop_reports += 1;
            }
        }
    }
    for (i, n) in level_counts.iter().enumerate() {
        if *n > 0 {
            let name = tapelog::Level::from_u8(i as u8).map_or("UNKNOWN", |l| l.as_str());
            s.per_level.insert(name.to_string(), *n);
        }
    }
    for (_, (label, n)) in thread_counts {
        *s.per_thread.entry(label).or_default() += n;
    }
    report(m.take_diagnostics(), err, &mut outcome);
    outcome.records = s.records;
    outcome.drop_reports = s.drop_reports;
    Ok((s, outcome))
}

/// The human-readable report.
pub fn render(s: &Summary, top: usize) -> String {
    let mut o = String::new();
    let mut tf = crate::output::TimeFormatter::default();
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
    let _ = writeln!(o, "per level:");
    for (l, n) in &s.per_level {
        let _ = writeln!(o, "  {l:<5} {n}");
    }
    let _ = writeln!(o, "per thread:");
    for (t, n) in &s.per_thread {
        let _ = writeln!(o, "  {t} {n}");
    }
    let mut sites: Vec<_> = s.per_site.values().collect();
    sites.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let _ = writeln!(o, "per call site (top {top}):");
    for (loc, fmt, n) in sites.into_iter().take(top) {
        let _ = writeln!(o, "  {n:>12} {loc} {fmt:?}");
    }
    o
}
