//! The server's clock, in Unix seconds.
//!
//! Everything that depends on time (token expiry, order deadlines, the
//! timestamps of each order step) reads this clock and nothing else, so a test
//! harness can move it forward with `POST /test/advance_clock` (only when the
//! server was started with `--test-clock`) instead of sleeping.

use std::cell::Cell;
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

/// Appends `seconds` as [`rfc3339`] formats them, without allocating: an
/// order history writes thousands of timestamps.
pub fn write_rfc3339(out: &mut Vec<u8>, seconds: i64) {
    if !(0..=LATEST).contains(&seconds) {
        out.extend_from_slice(rfc3339(seconds).as_bytes());
        return;
    }
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let ([h1, h2], [m1, m2], [s1, s2]) = (two(rest / 3600), two(rest / 60 % 60), two(rest % 60));
    // Put together whole and appended once: appending piece by piece
    // checked the room left eight times per timestamp.
    let mut stamp = [0u8; 20];
    stamp[..10].copy_from_slice(&date_of(days));
    stamp[10..].copy_from_slice(&[b'T', h1, h2, b':', m1, m2, b':', s1, s2, b'Z']);
    out.extend_from_slice(&stamp);
}

/// The two decimal digits of `n`, from 0 to 99.
fn two(n: i64) -> [u8; 2] {
    [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01. The last day asked for on
/// each thread is remembered: the times an order list writes fall on few
/// days, and working the date out was a tenth of writing a long list.
fn date_of(days: i64) -> [u8; 10] {
    thread_local! {
        static LAST: Cell<(i64, [u8; 10])> = const { Cell::new((-1, [0; 10])) };
    }
    let (last, date) = LAST.get();
    if last == days {
        return date;
    }
    let (year, month, day) = civil_date(days);
    let ([c1, c2], [y1, y2], [m1, m2], [d1, d2]) =
        (two(year / 100), two(year % 100), two(month), two(day));
    let date = [c1, c2, y1, y2, b'-', m1, m2, b'-', d1, d2];
    LAST.set((days, date));
    date
}

/// The proleptic Gregorian (year, month, day) of a day counted from
/// 1970-01-01, for days from 0 on: the usual count in 400-year eras of
/// 146,097 days, with years starting in March so leap days come last.
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_written_in_place_match_the_formatted_ones() {
        let mut seconds = vec![-1, 0, 59, 86_399, 86_400, 951_782_400, 951_868_800];
        seconds.extend([4_107_542_400, 1_798_761_599, LATEST, LATEST + 1]);
        // Every day of several centuries, at a varying time of day.
        seconds.extend((0..LATEST).step_by(86_400 * 7 + 3_601));
        for s in seconds {
            let mut out = Vec::new();
            write_rfc3339(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), rfc3339(s), "{s}");
        }
    }

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
