//! Merging segments that arrive as a stream (stdin, or live files being followed): entries
//! are fed in file order, batches queue per thread, and records leave in timestamp order
//! through a bounded reorder window.
//!
//! Within a thread records are in order, so a k-way merge over the threads' queues is exact
//! while every live thread has something queued. A thread that is quiet would stall it, so a
//! record is also released once it is older than the newest batch of the last complete drain
//! round minus the window (a record that waits longer than that in its ring after its
//! thread's previous batch is printed late, out of order), once it is
//! older than a floor the follower sets (now minus the window), at the end of the input, or
//! when the queued bytes exceed a cap. Memory is therefore bounded by the window, not by the
//! input.
//!
//! A flight recorder's dump (RECORDED entries, then a DUMP entry) holds records older than
//! what came before it: in a stream they cannot go back in place, so they are released as
//! they arrive, marked, each with its own time, and so is the dump's line.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use tapelog_format::wire::header::FileHeader;
use tapelog_format::wire::reader::{decode_entry, Entry, EntryHead, ReadError};
use tapelog_format::wire::record::{Anchor, Drops};
use tapelog_format::wire::{unwrap_ticks, Records, ENTRY_HEADER_LEN};

use crate::event::{Diagnostic, DropsRef, DumpRef, Event, RecordRef, RunTables, Severity};

/// Default reorder window.
pub const DEFAULT_WINDOW_NS: i128 = 50_000_000;

/// Queued bytes beyond which the oldest record is released whatever the window says.
const MAX_PENDING: usize = 64 << 20;

enum Item {
    Batch { bytes: Vec<u8>, base: u64, anchor: Option<Anchor> },
    Drops { d: Drops, anchor: Option<Anchor> },
    Dump { count: u64, first_ticks: u64, last_ticks: u64, trigger_ticks: u64, reason: String, anchor: Option<Anchor> },
}

enum Head {
    Record { ts: i128, ticks: u64, site: u32, start: usize, end: usize },
    Drops { ts: i128, count: u64, first: i128, last: i128 },
    Dump { ts: i128, count: u64, first: i128, last: i128, reason: String },
}

/// A queue's key within its run: a thread's id, the same with [`RECORDED_BIT`] for its
/// records that flight-recorder dumps wrote, or [`DUMPS_KEY`] for the dumps' lines.
type Key = u64;
const RECORDED_BIT: Key = 1 << 32;
const DUMPS_KEY: Key = Key::MAX;

struct Queue {
    run: usize,
    thread: u32,
    /// A queue of flight-recorder output (recorded records, or the dumps' lines: both keys
    /// have `RECORDED_BIT`): released as it arrives, never waited for.
    recorded: bool,
    items: VecDeque<Item>,
    /// Read position in the front batch.
    pos: usize,
    head: Option<Head>,
    last_ts: i128,
    /// No more items will come (THREAD_END, or the run was superseded).
    ended: bool,
    path: PathBuf,
}

/// Where one segment's entries go: its run and the anchor in force.
#[derive(Debug)]
pub struct SegFeed {
    /// Index of the run in the merger.
    pub run: usize,
    /// Latest anchor of the segment.
    pub anchor: Option<Anchor>,
    /// The file (or `<stdin>`), for diagnostics.
    pub path: PathBuf,
}

/// The streaming merger.
pub struct StreamMerger {
    runs: Vec<RunTables>,
    run_keys: HashMap<(u64, u32), usize>,
    queues: Vec<Queue>,
    queue_of: HashMap<(usize, Key), usize>,
    heap: BinaryHeap<Reverse<(i128, u64, usize)>>,
    /// Live queues with no head: while any exists, the k-way rule cannot release.
    waiting: usize,
    /// Queue whose head was handed out last; advanced on the next call.
    advance: Option<usize>,
    window: i128,
    /// Newest batch time seen (the writer's clock when it took the batch).
    watermark: i128,
    /// `watermark` as of the last complete drain round: the writer drains every thread's
    /// ring in turn, so after a stall the batches of one round reach far back in time until
    /// the round ends. A round ends when a thread's batch comes again.
    stable: i128,
    /// Threads (run, id) with a batch in the current round.
    round: HashSet<(usize, u32)>,
    /// Set by a follower that has read everything committed: now minus the window.
    floor: Option<i128>,
    finishing: bool,
    pending: usize,
    diags: Vec<Diagnostic>,
}

impl std::fmt::Debug for StreamMerger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMerger").field("runs", &self.runs.len()).field("queues", &self.queues.len()).finish()
    }
}

impl StreamMerger {
    /// A merger holding records back for at most `window_ns` of writer time.
    pub fn new(window_ns: i128) -> StreamMerger {
        StreamMerger {
            runs: Vec::new(),
            run_keys: HashMap::new(),
            queues: Vec::new(),
            queue_of: HashMap::new(),
            heap: BinaryHeap::new(),
            waiting: 0,
            advance: None,
            window: window_ns,
            watermark: i128::MIN,
            stable: i128::MIN,
            round: HashSet::new(),
            floor: None,
            finishing: false,
            pending: 0,
            diags: Vec::new(),
        }
    }

    /// Starts feeding a segment with this header. A segment of a run not seen before
    /// supersedes the runs before it: their threads will send nothing more.
    pub fn segment(&mut self, header: &FileHeader, path: PathBuf) -> SegFeed {
        let key = (header.run_id, header.pid);
        let run = match self.run_keys.get(&key) {
            Some(&r) => r,
            None => {
                for q in 0..self.queues.len() {
                    self.end_queue(q);
                }
                self.runs.push(RunTables::default());
                self.run_keys.insert(key, self.runs.len() - 1);
                self.runs.len() - 1
            }
        };
        SegFeed { run, anchor: None, path }
    }

    /// Sets (or clears) the release floor: records at or before it are released.
    pub fn set_floor(&mut self, floor: Option<i128>) {
        self.floor = floor;
    }

    /// No more input: release everything.
    pub fn finish(&mut self) {
        self.finishing = true;
    }

    /// Problems found so far (drained).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags)
    }

    /// Records a problem.
    pub fn diagnose(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Parses the entries at the start of `buf` (which starts at byte `off` of the segment)
    /// and feeds them. Returns the bytes consumed: everything but an incomplete last entry.
    /// `Err` carries the damage that stops this segment (its offset, for resyncing).
    pub fn feed(&mut self, seg: &mut SegFeed, buf: &[u8], off: u64) -> Result<usize, ReadError> {
        let mut at = 0usize;
        while let Some(h) = EntryHead::parse(&buf[at..], off + at as u64) {
            let h = h?;
            let end = at + ENTRY_HEADER_LEN + h.len as usize;
            if end > buf.len() {
                break;
            }
            let payload = &buf[at + ENTRY_HEADER_LEN..end];
            at = end;
            if let Err(e) = h.check(payload) {
                self.diags.push(Diagnostic::from_read(seg.path.clone(), e));
                continue;
            }
            match decode_entry(h.kind, payload) {
                Ok(e) => self.entry(seg, e),
                Err(e) => self.diags.push(Diagnostic::from_read(
                    seg.path.clone(),
                    ReadError::Corrupt { offset: h.off, what: e.to_string() },
                )),
            }
        }
        Ok(at)
    }

    fn entry(&mut self, seg: &mut SegFeed, e: Entry<'_>) {
        let r = seg.run;
        match e {
            Entry::Callsite(cs) => self.runs[r].add_site(&cs),
            Entry::Shape(s) => {
                if let Ok(shape) = s.shape() {
                    self.runs[r].shapes.insert(s.id, shape);
                }
            }
            Entry::Thread(t) => {
                self.runs[r].add_thread(&t);
                self.queue(r, t.thread as Key, &seg.path);
            }
            Entry::Anchor(a) => seg.anchor = Some(a),
            Entry::Batch(h, recs) => {
                let base_ts = to_ns(seg.anchor.as_ref(), h.base_ticks);
                if !self.round.insert((r, h.thread)) {
                    self.stable = self.watermark;
                    self.round.clear();
                    self.round.insert((r, h.thread));
                }
                self.watermark = self.watermark.max(base_ts);
                self.pending += recs.len();
                let item = Item::Batch { bytes: recs.to_vec(), base: h.base_ticks, anchor: seg.anchor };
                self.push(r, h.thread as Key, item, &seg.path);
            }
            Entry::Recorded(h, recs) => {
                self.pending += recs.len();
                let item = Item::Batch { bytes: recs.to_vec(), base: h.base_ticks, anchor: seg.anchor };
                self.push(r, h.thread as Key | RECORDED_BIT, item, &seg.path);
            }
            Entry::Dump(d) => {
                let item = Item::Dump {
                    count: d.count,
                    first_ticks: d.first_ticks,
                    last_ticks: d.last_ticks,
                    trigger_ticks: d.trigger_ticks,
                    reason: d.reason.to_string(),
                    anchor: seg.anchor,
                };
                self.push(r, DUMPS_KEY, item, &seg.path);
            }
            Entry::Drops(d) => self.push(r, d.thread as Key, Item::Drops { d, anchor: seg.anchor }, &seg.path),
            Entry::ThreadEnd(e) => {
                let q = self.queue(r, e.thread as Key, &seg.path);
                self.end_queue(q);
            }
            Entry::Unknown { .. } | Entry::Run(_) => {}
        }
    }

    fn queue(&mut self, run: usize, key: Key, path: &std::path::Path) -> usize {
        if let Some(&q) = self.queue_of.get(&(run, key)) {
            return q;
        }
        let recorded = key & RECORDED_BIT != 0;
        self.queues.push(Queue {
            run,
            thread: key as u32,
            recorded,
            items: VecDeque::new(),
            pos: 0,
            head: None,
            last_ts: i128::MIN,
            // Never waited for: what it holds is released as it arrives.
            ended: recorded,
            path: path.to_path_buf(),
        });
        if !recorded {
            self.waiting += 1;
        }
        self.queue_of.insert((run, key), self.queues.len() - 1);
        self.queues.len() - 1
    }

    fn end_queue(&mut self, q: usize) {
        let qu = &mut self.queues[q];
        if !qu.ended {
            qu.ended = true;
            if qu.head.is_none() && self.advance != Some(q) {
                self.waiting -= 1;
            }
        }
    }

    fn push(&mut self, run: usize, key: Key, item: Item, path: &std::path::Path) {
        // An ended queue still takes data (a superseded run read late): it just is not
        // waited for when empty.
        let q = self.queue(run, key, path);
        self.queues[q].items.push_back(item);
        if self.queues[q].head.is_none() && self.advance != Some(q) {
            self.requeue(q);
        }
    }

    /// Computes queue `q`'s next head and queues it (or counts the queue as waiting).
    fn requeue(&mut self, q: usize) {
        let had = self.queues[q].head.is_some() || self.advance == Some(q);
        self.queues[q].head = None;
        match self.next_head(q) {
            Some(head) => {
                let (ts, ticks) = match &head {
                    Head::Record { ts, ticks, .. } => (*ts, *ticks),
                    Head::Drops { ts, .. } => (*ts, 0),
                    Head::Dump { ts, .. } => (*ts, u64::MAX),
                };
                let qu = &mut self.queues[q];
                qu.last_ts = ts;
                qu.head = Some(head);
                self.heap.push(Reverse((ts, ticks, q)));
                if !had && !qu.ended {
                    self.waiting -= 1;
                }
            }
            None => {
                if had && !self.queues[q].ended {
                    self.waiting += 1;
                }
            }
        }
    }

    fn next_head(&mut self, q: usize) -> Option<Head> {
        loop {
            let qu = &mut self.queues[q];
            let (bytes, base, anchor) = match qu.items.front()? {
                Item::Drops { d, anchor } => {
                    let a = anchor.as_ref();
                    let ts = to_ns(a, d.last_ticks).max(qu.last_ts);
                    let head = Head::Drops {
                        ts,
                        count: d.count,
                        first: to_ns(a, d.first_ticks),
                        last: to_ns(a, d.last_ticks),
                    };
                    qu.items.pop_front();
                    return Some(head);
                }
                Item::Dump { count, first_ticks, last_ticks, trigger_ticks, reason, anchor } => {
                    let a = anchor.as_ref();
                    let head = Head::Dump {
                        ts: to_ns(a, *trigger_ticks).max(qu.last_ts),
                        count: *count,
                        first: to_ns(a, *first_ticks),
                        last: to_ns(a, *last_ticks),
                        reason: reason.clone(),
                    };
                    qu.items.pop_front();
                    return Some(head);
                }
                Item::Batch { bytes, base, anchor } => (bytes, *base, anchor.as_ref()),
            };
            let run = &self.runs[qu.run];
            match Records::starting_at(&bytes[..], qu.pos, |id| run.layout(id)).next() {
                Some(Ok(rec)) => {
                    let ticks = unwrap_ticks(rec.ticks48, base);
                    // A later dump may hold older records: its own time, not clamped.
                    let floor = if qu.recorded { i128::MIN } else { qu.last_ts };
                    let ts = to_ns(anchor, ticks).max(floor);
                    qu.pos = rec.end();
                    let Some(d) = rec.drops else {
                        return Some(Head::Record { ts, ticks, site: rec.id, start: rec.args_at(), end: rec.end() });
                    };
                    let (first, last) = (to_ns(anchor, d.first_ticks), to_ns(anchor, d.last_ticks));
                    return Some(Head::Drops { ts, count: d.count, first, last });
                }
                Some(Err(e)) => self.batch_error(q, &e.what.to_string()),
                None => {
                    self.pending -= bytes.len();
                    qu.items.pop_front();
                    qu.pos = 0;
                }
            }
        }
    }

    fn batch_error(&mut self, q: usize, msg: &str) {
        let qu = &mut self.queues[q];
        let at = qu.pos;
        if let Some(Item::Batch { bytes, .. }) = qu.items.front() {
            qu.pos = bytes.len();
        }
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            path: qu.path.clone(),
            offset: None,
            message: format!("thread {}: {msg} (record at batch byte {at}; rest of batch skipped)", qu.thread),
        });
    }

    /// Whether an event can be released now (then [`Self::emit`] returns it).
    pub fn prepare(&mut self) -> bool {
        if let Some(q) = self.advance.take() {
            self.requeue(q);
        }
        let Some(&Reverse((ts, _, q))) = self.heap.peek() else { return false };
        self.finishing
            || self.queues[q].recorded
            || self.waiting == 0
            || ts <= self.stable.saturating_sub(self.window)
            || self.floor.is_some_and(|f| ts <= f)
            || self.pending > MAX_PENDING
    }

    /// The event [`Self::prepare`] found releasable.
    pub fn emit(&mut self) -> Option<Event<'_>> {
        let Reverse((_, _, q)) = self.heap.pop()?;
        self.advance = Some(q);
        let qu = &self.queues[q];
        let run = &self.runs[qu.run];
        let thread = run.thread(qu.thread);
        match qu.head.as_ref()? {
            Head::Record { ts, ticks, site, start, end } => {
                let Some(Item::Batch { bytes, .. }) = qu.items.front() else { return None };
                Some(Event::Record(RecordRef {
                    ts_ns: *ts,
                    ticks: *ticks,
                    run: qu.run,
                    thread,
                    site: run.site(*site)?,
                    args: &bytes[*start..*end],
                    shapes: &run.shapes,
                    recorded: qu.recorded,
                }))
            }
            Head::Drops { ts, count, first, last } => Some(Event::Drops(DropsRef {
                ts_ns: *ts,
                run: qu.run,
                thread,
                count: *count,
                first_ns: *first,
                last_ns: *last,
            })),
            Head::Dump { ts, count, first, last, reason } => Some(Event::Dump(DumpRef {
                ts_ns: *ts,
                run: qu.run,
                count: *count,
                first_ns: *first,
                last_ns: *last,
                reason,
            })),
        }
    }
}

fn to_ns(a: Option<&Anchor>, ticks: u64) -> i128 {
    crate::event::ticks_to_ns(a, ticks)
}
