//! `--max-bytes`: the segment files of all sources together, oldest removed first.
//!
//! A source's own quota (`--max-bytes-per-source`) is the segment writer's retention,
//! applied as each of its segments opens (`SourceWriter::open_with_quota`). The collector's
//! total is checked here, by the connection whose source just opened a segment: it lists
//! every source directory and removes the oldest segments (by modification time) until the
//! total fits. The newest segment of each directory is never removed: it may be the one a
//! connection is writing.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tapelog_segment::list_segments;

/// What one pass removed.
#[derive(Debug, Default)]
pub(super) struct Pass {
    pub files: u64,
    pub bytes: u64,
    pub first: Option<PathBuf>,
    pub last: Option<PathBuf>,
    /// Bytes of segments left.
    pub total: u64,
}

/// Removes the oldest segments under `root`'s source directories until their total is at
/// most `max` bytes, sparing each directory's newest.
pub(super) fn enforce_total(root: &Path, max: u64) -> Pass {
    let mut pass = Pass::default();
    let Ok(rd) = std::fs::read_dir(root) else { return pass };
    let mut candidates: Vec<(SystemTime, PathBuf, u64)> = Vec::new();
    for d in rd.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let mut segs = list_segments(&d.path());
        // Names sort oldest first within a directory; the last may be open.
        segs.sort();
        let newest = segs.pop();
        pass.total += newest.map_or(0, |(_, len)| len);
        for (path, len) in segs {
            pass.total += len;
            let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
            candidates.push((mtime, path, len));
        }
    }
    if pass.total <= max {
        return pass;
    }
    candidates.sort();
    for (_, path, len) in candidates {
        if pass.total <= max {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            pass.total -= len;
            pass.files += 1;
            pass.bytes += len;
            if pass.first.is_none() {
                pass.first = Some(path.clone());
            }
            pass.last = Some(path);
        }
    }
    pass
}
