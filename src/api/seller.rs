//! `/seller`: stores, their books and stock, and the orders they receive.
//! Every endpoint needs the `token` header of the seller.

use base64::Engine;
use serde::Deserialize;

use super::json::{self, decode, int_or_digits, object, Reply};
use super::orders_json::Paging;
use super::Input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::accounts::authenticate;
use crate::model::history::Owner;
use crate::model::types::{check_id, Delta, NewBook, NonNegative};
use crate::model::{orders, stores};

#[derive(Deserialize)]
struct StoreRequest {
    user_id: String,
    store_id: String,
}

#[derive(Deserialize)]
struct StoreQuery {
    user_id: String,
    store_id: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct AddBook {
    user_id: String,
    store_id: String,
    #[serde(deserialize_with = "object")]
    book_info: BookInfo,
    #[serde(deserialize_with = "int_or_digits")]
    stock_level: i64,
}

/// `book_info` as clients send it; optional fields are often `null`.
#[derive(Deserialize)]
#[serde(expecting = "book_info, an object of the book's fields")]
pub struct BookInfo {
    pub id: String,
    pub title: String,
    pub price: i64,
    pub author: Option<String>,
    pub publisher: Option<String>,
    pub original_title: Option<String>,
    pub translator: Option<String>,
    pub pub_year: Option<String>,
    pub pages: Option<i64>,
    pub binding: Option<String>,
    pub isbn: Option<String>,
    pub currency_unit: Option<String>,
    pub author_intro: Option<String>,
    pub book_intro: Option<String>,
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
    pub pictures: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct AddStock {
    user_id: String,
    store_id: String,
    book_id: String,
    #[serde(deserialize_with = "int_or_digits")]
    add_stock_level: i64,
}

#[derive(Deserialize)]
struct OrderRequest {
    user_id: String,
    order_id: String,
}

/// `/seller/create_store`: 514 if the store id is taken.
pub fn create_store(app: &App, input: &Input) -> Result<Reply> {
    let req: StoreRequest = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        check_id("store_id", &req.store_id)?;
        stores::create_store(tx, &req.user_id, &req.store_id, now)
    })?;
    Ok(json::ok())
}

/// `/seller/add_book`: lists a book in the seller's store.
pub fn add_book(app: &App, input: &Input) -> Result<Reply> {
    let req: AddBook = decode(input.body)?;
    let token = input.token()?;
    // Checked after the token: authorization is decided first.
    let stock = NonNegative::new("stock_level", req.stock_level);
    let book = new_book(req.book_info);

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        stores::refuse_others_store(tx, &req.user_id, &req.store_id)?;
        check_id("store_id", &req.store_id)?;
        let (stock, book) = (stock?, book?);
        stores::add_book(tx, &req.user_id, &req.store_id, &book, stock.get(), now)
    })?;
    Ok(json::ok())
}

/// `/seller/add_stock_level`: changes stock by a non-zero amount; 517 if it
/// would go below zero.
pub fn add_stock_level(app: &App, input: &Input) -> Result<Reply> {
    let req: AddStock = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        stores::refuse_others_store(tx, &req.user_id, &req.store_id)?;
        check_id("store_id", &req.store_id)?;
        check_id("book_id", &req.book_id)?;
        let delta = Delta::new("add_stock_level", req.add_stock_level)?;
        stores::add_stock_level(
            tx,
            &req.user_id,
            &req.store_id,
            &req.book_id,
            delta.get(),
            now,
        )
    })?;
    Ok(json::ok())
}

/// `/seller/ship_order`: the store's owner ships a paid order.
pub fn ship_order(app: &App, input: &Input) -> Result<Reply> {
    let req: OrderRequest = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        orders::ship(tx, &req.user_id, &req.order_id, now)
    })?;
    Ok(json::ok())
}

/// `/seller/query_orders`: the orders of one of the seller's stores, newest
/// first, each with its `buyer_id`.
pub fn query_orders(app: &App, input: &Input) -> Result<Reply> {
    let req: StoreQuery = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    let owner = Owner::Store(&req.store_id);
    let body = app.histories.list(&app.db, owner, now, |c| {
        authenticate(c, &req.user_id, &token, now)?;
        stores::refuse_others_store(c, &req.user_id, &req.store_id)?;
        check_id("store_id", &req.store_id)?;
        let query = req.paging.query()?;
        stores::require_owner(c, &req.user_id, &req.store_id)?;
        Ok(query)
    })?;
    Ok(json::body(body))
}

/// Picture `i` of a `book_info`: base64 of an image in one of the formats
/// the picture URLs can name (JPEG, PNG, GIF, WebP, BMP).
fn picture(i: usize, base64_text: &str) -> Result<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .map_err(|e| Error::invalid(format!("book_info.pictures[{i}] is not base64: {e}")))?;
    if stores::image_mime(&bytes).is_none() {
        return Err(Error::invalid(format!(
            "book_info.pictures[{i}] is not a JPEG, PNG, GIF, WebP or BMP image"
        )));
    }
    Ok(bytes)
}

/// Validates `book_info` and decodes its pictures from base64.
pub fn new_book(info: BookInfo) -> Result<NewBook> {
    check_id("book_info.id", &info.id)?;
    let price = NonNegative::new("book_info.price", info.price)?.get();
    let pictures = info
        .pictures
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, p)| picture(i, p))
        .collect::<Result<Vec<_>>>()?;
    Ok(NewBook {
        id: info.id,
        title: info.title,
        price,
        author: info.author,
        publisher: info.publisher,
        original_title: info.original_title,
        translator: info.translator,
        pub_year: info.pub_year,
        pages: info.pages,
        binding: info.binding,
        isbn: info.isbn,
        currency_unit: info.currency_unit,
        author_intro: info.author_intro,
        book_intro: info.book_intro,
        content: info.content,
        tags: info.tags.unwrap_or_default(),
        pictures,
    })
}
