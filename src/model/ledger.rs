//! The append-only records of money and stock.
//!
//! Every change to a balance or to the money an order holds, and every
//! change a seller makes to a listing's stock, writes a row here in the same
//! transaction, so the records and the figures can never disagree. The
//! stock an order takes or gives back is recorded by the order itself: its
//! lines never change, and its status says whether they were given back.
//! `bookstore check` re-adds both to prove it.

use rusqlite::Connection;

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

/// Why a seller's stock moved.
#[derive(Clone, Copy, Debug)]
pub enum Stock {
    Initial,
    Added,
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

/// Records that the seller changed the stock of one listing by `delta`.
pub fn stock(
    conn: &Connection,
    store_id: &str,
    book_rowid: i64,
    kind: Stock,
    delta: i64,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO stock_ledger (store_id, book_rowid, kind, delta, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        store_id,
        book_rowid,
        kind.as_str(),
        delta,
        at
    ])?;
    Ok(())
}
