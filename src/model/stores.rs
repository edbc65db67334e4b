//! Stores and what they list: creating a store, listing a book in it, and
//! changing its stock.
//!
//! A book id names one catalog entry across the whole site. The first store
//! to list a book id writes its description and pictures; stores listing the
//! same id later add only their own price and stock, and the description
//! they send is not used.

use rusqlite::{params, Connection, OptionalExtension};

use super::ledger::{self, Stock};
use super::types::NewBook;
use super::{optional, orders};
use crate::error::{Error, Result};
use crate::search;

/// Creates an empty store owned by `owner_id`.
pub fn create_store(conn: &Connection, owner_id: &str, store_id: &str, now: i64) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO stores (store_id, owner_id, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (store_id) DO NOTHING",
        )?
        .execute(params![store_id, owner_id, now])?;
    if inserted == 0 {
        return Err(Error::StoreExists);
    }
    Ok(())
}

/// Fails with 513 if the store does not exist, 401 if `user_id` does not own it.
pub fn require_owner(conn: &Connection, user_id: &str, store_id: &str) -> Result<()> {
    match store_owner(conn, store_id)? {
        None => Err(Error::NoSuchStore),
        Some(owner) if owner != user_id => Err(Error::Unauthorized),
        Some(_) => Ok(()),
    }
}

/// 401 if the store exists and belongs to someone else; a missing store is
/// left for the operation to report (513), since bad values are decided
/// between the two.
pub fn refuse_others_store(conn: &Connection, user_id: &str, store_id: &str) -> Result<()> {
    match store_owner(conn, store_id)? {
        Some(owner) if owner != user_id => Err(Error::Unauthorized),
        _ => Ok(()),
    }
}

/// The owner of a store that still trades: one whose owner's account is
/// not closed. A closed account's stores take no orders and are not shown
/// as selling anything.
pub fn open_store_owner(conn: &Connection, store_id: &str) -> Result<Option<String>> {
    optional(
        conn,
        "SELECT s.owner_id FROM stores s JOIN users u ON u.user_id = s.owner_id
         WHERE s.store_id = ?1 AND u.closed_at IS NULL",
        [store_id],
        |r| r.get(0),
    )
}

/// The owner of a store, if the store exists.
pub fn store_owner(conn: &Connection, store_id: &str) -> Result<Option<String>> {
    optional(
        conn,
        "SELECT owner_id FROM stores WHERE store_id = ?1",
        [store_id],
        |r| r.get(0),
    )
}

/// The internal row id of a catalog book.
pub fn book_rowid(conn: &Connection, book_id: &str) -> Result<Option<i64>> {
    optional(
        conn,
        "SELECT book_rowid FROM books WHERE book_id = ?1",
        [book_id],
        |r| r.get(0),
    )
}

/// Lists `book` in the seller's store with its price and initial stock,
/// adding it to the catalog if its id is new. Returns the book's row id.
pub fn add_book(
    conn: &Connection,
    user_id: &str,
    store_id: &str,
    book: &NewBook,
    stock: i64,
    now: i64,
) -> Result<i64> {
    require_owner(conn, user_id, store_id)?;
    let rowid = match book_rowid(conn, &book.id)? {
        Some(rowid) if listing(conn, store_id, rowid)?.is_some() => {
            return Err(Error::BookExists(book.id.clone()))
        }
        Some(rowid) => rowid,
        None => insert_book(conn, book)?,
    };

    conn.prepare_cached(
        "INSERT INTO listings (store_id, book_rowid, price, stock) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![store_id, rowid, book.price, stock])?;
    ledger::stock(conn, store_id, rowid, Stock::Initial, stock, now)?;
    search::index::catalog_changed(conn)?;
    Ok(rowid)
}

/// Changes the stock of a listed book by `delta` (negative to remove).
/// 517 if that would go below zero; 523 if the stock plus the copies held by
/// open orders would no longer fit in 64 bits.
pub fn add_stock_level(
    conn: &Connection,
    user_id: &str,
    store_id: &str,
    book_id: &str,
    delta: i64,
    now: i64,
) -> Result<()> {
    require_owner(conn, user_id, store_id)?;
    let Listed {
        book_rowid: rowid,
        stock,
        ..
    } = listed(conn, store_id, book_id)?;

    let new_stock = stock
        .checked_add(delta)
        .ok_or_else(|| Error::invalid("add_stock_level would overflow the stock level"))?;
    if new_stock < 0 {
        return Err(Error::LowStock(book_id.to_string()));
    }
    // Copies in open orders come back if those are cancelled, and a cancel
    // cannot be refused: the stock must keep room for them.
    if delta > 0 {
        let out = i128::from(orders::copies_out(conn, store_id, rowid)?);
        if i128::from(new_stock) + out > i128::from(i64::MAX) {
            return Err(Error::invalid(
                "add_stock_level would leave no room for the copies in open orders",
            ));
        }
    }
    conn.prepare_cached("UPDATE listings SET stock = ?3 WHERE store_id = ?1 AND book_rowid = ?2")?
        .execute(params![store_id, rowid, new_stock])?;
    ledger::stock(conn, store_id, rowid, Stock::Added, delta, now)
}

/// A listed book as orders and stock changes need it.
#[derive(Clone, Copy, Debug)]
pub struct Listed {
    pub book_rowid: i64,
    pub price: i64,
    pub stock: i64,
}

/// The book with id `book_id` as the store lists it; 515 if it does not.
pub fn listed(conn: &Connection, store_id: &str, book_id: &str) -> Result<Listed> {
    let mut found = listed_books(conn, store_id, [book_id])?;
    Ok(found.pop().expect("one book asked for, one found"))
}

/// The books with ids `book_ids` as the store lists them, in that order;
/// 515 for the first it does not. One lookup for both the catalog row and
/// the listing, with one statement for all the books of an order.
pub fn listed_books<'a>(
    conn: &Connection,
    store_id: &str,
    book_ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Listed>> {
    let mut find = conn.prepare_cached(
        "SELECT b.book_rowid, l.price, l.stock FROM books b
         JOIN listings l ON l.store_id = ?1 AND l.book_rowid = b.book_rowid
         WHERE b.book_id = ?2",
    )?;
    book_ids
        .into_iter()
        .map(|book_id| {
            find.query_row(params![store_id, book_id], |r| {
                Ok(Listed {
                    book_rowid: r.get(0)?,
                    price: r.get(1)?,
                    stock: r.get(2)?,
                })
            })
            .optional()?
            .ok_or_else(|| Error::NoSuchBook(book_id.to_string()))
        })
        .collect()
}

/// The price and stock of a book in a store, if the store lists it.
pub fn listing(conn: &Connection, store_id: &str, book_rowid: i64) -> Result<Option<(i64, i64)>> {
    optional(
        conn,
        "SELECT price, stock FROM listings WHERE store_id = ?1 AND book_rowid = ?2",
        params![store_id, book_rowid],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Writes a new catalog entry with its pictures and its full-text index
/// entry; returns its row id.
fn insert_book(conn: &Connection, b: &NewBook) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO books (book_id, title, author, publisher, original_title, translator,
             pub_year, pages, binding, isbn, currency_unit, author_intro, book_intro,
             content, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        b.id,
        b.title,
        b.author,
        b.publisher,
        b.original_title,
        b.translator,
        b.pub_year,
        b.pages,
        b.binding,
        b.isbn,
        b.currency_unit,
        b.author_intro,
        b.book_intro,
        b.content,
        b.tags.join("\n"),
    ])?;
    let rowid = conn.last_insert_rowid();
    search::index::index_book(conn, rowid, b)?;

    let mut insert = conn.prepare_cached(
        "INSERT INTO pictures (book_rowid, position, mime, bytes) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (position, bytes) in b.pictures.iter().enumerate() {
        let mime = image_mime(bytes).unwrap_or(NOT_AN_IMAGE);
        insert.execute(params![rowid, position as i64, mime, bytes])?;
    }
    Ok(rowid)
}

/// The media type of stored picture bytes that are not of a known image
/// format. Sellers and imports can no longer store such bytes, but files
/// written before that rule may hold them.
pub const NOT_AN_IMAGE: &str = "application/octet-stream";

/// The media type of an image, read from its first bytes; `None` if they
/// are not of an image format a browser shows.
pub fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    Some(match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => "image/png",
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'B', b'M', ..] => "image/bmp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::image_mime;

    #[test]
    fn image_types_come_from_the_bytes() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        assert_eq!(image_mime(&jpeg), Some("image/jpeg"));
        assert_eq!(
            image_mime(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(image_mime(b"GIF89a\x01\x00"), Some("image/gif"));
        assert_eq!(image_mime(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_mime(b"BM\x1e\0"), Some("image/bmp"));
        assert_eq!(image_mime(b"hello"), None);
        assert_eq!(image_mime(b""), None);
    }
}
