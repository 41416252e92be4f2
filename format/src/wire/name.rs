//! Segment file names: `tapelog-<run id, 20 digits>-<sequence, 6 digits>.tlog`, so that
//! names sort oldest first within a run, and a writer prepares the next one as the hidden
//! `.<name>.tmp` before renaming it into place. Every writer and reader of segment
//! directories goes through this module.

use super::SEGMENT_EXT;

/// What every segment file name starts with.
pub const FILE_PREFIX: &str = "tapelog-";

/// A segment's place: the run that wrote it and its sequence number in that run.
///
/// ```
/// use tapelog_format::wire::name::SegmentName;
///
/// let n = SegmentName { run_id: 1796175037169600177, seq: 3 };
/// assert_eq!(n.file_name(), "tapelog-01796175037169600177-000003.tlog");
/// assert_eq!(SegmentName::parse(&n.file_name()), Some(n));
/// assert_eq!(n.temp_name(), ".tapelog-01796175037169600177-000003.tlog.tmp");
/// assert!(SegmentName::is_temp(&n.temp_name()));
/// assert!(!SegmentName::is_segment("notes.txt"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentName {
    /// The run (a logger's start, in Unix ns) that wrote it.
    pub run_id: u64,
    /// Its sequence number within the run, from 0.
    pub seq: u32,
}

impl SegmentName {
    /// The file name.
    pub fn file_name(&self) -> String {
        format!("{FILE_PREFIX}{:020}-{:06}.{SEGMENT_EXT}", self.run_id, self.seq)
    }

    /// The hidden name a writer prepares the file under before renaming it to
    /// [`file_name`](Self::file_name).
    pub fn temp_name(&self) -> String {
        format!(".{}.tmp", self.file_name())
    }

    /// The run and sequence of a segment file name; `None` for any other name.
    pub fn parse(name: &str) -> Option<SegmentName> {
        let rest = name.strip_prefix(FILE_PREFIX)?.strip_suffix(SEGMENT_EXT)?.strip_suffix('.')?;
        let (run, seq) = rest.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(run) || !digits(seq) {
            return None;
        }
        Some(SegmentName { run_id: run.parse().ok()?, seq: seq.parse().ok()? })
    }

    /// Whether `name` is a segment file's name (any run, any sequence).
    pub fn is_segment(name: &str) -> bool {
        name.starts_with(FILE_PREFIX) && name.strip_suffix(SEGMENT_EXT).is_some_and(|r| r.ends_with('.'))
    }

    /// Whether `name` is a segment a writer prepared and never renamed into place.
    pub fn is_temp(name: &str) -> bool {
        name.starts_with('.') && name.ends_with(".tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_run_then_sequence() {
        let a = SegmentName { run_id: 5, seq: 999_999 };
        let b = SegmentName { run_id: 6, seq: 0 };
        assert!(a.file_name() < b.file_name());
        assert_eq!(SegmentName::parse(&a.file_name()), Some(a));
        for bad in ["tapelog-.tlog", "tapelog-1-.tlog", "tapelog-x-1.tlog", "tapelog-1-2.tlo", "other-1-2.tlog"] {
            assert_eq!(SegmentName::parse(bad), None, "{bad}");
        }
    }
}
