//! `bookstore generate`: a synthetic file whose ledgers add up, that the
//! server serves and the benchmark's history scenario uses as it is.

mod common;

use std::path::Path;

use bookstore::bench::generate::{generate, GenerateArgs};
use bookstore::bench::{self, BenchArgs, Choice};
use bookstore::config::KdfArgs;
use common::TestServer;
use rusqlite::Connection;

fn small(db: &Path) -> GenerateArgs {
    GenerateArgs {
        db: db.to_path_buf(),
        books: 300,
        orders: 2_000,
        buyers: 20,
        stores: 3,
        seed: 5,
        kdf: KdfArgs::CHEAP,
    }
}

fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_generated_file_has_the_asked_size_and_consistent_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");

    let done = generate(&small(&db), false).unwrap();

    assert_eq!((done.books, done.orders), (300, 2_000));
    let conn = Connection::open(&db).unwrap();
    assert_eq!(one(&conn, "SELECT count(*) FROM books"), 300);
    assert_eq!(one(&conn, "SELECT count(*) FROM orders"), 2_000);
    assert_eq!(
        one(&conn, "SELECT count(*) FROM orders WHERE status = 'unpaid'"),
        0
    );
    assert_eq!(
        one(
            &conn,
            "SELECT count(*) FROM users u WHERE balance !=
               (SELECT coalesce(sum(amount), 0) FROM money_ledger m WHERE m.user_id = u.user_id)"
        ),
        0,
        "every balance is the sum of its ledger"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT count(*) FROM listings l WHERE stock !=
               (SELECT sum(delta) FROM stock_ledger s
                WHERE s.store_id = l.store_id AND s.book_rowid = l.book_rowid)
               - (SELECT coalesce(sum(line.value ->> 'count'), 0)
                  FROM orders o, json_each(o.books) AS line
                  JOIN books b ON b.book_id = line.value ->> 'book_id'
                  WHERE o.store_id = l.store_id AND b.book_rowid = l.book_rowid
                    AND o.status != 'cancelled')"
        ),
        0,
        "every stock level is its ledger less what its orders hold"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT (SELECT sum(balance) FROM users) + (SELECT sum(held) FROM orders)
                  - (SELECT sum(amount) FROM money_ledger WHERE kind IN ('deposit', 'withdrawal'))"
        ),
        0,
        "money is conserved"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT count(*) FROM orders o WHERE total_price !=
               (SELECT sum((line.value ->> 'count') * (line.value ->> 'price'))
                FROM json_each(o.books) AS line)"
        ),
        0
    );
    let problems: i64 = conn
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |_| Ok(()))
        .unwrap()
        .count() as i64;
    assert_eq!(problems, 0, "every reference resolves");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn the_same_seed_makes_the_same_orders() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    generate(&small(&a), false).unwrap();
    generate(&small(&b), false).unwrap();

    let ids = |p: &Path| -> Vec<String> {
        let conn = Connection::open(p).unwrap();
        let mut stmt = conn
            .prepare("SELECT order_id FROM orders ORDER BY order_rowid LIMIT 50")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(ids(&a), ids(&b));
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("taken.db");
    std::fs::write(&db, b"not a database").unwrap();

    let refused = generate(&small(&db), false);

    assert!(refused.is_err());
    assert_eq!(std::fs::read(&db).unwrap(), b"not a database");
}

#[test]
fn the_history_scenario_uses_a_generated_file_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    generate(&small(&db), false).unwrap();
    let s = TestServer::start_with(|c| c.db = db.clone());
    let args = BenchArgs {
        url: s.url.clone(),
        sessions: 2,
        orders: Some(20),
        seconds: None,
        scenario: vec![Choice::History],
        catalog: None,
        books: 10,
        history_orders: 1,
        history_page_size: None,
        seed: 1,
        server_pid: None,
        json: false,
        no_progress: true,
    };

    let report = bench::run(&args).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    assert!(report.scenarios[0].setup.is_empty(), "nothing was built");
    let history = s.post_as(
        &s.login_as("syn_buyer_3", "synthetic-pw"),
        "/buyer/query_orders",
        serde_json::json!({"user_id": "syn_buyer_3"}),
    );
    assert_eq!(history.body.as_array().unwrap().len(), 2_000 / 20);
}
