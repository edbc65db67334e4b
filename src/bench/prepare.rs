//! The data each scenario needs, made through the public API only, so the
//! benchmark can be pointed at any server that implements the contract.
//!
//! The core workload gets a shop of its own on every run (ids carry a random
//! run id, so runs against the same server never collide): a few sellers with
//! a few stores each, every store listing the whole catalog, and ten buyers
//! with funds. The search and history scenarios share the synthetic world of
//! [`synthetic`]; when the server lacks it (no `bookstore generate` file
//! behind it), a smaller one is built here over HTTP.

use rand::seq::index;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

use super::session::{parse, run_sessions, Budget, Gate, Session};
use super::stats::{Endpoint, Recorder};
use super::synthetic::{self, HISTORY_BUYERS, INITIAL_FUNDS, INITIAL_STOCK, PASSWORD};
use super::workload::Plan;
use crate::model::types::NewBook;

/// Sellers of the core workload's shop.
pub const SELLERS: usize = 2;
/// Stores of each seller.
pub const STORES_PER_SELLER: usize = 3;
/// Buyers of the core workload; the sessions share them.
pub const BUYERS: usize = 10;
/// The most distinct books in one order, and the most copies of each.
pub const MAX_LINES: usize = 10;
pub const MAX_COPIES: i64 = 10;

/// The core workload's shop.
pub struct Shop {
    pub stores: Vec<String>,
    pub books: Vec<String>,
    /// Buyer ids with their passwords.
    pub buyers: Vec<(String, String)>,
}

/// One line of `/buyer/new_order`.
#[derive(Serialize)]
pub struct Line<'a> {
    pub id: &'a str,
    pub count: i64,
}

#[derive(Serialize)]
pub struct NewOrder<'a> {
    pub user_id: &'a str,
    pub store_id: &'a str,
    pub books: Vec<Line<'a>>,
}

#[derive(Serialize)]
pub struct Payment<'a> {
    pub user_id: &'a str,
    pub order_id: &'a str,
    pub password: &'a str,
}

#[derive(serde::Deserialize)]
pub struct Placed {
    pub order_id: String,
}

/// 1 to [`MAX_LINES`] distinct books out of `books`, each with 1 to
/// [`MAX_COPIES`] copies, as (index, count).
pub fn random_lines(rng: &mut impl Rng, books: usize) -> Vec<(usize, i64)> {
    let n = rng.gen_range(1..=MAX_LINES.min(books));
    index::sample(rng, books, n)
        .into_iter()
        .map(|i| (i, rng.gen_range(1..=MAX_COPIES)))
        .collect()
}

/// Places an order and pays it; both outcomes are recorded.
pub fn order_and_pay(s: &mut Session, buyer: (&str, &str), token: &str, order: &NewOrder) -> bool {
    let Some(placed) = s
        .call(Endpoint::NewOrder, Some(token), order)
        .and_then(|a| parse::<Placed>(&a))
    else {
        return false;
    };
    let payment = Payment {
        user_id: buyer.0,
        order_id: &placed.order_id,
        password: buyer.1,
    };
    s.call(Endpoint::Payment, None, &payment).is_some()
}

/// Builds the core workload's shop for run `run`.
pub fn shop(s: &mut Session, run: &str, catalog: &[Value]) -> Result<Shop, String> {
    let mut stores = Vec::new();
    for i in 0..SELLERS {
        let seller = format!("bench_{run}_seller_{i}");
        let token = account(s, &seller, &format!("{seller}-pw"))?;
        for j in 0..STORES_PER_SELLER {
            let store = format!("bench_{run}_store_{i}_{j}");
            let body = json!({"user_id": seller, "store_id": store});
            s.require(Endpoint::CreateStore, Some(&token), &body)?;
            for info in catalog {
                add_book(s, &token, &seller, &store, info)?;
            }
            stores.push(store);
        }
    }

    let mut buyers = Vec::new();
    for k in 0..BUYERS {
        let buyer = format!("bench_{run}_buyer_{k}");
        let password = format!("{buyer}-pw");
        register(s, &buyer, &password)?;
        fund(s, &buyer, &password)?;
        buyers.push((buyer, password));
    }
    Ok(Shop {
        stores,
        books: super::catalog::ids(catalog),
        buyers,
    })
}

/// Makes sure the server has the synthetic world, building it over HTTP
/// with `plan.books` books and `plan.history_orders` orders per history
/// buyer if it does not. Returns what the building measured.
///
/// The world counts as present when its last history buyer can log in; a
/// world left half-built by an interrupted run is not detected and makes the
/// next preparation fail on ids that exist already: use a fresh database.
pub fn synthetic_world(plan: &Plan, s: &mut Session) -> Result<Recorder, String> {
    let last_buyer = synthetic::buyer_id(HISTORY_BUYERS - 1);
    if s.can_login(&last_buyer, PASSWORD) {
        return Ok(Recorder::default());
    }
    let (seller, store) = (synthetic::seller_id(0), synthetic::store_id(0));
    let token = account(s, &seller, PASSWORD)?;
    let body = json!({"user_id": seller, "store_id": store});
    s.require(Endpoint::CreateStore, Some(&token), &body)?;

    let mut measured = Recorder::default();
    let books = Gate::new(Budget::Operations(plan.books as u64));
    let label = plan.progress.then_some("preparing books ");
    let added = run_sessions(
        &plan.target,
        plan.sessions,
        plan.seed,
        &books,
        label,
        |s, g| {
            while let Some(n) = g.next() {
                let info = book_info(&synthetic::book(n as usize));
                if add_book(s, &token, &seller, &store, &info).is_err() {
                    return g.stop();
                }
                g.done();
            }
        },
    );
    first_failure(&added.recorder)?;
    measured.merge(added.recorder);

    measured.merge(history_buyers(plan, &store)?);
    Ok(measured)
}

/// Registers and funds the history buyers, then places and pays their
/// orders from `store`.
fn history_buyers(plan: &Plan, store: &str) -> Result<Recorder, String> {
    let mut s = Session::new(&plan.target, usize::MAX, plan.seed);
    let mut buyers = Vec::new();
    for i in 0..HISTORY_BUYERS {
        let buyer = synthetic::buyer_id(i);
        let token = account(&mut s, &buyer, PASSWORD)?;
        fund(&mut s, &buyer, PASSWORD)?;
        buyers.push((buyer, token));
    }

    let total = (HISTORY_BUYERS * plan.history_orders) as u64;
    let orders = Gate::new(Budget::Operations(total));
    let label = plan.progress.then_some("preparing orders");
    let placed = run_sessions(
        &plan.target,
        plan.sessions,
        plan.seed,
        &orders,
        label,
        |s, g| {
            let ids: Vec<String> = (0..plan.books).map(synthetic::book_id).collect();
            while let Some(n) = g.next() {
                let (buyer, token) = &buyers[n as usize % HISTORY_BUYERS];
                let lines = random_lines(&mut s.rng, ids.len());
                let order = NewOrder {
                    user_id: buyer,
                    store_id: store,
                    books: lines
                        .iter()
                        .map(|&(i, count)| Line { id: &ids[i], count })
                        .collect(),
                };
                if !order_and_pay(s, (buyer, PASSWORD), token, &order) {
                    return g.stop();
                }
                g.done();
            }
        },
    );
    first_failure(&placed.recorder)?;
    s.recorder.merge(placed.recorder);
    Ok(s.recorder)
}

/// Registers a user and logs it in; returns the token.
fn account(s: &mut Session, user_id: &str, password: &str) -> Result<String, String> {
    register(s, user_id, password)?;
    s.login(user_id, password)
        .ok_or_else(|| format!("preparing the data: {user_id} cannot log in"))
}

fn register(s: &mut Session, user_id: &str, password: &str) -> Result<(), String> {
    let body = json!({"user_id": user_id, "password": password});
    s.require(Endpoint::Register, None, &body).map(drop)
}

fn fund(s: &mut Session, user_id: &str, password: &str) -> Result<(), String> {
    let body = json!({"user_id": user_id, "password": password, "add_value": INITIAL_FUNDS});
    s.require(Endpoint::AddFunds, None, &body).map(drop)
}

fn add_book(
    s: &mut Session,
    token: &str,
    seller: &str,
    store: &str,
    info: &Value,
) -> Result<(), String> {
    let body = json!({
        "user_id": seller,
        "store_id": store,
        "book_info": info,
        "stock_level": INITIAL_STOCK,
    });
    s.require(Endpoint::AddBook, Some(token), &body).map(drop)
}

/// A synthetic book as the `book_info` of `/seller/add_book`.
fn book_info(b: &NewBook) -> Value {
    json!({
        "id": b.id,
        "title": b.title,
        "price": b.price,
        "author": b.author,
        "publisher": b.publisher,
        "pub_year": b.pub_year,
        "pages": b.pages,
        "binding": b.binding,
        "isbn": b.isbn,
        "currency_unit": b.currency_unit,
        "author_intro": b.author_intro,
        "book_intro": b.book_intro,
        "content": b.content,
        "tags": b.tags,
    })
}

/// An error describing the first failure `recorder` saw, if any.
fn first_failure(recorder: &Recorder) -> Result<(), String> {
    match recorder.failures().first() {
        None => Ok(()),
        Some(f) => Err(format!(
            "preparing the data: {} answered {}: {}",
            f.endpoint, f.status, f.example
        )),
    }
}
