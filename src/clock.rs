//! The server's clock, in Unix seconds.
//!
//! Everything that depends on time (token expiry, order deadlines, the
//! timestamps of each order step) reads this clock and nothing else, so a test
//! harness can move it forward with `POST /test/advance_clock` (only when the
//! server was started with `--test-clock`) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an offset that only ever grows.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Seconds since the Unix epoch, as this server sees them.
    pub fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        wall.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `seconds` and returns the new time.
    /// Time never goes backwards: deadlines already passed stay passed.
    pub fn advance(&self, seconds: u32) -> i64 {
        self.offset.fetch_add(i64::from(seconds), Ordering::Relaxed);
        self.now()
    }
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp, e.g. `2026-12-03T17:30:00Z`.
pub fn rfc3339(seconds: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}
