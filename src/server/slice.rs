//! Short scheduler slices for the workers.
//!
//! On two cores a busy server has far more runnable threads than cores:
//! a thread per connection, the workers, and usually the clients' own.
//! Every write passes through one lock, so a worker woken to take that
//! lock (or a request) that waits for another thread to use up its slice
//! holds up every writer queued behind it. Linux's scheduler (EEVDF,
//! kernel 6.12 and later) lets a thread ask for a shorter slice than its
//! default (1.4 ms on two cores); such a thread is given an earlier
//! deadline each time it wakes, and so runs sooner. Workers ask for the
//! shortest slice allowed. Connection threads keep the default: they only
//! read requests and hand them over; shortening their slices alone made
//! the tail worse, and shortening every thread's cost about a tenth of
//! the throughput.
//!
//! Measured on this project's two-core machine with runs alternated,
//! sixteen sessions placing orders: new_order's p99 was lower with short
//! slices in nine pairs of runs out of eleven (2.9 to 6.9 ms against 3.7
//! to 7.0; the two exceptions came in a slow hour when both were 6 to
//! 7 ms), its p50 a little higher, throughput without a steady
//! difference. Sixteen sessions searching: p99 lower in nine pairs out of
//! nine (3.7 to 5.9 ms against 5.0 to 8.0). A lone client pays for it: a
//! payment sent right after the answer to its order took 19 to 53 us
//! longer at the median in six pairs out of seven (probably because the
//! woken worker now also cuts short the client's own thread when they
//! share a core); new_order and the floor did not change.
//! `--default-slices` turns this off.
//! Older kernels accept the request and ignore it; other systems are not
//! asked.

use std::time::Duration;

/// The slice the workers ask for: the shortest the kernel grants.
pub const WORKER_SLICE: Duration = Duration::from_micros(100);

/// Asks for [`WORKER_SLICE`] for the calling thread, keeping its policy and
/// nice value. Does nothing if the thread is not under the normal policy
/// (someone chose another on purpose) or if the system refuses.
pub fn shorten_for_this_thread() {
    #[cfg(target_os = "linux")]
    linux::shorten(WORKER_SLICE);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::mem::{size_of, zeroed};
    use std::time::Duration;

    pub fn shorten(slice: Duration) {
        let Some(mut attr) = attributes() else {
            return;
        };
        if attr.sched_policy != libc::SCHED_OTHER as u32 {
            return;
        }
        attr.sched_flags &= libc::SCHED_FLAG_RESET_ON_FORK as u64;
        attr.sched_runtime = slice.as_nanos() as u64;
        // SAFETY: thread 0 is the calling thread; the kernel only reads
        // `attr`, whose `size` field is its own size. A refusal leaves the
        // thread as it was, which is correct, only slower.
        unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
    }

    /// The scheduling attributes of the calling thread, with `size` set.
    pub fn attributes() -> Option<libc::sched_attr> {
        let size = size_of::<libc::sched_attr>() as u32;
        // SAFETY: sched_attr is plain integers, for which all zeroes is a
        // valid value; the kernel fills at most `size` bytes of it.
        let mut attr: libc::sched_attr = unsafe { zeroed() };
        // SAFETY: thread 0 is the calling thread, and `attr` is a live,
        // writable sched_attr of the size given.
        let got = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) };
        attr.size = size;
        (got == 0).then_some(attr)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn slice_of_this_thread() -> u64 {
        linux::attributes().expect("sched_getattr").sched_runtime
    }

    #[test]
    fn a_worker_thread_gets_the_short_slice_and_keeps_its_nice_value() {
        std::thread::spawn(|| {
            // SAFETY: setpriority on the calling thread (who = 0) only
            // lowers its own priority, which needs no privilege.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 3) };
            let nice_before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            shorten_for_this_thread();
            let nice_after = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            assert_eq!(nice_after, nice_before);
            // Kernels before 6.12 report no slice of their own; where one
            // is reported, it must be the one asked for.
            let slice = slice_of_this_thread();
            assert!(
                slice == 0 || slice == WORKER_SLICE.as_nanos() as u64,
                "{slice}"
            );
        })
        .join()
        .unwrap();
    }
}
