//! A bookstore API server: accounts, sellers and their stores, the catalog,
//! orders with payment and shipping, and search, served over HTTP from one
//! SQLite file.
//!
//! The layers, each depending only on the ones below it:
//!
//! - [`server`]: the transport (listener, workers, body limits, shutdown);
//! - [`api`]: one module per area of the contract, decoding requests and
//!   encoding answers;
//! - [`model`]: the bookstore's rules, one transaction per operation;
//! - [`db`]: the database file, its schema and its connections.
//!
//! The library exists so tests and the benchmark can start a server
//! in-process; `main.rs` is a thin command line over it.

pub mod api;
pub mod app;
pub mod bench;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod import;
pub mod model;
pub mod search;
pub mod server;

pub use app::App;
pub use config::Config;
pub use error::{Error, Result};
pub use server::Server;
