//! `bookstore check`: the audit of a database file, called as a library and
//! as the real command on a live file and on damaged copies.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use bookstore::model::audit::{audit_file, Report};
use common::{pw, TestServer};
use serde_json::json;

/// A server with some history: every kind of money and stock movement.
fn busy_server() -> TestServer {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 300, 10), ("b2", 50, 4)]);
    let buyer = s.buyer_with_funds("buyer", 5000);
    let withdraw = s.post(
        "/buyer/add_funds",
        json!({"user_id": "buyer", "password": pw("buyer"), "add_value": -500}),
    );
    assert_eq!(withdraw.status, 200, "{withdraw:?}");
    let more = s.post_as(
        &seller,
        "/seller/add_stock_level",
        json!({"user_id": "seller", "store_id": "store", "book_id": "b2", "add_stock_level": 6}),
    );
    assert_eq!(more.status, 200, "{more:?}");

    let received = place_and_pay(&s, &buyer, &[("b1", 2), ("b2", 1)]);
    let ship = json!({"user_id": "seller", "order_id": received});
    assert_eq!(s.post_as(&seller, "/seller/ship_order", ship).status, 200);
    let receive = json!({"user_id": "buyer", "order_id": received});
    assert_eq!(
        s.post_as(&buyer, "/buyer/receive_order", receive).status,
        200
    );
    let refunded = place_and_pay(&s, &buyer, &[("b1", 1)]);
    let cancel = json!({"user_id": "buyer", "order_id": refunded});
    assert_eq!(s.post_as(&buyer, "/buyer/cancel_order", cancel).status, 200);
    place_and_pay(&s, &buyer, &[("b2", 3)]);
    let unpaid = s.order(&buyer, "buyer", "store", &[("b1", 1)]);
    assert_eq!(unpaid.status, 200, "{unpaid:?}");
    s
}

fn place_and_pay(s: &TestServer, token: &str, lines: &[(&str, i64)]) -> String {
    let placed = s.order(token, "buyer", "store", lines);
    assert_eq!(placed.status, 200, "{placed:?}");
    let order_id = placed.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(s.pay("buyer", &order_id), 200);
    order_id
}

/// Runs the real `bookstore check --db FILE`.
fn run_check(db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bookstore"))
        .args(["check", "--db"])
        .arg(db)
        .env_remove("BOOKSTORE_DB")
        .output()
        .expect("bookstore runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A consistent copy of a live file, taken in one read transaction.
fn copy_of(s: &TestServer, dir: &Path) -> std::path::PathBuf {
    let copy = dir.join("copy.db");
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    copy
}

fn edit(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn problems(report: &Report) -> String {
    report.problems.join("\n")
}

/// Asserts that what the check said contains every one of `findings`.
fn says_all(said: &str, findings: &[&str]) {
    for finding in findings {
        assert!(said.contains(finding), "{finding}\n{said}");
    }
}

#[test]
fn check_passes_on_a_live_file_and_adds_up_its_money() {
    let s = busy_server();

    let output = run_check(&s.db_path());
    let report = audit_file(&s.db_path()).unwrap();

    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(": ok"), "{}", text(&output));
    assert!(report.is_ok(), "{}", problems(&report));
    assert_eq!(report.deposited, 5000);
    assert_eq!(report.withdrawn, 500);
    assert_eq!(report.held, 150, "the paid, unshipped order of 3 x 50");
    assert_eq!(report.balances, 5000 - 500 - 150);
    assert_eq!(report.stock, 14 + 6 - 2 - 1 - 3 - 1);
}

#[test]
fn check_passes_on_a_file_no_server_has_open() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());

    let output = run_check(&copy);

    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("orders: 4, holding 150 cents"),
        "{}",
        text(&output)
    );
}

#[test]
fn check_fails_on_a_copy_whose_balance_disagrees_with_its_ledger() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    edit(
        &copy,
        "UPDATE users SET balance = balance + 1 WHERE user_id = 'buyer'",
    );

    let output = run_check(&copy);

    assert!(!output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains(r#"the balance of user "buyer" is"#), "{said}");
    assert!(said.contains("money is not conserved"), "{said}");
    assert!(said.contains("2 problem(s) found"), "{said}");
    assert!(
        run_check(&s.db_path()).status.success(),
        "the live file is untouched"
    );
}

#[test]
fn check_fails_on_a_copy_whose_stock_disagrees_with_its_ledger() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    edit(&copy, "UPDATE listings SET stock = stock + 5");

    let output = run_check(&copy);

    assert!(!output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(
        said.contains(r#"the stock of book "b1" in store "store" is"#),
        "{said}"
    );
    assert!(
        said.contains(r#"the stock of book "b2" in store "store" is"#),
        "{said}"
    );
}

#[test]
fn check_fails_on_a_copy_whose_orders_list_other_books_than_they_took() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    // Order 1 took two of b1 and one of b2 for 650 cents; order 3 is paid
    // and took three of b2; order 4 took one b1. The listings keep seven of
    // b1 and six of b2 of the ten each its seller put in.
    edit(
        &copy,
        r#"UPDATE orders SET books = '[{"book_id":"b1","count":9,"price":300}]'
            WHERE order_rowid = 1;
           UPDATE orders SET books = 'not a list' WHERE order_rowid = 3;
           UPDATE orders SET books = '[{"book_id":"nope","count":1,"price":300}]'
            WHERE order_rowid = 4;"#,
    );

    let output = run_check(&copy);

    assert!(!output.status.success(), "{}", text(&output));
    let said = text(&output);
    says_all(
        &said,
        &[
            r#"the stock of book "b1" in store "store" is 7, but its ledger adds up to 10 and its orders hold 9"#,
            r#"the stock of book "b2" in store "store" is 6, but its ledger adds up to 10 and its orders hold 0"#,
            "costs 650 cents, but its books add up to 2700",
            "lists its books as not a list, which is not a list of books",
            r#"lists book "nope", which is not in the catalog"#,
        ],
    );
}

#[test]
fn stock_ledger_rows_of_older_versions_are_held_to_their_orders() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    // Rows as schema version 6 wrote them: order 1 took two of b1 and one
    // of b2; order 2 took one b1 and gave it back when it was cancelled.
    edit(
        &copy,
        "INSERT INTO stock_ledger (store_id, book_rowid, kind, delta, order_rowid, at)
         SELECT 'store', book_rowid, kind, delta, order_rowid, 0
         FROM (SELECT 'b1' AS book, 'ordered' AS kind, -2 AS delta, 1 AS order_rowid
               UNION ALL SELECT 'b2', 'ordered', -1, 1
               UNION ALL SELECT 'b1', 'ordered', -1, 2
               UNION ALL SELECT 'b1', 'returned', 1, 2)
         JOIN books ON book_id = book;",
    );
    let report = audit_file(&copy).unwrap();
    assert!(report.is_ok(), "{}", problems(&report));
    assert_eq!(report.stock_entries, 3 + 4);

    edit(
        &copy,
        r#"UPDATE orders SET books = '[{"book_id":"b1","count":9,"price":300}]'
            WHERE order_rowid = 1;
           UPDATE stock_ledger SET delta = 2 WHERE kind = 'returned';"#,
    );

    let said = problems(&audit_file(&copy).unwrap());
    says_all(
        &said,
        &[
            r#"(received) has 9 of book "b1", but its ledger took 2 and gave back 0"#,
            "for order row 1 (took 1, gave back 0), which has no such line",
            r#"(cancelled) has 1 of book "b1", but its ledger took 1 and gave back 2"#,
        ],
    );
}

#[test]
fn check_fails_on_a_damaged_file() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    // Scribble over the header of every page after the first.
    let mut bytes = std::fs::read(&copy).unwrap();
    for page in bytes.chunks_mut(4096).skip(1) {
        page[..8].copy_from_slice(&[0x0d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }
    std::fs::write(&copy, bytes).unwrap();

    let output = run_check(&copy);

    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("malformed"), "{}", text(&output));
}

#[test]
fn check_refuses_a_missing_file_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");

    let output = run_check(&missing);

    assert!(!output.status.success());
    assert!(text(&output).contains("cannot read"), "{}", text(&output));
    assert!(!missing.exists());
}

#[test]
fn an_order_that_kept_its_money_or_its_stock_is_found() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    // The refunded order loses its refund and the copy it gave back, with
    // the balance and its ledger adjusted to match, so only the orders tell:
    // the cancelled order holds neither money nor stock.
    edit(
        &copy,
        "UPDATE users SET balance = balance - 300 WHERE user_id = 'buyer';
         DELETE FROM money_ledger WHERE kind = 'refund';
         UPDATE listings SET stock = stock - 1
          WHERE book_rowid = (SELECT book_rowid FROM books WHERE book_id = 'b1');",
    );

    let report = audit_file(&copy).unwrap();

    let said = problems(&report);
    assert!(
        said.contains("holds 0 cents, but its ledger entries moved 300"),
        "{said}"
    );
    assert!(
        said.contains(
            r#"the stock of book "b1" in store "store" is 6, but its ledger adds up to 10 and its orders hold 3"#
        ),
        "{said}"
    );
    assert!(said.contains("money is not conserved"), "{said}");
}

#[test]
fn a_ledger_entry_of_the_wrong_sign_is_found() {
    let s = busy_server();
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of(&s, dir.path());
    edit(
        &copy,
        "UPDATE users SET balance = balance + 1000 WHERE user_id = 'buyer';
         INSERT INTO money_ledger (user_id, kind, amount, at) VALUES ('buyer', 'withdrawal', 1000, 0);",
    );

    let report = audit_file(&copy).unwrap();

    assert!(
        problems(&report).contains("is a withdrawal of 1000"),
        "{}",
        problems(&report)
    );
}

#[test]
fn balances_near_the_largest_amount_add_up_without_overflow() {
    let s = TestServer::start();
    s.buyer_with_funds("rich", i64::MAX);
    s.buyer_with_funds("richer", i64::MAX);
    let add = |user: &str, value: i64| {
        let body = json!({"user_id": user, "password": pw(user), "add_value": value});
        assert_eq!(s.post("/buyer/add_funds", body).status, 200);
    };
    // A ledger whose running sum passes 64 bits in any order of rows.
    add("rich", -i64::MAX);
    add("rich", i64::MAX);

    let output = run_check(&s.db_path());
    let report = audit_file(&s.db_path()).unwrap();

    assert!(output.status.success(), "{}", text(&output));
    assert!(report.is_ok(), "{}", problems(&report));
    assert_eq!(report.balances, 2 * i128::from(i64::MAX));
    assert_eq!(report.deposited, 3 * i128::from(i64::MAX));
}
