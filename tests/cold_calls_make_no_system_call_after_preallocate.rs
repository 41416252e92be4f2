//! After `preallocate()`, the first call of a new call site (its registration) and the first
//! serde value of a new shape make no system call and take no page fault: system calls are
//! checked by a seccomp filter on the logging thread that traps every one it makes (the
//! trap handler records the number and the call is skipped), page faults by the thread's
//! count in `/proc`; and the records arrive whole. `benches/cold.rs` reports both per call.
//!
//! The filtered thread can never make a system call again, so it cannot exit: it spins
//! until the test process ends. This file holds this one test so that nothing else shares
//! the process with it.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// System calls the filtered thread attempted (their numbers, the first 16).
static TRAPPED: [AtomicI32; 16] = [const { AtomicI32::new(-1) }; 16];
static TRAPS: AtomicUsize = AtomicUsize::new(0);

/// The SIGSYS handler: notes the system call the filter refused (`si_syscall`, at offset 24
/// of a 64-bit `siginfo_t`). Touches only atomics, so it makes no system call itself.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler; for SIGSYS its
    // `_sigsys` member holds `void *call_addr` at offset 16 and `int syscall` at 24.
    let nr = unsafe { info.cast::<u8>().add(24).cast::<i32>().read() };
    let n = TRAPS.fetch_add(1, Ordering::Relaxed);
    if let Some(slot) = TRAPPED.get(n) {
        slot.store(nr, Ordering::Relaxed);
    }
}

/// From here on, every system call of this thread but `rt_sigreturn` (which the handler's
/// return needs) raises SIGSYS and is skipped. Only this thread is filtered.
fn trap_every_system_call() {
    // SAFETY: a zeroed sigaction is valid; we fill in the handler and flags.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigsys as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO;
    // SAFETY: installs a handler that only touches atomics.
    assert_eq!(unsafe { libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) }, 0);
    let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter { code: code as u16, jt, jf, k };
    let prog = [
        ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0), // seccomp_data.nr
        ins(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, libc::SYS_rt_sigreturn as u32),
        ins(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        ins(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_TRAP),
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut _ };
    // SAFETY: plain prctl calls; `fprog` points to a valid program for the duration.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const _), 0);
    }
}

/// Minor page faults of thread `tid` so far (field 10 of its `stat`).
fn minor_faults(tid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(7).unwrap().parse().unwrap()
}

#[derive(serde::Serialize)]
struct WarmOrder {
    id: u64,
    px: f64,
}

#[derive(serde::Serialize)]
struct Fill {
    order: u64,
    qty: u32,
    venue: &'static str,
}

#[test]
fn a_new_call_site_and_a_new_serde_shape_make_no_system_call_after_preallocate() {
    let _s = serial();
    let dir = TempDir::new("cold-syscalls");
    let guard = tapelog::Builder::new()
        .dir(dir.path())
        .ring_capacity(1 << 20)
        .overflow(tapelog::Overflow::Block)
        .no_capacity_warning()
        .start()
        .unwrap();

    static TID: AtomicI32 = AtomicI32::new(0);
    static GO: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicBool = AtomicBool::new(false);
    std::thread::spawn(|| {
        assert!(tapelog::preallocate().is_some());
        // Warm: this thread's first call, and the code paths the cold calls share.
        tapelog::info!("warm {}", 1u32);
        tapelog::info!("warm order {:?}", tapelog::serde(&WarmOrder { id: 1, px: 2.5 }));
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        trap_every_system_call();
        TID.store(tid, Ordering::Release);
        while !GO.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        tapelog::info!("cold site {} {}", 7u64, "seven");
        tapelog::info!("cold shape {:?}", tapelog::serde(&Fill { order: 9, qty: 100, venue: "XNAS" }));
        tapelog::info!("cold site again {}", 8u8);
        DONE.store(true, Ordering::Release);
        loop {
            std::hint::spin_loop();
        }
    });

    let deadline = Instant::now() + Duration::from_secs(20);
    let trapped = || TRAPPED.iter().map(|a| a.load(Ordering::Relaxed)).filter(|&n| n >= 0).collect::<Vec<i32>>();
    let tid = loop {
        match TID.load(Ordering::Acquire) {
            0 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            0 => panic!("the logging thread never got ready"),
            t => break t,
        }
    };
    let faults_before = minor_faults(tid);
    let traps_before = TRAPS.load(Ordering::Relaxed);
    GO.store(true, Ordering::Release);
    while !DONE.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the cold calls did not finish; system calls trapped: {:?}", trapped());
        std::thread::sleep(Duration::from_millis(1));
    }
    let faults = minor_faults(tid) - faults_before;
    let traps = TRAPS.load(Ordering::Relaxed) - traps_before;
    let nrs = trapped();
    println!("cold calls: {traps} system calls trapped {nrs:?}, {faults} minor page faults");
    assert_eq!(traps_before, 0, "system calls between the filter and the cold calls: {nrs:?}");
    assert_eq!(traps, 0, "the cold calls made system calls (numbers {nrs:?})");
    assert_eq!(faults, 0, "the cold calls took page faults");

    tapelog::flush();
    let st = tapelog::stats();
    drop(guard);
    assert_eq!(st.total.dropped, 0);
    let (events, problems) = decode(&[dir.path().to_path_buf()]);
    assert!(problems.is_empty(), "{problems:?}");
    let records: Vec<(String, Vec<String>)> = events
        .iter()
        .filter_map(|e| match e {
            Owned::Record { format, args, .. } => Some((format.clone(), args.clone())),
            Owned::Drops { .. } => None,
        })
        .collect();
    let fill = r#"Fill { order: 9, qty: 100, venue: "XNAS" }"#;
    for (format, args) in
        [("cold site {} {}", &["7", "seven"][..]), ("cold shape {:?}", &[fill]), ("cold site again {}", &["8"])]
    {
        assert!(records.iter().any(|(f, a)| f == format && a == args), "missing {format:?} {args:?} in {records:?}");
    }
}
