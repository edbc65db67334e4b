//! `/seller`: creating stores, listing books and changing their stock, and
//! the rule that only a store's owner may do so.

mod common;

use common::{book, Answer, TestServer};
use serde_json::{json, Value};

fn create_store(s: &TestServer, token: &str, user_id: &str, store_id: &str) -> Answer {
    s.post_as(
        token,
        "/seller/create_store",
        json!({"user_id": user_id, "store_id": store_id}),
    )
}

fn add_book(s: &TestServer, token: &str, user_id: &str, store_id: &str, info: Value) -> Answer {
    s.post_as(
        token,
        "/seller/add_book",
        json!({"user_id": user_id, "store_id": store_id, "book_info": info, "stock_level": 4}),
    )
}

fn add_stock(
    s: &TestServer,
    token: &str,
    user_id: &str,
    store_id: &str,
    book_id: &str,
    n: i64,
) -> Answer {
    s.post_as(
        token,
        "/seller/add_stock_level",
        json!({"user_id": user_id, "store_id": store_id, "book_id": book_id, "add_stock_level": n}),
    )
}

fn listings(s: &TestServer) -> i64 {
    s.scalar("SELECT COUNT(*) FROM listings")
}

#[test]
fn a_seller_creates_a_store_lists_a_book_and_adds_stock() {
    let s = TestServer::start();
    let token = s.user("seller");

    let created = create_store(&s, &token, "seller", "store");
    let listed = add_book(&s, &token, "seller", "store", book("b1", 1250));
    let added = add_stock(&s, &token, "seller", "store", "b1", 6);

    for answer in [&created, &listed, &added] {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.message(), "ok");
    }
    assert_eq!(s.stock("store", "b1"), 10);
    let price = s.sql_i64("SELECT price FROM listings WHERE store_id = ?1", "store");
    assert_eq!(price, 1250);
}

#[test]
fn a_book_with_only_id_title_and_price_can_be_listed() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);

    let listed = add_book(
        &s,
        &token,
        "seller",
        "store",
        json!({"id": "bare", "title": "Bare", "price": 0}),
    );

    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(s.stock("store", "bare"), 4);
}

#[test]
fn creating_a_store_id_that_is_taken_answers_514() {
    let s = TestServer::start();
    let first = s.seller_with_store("first", "store", &[]);
    let second = s.user("second");

    let again = create_store(&s, &first, "first", "store");
    let by_other = create_store(&s, &second, "second", "store");

    assert_eq!(again.status, 514);
    assert_eq!(by_other.status, 514);
    assert!(!by_other.message().is_empty());
    let owner = s.sql_i64(
        "SELECT COUNT(*) FROM stores WHERE store_id = 'store' AND owner_id = ?1",
        "first",
    );
    assert_eq!(owner, 1);
}

#[test]
fn an_unknown_store_answers_513() {
    let s = TestServer::start();
    let token = s.user("seller");

    let listed = add_book(&s, &token, "seller", "nowhere", book("b1", 100));
    let added = add_stock(&s, &token, "seller", "nowhere", "b1", 1);

    assert_eq!(listed.status, 513);
    assert_eq!(added.status, 513);
    assert_eq!(listings(&s), 0);
}

#[test]
fn listing_a_book_the_store_already_lists_answers_516_and_keeps_it_unchanged() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);

    let again = s.post_as(
        &token,
        "/seller/add_book",
        json!({"user_id": "seller", "store_id": "store",
               "book_info": book("b1", 999), "stock_level": 50}),
    );

    assert_eq!(again.status, 516);
    assert_eq!(s.stock("store", "b1"), 10);
    let price = s.sql_i64("SELECT price FROM listings WHERE store_id = ?1", "store");
    assert_eq!(price, 100);
}

#[test]
fn adding_stock_to_a_book_the_store_does_not_list_answers_515() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    s.seller_with_store("other", "elsewhere", &[("only-there", 100, 3)]);

    let unknown = add_stock(&s, &token, "seller", "store", "no-such-book", 5);
    let listed_elsewhere = add_stock(&s, &token, "seller", "store", "only-there", 5);

    assert_eq!(unknown.status, 515);
    assert_eq!(listed_elsewhere.status, 515);
    assert_eq!(s.stock("elsewhere", "only-there"), 3);
    assert_eq!(listings(&s), 2);
}

#[test]
fn removing_stock_may_reach_zero_but_not_go_below_it() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);

    let too_many = add_stock(&s, &token, "seller", "store", "b1", -11);
    let stock_after_refusal = s.stock("store", "b1");
    let all = add_stock(&s, &token, "seller", "store", "b1", -10);

    assert_eq!(too_many.status, 517);
    assert_eq!(stock_after_refusal, 10);
    assert_eq!(all.status, 200);
    assert_eq!(s.stock("store", "b1"), 0);
    assert_eq!(
        add_stock(&s, &token, "seller", "store", "b1", -1).status,
        517
    );
    assert_eq!(s.stock("store", "b1"), 0);
}

#[test]
fn acting_on_someone_elses_store_answers_401_and_changes_nothing() {
    let s = TestServer::start();
    s.seller_with_store("owner", "store", &[("b1", 100, 10)]);
    let intruder = s.user("intruder");

    let listed = add_book(&s, &intruder, "intruder", "store", book("b2", 1));
    let added = add_stock(&s, &intruder, "intruder", "store", "b1", 100);
    let removed = add_stock(&s, &intruder, "intruder", "store", "b1", -10);

    assert_eq!(listed.status, 401);
    assert_eq!(added.status, 401);
    assert_eq!(removed.status, 401);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(listings(&s), 1);
}

#[test]
fn someone_elses_store_answers_401_even_when_the_values_are_bad_too() {
    let s = TestServer::start();
    s.seller_with_store("owner", "store", &[("b1", 100, 10)]);
    let intruder = s.user("intruder");
    let mut bad_price = book("b2", 1);
    bad_price["price"] = json!(-1);

    let zero = add_stock(&s, &intruder, "intruder", "store", "b1", 0);
    let priced = add_book(&s, &intruder, "intruder", "store", bad_price);
    let paged = s.post_as(
        &intruder,
        "/seller/query_orders",
        json!({"user_id": "intruder", "store_id": "store", "page": 0}),
    );

    assert_eq!(zero.status, 401, "{zero:?}");
    assert_eq!(priced.status, 401, "{priced:?}");
    assert_eq!(paged.status, 401, "{paged:?}");
    assert_eq!(s.stock("store", "b1"), 10);
}

#[test]
fn ids_beyond_the_limits_are_bad_values_wherever_they_are_sent() {
    let s = TestServer::start();
    let token = s.seller_with_store("owner", "store", &[("b1", 100, 10)]);
    let long = "x".repeat(201);

    let store_listing = add_book(&s, &token, "owner", &long, book("b2", 1));
    let control = add_stock(&s, &token, "owner", "store", "b1\n", 1);
    let long_book = add_stock(&s, &token, "owner", "store", &long, 1);
    let history = s.post_as(
        &token,
        "/seller/query_orders",
        json!({"user_id": "owner", "store_id": long}),
    );
    let search = s.post(
        "/search/books",
        json!({"keyword": "x", "store_id": "store\u{0}"}),
    );

    for a in [&store_listing, &control, &long_book, &history, &search] {
        assert_eq!(a.status, 523, "{a:?}");
    }
    assert_eq!(listings(&s), 1);
    assert_eq!(s.stock("store", "b1"), 10);
}

#[test]
fn pictures_that_are_not_images_answer_523_and_list_nothing() {
    let s = TestServer::start();
    let token = s.seller_with_store("owner", "store", &[]);
    let mut text = book("b1", 1);
    text["pictures"] = json!(["aGVsbG8gd29ybGQ="]);
    let mut empty = book("b2", 1);
    empty["pictures"] = json!([""]);

    let texts = add_book(&s, &token, "owner", "store", text);
    let empties = add_book(&s, &token, "owner", "store", empty);

    assert_eq!(texts.status, 523, "{texts:?}");
    assert!(texts.message().contains("pictures[0]"), "{texts:?}");
    assert_eq!(empties.status, 523, "{empties:?}");
    assert_eq!(listings(&s), 0);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM books"), 0);
}

#[test]
fn seller_requests_without_a_valid_token_of_that_seller_answer_401() {
    let s = TestServer::start();
    let owner = s.seller_with_store("owner", "store", &[("b1", 100, 10)]);
    let other = s.user("other");
    let bad_tokens = [None, Some(""), Some("not-a-token"), Some(other.as_str())];

    for token in bad_tokens {
        let requests = [
            (
                "/seller/create_store",
                json!({"user_id": "owner", "store_id": "new"}),
            ),
            (
                "/seller/add_book",
                json!({"user_id": "owner", "store_id": "store",
                       "book_info": book("b2", 1), "stock_level": 1}),
            ),
            (
                "/seller/add_stock_level",
                json!({"user_id": "owner", "store_id": "store",
                       "book_id": "b1", "add_stock_level": 1}),
            ),
        ];
        for (path, body) in requests {
            let a = s.send("POST", path, token, Some(body.to_string().into_bytes()));
            assert_eq!(a.status, 401, "{path} with token {token:?}: {a:?}");
        }
    }

    assert_eq!(s.scalar("SELECT COUNT(*) FROM stores"), 1);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(listings(&s), 1);
    assert_eq!(add_stock(&s, &owner, "owner", "store", "b1", 1).status, 200);
}

#[test]
fn the_same_book_in_two_stores_is_sold_at_each_stores_price() {
    let s = TestServer::start();
    s.seller_with_store("cheap", "cheap-store", &[("b1", 100, 5)]);
    s.seller_with_store("dear", "dear-store", &[("b1", 250, 5)]);
    let token = s.buyer_with_funds("buyer", 10_000);

    let from_cheap = s.order(&token, "buyer", "cheap-store", &[("b1", 2)]);
    let from_dear = s.order(&token, "buyer", "dear-store", &[("b1", 2)]);
    for order in [&from_cheap, &from_dear] {
        assert_eq!(
            s.pay("buyer", order.body["order_id"].as_str().unwrap()),
            200
        );
    }

    assert_eq!(s.balance("buyer"), 10_000 - 200 - 500);
    assert_eq!(s.stock("cheap-store", "b1"), 3);
    assert_eq!(s.stock("dear-store", "b1"), 3);
    let orders = s.query_orders(&token, "buyer").body;
    let by_store = |store: &str| {
        orders
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["store_id"] == store)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_store("cheap-store")["total_price"], 200);
    assert_eq!(by_store("cheap-store")["order_books"][0]["price"], 100);
    assert_eq!(by_store("dear-store")["total_price"], 500);
    assert_eq!(by_store("dear-store")["order_books"][0]["price"], 250);
}

#[test]
fn ids_in_any_script_and_with_quotes_are_plain_data() {
    let s = TestServer::start();
    let seller = "卖家'; DROP TABLE users;--";
    let store = "书店 \"一号\"";
    let book_id = "书-1' OR '1'='1";
    s.seller_with_store(seller, store, &[(book_id, 300, 2)]);
    let token = s.buyer_with_funds("买家", 300);

    let order = s.order(&token, "买家", store, &[(book_id, 1)]);

    assert_eq!(order.status, 200, "{order:?}");
    assert_eq!(s.pay("买家", order.body["order_id"].as_str().unwrap()), 200);
    assert_eq!(s.stock(store, book_id), 1);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM users"), 2);
}

#[test]
fn stock_beyond_the_largest_integer_answers_523_and_changes_nothing() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);

    let over = add_stock(&s, &token, "seller", "store", "b1", i64::MAX);
    let to_the_top = add_stock(&s, &token, "seller", "store", "b1", i64::MAX - 10);

    assert_eq!(over.status, 523);
    assert_eq!(to_the_top.status, 200);
    assert_eq!(s.stock("store", "b1"), i64::MAX);
}

#[test]
fn stock_that_open_orders_could_not_give_back_is_refused() {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let buyer = s.buyer_with_funds("buyer", 0);
    let placed = s.order(&buyer, "buyer", "store", &[("b1", 5)]);
    let order_id = placed.body["order_id"].as_str().unwrap();

    // Five copies on hand fit below the largest integer, but the five the
    // order holds would no longer fit once it is cancelled.
    let added = add_stock(&s, &seller, "seller", "store", "b1", i64::MAX - 5);
    let cancelled = s.post_as(
        &buyer,
        "/buyer/cancel_order",
        json!({"user_id": "buyer", "order_id": order_id}),
    );

    assert_eq!(added.status, 523);
    assert_eq!(cancelled.status, 200);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(s.order(&buyer, "buyer", "store", &[("b1", 10)]).status, 200);
}
