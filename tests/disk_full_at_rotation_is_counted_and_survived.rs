//! Running out of disk space at rotation: the failure is counted and reported, the
//! application's log calls keep returning, every record is accounted for (written or
//! dropped), and nothing already committed is damaged. Uses a 2.5 MiB tmpfs, so it needs
//! root (CI runs as root); elsewhere it says so and checks nothing.

mod common;
use common::*;
use std::process::Command;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_at_rotation_is_counted_and_the_application_keeps_running() {
    let _s = serial();
    let dir = TempDir::new("disk-full");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2560k", "tmpfs"])
        .arg(dir.path())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let _mount = Mount(dir.path().to_path_buf());

    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(64 << 10)
        .segment_size(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    const N: u64 = 200_000; // ~6 MB of records into 2.5 MiB of space
    for i in 0..N {
        tapelog::info!("record {} {}", i, "padding to fill the disk quickly");
    }
    tapelog::flush();
    let st = tapelog::stats();
    assert!(st.total.io_errors > 0, "{st:?}");
    let err = st.last_error.clone().unwrap_or_default();
    assert!(err.contains("space") || err.contains("No space"), "the error names the cause: {err}");
    drop(guard);

    let st = tapelog::stats();
    assert_eq!(st.total.logged, N);
    assert_eq!(st.total.written + st.total.dropped, N, "{:?}", st.total);
    assert!(st.total.dropped > 0 && st.total.written > 0);

    // What was committed before the disk filled decodes cleanly: a gap-free prefix.
    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(!diags.iter().any(|d| d.starts_with("error")), "{diags:?}");
    let seqs: Vec<u64> = args_of(&events, "record {} {}").map(|(_, a)| a[0].parse().unwrap()).collect();
    assert_eq!(seqs.len() as u64, st.total.written);
    assert_eq!(seqs, (0..st.total.written).collect::<Vec<_>>());
}
