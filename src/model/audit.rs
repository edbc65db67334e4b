//! Auditing a database: proving that its figures agree with its ledgers and
//! that no money or stock appeared or vanished.
//!
//! `bookstore check` runs [`audit_file`]. Everything is read in one read
//! transaction on a read-only connection, so the file may belong to a running
//! server: the audit sees one committed state and never holds up the writer.
//!
//! Sums are taken in `i128` in Rust, never with SQL's `SUM`: balances may each
//! approach `i64::MAX`, and SQLite aborts a `SUM` that overflows 64 bits.
//! The running sums stay in memory, one per user, listing and order line, as
//! does the catalog's map of book ids, so a file with tens of millions of
//! those needs memory to match.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use serde::Deserialize;

use crate::db::{self, SCHEMA_VERSION};
use crate::error::{log_cause, Error, Result};

/// The most problems a report lists one by one; the rest are only counted.
pub const MAX_LISTED: usize = 50;

/// What an audit found: the problems, and the totals it added up.
#[derive(Debug, Default)]
pub struct Report {
    /// What is wrong, in words; at most [`MAX_LISTED`] of them.
    pub problems: Vec<String>,
    /// How many problems there are in all.
    pub problem_count: usize,
    /// Whether every check ran. A file too damaged, or of another schema,
    /// stops the audit early, and the totals below are then meaningless.
    pub complete: bool,
    pub users: u64,
    pub orders: u64,
    pub listings: u64,
    pub money_entries: u64,
    pub stock_entries: u64,
    /// The sum of all balances, in cents.
    pub balances: i128,
    /// The money held by paid orders not yet received, in cents.
    pub held: i128,
    /// The sum of all deposits, in cents.
    pub deposited: i128,
    /// The sum of all withdrawals, in cents, as a positive amount.
    pub withdrawn: i128,
    /// The sum of all stock levels.
    pub stock: i128,
}

impl Report {
    /// Whether the audit found nothing wrong.
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, what: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(what);
        }
        self.problem_count += 1;
    }

    /// The figures the audit added up, one line each.
    fn totals(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "users: {}, balances {} cents", self.users, self.balances)?;
        writeln!(f, "orders: {}, holding {} cents", self.orders, self.held)?;
        writeln!(
            f,
            "money: deposits {} - withdrawals {} = {} cents; balances + held = {} cents",
            self.deposited,
            self.withdrawn,
            self.deposited - self.withdrawn,
            self.balances + self.held
        )?;
        writeln!(f, "listings: {}, stock {}", self.listings, self.stock)?;
        writeln!(
            f,
            "ledger entries: {} of money, {} of stock",
            self.money_entries, self.stock_entries
        )
    }
}

impl fmt::Display for Report {
    /// The totals (when every check ran), then one line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.complete {
            self.totals(f)?;
        }
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        let unlisted = self.problem_count - self.problems.len();
        if unlisted > 0 {
            writeln!(f, "problem: ... and {unlisted} more")?;
        }
        Ok(())
    }
}

/// Audits the database file at `path`, opened read-only. Fails, naming the
/// file, if it cannot be opened or read at all.
pub fn audit_file(path: &Path) -> Result<Report> {
    let cannot = |e| Error::Internal(format!("cannot read {}: {}", path.display(), cause(e)));
    let mut conn = db::open_read_only(path).map_err(cannot)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(|e| cannot(e.into()))?;
    audit(&tx).map_err(cannot)
}

/// Why reading failed, without the error's own category.
fn cause(e: Error) -> String {
    match e {
        Error::Database(cause) => cause.to_string(),
        other => log_cause(&other),
    }
}

/// Audits the database behind `conn`. Run it inside one transaction, so
/// every figure comes from the same committed state.
pub fn audit(conn: &Connection) -> Result<Report> {
    let mut report = Report::default();
    if !schema_known(conn, &mut report)? {
        return Ok(report);
    }
    // A damaged file can fail the integrity check itself; that is the
    // finding, and the sums after it would mean nothing.
    if let Err(e) = integrity(conn, &mut report) {
        report.problem(format!("the file is damaged: {}", cause(e)));
        return Ok(report);
    }
    balances(conn, &mut report)?;
    held_money(conn, &mut report)?;
    conservation(&mut report);
    let ledger = stock_ledger(conn, &mut report)?;
    let held = order_lines(conn, &mut report, ledger.by_order)?;
    stock(conn, &mut report, ledger.supplied, held)?;
    report.complete = true;
    Ok(report)
}

/// Whether the file has this release's schema; the checks below rely on it.
fn schema_known(conn: &Connection, report: &mut Report) -> Result<bool> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        report.problem("this is not a bookstore database (schema version 0)".into());
    } else if version != SCHEMA_VERSION {
        report.problem(format!(
            "the schema version is {version}; this release checks version {SCHEMA_VERSION}"
        ));
    }
    Ok(version == SCHEMA_VERSION)
}

/// SQLite's own check of the file's structure, and of its foreign keys.
fn integrity(conn: &Connection, report: &mut Report) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let findings = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for finding in findings.into_iter().filter(|f| f != "ok") {
        report.problem(format!("integrity check: {finding}"));
    }

    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (table, rowid, parent): (String, Option<i64>, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?);
        let row = rowid.map_or_else(|| "a row".to_string(), |id| format!("row {id}"));
        report.problem(format!(
            "{row} of {table} refers to a missing row of {parent}"
        ));
    }
    Ok(())
}

/// Every balance is not negative and equals the sum of its ledger entries;
/// every entry's sign fits its kind. Also adds up deposits and withdrawals.
fn balances(conn: &Connection, report: &mut Report) -> Result<()> {
    let mut recorded: HashMap<String, i128> = HashMap::new();
    let mut stmt = conn.prepare("SELECT entry_id, user_id, kind, amount FROM money_ledger")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (entry, user, kind, amount): (i64, String, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        report.money_entries += 1;
        match kind.as_str() {
            "deposit" => report.deposited += i128::from(amount),
            "withdrawal" => report.withdrawn -= i128::from(amount),
            _ => {}
        }
        if !money_sign_fits(&kind, amount) {
            report.problem(format!(
                "money ledger entry {entry} is a {kind} of {amount}"
            ));
        }
        *recorded.entry(user).or_default() += i128::from(amount);
    }

    let mut stmt = conn.prepare("SELECT user_id, balance FROM users")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (user, balance): (String, i64) = (r.get(0)?, r.get(1)?);
        report.users += 1;
        report.balances += i128::from(balance);
        if balance < 0 {
            report.problem(format!(
                "the balance of user {user:?} is negative: {balance}"
            ));
        }
        let sum = recorded.remove(&user).unwrap_or(0);
        if sum != i128::from(balance) {
            report.problem(format!(
                "the balance of user {user:?} is {balance}, but its ledger adds up to {sum}"
            ));
        }
    }
    for (user, sum) in recorded {
        report.problem(format!(
            "the money ledger moves {sum} cents for {user:?}, who is not a user"
        ));
    }
    Ok(())
}

/// Deposits, releases to the seller and refunds add to a balance;
/// withdrawals and payments take from it.
fn money_sign_fits(kind: &str, amount: i64) -> bool {
    match kind {
        "deposit" | "release" | "refund" => amount > 0,
        "withdrawal" | "payment" => amount < 0,
        _ => false,
    }
}

/// Every order holds exactly its total while paid or shipped and nothing
/// otherwise, and that is what its ledger entries moved into it.
fn held_money(conn: &Connection, report: &mut Report) -> Result<()> {
    // What the ledger took from users for each order, net of what it gave back.
    let mut moved_in: HashMap<i64, i128> = HashMap::new();
    let mut stmt =
        conn.prepare("SELECT order_rowid, amount FROM money_ledger WHERE order_rowid IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (order, amount): (i64, i64) = (r.get(0)?, r.get(1)?);
        *moved_in.entry(order).or_default() -= i128::from(amount);
    }

    let mut stmt =
        conn.prepare("SELECT order_rowid, order_id, status, total_price, held FROM orders")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (rowid, id, status, total, held): (i64, String, String, i64, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        report.orders += 1;
        report.held += i128::from(held);
        let should_hold = if matches!(status.as_str(), "paid" | "shipped") {
            total
        } else {
            0
        };
        if held != should_hold {
            report.problem(format!(
                "order {id} is {status} and should hold {should_hold} cents, but holds {held}"
            ));
        }
        let moved = moved_in.remove(&rowid).unwrap_or(0);
        if moved != i128::from(held) {
            report.problem(format!(
                "order {id} holds {held} cents, but its ledger entries moved {moved} into it"
            ));
        }
    }
    for (rowid, moved) in moved_in {
        report.problem(format!(
            "the money ledger moves {moved} cents for order row {rowid}, which does not exist"
        ));
    }
    Ok(())
}

/// Balances plus the money orders hold equal deposits minus withdrawals.
fn conservation(report: &mut Report) {
    let supplied = report.deposited - report.withdrawn;
    let present = report.balances + report.held;
    if supplied != present {
        report.problem(format!(
            "money is not conserved: deposits - withdrawals = {supplied} cents, \
             but balances + money held by orders = {present} cents"
        ));
    }
}

/// The stock ledger read whole: what sellers put into each listing, and
/// the rows that files of schema version 6 and before also wrote for orders.
#[derive(Default)]
struct StockLedger {
    /// Copies each listing `(store_id, book_rowid)` got from its seller.
    supplied: HashMap<(String, i64), i128>,
    /// Copies each order `(order_rowid, book_rowid)` took and gave back, as
    /// recorded by those older files.
    by_order: HashMap<(i64, i64), (i128, i128)>,
}

/// Reads the stock ledger; every entry's sign fits its kind, and only the
/// rows an order wrote name one.
fn stock_ledger(conn: &Connection, report: &mut Report) -> Result<StockLedger> {
    let mut ledger = StockLedger::default();
    let mut stmt = conn.prepare(
        "SELECT entry_id, store_id, book_rowid, kind, delta, order_rowid FROM stock_ledger",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (entry, store, book): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let (kind, delta, order): (String, i64, Option<i64>) = (r.get(3)?, r.get(4)?, r.get(5)?);
        report.stock_entries += 1;
        if !stock_sign_fits(&kind, delta) {
            report.problem(format!("stock ledger entry {entry} is {kind} {delta}"));
        }
        match (kind.as_str(), order) {
            ("initial" | "added", None) => {
                *ledger.supplied.entry((store, book)).or_default() += i128::from(delta);
            }
            ("ordered", Some(order)) => {
                ledger.by_order.entry((order, book)).or_default().0 -= i128::from(delta);
            }
            ("returned", Some(order)) => {
                ledger.by_order.entry((order, book)).or_default().1 += i128::from(delta);
            }
            (_, Some(order)) => report.problem(format!(
                "stock ledger entry {entry} is {kind}, yet names order row {order}"
            )),
            (_, None) => report.problem(format!(
                "stock ledger entry {entry} is {kind}, yet names no order"
            )),
        }
    }
    Ok(ledger)
}

/// Every listing's stock is not negative and equals what its seller put in
/// (the sum of its ledger entries) less the copies its orders hold.
fn stock(
    conn: &Connection,
    report: &mut Report,
    mut supplied: HashMap<(String, i64), i128>,
    mut held: HashMap<(String, i64), i128>,
) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT l.store_id, l.book_rowid, COALESCE(b.book_id, '#' || l.book_rowid), l.stock
         FROM listings l LEFT JOIN books b ON b.book_rowid = l.book_rowid",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (store, rowid, book, stock): (String, i64, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        report.listings += 1;
        report.stock += i128::from(stock);
        if stock < 0 {
            report.problem(format!(
                "the stock of book {book:?} in store {store:?} is negative: {stock}"
            ));
        }
        let key = (store, rowid);
        let put = supplied.remove(&key).unwrap_or(0);
        let out = held.remove(&key).unwrap_or(0);
        if put - out != i128::from(stock) {
            let (store, _) = key;
            report.problem(format!(
                "the stock of book {book:?} in store {store:?} is {stock}, but its ledger \
                 adds up to {put} and its orders hold {out}"
            ));
        }
    }
    for ((store, rowid), sum) in supplied {
        report.problem(format!(
            "the stock ledger moves {sum} copies of book row {rowid} in store {store:?}, \
             which does not list it"
        ));
    }
    for ((store, rowid), out) in held {
        report.problem(format!(
            "orders hold {out} copies of book row {rowid} from store {store:?}, \
             which does not list it"
        ));
    }
    Ok(())
}

/// Initial stock is not negative, orders take, cancellations give back, and
/// a seller's change is never zero.
fn stock_sign_fits(kind: &str, delta: i64) -> bool {
    match kind {
        "initial" => delta >= 0,
        "added" => delta != 0,
        "ordered" => delta < 0,
        "returned" => delta > 0,
        _ => false,
    }
}

/// Whether the stock ledger rows of an order placed by schema version 6 or
/// before fit a line of `count` copies: they took exactly those, and gave
/// back none or, if the order is cancelled, all of them (none when it was
/// cancelled after the upgrade).
fn recorded_line_fits(count: i64, cancelled: bool, taken: i128, returned: i128) -> bool {
    let count = i128::from(count);
    taken == count && (returned == 0 || (cancelled && returned == count))
}

/// One line of an order, as `orders.books` lists it.
#[derive(Debug, Deserialize)]
struct BookLine {
    book_id: String,
    count: i64,
    price: i64,
}

/// Every order's list of books is well formed: books of the catalog, each
/// once and in catalog order, at least one copy each at a price not below
/// zero, adding up to the order's total. Returns the copies that orders
/// not cancelled hold, by listing.
///
/// An order placed by schema version 6 or before also has stock ledger
/// rows (`by_order`): each line took its copies there, and gave them back
/// if the order was cancelled before the upgrade (one cancelled after it
/// gives them back without a row, like any order now).
fn order_lines(
    conn: &Connection,
    report: &mut Report,
    mut by_order: HashMap<(i64, i64), (i128, i128)>,
) -> Result<HashMap<(String, i64), i128>> {
    let mut held: HashMap<(String, i64), i128> = HashMap::new();
    let catalog = conn
        .prepare("SELECT book_id, book_rowid FROM books")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<HashMap<_, _>>>()?;

    let mut stmt = conn.prepare(
        "SELECT order_rowid, order_id, store_id, status, total_price, books FROM orders",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (order, id, store): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let (status, total, books): (String, i64, String) = (r.get(3)?, r.get(4)?, r.get(5)?);
        let lines: Vec<BookLine> = match serde_json::from_str(&books) {
            Ok(lines) => lines,
            Err(e) => {
                report.problem(format!(
                    "order {id} lists its books as {books}, which is not a list of books: {e}"
                ));
                continue;
            }
        };
        if lines.is_empty() {
            report.problem(format!("order {id} lists no book"));
        }
        let cancelled = status == "cancelled";
        let recorded = lines.iter().any(|line| {
            catalog
                .get(&line.book_id)
                .is_some_and(|&book| by_order.contains_key(&(order, book)))
        });
        let (mut cost, mut last) = (0i128, None);
        for line in lines {
            let BookLine {
                book_id,
                count,
                price,
            } = line;
            let Some(&book) = catalog.get(&book_id) else {
                report.problem(format!(
                    "order {id} lists book {book_id:?}, which is not in the catalog"
                ));
                continue;
            };
            if count < 1 || price < 0 {
                report.problem(format!(
                    "order {id} lists {count} of book {book_id:?} at {price} cents"
                ));
            }
            if last.is_some_and(|last| last >= book) {
                report.problem(format!(
                    "order {id} lists book {book_id:?} twice or out of catalog order"
                ));
            }
            last = Some(book);
            cost += i128::from(count) * i128::from(price);
            if !cancelled {
                *held.entry((store.clone(), book)).or_default() += i128::from(count);
            }

            if recorded {
                let (taken, returned) = by_order.remove(&(order, book)).unwrap_or_default();
                if !recorded_line_fits(count, cancelled, taken, returned) {
                    report.problem(format!(
                        "order {id} ({status}) has {count} of book {book_id:?}, but its ledger \
                         took {taken} and gave back {returned}"
                    ));
                }
            }
        }
        if cost != i128::from(total) {
            report.problem(format!(
                "order {id} costs {total} cents, but its books add up to {cost}"
            ));
        }
    }
    for ((order, book), (taken, returned)) in by_order {
        report.problem(format!(
            "the stock ledger moves copies of book row {book} for order row {order} \
             (took {taken}, gave back {returned}), which has no such line"
        ));
    }
    Ok(held)
}
