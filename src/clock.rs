//! The server's clock, in Unix seconds.
//!
//! Everything that depends on time (token expiry, order deadlines, the
//! timestamps of each order step) reads this clock and nothing else, so a test
//! harness can move it forward with `POST /test/advance_clock` (only when the
//! server was started with `--test-clock`) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The latest moment the clock may show, 9999-12-31T23:59:59Z: the last
/// second an RFC 3339 timestamp can write.
pub const LATEST: i64 = 253_402_300_799;

/// Wall-clock time plus an offset that only ever grows.
///
/// The offset lives in memory only: a restarted server reads the wall clock
/// again, while the deadlines already stored in the database keep the times
/// they were given.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Seconds since the Unix epoch, as this server sees them.
    pub fn now(&self) -> i64 {
        wall().saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `seconds` and returns the new time, or
    /// `None`, leaving the clock as it was, if that would pass [`LATEST`].
    /// Time never goes backwards: deadlines already passed stay passed.
    pub fn advance(&self, seconds: u32) -> Option<i64> {
        let wall = wall();
        let moved = self
            .offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                let offset = offset + i64::from(seconds);
                (wall.saturating_add(offset) <= LATEST).then_some(offset)
            });
        moved.ok().map(|_| self.now())
    }
}

/// Seconds since the Unix epoch by the system's clock.
fn wall() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp, e.g. `2026-12-03T17:30:00Z`.
pub fn rfc3339(seconds: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_forward_but_never_past_the_last_writable_second() {
        let clock = Clock::default();
        let before = clock.now();
        let moved = clock.advance(1000).expect("room to move");
        assert!(moved >= before + 1000);

        while clock.advance(u32::MAX).is_some() {}
        let stuck = clock.now();
        assert!(stuck <= LATEST);
        assert_eq!(clock.advance(u32::MAX), None);
        assert!(clock.now() >= stuck, "a refused move changes nothing");
        assert_eq!(rfc3339(LATEST), "9999-12-31T23:59:59Z");
    }
}
