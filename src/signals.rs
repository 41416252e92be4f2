//! Opt-in handling of fatal signals: flush every ring, record "received signal N", then die
//! by the same signal with its default action.
//!
//! Everything the handler does is async-signal-safe: atomics, `alarm`, `nanosleep`,
//! `sigaction`, `raise`, and waking the consumer (`Thread::unpark` is an atomic swap plus a
//! futex wake on Linux: no lock, no allocation). It never takes a lock, so it cannot deadlock
//! on one the interrupted code holds. The record itself is written by the consumer thread,
//! which is not interrupted, into a stream of its own: the handler never touches the
//! interrupted thread's ring, which might be half-written.
//!
//! Bounds: the handler waits at most [`FLUSH_WAIT`] for the consumer, and arms
//! `alarm(ALARM_SECS)` first, so even a wedged process ends. A second signal while the first
//! is being handled, or a signal on the consumer thread itself, skips the flush and goes
//! straight to the default action.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

use crate::shared::Shared;

/// The signals `install_signal_handlers` handles.
pub const FATAL_SIGNALS: [libc::c_int; 7] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT, libc::SIGTERM, libc::SIGINT];

/// Longest the handler waits for the consumer to write everything.
pub const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// Seconds after which SIGALRM ends the process if the handler itself is stuck.
pub const ALARM_SECS: libc::c_uint = 3;

/// The running logger, for the handler (which may not lock `CURRENT`). Set at start; each
/// pointer comes from `Arc::into_raw` and is never freed, so a handler can never see it
/// dangle (one small leak per logger started).
pub(crate) static SIGNAL_SHARED: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());

/// OS thread id of the consumer thread (0 when none).
pub(crate) static CONSUMER_TID: AtomicU64 = AtomicU64::new(0);

/// A signal the consumer should record (0 = none).
pub(crate) static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Set by the first handler to run; later signals skip the flush.
static HANDLING: AtomicBool = AtomicBool::new(false);

/// Installs the handlers for [`FATAL_SIGNALS`]. Call once, after `start()` or before: the
/// handler finds whichever logger is running when the signal arrives.
///
/// ```no_run
/// let _guard = tapelog::Builder::new().start()?;
/// tapelog::install_signal_handlers()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_signal_handlers() -> std::io::Result<()> {
    for sig in FATAL_SIGNALS {
        // SAFETY: sigaction with a zeroed struct, our handler and an empty mask; the handler
        // only does async-signal-safe work (see the module docs).
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

extern "C" fn handler(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SeqCst swap: exactly one handler runs the flush; any other signal, on any thread,
    // sees `true` and takes the default action at once.
    if !HANDLING.swap(true, Ordering::SeqCst) {
        // SAFETY: alarm is async-signal-safe.
        unsafe { libc::alarm(ALARM_SECS) };
        flush_from_handler(sig);
    }
    die_by(sig);
}

fn flush_from_handler(sig: libc::c_int) {
    // Acquire pairs with the Release store in `register_logger`.
    let sh = SIGNAL_SHARED.load(Ordering::Acquire);
    if sh.is_null() {
        return;
    }
    // SAFETY: gettid has no preconditions and is async-signal-safe.
    let me = unsafe { libc::gettid() } as u64;
    if me == CONSUMER_TID.load(Ordering::Relaxed) {
        return; // the consumer cannot flush for a thread it is itself interrupting
    }
    // SAFETY: pointers in SIGNAL_SHARED come from Arc::into_raw and are never freed.
    let sh = unsafe { &*sh };
    if !sh.flush.consumer_alive() {
        return;
    }
    // Release: the consumer's Acquire load sees the signal before it serves the flush.
    PENDING_SIGNAL.store(sig, Ordering::Release);
    let ticket = sh.flush.request();
    sh.wake_consumer();
    let step = libc::timespec { tv_sec: 0, tv_nsec: 200_000 };
    let steps = FLUSH_WAIT.as_micros() / 200;
    for _ in 0..steps {
        if sh.flush.is_served(ticket) {
            return;
        }
        // SAFETY: nanosleep is async-signal-safe; `step` is a valid timespec.
        unsafe { libc::nanosleep(&step, std::ptr::null_mut()) };
    }
}

/// Restores the default action and raises the signal again (delivered when the handler
/// returns, or at once if it is not blocked), so the process ends as it would have.
fn die_by(sig: libc::c_int) {
    // SAFETY: sigaction, sigprocmask and raise are async-signal-safe; the structs are zeroed
    // plain data.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// Makes `shared` the logger the handler flushes.
pub(crate) fn register_logger(shared: &std::sync::Arc<Shared>) {
    let p = std::sync::Arc::into_raw(shared.clone()) as *mut Shared;
    // Release: the handler's Acquire load sees a fully built Shared.
    SIGNAL_SHARED.store(p, Ordering::Release);
}

/// The logger stopped: the handler has nothing to flush.
pub(crate) fn unregister_logger() {
    SIGNAL_SHARED.store(std::ptr::null_mut(), Ordering::Release);
}

/// The signal's conventional name.
pub(crate) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}
