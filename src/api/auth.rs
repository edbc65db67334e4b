//! `/auth`: registering, logging in and out, changing and checking passwords.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::json::{self, decode, Reply};
use super::Input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::accounts::{self, new_token};
use crate::model::types::{check_id, check_password, check_terminal};

#[derive(Deserialize)]
struct Credentials {
    user_id: String,
    password: String,
}

#[derive(Deserialize)]
struct Login {
    user_id: String,
    password: String,
    terminal: String,
}

#[derive(Deserialize)]
struct UserOnly {
    user_id: String,
}

/// The contract spells the two passwords in camel case but `user_id` in
/// snake case, so each field is renamed on its own.
#[derive(Deserialize)]
struct PasswordChange {
    user_id: String,
    #[serde(rename = "oldPassword")]
    old_password: String,
    #[serde(rename = "newPassword")]
    new_password: String,
}

#[derive(Serialize)]
struct LoginReply {
    message: &'static str,
    token: String,
}

/// `/auth/register`: 512 if the id is taken.
pub fn register(app: &App, input: &Input) -> Result<Reply> {
    let req: Credentials = decode(input.body)?;
    check_id("user_id", &req.user_id)?;
    check_password("password", &req.password)?;

    let hash = app.passwords.hash(&req.password)?;
    let now = app.now();
    app.db
        .write(|tx| accounts::register(tx, &req.user_id, &hash, now))?;
    Ok(json::ok())
}

/// `/auth/unregister`: closes the account (see [`accounts::unregister`]).
pub fn unregister(app: &App, input: &Input) -> Result<Reply> {
    let req: Credentials = decode(input.body)?;
    let verified = verify_password(app, &req.user_id, &req.password)?;
    let now = app.now();
    app.db
        .write(|tx| accounts::unregister(tx, &req.user_id, &verified, now))?;
    Ok(json::ok())
}

/// `/auth/login`: a new token for every login; earlier ones stay valid.
pub fn login(app: &App, input: &Input) -> Result<Reply> {
    let req: Login = decode(input.body)?;
    let (token, hash) = new_token();
    let (now, ttl) = (app.now(), app.config.token_ttl);
    with_password(app, &req.user_id, &req.password, |tx, verified| {
        // Checked after the password: authorization is decided first.
        check_terminal(&req.terminal)?;
        accounts::login(tx, &req.user_id, verified, &hash, &req.terminal, now, ttl)
    })?;
    json::json(&LoginReply {
        message: "ok",
        token,
    })
}

/// `/auth/logout`: ends the session of the `token` header.
pub fn logout(app: &App, input: &Input) -> Result<Reply> {
    let req: UserOnly = decode(input.body)?;
    let token = input.token()?;
    let now = app.now();
    app.db
        .write(|tx| accounts::logout(tx, &req.user_id, &token, now))?;
    Ok(json::ok())
}

/// `/auth/password`: sets a new password and ends every session.
pub fn password(app: &App, input: &Input) -> Result<Reply> {
    let req: PasswordChange = decode(input.body)?;
    let verified = verify_password(app, &req.user_id, &req.old_password)?;
    check_password("newPassword", &req.new_password)?;

    let new_hash = app.passwords.hash(&req.new_password)?;
    app.db
        .write(|tx| accounts::change_password(tx, &req.user_id, &verified, &new_hash))?;
    Ok(json::ok())
}

/// Runs `change` in a write transaction once `password` is confirmed for
/// `user_id`, passing it the stored hash that was checked.
///
/// A password confirmed before is checked inside the transaction against
/// the hash read there, which costs microseconds and saves a separate read.
/// Otherwise the slow check runs first, outside any lock, and `change` runs
/// in a second transaction that makes sure the hash is still current.
pub fn with_password<T>(
    app: &App,
    user_id: &str,
    password: &str,
    change: impl Fn(&Connection, &str) -> Result<T>,
) -> Result<T> {
    let fast = app
        .db
        .write(|tx| match accounts::stored_hash(tx, user_id)? {
            Some(stored) if app.passwords.confirmed_before(user_id, password, &stored) => {
                change(tx, &stored).map(Some)
            }
            _ => Ok(None),
        })?;
    match fast {
        Some(value) => Ok(value),
        None => {
            let verified = verify_password(app, user_id, password)?;
            app.db.write(|tx| change(tx, &verified))
        }
    }
}

/// Checks a password outside any lock and returns the stored hash it matched,
/// for the rules to confirm inside their transaction. An unknown user, a
/// closed account and a wrong password all answer 401.
pub fn verify_password(app: &App, user_id: &str, password: &str) -> Result<String> {
    if check_id("user_id", user_id).is_err() || check_password("password", password).is_err() {
        return Err(Error::Unauthorized);
    }
    let stored = app
        .db
        .read(|c| accounts::stored_hash(c, user_id))?
        .ok_or(Error::Unauthorized)?;
    app.passwords.verify(user_id, password, &stored)?;
    Ok(stored)
}
