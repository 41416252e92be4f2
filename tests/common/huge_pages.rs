//! How much of this process's memory the kernel backs with transparent huge pages, for the
//! huge-page test and the cold bench. Include with
//! `#[path = "common/huge_pages.rs"] mod huge_pages;`.

/// Bytes of this process's anonymous memory backed by transparent huge pages now
/// (`AnonHugePages` in `/proc/self/smaps_rollup`; 0 where there is none to read).
pub fn anon_huge() -> u64 {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb << 10)
}
