//! The demo data of `serve --demo`: the project's own catalog from
//! `fixtures/`, a seller with one store listing every book, and a buyer with
//! funds. It is compiled into the binary, so `--demo` works from any
//! directory.

use serde::Deserialize;

use crate::api::seller::{new_book, BookInfo};
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{accounts, orders, stores};

/// The demo catalog: a JSON array of `book_info` objects.
pub const BOOKS: &str = include_str!("../fixtures/books.json");
/// The demo accounts and store.
pub const ACCOUNTS: &str = include_str!("../fixtures/demo.json");

#[derive(Deserialize)]
struct Accounts {
    seller: Account,
    store: Store,
    buyer: Buyer,
    stock_level: i64,
}

#[derive(Deserialize)]
struct Account {
    user_id: String,
    password: String,
}

#[derive(Deserialize)]
struct Store {
    store_id: String,
}

#[derive(Deserialize)]
struct Buyer {
    user_id: String,
    password: String,
    funds: i64,
}

/// Every book of the demo catalog, as `book_info` objects.
pub fn books() -> Result<Vec<BookInfo>> {
    serde_json::from_str(BOOKS).map_err(|e| Error::Internal(format!("fixtures/books.json: {e}")))
}

/// Loads the demo data unless the demo seller already exists. Returns the
/// number of books listed (0 when the data was there already).
pub fn load(app: &App) -> Result<usize> {
    let demo: Accounts = serde_json::from_str(ACCOUNTS)
        .map_err(|e| Error::Internal(format!("fixtures/demo.json: {e}")))?;
    let books = books()?
        .into_iter()
        .map(new_book)
        .collect::<Result<Vec<_>>>()?;
    let seller_hash = app.passwords.hash(&demo.seller.password)?;
    let buyer_hash = app.passwords.hash(&demo.buyer.password)?;

    let now = app.now();
    app.db.write(|tx| {
        if accounts::stored_hash(tx, &demo.seller.user_id)?.is_some() {
            return Ok(0);
        }
        accounts::register(tx, &demo.seller.user_id, &seller_hash, now)?;
        accounts::register(tx, &demo.buyer.user_id, &buyer_hash, now)?;
        orders::add_funds(tx, &demo.buyer.user_id, &buyer_hash, demo.buyer.funds, now)?;
        stores::create_store(tx, &demo.seller.user_id, &demo.store.store_id, now)?;
        for book in &books {
            let (seller, store) = (&demo.seller.user_id, &demo.store.store_id);
            stores::add_book(tx, seller, store, book, demo.stock_level, now)?;
        }
        Ok(books.len())
    })
}
