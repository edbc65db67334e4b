//! `/auth`: registering, logging in and out, tokens and their lifetime,
//! password changes, and what closing an account does to its orders.

mod common;

use common::{pw, Answer, TestServer};
use serde_json::json;

fn login_as(s: &TestServer, user_id: &str, password: &str, terminal: &str) -> Answer {
    s.post(
        "/auth/login",
        json!({"user_id": user_id, "password": password, "terminal": terminal}),
    )
}

fn logout(s: &TestServer, token: Option<&str>, user_id: &str) -> Answer {
    let body = json!({ "user_id": user_id }).to_string();
    s.send("POST", "/auth/logout", token, Some(body.into_bytes()))
}

fn change_password(s: &TestServer, user_id: &str, old: &str, new: &str) -> Answer {
    s.post(
        "/auth/password",
        json!({"user_id": user_id, "oldPassword": old, "newPassword": new}),
    )
}

fn unregister(s: &TestServer, user_id: &str, password: &str) -> Answer {
    s.post(
        "/auth/unregister",
        json!({"user_id": user_id, "password": password}),
    )
}

/// The status `/buyer/query_orders` gives `token` acting as `user_id`: 200
/// while the session is good, 401 once it is not.
fn session_status(s: &TestServer, token: &str, user_id: &str) -> u16 {
    s.query_orders(token, user_id).status
}

#[test]
fn a_registered_user_logs_in_and_gets_a_token() {
    let s = TestServer::start();

    let registered = s.post(
        "/auth/register",
        json!({"user_id": "alice", "password": "secret"}),
    );
    let logged_in = login_as(&s, "alice", "secret", "phone");

    assert_eq!(registered.status, 200);
    assert_eq!(registered.message(), "ok");
    assert_eq!(logged_in.status, 200);
    assert_eq!(logged_in.message(), "ok");
    let token = logged_in.body["token"].as_str().expect("a token string");
    assert!(token.len() >= 32, "token {token:?} is short");
    assert_eq!(session_status(&s, token, "alice"), 200);
}

#[test]
fn registering_a_taken_id_answers_512_and_keeps_the_first_password() {
    let s = TestServer::start();
    s.register("alice");

    let again = s.post(
        "/auth/register",
        json!({"user_id": "alice", "password": "other"}),
    );

    assert_eq!(again.status, 512);
    assert!(!again.message().is_empty());
    assert_eq!(login_as(&s, "alice", "other", "t").status, 401);
    assert_eq!(login_as(&s, "alice", &pw("alice"), "t").status, 200);
}

#[test]
fn logging_in_with_a_wrong_password_or_an_unknown_id_answers_401() {
    let s = TestServer::start();
    s.register("alice");

    let wrong = login_as(&s, "alice", "wrong", "t");
    let unknown = login_as(&s, "nobody", "whatever", "t");

    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong.body.get("token").is_none());
    assert!(!wrong.message().is_empty());
}

#[test]
fn a_password_over_the_limit_is_refused_at_registration_and_wrong_elsewhere() {
    let s = TestServer::start();
    s.register("alice");
    let long = "p".repeat(1025);

    let register = s.post(
        "/auth/register",
        json!({"user_id": "bob", "password": long}),
    );
    let change = change_password(&s, "alice", &pw("alice"), &long);
    let login = login_as(&s, "alice", &long, "t");
    let close = unregister(&s, "alice", &long);

    assert_eq!(register.status, 523);
    assert_eq!(change.status, 523);
    assert_eq!(login.status, 401);
    assert_eq!(close.status, 401);
    assert_eq!(login_as(&s, "bob", &long, "t").status, 401);
    assert_eq!(login_as(&s, "alice", &pw("alice"), "t").status, 200);
    let longest = "p".repeat(1024);
    let register = s.post(
        "/auth/register",
        json!({"user_id": "carol", "password": longest}),
    );
    assert_eq!(register.status, 200);
    assert_eq!(login_as(&s, "carol", &longest, "t").status, 200);
}

#[test]
fn every_login_gives_a_new_token_and_earlier_ones_stay_valid() {
    let s = TestServer::start();
    s.register("alice");

    let tokens: Vec<String> = ["phone", "phone", "phone", "laptop"]
        .iter()
        .map(|terminal| {
            let a = login_as(&s, "alice", &pw("alice"), terminal);
            assert_eq!(a.status, 200);
            a.body["token"].as_str().unwrap().to_string()
        })
        .collect();

    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tokens.len(), "tokens repeat: {tokens:?}");
    for token in &tokens {
        assert_eq!(session_status(&s, token, "alice"), 200);
    }
}

#[test]
fn a_missing_or_made_up_token_answers_401() {
    let s = TestServer::start();
    s.user("alice");
    let body = json!({ "user_id": "alice" }).to_string().into_bytes();

    let missing = s.send("POST", "/buyer/query_orders", None, Some(body.clone()));
    let made_up = s.query_orders(&"0".repeat(64), "alice");
    let empty = s.query_orders("", "alice");

    assert_eq!(missing.status, 401);
    assert_eq!(made_up.status, 401);
    assert_eq!(empty.status, 401);
    assert!(!missing.message().is_empty());
}

#[test]
fn a_token_works_only_for_the_user_it_was_issued_to() {
    let s = TestServer::start();
    let alice = s.user("alice");
    s.user("bob");

    let as_bob = s.query_orders(&alice, "bob");
    let logout_bob = logout(&s, Some(&alice), "bob");
    let store_for_bob = s.post_as(
        &alice,
        "/seller/create_store",
        json!({"user_id": "bob", "store_id": "bobs"}),
    );

    assert_eq!(as_bob.status, 401);
    assert_eq!(logout_bob.status, 401);
    assert_eq!(store_for_bob.status, 401);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM stores"), 0);
    assert_eq!(session_status(&s, &alice, "alice"), 200);
}

#[test]
fn logging_out_ends_only_that_token() {
    let s = TestServer::start();
    s.register("alice");
    let first = s.login("alice");
    let second = s.login("alice");

    let out = logout(&s, Some(&first), "alice");

    assert_eq!(out.status, 200);
    assert_eq!(out.message(), "ok");
    assert_eq!(session_status(&s, &first, "alice"), 401);
    assert_eq!(session_status(&s, &second, "alice"), 200);
    assert_eq!(logout(&s, Some(&first), "alice").status, 401);
    assert_eq!(logout(&s, None, "alice").status, 401);
}

#[test]
fn a_token_expires_after_its_lifetime() {
    let s = TestServer::start_with(|c| {
        c.token_ttl = 60;
        c.test_clock = true;
    });
    let token = s.user("alice");

    // The wall clock moves on too, so the steps keep clear of the boundary.
    s.advance_clock(50);
    let before = session_status(&s, &token, "alice");
    s.advance_clock(10);
    let after = session_status(&s, &token, "alice");

    assert_eq!(before, 200);
    assert_eq!(after, 401);
    assert_eq!(logout(&s, Some(&token), "alice").status, 401);
    let fresh = s.login("alice");
    assert_eq!(session_status(&s, &fresh, "alice"), 200);
}

#[test]
fn changing_the_password_ends_every_session() {
    let s = TestServer::start();
    s.register("alice");
    let phone = s.login("alice");
    let laptop = s.login("alice");

    let changed = change_password(&s, "alice", &pw("alice"), "new-secret");

    assert_eq!(changed.status, 200);
    assert_eq!(session_status(&s, &phone, "alice"), 401);
    assert_eq!(session_status(&s, &laptop, "alice"), 401);
    assert_eq!(login_as(&s, "alice", &pw("alice"), "t").status, 401);
    assert_eq!(login_as(&s, "alice", "new-secret", "t").status, 200);
}

#[test]
fn a_password_change_with_a_wrong_old_password_answers_401_and_changes_nothing() {
    let s = TestServer::start();
    let token = s.user("alice");

    let wrong = change_password(&s, "alice", "wrong", "new-secret");
    let unknown = change_password(&s, "nobody", "x", "new-secret");

    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(session_status(&s, &token, "alice"), 200);
    assert_eq!(login_as(&s, "alice", "new-secret", "t").status, 401);
    assert_eq!(login_as(&s, "alice", &pw("alice"), "t").status, 200);
}

#[test]
fn an_unregistered_user_cannot_log_in_and_its_id_stays_taken() {
    let s = TestServer::start();
    let token = s.user("alice");

    let closed = unregister(&s, "alice", &pw("alice"));

    assert_eq!(closed.status, 200);
    assert_eq!(session_status(&s, &token, "alice"), 401);
    assert_eq!(login_as(&s, "alice", &pw("alice"), "t").status, 401);
    let again = s.post(
        "/auth/register",
        json!({"user_id": "alice", "password": "fresh"}),
    );
    assert_eq!(again.status, 512);
    assert_eq!(unregister(&s, "alice", &pw("alice")).status, 401);
    assert_eq!(s.add_funds("alice", 100).status, 401);
}

#[test]
fn unregistering_with_a_wrong_password_or_an_unknown_id_answers_401() {
    let s = TestServer::start();
    let token = s.user("alice");

    let wrong = unregister(&s, "alice", "wrong");
    let unknown = unregister(&s, "nobody", "x");

    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(session_status(&s, &token, "alice"), 200);
}

#[test]
fn closing_a_buyer_cancels_its_open_orders_returns_stock_and_refunds_paid_ones() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 10), ("b2", 300, 5)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let unpaid = s.order(&token, "buyer", "store", &[("b1", 2)]);
    let paid = s.order(&token, "buyer", "store", &[("b2", 1), ("b1", 1)]);
    let paid_id = paid.body["order_id"].as_str().unwrap();
    assert_eq!(s.pay("buyer", paid_id), 200);
    assert_eq!(s.balance("buyer"), 600);

    let closed = unregister(&s, "buyer", &pw("buyer"));

    assert_eq!(closed.status, 200);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(s.stock("store", "b2"), 5);
    assert_eq!(s.balance("buyer"), 1000, "the paid order is refunded");
    for answer in [&unpaid, &paid] {
        let id = answer.body["order_id"].as_str().unwrap();
        let cancelled = s.sql_i64(
            "SELECT COUNT(*) FROM orders WHERE order_id = ?1
             AND status = 'cancelled' AND cancel_reason = 'closed' AND held = 0",
            id,
        );
        assert_eq!(cancelled, 1, "order {id} is not cancelled");
    }
}

#[test]
fn closing_a_seller_cancels_the_open_orders_of_its_stores_and_refunds_their_buyers() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let unpaid = s.order(&token, "buyer", "store", &[("b1", 2)]);
    let paid = s.order(&token, "buyer", "store", &[("b1", 3)]);
    assert_eq!(s.pay("buyer", paid.body["order_id"].as_str().unwrap()), 200);

    let closed = unregister(&s, "seller", &pw("seller"));

    assert_eq!(closed.status, 200);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(s.balance("buyer"), 1000);
    let orders = s.query_orders(&token, "buyer");
    assert_eq!(orders.status, 200);
    let listed = orders.body.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for (order, placed) in listed.iter().zip([&paid, &unpaid]) {
        assert_eq!(order["order_id"], placed.body["order_id"]);
        assert_eq!(order["cancelled"], json!(true), "{order}");
    }
    let after = s.order(&token, "buyer", "store", &[("b1", 1)]);
    assert_eq!(after.status, 513, "a closed seller's store takes no orders");
}

#[test]
fn a_closed_sellers_stores_are_no_longer_shown_as_selling() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    s.seller_with_store("other", "open", &[("b1", 120, 5)]);

    assert_eq!(unregister(&s, "seller", &pw("seller")).status, 200);
    let (status, _, page) = s.get("/books/b1");
    let scoped = s.post(
        "/search/books",
        json!({"keyword": "b1", "store_id": "store"}),
    );
    let site = s.post("/search/books", json!({"keyword": "b1"}));

    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(
        page["stores"],
        json!([{"store_id": "open", "price": 120, "stock": 5}])
    );
    assert_eq!(page["store_count"], 1);
    assert_eq!(scoped.status, 513, "{scoped:?}");
    assert_eq!(site.status, 200, "{site:?}");
    assert_eq!(site.body["total"], 1, "{site:?}");
    for hit in site.body["books"].as_array().unwrap() {
        assert!(hit["stores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["store_id"] != "store"));
    }
}

#[test]
fn closing_a_buyer_pays_the_sellers_of_its_shipped_orders() {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let placed = s.order(&token, "buyer", "store", &[("b1", 4)]);
    let order_id = placed.body["order_id"].as_str().unwrap();
    assert_eq!(s.pay("buyer", order_id), 200);
    let shipped = s.post_as(
        &seller,
        "/seller/ship_order",
        json!({"user_id": "seller", "order_id": order_id}),
    );
    assert_eq!(shipped.status, 200);

    let closed = unregister(&s, "buyer", &pw("buyer"));

    assert_eq!(closed.status, 200);
    assert_eq!(s.balance("seller"), 400, "the seller is paid");
    assert_eq!(s.balance("buyer"), 600);
    assert_eq!(s.stock("store", "b1"), 6, "shipped copies stay sold");
    let received = s.sql_i64(
        "SELECT COUNT(*) FROM orders WHERE order_id = ?1
         AND status = 'received' AND held = 0 AND received_at IS NOT NULL",
        order_id,
    );
    assert_eq!(received, 1);
}

#[test]
fn hundreds_of_logins_of_one_user_all_stay_valid() {
    let s = TestServer::start();
    s.register("loader");

    let tokens: Vec<String> = (0..300).map(|_| s.login("loader")).collect();

    for token in &tokens {
        assert_eq!(session_status(&s, token, "loader"), 200);
    }
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM sessions WHERE user_id = ?1", "loader"),
        300
    );
}
