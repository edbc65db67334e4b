//! The bookstore's rules.
//!
//! Each public function is one operation on an open transaction: it checks
//! what the contract asks for, in the contract's order, and then changes the
//! tables. The caller (the API layer) opens the transaction, so an operation
//! either happens whole or, when any check fails, not at all. Nothing here
//! knows about HTTP or JSON.
//!
//! Values arrive already validated, as the types of [`types`].

pub mod accounts;
pub mod audit;
pub mod catalog;
pub mod history;
pub mod ledger;
pub mod orders;
pub mod passwords;
pub mod stores;
pub mod types;

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;

/// Runs a one-row query and returns `None` when it finds no row.
pub(crate) fn optional<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.query_row(params, map).optional()?)
}
