//! `/buyer`: placing orders, paying and cancelling them, funds, and the
//! order history.

mod common;

use common::{pw, Answer, TestServer};
use serde_json::{json, Value};

/// A store "store" with b1 (100 cents, 10 copies), b2 (250, 5) and b3 (40, 1),
/// and a buyer "buyer" with `funds`; returns the buyer's token.
fn shop(s: &TestServer, funds: i64) -> String {
    s.seller_with_store(
        "seller",
        "store",
        &[("b1", 100, 10), ("b2", 250, 5), ("b3", 40, 1)],
    );
    s.buyer_with_funds("buyer", funds)
}

fn order_id(a: &Answer) -> String {
    assert_eq!(a.status, 200, "order: {a:?}");
    a.body["order_id"].as_str().expect("order_id").to_string()
}

fn stocks(s: &TestServer) -> [i64; 3] {
    ["b1", "b2", "b3"].map(|b| s.stock("store", b))
}

fn orders(s: &TestServer) -> i64 {
    s.scalar("SELECT COUNT(*) FROM orders")
}

fn payment(s: &TestServer, user_id: &str, order_id: &str, password: &str) -> Answer {
    s.post(
        "/buyer/payment",
        json!({"user_id": user_id, "order_id": order_id, "password": password}),
    )
}

fn cancel(s: &TestServer, token: &str, user_id: &str, order_id: &str) -> Answer {
    s.post_as(
        token,
        "/buyer/cancel_order",
        json!({"user_id": user_id, "order_id": order_id}),
    )
}

fn payment_rows(s: &TestServer, order_id: &str) -> i64 {
    s.sql_i64(
        "SELECT COUNT(*) FROM money_ledger m JOIN orders o ON o.order_rowid = m.order_rowid
         WHERE o.order_id = ?1 AND m.kind = 'payment'",
        order_id,
    )
}

// Placing orders.

#[test]
fn an_order_takes_the_stock_of_every_line_and_gets_a_uuid() {
    let s = TestServer::start();
    let token = shop(&s, 0);

    let placed = s.order(&token, "buyer", "store", &[("b1", 3), ("b2", 5)]);

    let id = order_id(&placed);
    assert_eq!(placed.message(), "ok");
    let uuid = uuid::Uuid::parse_str(&id).expect("the order id is a UUID");
    assert_eq!(uuid.hyphenated().to_string(), id);
    assert_eq!(stocks(&s), [7, 0, 1]);
    let total = s.sql_i64("SELECT total_price FROM orders WHERE order_id = ?1", &id);
    assert_eq!(total, 3 * 100 + 5 * 250);
}

#[test]
fn an_order_with_one_unserviceable_line_takes_nothing() {
    let s = TestServer::start();
    let token = shop(&s, 0);

    let too_many = s.order(&token, "buyer", "store", &[("b1", 2), ("b2", 6), ("b3", 1)]);
    let unknown_book = s.order(&token, "buyer", "store", &[("b1", 2), ("nope", 1)]);
    let unknown_store = s.order(&token, "buyer", "nowhere", &[("b1", 1)]);

    assert_eq!(too_many.status, 517);
    assert_eq!(unknown_book.status, 515);
    assert_eq!(unknown_store.status, 513);
    for a in [&too_many, &unknown_book, &unknown_store] {
        assert!(!a.message().is_empty());
        assert!(a.body.get("order_id").is_none());
    }
    assert_eq!(stocks(&s), [10, 5, 1]);
    assert_eq!(orders(&s), 0);
}

#[test]
fn a_book_the_store_does_not_list_answers_515_before_any_line_short_of_stock() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 5)]);
    let buyer = s.buyer_with_funds("buyer", 0);

    let placed = s.order(&buyer, "buyer", "store", &[("b1", 6), ("missing", 1)]);

    assert_eq!(placed.status, 515, "{placed:?}");
    assert_eq!(s.stock("store", "b1"), 5);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM orders"), 0);
}

#[test]
fn a_book_listed_only_by_another_store_answers_515() {
    let s = TestServer::start();
    let token = shop(&s, 0);
    s.seller_with_store("other", "elsewhere", &[("elsewhere-only", 10, 10)]);

    let placed = s.order(&token, "buyer", "store", &[("elsewhere-only", 1)]);

    assert_eq!(placed.status, 515);
    assert_eq!(s.stock("elsewhere", "elsewhere-only"), 10);
}

#[test]
fn lines_naming_the_same_book_are_merged_into_one() {
    let s = TestServer::start();
    let token = shop(&s, 0);

    let placed = s.order(&token, "buyer", "store", &[("b1", 2), ("b2", 1), ("b1", 3)]);
    let over = s.order(&token, "buyer", "store", &[("b1", 3), ("b1", 3)]);

    order_id(&placed);
    assert_eq!(over.status, 517, "3 + 3 copies exceed the 5 left");
    assert_eq!(stocks(&s), [5, 4, 1]);
    let listed = s.query_orders(&token, "buyer").body;
    assert_eq!(
        listed[0]["order_books"],
        json!([
            {"book_id": "b1", "count": 5, "price": 100},
            {"book_id": "b2", "count": 1, "price": 250}
        ])
    );
    assert_eq!(listed[0]["total_price"], 750);
}

#[test]
fn a_count_given_as_a_string_of_digits_is_accepted() {
    let s = TestServer::start();
    let token = shop(&s, 0);

    let placed = s.post_as(
        &token,
        "/buyer/new_order",
        json!({"user_id": "buyer", "store_id": "store",
               "books": [{"id": "b1", "count": "4"}]}),
    );

    order_id(&placed);
    assert_eq!(s.stock("store", "b1"), 6);
}

#[test]
fn ordering_needs_the_buyers_own_valid_token() {
    let s = TestServer::start();
    shop(&s, 0);
    let other = s.user("other");
    let body = json!({"user_id": "buyer", "store_id": "store",
                      "books": [{"id": "b1", "count": 1}]});

    for token in [None, Some("bogus"), Some(other.as_str())] {
        let a = s.send(
            "POST",
            "/buyer/new_order",
            token,
            Some(body.to_string().into_bytes()),
        );
        assert_eq!(a.status, 401, "token {token:?}: {a:?}");
    }

    assert_eq!(stocks(&s), [10, 5, 1]);
    assert_eq!(orders(&s), 0);
}

// Paying.

#[test]
fn paying_moves_the_total_from_the_balance_into_the_order() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 2), ("b3", 1)]));

    let paid = payment(&s, "buyer", &id, &pw("buyer"));

    assert_eq!(paid.status, 200);
    assert_eq!(paid.message(), "ok");
    assert_eq!(s.balance("buyer"), 1000 - 240);
    assert_eq!(
        s.sql_i64("SELECT held FROM orders WHERE order_id = ?1", &id),
        240
    );
    assert_eq!(payment_rows(&s, &id), 1);
}

#[test]
fn paying_with_a_wrong_password_answers_401_and_changes_nothing() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));

    let wrong = payment(&s, "buyer", &id, "wrong");
    let unknown_user = payment(&s, "nobody", &id, "x");

    assert_eq!(wrong.status, 401);
    assert_eq!(unknown_user.status, 401);
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.pay("buyer", &id), 200);
}

#[test]
fn paying_someone_elses_order_answers_401_and_changes_nothing() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    s.buyer_with_funds("other", 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));

    let by_other = s.pay("other", &id);

    assert_eq!(by_other, 401);
    assert_eq!(s.balance("other"), 1000);
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.pay("buyer", &id), 200);
}

#[test]
fn paying_an_unknown_order_answers_518() {
    let s = TestServer::start();
    shop(&s, 1000);

    let status = s.pay("buyer", "00000000-0000-4000-8000-000000000000");

    assert_eq!(status, 518);
    assert_eq!(s.balance("buyer"), 1000);
}

#[test]
fn paying_without_enough_funds_answers_519_and_changes_nothing() {
    let s = TestServer::start();
    let token = shop(&s, 349);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1), ("b2", 1)]));

    let short = payment(&s, "buyer", &id, &pw("buyer"));

    assert_eq!(short.status, 519);
    assert!(!short.message().is_empty());
    assert_eq!(s.balance("buyer"), 349);
    assert_eq!(payment_rows(&s, &id), 0);
    assert_eq!(s.add_funds("buyer", 1).status, 200);
    assert_eq!(s.pay("buyer", &id), 200);
    assert_eq!(s.balance("buyer"), 0);
}

#[test]
fn paying_twice_answers_520_and_debits_once() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));
    assert_eq!(s.pay("buyer", &id), 200);

    let again = payment(&s, "buyer", &id, &pw("buyer"));

    assert_eq!(again.status, 520);
    assert_eq!(s.balance("buyer"), 900);
    assert_eq!(payment_rows(&s, &id), 1);
}

#[test]
fn paying_a_cancelled_order_answers_521() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));
    assert_eq!(cancel(&s, &token, "buyer", &id).status, 200);

    let after = payment(&s, "buyer", &id, &pw("buyer"));

    assert_eq!(after.status, 521);
    assert_eq!(s.balance("buyer"), 1000);
}

#[test]
fn an_unpaid_order_past_its_deadline_cannot_be_paid_and_its_stock_is_back() {
    let s = TestServer::start_with(|c| {
        c.order_timeout = 900;
        c.token_ttl = 100_000;
        c.test_clock = true;
    });
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 4)]));

    s.advance_clock(900);

    assert_eq!(s.pay("buyer", &id), 521);
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.stock("store", "b1"), 10);
    let listed = s.query_orders(&token, "buyer").body;
    assert_eq!(listed[0]["cancelled"], json!(true));
}

// Funds.

#[test]
fn adding_funds_deposits_and_a_negative_value_withdraws() {
    let s = TestServer::start();
    s.user("buyer");

    let deposit = s.add_funds("buyer", 500);
    let withdrawal = s.add_funds("buyer", -200);
    let everything = s.add_funds("buyer", -300);

    for a in [&deposit, &withdrawal, &everything] {
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.message(), "ok");
    }
    assert_eq!(s.balance("buyer"), 0);
    assert_eq!(
        s.sql_i64(
            "SELECT COUNT(*) FROM money_ledger WHERE user_id = ?1",
            "buyer"
        ),
        3
    );
}

#[test]
fn withdrawing_more_than_the_balance_answers_519_and_changes_nothing() {
    let s = TestServer::start();
    s.buyer_with_funds("buyer", 100);

    let over = s.add_funds("buyer", -101);

    assert_eq!(over.status, 519);
    assert_eq!(s.balance("buyer"), 100);
    assert_eq!(s.add_funds("buyer", -100).status, 200);
}

#[test]
fn adding_zero_answers_523() {
    let s = TestServer::start();
    s.buyer_with_funds("buyer", 100);

    let zero = s.add_funds("buyer", 0);

    assert_eq!(zero.status, 523);
    assert!(!zero.message().is_empty());
    assert_eq!(s.balance("buyer"), 100);
}

#[test]
fn adding_funds_needs_the_right_password() {
    let s = TestServer::start();
    s.buyer_with_funds("buyer", 100);

    let wrong = s.post(
        "/buyer/add_funds",
        json!({"user_id": "buyer", "password": "wrong", "add_value": 50}),
    );
    let unknown = s.add_funds("nobody", 50);

    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(s.balance("buyer"), 100);
}

#[test]
fn a_deposit_that_would_overflow_the_balance_answers_523_and_changes_nothing() {
    let s = TestServer::start();
    s.user("buyer");
    let near_max = i64::MAX - 1;

    let first = s.add_funds("buyer", near_max);
    let second = s.add_funds("buyer", near_max);

    assert_eq!(first.status, 200);
    assert_eq!(second.status, 523);
    assert_eq!(s.balance("buyer"), near_max);
    assert_eq!(s.add_funds("buyer", 1).status, 200);
    assert_eq!(s.balance("buyer"), i64::MAX);
}

// The order history.

#[test]
fn query_orders_answers_a_bare_array_of_the_contracts_shape_newest_first() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let first = order_id(&s.order(&token, "buyer", "store", &[("b1", 2)]));
    let second = order_id(&s.order(&token, "buyer", "store", &[("b2", 1), ("b3", 1)]));
    let third = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));
    assert_eq!(s.pay("buyer", &second), 200);
    assert_eq!(cancel(&s, &token, "buyer", &third).status, 200);

    let answer = s.query_orders(&token, "buyer");

    assert_eq!(answer.status, 200);
    let listed = answer.body.as_array().expect("a bare array");
    let ids: Vec<&str> = listed
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);
    for order in listed {
        assert_contract_shape(order);
    }
    let flags = |o: &Value| (o["paid"].clone(), o["cancelled"].clone());
    assert_eq!(flags(&listed[0]), (json!(false), json!(true)));
    assert_eq!(flags(&listed[1]), (json!(true), json!(false)));
    assert_eq!(flags(&listed[2]), (json!(false), json!(false)));
    assert_eq!(listed[1]["total_price"], 290);
    assert_eq!(
        listed[1]["order_books"],
        json!([{"book_id": "b2", "count": 1, "price": 250},
               {"book_id": "b3", "count": 1, "price": 40}])
    );
    assert_eq!(listed[2]["store_id"], "store");
}

/// Every field the contract names, with its JSON type.
fn assert_contract_shape(order: &Value) {
    assert!(order["order_id"].is_string(), "{order}");
    assert!(order["store_id"].is_string(), "{order}");
    assert!(order["total_price"].is_i64(), "{order}");
    assert!(order["paid"].is_boolean(), "{order}");
    assert!(order["cancelled"].is_boolean(), "{order}");
    let time = order["order_time"].as_str().expect("order_time");
    assert!(time.ends_with('Z'), "order_time {time} is not UTC");
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(time, &format).expect("order_time is RFC 3339");
    for line in order["order_books"].as_array().expect("order_books") {
        assert!(line["book_id"].is_string(), "{line}");
        assert!(line["count"].is_i64(), "{line}");
        assert!(line["price"].is_i64(), "{line}");
    }
}

#[test]
fn query_orders_of_a_buyer_without_orders_is_an_empty_array() {
    let s = TestServer::start();
    let token = s.user("buyer");

    let answer = s.query_orders(&token, "buyer");

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!([]));
}

#[test]
fn query_orders_lists_only_the_callers_orders_and_needs_its_token() {
    let s = TestServer::start();
    let token = shop(&s, 0);
    let other = s.user("other");
    order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));

    let others = s.query_orders(&other, "other");
    let as_buyer = s.query_orders(&other, "buyer");

    assert_eq!(others.body, json!([]));
    assert_eq!(as_buyer.status, 401);
}

// Cancelling.

#[test]
fn cancelling_an_unpaid_order_puts_its_stock_back() {
    let s = TestServer::start();
    let token = shop(&s, 0);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 3), ("b3", 1)]));

    let cancelled = cancel(&s, &token, "buyer", &id);

    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.message(), "ok");
    assert_eq!(stocks(&s), [10, 5, 1]);
}

#[test]
fn cancelling_a_paid_order_refunds_it() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b2", 2)]));
    assert_eq!(s.pay("buyer", &id), 200);

    let cancelled = cancel(&s, &token, "buyer", &id);

    assert_eq!(cancelled.status, 200);
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.stock("store", "b2"), 5);
    assert_eq!(
        s.sql_i64("SELECT held FROM orders WHERE order_id = ?1", &id),
        0
    );
}

#[test]
fn cancelling_twice_answers_521_and_returns_the_stock_once() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 3)]));
    assert_eq!(s.pay("buyer", &id), 200);
    assert_eq!(cancel(&s, &token, "buyer", &id).status, 200);

    let again = cancel(&s, &token, "buyer", &id);

    assert_eq!(again.status, 521);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(s.balance("buyer"), 1000);
}

#[test]
fn cancelling_someone_elses_or_an_unknown_order_answers_518() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let other = s.user("other");
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 3)]));

    let by_other = cancel(&s, &other, "other", &id);
    let unknown = cancel(&s, &token, "buyer", "00000000-0000-4000-8000-000000000000");

    assert_eq!(by_other.status, 518);
    assert_eq!(unknown.status, 518);
    assert_eq!(by_other.message(), unknown.message(), "do not reveal which");
    assert_eq!(s.stock("store", "b1"), 7);
    assert_eq!(s.pay("buyer", &id), 200);
}

#[test]
fn cancelling_needs_the_buyers_own_valid_token() {
    let s = TestServer::start();
    let token = shop(&s, 0);
    let other = s.user("other");
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 3)]));

    let with_other = cancel(&s, &other, "buyer", &id);
    let bogus = cancel(&s, "bogus", "buyer", &id);

    assert_eq!(with_other.status, 401);
    assert_eq!(bogus.status, 401);
    assert_eq!(s.stock("store", "b1"), 7);
}

#[test]
fn cancelling_a_shipped_order_answers_522() {
    let s = TestServer::start();
    let token = shop(&s, 1000);
    let seller = s.login("seller");
    let id = order_id(&s.order(&token, "buyer", "store", &[("b1", 1)]));
    assert_eq!(s.pay("buyer", &id), 200);
    let shipped = s.post_as(
        &seller,
        "/seller/ship_order",
        json!({"user_id": "seller", "order_id": id}),
    );
    assert_eq!(shipped.status, 200);

    let cancelled = cancel(&s, &token, "buyer", &id);

    assert_eq!(cancelled.status, 522);
    assert_eq!(s.stock("store", "b1"), 9);
    assert_eq!(s.balance("buyer"), 900);
}
