//! Answering a search: which books match, in what order, and what to show
//! of each on the requested page.
//!
//! # Cost and ranking
//!
//! Walking the index for a term costs tens of nanoseconds per matching book,
//! but scoring a match with `bm25()` costs close to a microsecond, and a
//! common keyword (小说, 中国) can match a third of a 100,000-book catalog.
//! So the order depends on how many books match:
//!
//! - up to [`RANK_LIMIT`] books: by `bm25()` with the field weights of
//!   [`WEIGHTS`] (a match in the title counts most);
//! - more: the books whose title matches first, then the others, each
//!   group in catalog order (the order books were first listed). Scoring
//!   them all would take tens of milliseconds per request.
//!
//! Ties are always broken by catalog order, so the order is total and pages
//! never overlap or skip. `total` is exact: the whole match list is read,
//! so the first search for a keyword costs about 0.1 µs per matching book
//! (about 10 ms for a character found in every one of 100,000 books);
//! [`Cache`] spares the repeats.
//!
//! Matches are read in rowid order and the store filter is applied here in
//! Rust: in SQL, FTS5 would re-run the whole query once per listing of the
//! store.

use std::collections::HashMap;

use rusqlite::{params, Connection, Row};

use super::cache::{generation, Cache};
use super::excerpt::excerpt;
use super::query::{Field, Query};
use crate::error::{Error, Result};
use crate::model::catalog::{self, split_tags, Offer};
use crate::model::optional_text;
use crate::model::stores::open_store_owner;

/// Matches up to this many are ranked by `bm25()` (about 1 ms of scoring).
pub const RANK_LIMIT: usize = 1000;
/// `bm25()` weights of the `book_text` columns: title, author, tags,
/// book_intro, content, isbn.
pub const WEIGHTS: &str = "10.0, 5.0, 4.0, 2.0, 1.0, 10.0";
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// The largest page size accepted.
pub const MAX_PAGE_SIZE: i64 = 100;
/// At most this many stores are listed with each book, cheapest first;
/// `store_count` says how many sell it.
pub const MAX_OFFERS: usize = 10;
/// Up to this many matches are checked against a store one by one; beyond
/// it the store's whole list is read and merged.
const LOOKUP_LIMIT: usize = 2000;

/// Which page of the results: `number` from 1, `size` from 1 to
/// [`MAX_PAGE_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    number: i64,
    size: i64,
}

impl Page {
    /// Validates `page` and `page_size` (523 when out of range); each has a
    /// default.
    pub fn new(number: Option<i64>, size: Option<i64>) -> Result<Page> {
        let number = number.unwrap_or(1);
        let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        if number < 1 {
            return Err(Error::invalid(format!(
                "page must be at least 1, got {number}"
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Error::invalid(format!(
                "page_size must be from 1 to {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        Ok(Page { number, size })
    }

    pub fn number(self) -> i64 {
        self.number
    }

    pub fn size(self) -> i64 {
        self.size
    }

    /// How many results come before this page (saturating: a page far past
    /// the end is simply empty).
    fn offset(self) -> usize {
        let offset = (self.number - 1).saturating_mul(self.size);
        usize::try_from(offset).unwrap_or(usize::MAX)
    }
}

/// One page of results.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// How many books match in all.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// One matching book.
#[derive(Clone, Debug)]
pub struct Hit {
    pub book_id: String,
    pub title: String,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub excerpt: String,
    /// The stores selling it (only the searched store, when scoped),
    /// cheapest first, at most [`MAX_OFFERS`].
    pub offers: Vec<Offer>,
    /// How many stores sell it (1 when scoped).
    pub store_count: i64,
}

/// Searches the catalog, or only the books `store` lists; 513 if that store
/// does not exist. Rankings are kept in `cache`.
pub fn find(
    conn: &Connection,
    cache: &Cache,
    query: &Query,
    store: Option<&str>,
    page: Page,
) -> Result<Found> {
    if let Some(store) = store {
        open_store_owner(conn, store)?.ok_or(Error::NoSuchStore)?;
    }
    let Some(expression) = query.expression() else {
        return Ok(Found::default());
    };

    let ranked = cache.ranked(generation(conn)?, store, &expression, || {
        rank(conn, query, &expression, store)
    })?;
    let shown: Vec<i64> = ranked
        .iter()
        .skip(page.offset())
        .take(page.size() as usize)
        .copied()
        .collect();
    let hits = hits(conn, &shown, query, store)?;
    Ok(Found {
        total: ranked.len(),
        hits,
    })
}

/// Every match (in `store`, if given), best first.
fn rank(
    conn: &Connection,
    query: &Query,
    expression: &str,
    store: Option<&str>,
) -> Result<Vec<i64>> {
    let mut matches = rowids(conn, expression)?;
    let scored = matches.len() <= RANK_LIMIT;
    if let Some(store) = store {
        matches = in_store(conn, store, matches)?;
    }
    if scored {
        return by_score(conn, expression, &matches);
    }
    if !query.searches(Field::Title) || query.fields() == [Field::Title] {
        return Ok(matches);
    }
    let in_title = rowids(
        conn,
        &query.expression_in(&[Field::Title]).unwrap_or_default(),
    )?;
    let (first, rest): (Vec<i64>, Vec<i64>) = matches
        .into_iter()
        .partition(|rowid| in_title.binary_search(rowid).is_ok());
    Ok([first, rest].concat())
}

/// The rowids matching `expression`, ascending.
fn rowids(conn: &Connection, expression: &str) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT rowid FROM book_text WHERE book_text MATCH ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([expression], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
}

/// `matches` (ascending) narrowed to the books `store` lists.
fn in_store(conn: &Connection, store: &str, matches: Vec<i64>) -> Result<Vec<i64>> {
    if matches.len() <= LOOKUP_LIMIT {
        let mut listed =
            conn.prepare_cached("SELECT 1 FROM listings WHERE store_id = ?1 AND book_rowid = ?2")?;
        let mut kept = Vec::new();
        for rowid in matches {
            if listed.exists(params![store, rowid])? {
                kept.push(rowid);
            }
        }
        return Ok(kept);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT book_rowid FROM listings WHERE store_id = ?1 ORDER BY book_rowid",
    )?;
    let listed = stmt
        .query_map([store], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(intersect(&matches, &listed))
}

/// The values in both ascending lists.
fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut i, mut j, mut both) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

/// `matches` (ascending, at most about [`RANK_LIMIT`]) ordered by `bm25()`.
fn by_score(conn: &Connection, expression: &str, matches: &[i64]) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT rowid FROM book_text WHERE book_text MATCH ?1
         ORDER BY bm25(book_text, {WEIGHTS}), rowid"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([expression], |r| r.get(0))?;
    let mut ranked = Vec::with_capacity(matches.len());
    for rowid in rows {
        let rowid: i64 = rowid?;
        if matches.binary_search(&rowid).is_ok() {
            ranked.push(rowid);
        }
    }
    Ok(ranked)
}

/// What the results show of the books `shown` (by rowid), in that order.
/// The books' rows are read with one statement for the whole page, and
/// their offers with another: starting a statement costs more than reading
/// a row.
fn hits(conn: &Connection, shown: &[i64], query: &Query, store: Option<&str>) -> Result<Vec<Hit>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.book_rowid, b.book_id, b.title, b.author, b.tags, b.book_intro,
                b.content, b.isbn
         FROM json_each(?1) AS j JOIN books b ON b.book_rowid = j.value",
    )?;
    let mut found: HashMap<i64, Hit> = HashMap::with_capacity(shown.len());
    let mut rows = stmt.query([catalog::json_list(shown)])?;
    while let Some(r) = rows.next()? {
        found.insert(r.get(0)?, hit(r, query)?);
    }
    let mut offers = catalog::offers_of(conn, shown, store, MAX_OFFERS)?;
    // Books are never removed, so every ranked book has its row.
    let hits = shown.iter().filter_map(|rowid| {
        let mut hit = found.remove(rowid)?;
        (hit.offers, hit.store_count) = offers.remove(rowid).unwrap_or_default();
        Some(hit)
    });
    Ok(hits.collect())
}

/// What a result shows of the book in row `r`, but its offers.
fn hit(r: &Row, query: &Query) -> rusqlite::Result<Hit> {
    // The texts are borrowed from the row. Title, author and tags are
    // shown, so they are read once here; the longer texts only as far as
    // the excerpt needs them.
    let title = optional_text(r, 2)?;
    let author = optional_text(r, 3)?;
    let tags = optional_text(r, 4)?;
    let text_of = |field| {
        if !query.searches(field) {
            return Ok(None);
        }
        match field {
            Field::Title => Ok(title),
            Field::Author => Ok(author),
            Field::Tags => Ok(tags),
            Field::BookIntro => optional_text(r, 5),
            Field::Content => optional_text(r, 6),
            Field::Isbn => optional_text(r, 7),
        }
    };
    Ok(Hit {
        book_id: r.get(1)?,
        title: title.unwrap_or_default().to_owned(),
        author: author.map(str::to_owned),
        tags: split_tags(tags.unwrap_or_default()),
        excerpt: excerpt(text_of, query.terms())?,
        offers: Vec::new(),
        store_count: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded_and_far_pages_are_empty_not_errors() {
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(None, Some(0)).is_err());
        assert!(Page::new(None, Some(MAX_PAGE_SIZE + 1)).is_err());
        let far = Page::new(Some(i64::MAX), Some(MAX_PAGE_SIZE)).unwrap();
        assert_eq!(far.offset(), usize::try_from(i64::MAX).unwrap());
        assert_eq!(Page::new(Some(3), Some(10)).unwrap().offset(), 20);
    }

    #[test]
    fn intersecting_keeps_common_values_in_order() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 4, 7, 9]), [3, 7]);
        assert!(intersect(&[], &[1]).is_empty());
    }
}
