//! Reading orders back: a buyer's orders, or one store's, newest first.
//!
//! These run on a read-only connection and do not write, so an unpaid order
//! whose deadline has passed but which the sweep has not reached yet is
//! reported here as cancelled by timeout, exactly as it will be stored.
//!
//! Orders are handed to a visitor one at a time, borrowed from the database
//! rows, rather than collected: a history of a thousand orders then costs no
//! allocation per order or line, which was a quarter of the time of reading
//! it.

use rusqlite::types::Type;
use rusqlite::{params, Connection, Row};

use super::optional_text;
use super::types::{CancelReason, Status};
use crate::error::Result;

/// Which orders to list and which page of them.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    /// Only orders in this state.
    pub status: Option<Status>,
    /// Skip this many orders (newest first).
    pub offset: i64,
    /// At most this many orders; `None` lists them all.
    pub limit: Option<i64>,
}

impl OrderQuery {
    /// Whether every order is selected, in one list.
    pub fn is_whole(&self) -> bool {
        self.status.is_none() && self.offset == 0 && self.limit.is_none()
    }
}

/// One order with its lines, valid for one call of the visitor.
#[derive(Clone, Copy, Debug)]
pub struct OrderView<'a> {
    pub order_id: &'a str,
    pub buyer_id: &'a str,
    pub store_id: &'a str,
    pub total_price: i64,
    pub status: Status,
    pub created_at: i64,
    /// The deadline for paying: an unpaid order is cancelled at this time.
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub shipped_at: Option<i64>,
    pub received_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    /// Why, when cancelled.
    pub cancel_reason: Option<CancelReason>,
    /// The order's lines as the JSON array both order lists show, in the
    /// order of the books' catalog numbers (stored with the order). Raw
    /// bytes: they are copied into the answer as they are, and checking
    /// 250 bytes of text per order was a tenth of reading a long list.
    pub books: &'a [u8],
}

/// Whose orders to list.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    Buyer(&'a str),
    Store(&'a str),
}

/// Calls `visit` with each order of a buyer or a store, newest first, as
/// `query` selects them.
pub fn visit(
    conn: &Connection,
    owner: Owner<'_>,
    query: &OrderQuery,
    now: i64,
    mut visit: impl FnMut(&OrderView<'_>),
) -> Result<()> {
    // The owner's own column is the same on every row, so it is not read.
    let (column, other, id) = match owner {
        Owner::Buyer(id) => ("buyer_id", "store_id", id),
        Owner::Store(id) => ("store_id", "buyer_id", id),
    };
    // The effective state, by which a status filter goes: an overdue unpaid
    // order counts as cancelled. The columns are the stored ones, and
    // `order_from_row` applies the same rule to them: computed in SQL for
    // every column that depends on it, the rule was evaluated again for
    // each of them, a sixth of the time of reading a long list.
    let sql = format!(
        "SELECT order_id, {other}, total_price, status, created_at, expires_at,
                paid_at, shipped_at, received_at, cancelled_at, cancel_reason, books
         FROM orders
         WHERE {column} = ?1
           AND (?3 IS NULL
                OR ?3 = CASE WHEN status = 'unpaid' AND expires_at <= ?2 THEN 'cancelled'
                             ELSE status END)
         ORDER BY order_rowid DESC
         LIMIT ?4 OFFSET ?5"
    );
    let status = query.status.map(Status::as_str);
    let limit = query.limit.unwrap_or(-1);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut orders = stmt.query(params![id, now, status, limit, query.offset])?;
    while let Some(row) = orders.next()? {
        visit(&order_from_row(row, owner, now)?);
    }
    Ok(())
}

/// An order as the row gives it, seen at `now`: unpaid past its deadline
/// is cancelled by timeout at the deadline, as the sweep will store it.
fn order_from_row<'a>(r: &'a Row<'_>, owner: Owner<'a>, now: i64) -> Result<OrderView<'a>> {
    let other = text(r, 1)?;
    let (buyer_id, store_id) = match owner {
        Owner::Buyer(buyer) => (buyer, other),
        Owner::Store(store) => (other, store),
    };
    let mut order = OrderView {
        order_id: text(r, 0)?,
        buyer_id,
        store_id,
        total_price: r.get(2)?,
        status: Status::from_stored(text(r, 3)?)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        paid_at: r.get(6)?,
        shipped_at: r.get(7)?,
        received_at: r.get(8)?,
        cancelled_at: r.get(9)?,
        cancel_reason: match optional_text(r, 10)? {
            Some(reason) => Some(CancelReason::from_stored(reason)?),
            None => None,
        },
        books: bytes(r, 11)?,
    };
    if order.status == Status::Unpaid && order.expires_at <= now {
        order.status = Status::Cancelled;
        order.cancelled_at = Some(order.expires_at);
        order.cancel_reason = Some(CancelReason::Timeout);
    }
    Ok(order)
}

/// Column `i` as the bytes of its text, borrowed from the row.
fn bytes<'r>(r: &'r Row<'_>, i: usize) -> Result<&'r [u8]> {
    let value = r.get_ref(i)?;
    value.as_bytes().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), e.into()).into()
    })
}

/// Column `i` as text borrowed from the row.
fn text<'r>(r: &'r Row<'_>, i: usize) -> Result<&'r str> {
    optional_text(r, i)?
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(i, "".into(), Type::Null).into())
}
