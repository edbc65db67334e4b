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

/// Column `i` of a row as text borrowed from the row, `None` for NULL: no
/// copy is made, where `get::<String>` would allocate one.
pub(crate) fn optional_text<'r>(
    r: &'r rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<&'r str>> {
    let value = r.get_ref(i)?;
    value
        .as_str_or_null()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), e.into()))
}
