//! Giving memory back once the server falls quiet.
//!
//! A burst of work leaves memory behind that nothing needs afterwards:
//! SQLite keeps the pages it read on every connection, the search cache
//! keeps the rankings of the burst's keywords, whole order histories and
//! the buffers of large answers are kept for the next ones, and the
//! allocator keeps the freed space of the answers it built, to hand out
//! again. After searches and long order histories that is 20 MB or more,
//! about twice what the server needs. All of it is rebuilt on demand
//! within milliseconds, so holding it through a quiet period only makes the
//! idle server larger.
//! Once no request has arrived for [`IDLE_AFTER`], the sweeper releases it,
//! once per quiet period.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::log_cause;

/// How long without requests counts as quiet. Short, so a server is small
/// soon after a burst; a pause this long also means the next request can
/// afford to refill a cache.
pub const IDLE_AFTER: Duration = Duration::from_secs(1);

/// What the workers tell the sweeper about requests.
#[derive(Default)]
pub struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
}

/// Marks one request as in flight until dropped.
pub struct Busy<'a>(&'a Activity);

impl Activity {
    /// Counts a request as started; it stays in flight until the guard is
    /// dropped.
    pub fn begin(&self) -> Busy<'_> {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(self)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Notices the start of each quiet period; owned by the sweeper.
pub struct Watch {
    seen: u64,
    since: Instant,
    released: bool,
}

impl Watch {
    pub fn new(now: Instant) -> Watch {
        Watch {
            seen: 0,
            since: now,
            released: false,
        }
    }

    /// True once per quiet period: the first time it is asked, at `now`,
    /// after [`IDLE_AFTER`] without a request starting or running.
    pub fn newly_quiet(&mut self, activity: &Activity, now: Instant) -> bool {
        let started = activity.started.load(Ordering::Relaxed);
        if started != self.seen || activity.in_flight.load(Ordering::Relaxed) > 0 {
            self.seen = started;
            self.since = now;
            self.released = false;
            return false;
        }
        if self.released || now.duration_since(self.since) < IDLE_AFTER {
            return false;
        }
        self.released = true;
        true
    }
}

/// Releases what the server keeps for later: the search cache, the kept
/// order histories and answer buffers, SQLite's caches on every connection
/// not in use, the allocator's free space, and the disk space of the
/// write-ahead log, which grows to 200 MB under steady writing. Never waits
/// for a request: a connection in use keeps its cache, and the log is left
/// as it is if a request is under way. A write that arrives while the log
/// is being truncated waits for it, a few milliseconds.
pub fn release_memory(app: &App) {
    app.search_cache.clear();
    app.histories.clear();
    crate::api::spare::release();
    if let Err(e) = app.db.release_memory() {
        eprintln!("error: releasing memory: {}", log_cause(&e));
    }
    if let Err(e) = app.db.truncate_log() {
        eprintln!("error: truncating the write-ahead log: {}", log_cause(&e));
    }
    trim_allocator();
}

/// Returns the free pages of every allocator arena to the system; glibc
/// otherwise keeps the top of each arena, and any free page inside one,
/// for later allocations.
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only hands free memory back; it is safe to call
        // at any time from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_quiet_period_is_reported_once_and_only_after_the_wait() {
        let (activity, start) = (Activity::default(), Instant::now());
        let mut watch = Watch::new(start);

        assert!(!watch.newly_quiet(&activity, after(start, 500)));
        assert!(watch.newly_quiet(&activity, after(start, 1000)));
        assert!(!watch.newly_quiet(&activity, after(start, 5000)));
    }

    #[test]
    fn a_request_starts_the_wait_again_and_a_running_one_holds_it() {
        let (activity, start) = (Activity::default(), Instant::now());
        let mut watch = Watch::new(start);
        assert!(watch.newly_quiet(&activity, after(start, 1000)));

        let busy = activity.begin();
        assert!(!watch.newly_quiet(&activity, after(start, 1100)));
        assert!(!watch.newly_quiet(&activity, after(start, 3000)));
        drop(busy);
        assert!(!watch.newly_quiet(&activity, after(start, 3500)));
        assert!(watch.newly_quiet(&activity, after(start, 4000)));
    }
}
