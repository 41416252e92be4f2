//! What the runtime asks of the operating system outside the hot path: the host name, the
//! CPU count, a thread's id and its CPU placement. One place for each, so the consumer,
//! the outputs and the frontend's attach path all get the same answer.

/// This machine's host name, or `None` if the system will not say.
pub(crate) fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The calling thread's operating-system id (0 where there is none to be had).
pub(crate) fn thread_id() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() }) as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// CPUs the system has online.
pub(crate) fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Pins the calling thread to `core`, or lets it run on every CPU; false if pinning failed.
pub(crate) fn place_thread(core: Option<usize>) -> bool {
    match core {
        Some(id) => core_affinity::set_for_current(core_affinity::CoreId { id }),
        None => {
            unpin_current();
            true
        }
    }
}

/// Lets the calling thread run on every CPU (a spawned thread inherits its parent's
/// affinity, which would put an "unpinned" consumer on a pinned caller's core).
fn unpin_current() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write within it, and
        // sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_ZERO(&mut set);
            for cpu in 0..cpu_count().min(libc::CPU_SETSIZE as usize) {
                libc::CPU_SET(cpu, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

/// Maps the program's own code into this process's page tables now, once per process
/// (`MADV_POPULATE_READ`, Linux 5.14 and later, over each executable mapping of the program
/// file), so that code run for the first time later (a call site's registration, the walk
/// of a new serde shape) takes no page fault. The pages are the page cache's: this costs
/// page-table entries, and a read from disk only for code not cached yet. Returns the bytes
/// mapped (0 where the system cannot do it; then first runs fault as before).
pub(crate) fn map_program_code() -> usize {
    static MAPPED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAPPED.get_or_init(|| {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            let (Ok(exe), Ok(maps)) =
                (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/maps"))
            else {
                return 0;
            };
            let mut mapped = 0;
            // Lines read `start-end perms offset dev inode path`.
            for line in maps.lines() {
                let mut f = line.split_whitespace();
                let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
                if !perms.contains('x') || f.nth(3).map(std::path::Path::new) != Some(exe.as_path()) {
                    continue;
                }
                let Some((a, b)) = range.split_once('-') else { continue };
                let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { continue };
                // SAFETY: [a, b) is a mapping of this process, as /proc/self/maps says;
                // POPULATE_READ only faults its pages in for reading and changes no content.
                if unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_READ) } == 0 {
                    mapped += b - a;
                }
            }
            mapped
        }
        #[cfg(any(not(target_os = "linux"), miri))]
        0
    })
}
