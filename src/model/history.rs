//! Reading orders back: a buyer's orders, or one store's, newest first.
//!
//! These run on a read-only connection and do not write, so an unpaid order
//! whose deadline has passed but which the sweep has not reached yet is
//! reported here as cancelled by timeout, exactly as it will be stored.

use rusqlite::{params, Connection};

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

/// One order with its lines.
#[derive(Clone, Debug)]
pub struct OrderView {
    pub order_id: String,
    pub buyer_id: String,
    pub store_id: String,
    pub total_price: i64,
    pub status: Status,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub shipped_at: Option<i64>,
    pub received_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    /// Why, when cancelled.
    pub cancel_reason: Option<CancelReason>,
    pub lines: Vec<LineView>,
}

/// One line of an order: the unit price is what the buyer paid.
#[derive(Clone, Debug)]
pub struct LineView {
    pub book_id: String,
    pub count: i64,
    pub price: i64,
}

/// Whose orders to list.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    Buyer(&'a str),
    Store(&'a str),
}

/// The orders of a buyer or a store, newest first, as `query` selects them.
pub fn list(
    conn: &Connection,
    owner: Owner<'_>,
    query: &OrderQuery,
    now: i64,
) -> Result<Vec<OrderView>> {
    let (column, id) = match owner {
        Owner::Buyer(id) => ("buyer_id", id),
        Owner::Store(id) => ("store_id", id),
    };
    // The effective state: an overdue unpaid order counts as cancelled by
    // timeout at its deadline, exactly as the sweep will store it.
    let sql = format!(
        "SELECT order_rowid, order_id, buyer_id, store_id, total_price, state, created_at,
                paid_at, shipped_at, received_at,
                CASE WHEN overdue THEN expires_at ELSE cancelled_at END,
                CASE WHEN overdue THEN 'timeout' ELSE cancel_reason END
         FROM (SELECT *, (status = 'unpaid' AND expires_at <= ?2) AS overdue,
                      CASE WHEN status = 'unpaid' AND expires_at <= ?2 THEN 'cancelled'
                           ELSE status END AS state
               FROM orders WHERE {column} = ?1)
         WHERE ?3 IS NULL OR state = ?3
         ORDER BY order_rowid DESC
         LIMIT ?4 OFFSET ?5"
    );
    let status = query.status.map(Status::as_str);
    let limit = query.limit.unwrap_or(-1);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![id, now, status, limit, query.offset])?;

    let mut orders = Vec::new();
    let mut rowids = Vec::new();
    while let Some(row) = rows.next()? {
        let (rowid, order) = order_from_row(row)?;
        rowids.push(rowid);
        orders.push(order);
    }
    add_lines(conn, owner, &rowids, &mut orders)?;
    Ok(orders)
}

/// An order without its lines, and its row id to fetch them.
fn order_from_row(r: &rusqlite::Row<'_>) -> Result<(i64, OrderView)> {
    let state: String = r.get(5)?;
    let status = Status::from_stored(&state)?;
    let reason: Option<String> = r.get(11)?;
    let cancel_reason = reason
        .as_deref()
        .map(CancelReason::from_stored)
        .transpose()?;
    let order = OrderView {
        order_id: r.get(1)?,
        buyer_id: r.get(2)?,
        store_id: r.get(3)?,
        total_price: r.get(4)?,
        status,
        created_at: r.get(6)?,
        paid_at: r.get(7)?,
        shipped_at: r.get(8)?,
        received_at: r.get(9)?,
        cancelled_at: r.get(10)?,
        cancel_reason,
        lines: Vec::new(),
    };
    Ok((r.get(0)?, order))
}

/// Fills in the lines of `orders`, whose row ids are `rowids` (newest
/// first), with one query over the owner's orders in that range of row ids
/// rather than one query per order. Lines of orders in the range that were
/// not selected (another status) are read and skipped.
fn add_lines(
    conn: &Connection,
    owner: Owner<'_>,
    rowids: &[i64],
    orders: &mut [OrderView],
) -> Result<()> {
    let (Some(&newest), Some(&oldest)) = (rowids.first(), rowids.last()) else {
        return Ok(());
    };
    // A buyer's lines are stored together, in one range of the table; a
    // store's are found through its orders.
    let (sql, id) = match owner {
        Owner::Buyer(id) => (
            "SELECT order_rowid, book_id, count, price FROM order_lines
             WHERE buyer_id = ?1 AND order_rowid BETWEEN ?2 AND ?3",
            id,
        ),
        Owner::Store(id) => (
            "SELECT l.order_rowid, l.book_id, l.count, l.price
             FROM orders o
             JOIN order_lines l ON l.buyer_id = o.buyer_id AND l.order_rowid = o.order_rowid
             WHERE o.store_id = ?1 AND o.order_rowid BETWEEN ?2 AND ?3",
            id,
        ),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![id, oldest, newest])?;
    while let Some(r) = rows.next()? {
        // `rowids` is in descending order.
        let rowid: i64 = r.get(0)?;
        if let Ok(i) = rowids.binary_search_by(|probe| rowid.cmp(probe)) {
            orders[i].lines.push(LineView {
                book_id: r.get(1)?,
                count: r.get(2)?,
                price: r.get(3)?,
            });
        }
    }
    Ok(())
}
