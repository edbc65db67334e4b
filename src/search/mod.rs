//! Full-text search of the catalog.
//!
//! The text of every book is segmented here ([`segment`]) and stored in the
//! contentless FTS5 table `book_text`, whose rowid is the book's
//! `book_rowid`. [`index::index_book`] runs inside the transaction that adds
//! the book, so a book is found the moment it is listed. [`find::find`] turns
//! a keyword into an FTS5 query of quoted phrases only ([`query`]), so no
//! user text is ever read as query syntax, then ranks, pages and describes
//! the matches; [`cache`] keeps the ranking of recent keywords.

pub mod cache;
pub mod excerpt;
pub mod find;
pub mod index;
pub mod query;
pub mod segment;

pub use cache::Cache;
pub use find::{find, Found, Hit, Page};
pub use query::{Field, Query};
