//! The consumer's own records: what it reports (signals, capacity warnings, disabled sinks,
//! the RUN entries' items) and what code running on its thread logs (a sink, a library a
//! sink uses). They take the same path as the rings' records.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Consumer, SlotInfo};
use crate::clock;
use crate::counters::ThreadShared;
use crate::frontend::args::ArgList;
use crate::frontend::callsite::{register, Callsite, DISABLED};
use crate::wire::record::Split;
use crate::wire::RECORD_HEADER_LEN;

impl Consumer {
    /// Writes the records logged on the consumer thread since the last call (by sinks it
    /// ran, during the pass), each to every output but the sink that logged it. Returns the
    /// bytes taken.
    pub(super) fn write_calls(&mut self) -> usize {
        let Some(mut info) = self.calls.take() else { return 0 };
        let (mut bytes, mut runs) = (std::mem::take(&mut self.calls_bytes), std::mem::take(&mut self.calls_runs));
        crate::frontend::reentry::take_own(&mut bytes, &mut runs);
        let base = clock::ticks();
        let mut start = 0;
        for &(end, origin) in &runs {
            self.origin = origin;
            self.write_records(&mut info, Split { a: &bytes[start..end], b: &[] }, base);
            start = end;
        }
        self.origin = 0;
        self.calls = Some(info);
        let n = bytes.len();
        (self.calls_bytes, self.calls_runs) = (bytes, runs);
        n
    }

    /// Writes "received signal N (NAME)" as an ERROR record of the consumer's own stream
    /// (the interrupted thread's ring may be half-written, so it is never touched).
    pub(super) fn record_signal(&mut self, sig: i32) {
        static SIGNAL_SITE: Callsite =
            Callsite::new(crate::Level::Error, "received signal {} ({})", module_path!(), file!(), line!());
        let name = crate::signals::signal_name(sig);
        self.write_own(&SIGNAL_SITE, (&sig, &name));
        // The process may be about to die: hand the line over now.
        let pass = crate::output::Pass { work: true, flush: true };
        for o in &mut self.outputs {
            o.end_pass(pass);
        }
    }

    /// Writes a record of the consumer's own stream (thread `tapelog`), through the same
    /// paths as the rings' records: segments, text outputs, dictionary on first use.
    fn write_own<A: ArgList>(&mut self, cs: &'static Callsite, args: A) {
        let id = register(cs, A::KINDS) & !DISABLED;
        let ticks = clock::ticks();
        let mut rec = vec![0u8; RECORD_HEADER_LEN + args.encoded_len()];
        rec[0..4].copy_from_slice(&id.to_le_bytes());
        rec[4..10].copy_from_slice(&ticks.to_le_bytes()[..6]);
        // SAFETY: `rec` has exactly encoded_len() bytes after the header.
        unsafe { args.encode(rec.as_mut_ptr().add(RECORD_HEADER_LEN)) };
        let mut slot = self.own_slot.take().unwrap_or_else(|| {
            SlotInfo::new(Arc::new(ThreadShared::new(
                crate::frontend::next_thread_id(),
                crate::signals::CONSUMER_TID.load(Ordering::Relaxed),
                "tapelog".into(),
                0,
            )))
        });
        let split = Split { a: &rec, b: &[] };
        if !self.segments {
            self.write_direct(&mut slot, split, ticks);
        } else {
            let (end, full) = self.write_batches(&mut slot, split, 0, ticks);
            if end == 0 && full && self.rotate() {
                self.write_batches(&mut slot, split, 0, ticks);
            }
        }
        self.seg.publish();
        self.own_slot = Some(slot);
    }

    /// The start-up record: versions, clock, and the configuration that shapes the output.
    pub(super) fn start_items(&self, rate: f64) -> Vec<(String, String)> {
        let c = &self.shared.config;
        let mut v: Vec<(String, String)> = vec![
            ("tapelog".into(), env!("CARGO_PKG_VERSION").into()),
            ("format_version".into(), crate::wire::FORMAT_VERSION.to_string()),
            (
                "clock".into(),
                if clock::CLOCK_KIND == crate::wire::header::CLOCK_TSC { "tsc" } else { "monotonic" }.into(),
            ),
            ("ticks_per_sec".into(), format!("{rate:.0}")),
            ("pid".into(), std::process::id().to_string()),
            ("ring_capacity".into(), c.ring_capacity.to_string()),
            ("overflow".into(), format!("{:?}", c.overflow)),
            ("segments".into(), c.segments.to_string()),
            ("segment_size".into(), c.segment_size.to_string()),
            ("durability".into(), format!("{:?}", c.durability)),
            ("consumer_core".into(), c.consumer_core.map_or("unpinned".into(), |n| n.to_string())),
            ("idle".into(), format!("{:?}", c.idle)),
            ("batch_delay_us".into(), c.batch_delay.as_micros().to_string()),
            ("poll_interval_us".into(), c.poll_interval.as_micros().to_string()),
        ];
        if let Some(n) = c.max_files {
            v.push(("max_files".into(), n.to_string()));
        }
        if let Some(n) = c.max_bytes {
            v.push(("max_bytes".into(), n.to_string()));
        }
        if let Some(f) = &c.filter {
            v.push(("filter".into(), f.clone()));
        }
        let names = |it: &mut dyn Iterator<Item = String>| it.collect::<Vec<_>>().join(",");
        if !c.text.is_empty() {
            v.push(("text_outputs".into(), names(&mut c.text.iter().map(|t| t.name()))));
        }
        if !c.outputs.is_empty() {
            v.push(("outputs".into(), names(&mut c.outputs.iter().map(|o| o.name.clone()))));
        }
        if !c.sinks.is_empty() {
            v.push(("sinks".into(), names(&mut c.sinks.iter().map(|(n, _)| n.clone()))));
        }
        if let Some(n) = &c.network {
            v.push(("network".into(), n.addr.clone()));
        }
        if let Some(f) = &c.flight_recorder {
            v.push(("flight_recorder".into(), f.summary()));
        }
        v
    }

    /// The clean-shutdown record: totals.
    pub(super) fn stop_items(&self) -> Vec<(String, String)> {
        let s = crate::stats();
        let t = &s.total;
        let mut v: Vec<(String, String)> = vec![
            ("threads".into(), s.threads.len().to_string()),
            ("logged".into(), t.logged.to_string()),
            ("written".into(), t.written.to_string()),
            ("dropped".into(), t.dropped.to_string()),
            ("blocked".into(), t.blocked.to_string()),
            ("bytes_written".into(), t.bytes_written.to_string()),
            ("segments".into(), t.segments.to_string()),
            ("batches".into(), t.batches.to_string()),
            ("io_errors".into(), t.io_errors.to_string()),
        ];
        for o in &s.text {
            v.push((format!("text.{}.lines", o.output), o.lines.to_string()));
            v.push((format!("text.{}.dropped", o.output), o.dropped.to_string()));
        }
        for o in &s.outputs {
            v.push((format!("output.{}.records", o.name), o.records.to_string()));
        }
        for k in &s.sinks {
            v.push((format!("sink.{}.records", k.name), k.records.to_string()));
            v.push((format!("sink.{}.dropped", k.name), k.dropped.to_string()));
        }
        if let Some(n) = &s.network {
            v.push(("network.queued".into(), n.records_queued.to_string()));
            v.push(("network.delivered".into(), n.records_delivered.to_string()));
            v.push(("network.dropped".into(), n.records_dropped.to_string()));
        }
        if let Some(f) = &s.flight_recorder {
            v.push(("flight_recorder.kept".into(), f.kept.to_string()));
            v.push(("flight_recorder.dumped".into(), f.dumped.to_string()));
            v.push(("flight_recorder.evicted".into(), f.evicted.to_string()));
            v.push(("flight_recorder.dumps".into(), f.dumps.to_string()));
            v.push(("flight_recorder.max_held_bytes".into(), f.max_held_bytes.to_string()));
        }
        v
    }

    /// Writes an ERROR record for each sink of the program's that panicked since the last
    /// look: "sink NAME panicked and is disabled: MESSAGE".
    pub(super) fn report_disabled_sinks(&mut self) {
        for i in 0..self.shared.sinks.len() {
            let counters = &self.shared.sinks[i];
            let Some(why) = counters.take_disabled() else { continue };
            let name = counters.name.clone();
            static SINK_SITE: Callsite = Callsite::new(
                crate::Level::Error,
                "sink {} panicked and is disabled: {}",
                module_path!(),
                file!(),
                line!(),
            );
            self.write_own(&SINK_SITE, (&name.as_str(), &why.as_str()));
        }
    }

    /// Writes a capacity warning for a ring holding `depth` bytes, unless one was written for
    /// it within the configured interval.
    pub(super) fn maybe_warn_capacity(&mut self, i: usize, depth: usize, now: u64) {
        let Some(w) = self.shared.config.capacity_warning else { return };
        let info = &mut self.slots[i].info;
        let cap = info.shared.capacity.max(1);
        if (depth as f64) < w.fill * cap as f64 {
            return;
        }
        if info.warned_at != 0 && now.wrapping_sub(info.warned_at) < self.warn_ticks {
            return;
        }
        info.warned_at = now.max(1);
        static CAPACITY_SITE: Callsite = Callsite::new(
            crate::Level::Warn,
            "ring of thread {} (id {}) is {}% full: {} of {} bytes, high-water {} bytes",
            module_path!(),
            file!(),
            line!(),
        );
        let (id, pct, hw) = (info.shared.id, (depth * 100 / cap) as u32, info.high_water);
        let mut name = String::new();
        crate::text::line::push_thread(&mut name, &info.shared.name, id);
        self.write_own(&CAPACITY_SITE, (&name.as_str(), &id, &pct, &(depth as u64), &(cap as u64), &hw));
    }

    /// Writes a WARN record for a thread whose ring the memory budget made smaller.
    pub(super) fn report_shrunk_ring(&mut self, t: &ThreadShared) {
        static SHRUNK_SITE: Callsite = Callsite::new(
            crate::Level::Warn,
            "thread {} (id {}) got a ring of {} bytes instead of {}: ring memory budget of {} bytes \
             (max_ring_memory) is nearly used up",
            module_path!(),
            file!(),
            line!(),
        );
        let c = &self.shared.config;
        let limit = c.ring_budget() as u64;
        let mut name = String::new();
        crate::text::line::push_thread(&mut name, &t.name, t.id);
        let args = (&name.as_str(), &t.id, &(t.capacity as u64), &(c.ring_capacity as u64), &limit);
        self.write_own(&SHRUNK_SITE, args);
    }

    /// Writes a WARN record when threads were refused a ring by the memory budget since the
    /// last look: their calls are dropped (and counted) until a ring fits.
    pub(super) fn report_refused_rings(&mut self) {
        let refused = self.shared.totals.rings_refused.load(Ordering::Relaxed);
        if refused == self.refused_reported {
            return;
        }
        let new = refused - self.refused_reported;
        self.refused_reported = refused;
        static REFUSED_SITE: Callsite = Callsite::new(
            crate::Level::Warn,
            "{} more threads got no ring: ring memory budget of {} bytes (max_ring_memory) is used \
             up; their calls are dropped and counted until rings of exited threads free it",
            module_path!(),
            file!(),
            line!(),
        );
        let limit = self.shared.config.ring_budget() as u64;
        self.write_own(&REFUSED_SITE, (&new, &limit));
    }
}
