//! `GET /books/{book_id}` and `GET /books/{book_id}/pictures/{n}`: a book's
//! page as JSON and its pictures as images, for a browser to open directly.
//!
//! The book id is one percent-encoded path segment, so any id (even one
//! holding `/` or `?`) has a URL.

use serde::Serialize;

use super::json::{self, Reply};
use super::search::OfferJson;
use super::Input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::catalog::{self, BookView};

/// The book page lists at most this many stores, cheapest first;
/// `store_count` says how many sell the book.
pub const PAGE_OFFERS: usize = 100;

#[derive(Serialize)]
struct BookReply {
    message: &'static str,
    book: BookJson,
    stores: Vec<OfferJson>,
    store_count: i64,
}

/// The description in the shape of `book_info`, with picture URLs in place
/// of the pictures.
#[derive(Serialize)]
struct BookJson {
    id: String,
    title: String,
    author: Option<String>,
    publisher: Option<String>,
    original_title: Option<String>,
    translator: Option<String>,
    pub_year: Option<String>,
    pages: Option<i64>,
    binding: Option<String>,
    isbn: Option<String>,
    currency_unit: Option<String>,
    author_intro: Option<String>,
    book_intro: Option<String>,
    content: Option<String>,
    tags: Vec<String>,
    pictures: Vec<String>,
}

/// What a path under `/books/` names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Book(String),
    Picture(String, i64),
}

/// `GET /books/...`: the book page or one picture; 404 when the book or the
/// picture does not exist.
pub fn get(app: &App, input: &Input) -> Result<Reply> {
    match target(input.path).ok_or(Error::NotFound)? {
        Target::Book(id) => book_page(app, &id),
        Target::Picture(id, n) => picture(app, &id, n),
    }
}

fn book_page(app: &App, book_id: &str) -> Result<Reply> {
    let (book, (offers, store_count)) = app.db.read(|c| {
        let (rowid, book) = catalog::book(c, book_id)?.ok_or(Error::NotFound)?;
        Ok((book, catalog::offers(c, rowid, None, PAGE_OFFERS)?))
    })?;
    json::json(&BookReply {
        message: "ok",
        book: book_json(book),
        stores: offers.into_iter().map(OfferJson::from).collect(),
        store_count,
    })
}

fn picture(app: &App, book_id: &str, n: i64) -> Result<Reply> {
    let picture = app
        .db
        .read(|c| catalog::picture(c, book_id, n))?
        .ok_or(Error::NotFound)?;
    Ok(Reply {
        status: 200,
        content_type: picture.mime,
        body: picture.bytes.into(),
    })
}

fn book_json(b: BookView) -> BookJson {
    let base = format!("/books/{}/pictures", encode(&b.book_id));
    BookJson {
        pictures: (0..b.pictures).map(|n| format!("{base}/{n}")).collect(),
        id: b.book_id,
        title: b.title,
        author: b.author,
        publisher: b.publisher,
        original_title: b.original_title,
        translator: b.translator,
        pub_year: b.pub_year,
        pages: b.pages,
        binding: b.binding,
        isbn: b.isbn,
        currency_unit: b.currency_unit,
        author_intro: b.author_intro,
        book_intro: b.book_intro,
        content: b.content,
        tags: b.tags,
    }
}

/// Reads `/books/{id}` or `/books/{id}/pictures/{n}`.
fn target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/books/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts[..] {
        [id] if !id.is_empty() => Some(Target::Book(decode(id)?)),
        [id, "pictures", n] if !id.is_empty() => {
            let n = (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())??;
            Some(Target::Picture(decode(id)?, n))
        }
        _ => None,
    }
}

/// Percent-decodes a path segment; `None` if it is not valid UTF-8 or has a
/// broken escape.
fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_and_picture_paths_are_read_with_encoded_ids() {
        assert_eq!(target("/books/123"), Some(Target::Book("123".into())));
        assert_eq!(
            target("/books/a%2Fb%20c/pictures/2"),
            Some(Target::Picture("a/b c".into(), 2))
        );
        assert_eq!(
            target(&format!("/books/{}", encode("三国/演义?"))),
            Some(Target::Book("三国/演义?".into()))
        );
    }

    #[test]
    fn other_paths_under_books_name_nothing() {
        for path in [
            "/books/",
            "/books//pictures/0",
            "/books/1/pictures/",
            "/books/1/pictures/-1",
            "/books/1/pictures/x",
            "/books/1/pictures/99999999999999999999",
            "/books/1/covers/0",
            "/books/%zz",
            "/books/%ff",
        ] {
            assert_eq!(target(path), None, "{path}");
        }
    }
}
