//! The books the core workload's stores list: the project's fixture catalog,
//! or a file in the course's format (an SQLite file with a `book` table).
//! Each book becomes the `book_info` object of `/seller/add_book`.

use std::path::Path;

use base64::Engine;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

use crate::demo;

/// The fixture catalog compiled into the binary.
pub fn fixture() -> Result<Vec<Value>, String> {
    serde_json::from_str(demo::BOOKS).map_err(|e| format!("the fixture catalog: {e}"))
}

/// Every book of a course-format catalog file, with its picture.
pub fn from_file(path: &Path) -> Result<Vec<Value>, String> {
    let describe = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(describe)?;
    let mut stmt = conn
        .prepare(
            "SELECT id, title, author, publisher, original_title, translator, pub_year,
                    pages, price, currency_unit, binding, isbn, author_intro, book_intro,
                    content, tags, picture
             FROM book ORDER BY id",
        )
        .map_err(describe)?;
    let books = stmt
        .query_map([], book_info)
        .map_err(describe)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(describe)?;
    if books.is_empty() {
        return Err(format!("{}: the book table is empty", path.display()));
    }
    Ok(books)
}

fn book_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let text = |i: usize| r.get::<_, Option<String>>(i);
    // Tags are stored one per line.
    let tags: Vec<String> = text(15)?
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let pictures: Vec<String> = r
        .get::<_, Option<Vec<u8>>>(16)?
        .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
        .into_iter()
        .collect();
    Ok(json!({
        "id": text(0)?,
        "title": text(1)?,
        "author": text(2)?,
        "publisher": text(3)?,
        "original_title": text(4)?,
        "translator": text(5)?,
        "pub_year": text(6)?,
        "pages": r.get::<_, Option<i64>>(7)?,
        "price": r.get::<_, Option<i64>>(8)?.unwrap_or(0),
        "currency_unit": text(9)?,
        "binding": text(10)?,
        "isbn": text(11)?,
        "author_intro": text(12)?,
        "book_intro": text(13)?,
        "content": text(14)?,
        "tags": tags,
        "pictures": pictures,
    }))
}

/// The book ids of a catalog, in its order.
pub fn ids(books: &[Value]) -> Vec<String> {
    books
        .iter()
        .filter_map(|b| b["id"].as_str().map(String::from))
        .collect()
}
