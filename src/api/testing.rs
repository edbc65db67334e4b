//! `/test/advance_clock`: moves the server's clock forward so harnesses can
//! test order timeouts and token expiry without sleeping.
//!
//! It exists only on a server started with `--test-clock`; otherwise the path
//! is not routed at all and answers 404 like any unknown one.

use serde::{Deserialize, Serialize};

use super::json::{self, decode, Reply};
use super::Input;
use crate::app::App;
use crate::clock::{rfc3339, LATEST};
use crate::error::{Error, Result};
use crate::model::orders;

#[derive(Deserialize)]
struct Advance {
    seconds: u32,
}

#[derive(Serialize)]
struct Now {
    message: &'static str,
    now: String,
    expired_orders: usize,
}

/// Moves the clock forward by `seconds` (0 to 2^32-1) and runs the sweep of
/// overdue orders at once, so the answer already reflects the new time and
/// counts the orders it cancelled; the background sweep would otherwise get
/// there within a second. 523 if the clock would pass 9999-12-31T23:59:59Z.
pub fn advance_clock(app: &App, input: &Input) -> Result<Reply> {
    // The router only reaches this with the flag on; the check keeps it so
    // for any other caller.
    if !app.config.test_clock {
        return Err(Error::NotFound);
    }
    let req: Advance = decode(input.body)?;

    // The clock moves while this holds the writer, so any other sweep that
    // sees the new time runs after this one: the count below is every order
    // the move made overdue.
    let (now, expired_orders) = app.db.write(|tx| {
        let now = app.clock.advance(req.seconds).ok_or_else(|| {
            Error::invalid(format!("the clock cannot move past {}", rfc3339(LATEST)))
        })?;
        Ok((now, orders::expire_due(tx, now)?))
    })?;
    json::json(&Now {
        message: "ok",
        now: rfc3339(now),
        expired_orders,
    })
}
