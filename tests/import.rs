//! `bookstore import`: a catalog file in the course's `book` table format
//! listed in a store.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bookstore::config::KdfArgs;
use bookstore::import::{import, ImportArgs, Imported};
use common::{tiny_jpeg, tiny_png, TestServer};
use rusqlite::params;
use serde_json::json;

/// The course's table, column for column.
const BOOK_TABLE: &str = "CREATE TABLE book (
    id TEXT, title TEXT, author TEXT, publisher TEXT, original_title TEXT,
    translator TEXT, pub_year TEXT, pages INT, price INT, currency_unit TEXT,
    binding TEXT, isbn TEXT, author_intro TEXT, book_intro TEXT, content TEXT,
    tags TEXT, picture BLOB)";

/// id, title, price, picture.
type Row<'a> = (Option<&'a str>, &'a str, Option<i64>, Option<Vec<u8>>);

/// Writes a catalog file of three good books (a PNG, a JPEG, no picture)
/// and two rows that are not books (no id; no price).
fn catalog_file(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(BOOK_TABLE).unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO book (id, title, author, pages, price, isbn, book_intro, content,
                               tags, picture)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .unwrap();
    let rows: [Row; 5] = [
        (Some("g1"), "山海经图说", Some(3800), Some(tiny_png())),
        (
            Some("g2"),
            "The Old Man and the Sea",
            Some(1500),
            Some(tiny_jpeg()),
        ),
        (Some("g3"), "唐诗三百首", Some(2000), None),
        (None, "没有编号", Some(100), None),
        (Some("g5"), "没有价格", None, None),
    ];
    for (id, title, price, picture) in rows {
        insert
            .execute(params![
                id,
                title,
                "佚名",
                "320",
                price,
                "9787000000001",
                format!("{title}的简介"),
                "第一章\n第二章",
                "经典\n古籍\n\n",
                picture
            ])
            .unwrap();
    }
    path
}

fn args(from: PathBuf, s: &TestServer, password: Option<&str>) -> ImportArgs {
    ImportArgs {
        from,
        seller: "importer".into(),
        store: "imported".into(),
        db: s.db_path(),
        password: password.map(String::from),
        kdf: KdfArgs::CHEAP,
        stock: 7,
    }
}

fn run(s: &TestServer, args: &ImportArgs) -> bookstore::Result<Imported> {
    let app = s.server().app();
    let hidden = indicatif::ProgressBar::hidden();
    import(&app.db, args, app.now(), &hidden)
}

#[test]
fn the_import_command_lists_every_readable_book_with_its_text_tags_and_picture() {
    let s = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = catalog_file(dir.path());

    let out = Command::new(env!("CARGO_BIN_EXE_bookstore"))
        .args([
            "import",
            "--from",
            file.to_str().unwrap(),
            "--seller",
            "importer",
        ])
        .args([
            "--store",
            "imported",
            "--password",
            "secret",
            "--stock",
            "7",
        ])
        .args(["--kdf-memory", "8", "--kdf-passes", "1"])
        .arg("--db")
        .arg(s.db_path())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("imported 3 books"), "{stderr}");
    assert!(stderr.contains("2 unreadable"), "{stderr}");
    assert_eq!(s.stock("imported", "g1"), 7);
    let page: serde_json::Value = serde_json::from_slice(&s.get("/books/g1").2).unwrap();
    assert_eq!(page["book"]["tags"], json!(["经典", "古籍"]));
    assert_eq!(page["book"]["pages"], 320);
    assert_eq!(
        page["stores"],
        json!([{"store_id": "imported", "price": 3800, "stock": 7}])
    );
    assert_eq!(s.get("/books/g1/pictures/0").2, tiny_png());
    assert_eq!(s.get("/books/g2/pictures/0").1, "image/jpeg");
    assert_eq!(s.get("/books/g3/pictures/0").0, 404);
    let found = s.post(
        "/search/books",
        json!({"keyword": "old man", "store_id": "imported"}),
    );
    assert_eq!(found.body["books"][0]["book_id"], "g2");
    let login = s.post(
        "/auth/login",
        json!({"user_id": "importer", "password": "secret", "terminal": "t"}),
    );
    assert_eq!(login.status, 200);
}

#[test]
fn importing_again_skips_the_books_the_store_already_lists() {
    let s = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let args = args(catalog_file(dir.path()), &s, Some("secret"));

    let first = run(&s, &args).unwrap();
    let second = run(&s, &args).unwrap();

    assert_eq!(
        (first.listed, first.already_listed, first.unreadable),
        (3, 0, 2)
    );
    assert_eq!((second.listed, second.already_listed), (0, 3));
    assert_eq!(s.stock("imported", "g2"), 7);
    assert_eq!(
        s.sql_i64("SELECT count(*) FROM books WHERE book_id LIKE ?1", "g%"),
        3
    );
}

#[test]
fn a_new_seller_needs_a_password_and_another_sellers_store_is_refused() {
    let s = TestServer::start();
    s.seller_with_store("owner", "imported", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = catalog_file(dir.path());

    let no_password = run(&s, &args(file.clone(), &s, None));
    let not_yours = run(&s, &args(file, &s, Some("secret")));

    assert!(no_password.is_err());
    assert!(not_yours.unwrap_err().to_string().contains("belongs to"));
    assert_eq!(
        s.sql_i64(
            "SELECT count(*) FROM listings WHERE store_id = ?1",
            "imported"
        ),
        0
    );
}

#[test]
fn a_file_without_a_book_table_is_refused_and_nothing_changes() {
    let s = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();

    let result = run(&s, &args(file, &s, Some("secret")));

    assert!(result.is_err());
    assert_eq!(
        s.sql_i64("SELECT count(*) FROM users WHERE user_id = ?1", "importer"),
        0
    );
}

#[test]
fn the_course_file_imports_in_well_under_a_second() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/book.db");
    if !path.exists() {
        println!("skipped: {} is not here", path.display());
        return;
    }
    let s = TestServer::start();
    s.seller_with_store("importer", "imported", &[]);

    let started = Instant::now();
    let done = run(&s, &args(path, &s, None)).unwrap();
    let took = started.elapsed();

    println!("imported {} books in {took:?}", done.listed);
    assert_eq!(done.listed, 100);
    assert!(took.as_millis() < 1000, "took {took:?}");
    assert_eq!(
        s.sql_i64(
            "SELECT count(*) FROM pictures WHERE mime = ?1",
            "image/jpeg"
        ),
        100
    );
}
