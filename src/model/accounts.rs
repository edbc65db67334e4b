//! Accounts and login sessions.
//!
//! Password checks happen before these functions run (they are slow, and must
//! not hold the database lock); each function here receives the stored hash
//! the caller verified and first makes sure it is still the account's current
//! one, so a password changed in the meantime cannot slip through.
//!
//! Unregistering closes an account rather than erasing it. Its id stays taken,
//! because orders, stores and the money ledger refer to it. Closing ends every
//! session and cancels every open order the user takes part in, as buyer or as
//! the owner of the store: unpaid orders give their stock back, paid but
//! unshipped ones also refund the buyer. The user's shipped orders as a buyer
//! count as received, so their sellers are paid. Shipped orders of the user's
//! stores can still be received by their buyers, and the money then reaches
//! the closed account's balance. A closed account's balance stays on record
//! like the rest of its history; it can no longer be spent or withdrawn.

use rand::RngCore;
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use super::{optional, orders};
use crate::error::{Error, Result};

/// The SHA-256 of a token: all the database keeps of it.
pub type TokenHash = [u8; 32];

/// A fresh token (64 hex digits from 32 random bytes) and its hash.
pub fn new_token() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = token_hash(&token);
    (token, hash)
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The stored password hash of an open account, if there is one.
pub fn stored_hash(conn: &Connection, user_id: &str) -> Result<Option<String>> {
    optional(
        conn,
        "SELECT password_hash FROM users WHERE user_id = ?1 AND closed_at IS NULL",
        [user_id],
        |r| r.get(0),
    )
}

/// Fails with 401 unless `user_id` is open and its hash is still `verified`.
pub fn require_hash(conn: &Connection, user_id: &str, verified: &str) -> Result<()> {
    match stored_hash(conn, user_id)? {
        Some(current) if current == verified => Ok(()),
        _ => Err(Error::Unauthorized),
    }
}

/// Fails with 401 unless `token` was issued to `user_id`, is not expired and
/// was not ended by a logout or password change.
pub fn authenticate(conn: &Connection, user_id: &str, token: &TokenHash, now: i64) -> Result<()> {
    let owner: Option<(String, i64)> = optional(
        conn,
        "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?1",
        [&token[..]],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    match owner {
        Some((owner, expires_at)) if owner == user_id && expires_at > now => Ok(()),
        _ => Err(Error::Unauthorized),
    }
}

/// Creates an account. A closed account's id stays taken (512).
pub fn register(conn: &Connection, user_id: &str, hash: &str, now: i64) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (user_id, password_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO NOTHING",
        )?
        .execute(params![user_id, hash, now])?;
    if inserted == 0 {
        return Err(Error::UserExists);
    }
    Ok(())
}

/// Closes an account (see the module documentation for what that does).
pub fn unregister(conn: &Connection, user_id: &str, verified: &str, now: i64) -> Result<()> {
    require_hash(conn, user_id, verified)?;
    orders::cancel_open_orders_of(conn, user_id, now)?;
    orders::receive_shipped_of(conn, user_id, now)?;
    end_sessions(conn, user_id)?;
    conn.prepare_cached("UPDATE users SET closed_at = ?2 WHERE user_id = ?1")?
        .execute(params![user_id, now])?;
    Ok(())
}

/// Starts a session; earlier sessions of the user stay valid.
pub fn login(
    conn: &Connection,
    user_id: &str,
    verified: &str,
    token: &TokenHash,
    terminal: &str,
    now: i64,
    ttl: i64,
) -> Result<()> {
    require_hash(conn, user_id, verified)?;
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, terminal, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        &token[..],
        user_id,
        terminal,
        now,
        now.saturating_add(ttl)
    ])?;
    Ok(())
}

/// Ends the one session `token` belongs to.
pub fn logout(conn: &Connection, user_id: &str, token: &TokenHash, now: i64) -> Result<()> {
    authenticate(conn, user_id, token, now)?;
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute([&token[..]])?;
    Ok(())
}

/// Replaces the password hash and ends every session of the user.
pub fn change_password(
    conn: &Connection,
    user_id: &str,
    verified_old: &str,
    new_hash: &str,
) -> Result<()> {
    require_hash(conn, user_id, verified_old)?;
    conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE user_id = ?1")?
        .execute(params![user_id, new_hash])?;
    end_sessions(conn, user_id)
}

/// Deletes sessions that expired before `now`; returns how many.
pub fn purge_expired_sessions(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([now])?)
}

fn end_sessions(conn: &Connection, user_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}

/// The balance of an account, open or closed.
pub fn balance(conn: &Connection, user_id: &str) -> Result<Option<i64>> {
    optional(
        conn,
        "SELECT balance FROM users WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )
}
