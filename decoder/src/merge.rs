//! Merging every thread of every segment into one stream in timestamp order.
//!
//! Within a thread, records are already in tick order (each is stamped when it enters the
//! thread's ring). So the merger keeps one cursor per thread of each run and a heap of their
//! next timestamps. A cursor walks its thread's batches segment by segment, using a small
//! per-segment index (batch offsets, anchors, dictionary entries) built on first need and
//! freed when no cursor needs it, so memory stays flat however large the input is.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use tapelog_format::wire::reader::{Entry, EntryHead, EntryReader, Next, ReadAt, ReadError};
use tapelog_format::wire::record::{Anchor, BatchHead, Drops, ThreadEnd};
use tapelog_format::wire::{entry, unwrap_ticks, Records, BATCH_FIXED_LEN, ENTRY_HEADER_LEN};

use crate::discover::Run;
use crate::event::RunTables;
use crate::event::TickClock;
pub use crate::event::{Diagnostic, DropsRef, DumpRef, Event, RecordRef, Severity, SiteInfo, Source, Step, ThreadInfo};

enum Item {
    Batch { off: u64, len: u32 },
    Drops(Drops),
    End(ThreadEnd),
    Dump(Dump),
}

/// A DUMP entry, owned.
#[derive(Clone)]
struct Dump {
    count: u64,
    first_ticks: u64,
    last_ticks: u64,
    trigger_ticks: u64,
    reason: String,
}

/// What a cursor walks: a thread's BATCH entries (with its drop reports and end), the
/// RECORDED entries of one thread written before a given DUMP entry of the run (a dump's
/// records may be older than anything before them, so each dump is a sequence of its
/// own), or the run's DUMP entries.
type Key = u64;
const RECORDED_BIT: Key = 1 << 32;
const DUMPS_KEY: Key = Key::MAX;

fn recorded_key(thread: u32, dump: u64) -> Key {
    thread as Key | RECORDED_BIT | (dump << 33)
}

struct SegIndex {
    items: HashMap<Key, Vec<(u64, Item)>>,
    anchors: Vec<(u64, Anchor)>,
    /// DUMP entries in the segment.
    dumps: u64,
}

struct RunState {
    run: Run,
    tables: RunTables,
    indexes: Vec<Weak<SegIndex>>,
    /// By segment: DUMP entries in the run's segments before it.
    dumps_before: Vec<u64>,
    /// Final counters per thread, from THREAD_END entries.
    pub ends: HashMap<u32, ThreadEnd>,
}

enum Head {
    Record { ts: i128, ticks: u64, site: u32, start: usize, end: usize },
    Drops { ts: i128, count: u64, first: i128, last: i128 },
    Dump { ts: i128, count: u64, first: i128, last: i128, reason: String },
}

struct Cursor {
    run: usize,
    thread: u32,
    key: Key,
    seg: usize,
    index: Option<Rc<SegIndex>>,
    item: usize,
    anchor_idx: usize,
    /// The anchor in force, as a clock.
    anchor: Option<TickClock>,
    /// The bytes of its segment read ahead; the loaded batch is `window.buf[bstart..bend]`.
    window: Window,
    bstart: usize,
    bend: usize,
    pos: usize,
    base: u64,
    head: Option<Head>,
    last_ts: i128,
}

impl Cursor {
    /// The loaded batch's payload (empty when none is loaded).
    fn batch(&self) -> &[u8] {
        &self.window.buf[self.bstart..self.bend]
    }

    /// The ticks and timestamp of a record of the loaded batch stamped `t48`; the
    /// timestamp never goes back within the thread.
    #[inline(always)]
    fn stamp(&self, t48: u64) -> (u64, i128) {
        let ticks = unwrap_ticks(t48, self.base);
        (ticks, to_ns(self.anchor.as_ref(), ticks).max(self.last_ts))
    }
}

/// The merged, time-ordered stream over a set of runs.
pub struct Merger {
    runs: Vec<RunState>,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(i128, u64, usize)>>,
    diags: Vec<Diagnostic>,
    /// Diagnostics already reported (segments may be indexed more than once).
    seen: std::collections::HashSet<(PathBuf, Option<u64>, String)>,
    advance: Option<usize>,
    /// Batch payload bytes loaded so far.
    bytes_read: u64,
}

impl std::fmt::Debug for Merger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merger").field("runs", &self.runs.len()).field("cursors", &self.cursors.len()).finish()
    }
}

impl Merger {
    /// Prepares cursors for every thread of every run.
    pub fn new(runs: Vec<Run>) -> Merger {
        let mut m = Merger {
            runs: Vec::new(),
            cursors: Vec::new(),
            heap: BinaryHeap::new(),
            diags: Vec::new(),
            seen: Default::default(),
            advance: None,
            bytes_read: 0,
        };
        for run in runs {
            let n = run.segments.len();
            m.runs.push(RunState {
                run,
                tables: RunTables::default(),
                indexes: (0..n).map(|_| Weak::new()).collect(),
                dumps_before: vec![0; n],
                ends: HashMap::new(),
            });
        }
        for r in 0..m.runs.len() {
            // Discover threads (and the first segment each appears in).
            let mut first_seen: Vec<(Key, usize)> = Vec::new();
            let mut dumps = 0;
            for s in 0..m.runs[r].run.segments.len() {
                m.runs[r].dumps_before[s] = dumps;
                if let Some(idx) = m.index(r, s) {
                    dumps += idx.dumps;
                    let mut ids: Vec<Key> = idx.items.keys().copied().collect();
                    ids.sort_unstable();
                    for t in ids {
                        if !first_seen.iter().any(|(id, _)| *id == t) {
                            first_seen.push((t, s));
                        }
                    }
                }
            }
            for (key, seg) in first_seen {
                m.cursors.push(Cursor {
                    run: r,
                    thread: if key == DUMPS_KEY { u32::MAX } else { key as u32 },
                    key,
                    seg,
                    index: None,
                    item: 0,
                    anchor_idx: 0,
                    anchor: None,
                    // A dump's records are read entry by entry: there may be many dumps.
                    window: Window { small: key != key as u32 as Key, ..Window::default() },
                    bstart: 0,
                    bend: 0,
                    pos: 0,
                    base: 0,
                    head: None,
                    last_ts: i128::MIN,
                });
            }
        }
        for c in 0..m.cursors.len() {
            m.requeue(c);
        }
        m
    }

    /// Problems found so far (drained).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        let all = std::mem::take(&mut self.diags);
        all.into_iter().filter(|d| self.seen.insert((d.path.clone(), d.offset, d.message.clone()))).collect()
    }

    /// The runs being merged.
    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter().map(|r| &r.run)
    }

    /// Final per-thread counters seen so far (from THREAD_END entries), per run.
    pub fn thread_ends(&self, run: usize) -> impl Iterator<Item = &ThreadEnd> {
        self.runs[run].ends.values()
    }

    /// Threads known in a run.
    pub fn threads(&self, run: usize) -> impl Iterator<Item = &ThreadInfo> {
        self.runs[run].tables.threads.values()
    }

    /// The next event in timestamp order, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Option<Event<'_>> {
        let c = match self.advance.take() {
            // The cursor just emitted usually holds the next event too (one busy thread, or
            // a run of records older than every other head): skip the heap then.
            Some(c) => match self.advance_cursor(c) {
                Some(key) if self.heap.peek().is_none_or(|Reverse(top)| key < *top) => c,
                Some(key) => {
                    let Reverse(top) = self.heap.pop()?;
                    self.heap.push(Reverse(key));
                    top.2
                }
                None => self.heap.pop()?.0 .2,
            },
            None => self.heap.pop()?.0 .2,
        };
        self.advance = Some(c);
        let cur = &self.cursors[c];
        let run = &self.runs[cur.run];
        let thread = run.tables.thread(cur.thread);
        match cur.head.as_ref()? {
            Head::Record { ts, ticks, site, start, end } => Some(Event::Record(RecordRef {
                ts_ns: *ts,
                ticks: *ticks,
                run: cur.run,
                thread,
                site: run.tables.site(*site)?,
                args: &cur.batch()[*start..*end],
                shapes: &run.tables.shapes,
                recorded: cur.key & RECORDED_BIT != 0,
            })),
            Head::Drops { ts, count, first, last } => Some(Event::Drops(DropsRef {
                ts_ns: *ts,
                run: cur.run,
                thread,
                count: *count,
                first_ns: *first,
                last_ns: *last,
            })),
            Head::Dump { ts, count, first, last, reason } => Some(Event::Dump(DumpRef {
                ts_ns: *ts,
                run: cur.run,
                count: *count,
                first_ns: *first,
                last_ns: *last,
                reason,
            })),
        }
    }

    /// Input bytes (batch entries) loaded so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Moves cursor `c` to its next head and queues it.
    fn requeue(&mut self, c: usize) {
        if let Some(key) = self.advance_cursor(c) {
            self.heap.push(Reverse(key));
        }
    }

    /// Moves cursor `c` to its next head; returns its heap key, `None` at its end.
    #[inline(always)]
    fn advance_cursor(&mut self, c: usize) -> Option<(i128, u64, usize)> {
        match self.quick_advance(c) {
            Some(key) => Some(key),
            None => self.advance_cursor_full(c),
        }
    }

    /// [`Self::advance_cursor`] in the common case, small enough to inline into the
    /// printer's loop: the next item is a whole record of the loaded batch. `None` (and
    /// nothing changed) for anything else: a drop marker, the batch's end, or damage, all
    /// of which the full path handles.
    #[inline(always)]
    fn quick_advance(&mut self, c: usize) -> Option<(i128, u64, usize)> {
        let cur = self.cursors.get_mut(c)?;
        let tables = &self.runs.get(cur.run)?.tables;
        let rec = Records::starting_at(cur.batch(), cur.pos, |id| tables.layout(id)).next()?.ok()?;
        if rec.drops.is_some() {
            return None;
        }
        let (ticks, ts) = cur.stamp(rec.ticks48);
        cur.pos = rec.end();
        cur.last_ts = ts;
        cur.head = Some(Head::Record { ts, ticks, site: rec.id, start: rec.args_at(), end: rec.end() });
        Some((ts, ticks, c))
    }

    #[inline(never)]
    fn advance_cursor_full(&mut self, c: usize) -> Option<(i128, u64, usize)> {
        self.cursors[c].head = None;
        let head = self.next_head(c)?;
        let (ts, ticks) = match &head {
            Head::Record { ts, ticks, .. } => (*ts, *ticks),
            Head::Drops { ts, .. } => (*ts, 0),
            // After the records of its instant: the triggering record comes first.
            Head::Dump { ts, .. } => (*ts, u64::MAX),
        };
        let cur = &mut self.cursors[c];
        cur.last_ts = ts;
        cur.head = Some(head);
        Some((ts, ticks, c))
    }

    fn next_head(&mut self, c: usize) -> Option<Head> {
        loop {
            // 1. A record left in the loaded batch?
            let cur = &mut self.cursors[c];
            let tables = &self.runs[cur.run].tables;
            match Records::starting_at(cur.batch(), cur.pos, |id| tables.layout(id)).next() {
                Some(Ok(rec)) => {
                    let (ticks, ts) = cur.stamp(rec.ticks48);
                    cur.pos = rec.end();
                    let Some(d) = rec.drops else {
                        return Some(Head::Record { ts, ticks, site: rec.id, start: rec.args_at(), end: rec.end() });
                    };
                    let a = cur.anchor.as_ref();
                    let (first, last) = (to_ns(a, d.first_ticks), to_ns(a, d.last_ticks));
                    return Some(Head::Drops { ts, count: d.count, first, last });
                }
                Some(Err(e)) => {
                    let d = self.batch_error(c, &e.what.to_string());
                    self.diags.push(d);
                    continue;
                }
                None => {}
            }
            // 2. The next item of this thread in the current segment.
            let cur = &mut self.cursors[c];
            let (r, s) = (cur.run, cur.seg);
            if cur.index.is_none() {
                if s >= self.runs[r].run.segments.len() {
                    return None;
                }
                let idx = self.index(r, s);
                let cur = &mut self.cursors[c];
                cur.index = idx;
                cur.item = 0;
                cur.anchor_idx = 0;
                if cur.index.is_none() {
                    cur.seg += 1;
                    continue;
                }
            }
            let cur = &mut self.cursors[c];
            let idx = cur.index.clone()?;
            let items = idx.items.get(&cur.key);
            let Some((off, item)) = items.and_then(|v| v.get(cur.item)) else {
                // Segment done for this thread.
                cur.index = None;
                cur.seg += 1;
                continue;
            };
            cur.item += 1;
            while cur.anchor_idx < idx.anchors.len() && idx.anchors[cur.anchor_idx].0 < *off {
                cur.anchor = Some(TickClock::new(&idx.anchors[cur.anchor_idx].1));
                cur.anchor_idx += 1;
            }
            match item {
                Item::Batch { off, len } => {
                    if let Err(d) = self.load_batch(c, *off, *len) {
                        self.diags.push(d);
                    }
                }
                Item::Drops(d) => {
                    let a = cur.anchor.as_ref();
                    let ts = to_ns(a, d.last_ticks).max(cur.last_ts);
                    return Some(Head::Drops {
                        ts,
                        count: d.count,
                        first: to_ns(a, d.first_ticks),
                        last: to_ns(a, d.last_ticks),
                    });
                }
                Item::End(e) => {
                    let r = cur.run;
                    self.runs[r].ends.insert(e.thread, *e);
                }
                Item::Dump(d) => {
                    let a = cur.anchor.as_ref();
                    let ts = to_ns(a, d.trigger_ticks).max(cur.last_ts);
                    let (first, last) = (to_ns(a, d.first_ticks), to_ns(a, d.last_ticks));
                    return Some(Head::Dump { ts, count: d.count, first, last, reason: d.reason.clone() });
                }
            }
        }
    }

    fn batch_error(&mut self, c: usize, msg: &str) -> Diagnostic {
        let cur = &mut self.cursors[c];
        let at = cur.pos;
        cur.pos = cur.batch().len();
        let path = self.runs[cur.run].run.segments[cur.seg].path.clone();
        Diagnostic {
            severity: Severity::Error,
            path,
            offset: None,
            message: format!(
                "thread {}: {msg} (record at batch byte {}; rest of batch skipped)",
                cur.thread,
                at.saturating_sub(BATCH_FIXED_LEN)
            ),
        }
    }

    fn load_batch(&mut self, c: usize, off: u64, len: u32) -> Result<(), Diagnostic> {
        let cur = &mut self.cursors[c];
        // Until this batch checks out, the cursor holds none (a damaged batch is skipped
        // whole, never parsed).
        (cur.bstart, cur.bend, cur.pos) = (0, 0, 0);
        let seg = &self.runs[cur.run].run.segments[cur.seg];
        let err = |e: ReadError| diag(seg.path.clone(), e);
        let total = ENTRY_HEADER_LEN + len as usize;
        let at = cur.window.entry(&seg.file, off, total).map_err(err)?;
        let entry = &cur.window.buf[at..at + total];
        let payload = &entry[ENTRY_HEADER_LEN..];
        let head = EntryHead::parse(entry, off).and_then(Result::ok);
        let kind = if cur.key & RECORDED_BIT != 0 { entry::RECORDED } else { entry::BATCH };
        let Some(head) = head.filter(|h| h.kind == kind && h.len == len) else {
            return Err(err(ReadError::Corrupt { offset: off, what: "batch vanished".into() }));
        };
        head.check(payload).map_err(err)?;
        self.bytes_read += total as u64;
        match BatchHead::decode(payload) {
            Ok((bh, _)) => {
                // Decoded in place: the window is the one copy from the page cache.
                (cur.bstart, cur.bend) = (at + ENTRY_HEADER_LEN, at + total);
                cur.pos = BATCH_FIXED_LEN;
                cur.base = bh.base_ticks;
                Ok(())
            }
            Err(p) => Err(diag(seg.path.clone(), ReadError::Corrupt { offset: off, what: p.to_string() })),
        }
    }

    /// The index of segment `s` of run `r`, built if no cursor holds it.
    fn index(&mut self, r: usize, s: usize) -> Option<Rc<SegIndex>> {
        if let Some(idx) = self.runs[r].indexes[s].upgrade() {
            return Some(idx);
        }
        let seg = self.runs[r].run.segments[s].clone();
        let mut reader = match EntryReader::open(seg.file.clone()) {
            Ok(rd) => rd,
            Err(e) => {
                self.diags.push(diag(seg.path.clone(), e));
                return None;
            }
        };
        let mut idx = SegIndex { items: HashMap::new(), anchors: Vec::new(), dumps: 0 };
        let dumps_before = self.runs[r].dumps_before[s];
        let run = &mut self.runs[r];
        // Batches are routed by thread now; their checksums are verified when loaded.
        while let Some(next) = reader.next_checked(|h| h.kind != entry::BATCH && h.kind != entry::RECORDED) {
            let e = match next {
                Next::Unloaded(head) => {
                    let off = head.off;
                    match reader.peek(&head, 4) {
                        Ok(p) if p.len() == 4 => {
                            let thread = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                            let key = if head.kind == entry::RECORDED {
                                recorded_key(thread, dumps_before + idx.dumps)
                            } else {
                                thread as Key
                            };
                            idx.items.entry(key).or_default().push((off, Item::Batch { off, len: head.len }));
                        }
                        Ok(_) => self.diags.push(diag(
                            seg.path.clone(),
                            ReadError::Corrupt { offset: off, what: "batch shorter than its header".into() },
                        )),
                        Err(e) => {
                            self.diags.push(diag(seg.path.clone(), e));
                            break;
                        }
                    }
                    continue;
                }
                Next::Entry(head, e) => (head.off, e),
                Next::Damaged(e) | Next::Stopped(e) | Next::End(e) => {
                    self.diags.push(diag(seg.path.clone(), e));
                    continue;
                }
            };
            match e {
                (_, Entry::Callsite(cs)) => run.tables.add_site(&cs),
                (_, Entry::Shape(s)) => {
                    if let Ok(shape) = s.shape() {
                        run.tables.shapes.insert(s.id, shape);
                    }
                }
                (_, Entry::Thread(t)) => {
                    run.tables.add_thread(&t);
                    idx.items.entry(t.thread as Key).or_default();
                }
                (off, Entry::Anchor(a)) => idx.anchors.push((off, a)),
                (off, Entry::Drops(d)) => idx.items.entry(d.thread as Key).or_default().push((off, Item::Drops(d))),
                (off, Entry::ThreadEnd(e)) => idx.items.entry(e.thread as Key).or_default().push((off, Item::End(e))),
                (off, Entry::Dump(d)) => {
                    idx.dumps += 1;
                    let d = Dump {
                        count: d.count,
                        first_ticks: d.first_ticks,
                        last_ticks: d.last_ticks,
                        trigger_ticks: d.trigger_ticks,
                        reason: d.reason.to_string(),
                    };
                    idx.items.entry(DUMPS_KEY).or_default().push((off, Item::Dump(d)));
                }
                _ => {}
            }
        }
        let file_len = seg.file.metadata().map(|m| m.len()).unwrap_or(0);
        self.diags.extend(Diagnostic::segment_end(seg.path.clone(), reader.header(), reader.end(), file_len));
        let idx = Rc::new(idx);
        self.runs[r].indexes[s] = Rc::downgrade(&idx);
        Some(idx)
    }
}

/// Bytes read ahead from one segment file, so a cursor's batches cost one `pread` per
/// window rather than two per batch (a batch is about 8 KiB; the system calls were a fifth
/// of `tapelog cat`'s time).
#[derive(Default)]
struct Window {
    /// Reads only the entry asked for, no more (for cursors over one dump's records).
    small: bool,
    file: Option<Arc<File>>,
    /// File offset of `buf[0]`.
    off: u64,
    buf: Vec<u8>,
}

/// Bytes a window reads at once (more if one entry is bigger).
const WINDOW: usize = 512 << 10;

impl Window {
    /// Where in `buf` the `len` bytes at `off` of `file` are, reading ahead if they are not
    /// in the window.
    fn entry(&mut self, file: &Arc<File>, off: u64, len: usize) -> Result<usize, ReadError> {
        let same = self.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, file));
        let inside = same && off >= self.off && off + len as u64 <= self.off + self.buf.len() as u64;
        if !inside {
            let want = if self.small { len } else { WINDOW.max(len) };
            // Only growth is zero-filled; what is read overwrites the rest.
            self.buf.resize(want, 0);
            let mut done = 0;
            while done < want {
                match file.read_at(&mut self.buf[done..], off + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.file = None;
                        return Err(ReadError::Io(e));
                    }
                }
            }
            self.buf.truncate(done);
            self.file = Some(file.clone());
            self.off = off;
            if done < len {
                self.file = None;
                return Err(ReadError::Torn { offset: off, need: len as u64, have: done as u64 });
            }
        }
        Ok((off - self.off) as usize)
    }
}

fn to_ns(a: Option<&TickClock>, ticks: u64) -> i128 {
    crate::event::clock_ns(a, ticks)
}

fn diag(path: PathBuf, e: ReadError) -> Diagnostic {
    Diagnostic::from_read(path, e)
}

impl Source for Merger {
    #[inline]
    fn step(&mut self) -> Step<'_> {
        match self.next() {
            Some(e) => Step::Event(e),
            None => Step::End,
        }
    }
    fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        Merger::take_diagnostics(self)
    }
    fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}
