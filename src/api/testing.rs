//! `/test/advance_clock`: moves the server's clock forward so harnesses can
//! test order timeouts and token expiry without sleeping.
//!
//! It exists only on a server started with `--test-clock`; otherwise the path
//! answers 404 like any unknown one.

use serde::{Deserialize, Serialize};

use super::json::{self, decode, Reply};
use super::Input;
use crate::app::App;
use crate::clock::rfc3339;
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
/// overdue orders at once, as the background sweep would within a second.
pub fn advance_clock(app: &App, input: &Input) -> Result<Reply> {
    if !app.config.test_clock {
        return Err(Error::NotFound);
    }
    let req: Advance = decode(input.body)?;

    let now = app.clock.advance(req.seconds);
    let expired_orders = app.db.write(|tx| orders::expire_due(tx, now))?;
    json::json(&Now {
        message: "ok",
        now: rfc3339(now),
        expired_orders,
    })
}
