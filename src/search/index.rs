//! Writing a book into the full-text index, and marking the catalog as
//! changed for the search cache.

use rusqlite::{params, Connection};

use super::segment::index_text;
use crate::error::Result;
use crate::model::types::NewBook;

/// Adds a new catalog book to `book_text` under its `book_rowid`. Runs in
/// the caller's transaction, so the book and its index entry are committed
/// together. Books are never changed or removed once written, so the
/// contentless table never needs the old text back.
pub fn index_book(conn: &Connection, rowid: i64, book: &NewBook) -> Result<()> {
    let field = |text: &Option<String>| index_text(text.as_deref().unwrap_or(""));
    conn.prepare_cached(
        "INSERT INTO book_text (rowid, title, author, tags, book_intro, content, isbn)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        rowid,
        index_text(&book.title),
        field(&book.author),
        index_text(&book.tags.join("\n")),
        field(&book.book_intro),
        field(&book.content),
        field(&book.isbn),
    ])?;
    Ok(())
}

/// Records that a store listed a book, so rankings kept by
/// [`Cache`](super::Cache) from before are not reused. Runs in the
/// caller's transaction.
pub fn catalog_changed(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE catalog_version SET version = version + 1 WHERE id = 0")?
        .execute([])?;
    Ok(())
}
