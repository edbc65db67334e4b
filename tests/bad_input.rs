//! Bad input of every kind: malformed bodies, wrong types, out-of-range
//! numbers, strange ids, unknown paths and methods, oversized bodies, and
//! broken HTTP on a raw socket. Each gets the contract's code with a JSON
//! message, changes nothing, and leaves the server answering.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{book, pw, TestServer};
use serde_json::{json, Value};

/// Which token a request carries.
#[derive(Clone, Copy, Debug)]
enum Auth {
    None,
    Buyer,
    Seller,
}

/// One bad request and the code the contract gives it.
struct Case {
    path: &'static str,
    auth: Auth,
    body: Vec<u8>,
    code: u16,
}

fn case(path: &'static str, auth: Auth, body: Value, code: u16) -> Case {
    Case {
        path,
        auth,
        body: body.to_string().into_bytes(),
        code,
    }
}

fn raw(path: &'static str, auth: Auth, body: &[u8], code: u16) -> Case {
    Case {
        path,
        auth,
        body: body.to_vec(),
        code,
    }
}

/// A store "store" of "seller" with b1 (100 cents, 10 copies), a buyer
/// "buyer" with 1000 cents and one unpaid order. Returns the two tokens and
/// the order id.
fn arrange(s: &TestServer) -> (String, String, String) {
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let buyer = s.buyer_with_funds("buyer", 1000);
    let order = s.order(&buyer, "buyer", "store", &[("b1", 1)]);
    let order_id = order.body["order_id"].as_str().unwrap().to_string();
    (buyer, seller, order_id)
}

/// Everything a request could change, read straight from the file.
fn snapshot(s: &TestServer) -> Vec<String> {
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    [
        "SELECT group_concat(user_id || ':' || password_hash || ':' || balance || ':' ||
                ifnull(closed_at, '-'), ',') FROM users",
        "SELECT COUNT(*) || '/' || ifnull(MAX(expires_at), 0) FROM sessions",
        "SELECT group_concat(store_id || ':' || owner_id, ',') FROM stores",
        "SELECT COUNT(*) FROM books",
        "SELECT group_concat(store_id || ':' || book_rowid || ':' || price || ':' || stock, ',')
         FROM listings",
        "SELECT group_concat(order_id || ':' || status || ':' || held || ':' || books, ',')
         FROM orders",
        "SELECT COUNT(*) FROM money_ledger",
        "SELECT COUNT(*) FROM stock_ledger",
        "SELECT COUNT(*) FROM pictures",
    ]
    .iter()
    .map(|sql| {
        let value: rusqlite::types::Value = conn.query_row(sql, [], |r| r.get(0)).unwrap();
        format!("{value:?}")
    })
    .collect()
}

const SQL: &str = "'; DROP TABLE users;--";

fn long_id() -> String {
    "x".repeat(10_000)
}

fn order_of(books: Value) -> Value {
    json!({"user_id": "buyer", "store_id": "store", "books": books})
}

fn line(count: Value) -> Value {
    order_of(json!([{ "id": "b1", "count": count }]))
}

fn funds(value: Value) -> Value {
    json!({"user_id": "buyer", "password": pw("buyer"), "add_value": value})
}

fn listing(info: Value, stock: Value) -> Value {
    json!({"user_id": "seller", "store_id": "store", "book_info": info, "stock_level": stock})
}

fn stock_change(book_id: Value, n: Value) -> Value {
    json!({"user_id": "seller", "store_id": "store", "book_id": book_id, "add_stock_level": n})
}

/// A new book's `book_info` with `field` set to `value`, or removed if `None`.
fn book_with(field: &str, value: Option<Value>) -> Value {
    let mut info = book("new", 1);
    let fields = info.as_object_mut().unwrap();
    match value {
        Some(value) => fields.insert(field.to_string(), value),
        None => fields.remove(field),
    };
    info
}

/// The bad requests, by kind.
fn cases(order_id: &str) -> Vec<Case> {
    [
        not_objects(),
        missing_fields_and_wrong_types(),
        listings_and_stock(),
        counts(),
        order_lists(),
        ids_that_name_nothing(order_id),
        ids_too_strange_to_create(),
        money(),
        history_queries(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn not_objects() -> Vec<Case> {
    use Auth::{Buyer, None as NoAuth, Seller};
    let deep = format!("{{\"user_id\":{}", "[".repeat(100_000));
    vec![
        raw("/auth/register", NoAuth, b"", 523),
        raw("/auth/register", NoAuth, b"   \n", 523),
        raw("/auth/register", NoAuth, b"user_id=alice&password=x", 523),
        raw("/auth/register", NoAuth, b"{\"user_id\": \"alice\"", 523),
        raw("/auth/register", NoAuth, b"[]", 523),
        raw(
            "/auth/register",
            NoAuth,
            br#"[{"user_id":"a","password":"b"}]"#,
            523,
        ),
        raw("/auth/register", NoAuth, b"null", 523),
        raw("/auth/register", NoAuth, b"\"alice\"", 523),
        raw("/auth/register", NoAuth, b"42", 523),
        raw("/auth/register", NoAuth, b"\xff\xfe\x00{", 523),
        raw(
            "/auth/register",
            NoAuth,
            br#"{"user_id":"a","password":"b"} junk"#,
            523,
        ),
        raw("/auth/register", NoAuth, deep.as_bytes(), 523),
        raw("/buyer/new_order", Buyer, b"", 523),
        raw("/buyer/payment", NoAuth, b"[]", 523),
        raw("/seller/add_book", Seller, b"null", 523),
        // The fields' values in order, as an array: not the object asked for.
        case(
            "/seller/add_book",
            Seller,
            json!(["seller", "store", book("new", 1), 1]),
            523,
        ),
        case("/auth/register", NoAuth, json!(["alice", "pw"]), 523),
        case(
            "/auth/login",
            NoAuth,
            json!(["buyer", pw("buyer"), "t"]),
            523,
        ),
        case(
            "/buyer/add_funds",
            NoAuth,
            json!(["buyer", pw("buyer"), 500]),
            523,
        ),
        case(
            "/seller/create_store",
            Seller,
            json!(["seller", "store2"]),
            523,
        ),
        case(
            "/buyer/new_order",
            Buyer,
            json!(["buyer", "store", [{"id": "b1", "count": 1}]]),
            523,
        ),
    ]
}

fn missing_fields_and_wrong_types() -> Vec<Case> {
    use Auth::{Buyer, None as NoAuth, Seller};
    let twice = br#"{"user_id":"a","user_id":"b","password":"x"}"#;
    let lower_case = json!({"user_id": "buyer", "oldpassword": pw("buyer"), "newpassword": "n"});
    vec![
        case("/auth/register", NoAuth, json!({}), 523),
        case("/auth/register", NoAuth, json!({"user_id": "alice"}), 523),
        case(
            "/auth/register",
            NoAuth,
            json!({"user_id": null, "password": "x"}),
            523,
        ),
        case(
            "/auth/register",
            NoAuth,
            json!({"user_id": "alice", "password": null}),
            523,
        ),
        case(
            "/auth/register",
            NoAuth,
            json!({"user_id": 7, "password": "x"}),
            523,
        ),
        case(
            "/auth/register",
            NoAuth,
            json!({"user_id": ["a"], "password": "x"}),
            523,
        ),
        raw("/auth/register", NoAuth, twice, 523),
        case(
            "/auth/login",
            NoAuth,
            json!({"user_id": "buyer", "password": pw("buyer")}),
            523,
        ),
        case(
            "/auth/login",
            NoAuth,
            json!({"user_id": "buyer", "terminal": "t"}),
            523,
        ),
        case("/auth/logout", Buyer, json!({}), 523),
        case(
            "/auth/password",
            NoAuth,
            json!({"user_id": "buyer", "oldPassword": "x"}),
            523,
        ),
        case("/auth/password", NoAuth, lower_case, 523),
        case("/auth/unregister", NoAuth, json!({"user_id": "buyer"}), 523),
        case(
            "/seller/create_store",
            Seller,
            json!({"user_id": "seller"}),
            523,
        ),
        case(
            "/seller/create_store",
            Seller,
            json!({"user_id": "seller", "store_id": null}),
            523,
        ),
        case(
            "/buyer/payment",
            NoAuth,
            json!({"user_id": "buyer", "password": "x"}),
            523,
        ),
        case(
            "/buyer/cancel_order",
            Buyer,
            json!({"user_id": "buyer"}),
            523,
        ),
    ]
}

fn listings_and_stock() -> Vec<Case> {
    use Auth::Seller;
    let add_book =
        |info: Value, stock: Value| case("/seller/add_book", Seller, listing(info, stock), 523);
    let add_stock = |book_id: Value, n: Value| {
        case(
            "/seller/add_stock_level",
            Seller,
            stock_change(book_id, n),
            523,
        )
    };
    // A book's seventeen fields as an array of their values in order.
    let mut positional = vec![json!("new"), json!("A title"), json!(100)];
    positional.resize(17, Value::Null);
    vec![
        add_book(Value::Null, json!(1)),
        add_book(Value::Array(positional), json!(1)),
        add_book(book_with("title", None), json!(1)),
        add_book(book_with("price", Some(json!(-1))), json!(1)),
        add_book(book_with("price", Some(json!(1.5))), json!(1)),
        add_book(book_with("price", Some(json!("100"))), json!(1)),
        add_book(
            book_with("pictures", Some(json!(["not base64!"]))),
            json!(1),
        ),
        add_book(book_with("tags", Some(json!("one,two"))), json!(1)),
        add_book(book_with("pages", Some(json!("many"))), json!(1)),
        add_book(book_with("id", Some(json!(""))), json!(1)),
        add_book(book_with("id", Some(json!(long_id()))), json!(1)),
        add_book(book("new", 1), json!(-1)),
        add_book(book("new", 1), json!(1.5)),
        add_book(book("new", 1), json!("1e3")),
        add_book(book("new", 1), Value::Null),
        add_stock(json!("b1"), json!(0)),
        add_stock(json!("b1"), json!(1.5)),
        add_stock(json!("b1"), json!("x")),
        add_stock(json!("b1"), Value::Null),
        add_stock(json!("b1"), json!(u64::MAX)),
        add_stock(json!(1), json!(1)),
    ]
}

/// Order line counts that are not whole numbers from 1 to 2^63 - 1.
fn counts() -> Vec<Case> {
    let mut cases: Vec<Case> = [
        json!(0),
        json!(-1),
        json!("-1"),
        json!("0"),
        json!(1.5),
        json!("1.5"),
        json!(1.0),
        json!(""),
        json!(" 1"),
        json!("+1"),
        json!(true),
        Value::Null,
        json!([1]),
        json!("99999999999999999999"),
        json!(u64::MAX),
    ]
    .into_iter()
    .map(|count| case("/buyer/new_order", Auth::Buyer, line(count), 523))
    .collect();
    // Numbers serde_json would only read as floats, written out by hand.
    for count in ["1e3", "18446744073709551616", "-9223372036854775809"] {
        let body = format!(
            r#"{{"user_id":"buyer","store_id":"store","books":[{{"id":"b1","count":{count}}}]}}"#
        );
        cases.push(raw("/buyer/new_order", Auth::Buyer, body.as_bytes(), 523));
    }
    cases
}

fn order_lists() -> Vec<Case> {
    let bad = |body: Value| case("/buyer/new_order", Auth::Buyer, body, 523);
    let too_many = Value::Array(vec![json!({"id": "b1", "count": 1}); 1001]);
    vec![
        bad(order_of(json!([]))),
        bad(order_of(Value::Null)),
        bad(order_of(json!({"id": "b1", "count": 1}))),
        bad(order_of(json!(["b1"]))),
        bad(order_of(json!([["b1", 1]]))),
        bad(order_of(json!([{"id": "b1"}]))),
        bad(order_of(json!([{"count": 1}]))),
        bad(order_of(json!([{"id": 1, "count": 1}]))),
        bad(order_of(too_many)),
        bad(order_of(
            json!([{"id": "b1", "count": i64::MAX}, {"id": "b1", "count": 1}]),
        )),
        bad(json!({"user_id": "buyer", "books": [{"id": "b1", "count": 1}]})),
    ]
}

/// Well-formed ids that name nothing get their existence code, whatever
/// characters they hold.
fn ids_that_name_nothing(order_id: &str) -> Vec<Case> {
    use Auth::{Buyer, None as NoAuth, Seller};
    let store = |store_id: &str| {
        json!({"user_id": "buyer", "store_id": store_id,
               "books": [{"id": "b1", "count": 1}]})
    };
    let pay =
        |order_id: &str| json!({"user_id": "buyer", "order_id": order_id, "password": pw("buyer")});
    let new_book = json!({"user_id": "seller", "store_id": SQL, "book_info": book("new", 1),
                          "stock_level": 1});
    let long = long_id();
    vec![
        case("/buyer/new_order", Buyer, store(SQL), 513),
        case("/buyer/new_order", Buyer, store("书店🙂"), 513),
        // Ids beyond the limits are bad values, decided before existence.
        case("/buyer/new_order", Buyer, store(&long), 523),
        case("/buyer/new_order", Buyer, store("st\u{0}"), 523),
        case(
            "/buyer/new_order",
            Buyer,
            order_of(json!([{"id": SQL, "count": 1}])),
            515,
        ),
        case(
            "/buyer/new_order",
            Buyer,
            order_of(json!([{"id": long, "count": 1}])),
            523,
        ),
        case(
            "/seller/add_stock_level",
            Seller,
            stock_change(json!(long), json!(1)),
            523,
        ),
        case(
            "/seller/add_stock_level",
            Seller,
            stock_change(json!(SQL), json!(1)),
            515,
        ),
        case(
            "/seller/add_stock_level",
            Seller,
            stock_change(json!("书🙂"), json!(1)),
            515,
        ),
        case("/seller/add_book", Seller, new_book, 513),
        case("/buyer/payment", NoAuth, pay(SQL), 518),
        case("/buyer/payment", NoAuth, pay(&long), 518),
        case(
            "/buyer/cancel_order",
            Buyer,
            json!({"user_id": "buyer", "order_id": SQL}),
            518,
        ),
        // Unknown users and wrong passwords are authentication failures.
        case(
            "/auth/login",
            NoAuth,
            json!({"user_id": long, "password": "x", "terminal": "t"}),
            401,
        ),
        case(
            "/auth/login",
            NoAuth,
            json!({"user_id": SQL, "password": "x", "terminal": "t"}),
            401,
        ),
        case(
            "/auth/login",
            NoAuth,
            json!({"user_id": "buyer", "password": SQL, "terminal": "t"}),
            401,
        ),
        case(
            "/buyer/payment",
            NoAuth,
            json!({"user_id": "buyer", "order_id": order_id, "password": SQL}),
            401,
        ),
    ]
}

/// Ids a new account, store or book may not have.
fn ids_too_strange_to_create() -> Vec<Case> {
    use Auth::{None as NoAuth, Seller};
    let user = |id: &str| {
        case(
            "/auth/register",
            NoAuth,
            json!({"user_id": id, "password": "x"}),
            523,
        )
    };
    let store = |id: &str| {
        case(
            "/seller/create_store",
            Seller,
            json!({"user_id": "seller", "store_id": id}),
            523,
        )
    };
    vec![
        user(""),
        user(&long_id()),
        user("a\u{0}b"),
        user("a\nb"),
        store(""),
        store(&long_id()),
    ]
}

fn money() -> Vec<Case> {
    use Auth::None as NoAuth;
    let pay = |order_id: Value, password: Value| {
        json!({"user_id": "buyer", "order_id": order_id,
               "password": password})
    };
    vec![
        case("/buyer/add_funds", NoAuth, funds(json!(0)), 523),
        case("/buyer/add_funds", NoAuth, funds(json!(1.5)), 523),
        case("/buyer/add_funds", NoAuth, funds(json!("100")), 523),
        case("/buyer/add_funds", NoAuth, funds(Value::Null), 523),
        case("/buyer/add_funds", NoAuth, funds(json!(u64::MAX)), 523),
        case("/buyer/add_funds", NoAuth, funds(json!(i64::MAX)), 523),
        case("/buyer/add_funds", NoAuth, funds(json!(-1001)), 519),
        raw(
            "/buyer/add_funds",
            NoAuth,
            br#"{"user_id":"buyer","password":"buyer-pw","add_value":1e2}"#,
            523,
        ),
        case(
            "/buyer/add_funds",
            NoAuth,
            json!({"user_id": "buyer", "add_value": 5}),
            523,
        ),
        case(
            "/buyer/payment",
            NoAuth,
            pay(json!(1), json!(pw("buyer"))),
            523,
        ),
        case("/buyer/payment", NoAuth, pay(json!("x"), Value::Null), 523),
    ]
}

fn history_queries() -> Vec<Case> {
    let bad = |body: Value| case("/buyer/query_orders", Auth::Buyer, body, 523);
    vec![
        bad(json!({"user_id": null})),
        bad(json!({"user_id": "buyer", "page": 0})),
        bad(json!({"user_id": "buyer", "page_size": 0})),
        bad(json!({"user_id": "buyer", "page": 1.5})),
        bad(json!({"user_id": "buyer", "status": "lost"})),
    ]
}

#[test]
fn each_bad_request_gets_its_code_and_a_message_and_changes_nothing() {
    let s = TestServer::start();
    let (buyer, seller, order_id) = arrange(&s);
    let before = snapshot(&s);

    for (i, c) in cases(&order_id).into_iter().enumerate() {
        let token = match c.auth {
            Auth::None => None,
            Auth::Buyer => Some(buyer.as_str()),
            Auth::Seller => Some(seller.as_str()),
        };
        let shown = String::from_utf8_lossy(&c.body[..c.body.len().min(120)]).into_owned();

        let a = s.send("POST", c.path, token, Some(c.body));

        assert_eq!(a.status, c.code, "case {i}: {} {shown}: {a:?}", c.path);
        assert!(!a.message().is_empty(), "case {i}: no message: {a:?}");
        assert_eq!(
            snapshot(&s),
            before,
            "case {i}: {} {shown} changed data",
            c.path
        );
    }

    assert_eq!(s.pay("buyer", &order_id), 200, "the server still works");
}

#[test]
fn fields_the_contract_does_not_name_are_ignored() {
    let s = TestServer::start();

    let registered = s.post(
        "/auth/register",
        json!({"user_id": "alice", "password": pw("alice"), "email": "a@b.c", "age": [1]}),
    );
    let logged_in = s.post(
        "/auth/login",
        json!({"user_id": "alice", "password": pw("alice"), "terminal": "t", "extra": null}),
    );

    assert_eq!(registered.status, 200);
    assert_eq!(logged_in.status, 200);
}

#[test]
fn an_unknown_path_answers_404_with_a_json_message() {
    let s = TestServer::start();

    for path in [
        "/",
        "/nope",
        "/auth",
        "/auth/register/",
        "/AUTH/REGISTER",
        "/auth/register/x",
    ] {
        let a = s.send("POST", path, None, Some(b"{}".to_vec()));
        assert_eq!(a.status, 404, "{path}: {a:?}");
        assert!(!a.message().is_empty(), "{path}: {a:?}");
    }
    let (status, content_type, body) = s.get("/nope");
    assert_eq!(status, 404);
    assert!(content_type.starts_with("application/json"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn the_test_clock_does_not_exist_unless_enabled() {
    let s = TestServer::start();

    let a = s.post("/test/advance_clock", json!({"seconds": 3600}));

    assert_eq!(a.status, 404);
}

#[test]
fn a_known_path_with_the_wrong_method_answers_405_with_a_json_message() {
    let s = TestServer::start();

    for (method, path) in [
        ("GET", "/auth/login"),
        ("PUT", "/buyer/payment"),
        ("DELETE", "/buyer/new_order"),
        ("POST", "/health"),
    ] {
        let a = s.send(method, path, None, Some(b"{}".to_vec()));
        assert_eq!(a.status, 405, "{method} {path}: {a:?}");
        assert!(!a.message().is_empty(), "{method} {path}: {a:?}");
    }
}

#[test]
fn a_body_over_the_limit_answers_413_and_changes_nothing() {
    let s = TestServer::start_with(|c| c.body_limit = 1024);
    s.register("alice");
    let big = json!({"user_id": "bob", "password": "x".repeat(2000)});

    let a = s.post("/auth/register", big);
    let at_limit = format!(r#"{{"user_id":"carol","password":"{}"}}"#, "y".repeat(990));

    assert_eq!(a.status, 413);
    assert!(!a.message().is_empty());
    assert_eq!(s.scalar("SELECT COUNT(*) FROM users"), 1);
    assert!(at_limit.len() <= 1024);
    let fits = s.post_raw("/auth/register", None, at_limit.as_bytes());
    assert_eq!(fits.status, 200, "{fits:?}");
}

// Broken HTTP on a raw socket.

/// Sends `bytes` on a fresh connection, closes the sending side, and returns
/// whatever the server answers before it closes (or 5 seconds pass).
fn exchange(s: &TestServer, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(s.server().addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The server may close first; a failed write is part of what is tested.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn assert_healthy(s: &TestServer) {
    let (status, _, _) = s.get("/health");
    assert_eq!(status, 200);
}

#[test]
fn garbage_on_the_socket_does_not_stop_the_server() {
    let s = TestServer::start();
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100_000));

    for garbage in [
        &b""[..],
        b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /auth/register HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /auth/register HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /auth/register HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /auth/register HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
        b"POST /auth/register HTTP/1.1\r\nExpect: nothing-good\r\n\r\n",
        long_line.as_bytes(),
    ] {
        exchange(&s, garbage);
        assert_healthy(&s);
    }
    assert_eq!(s.scalar("SELECT COUNT(*) FROM users"), 0);
}

#[test]
fn a_huge_declared_length_with_a_tiny_body_answers_413() {
    let s = TestServer::start();

    let answer = exchange(
        &s,
        b"POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000\r\n\r\n{}",
    );

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(answer.contains("\"message\""), "{answer:?}");
    assert_healthy(&s);
}

#[test]
fn a_body_cut_off_halfway_changes_nothing_and_the_server_keeps_answering() {
    let s = TestServer::start();
    let body = format!(r#"{{"user_id":"alice","password":"{}"}}"#, "p".repeat(3000));

    for length in [body.len(), 60] {
        let sent = &body.as_bytes()[..length / 2];
        let head = format!(
            "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            length
        );
        exchange(&s, &[head.as_bytes(), sent].concat());
        assert_healthy(&s);
    }

    assert_eq!(s.scalar("SELECT COUNT(*) FROM users"), 0);
}

#[test]
fn a_chunked_body_is_read_and_held_to_the_same_limit() {
    let s = TestServer::start_with(|c| c.body_limit = 1024);
    let chunked = |body: &str| {
        let head = "POST /auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        format!("{head}{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
    };
    let small = json!({"user_id": "alice", "password": "pw"}).to_string();
    let large = json!({"user_id": "bob", "password": "p".repeat(2000)}).to_string();

    let accepted = exchange(&s, chunked(&small).as_bytes());
    let refused = exchange(&s, chunked(&large).as_bytes());

    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted:?}");
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused:?}");
    assert!(refused.contains("\"message\""), "{refused:?}");
    assert_eq!(s.scalar("SELECT COUNT(*) FROM users"), 1);
}

#[test]
fn error_answers_are_json_with_a_json_content_type() {
    let s = TestServer::start();

    let answer = exchange(
        &s,
        b"POST /auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Content-Length: 5\r\n\r\nhello",
    );

    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 523"), "{head}");
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("content-type: application/json")),
        "{head}"
    );
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn an_order_whose_total_passes_the_largest_integer_answers_523_and_takes_nothing() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("dear", 1 << 62, 3), ("b1", 1, 5)]);
    let token = s.buyer_with_funds("buyer", 0);

    let placed = s.order(&token, "buyer", "store", &[("b1", 1), ("dear", 2)]);

    assert_eq!(placed.status, 523);
    assert!(!placed.message().is_empty());
    assert_eq!(s.stock("store", "dear"), 3);
    assert_eq!(s.stock("store", "b1"), 5);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM orders"), 0);
}

#[test]
fn authorization_is_decided_before_bad_values() {
    let s = TestServer::start();
    let (_, _, _) = arrange(&s);
    let before = snapshot(&s);
    let stranger = "0".repeat(64);

    let order = s.post_as(
        &stranger,
        "/buyer/new_order",
        order_of(json!([{"id": "b1", "count": 0}])),
    );
    let stock = s.post_as(
        &stranger,
        "/seller/add_stock_level",
        stock_change(json!("b1"), json!(0)),
    );
    let listing = s.post_as(
        &stranger,
        "/seller/add_book",
        listing(book("b2", -1), json!(-5)),
    );
    let store = s.post_as(
        &stranger,
        "/seller/create_store",
        json!({"user_id": "seller", "store_id": ""}),
    );
    let deposit = s.post(
        "/buyer/add_funds",
        json!({"user_id": "buyer", "password": "wrong", "add_value": 0}),
    );

    for a in [order, stock, listing, store, deposit] {
        assert_eq!(a.status, 401, "{a:?}");
    }
    assert_eq!(snapshot(&s), before);
}
