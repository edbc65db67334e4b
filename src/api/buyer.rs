//! `/buyer`: placing, paying, cancelling and receiving orders, funds, and the
//! buyer's order history.

use serde::{Deserialize, Serialize};

use super::auth::with_password;
use super::json::{self, decode, int_or_digits, objects, Reply};
use super::orders_json::Paging;
use super::Input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::accounts::authenticate;
use crate::model::history::Owner;
use crate::model::orders;
use crate::model::types::{check_id, Delta, OrderLine, Quantity};

/// The most lines one order may have.
pub const MAX_ORDER_LINES: usize = 1000;

#[derive(Deserialize)]
struct NewOrder {
    user_id: String,
    store_id: String,
    #[serde(deserialize_with = "objects")]
    books: Vec<BookCount>,
}

#[derive(Deserialize)]
#[serde(expecting = r#"an order line, an object {"id": ..., "count": ...}"#)]
struct BookCount {
    id: String,
    #[serde(deserialize_with = "int_or_digits")]
    count: i64,
}

#[derive(Deserialize)]
struct Payment {
    user_id: String,
    order_id: String,
    password: String,
}

#[derive(Deserialize)]
struct AddFunds {
    user_id: String,
    password: String,
    add_value: i64,
}

#[derive(Deserialize)]
struct OrderRequest {
    user_id: String,
    order_id: String,
}

#[derive(Deserialize)]
struct HistoryRequest {
    user_id: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Serialize)]
struct NewOrderReply {
    message: &'static str,
    order_id: String,
}

#[derive(Serialize)]
struct FundsReply {
    message: &'static str,
    balance: i64,
}

/// `/buyer/new_order`: takes the stock of every line or of none.
pub fn new_order(app: &App, input: &Input) -> Result<Reply> {
    let req: NewOrder = decode(input.body)?;
    let token = input.token()?;
    // Checked after the token: authorization is decided first.
    let lines = order_lines(req.books);

    let (now, timeout) = (app.now(), app.config.order_timeout);
    let order_id = app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        check_id("store_id", &req.store_id)?;
        orders::new_order(tx, &req.user_id, &req.store_id, lines?, now, timeout)
    })?;
    json::json(&NewOrderReply {
        message: "ok",
        order_id,
    })
}

/// `/buyer/payment`: pays an order with the buyer's password.
pub fn payment(app: &App, input: &Input) -> Result<Reply> {
    let req: Payment = decode(input.body)?;

    let now = app.now();
    with_password(app, &req.user_id, &req.password, |tx, verified| {
        orders::pay(tx, &req.user_id, verified, &req.order_id, now)
    })?;
    Ok(json::ok())
}

/// `/buyer/add_funds`: a positive value deposits, a negative one withdraws.
pub fn add_funds(app: &App, input: &Input) -> Result<Reply> {
    let req: AddFunds = decode(input.body)?;
    let now = app.now();
    let balance = with_password(app, &req.user_id, &req.password, |tx, verified| {
        // Checked after the password: authorization is decided first.
        let delta = Delta::new("add_value", req.add_value)?;
        orders::add_funds(tx, &req.user_id, verified, delta.get(), now)
    })?;
    json::json(&FundsReply {
        message: "ok",
        balance,
    })
}

/// `/buyer/query_orders`: the buyer's orders, newest first, as a bare array.
pub fn query_orders(app: &App, input: &Input) -> Result<Reply> {
    let req: HistoryRequest = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    let owner = Owner::Buyer(&req.user_id);
    let body = app.histories.list(&app.db, owner, now, |c| {
        authenticate(c, &req.user_id, &token, now)?;
        req.paging.query()
    })?;
    Ok(json::body(body))
}

/// `/buyer/cancel_order`: cancels an unpaid or paid, unshipped order.
pub fn cancel_order(app: &App, input: &Input) -> Result<Reply> {
    let req: OrderRequest = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        orders::cancel(tx, &req.user_id, &req.order_id, now)
    })?;
    Ok(json::ok())
}

/// `/buyer/receive_order`: confirms receipt; the seller is paid.
pub fn receive_order(app: &App, input: &Input) -> Result<Reply> {
    let req: OrderRequest = decode(input.body)?;
    let token = input.token()?;

    let now = app.now();
    app.db.write(|tx| {
        authenticate(tx, &req.user_id, &token, now)?;
        orders::receive(tx, &req.user_id, &req.order_id, now)
    })?;
    Ok(json::ok())
}

fn order_lines(books: Vec<BookCount>) -> Result<Vec<OrderLine>> {
    if books.is_empty() {
        return Err(Error::invalid("books is empty"));
    }
    if books.len() > MAX_ORDER_LINES {
        return Err(Error::invalid(format!(
            "an order has at most {MAX_ORDER_LINES} lines"
        )));
    }
    books
        .into_iter()
        .map(|b| {
            check_id("books.id", &b.id)?;
            Ok(OrderLine {
                count: Quantity::new(b.count)?,
                book_id: b.id,
            })
        })
        .collect()
}
