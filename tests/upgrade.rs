//! A file written by an older schema version is upgraded when a server
//! opens it, and everything in it reads and works as before.

mod common;

use std::path::Path;

use base64::Engine;
use bookstore::model::audit::audit_file;
use common::{book, tiny_jpeg, tiny_png, TestServer};
use rusqlite::Connection;
use serde_json::json;

/// The first schema version, as it was released.
const SCHEMA_V1: &str = include_str!("../fixtures/schema_v1.sql");

/// Rewrites the orders, their lines and the ledgers of a current file in
/// the first version's layout (orders stored in the order placed, not by
/// buyer; states and kinds checked with IN lists) and marks the file as
/// version 1, as if the first release had written it.
fn downgrade_to_v1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        // Renaming without rewriting the ledgers' references to `orders`.
        "PRAGMA foreign_keys = OFF;
         PRAGMA legacy_alter_table = ON;
         BEGIN;
         ALTER TABLE orders RENAME TO orders_now;
         ALTER TABLE money_ledger RENAME TO money_ledger_now;
         ALTER TABLE stock_ledger RENAME TO stock_ledger_now;
         DROP INDEX orders_by_store;
         DROP INDEX orders_unpaid_by_deadline;",
    )
    .unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    conn.execute_batch(
        "INSERT INTO orders (order_rowid, order_id, buyer_id, store_id, total_price, held,
                             status, created_at, expires_at, paid_at, shipped_at,
                             received_at, cancelled_at, cancel_reason)
         SELECT order_rowid, order_id, buyer_id, store_id, total_price, held,
                status, created_at, expires_at, paid_at, shipped_at,
                received_at, cancelled_at, cancel_reason
         FROM orders_now ORDER BY order_rowid;
         INSERT INTO order_lines (order_rowid, book_rowid, book_id, count, price)
         SELECT o.order_rowid, b.book_rowid, line.value ->> 'book_id',
                line.value ->> 'count', line.value ->> 'price'
         FROM orders_now o, json_each(o.books) AS line
         JOIN books b ON b.book_id = line.value ->> 'book_id';
         INSERT INTO money_ledger SELECT * FROM money_ledger_now;
         INSERT INTO stock_ledger SELECT * FROM stock_ledger_now;
         -- The first version wrote a stock ledger row for every line an
         -- order took, and for every line a cancelled one gave back.
         INSERT INTO stock_ledger (store_id, book_rowid, kind, delta, order_rowid, at)
         SELECT o.store_id, b.book_rowid, 'ordered', -(line.value ->> 'count'),
                o.order_rowid, o.created_at
         FROM orders_now o, json_each(o.books) AS line
         JOIN books b ON b.book_id = line.value ->> 'book_id';
         INSERT INTO stock_ledger (store_id, book_rowid, kind, delta, order_rowid, at)
         SELECT o.store_id, b.book_rowid, 'returned', line.value ->> 'count',
                o.order_rowid, o.cancelled_at
         FROM orders_now o, json_each(o.books) AS line
         JOIN books b ON b.book_id = line.value ->> 'book_id'
         WHERE o.status = 'cancelled';
         DROP TABLE money_ledger_now;
         DROP TABLE stock_ledger_now;
         DROP TABLE orders_now;
         PRAGMA user_version = 1;
         COMMIT;",
    )
    .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

#[test]
fn a_first_version_file_is_upgraded_with_its_orders_intact() {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10), ("b2", 250, 5)]);
    let ann = s.buyer_with_funds("ann", 2000);
    let bob = s.buyer_with_funds("bob", 2000);
    let paid = s.order(&ann, "ann", "store", &[("b1", 2), ("b2", 1)]).body;
    let paid = paid["order_id"].as_str().unwrap().to_string();
    assert_eq!(s.pay("ann", &paid), 200);
    let unpaid = s.order(&bob, "bob", "store", &[("b2", 2)]).body;
    let unpaid = unpaid["order_id"].as_str().unwrap().to_string();
    s.order(&ann, "ann", "store", &[("b1", 1)]);
    let ann_history = s.query_orders(&ann, "ann").body;
    let bob_history = s.query_orders(&bob, "bob").body;
    let store_history = s.post_as(
        &seller,
        "/seller/query_orders",
        json!({"user_id": "seller", "store_id": "store"}),
    );

    let s = s.restart_after(downgrade_to_v1);

    let version = s.scalar("PRAGMA user_version");
    assert_eq!(version, bookstore::db::SCHEMA_VERSION);
    // The first version checked states and kinds with IN lists; the current
    // schema has none.
    let in_lists = s.scalar("SELECT count(*) FROM sqlite_schema WHERE sql LIKE '% IN (%'");
    assert_eq!(in_lists, 0);
    // Lines live in each order's list of books alone.
    let lines_table = s.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'order_lines'");
    assert_eq!(lines_table, 0);
    assert_eq!(s.query_orders(&ann, "ann").body, ann_history);
    assert_eq!(s.query_orders(&bob, "bob").body, bob_history);
    let store_after = s.post_as(
        &seller,
        "/seller/query_orders",
        json!({"user_id": "seller", "store_id": "store"}),
    );
    assert_eq!(store_after.body, store_history.body);
    // The upgraded orders go on through their lifecycle.
    assert_eq!(s.pay("bob", &unpaid), 200);
    let cancel = json!({"user_id": "ann", "order_id": paid});
    assert_eq!(s.post_as(&ann, "/buyer/cancel_order", cancel).status, 200);
    assert_eq!(s.balance("ann"), 2000);
    assert_eq!(s.balance("bob"), 1500);
    assert_eq!(s.stock("store", "b1"), 9);
    assert_eq!(s.stock("store", "b2"), 3);
    // New orders are numbered after the upgraded ones. The stock ledger
    // rows of the upgraded orders stay; new orders and cancels add none.
    let next = s.order(&bob, "bob", "store", &[("b1", 1)]);
    assert_eq!(next.status, 200);
    assert_eq!(s.scalar("SELECT MAX(order_rowid) FROM orders"), 4);
    let order_rows = "SELECT count(*) FROM stock_ledger WHERE order_rowid IS NOT NULL";
    assert_eq!(s.scalar(order_rows), 4);
    assert_eq!(
        s.query_orders(&bob, "bob").body.as_array().unwrap().len(),
        2
    );

    let report = audit_file(&s.db_path()).unwrap();
    assert!(report.complete && report.problems.is_empty(), "{report}");
}

/// The `pictures` table of schema version 5, as it was released: keyed
/// without row ids, the bytes stored in the key's own b-tree.
const PICTURES_V5: &str = "CREATE TABLE pictures (
    book_rowid INTEGER NOT NULL REFERENCES books(book_rowid),
    position   INTEGER NOT NULL CHECK (position >= 0),
    mime       TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    PRIMARY KEY (book_rowid, position)
) WITHOUT ROWID;";

/// Every stored picture: book, position, type and bytes, in key order.
type PictureRow = (i64, i64, String, Vec<u8>);

fn pictures_in(path: &Path) -> Vec<PictureRow> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT book_rowid, position, mime, bytes FROM pictures ORDER BY 1, 2")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

/// Moves the pictures of a current file into version 5's table and marks
/// the file as version 5, as if that release had written it.
fn downgrade_to_v5(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         ALTER TABLE pictures RENAME TO pictures_now;
         {PICTURES_V5}
         INSERT INTO pictures SELECT book_rowid, position, mime, bytes FROM pictures_now;
         DROP TABLE pictures_now;
         PRAGMA user_version = 5;
         COMMIT;"
    ))
    .unwrap();
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_fifth_version_file_is_upgraded_with_every_picture_byte_for_byte() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[("bare", 100, 1)]);
    // Larger than the writer's page cache, so that copying it makes the
    // upgrade write pages into the log before it commits.
    let mut large = tiny_png();
    large.extend((0..3_000_000u32).map(|i| (i % 251) as u8));
    for (id, pictures) in [
        ("two", vec![tiny_png(), tiny_jpeg()]),
        ("large", vec![large.clone()]),
        ("one", vec![tiny_jpeg()]),
    ] {
        let mut info = book(id, 100);
        info["pictures"] = pictures.iter().map(|p| base64(p)).collect();
        s.add_book(&token, "seller", "store", info, 1);
    }
    let mut before = Vec::new();

    let s = s.restart_after(|path| {
        downgrade_to_v5(path);
        before = pictures_in(path);
    });

    assert_eq!(
        s.scalar("PRAGMA user_version"),
        bookstore::db::SCHEMA_VERSION
    );
    let without_rowid = s.scalar(
        "SELECT count(*) FROM sqlite_schema WHERE name = 'pictures' AND sql LIKE '%WITHOUT ROWID%'",
    );
    assert_eq!(without_rowid, 0, "pictures has row ids after the upgrade");
    assert_eq!(before.len(), 4);
    assert!(pictures_in(&s.db_path()) == before, "the pictures changed");
    assert!(
        s.get("/books/large/pictures/0").2 == large,
        "the large picture changed"
    );
    assert_eq!(s.get("/books/two/pictures/1").2, tiny_jpeg());
    assert_eq!(s.get("/books/bare/pictures/0").0, 404);
    // The upgraded table takes new pictures and still refuses a second
    // picture at a taken position.
    let mut info = book("new", 100);
    info["pictures"] = json!([base64(&tiny_png())]);
    s.add_book(&token, "seller", "store", info, 1);
    assert_eq!(s.get("/books/new/pictures/0").2, tiny_png());
    let conn = Connection::open(s.db_path()).unwrap();
    let taken = conn.execute(
        "INSERT INTO pictures (book_rowid, position, mime, bytes)
         SELECT book_rowid, 0, 'image/png', x'00' FROM books WHERE book_id = 'two'",
        [],
    );
    assert!(taken.is_err(), "a second picture 0 of one book was stored");
    let report = audit_file(&s.db_path()).unwrap();
    assert!(report.complete && report.problems.is_empty(), "{report}");
}
