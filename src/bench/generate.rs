//! `bookstore generate`: a large synthetic world written straight into a new
//! database file, for the scale scenarios (100,000 books and 1,000,000 orders
//! take about twenty seconds).
//!
//! Accounts, stores and books go through the rules of [`crate::model`], like
//! any other. Orders are written directly, already in their final state and
//! spread over the past year, because replaying a million of them one by one
//! through the rules would take far longer; every movement of money they
//! make is still written to the money ledger, and the balances and stock
//! levels are set to what the ledgers and the orders' lines add up to, so
//! the file passes the same consistency checks as one the server wrote.
//!
//! The file is written without a rollback journal, in one transaction: a
//! generator stopped halfway leaves a file to delete, not to use.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{params, Connection};

use super::prepare::random_lines;
use super::session::{Budget, Gate};
use super::synthetic::{self, HISTORY_BUYERS, INITIAL_FUNDS, INITIAL_STOCK, PASSWORD};
use crate::clock::Clock;
use crate::config::KdfArgs;
use crate::db::{Db, SCHEMA};
use crate::error::{Error, Result};
use crate::model::ledger::{self, Money};
use crate::model::passwords::Passwords;
use crate::model::{accounts, orders, stores};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The flags of `bookstore generate`.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The database file to create; it must not exist yet.
    #[arg(long)]
    pub db: PathBuf,

    /// Books in the catalog.
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub books: u64,

    /// Orders, shared evenly among the buyers.
    #[arg(long, default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub orders: u64,

    /// Buyers (at least the ten the history scenario logs in as).
    #[arg(long, default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(HISTORY_BUYERS as u64..=10_000_000))]
    pub buyers: u64,

    /// Stores, each with its own seller; book n is listed by store n mod stores.
    #[arg(long, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub stores: u64,

    /// Seed of the orders' random choices: the same seed makes the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// The cost of the accounts' password hash (as for `serve`).
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// What a generation wrote.
#[derive(Debug)]
pub struct Generated {
    pub books: usize,
    pub orders: usize,
    pub buyers: usize,
    pub stores: usize,
    pub seconds: f64,
}

/// The running totals the ledgers and orders must add up to.
struct Totals {
    /// Copies of each book sold and not returned.
    taken: Vec<i64>,
    buyer_balance: Vec<i64>,
    seller_balance: Vec<i64>,
}

/// Writes the synthetic world into a new file at `args.db`.
pub fn generate(args: &GenerateArgs, progress: bool) -> Result<Generated> {
    let started = Instant::now();
    let (books, orders, buyers, stores) = (
        args.books as usize,
        args.orders as usize,
        args.buyers as usize,
        args.stores as usize,
    );
    if books < stores {
        return Err(Error::invalid(
            "every store needs a book: --books >= --stores",
        ));
    }
    let conn = create(&args.db)?;
    let hash = Passwords::new(args.kdf.kdf_memory, args.kdf.kdf_passes)?.hash(PASSWORD)?;

    let gate = Gate::new(Budget::Operations((books + orders) as u64));
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        if progress {
            scope.spawn(|| super::progress::show("generating", &finished, || gate.status()));
        }
        let result = write_world(&conn, args, &hash, &gate);
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        result
    })?;

    // Back to the journal mode the server runs in.
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    Ok(Generated {
        books,
        orders,
        buyers,
        stores,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Creates the file with the schema, then reopens it set up for bulk writing.
fn create(path: &Path) -> Result<Connection> {
    if path.exists() {
        return Err(Error::invalid(format!(
            "{} exists; generate writes a new file",
            path.display()
        )));
    }
    drop(Db::open(path, 1)?);
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(64);
    // The rows are consistent by construction, so the foreign keys are not
    // checked row by row; tests check them on generated files.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA foreign_keys = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -1048576;",
    )?;
    Ok(conn)
}

fn write_world(conn: &Connection, args: &GenerateArgs, hash: &str, gate: &Gate) -> Result<()> {
    let now = Clock::default().now();
    let opened = now - 366 * DAY;
    conn.execute_batch("BEGIN")?;

    let stores = args.stores as usize;
    for i in 0..stores {
        accounts::register(conn, &synthetic::seller_id(i), hash, opened)?;
        stores::create_store(
            conn,
            &synthetic::seller_id(i),
            &synthetic::store_id(i),
            opened,
        )?;
    }
    let (rowids, prices) = write_books(conn, args.books as usize, stores, opened, gate)?;

    let buyers = args.buyers as usize;
    for i in 0..buyers {
        let buyer = synthetic::buyer_id(i);
        accounts::register(conn, &buyer, hash, opened)?;
        orders::add_funds(conn, &buyer, hash, INITIAL_FUNDS, opened)?;
    }

    let mut totals = Totals {
        taken: vec![0; rowids.len()],
        buyer_balance: vec![INITIAL_FUNDS; buyers],
        seller_balance: vec![0; stores],
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let orders = args.orders as usize;
    let dropped = drop_indexes(conn, &["orders", "money_ledger", "stock_ledger"])?;
    for i in 0..orders {
        // Spread over the past year, oldest first, ending a day ago.
        let created = opened + DAY + (i as i64 * 364 * DAY) / orders.max(1) as i64;
        let order = SyntheticOrder::draw(&mut rng, i, buyers, stores, rowids.len(), created);
        order.write(conn, &rowids, &prices, &mut totals)?;
        gate.done();
    }

    // Building an index from the finished table sorts once instead of
    // inserting a million times at random places.
    if dropped > 0 {
        conn.execute_batch(SCHEMA)?;
    }
    settle(conn, &rowids, stores, &totals)?;
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// Drops the secondary indexes of `tables` (the schema re-creates them);
/// returns how many.
fn drop_indexes(conn: &Connection, tables: &[&str]) -> Result<usize> {
    let mut names = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1
             AND sql IS NOT NULL",
        )?;
        let found = stmt.query_map([table], |r| r.get::<_, String>(0))?;
        names.extend(found.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    for name in &names {
        conn.execute_batch(&format!("DROP INDEX \"{name}\";"))?;
    }
    Ok(names.len())
}

/// Lists every book in its store; returns each book's row id and price.
fn write_books(
    conn: &Connection,
    books: usize,
    stores: usize,
    now: i64,
    gate: &Gate,
) -> Result<(Vec<i64>, Vec<i64>)> {
    let mut rowids = Vec::with_capacity(books);
    let mut prices = Vec::with_capacity(books);
    for n in 0..books {
        let book = synthetic::book(n);
        let s = synthetic::store_of(n, stores);
        let (seller, store) = (synthetic::seller_id(s), synthetic::store_id(s));
        let rowid = stores::add_book(conn, &seller, &store, &book, INITIAL_STOCK, now)?;
        rowids.push(rowid);
        prices.push(book.price);
        gate.done();
    }
    Ok((rowids, prices))
}

/// How a synthetic order ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Received,
    Shipped,
    Paid,
    /// Cancelled by the buyer after paying: refunded.
    Refunded,
    /// Cancelled by the buyer before paying.
    Withdrawn,
}

impl Fate {
    /// Mostly received, as in a shop that has run for a year.
    fn draw(rng: &mut impl Rng) -> Fate {
        match rng.gen_range(0..100) {
            0..=79 => Fate::Received,
            80..=84 => Fate::Shipped,
            85..=89 => Fate::Paid,
            90..=94 => Fate::Refunded,
            _ => Fate::Withdrawn,
        }
    }

    fn status(self) -> &'static str {
        match self {
            Fate::Received => "received",
            Fate::Shipped => "shipped",
            Fate::Paid => "paid",
            Fate::Refunded | Fate::Withdrawn => "cancelled",
        }
    }

    fn was_paid(self) -> bool {
        self != Fate::Withdrawn
    }

    /// Cancelled, and so holding no copies.
    fn cancelled(self) -> bool {
        matches!(self, Fate::Refunded | Fate::Withdrawn)
    }
}

struct SyntheticOrder {
    /// The order's number: orders are numbered in the order they are drawn,
    /// which is the order they were placed in.
    rowid: i64,
    id: String,
    buyer: usize,
    store: usize,
    /// (book number, copies)
    lines: Vec<(usize, i64)>,
    fate: Fate,
    created: i64,
}

impl SyntheticOrder {
    /// Order `i`: its buyer in turn, a random store and 1 to 10 of its books.
    fn draw(
        rng: &mut StdRng,
        i: usize,
        buyers: usize,
        stores: usize,
        books: usize,
        created: i64,
    ) -> SyntheticOrder {
        let store = rng.gen_range(0..stores);
        // Store s lists books s, s + stores, s + 2 * stores, ...
        let in_store = (books - store).div_ceil(stores);
        let lines = random_lines(rng, in_store)
            .into_iter()
            .map(|(j, count)| (j * stores + store, count))
            .collect();
        SyntheticOrder {
            rowid: i as i64 + 1,
            // From the seeded generator alone, so a seed always makes the
            // same ids: creation times follow the clock of the run.
            id: uuid::Builder::from_random_bytes(rng.gen())
                .into_uuid()
                .to_string(),
            buyer: i % buyers,
            store,
            lines,
            fate: Fate::draw(rng),
            created,
        }
    }

    /// Writes the order and its money ledger rows, and updates `totals`.
    fn write(
        &self,
        conn: &Connection,
        rowids: &[i64],
        prices: &[i64],
        totals: &mut Totals,
    ) -> Result<()> {
        let total: i64 = self.lines.iter().map(|&(n, c)| prices[n] * c).sum();
        let books = self.books(rowids, prices);
        let order_rowid = self.insert(conn, total, &books)?;
        // A cancelled order gave its copies back; the others still hold
        // them. The order's own lines are their record.
        if !self.fate.cancelled() {
            for &(n, count) in &self.lines {
                totals.taken[n] += count;
            }
        }
        self.move_money(conn, order_rowid, total, totals)
    }

    /// The order's lines as stored with it, in catalog order.
    fn books(&self, rowids: &[i64], prices: &[i64]) -> String {
        let mut lines: Vec<(i64, String, i64, i64)> = self
            .lines
            .iter()
            .map(|&(n, count)| (rowids[n], synthetic::book_id(n), count, prices[n]))
            .collect();
        lines.sort_unstable_by_key(|&(rowid, ..)| rowid);
        orders::books_json(
            lines
                .iter()
                .map(|(_, id, count, price)| (id.as_str(), *count, *price)),
        )
    }

    /// The time of step `k` of the order's life: an hour apart.
    fn step(&self, k: i64) -> i64 {
        self.created + k * 3600
    }

    fn insert(&self, conn: &Connection, total: i64, books: &str) -> Result<i64> {
        let paid = self.fate.was_paid().then(|| self.step(1));
        let shipped = matches!(self.fate, Fate::Shipped | Fate::Received).then(|| self.step(2));
        let received = (self.fate == Fate::Received).then(|| self.step(3));
        let cancelled = self.fate.cancelled().then(|| self.step(3));
        let held = if matches!(self.fate, Fate::Paid | Fate::Shipped) {
            total
        } else {
            0
        };
        conn.prepare_cached(
            "INSERT INTO orders (order_rowid, order_id, buyer_id, store_id, total_price, held,
                 status, created_at, expires_at, paid_at, shipped_at, received_at,
                 cancelled_at, cancel_reason, books)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            self.rowid,
            self.id,
            synthetic::buyer_id(self.buyer),
            synthetic::store_id(self.store),
            total,
            held,
            self.fate.status(),
            self.created,
            self.created + 900,
            paid,
            shipped,
            received,
            cancelled,
            cancelled.map(|_| "buyer"),
            books,
        ])?;
        Ok(self.rowid)
    }

    fn move_money(
        &self,
        conn: &Connection,
        order_rowid: i64,
        total: i64,
        totals: &mut Totals,
    ) -> Result<()> {
        if !self.fate.was_paid() {
            return Ok(());
        }
        let buyer = synthetic::buyer_id(self.buyer);
        let order = Some(order_rowid);
        ledger::money(conn, &buyer, Money::Payment, -total, order, self.step(1))?;
        totals.buyer_balance[self.buyer] -= total;
        match self.fate {
            Fate::Received => {
                let seller = synthetic::seller_id(self.store);
                ledger::money(conn, &seller, Money::Release, total, order, self.step(3))?;
                totals.seller_balance[self.store] += total;
            }
            Fate::Refunded => {
                ledger::money(conn, &buyer, Money::Refund, total, order, self.step(3))?;
                totals.buyer_balance[self.buyer] += total;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Sets every balance to what its ledger adds up to, and every stock level
/// to its initial stock less the copies its orders hold.
fn settle(conn: &Connection, rowids: &[i64], stores: usize, totals: &Totals) -> Result<()> {
    let mut stock = conn
        .prepare_cached("UPDATE listings SET stock = ?3 WHERE store_id = ?1 AND book_rowid = ?2")?;
    for (n, &taken) in totals.taken.iter().enumerate() {
        if taken != 0 {
            let store = synthetic::store_id(synthetic::store_of(n, stores));
            stock.execute(params![store, rowids[n], INITIAL_STOCK - taken])?;
        }
    }
    let mut balance = conn.prepare_cached("UPDATE users SET balance = ?2 WHERE user_id = ?1")?;
    for (i, &b) in totals.buyer_balance.iter().enumerate() {
        balance.execute(params![synthetic::buyer_id(i), b])?;
    }
    for (i, &b) in totals.seller_balance.iter().enumerate() {
        balance.execute(params![synthetic::seller_id(i), b])?;
    }
    Ok(())
}
