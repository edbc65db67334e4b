//! The HTTP API: one module per area of the contract.
//!
//! A handler decodes and validates its request, calls the rules inside one
//! transaction, and encodes the answer. Slow or lock-free work (decoding,
//! password hashing) happens before the transaction starts. This module maps
//! a method and path to its handler; [`handle`] never fails, because every
//! error becomes the contract's code with a JSON message.

pub mod auth;
pub mod books;
pub mod buyer;
pub mod histories;
pub mod json;
mod orders_json;
pub mod search;
pub mod seller;
pub mod spare;
pub mod testing;

use crate::app::App;
use crate::error::{log_cause, Error, Result};
use crate::model::accounts::{token_hash, TokenHash};
pub use json::Reply;

/// The parts of a request the handlers read.
#[derive(Debug)]
pub struct Input<'a> {
    pub method: &'a str,
    /// The path without its query string.
    pub path: &'a str,
    /// The query string, without the `?`, if any.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The `token` header.
    pub token: Option<&'a str>,
}

impl Input<'_> {
    /// The hash of the `token` header; 401 if there is none.
    pub fn token(&self) -> Result<TokenHash> {
        self.token.map(token_hash).ok_or(Error::Unauthorized)
    }
}

type Handler = fn(&App, &Input) -> Result<Reply>;

/// Every path, its method and its handler. A path ending in `*` stands for
/// every longer path that starts with what comes before the `*`; the
/// handler reads the rest.
const ROUTES: &[(&str, &str, Handler)] = &[
    ("/auth/register", "POST", auth::register),
    ("/auth/unregister", "POST", auth::unregister),
    ("/auth/login", "POST", auth::login),
    ("/auth/logout", "POST", auth::logout),
    ("/auth/password", "POST", auth::password),
    ("/seller/create_store", "POST", seller::create_store),
    ("/seller/add_book", "POST", seller::add_book),
    ("/seller/add_stock_level", "POST", seller::add_stock_level),
    ("/seller/ship_order", "POST", seller::ship_order),
    ("/seller/query_orders", "POST", seller::query_orders),
    ("/buyer/new_order", "POST", buyer::new_order),
    ("/buyer/payment", "POST", buyer::payment),
    ("/buyer/add_funds", "POST", buyer::add_funds),
    ("/buyer/query_orders", "POST", buyer::query_orders),
    ("/buyer/cancel_order", "POST", buyer::cancel_order),
    ("/buyer/receive_order", "POST", buyer::receive_order),
    ("/search/books", "POST", search::books),
    ("/books/*", "GET", books::get),
    ("/health", "GET", health),
];

/// Paths that exist only on a server started with `--test-clock`. Without
/// the flag they are unknown, so every method answers 404 and nothing
/// reveals that they could exist.
const TEST_ROUTES: &[(&str, &str, Handler)] =
    &[("/test/advance_clock", "POST", testing::advance_clock)];

/// Answers one request.
pub fn handle(app: &App, input: &Input) -> Reply {
    match route(app, input).and_then(|handler| handler(app, input)) {
        Ok(reply) => reply,
        Err(e) => {
            if e.is_internal() {
                eprintln!("error: {} {}: {}", input.method, input.path, log_cause(&e));
            }
            json::error(&e)
        }
    }
}

/// Finds the handler: 404 for an unknown path, 405 for a known path with
/// another method.
fn route(app: &App, input: &Input) -> Result<Handler> {
    let test_routes = if app.config.test_clock {
        TEST_ROUTES
    } else {
        &[]
    };
    let mut known_path = false;
    for &(path, method, handler) in ROUTES.iter().chain(test_routes) {
        if matches(path, input.path) {
            if method == input.method {
                return Ok(handler);
            }
            known_path = true;
        }
    }
    Err(if known_path {
        Error::MethodNotAllowed
    } else {
        Error::NotFound
    })
}

/// Whether a route's path names `path`.
fn matches(route: &str, path: &str) -> bool {
    match route.strip_suffix('*') {
        Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
        None => route == path,
    }
}

/// `GET /health`: the server is up. The cheapest request there is, used by
/// the benchmark as the floor the others are compared with.
fn health(_: &App, _: &Input) -> Result<Reply> {
    Ok(json::ok())
}
