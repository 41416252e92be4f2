//! The opt-in fatal-signal handler: for each handled signal, a child process's records and a
//! "received signal N" marker are in the log, and the child ends by that same signal. A
//! signal on the consumer thread, a second signal during the flush, and a consumer that
//! cannot finish all end the process without hanging.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const ENV: &str = "TAPELOG_SIGNAL_CHILD";

fn child(spec: &str) -> ! {
    let (mode, dir) = spec.split_once(':').unwrap();
    let _guard = tapelog::Builder::new().dir(dir).overflow(tapelog::Overflow::Block).start().unwrap();
    tapelog::install_signal_handlers().unwrap();
    let hs: Vec<_> = (0..2u32)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    tapelog::info!("before the signal {} {}", t, i);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // SAFETY: deliberately raising or provoking signals, in a child process made to die.
    unsafe {
        match mode {
            "SIGSEGV" => std::ptr::null_mut::<u8>().write_volatile(1),
            "SIGILL" => core::arch::asm!("ud2"),
            "SIGABRT" => std::process::abort(),
            "SIGBUS" => _ = libc::raise(libc::SIGBUS),
            "SIGFPE" => _ = libc::raise(libc::SIGFPE),
            "SIGTERM" => _ = libc::raise(libc::SIGTERM),
            "SIGINT" => _ = libc::raise(libc::SIGINT),
            "consumer" => {
                tapelog::flush();
                libc::syscall(
                    libc::SYS_tgkill,
                    libc::getpid(),
                    tapelog::__private::consumer_tid() as libc::pid_t,
                    libc::SIGTERM,
                );
            }
            "second" => {
                tapelog::__private::pause_consumer(true); // the handler's flush cannot finish
                std::thread::spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    libc::kill(libc::getpid(), libc::SIGINT);
                });
                libc::raise(libc::SIGTERM);
            }
            "stuck" => {
                tapelog::__private::pause_consumer(true);
                libc::raise(libc::SIGTERM);
            }
            _ => unreachable!(),
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(30));
    unreachable!("the signal should have ended the process");
}

fn run(mode: &str) -> (Option<i32>, Vec<Owned>, TempDir) {
    let dir = TempDir::new(&format!("signal-{mode}"));
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fatal_signals_are_recorded_and_end_the_process_by_the_same_signal", "--nocapture"])
        .env(ENV, format!("{mode}:{}", dir.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let (events, _) = decode(&[dir.path().to_path_buf()]);
    (status.signal(), events, dir)
}

fn before_count(events: &[Owned]) -> usize {
    args_of(events, "before the signal {} {}").count()
}

fn marker(events: &[Owned]) -> Option<Vec<String>> {
    args_of(events, "received signal {} ({})").next().map(|(_, a)| a.to_vec())
}

#[test]
fn fatal_signals_are_recorded_and_end_the_process_by_the_same_signal() {
    if let Ok(spec) = std::env::var(ENV) {
        child(&spec);
    }
    let _s = serial();
    for (name, sig) in [
        ("SIGSEGV", libc::SIGSEGV),
        ("SIGBUS", libc::SIGBUS),
        ("SIGILL", libc::SIGILL),
        ("SIGFPE", libc::SIGFPE),
        ("SIGABRT", libc::SIGABRT),
        ("SIGTERM", libc::SIGTERM),
        ("SIGINT", libc::SIGINT),
    ] {
        let (got, events, _dir) = run(name);
        assert_eq!(got, Some(sig), "{name}: the child must end by the same signal");
        assert_eq!(before_count(&events), 1000, "{name}: every record logged before the signal");
        assert_eq!(marker(&events), Some(vec![sig.to_string(), name.to_string()]), "{name}: marker");
    }

    // On the consumer thread: no flush is possible, so no marker, but no hang either.
    let (got, events, _dir) = run("consumer");
    assert_eq!(got, Some(libc::SIGTERM));
    assert_eq!(before_count(&events), 1000, "records flushed before the signal stay");

    // A second signal while the first waits for a consumer that cannot finish: the second
    // one ends the process (not the 3 s alarm).
    let (got, _, _dir) = run("second");
    assert_eq!(got, Some(libc::SIGINT));

    // A consumer that never finishes: the handler's wait is bounded and the process still
    // ends by the original signal.
    let (got, _, _dir) = run("stuck");
    assert_eq!(got, Some(libc::SIGTERM));
}
