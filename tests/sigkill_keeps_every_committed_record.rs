//! A process killed with SIGKILL at a random moment loses nothing the consumer committed:
//! every thread's records decode as a gap-free prefix, nothing garbled is printed, and the
//! unfinished segment is reported as such. 20 trials here; `TAPELOG_KILL_TRIALS` runs more.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "TAPELOG_KILL_CHILD_DIR";

/// The child: 4 threads log numbered records until killed.
fn child(dir: &str) -> ! {
    let _guard = tapelog::Builder::new()
        .dir(dir)
        .ring_capacity(64 << 10)
        .segment_size(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .start()
        .unwrap();
    let hs: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    tapelog::info!("thread {} seq {} payload {}", t, seq, "some bytes to fill");
                    if seq % 100 == 99 {
                        // Keep each trial's output small enough to decode quickly.
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    for h in hs {
        let _ = h.join();
    }
    unreachable!("killed before this");
}

#[test]
fn sigkill_at_a_random_moment_keeps_gap_free_prefixes() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
    }
    let _s = serial();
    let trials: u32 = std::env::var("TAPELOG_KILL_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let mut rng = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut with_data = 0;
    for trial in 0..trials {
        let dir = TempDir::new(&format!("sigkill-{trial}"));
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sigkill_at_a_random_moment_keeps_gap_free_prefixes", "--nocapture"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(30 + rng % 120));
        c.kill().unwrap(); // SIGKILL
        let status = c.wait().unwrap();
        assert!(!status.success(), "trial {trial}: the child must die by the signal");

        if tapelog::list_segments(dir.path()).is_empty() {
            // Killed before start() had published the first segment: nothing was logged.
            continue;
        }
        with_data += 1;
        let (events, diags) = decode(&[dir.path().to_path_buf()]);
        let mut next = [0u64; 4];
        for e in &events {
            let Owned::Record { format, args, .. } = e else { panic!("trial {trial}: unexpected {e:?}") };
            assert_eq!(format, "thread {} seq {} payload {}", "trial {trial}: garbage record");
            assert_eq!(args[2], "some bytes to fill");
            let t: usize = args[0].parse().unwrap();
            let seq: u64 = args[1].parse().unwrap();
            assert_eq!(seq, next[t], "trial {trial}: thread {t} has a gap or a repeat");
            next[t] += 1;
        }
        assert!(next.iter().sum::<u64>() > 0, "trial {trial}: nothing was committed in {} ms?", 30 + rng % 120);
        // Killed mid-segment (the usual case), the live segment is reported as unfinished;
        // killed between finalizing one segment and opening the next, nothing is torn.
        let unfinished = tapelog::list_segments(dir.path()).iter().any(|(p, _)| {
            let r = tapelog::wire::reader::EntryReader::open(std::fs::File::open(p).unwrap()).unwrap();
            !r.header().is_finalized()
        });
        if unfinished {
            assert!(
                diags.iter().any(|d| d.contains("not closed cleanly") || d.contains("torn")),
                "trial {trial}: the unfinished segment must be reported: {diags:?}"
            );
        }
        assert!(
            !diags.iter().any(|d| d.starts_with("error")),
            "trial {trial}: damage reported after a kill: {diags:?}"
        );
    }
    assert!(with_data >= trials / 2, "only {with_data} of {trials} trials got past start-up before the kill");
}
