//! `bookstore import`: listing a whole catalog file in one store.
//!
//! The file is an SQLite database with a `book` table in the course format:
//! columns id, title, author, publisher, original_title, translator,
//! pub_year, pages, price (integer cents), currency_unit, binding, isbn,
//! author_intro, book_intro, content, tags (newline-separated) and picture
//! (one image as a BLOB). Each book goes through the same rule as
//! `/seller/add_book`, so it lands in the catalog, its pictures and the
//! search index exactly as if a seller had sent it.
//!
//! Books are written [`BATCH`] to a transaction: a large file does not hold
//! the write lock for long at a time (a server may be running on the same
//! file), and an interrupted import keeps the batches it committed. Running
//! it again skips the books the store already lists.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use crate::config::{KdfArgs, DEFAULT_DB};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::passwords::Passwords;
use crate::model::types::{check_id, check_password, NewBook};
use crate::model::{accounts, stores};

/// Books written per transaction.
pub const BATCH: usize = 500;
/// The stock each imported book starts with unless `--stock` says otherwise.
pub const DEFAULT_STOCK: i64 = 10;

/// The flags of `bookstore import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The catalog file to read (SQLite, with a `book` table).
    #[arg(long)]
    pub from: PathBuf,

    /// The seller who lists the books; created if missing (needs --password).
    #[arg(long)]
    pub seller: String,

    /// The store the books are listed in; created if missing.
    #[arg(long)]
    pub store: String,

    /// The bookstore database to import into.
    #[arg(long, env = "BOOKSTORE_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    /// Password of the seller, when the seller has to be created.
    #[arg(long, env = "BOOKSTORE_IMPORT_PASSWORD")]
    pub password: Option<String>,

    /// The cost of a new seller's password hash (as for `serve`).
    #[command(flatten)]
    pub kdf: KdfArgs,

    /// Stock level of each imported book.
    #[arg(long, default_value_t = DEFAULT_STOCK,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub stock: i64,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Books newly listed in the store.
    pub listed: usize,
    /// Books the store already listed, left as they were.
    pub already_listed: usize,
    /// Rows that could not be read as a book (no id, no title, no price).
    pub unreadable: usize,
}

/// Imports the file named in `args` into the database `db`, at time `now`.
/// `bar` is advanced once per row read.
pub fn import(db: &Db, args: &ImportArgs, now: i64, bar: &ProgressBar) -> Result<Imported> {
    check_id("--seller", &args.seller)?;
    check_id("--store", &args.store)?;
    let source = open_source(args)?;
    let rows: i64 = source.query_row("SELECT count(*) FROM book", [], |r| r.get(0))?;
    bar.set_length(rows as u64);
    prepare_store(db, args, now)?;

    let mut stmt = source.prepare(
        "SELECT id, title, author, publisher, original_title, translator, pub_year, pages,
                price, currency_unit, binding, isbn, author_intro, book_intro, content, tags,
                picture
         FROM book",
    )?;
    let mut rows = stmt.query([])?;
    let mut done = Imported::default();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        match book(row) {
            Some(book) => batch.push(book),
            None => done.unreadable += 1,
        }
        if batch.len() == BATCH {
            write_batch(db, args, &mut batch, now, &mut done)?;
        }
        bar.inc(1);
    }
    write_batch(db, args, &mut batch, now, &mut done)?;
    Ok(done)
}

/// A progress bar on standard error for `rows` rows; it draws nothing when
/// standard error is not a terminal.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} books {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn open_source(args: &ImportArgs) -> Result<Connection> {
    let cannot =
        |e: rusqlite::Error| Error::Internal(format!("cannot read {}: {e}", args.from.display()));
    if !args.from.is_file() {
        return Err(Error::Internal(format!(
            "{} is not a file",
            args.from.display()
        )));
    }
    let source = Connection::open_with_flags(&args.from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(cannot)?;
    source
        .query_row("SELECT 1 FROM book LIMIT 1", [], |_| Ok(()))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(()),
            e => Err(cannot(e)),
        })?;
    Ok(source)
}

/// Creates the seller and the store when they are missing. A store that
/// belongs to someone else is refused.
fn prepare_store(db: &Db, args: &ImportArgs, now: i64) -> Result<()> {
    let seller_exists = db
        .read(|c| accounts::stored_hash(c, &args.seller))?
        .is_some();
    let hash = match (&args.password, seller_exists) {
        (_, true) => None,
        (Some(pw), false) => {
            check_password("--password", pw)?;
            let passwords = Passwords::new(args.kdf.kdf_memory, args.kdf.kdf_passes)?;
            Some(passwords.hash(pw)?)
        }
        (None, false) => {
            return Err(Error::invalid(format!(
                "seller {:?} does not exist; give --password to create it",
                args.seller
            )))
        }
    };

    db.write(|tx| {
        if let Some(hash) = &hash {
            accounts::register(tx, &args.seller, hash, now)?;
        }
        match stores::store_owner(tx, &args.store)? {
            None => stores::create_store(tx, &args.seller, &args.store, now),
            Some(owner) if owner == args.seller => Ok(()),
            Some(owner) => Err(Error::invalid(format!(
                "store {:?} belongs to {owner:?}, not to {:?}",
                args.store, args.seller
            ))),
        }
    })
}

/// Lists the books of `batch` in one transaction and empties it.
fn write_batch(
    db: &Db,
    args: &ImportArgs,
    batch: &mut Vec<NewBook>,
    now: i64,
    done: &mut Imported,
) -> Result<()> {
    let (listed, already) = db.write(|tx| {
        let (mut listed, mut already) = (0, 0);
        for book in batch.iter() {
            if listed_in(tx, &args.store, &book.id)? {
                already += 1;
                continue;
            }
            stores::add_book(tx, &args.seller, &args.store, book, args.stock, now)?;
            listed += 1;
        }
        Ok((listed, already))
    })?;
    done.listed += listed;
    done.already_listed += already;
    batch.clear();
    Ok(())
}

fn listed_in(conn: &Connection, store: &str, book_id: &str) -> Result<bool> {
    Ok(match stores::book_rowid(conn, book_id)? {
        Some(rowid) => stores::listing(conn, store, rowid)?.is_some(),
        None => false,
    })
}

/// One row as a book, or `None` if it lacks a usable id, title or price.
/// Columns are read whatever their stored type, since SQLite does not
/// enforce the declared ones.
fn book(row: &Row) -> Option<NewBook> {
    let id = text(row, 0)?;
    check_id("id", &id).ok()?;
    let price = int(row, 8).filter(|p| *p >= 0)?;
    Some(NewBook {
        id,
        title: text(row, 1)?,
        price,
        author: text(row, 2),
        publisher: text(row, 3),
        original_title: text(row, 4),
        translator: text(row, 5),
        pub_year: text(row, 6),
        pages: int(row, 7),
        currency_unit: text(row, 9),
        binding: text(row, 10),
        isbn: text(row, 11),
        author_intro: text(row, 12),
        book_intro: text(row, 13),
        content: text(row, 14),
        tags: text(row, 15)
            .map(|t| crate::model::catalog::split_tags(&t))
            .unwrap_or_default(),
        pictures: picture(row, 16).into_iter().collect(),
    })
}

/// A column as non-empty text; numbers are written out.
fn text(row: &Row, i: usize) -> Option<String> {
    let text = match row.get_ref(i).ok()? {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Null | ValueRef::Blob(_) => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// A column as an integer: an integer, a whole real, or decimal digits.
fn int(row: &Row, i: usize) -> Option<i64> {
    match row.get_ref(i).ok()? {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(x) if x.fract() == 0.0 && x.abs() < 9e15 => Some(x as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A BLOB column holding an image; anything else is no picture, as a
/// seller could not have sent it either.
fn picture(row: &Row, i: usize) -> Option<Vec<u8>> {
    match row.get_ref(i).ok()? {
        ValueRef::Blob(b) if stores::image_mime(b).is_some() => Some(b.to_vec()),
        _ => None,
    }
}
