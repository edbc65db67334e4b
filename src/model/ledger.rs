//! The append-only records of money and stock.
//!
//! Every change to a balance, to the money an order holds, or to a listing's
//! stock writes a row here in the same transaction, so the records and the
//! figures can never disagree. `bookstore check` re-adds them to prove it.

use rusqlite::{CachedStatement, Connection};

use crate::error::Result;

/// Why money moved. Amounts are signed from the user's side.
#[derive(Clone, Copy, Debug)]
pub enum Money {
    Deposit,
    Withdrawal,
    Payment,
    Release,
    Refund,
}

/// Why stock moved.
#[derive(Clone, Copy, Debug)]
pub enum Stock {
    Initial,
    Added,
    Ordered,
    Returned,
}

impl Money {
    fn as_str(self) -> &'static str {
        match self {
            Money::Deposit => "deposit",
            Money::Withdrawal => "withdrawal",
            Money::Payment => "payment",
            Money::Release => "release",
            Money::Refund => "refund",
        }
    }
}

impl Stock {
    fn as_str(self) -> &'static str {
        match self {
            Stock::Initial => "initial",
            Stock::Added => "added",
            Stock::Ordered => "ordered",
            Stock::Returned => "returned",
        }
    }
}

/// Records that `user_id`'s balance changed by `amount`.
pub fn money(
    conn: &Connection,
    user_id: &str,
    kind: Money,
    amount: i64,
    order_rowid: Option<i64>,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO money_ledger (user_id, kind, amount, order_rowid, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        user_id,
        kind.as_str(),
        amount,
        order_rowid,
        at
    ])?;
    Ok(())
}

/// Writes rows of the stock ledger. It holds its statement, so the rows of
/// an order's lines are written without taking the statement from the
/// connection's cache for each one, which hashes its SQL every time.
pub struct StockRows<'c>(CachedStatement<'c>);

impl<'c> StockRows<'c> {
    pub fn new(conn: &'c Connection) -> Result<StockRows<'c>> {
        Ok(StockRows(conn.prepare_cached(
            "INSERT INTO stock_ledger (store_id, book_rowid, kind, delta, order_rowid, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?))
    }

    /// Records that the stock of one listing changed by `delta`.
    pub fn add(
        &mut self,
        store_id: &str,
        book_rowid: i64,
        kind: Stock,
        delta: i64,
        order_rowid: Option<i64>,
        at: i64,
    ) -> Result<()> {
        self.0.execute(rusqlite::params![
            store_id,
            book_rowid,
            kind.as_str(),
            delta,
            order_rowid,
            at
        ])?;
        Ok(())
    }
}
