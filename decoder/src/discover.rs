//! Finding segments: files and directories on the command line become runs of segments.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tapelog_format::wire::reader::{EntryReader, ReadError};
use tapelog_format::wire::{FileHeader, SEGMENT_EXT};

/// One segment file, opened and with its header read.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Where it is.
    pub path: PathBuf,
    /// The open file (shared by every cursor reading it).
    pub file: Arc<File>,
    /// Its header.
    pub header: FileHeader,
}

/// All segments written by one logger instance, in sequence order.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run id from the headers.
    pub run_id: u64,
    /// The writer's pid.
    pub pid: u32,
    /// Segments sorted by sequence number.
    pub segments: Vec<Segment>,
}

/// A file that could not be used, and why.
#[derive(Debug)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub error: ReadError,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// Why no input could be assembled.
#[derive(Debug)]
pub enum DiscoverError {
    /// A path does not exist or cannot be listed.
    Io(PathBuf, std::io::Error),
    /// A directory holds no segment files, nor do its subdirectories.
    NoSegments(PathBuf),
    /// The command line asks for something impossible.
    Usage(String),
}

impl std::fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoverError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            DiscoverError::NoSegments(p) => {
                write!(
                    f,
                    "{}: no tapelog segments (*.{SEGMENT_EXT}) found, in it or in its subdirectories",
                    p.display()
                )
            }
            DiscoverError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DiscoverError {}

/// Expands files and directories into segment paths (directories: their `*.tlog` files).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| DiscoverError::Io(p.clone(), e))?;
        if md.is_dir() {
            let mut found = segments_in(p)?;
            if found.is_empty() {
                // A collector's directory (`tapelog serve --dir`) holds one directory per
                // source: take every source's segments.
                let rd = std::fs::read_dir(p).map_err(|e| DiscoverError::Io(p.clone(), e))?;
                for sub in rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|s| s.is_dir()) {
                    found.extend(segments_in(&sub)?);
                }
            }
            if found.is_empty() {
                return Err(DiscoverError::NoSegments(p.clone()));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The segment files directly in directory `dir`.
fn segments_in(dir: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DiscoverError::Io(dir.to_path_buf(), e))?;
    Ok(rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == SEGMENT_EXT) && p.is_file())
        .collect())
}

/// Opens every segment and groups them into runs (oldest run first). Files that cannot be
/// opened are returned separately, so the rest still decode.
pub fn open_runs(paths: &[PathBuf]) -> (Vec<Run>, Vec<FileError>) {
    let mut runs: BTreeMap<(u64, u32), Vec<Segment>> = BTreeMap::new();
    let mut errors = Vec::new();
    for path in paths {
        match open_segment(path) {
            Ok(seg) => runs.entry((seg.header.run_id, seg.header.pid)).or_default().push(seg),
            Err(error) => errors.push(FileError { path: path.clone(), error }),
        }
    }
    let runs = runs
        .into_iter()
        .map(|((run_id, pid), mut segments)| {
            segments.sort_by_key(|s| s.header.seq);
            segments.dedup_by_key(|s| s.header.seq);
            Run { run_id, pid, segments }
        })
        .collect();
    (runs, errors)
}

/// Opens one segment and reads its header.
pub fn open_segment(path: &Path) -> Result<Segment, ReadError> {
    let file = Arc::new(File::open(path)?);
    let r = EntryReader::open(file.clone())?;
    Ok(Segment { path: path.to_path_buf(), header: r.header().clone(), file })
}
