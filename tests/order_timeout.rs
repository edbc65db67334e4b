//! Automatic cancellation of unpaid orders, and the test clock that lets
//! harnesses reach the deadline without sleeping.

mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn the_test_clock_is_not_there_unless_the_flag_is_on() {
    let s = TestServer::start();

    let post = s.post("/test/advance_clock", json!({"seconds": 60}));
    let get = s.send("GET", "/test/advance_clock", None, None);

    assert_eq!(post.status, 404, "{post:?}");
    assert_eq!(get.status, 404, "{get:?}");
    assert_eq!(post.message(), "not found");
}

#[test]
fn the_test_clock_moves_forward_and_refuses_bad_amounts() {
    let s = TestServer::start_with(|c| c.test_clock = true);

    let moved = s.post("/test/advance_clock", json!({"seconds": 3600}));
    let negative = s.post("/test/advance_clock", json!({"seconds": -1}));
    let missing = s.post("/test/advance_clock", json!({}));
    let get = s.send("GET", "/test/advance_clock", None, None);

    assert_eq!(moved.status, 200, "{moved:?}");
    let now = moved.body["now"].as_str().expect("now");
    assert!(now.ends_with('Z') && now.len() == 20, "{now}");
    assert_eq!(moved.body["expired_orders"], 0);
    assert_eq!(negative.status, 523, "{negative:?}");
    assert_eq!(missing.status, 523, "{missing:?}");
    assert_eq!(get.status, 405, "{get:?}");
}

#[test]
fn the_test_clock_stops_at_the_last_second_it_can_write() {
    let s = TestServer::start_with(|c| c.test_clock = true);

    let mut last = s.post("/test/advance_clock", json!({"seconds": u32::MAX}));
    while last.status == 200 {
        last = s.post("/test/advance_clock", json!({"seconds": u32::MAX}));
    }

    // Each refused step leaves less than 2^32 seconds (136 years) to go.
    assert_eq!(last.status, 523, "{last:?}");
    let now = s.post("/test/advance_clock", json!({"seconds": 0}));
    let year: i32 = now.body["now"].as_str().unwrap()[..4].parse().unwrap();
    assert!((9863..=9999).contains(&year), "{now:?}");
}

/// The order timeout every test here uses, in seconds.
const TIMEOUT: i64 = 60;

fn timed_server() -> TestServer {
    TestServer::start_with(|c| {
        c.test_clock = true;
        c.order_timeout = TIMEOUT;
    })
}

fn advance(s: &TestServer, seconds: i64) -> serde_json::Value {
    let a = s.post("/test/advance_clock", json!({ "seconds": seconds }));
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

/// The buyer's orders as `/buyer/query_orders` answers them.
fn orders_of(s: &TestServer, token: &str, buyer: &str) -> Vec<serde_json::Value> {
    let a = s.post_as(token, "/buyer/query_orders", json!({ "user_id": buyer }));
    assert_eq!(a.status, 200, "{a:?}");
    a.body.as_array().expect("a bare array").clone()
}

fn unix(rfc3339: &serde_json::Value) -> i64 {
    let text = rfc3339.as_str().expect("a timestamp");
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &format)
        .expect("RFC 3339")
        .unix_timestamp()
}

#[test]
fn an_unpaid_order_is_cancelled_at_its_deadline_and_its_stock_is_back_on_sale() {
    let s = timed_server();
    s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let placed = s.order(&token, "buyer", "store", &[("b1", 3)]);
    let order_id = placed.body["order_id"].as_str().unwrap().to_string();

    advance(&s, TIMEOUT / 2);
    assert_eq!(orders_of(&s, &token, "buyer")[0]["status"], "unpaid");
    assert_eq!(s.stock("store", "b1"), 2);
    let swept = advance(&s, TIMEOUT / 2 + 1);

    assert_eq!(swept["expired_orders"], 1);
    assert_eq!(s.pay("buyer", &order_id), 521);
    let cancel = s.post_as(
        &token,
        "/buyer/cancel_order",
        json!({"user_id": "buyer", "order_id": order_id}),
    );
    assert_eq!(cancel.status, 521, "{cancel:?}");
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.stock("store", "b1"), 5);
    let order = &orders_of(&s, &token, "buyer")[0];
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancelled"], true);
    assert_eq!(order["paid"], false);
    assert_eq!(order["cancel_reason"], "timeout");
    let age = unix(&order["cancelled_time"]) - unix(&order["order_time"]);
    assert_eq!(age, TIMEOUT, "dated at the deadline: {order}");
    let again = s.order(&token, "buyer", "store", &[("b1", 5)]);
    assert_eq!(again.status, 200, "the whole stock sells again: {again:?}");
}

#[test]
fn a_paid_order_has_no_deadline() {
    let s = timed_server();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let placed = s.order(&token, "buyer", "store", &[("b1", 1)]);
    let order_id = placed.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(s.pay("buyer", &order_id), 200);

    let swept = advance(&s, TIMEOUT * 10);
    let ship = s.post_as(
        &seller,
        "/seller/ship_order",
        json!({"user_id": "seller", "order_id": order_id}),
    );

    assert_eq!(swept["expired_orders"], 0);
    assert_eq!(ship.status, 200, "{ship:?}");
    assert_eq!(s.stock("store", "b1"), 4);
    assert_eq!(s.balance("buyer"), 900);
}

#[test]
fn query_orders_tells_a_timeout_apart_from_the_buyers_cancellation() {
    let s = timed_server();
    s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let token = s.buyer_with_funds("buyer", 0);
    let first = s.order(&token, "buyer", "store", &[("b1", 1)]);
    let second = s.order(&token, "buyer", "store", &[("b1", 1)]);
    let cancelled = s.post_as(
        &token,
        "/buyer/cancel_order",
        json!({"user_id": "buyer", "order_id": second.body["order_id"]}),
    );
    assert_eq!(cancelled.status, 200, "{cancelled:?}");

    advance(&s, TIMEOUT + 1);
    let orders = orders_of(&s, &token, "buyer");

    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0]["order_id"], second.body["order_id"]);
    assert_eq!(orders[0]["cancel_reason"], "buyer");
    assert_eq!(orders[1]["order_id"], first.body["order_id"]);
    assert_eq!(orders[1]["cancel_reason"], "timeout");
    assert_eq!(s.stock("store", "b1"), 5);
}

#[test]
fn the_background_sweep_cancels_an_overdue_order_without_any_request() {
    let s = timed_server();
    s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let token = s.buyer_with_funds("buyer", 0);
    let placed = s.order(&token, "buyer", "store", &[("b1", 2)]);
    let order_id = placed.body["order_id"].as_str().unwrap().to_string();

    // Moved behind the API: no request reaches the server from here on.
    s.server().app().clock.advance(TIMEOUT as u32 + 1);
    let status = wait_for_status(&s, &order_id, "cancelled");

    assert_eq!(status, "cancelled");
    assert_eq!(s.stock("store", "b1"), 5);
    let reason = s.sql_text(
        "SELECT cancel_reason FROM orders WHERE order_id = ?1",
        &order_id,
    );
    assert_eq!(reason, "timeout");
}

#[test]
fn a_deadline_outlives_a_restart() {
    let s = timed_server();
    s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let placed = s.order(&token, "buyer", "store", &[("b1", 4)]);
    let order_id = placed.body["order_id"].as_str().unwrap().to_string();

    let s = s.restart();
    assert_eq!(s.stock("store", "b1"), 1, "still taken after the restart");
    let swept = advance(&s, TIMEOUT + 1);

    assert_eq!(swept["expired_orders"], 1);
    assert_eq!(s.stock("store", "b1"), 5);
    assert_eq!(s.pay("buyer", &order_id), 521);
    assert_eq!(s.balance("buyer"), 1000);
    let order = &orders_of(&s, &token, "buyer")[0];
    assert_eq!(order["cancel_reason"], "timeout");
}

#[test]
fn a_token_expires_when_the_clock_passes_its_lifetime() {
    let s = TestServer::start_with(|c| {
        c.test_clock = true;
        c.token_ttl = 600;
    });
    let token = s.user("buyer");
    let before = s.post_as(&token, "/buyer/query_orders", json!({"user_id": "buyer"}));

    advance(&s, 600);
    let after = s.post_as(&token, "/buyer/query_orders", json!({"user_id": "buyer"}));

    assert_eq!(before.status, 200, "{before:?}");
    assert_eq!(after.status, 401, "{after:?}");
}

/// Reads the order's stored status from the file until it is `wanted`,
/// for at most ten seconds (the sweep runs every second).
fn wait_for_status(s: &TestServer, order_id: &str, wanted: &str) -> String {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = s.sql_text("SELECT status FROM orders WHERE order_id = ?1", order_id);
        if status == wanted || std::time::Instant::now() > give_up {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn an_overdue_order_reads_as_cancelled_and_cannot_be_paid_before_any_sweep() {
    use bookstore::db::Db;
    use bookstore::model::history::{self, OrderQuery, Owner};
    use bookstore::model::types::{CancelReason, NewBook, OrderLine, Quantity, Status};
    use bookstore::model::{accounts, orders, stores};
    use bookstore::Error;

    // The rules alone, with no server and so no background sweep.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("bookstore.db"), 1).unwrap();
    let book = NewBook {
        id: "b1".into(),
        title: "t".into(),
        price: 100,
        ..NewBook::default()
    };
    let line = OrderLine {
        book_id: "b1".into(),
        count: Quantity::new(2).unwrap(),
    };
    let order_id = db
        .write(|tx| {
            accounts::register(tx, "seller", "hash", 0)?;
            accounts::register(tx, "buyer", "hash", 0)?;
            orders::add_funds(tx, "buyer", "hash", 1000, 0)?;
            stores::create_store(tx, "seller", "store", 0)?;
            stores::add_book(tx, "seller", "store", &book, 5, 0)?;
            orders::new_order(tx, "buyer", "store", vec![line], 1000, TIMEOUT)
        })
        .unwrap();
    let deadline = 1000 + TIMEOUT;

    // The state each order reads as at `now`.
    let states = |now: i64| {
        db.read(|c| {
            let mut found = Vec::new();
            history::visit(c, Owner::Buyer("buyer"), &OrderQuery::default(), now, |o| {
                found.push((o.status, o.cancel_reason, o.cancelled_at))
            })?;
            Ok(found)
        })
        .unwrap()
    };
    let before = states(deadline - 1);
    let after = states(deadline);
    let paid = db.write(|tx| orders::pay(tx, "buyer", "hash", &order_id, deadline));

    assert_eq!(before, [(Status::Unpaid, None, None)]);
    let timeout = Some(CancelReason::Timeout);
    assert_eq!(after, [(Status::Cancelled, timeout, Some(deadline))]);
    assert!(matches!(paid, Err(Error::AlreadyCancelled)), "{paid:?}");
    let stored: String = db
        .read(|c| Ok(c.query_row("SELECT status FROM orders", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(stored, "unpaid", "the refused payment changed nothing");
}
