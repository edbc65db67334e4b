//! What survives a restart on the same file: accounts, balances, stores,
//! stock, orders and the sessions that were open.

mod common;

use common::{book, pw, TestServer};
use serde_json::json;

#[test]
fn users_money_stores_stock_orders_and_tokens_survive_a_restart() {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10), ("b2", 250, 3)]);
    let buyer = s.buyer_with_funds("buyer", 1000);
    let paid = s.order(&buyer, "buyer", "store", &[("b1", 2)]);
    let paid_id = paid.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(s.pay("buyer", &paid_id), 200);
    let unpaid = s.order(&buyer, "buyer", "store", &[("b2", 1)]);
    let unpaid_id = unpaid.body["order_id"].as_str().unwrap().to_string();
    let history = s.query_orders(&buyer, "buyer").body;

    let s = s.restart();

    assert_eq!(s.query_orders(&buyer, "buyer").body, history);
    assert_eq!(s.balance("buyer"), 800);
    assert_eq!(s.stock("store", "b1"), 8);
    assert_eq!(s.stock("store", "b2"), 2);
    assert_eq!(s.pay("buyer", &unpaid_id), 200);
    assert_eq!(s.balance("buyer"), 550);
    let more = s.post_as(
        &seller,
        "/seller/add_stock_level",
        json!({"user_id": "seller", "store_id": "store", "book_id": "b1", "add_stock_level": 2}),
    );
    assert_eq!(more.status, 200);
    assert_eq!(s.stock("store", "b1"), 10);
    s.login("buyer");
}

#[test]
fn ids_stay_taken_after_a_restart() {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 100, 10)]);

    let s = s.restart();

    let user = s.post(
        "/auth/register",
        json!({"user_id": "seller", "password": "other"}),
    );
    let store = s.post_as(
        &seller,
        "/seller/create_store",
        json!({"user_id": "seller", "store_id": "store"}),
    );
    let listed = s.post_as(
        &seller,
        "/seller/add_book",
        json!({"user_id": "seller", "store_id": "store", "book_info": book("b1", 1),
               "stock_level": 1}),
    );
    assert_eq!(user.status, 512);
    assert_eq!(store.status, 514);
    assert_eq!(listed.status, 516);
}

#[test]
fn sessions_ended_before_a_restart_stay_ended() {
    let s = TestServer::start();
    s.register("alice");
    let kept = s.login("alice");
    let ended = s.login("alice");
    let out = s.post_as(&ended, "/auth/logout", json!({"user_id": "alice"}));
    assert_eq!(out.status, 200);
    s.register("bob");
    let bobs = s.login("bob");
    let changed = s.post(
        "/auth/password",
        json!({"user_id": "bob", "oldPassword": pw("bob"), "newPassword": "new"}),
    );
    assert_eq!(changed.status, 200);

    let s = s.restart();

    assert_eq!(s.query_orders(&kept, "alice").status, 200);
    assert_eq!(s.query_orders(&ended, "alice").status, 401);
    assert_eq!(s.query_orders(&bobs, "bob").status, 401);
}

/// The write-ahead log gives its disk space back once requests stop, and
/// what it held is in the main file.
#[test]
fn the_write_ahead_log_is_emptied_once_the_server_falls_quiet() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let buyer = s.buyer_with_funds("buyer", 1000);
    let order = s.order(&buyer, "buyer", "store", &[("b1", 3)]);
    assert_eq!(order.status, 200);
    let wal = s.db_path().with_extension("db-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert!(size() > 0, "the writes went to the log first");

    let started = std::time::Instant::now();
    while size() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the log still holds {} bytes",
            size()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    assert_eq!(s.stock("store", "b1"), 7);
    assert_eq!(s.balance("buyer"), 1000);
}
