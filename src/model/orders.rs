//! Orders: placing, paying, shipping, receiving and cancelling them, and the
//! funds they are paid from. [`super::history`] reads them back.
//!
//! An order moves `unpaid -> paid -> shipped -> received`, or to `cancelled`
//! from `unpaid` or `paid`. Placing it takes the stock of every line; paying
//! moves the total from the buyer's balance into the order (`held`); receipt
//! releases it to the store owner; cancelling gives the stock back and, if the
//! order was paid, refunds the buyer. Every movement of money is written to
//! the ledger in the same transaction. The stock an order moves is recorded
//! by the order itself: its lines, which never change, took their copies,
//! and its status says whether it gave them back.
//!
//! An unpaid order whose deadline has passed is cancelled by
//! [`expire_due`], which every order operation here runs first and a
//! background sweep runs every second; reads that do not write report such
//! an order as cancelled already. Either way no request can see it as payable.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::accounts::require_hash;
use super::ledger::{self, Money};
use super::optional;
use super::stores::{listed_books, open_store_owner};
use super::types::{merge_lines, CancelReason, OrderLine, Status};
use crate::error::{Error, Result};

/// An order as the rules need it.
struct Order {
    /// Its `order_rowid`, the number the ledgers refer to it by.
    rowid: i64,
    buyer_id: String,
    store_id: String,
    total: i64,
    held: i64,
    status: Status,
}

/// Places an order for `lines` from `store_id`, taking their stock, and
/// returns its id. Nothing changes unless every line can be served.
pub fn new_order(
    conn: &Connection,
    buyer_id: &str,
    store_id: &str,
    lines: Vec<OrderLine>,
    now: i64,
    timeout: i64,
) -> Result<String> {
    expire_due(conn, now)?;
    let lines = merge_lines(lines)?;
    if open_store_owner(conn, store_id)?.is_none() {
        return Err(Error::NoSuchStore);
    }

    // Check every line before changing anything: first that each book is
    // listed (515), then that each has the stock (517), as the contract
    // orders the codes.
    let listed = listed_books(
        conn,
        store_id,
        lines.iter().map(|line| line.book_id.as_str()),
    )?;
    let mut priced = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    for (line, book) in lines.iter().zip(listed) {
        let (rowid, price) = (book.book_rowid, book.price);
        if book.stock < line.count.get() {
            return Err(Error::LowStock(line.book_id.clone()));
        }
        let cost = price.checked_mul(line.count.get());
        total = cost
            .and_then(|c| total.checked_add(c))
            .ok_or_else(|| Error::invalid("the order's total is too large"))?;
        priced.push((rowid, &line.book_id, line.count.get(), price));
    }

    let order_id = new_order_id();
    // Orders are numbered one past the highest number so far; the writer
    // places one order at a time, so no two get the same number. Asked
    // apart from the insert: folded into it as a subquery with RETURNING,
    // it made SQLite build a temporary table for every order, a third of
    // the statement work of a new order.
    let order_rowid: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(order_rowid), 0) + 1 FROM orders")?
        .query_row([], |r| r.get(0))?;
    priced.sort_unstable_by_key(|&(rowid, ..)| rowid);
    conn.prepare_cached(
        "INSERT INTO orders (buyer_id, order_rowid, order_id, store_id, total_price,
                             created_at, expires_at, books)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        buyer_id,
        order_rowid,
        order_id,
        store_id,
        total,
        now,
        now.saturating_add(timeout),
        books_json(
            priced
                .iter()
                .map(|&(_, id, count, price)| (id.as_str(), count, price))
        )
    ])?;

    let taken = priced.iter().map(|&(rowid, _, count, _)| (rowid, -count));
    move_stock(conn, store_id, taken)?;
    Ok(order_id)
}

/// A new order id: a UUID laid out as version 7, the milliseconds of the
/// clock and then 74 random bits, so ids of new orders come last in the
/// index of order ids. Random ids went to a random page of it, which split
/// under new ids and was written by every order. The random bits come from
/// the thread's generator, seeded by the OS: `new_v4` asks the OS for fresh
/// bytes with a system call on every order.
fn new_order_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random())
        .into_uuid()
        .to_string()
}

/// An order's lines as the JSON array stored with it (`orders.books`):
/// `(book_id, count, price)` in the order of the books' catalog numbers.
pub fn books_json<'a>(lines: impl IntoIterator<Item = (&'a str, i64, i64)>) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        book_id: &'a str,
        count: i64,
        price: i64,
    }
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(book_id, count, price)| Line {
            book_id,
            count,
            price,
        })
        .collect();
    serde_json::to_string(&lines).expect("lines serialize")
}

/// Pays an order from the buyer's balance; the money is held by the order.
pub fn pay(
    conn: &Connection,
    buyer_id: &str,
    verified: &str,
    order_id: &str,
    now: i64,
) -> Result<()> {
    require_hash(conn, buyer_id, verified)?;
    expire_due(conn, now)?;
    let order = load(conn, order_id)?.ok_or(Error::NoSuchOrder)?;
    if order.buyer_id != buyer_id {
        return Err(Error::Unauthorized);
    }
    match order.status {
        Status::Unpaid => {}
        Status::Cancelled => return Err(Error::AlreadyCancelled),
        Status::Paid | Status::Shipped | Status::Received => return Err(Error::AlreadyPaid),
    }

    let balance = balance_of(conn, buyer_id)?;
    if balance < order.total {
        return Err(Error::LowFunds);
    }
    set_balance(conn, buyer_id, balance - order.total)?;
    ledger::money(
        conn,
        buyer_id,
        Money::Payment,
        -order.total,
        Some(order.rowid),
        now,
    )?;
    conn.prepare_cached(
        "UPDATE orders SET status = 'paid', held = total_price, paid_at = ?3
         WHERE buyer_id = ?1 AND order_rowid = ?2",
    )?
    .execute(params![order.buyer_id, order.rowid, now])?;
    Ok(())
}

/// Adds `delta` cents to the user's balance (a negative delta withdraws).
/// 519 if a withdrawal would leave the balance below zero. Returns the new
/// balance.
pub fn add_funds(
    conn: &Connection,
    user_id: &str,
    verified: &str,
    delta: i64,
    now: i64,
) -> Result<i64> {
    require_hash(conn, user_id, verified)?;
    let balance = balance_of(conn, user_id)?;
    let new_balance = balance
        .checked_add(delta)
        .ok_or_else(|| Error::invalid("add_value would overflow the balance"))?;
    if new_balance < 0 {
        return Err(Error::LowFunds);
    }
    set_balance(conn, user_id, new_balance)?;
    let kind = if delta > 0 {
        Money::Deposit
    } else {
        Money::Withdrawal
    };
    ledger::money(conn, user_id, kind, delta, None, now)?;
    Ok(new_balance)
}

/// The buyer cancels an unpaid or paid, unshipped order. Someone else's
/// order answers 518, exactly like a missing one, so ids are not revealed.
pub fn cancel(conn: &Connection, buyer_id: &str, order_id: &str, now: i64) -> Result<()> {
    expire_due(conn, now)?;
    let order = match load(conn, order_id)? {
        Some(order) if order.buyer_id == buyer_id => order,
        _ => return Err(Error::NoSuchOrder),
    };
    match order.status {
        Status::Unpaid | Status::Paid => cancel_order(conn, &order, CancelReason::Buyer, now),
        Status::Cancelled => Err(Error::AlreadyCancelled),
        Status::Shipped => Err(Error::WrongState("the order has been shipped".into())),
        Status::Received => Err(Error::WrongState("the order has been received".into())),
    }
}

/// The owner of the order's store ships a paid order.
pub fn ship(conn: &Connection, seller_id: &str, order_id: &str, now: i64) -> Result<()> {
    expire_due(conn, now)?;
    let order = load(conn, order_id)?.ok_or(Error::NoSuchOrder)?;
    if open_store_owner(conn, &order.store_id)?.as_deref() != Some(seller_id) {
        return Err(Error::Unauthorized);
    }
    if order.status != Status::Paid {
        return Err(wrong_state("ship", order.status));
    }
    conn.prepare_cached(
        "UPDATE orders SET status = 'shipped', shipped_at = ?3
         WHERE buyer_id = ?1 AND order_rowid = ?2",
    )?
    .execute(params![order.buyer_id, order.rowid, now])?;
    Ok(())
}

/// The buyer confirms receipt of a shipped order; the money it holds goes to
/// the owner of the store.
pub fn receive(conn: &Connection, buyer_id: &str, order_id: &str, now: i64) -> Result<()> {
    expire_due(conn, now)?;
    let order = load(conn, order_id)?.ok_or(Error::NoSuchOrder)?;
    if order.buyer_id != buyer_id {
        return Err(Error::Unauthorized);
    }
    if order.status != Status::Shipped {
        return Err(wrong_state("receive", order.status));
    }
    release(conn, &order, now)
}

/// Confirms receipt of every shipped order of a buyer whose account is being
/// closed: the goods are on their way and the buyer can no longer confirm,
/// so the seller is paid now rather than the money staying held for ever.
pub fn receive_shipped_of(conn: &Connection, buyer_id: &str, now: i64) -> Result<()> {
    let shipped = order_rowids(
        conn,
        "SELECT order_rowid FROM orders WHERE buyer_id = ?1 AND status = 'shipped'",
        params![buyer_id],
    )?;
    for rowid in shipped {
        release(conn, &load_rowid(conn, rowid)?, now)?;
    }
    Ok(())
}

/// Moves the money a shipped order holds to the owner of its store and marks
/// it received.
fn release(conn: &Connection, order: &Order, now: i64) -> Result<()> {
    // The store's owner, even if that account has been closed since: the
    // money it earned stays on its record.
    let owner: String = conn
        .prepare_cached("SELECT owner_id FROM stores WHERE store_id = ?1")?
        .query_row([&order.store_id], |r| r.get(0))?;
    credit(conn, &owner, order.held, Money::Release, order.rowid, now)?;
    conn.prepare_cached(
        "UPDATE orders SET status = 'received', held = 0, received_at = ?3
         WHERE buyer_id = ?1 AND order_rowid = ?2",
    )?
    .execute(params![order.buyer_id, order.rowid, now])?;
    Ok(())
}

/// Cancels every unpaid order whose deadline is at or before `now`, giving
/// its stock back. Returns how many it cancelled.
///
/// The cancellation is dated at the deadline, not at the moment the sweep
/// got there: the order stopped being payable then, reads report that time
/// before the sweep runs, and a server that was stopped past the deadline
/// records the same time as one that was running.
pub fn expire_due(conn: &Connection, now: i64) -> Result<usize> {
    let due: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT order_rowid, expires_at FROM orders
             WHERE status = 'unpaid' AND expires_at <= ?1",
        )?
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for &(rowid, deadline) in &due {
        let order = load_rowid(conn, rowid)?;
        cancel_order(conn, &order, CancelReason::Timeout, deadline)?;
    }
    Ok(due.len())
}

/// Cancels every unpaid or paid order that `user_id` takes part in, as buyer
/// or as store owner, because the account is being closed.
pub fn cancel_open_orders_of(conn: &Connection, user_id: &str, now: i64) -> Result<()> {
    let open = order_rowids(
        conn,
        "SELECT order_rowid FROM orders
         WHERE status IN ('unpaid', 'paid')
           AND (buyer_id = ?1
                OR store_id IN (SELECT store_id FROM stores WHERE owner_id = ?1))",
        params![user_id],
    )?;
    for rowid in open {
        let order = load_rowid(conn, rowid)?;
        cancel_order(conn, &order, CancelReason::Closed, now)?;
    }
    Ok(())
}

/// The copies of a listing taken by unpaid and paid orders: those a cancel
/// may still give back.
pub fn copies_out(conn: &Connection, store_id: &str, book_rowid: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(line.value ->> 'count'), 0)
             FROM orders o, json_each(o.books) AS line
             WHERE o.store_id = ?1 AND o.status IN ('unpaid', 'paid')
               AND line.value ->> 'book_id' = (SELECT book_id FROM books WHERE book_rowid = ?2)",
        )?
        .query_row(params![store_id, book_rowid], |r| r.get(0))?)
}

/// Gives back the stock of every line and refunds any money held.
fn cancel_order(conn: &Connection, order: &Order, reason: CancelReason, now: i64) -> Result<()> {
    move_stock(conn, &order.store_id, lines_of(conn, order)?)?;
    if order.held > 0 {
        credit(
            conn,
            &order.buyer_id,
            order.held,
            Money::Refund,
            order.rowid,
            now,
        )?;
    }
    conn.prepare_cached(
        "UPDATE orders SET status = 'cancelled', held = 0, cancelled_at = ?3, cancel_reason = ?4
         WHERE buyer_id = ?1 AND order_rowid = ?2",
    )?
    .execute(params![order.buyer_id, order.rowid, now, reason.as_str()])?;
    Ok(())
}

/// The catalog number and count of each line of `order`, read from the
/// list stored with it. Books are never removed from the catalog, so a line
/// naming an unknown book means the file was changed by hand.
fn lines_of(conn: &Connection, order: &Order) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.book_rowid, line.value ->> 'count', line.value ->> 'book_id'
         FROM orders o, json_each(o.books) AS line
         LEFT JOIN books b ON b.book_id = line.value ->> 'book_id'
         WHERE o.buyer_id = ?1 AND o.order_rowid = ?2",
    )?;
    let rows = stmt.query_map(params![order.buyer_id, order.rowid], |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?,
            r.get(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    rows.map(|row| {
        let (rowid, count, book_id) = row?;
        let rowid = rowid.ok_or_else(|| {
            Error::Internal(format!(
                "an order lists {book_id:?}, which is not in the catalog"
            ))
        })?;
        Ok((rowid, count))
    })
    .collect()
}

/// Changes the stock of an order's listings by `(book_rowid, delta)`. The
/// order's lines and status are the record of the change: the ledger gets
/// no row for it. The schema's `CHECK (stock >= 0)` backs up the callers'
/// own checks. The statement is taken once for all the lines.
fn move_stock(
    conn: &Connection,
    store_id: &str,
    lines: impl IntoIterator<Item = (i64, i64)>,
) -> Result<()> {
    let mut update = conn.prepare_cached(
        "UPDATE listings SET stock = stock + ?3 WHERE store_id = ?1 AND book_rowid = ?2",
    )?;
    for (book_rowid, delta) in lines {
        update.execute(params![store_id, book_rowid, delta])?;
    }
    Ok(())
}

/// Adds money to a balance with overflow checked (SQLite would silently turn
/// an overflowing integer into a float).
///
/// A release or refund that would carry a balance past `i64::MAX` cents is
/// refused with 523 and the money stays held by the order, so nothing is
/// lost; the receipt or cancel then cannot happen until the balance is lower.
fn credit(
    conn: &Connection,
    user_id: &str,
    amount: i64,
    kind: Money,
    order: i64,
    now: i64,
) -> Result<()> {
    let balance = balance_of(conn, user_id)?;
    let new_balance = balance
        .checked_add(amount)
        .ok_or_else(|| Error::invalid("the balance would exceed the largest amount"))?;
    set_balance(conn, user_id, new_balance)?;
    ledger::money(conn, user_id, kind, amount, Some(order), now)
}

fn balance_of(conn: &Connection, user_id: &str) -> Result<i64> {
    super::accounts::balance(conn, user_id)?.ok_or(Error::NoSuchUser)
}

fn set_balance(conn: &Connection, user_id: &str, balance: i64) -> Result<()> {
    conn.prepare_cached("UPDATE users SET balance = ?2 WHERE user_id = ?1")?
        .execute(params![user_id, balance])?;
    Ok(())
}

const ORDER_COLUMNS: &str = "SELECT order_rowid, buyer_id, store_id, total_price, held, status \
                             FROM orders";

fn load(conn: &Connection, order_id: &str) -> Result<Option<Order>> {
    let sql = format!("{ORDER_COLUMNS} WHERE order_id = ?1");
    optional(conn, &sql, [order_id], order_from_row)?.transpose()
}

fn load_rowid(conn: &Connection, rowid: i64) -> Result<Order> {
    let sql = format!("{ORDER_COLUMNS} WHERE order_rowid = ?1");
    conn.prepare_cached(&sql)?
        .query_row([rowid], order_from_row)?
}

fn order_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Order>> {
    let status: String = r.get(5)?;
    Ok(Status::from_stored(&status).and_then(|status| {
        Ok(Order {
            rowid: r.get(0)?,
            buyer_id: r.get(1)?,
            store_id: r.get(2)?,
            total: r.get(3)?,
            held: r.get(4)?,
            status,
        })
    }))
}

fn order_rowids(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(p, |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

fn wrong_state(step: &str, status: Status) -> Error {
    Error::WrongState(format!(
        "cannot {step} an order that is {}",
        status.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;

    #[test]
    fn order_ids_are_version_7_uuids_that_sort_in_the_order_placed() {
        let first = new_order_id();
        std::thread::sleep(Duration::from_millis(2));
        let later: Vec<String> = (0..1000).map(|_| new_order_id()).collect();

        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.to_string(), first);
        assert!(later.iter().all(|id| *id > first));
        let unique: HashSet<&String> = later.iter().collect();
        assert_eq!(unique.len(), later.len());
    }
}
