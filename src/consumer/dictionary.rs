//! What the consumer knows of call sites and serde shapes: the registry's entries as the
//! drain loop needs them (argument kinds, record length, routes), which of them the current
//! main segment's dictionary already holds, and a fast table of fixed record lengths.
//!
//! The outputs read it (through [`crate::output::Batch::dict`]) to take apart the records
//! of a batch; only the drain loop adds to it.

use std::sync::Arc;

use crate::flight::{Class, FlightRecorder};
use crate::frontend::callsite::{registered_since, Registered};
use crate::wire::record::{for_each_shape, static_args_len, CallsiteEntry, Split};
use crate::wire::{ArgKind, Layout, Malformed, Record, Records};

pub(crate) struct Site {
    pub reg: Registered,
    /// Bit `i` set when routed output `i` takes this call site's records.
    pub routes: u64,
    pub static_len: Option<usize>,
    /// Whether its records carry serde values, whose shapes the segment must hold.
    pub has_serde: bool,
    /// `SegmentWriter::serial` of the main segment whose dictionary holds this site (0 = none).
    pub in_segment: u64,
    /// What the flight recorder does with its records (`Write` without one).
    pub flight: Class,
}

impl Site {
    /// Its CALLSITE entry payload, as call site `id`.
    pub fn encode(&self, id: u32, out: &mut Vec<u8>) {
        let cs = self.reg.cs;
        CallsiteEntry {
            id,
            level: cs.level as u8,
            line: cs.line,
            kinds: self.reg.kinds,
            format: cs.format,
            module: cs.module,
            file: cs.file,
            fields: cs.fields.to_vec(),
        }
        .encode(out);
    }
}

/// A serde value shape (id = index + 1), as the registry describes it.
pub(crate) struct ShapeSlot {
    pub descriptor: Arc<[u8]>,
    /// `SegmentWriter::serial` of the main segment that holds its SHAPE entry (0 = none).
    pub in_segment: u64,
}

/// What a walk over records found: see [`Dictionary::walk`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Walked {
    pub records: u64,
    /// Dropped records that in-band markers report.
    pub marker_drops: u64,
    /// Where the walk stopped: the end, or the first record it could not take apart.
    pub end: usize,
    /// Whether a record carries a serde value.
    pub serde: bool,
}

#[derive(Default)]
pub(crate) struct Dictionary {
    /// Indexed by call-site id; ids are dense from 1 (index 0 is always `None`).
    sites: Vec<Option<Site>>,
    /// Sites taken from the registry so far.
    known_sites: usize,
    /// Indexed by call-site id: the whole record length of a site whose records are all
    /// one size, carry no serde value and whose dictionary entry is in main segment
    /// `fast_serial`; 0 for any other. Lets the batch walk take such a record with one load.
    fast_len: Vec<u32>,
    fast_serial: u64,
    /// Indexed by shape id - 1.
    pub shapes: Vec<ShapeSlot>,
    /// The routed outputs' routes: bit `i` of `Site::routes` is `routes[i]`.
    routes: Vec<crate::Route>,
    /// The flight recorder's settings, which give each site its `Site::flight`.
    flight: Option<FlightRecorder>,
}

impl Dictionary {
    pub fn new(routes: Vec<crate::Route>, flight: Option<FlightRecorder>) -> Dictionary {
        // Room for the first call sites and shapes, before any program thread logs.
        crate::frontend::callsite::keep_room();
        crate::serde_arg::keep_room();
        Dictionary { sites: vec![None], routes, flight, ..Default::default() }
    }

    /// A call site already looked up (no registry refresh): what outputs use.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Site> {
        self.sites.get(id as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Site> {
        self.sites.get_mut(id as usize)?.as_mut()
    }

    /// Looks up a call site, refreshing from the registry on a miss.
    pub fn site(&mut self, id: u32) -> Option<&Site> {
        let idx = id as usize;
        if idx >= self.sites.len() || self.sites[idx].is_none() {
            self.refresh_sites();
        }
        self.get(id)
    }

    /// Takes the call sites registered since the last look.
    fn refresh_sites(&mut self) {
        {
            let mut fresh = Vec::new();
            registered_since(self.known_sites, &mut fresh);
            if !fresh.is_empty() {
                // Room for the call sites still to come, made here so that no program
                // thread's registration allocates.
                crate::frontend::callsite::keep_room();
            }
            for reg in fresh {
                self.known_sites += 1;
                let static_len = static_args_len(reg.kinds);
                let has_serde = reg.kinds.iter().any(|&k| ArgKind(k).base() == ArgKind::SERDE);
                let mut routes = 0u64;
                for (b, r) in self.routes.iter().enumerate() {
                    if r.matches(reg.cs) {
                        routes |= 1 << b;
                    }
                }
                let flight = self.flight.as_ref().map_or(Class::Write, |f| f.class_of(reg.cs));
                self.sites.push(Some(Site { reg, routes, static_len, has_serde, in_segment: 0, flight }));
            }
        }
    }

    /// Makes the fast-length table the one of main segment `serial` (emptied when that is
    /// a new segment, whose dictionary holds no call site yet). Called once per batch walk.
    pub fn fast_lens_for(&mut self, serial: u64) {
        if self.fast_serial != serial {
            self.fast_len.fill(0);
            self.fast_serial = serial;
        }
    }

    /// By call-site id, the fixed record length of each site known to be in the main
    /// segment given to the last [`fast_lens_for`](Self::fast_lens_for) (0 for any other,
    /// and for ids past the end): what the drain loop's fast path reads.
    #[inline]
    pub fn fast_lens(&self) -> &[u32] {
        &self.fast_len
    }

    /// Lets the batch walk take call site `id`'s records, all `len` bytes long, without a
    /// lookup until the segment rotates. Only for a site whose dictionary entry is in the
    /// current segment and whose records carry no serde value.
    #[cold]
    pub fn remember_fast_len(&mut self, id: u32, len: usize) {
        let (Ok(len), idx) = (u32::try_from(len), id as usize) else { return };
        if idx >= self.fast_len.len() {
            self.fast_len.resize(idx + 1, 0);
        }
        self.fast_len[idx] = len;
    }

    /// Takes the shapes the registry has given out since the last look.
    pub fn refresh_shapes(&mut self) {
        let mut fresh = Vec::new();
        crate::serde_arg::shapes_since(self.shapes.len(), &mut fresh);
        if !fresh.is_empty() {
            crate::serde_arg::keep_room();
        }
        self.shapes.extend(fresh.into_iter().map(|descriptor| ShapeSlot { descriptor, in_segment: 0 }));
    }

    /// The first shape id used by the record at `pos` that main segment `serial` lacks.
    pub fn missing_shape(&mut self, split: Split<'_>, pos: usize, kinds: &[u8], serial: u64) -> Option<u32> {
        let mut missing = None;
        let _ = for_each_shape(split, pos, kinds, |id| {
            if missing.is_some() || id == crate::serde_arg::UNSERIALIZABLE {
                return;
            }
            if id as usize > self.shapes.len() {
                self.refresh_shapes();
            }
            // An id the registry never gave out cannot come from our producers; the decoder
            // reports such a record as undecodable.
            if self.shapes.get(id as usize - 1).is_some_and(|s| s.in_segment != serial) {
                missing = Some(id);
            }
        });
        missing
    }

    /// Walks the records of `split[start..end]` (through `wire::Records`, refreshing from
    /// the registry when it meets a call site it does not know yet): counts records and the
    /// drops that markers report, and stops at the first record it cannot take apart.
    pub fn walk(&mut self, split: Split<'_>, start: usize, end: usize) -> Walked {
        self.walk_each(split, start, end, |_, _| {})
    }

    /// [`walk`](Self::walk), calling `f` with each record taken apart and what the flight
    /// recorder does with it (`Class::Write` for drop markers).
    pub fn walk_each(
        &mut self,
        split: Split<'_>,
        start: usize,
        end: usize,
        mut f: impl FnMut(&Record, Class),
    ) -> Walked {
        let al = split.a.len();
        let bytes = Split { a: &split.a[..end.min(al)], b: &split.b[..end.saturating_sub(al)] };
        let mut w = Walked { end: start, ..Walked::default() };
        let mut refreshed = false;
        loop {
            let sites = &self.sites;
            let lookup = |id: u32| sites.get(id as usize)?.as_ref().map(|s| Layout::of(s.reg.kinds, s.static_len));
            let mut unknown = false;
            for r in Records::starting_at(bytes, w.end, lookup) {
                match r {
                    Ok(rec) => {
                        match rec.drops {
                            Some(d) => {
                                w.marker_drops += d.count;
                                f(&rec, Class::Write);
                            }
                            None => {
                                w.records += 1;
                                let site = sites[rec.id as usize].as_ref();
                                w.serde |= site.is_some_and(|s| s.has_serde);
                                f(&rec, site.map_or(Class::Write, |s| s.flight));
                            }
                        }
                        w.end = rec.end();
                    }
                    Err(e) => unknown = matches!(e.what, Malformed::UnknownSite(_)),
                }
            }
            if !unknown || refreshed {
                return w;
            }
            // A call site registered since the last look: take it, and go on from there.
            refreshed = true;
            self.refresh_sites();
        }
    }

    /// Counts (best effort) the records in `split` from `pos`, for loss accounting: one
    /// more for a record that cannot be taken apart.
    pub fn count_lost(&mut self, split: Split<'_>, pos: usize) -> u64 {
        let w = self.walk(split, pos, split.len());
        w.records + u64::from(w.end < split.len())
    }
}
