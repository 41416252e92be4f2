//! Entry payloads other than the header: encoders used by the consumer and decoders used by
//! every reader. Each payload lists its fields in order; later versions may append fields,
//! which older readers ignore.
//!
//! ```text
//! CALLSITE   id u32, level u8, line u32, nkinds u16, kinds [u8; nkinds],
//!            format (u32 len + UTF-8), module (u16 len + UTF-8), file (u16 len + UTF-8),
//!            [nfields u16, field names (u16 len + UTF-8) x nfields]   (appended; absent = 0)
//! THREAD     thread u32, os_tid u64, name (u16 len + UTF-8)
//! ANCHOR     ticks u64, unix_ns u64, ticks_per_sec f64
//! BATCH      thread u32, base_ticks u64, records...
//! DROPS      thread u32, count u64, first_ticks u64, last_ticks u64
//! THREAD_END thread u32, logged u64, dropped u64
//! SHAPE      id u32, descriptor (see `serde_arg::shape`)
//! record     callsite u32, ticks (low 48 bits, 6 bytes LE), arguments by kind
//! ```

pub use super::batch::{for_each_shape, record_len_split, Split};
use super::kinds::{arg_len, ArgError, ArgKind};
use super::le;

/// A call site's dictionary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsiteEntry<'a> {
    /// Call-site id that records refer to.
    pub id: u32,
    /// Level (see [`crate::wire::level`]).
    pub level: u8,
    /// Source line.
    pub line: u32,
    /// Argument kinds, one byte each ([`ArgKind`]).
    pub kinds: &'a [u8],
    /// The format string.
    pub format: &'a str,
    /// Module path (the target).
    pub module: &'a str,
    /// Source file.
    pub file: &'a str,
    /// Names of key-value fields: the last `fields.len()` arguments are their values.
    pub fields: Vec<&'a str>,
}

/// A producer thread's dictionary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadEntry<'a> {
    /// Thread id that batches refer to.
    pub thread: u32,
    /// The operating system's id for the thread.
    pub os_tid: u64,
    /// The thread's name (empty when unnamed).
    pub name: &'a str,
}

/// A calibration anchor: one instant on both clocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Tick counter at the instant.
    pub ticks: u64,
    /// Unix time in ns at the instant.
    pub unix_ns: u64,
    /// The writer's best estimate of the tick rate.
    pub ticks_per_sec: f64,
}

impl Anchor {
    /// Converts a tick value to Unix ns using this anchor (see [`TickClock`], which does
    /// it for many values).
    #[inline]
    pub fn to_unix_ns(&self, ticks: u64) -> i128 {
        TickClock::new(self).ns(ticks)
    }
}

/// An [`Anchor`] prepared for converting many tick values:
/// `unix_ns + round(d * 1e9 / ticks_per_sec)`, where `d` is the signed distance in ticks
/// from the anchor and `round` goes half away from zero, computed in fixed point. Its ns per
/// tick has 48 fractional bits, rounded, so the result before rounding is off by at most
/// `d / 2^49` ns: 2^-9 ns at 2^40 ticks (7 minutes at 2.5 GHz; anchors come about every
/// 50 ms). Converting costs one 64x64-bit multiplication, no division and no float
/// conversion. The writer's text sinks
/// and the decoder both convert through it, so they agree to the nanosecond.
#[derive(Debug, Clone, Copy)]
pub struct TickClock {
    ticks: u64,
    unix_ns: u64,
    /// ns per tick, times 2^`FRAC_BITS`; `None` for a rate too slow for that (under about
    /// 30,500 ticks per second), converted in floating point instead.
    mult: Option<u64>,
    ns_per_tick: f64,
}

impl TickClock {
    const FRAC_BITS: u32 = 48;

    /// The clock of anchor `a`. A rate that is not a positive number counts as 1e9 (ns ticks).
    #[inline]
    pub fn new(a: &Anchor) -> TickClock {
        let rate = if a.ticks_per_sec > 0.0 { a.ticks_per_sec } else { 1e9 };
        let ns_per_tick = 1e9 / rate;
        let scaled = (ns_per_tick * (1u64 << Self::FRAC_BITS) as f64).round();
        // Below 2^63: the product with a distance's magnitude (at most 2^63) fits in a u128.
        let mult = (scaled < (1u64 << 63) as f64).then_some(scaled as u64);
        TickClock { ticks: a.ticks, unix_ns: a.unix_ns, mult, ns_per_tick }
    }

    /// Unix ns of `ticks`.
    #[inline]
    pub fn ns(&self, ticks: u64) -> i128 {
        let d = ticks.wrapping_sub(self.ticks) as i64;
        let delta = match self.mult {
            Some(m) => {
                let half = 1u128 << (Self::FRAC_BITS - 1);
                let mag = ((u128::from(d.unsigned_abs()) * u128::from(m) + half) >> Self::FRAC_BITS) as i128;
                if d < 0 {
                    -mag
                } else {
                    mag
                }
            }
            None => (d as f64 * self.ns_per_tick).round() as i128,
        };
        self.unix_ns as i128 + delta
    }
}

/// Records dropped by a thread, as counted by the consumer or the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    /// Thread whose records were lost.
    pub thread: u32,
    /// How many records.
    pub count: u64,
    /// Ticks of the first drop.
    pub first_ticks: u64,
    /// Ticks of the last drop.
    pub last_ticks: u64,
}

/// The end of a thread's stream, with its final counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadEnd {
    /// The thread.
    pub thread: u32,
    /// Records it logged.
    pub logged: u64,
    /// Records of it that were dropped.
    pub dropped: u64,
}

/// A logger's start (configuration summary, format version, tick rate) or clean stop
/// (totals), as key-value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo<'a> {
    /// [`RunInfo::START`] or [`RunInfo::STOP`].
    pub phase: u8,
    /// When, Unix ns.
    pub unix_ns: u64,
    /// What, in order.
    pub items: Vec<(&'a str, &'a str)>,
}

impl RunInfo<'_> {
    /// `phase` of the record written at start-up.
    pub const START: u8 = 0;
    /// `phase` of the record written at a clean shutdown.
    pub const STOP: u8 = 1;
}

/// One flight-recorder dump (a DUMP entry): the kept records it wrote out as RECORDED
/// entries, their time span, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry<'a> {
    /// Records written.
    pub count: u64,
    /// Ticks of the oldest and newest of them (0 and 0 when none).
    pub first_ticks: u64,
    /// See `first_ticks`.
    pub last_ticks: u64,
    /// Ticks of the trigger: the triggering record, or when a dump was asked for.
    pub trigger_ticks: u64,
    /// What triggered it, e.g. `ERROR record`, `panic`, `signal 11 (SIGSEGV)`, or the
    /// reason given to `dump_flight_recorder`.
    pub reason: &'a str,
}

/// The fixed head of a BATCH payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHead {
    /// Thread the records belong to.
    pub thread: u32,
    /// Ticks read by the consumer when it took the batch; records unwrap near it.
    pub base_ticks: u64,
}

/// A payload that does not hold what its kind promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// Byte offset within the payload.
    pub at: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl core::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (payload byte {})", self.what, self.at)
    }
}

fn err<T>(at: usize, what: &'static str) -> Result<T, PayloadError> {
    Err(PayloadError { at, what })
}

struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn u8(&mut self) -> Result<u8, PayloadError> {
        let v = *self.b.get(self.at).ok_or(PayloadError { at: self.at, what: "payload too short" })?;
        self.at += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, PayloadError> {
        let v = le::u16_at(self.b, self.at).ok_or(PayloadError { at: self.at, what: "payload too short" })?;
        self.at += 2;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32, PayloadError> {
        let v = le::u32_at(self.b, self.at).ok_or(PayloadError { at: self.at, what: "payload too short" })?;
        self.at += 4;
        Ok(v)
    }
    fn u64(&mut self) -> Result<u64, PayloadError> {
        let v = le::u64_at(self.b, self.at).ok_or(PayloadError { at: self.at, what: "payload too short" })?;
        self.at += 8;
        Ok(v)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else { return err(self.at, "length runs past the payload") };
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn str_with(&mut self, n: usize) -> Result<&'a str, PayloadError> {
        let at = self.at;
        core::str::from_utf8(self.bytes(n)?).or_else(|_| err(at, "string is not UTF-8"))
    }
    fn str16(&mut self) -> Result<&'a str, PayloadError> {
        let n = self.u16()? as usize;
        self.str_with(n)
    }
    fn str32(&mut self) -> Result<&'a str, PayloadError> {
        let n = self.u32()? as usize;
        self.str_with(n)
    }
}

fn put_str16(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

impl<'a> CallsiteEntry<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
        out.push(self.level);
        out.extend_from_slice(&self.line.to_le_bytes());
        let nk = self.kinds.len().min(u16::MAX as usize);
        out.extend_from_slice(&(nk as u16).to_le_bytes());
        out.extend_from_slice(&self.kinds[..nk]);
        out.extend_from_slice(&(self.format.len() as u32).to_le_bytes());
        out.extend_from_slice(self.format.as_bytes());
        put_str16(out, self.module);
        put_str16(out, self.file);
        if !self.fields.is_empty() {
            out.extend_from_slice(&(self.fields.len().min(u16::MAX as usize) as u16).to_le_bytes());
            for f in self.fields.iter().take(u16::MAX as usize) {
                put_str16(out, f);
            }
        }
    }

    /// Reads a payload.
    pub fn decode(b: &'a [u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        let id = c.u32()?;
        let level = c.u8()?;
        let line = c.u32()?;
        let nk = c.u16()? as usize;
        let kinds = c.bytes(nk)?;
        let format = c.str32()?;
        let module = c.str16()?;
        let file = c.str16()?;
        let mut fields = Vec::new();
        if c.at < b.len() {
            let n = c.u16()? as usize;
            if n > nk {
                return err(c.at - 2, "more field names than arguments");
            }
            for _ in 0..n {
                fields.push(c.str16()?);
            }
        }
        Ok(CallsiteEntry { id, level, line, kinds, format, module, file, fields })
    }
}

impl<'a> ThreadEntry<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.thread.to_le_bytes());
        out.extend_from_slice(&self.os_tid.to_le_bytes());
        put_str16(out, self.name);
    }

    /// Reads a payload.
    pub fn decode(b: &'a [u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        Ok(ThreadEntry { thread: c.u32()?, os_tid: c.u64()?, name: c.str16()? })
    }
}

impl Anchor {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ticks.to_le_bytes());
        out.extend_from_slice(&self.unix_ns.to_le_bytes());
        out.extend_from_slice(&self.ticks_per_sec.to_bits().to_le_bytes());
    }

    /// Reads a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        let a = Anchor { ticks: c.u64()?, unix_ns: c.u64()?, ticks_per_sec: f64::from_bits(c.u64()?) };
        if !(a.ticks_per_sec.is_finite() && a.ticks_per_sec > 0.0) {
            return err(16, "tick rate is not a positive number");
        }
        Ok(a)
    }
}

impl Drops {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.thread.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.first_ticks.to_le_bytes());
        out.extend_from_slice(&self.last_ticks.to_le_bytes());
    }

    /// Reads a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        Ok(Drops { thread: c.u32()?, count: c.u64()?, first_ticks: c.u64()?, last_ticks: c.u64()? })
    }

    /// Reads the payload of an in-band drop marker record (call-site id 0).
    pub fn decode_marker(thread: u32, args: &[u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b: args, at: 0 };
        Ok(Drops { thread, count: c.u64()?, first_ticks: c.u64()?, last_ticks: c.u64()? })
    }
}

impl<'a> DumpEntry<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.first_ticks.to_le_bytes());
        out.extend_from_slice(&self.last_ticks.to_le_bytes());
        out.extend_from_slice(&self.trigger_ticks.to_le_bytes());
        put_str16(out, self.reason);
    }

    /// Reads a payload.
    pub fn decode(b: &'a [u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        Ok(DumpEntry {
            count: c.u64()?,
            first_ticks: c.u64()?,
            last_ticks: c.u64()?,
            trigger_ticks: c.u64()?,
            reason: c.str16()?,
        })
    }
}

impl ThreadEnd {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.thread.to_le_bytes());
        out.extend_from_slice(&self.logged.to_le_bytes());
        out.extend_from_slice(&self.dropped.to_le_bytes());
    }

    /// Reads a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        Ok(ThreadEnd { thread: c.u32()?, logged: c.u64()?, dropped: c.u64()? })
    }
}

impl<'a> RunInfo<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.phase);
        out.extend_from_slice(&self.unix_ns.to_le_bytes());
        let n = self.items.len().min(u16::MAX as usize);
        out.extend_from_slice(&(n as u16).to_le_bytes());
        for (k, v) in self.items.iter().take(n) {
            put_str16(out, k);
            put_str16(out, v);
        }
    }

    /// Reads a payload.
    pub fn decode(b: &'a [u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        let phase = c.u8()?;
        let unix_ns = c.u64()?;
        let n = c.u16()? as usize;
        let mut items = Vec::with_capacity(n.min(256));
        for _ in 0..n {
            items.push((c.str16()?, c.str16()?));
        }
        Ok(RunInfo { phase, unix_ns, items })
    }
}

impl BatchHead {
    /// Writes the fixed head into `out` (which must be [`super::BATCH_FIXED_LEN`] bytes).
    pub fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.thread.to_le_bytes());
        out[4..12].copy_from_slice(&self.base_ticks.to_le_bytes());
    }

    /// Splits a BATCH payload into its head and its record bytes.
    pub fn decode(b: &[u8]) -> Result<(Self, &[u8]), PayloadError> {
        let mut c = Cur { b, at: 0 };
        let h = BatchHead { thread: c.u32()?, base_ticks: c.u64()? };
        Ok((h, &b[super::BATCH_FIXED_LEN..]))
    }
}

/// The parts of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Call-site id ([`super::DROP_MARKER_ID`] for an in-band drop marker).
    pub callsite: u32,
    /// Low 48 bits of the tick counter.
    pub ticks48: u64,
    /// Encoded arguments.
    pub args: &'a [u8],
}

/// Reads the header of the record at the start of `b`.
#[inline]
pub fn record_head(b: &[u8]) -> Option<(u32, u64)> {
    let id = le::u32_at(b, 0)?;
    let t = b.get(4..10)?;
    let mut t8 = [0u8; 8];
    t8[..6].copy_from_slice(t);
    Some((id, u64::from_le_bytes(t8)))
}

/// Length of the arguments of a record with these kinds at the start of `args`.
#[inline]
pub fn args_len(kinds: &[u8], args: &[u8]) -> Result<usize, ArgError> {
    let mut at = 0usize;
    for &k in kinds {
        at += arg_len(ArgKind(k), args.get(at..).ok_or(ArgError::Truncated)?)?;
    }
    Ok(at)
}

/// If every kind has a value-independent size, the total.
pub fn static_args_len(kinds: &[u8]) -> Option<usize> {
    kinds.iter().try_fold(0usize, |acc, &k| Some(acc + ArgKind(k).static_size()?))
}

/// A serde value's shape: what the segment's records with this shape id are read by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeEntry<'a> {
    /// Shape id that serde arguments refer to (never 0).
    pub id: u32,
    /// The shape descriptor (decode with [`crate::serde_value::Shape::decode`]).
    pub descriptor: &'a [u8],
}

impl<'a> ShapeEntry<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(self.descriptor);
    }

    /// Reads a payload (checking that the descriptor parses).
    pub fn decode(b: &'a [u8]) -> Result<Self, PayloadError> {
        let mut c = Cur { b, at: 0 };
        let id = c.u32()?;
        let descriptor = &b[4..];
        crate::serde_value::Shape::decode(descriptor).map_err(|what| PayloadError { at: 4, what })?;
        Ok(ShapeEntry { id, descriptor })
    }

    /// The shape (for an entry from [`ShapeEntry::decode`], whose descriptor parsed, always
    /// `Ok`).
    pub fn shape(&self) -> Result<crate::serde_value::Shape, &'static str> {
        crate::serde_value::Shape::decode(self.descriptor).map(|(s, _)| s)
    }
}
