//! Text outputs: the console and plain files, formatted on the consumer thread.
//!
//! Lines have the layout of `tapelog cat`'s default template, built from the same pieces
//! ([`crate::text::line`]), so a text file and the decoded segments read the same:
//!
//! `2026-11-21T12:00:00.123456789Z INFO  <thread> <module> <file>:<line> <message> k=v`
//!
//! Formatting happens here, never on the calling thread; writing happens on each output's
//! own thread behind a bounded queue ([`super::writer`]), so a slow terminal costs dropped
//! (and counted) text lines, never a stalled consumer or a lost segment record.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::out::{Out, TextOutSpec};
use super::syslog;
use super::user::{Chunk, Guarded, RawBatch, Record, Sink, SiteCache, Worker};
use crate::counters::ThreadShared;
use crate::counters::{SinkCounters, TextCounters};
use crate::frontend::callsite::Callsite;
use crate::output::{Batch, Output, Pass};
use crate::serde_arg::{Shape, Shapes};
use crate::text::line::{self, UtcNanos, RECORDED_MARK};
use crate::text::{recycle, Template, Value};
use crate::wire::kinds::{decode_args, ArgKind};
use crate::wire::record::{Anchor, Drops, DumpEntry, Split};
use crate::wire::{unwrap_ticks, RECORD_HEADER_LEN};
use crate::wire::{Layout, Malformed, RecordError, Records};

/// What a call site's lines need, prepared once.
struct SiteText {
    cs: &'static Callsite,
    kinds: &'static [u8],
    /// Bytes of its arguments, if every record of the site has the same.
    static_len: Option<usize>,
    template: Result<Template, String>,
    /// Bit `i` set when output `i` takes this call site's records (routes).
    outs: u64,
}

/// Every text output of a logger, and the consumer-side state that formats for them.
pub(crate) struct TextSinks {
    outs: Vec<Out>,
    /// Indexed by call-site id.
    sites: Vec<Option<SiteText>>,
    shapes: Shapes,
    shapes_known: usize,
    ts: UtcNanos,
    line: String,
    vals: Vec<Value<'static>>,
    /// A record that wraps around the end of the ring, made contiguous.
    copy: Vec<u8>,
    /// With syslog outputs: the record's structured data, `[tapelog@32473 ...]`.
    sd: Option<String>,
    /// Scratch for one structured-data value.
    tmp: String,
    /// Sinks of the program's that run on this thread.
    users: Vec<Guarded>,
    /// Whether an output writes NDJSON, and the current record's line of it.
    wants_json: bool,
    json: String,
    /// Sinks of the program's that run on threads of their own.
    workers: Vec<Worker>,
    /// The sink that logged the records being handed over now (see [`Guarded::origin`]);
    /// 0 for none. That sink does not get them.
    origin: u32,
    /// The batch at hand is a flight-recorder dump's: lines are marked as `tapelog cat`
    /// marks them.
    recorded: bool,
    /// A batch that wraps around the end of the ring, made contiguous for raw sinks.
    batch: Vec<u8>,
}

impl std::fmt::Debug for TextSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextSinks").field("outputs", &self.outs.len()).finish()
    }
}

impl TextSinks {
    /// Opens every output (files on the caller's thread, so errors reach `start()`) and
    /// starts their writer threads. `None` without outputs.
    pub fn open(
        outputs: &[TextOutSpec],
        queue_bytes: usize,
        sinks: Vec<(String, Box<dyn Sink>)>,
        sink_queue_bytes: usize,
    ) -> Result<Option<TextSinks>, (PathBuf, std::io::Error)> {
        if outputs.is_empty() && sinks.is_empty() {
            return Ok(None);
        }
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let outs = outputs.iter().map(|o| Out::open(o, queue_bytes, no_color)).collect::<Result<Vec<_>, _>>()?;
        let (mut users, mut workers) = (Vec::new(), Vec::new());
        for (k, (name, sink)) in sinks.into_iter().enumerate() {
            let blocks = sink.may_block();
            let origin = k as u32 + 1;
            let g = Guarded::new(name.clone(), sink, origin);
            if !blocks {
                users.push(g);
                continue;
            }
            let counters = g.counters.clone();
            let mut r = TextSinks::renderer(g);
            let mut cache = SiteCache::default();
            let w = Worker::start(counters, origin, sink_queue_bytes, move |c| match c {
                Some(c) => r.chunk(c, &mut cache),
                None => r.close_users(),
            })
            .map_err(|e| (PathBuf::from(name), e))?;
            workers.push(w);
        }
        Ok(Some(TextSinks::new(outs, users, workers)))
    }

    fn new(outs: Vec<Out>, users: Vec<Guarded>, workers: Vec<Worker>) -> TextSinks {
        let any_syslog = outs.iter().any(|o| o.syslog.is_some());
        let wants_json = outs.iter().any(|o| o.json);
        TextSinks {
            outs,
            sites: Vec::new(),
            shapes: Shapes::new(),
            shapes_known: 0,
            ts: UtcNanos::new(),
            line: String::with_capacity(256),
            vals: Vec::new(),
            copy: Vec::new(),
            sd: any_syslog.then(String::new),
            tmp: String::new(),
            wants_json,
            json: String::new(),
            users,
            workers,
            origin: 0,
            recorded: false,
            batch: Vec::new(),
        }
    }

    /// A formatter for one sink on its own thread: no outputs, just the sink.
    fn renderer(g: Guarded) -> TextSinks {
        TextSinks::new(Vec::new(), vec![g], Vec::new())
    }

    /// On a sink's own thread: one chunk the consumer queued.
    fn chunk(&mut self, c: Chunk, cache: &mut SiteCache) {
        let split = Split { a: &c.bytes, b: &[] };
        let thread = (&*c.thread, c.thread_id);
        self.records(thread, split, 0, c.bytes.len(), c.base, &c.anchor, |id| cache.get(id));
        self.hand_over();
    }

    /// Closes the sinks of the program's that run on this thread.
    fn close_users(&mut self) {
        for u in &mut self.users {
            u.call(|s| s.close());
        }
    }

    /// Counters of the sinks of the program's, in configuration order.
    pub fn sink_counters(&self) -> Vec<std::sync::Arc<SinkCounters>> {
        self.users.iter().map(|u| u.counters.clone()).chain(self.workers.iter().map(|w| w.counters.clone())).collect()
    }

    /// The outputs' counters, for `stats()` and `flush()`.
    pub fn counters(&self) -> Vec<Arc<TextCounters>> {
        self.outs.iter().map(|o| o.writer.counters.clone()).collect()
    }

    /// Formats the records of `split[start..end]`, logged by `thread`, whose tick values are
    /// near `base`. `site` gives a call site's metadata and argument kinds. Returns the
    /// records, the dropped records that in-band markers report, and where it stopped:
    /// `end`, or the first record it could not take apart (an unknown call site, a bad
    /// length), which the caller accounts for.
    #[allow(clippy::too_many_arguments)]
    pub fn records(
        &mut self,
        thread: (&str, u32),
        split: Split<'_>,
        start: usize,
        end: usize,
        base: u64,
        anchor: &Anchor,
        mut site: impl FnMut(u32) -> Option<(&'static Callsite, &'static [u8], Option<usize>)>,
    ) -> (u64, u64, usize) {
        let (mut records, mut marker_drops) = (0, 0);
        let mut pos = start;
        let format = !self.outs.is_empty() || self.users.iter().any(|u| !u.raw);
        while pos < end {
            // One record through the format's iterator, measured with what this output knows
            // of the call site; a site met for the first time is prepared, then measured.
            let next = {
                let sites = &self.sites;
                let lookup = |id: u32| sites.get(id as usize)?.as_ref().map(|s| Layout::of(s.kinds, s.static_len));
                Records::starting_at(split, pos, lookup).next()
            };
            let (id, len, drops) = match next {
                Some(Ok(r)) => (r.id, r.len, r.drops),
                Some(Err(RecordError { what: Malformed::UnknownSite(id), .. })) => {
                    let Some((cs, kinds, static_len)) = site(id) else { break };
                    self.ensure_site(id, cs, kinds, static_len);
                    continue;
                }
                _ => break,
            };
            if pos + len > end {
                break;
            }
            if !format {
                // Only raw sinks and sinks on their own threads: count, do not format.
                match drops {
                    Some(d) => marker_drops += d.count,
                    None => records += 1,
                }
                pos += len;
                continue;
            }
            let rec: &[u8] = match contiguous(split, pos, len) {
                Some(r) => r,
                None => {
                    self.copy.clear();
                    split.pieces(pos, pos + len, |p| self.copy.extend_from_slice(p));
                    // Moved out for the call below, which borrows `self` mutably.
                    let copy = std::mem::take(&mut self.copy);
                    let n = self.record(thread, id, &copy, base, anchor);
                    self.copy = copy;
                    records += n.0;
                    marker_drops += n.1;
                    pos += len;
                    continue;
                }
            };
            let n = self.record(thread, id, rec, base, anchor);
            records += n.0;
            marker_drops += n.1;
            pos += len;
        }
        if pos > start && (!self.workers.is_empty() || self.users.iter().any(|u| u.raw)) {
            self.batch_to_sinks(thread, split, start, pos, base, anchor, records);
        }
        (records, marker_drops, pos)
    }

    /// Hands `split[start..end]` (`records` records) to the raw sinks on this thread and
    /// queues it for the sinks on threads of their own.
    #[allow(clippy::too_many_arguments)]
    fn batch_to_sinks(
        &mut self,
        thread: (&str, u32),
        split: Split<'_>,
        start: usize,
        end: usize,
        base: u64,
        anchor: &Anchor,
        records: u64,
    ) {
        let mut copy = std::mem::take(&mut self.batch);
        let bytes: &[u8] = match contiguous(split, start, end - start) {
            Some(b) => b,
            None => {
                copy.clear();
                split.pieces(start, end, |p| copy.extend_from_slice(p));
                &copy
            }
        };
        let rb = RawBatch {
            thread_id: thread.1,
            thread: thread.0,
            base_ticks: base,
            anchor_ticks: anchor.ticks,
            anchor_unix_ns: anchor.unix_ns,
            ticks_per_sec: anchor.ticks_per_sec,
            bytes,
        };
        let origin = self.origin;
        for u in self.users.iter_mut().filter(|u| u.raw) {
            if u.origin == origin {
                u.counters.own.fetch_add(records, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            u.call(|s| s.raw(&rb));
            if !u.disabled {
                u.counters.records.fetch_add(records, std::sync::atomic::Ordering::Relaxed);
            }
        }
        for w in &self.workers {
            if w.origin == origin {
                w.counters.own.fetch_add(records, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            let c =
                Chunk { thread: thread.0.into(), thread_id: thread.1, base, anchor: *anchor, bytes: bytes.to_vec() };
            w.send(c, records);
        }
        self.batch = copy;
    }

    fn ensure_site(&mut self, id: u32, cs: &'static Callsite, kinds: &'static [u8], static_len: Option<usize>) {
        let i = id as usize;
        if self.sites.len() <= i {
            self.sites.resize_with(i + 1, || None);
        }
        if self.sites[i].is_none() {
            let template = Template::parse(cs.format).map_err(|e| format!("unusable format string: {e}"));
            let mut outs = 0u64;
            for (b, o) in self.outs.iter().enumerate() {
                if o.route.as_ref().is_none_or(|r| r.matches(cs)) {
                    outs |= 1 << b;
                }
            }
            self.sites[i] = Some(SiteText { cs, kinds, static_len, template, outs });
        }
    }

    /// One record (header included); returns (records, marker drops).
    fn record(&mut self, thread: (&str, u32), id: u32, rec: &[u8], base: u64, anchor: &Anchor) -> (u64, u64) {
        let Some((_, low)) = crate::wire::record::record_head(rec) else { return (0, 0) };
        let ns = anchor.to_unix_ns(unwrap_ticks(low, base));
        let args = &rec[RECORD_HEADER_LEN..];
        if id == crate::wire::DROP_MARKER_ID {
            let Ok(d) = Drops::decode_marker(thread.1, args) else { return (0, 0) };
            self.drops_at(thread, &d, ns, base, anchor);
            return (0, d.count);
        }
        let Some(Some(site)) = self.sites.get(id as usize) else { return (0, 0) };
        let (cs, kinds, mask) = (site.cs, site.kinds, site.outs);
        self.line.clear();
        self.ts.push(&mut self.line, ns);
        let ts_len = self.line.len();
        self.line.push(' ');
        let _ = write!(self.line, "{:<5}", cs.level.as_str());
        self.line.push(' ');
        line::push_thread(&mut self.line, thread.0, thread.1);
        let _ = write!(self.line, " {} {}:{} ", cs.module, cs.file, cs.line);
        let msg_start = self.line.len();
        if let Some(sd) = &mut self.sd {
            let tmp = &mut self.tmp;
            sd.clear();
            sd.push_str("[tapelog@32473");
            tmp.clear();
            line::push_thread(tmp, thread.0, thread.1);
            syslog::push_param(sd, "thread", tmp);
            syslog::push_param(sd, "target", cs.module);
            syslog::push_param(sd, "file", cs.file);
            tmp.clear();
            let _ = write!(tmp, "{}", cs.line);
            syslog::push_param(sd, "line", tmp);
        }
        let msg_end = self.message(id, kinds, args, thread, ns);
        if let Some(sd) = &mut self.sd {
            if self.recorded {
                syslog::push_param(sd, "recorded", "true");
            }
            sd.push(']');
        }
        if self.recorded && self.wants_json && self.json.ends_with('}') {
            self.json.pop();
            self.json.push_str(",\"recorded\":true}");
        }
        for (b, o) in self.outs.iter_mut().enumerate() {
            if mask & (1 << b) == 0 {
                continue;
            }
            match &o.syslog {
                None if o.json => {
                    o.buf.extend_from_slice(self.json.as_bytes());
                    o.buf.push(b'\n');
                    o.ended_one();
                }
                None => {
                    if self.recorded {
                        o.buf.extend_from_slice(RECORDED_MARK.as_bytes());
                    }
                    o.push_line(&self.line, Some(cs.level), ts_len)
                }
                Some(h) => {
                    let sd = self.sd.as_deref().unwrap_or("-");
                    h.push(&mut o.buf, Some(cs.level), &self.line[..ts_len], "-", sd, &self.line[msg_start..msg_end]);
                    o.ended_one();
                }
            }
        }
        (1, 0)
    }

    /// Appends the message and the fields of a record of call site `id` to the line (and the
    /// fields to the structured data, with syslog outputs); returns where the message ends.
    fn message(&mut self, id: u32, kinds: &[u8], args: &[u8], who: (&str, u32), ns: i128) -> usize {
        let mut vals = recycle(std::mem::take(&mut self.vals));
        let mut res = decode_args(kinds, args, &self.shapes, &mut vals);
        if res.is_err() && kinds.iter().any(|&k| ArgKind(k).base() == ArgKind::SERDE) {
            // A shape registered since we last looked: load it and try again.
            self.refresh_shapes();
            vals.clear();
            res = decode_args(kinds, args, &self.shapes, &mut vals);
        }
        let Some(Some(site)) = self.sites.get(id as usize) else { return self.line.len() };
        let start = self.line.len();
        let rendered = match (&site.template, &res) {
            (Ok(t), Ok(())) => t.render(&vals, &mut self.line).map_err(|e| e.to_string()),
            (Err(e), _) => Err(e.clone()),
            (_, Err(e)) => Err(e.clone()),
        };
        let end = if let Err(e) = rendered {
            self.line.truncate(start);
            let _ = write!(self.line, "<undecodable: {e}> format={:?} args={:?}", site.cs.format, vals);
            self.line.len()
        } else {
            let end = self.line.len();
            if !site.cs.fields.is_empty() {
                let first = kinds.len().saturating_sub(site.cs.fields.len());
                line::push_fields(&mut self.line, site.cs.fields, vals.iter().skip(first));
                if let Some(sd) = &mut self.sd {
                    // Parameter values are strings as they are, other values as the line
                    // shows them.
                    let v = &mut self.tmp;
                    for (name, val) in site.cs.fields.iter().zip(vals.iter().skip(first)) {
                        v.clear();
                        let raw = match val {
                            Value::Str(s) => s,
                            _ => {
                                line::push_field_value(val, v);
                                v.as_str()
                            }
                        };
                        syslog::push_param(sd, name, raw);
                    }
                }
            }
            end
        };
        if self.wants_json || self.users.iter().any(|u| !u.raw) {
            let cs = site.cs;
            let rec = Record {
                level: cs.level,
                target: cs.module,
                file: cs.file,
                line: cs.line,
                format: cs.format,
                thread: who.0,
                thread_id: who.1,
                unix_ns: ns,
                values: &vals,
                field_names: cs.fields,
                text: &self.line,
                message: &self.line[start..end],
            };
            if self.wants_json {
                self.json = rec.to_json();
            }
            let origin = self.origin;
            for u in self.users.iter_mut().filter(|u| !u.raw) {
                if u.origin == origin {
                    u.counters.own.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                u.call(|s| s.record(&rec));
                if !u.disabled {
                    u.counters.records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        self.vals = recycle(vals);
        end
    }

    fn refresh_shapes(&mut self) {
        let mut fresh = Vec::new();
        crate::serde_arg::shapes_since(self.shapes_known, &mut fresh);
        for d in fresh {
            self.shapes_known += 1;
            if let Ok((shape, _)) = Shape::decode(&d) {
                self.shapes.insert(self.shapes_known as u32, shape);
            }
        }
    }

    /// A drop report: `<ts> DROPS <thread> dropped N records between <t1> and <t2>`, at the
    /// time of the last drop.
    fn report_drops(&mut self, thread: (&str, u32), d: &Drops, base: u64, anchor: &Anchor) {
        let ns = anchor.to_unix_ns(unwrap_ticks(d.last_ticks, base));
        self.drops_at(thread, d, ns, base, anchor);
    }

    fn drops_at(&mut self, thread: (&str, u32), d: &Drops, ns: i128, base: u64, anchor: &Anchor) {
        self.line.clear();
        self.ts.push(&mut self.line, ns);
        let ts_len = self.line.len();
        self.line.push_str(" DROPS ");
        line::push_thread(&mut self.line, thread.0, thread.1);
        let _ = write!(self.line, " dropped {} records between ", d.count);
        self.ts.push(&mut self.line, anchor.to_unix_ns(unwrap_ticks(d.first_ticks, base)));
        self.line.push_str(" and ");
        self.ts.push(&mut self.line, anchor.to_unix_ns(unwrap_ticks(d.last_ticks, base)));
        for o in self.outs.iter_mut().filter(|o| o.route.is_none()) {
            match &o.syslog {
                None => o.push_line(&self.line, None, ts_len),
                Some(h) => {
                    // `<thread> dropped N records between <t1> and <t2>`
                    let msg = &self.line[ts_len + " DROPS ".len()..];
                    h.push(&mut o.buf, None, &self.line[..ts_len], "DROPS", "-", msg);
                    o.ended_one();
                }
            }
        }
    }

    /// The line of a flight-recorder dump, as `tapelog cat` prints it, for the outputs
    /// without a route (as drop reports); JSON outputs get none.
    fn dump_line(&mut self, d: &DumpEntry<'_>, anchor: &Anchor) {
        let ns = |t: u64| anchor.to_unix_ns(t);
        self.line.clear();
        self.ts.push(&mut self.line, ns(d.trigger_ticks));
        let ts_len = self.line.len();
        let _ = write!(self.line, " flight recorder: {} records", d.count);
        if d.count > 0 {
            self.line.push_str(" from ");
            self.ts.push(&mut self.line, ns(d.first_ticks));
            self.line.push_str(" to ");
            self.ts.push(&mut self.line, ns(d.last_ticks));
        }
        let _ = write!(self.line, ", trigger: {}", d.reason);
        for o in self.outs.iter_mut().filter(|o| o.route.is_none() && !o.json) {
            match &o.syslog {
                None => o.push_line(&self.line, None, ts_len),
                Some(h) => {
                    let msg = &self.line[ts_len + 1..];
                    h.push(&mut o.buf, None, &self.line[..ts_len], "DUMP", "-", msg);
                    o.ended_one();
                }
            }
        }
    }

    /// Hands every partly filled chunk to its writer (end of a consumer pass).
    fn hand_over(&mut self) {
        for o in &mut self.outs {
            o.submit();
        }
        for u in &mut self.users {
            u.call(|s| s.end_batch());
        }
    }
}

/// One output of the drain loop for all text destinations: each record is formatted once,
/// for every file, stream, syslog link and sink of the program's that takes it.
impl Output for TextSinks {
    fn batch(&mut self, b: &Batch<'_>) {
        self.origin = b.origin;
        self.recorded = b.recorded;
        let (thread, dict) = ((b.thread.name.as_str(), b.thread.id), b.dict);
        self.records(thread, b.split, b.start, b.end, b.base, b.anchor, |id| {
            dict.get(id).map(|s| (s.reg.cs, s.reg.kinds, s.static_len))
        });
    }

    fn dump(&mut self, d: &DumpEntry<'_>, anchor: &Anchor) {
        self.dump_line(d, anchor);
    }

    fn drops(&mut self, thread: &ThreadShared, d: &Drops, now: u64, anchor: &Anchor) {
        self.report_drops((&thread.name, thread.id), d, now, anchor);
    }

    /// With a flush waiting, also makes everything handed over what `flush()` waits for.
    fn end_pass(&mut self, pass: Pass) {
        if pass.flush {
            self.hand_over();
            for o in &self.outs {
                o.writer.mark_flush();
            }
        } else if pass.work {
            self.hand_over();
        }
    }

    /// Hands over what is left and stops the writers, waiting until `deadline` at most.
    fn close(&mut self, deadline: Instant) {
        for o in &mut self.outs {
            let buf = std::mem::take(&mut o.buf);
            o.writer.close(buf, std::mem::take(&mut o.lines), deadline);
        }
        self.hand_over();
        self.close_users();
        for w in &mut self.workers {
            w.close(deadline);
        }
    }
}

/// `split[pos..pos + len]` when it lies in one piece.
fn contiguous<'a>(split: Split<'a>, pos: usize, len: usize) -> Option<&'a [u8]> {
    let a = split.a.len();
    if pos + len <= a {
        Some(&split.a[pos..pos + len])
    } else if pos >= a {
        split.b.get(pos - a..pos - a + len)
    } else {
        None
    }
}
