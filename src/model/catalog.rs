//! Reading the catalog: one book's description, its pictures, and the stores
//! that sell it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use rusqlite::{params, Connection};

use super::optional;
use super::stores::{image_mime, NOT_AN_IMAGE};
use crate::error::Result;

/// One store's offer of a book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub store_id: String,
    pub price: i64,
    pub stock: i64,
}

/// A book's description as stored, with the number of its pictures.
#[derive(Clone, Debug, Default)]
pub struct BookView {
    pub book_id: String,
    pub title: String,
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
    pub tags: Vec<String>,
    pub pictures: i64,
}

/// A stored picture: its media type, read from the bytes, and the bytes.
#[derive(Clone, Debug)]
pub struct Picture {
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// The stores selling a book, cheapest first (then by store id), at most
/// `limit` of them, and how many there are in all. With `store`, only that
/// store's offer, if it has one. Stores of closed accounts sell nothing and
/// are left out.
pub fn offers(
    conn: &Connection,
    book_rowid: i64,
    store: Option<&str>,
    limit: usize,
) -> Result<(Vec<Offer>, i64)> {
    let mut by_book = offers_of(conn, &[book_rowid], store, limit)?;
    Ok(by_book.remove(&book_rowid).unwrap_or_default())
}

/// [`offers`] for each of `books` (by rowid) that is sold, with one
/// statement for all of them: a page of search results would otherwise
/// start a statement per book, which costs more than reading its offers.
///
/// Every offer is read and the order is made here: an `ORDER BY ... LIMIT`
/// in SQL builds a temporary B-tree for each book (two fresh pages and an
/// insert per offer), and needs a second query to count past the limit.
/// Counting reads every offer anyway, so reading them all reads no more
/// rows.
pub fn offers_of(
    conn: &Connection,
    books: &[i64],
    store: Option<&str>,
    limit: usize,
) -> Result<HashMap<i64, (Vec<Offer>, i64)>> {
    let closed = closed_stores(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT l.book_rowid, l.store_id, l.price, l.stock FROM json_each(?1) AS j
         JOIN listings l ON l.book_rowid = j.value
         WHERE ?2 IS NULL OR l.store_id = ?2",
    )?;
    let mut by_book: HashMap<i64, (Vec<Offer>, i64)> = HashMap::with_capacity(books.len());
    let mut rows = stmt.query(params![json_list(books), store])?;
    while let Some(r) = rows.next()? {
        let store_id: String = r.get(1)?;
        if closed.contains(&store_id) {
            continue;
        }
        let offer = Offer {
            store_id,
            price: r.get(2)?,
            stock: r.get(3)?,
        };
        by_book.entry(r.get(0)?).or_default().0.push(offer);
    }
    for (offers, count) in by_book.values_mut() {
        *count = offers.len() as i64;
        offers.sort_unstable_by(|a, b| (a.price, &a.store_id).cmp(&(b.price, &b.store_id)));
        offers.truncate(limit);
    }
    Ok(by_book)
}

/// The stores of closed accounts, which sell nothing.
///
/// Asked once and set aside in Rust, not joined to every offer: closing an
/// account is rare, the index `users_closed` holds closed accounts alone,
/// so this reads next to nothing, where looking up each offer's store and
/// its owner took about half the time of a search result's offers.
fn closed_stores(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.store_id FROM users u
         JOIN stores s ON s.owner_id = u.user_id
         WHERE u.closed_at IS NOT NULL",
    )?;
    let stores = stmt.query_map([], |r| r.get(0))?;
    Ok(stores.collect::<rusqlite::Result<_>>()?)
}

/// Numbers as a JSON array, for `json_each`.
pub fn json_list(numbers: &[i64]) -> String {
    let mut list = String::with_capacity(2 + numbers.len() * 8);
    list.push('[');
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{n}"); // writing to a String cannot fail
    }
    list.push(']');
    list
}

/// The description of the book with id `book_id`, if there is one.
pub fn book(conn: &Connection, book_id: &str) -> Result<Option<(i64, BookView)>> {
    optional(
        conn,
        "SELECT book_rowid, book_id, title, author, publisher, original_title, translator,
                pub_year, pages, binding, isbn, currency_unit, author_intro, book_intro,
                content, tags,
                (SELECT count(*) FROM pictures p WHERE p.book_rowid = b.book_rowid)
         FROM books b WHERE book_id = ?1",
        [book_id],
        |r| {
            let view = BookView {
                book_id: r.get(1)?,
                title: r.get(2)?,
                author: r.get(3)?,
                publisher: r.get(4)?,
                original_title: r.get(5)?,
                translator: r.get(6)?,
                pub_year: r.get(7)?,
                pages: r.get(8)?,
                binding: r.get(9)?,
                isbn: r.get(10)?,
                currency_unit: r.get(11)?,
                author_intro: r.get(12)?,
                book_intro: r.get(13)?,
                content: r.get(14)?,
                tags: split_tags(&r.get::<_, String>(15)?),
                pictures: r.get(16)?,
            };
            Ok((r.get(0)?, view))
        },
    )
}

/// Picture number `position` (from 0) of the book with id `book_id`.
pub fn picture(conn: &Connection, book_id: &str, position: i64) -> Result<Option<Picture>> {
    optional(
        conn,
        "SELECT p.bytes FROM pictures p JOIN books b ON b.book_rowid = p.book_rowid
         WHERE b.book_id = ?1 AND p.position = ?2",
        params![book_id, position],
        |r| {
            let bytes: Vec<u8> = r.get(0)?;
            Ok(Picture {
                mime: image_mime(&bytes).unwrap_or(NOT_AN_IMAGE),
                bytes,
            })
        },
    )
}

/// The tags stored as one newline-separated text, as a list.
pub fn split_tags(joined: &str) -> Vec<String> {
    joined
        .split('\n')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_a_json_array() {
        assert_eq!(json_list(&[]), "[]");
        assert_eq!(json_list(&[7]), "[7]");
        assert_eq!(json_list(&[3, -1, i64::MAX]), "[3,-1,9223372036854775807]");
    }
}
