//! Whole order histories are kept between requests: a kept answer must never
//! outlive a change, a deadline, or the token that asked for it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use bookstore::model::history::{OrderQuery, Owner};
use common::{Answer, TestServer};
use serde_json::{json, Value};

/// A seller `s` with store `st` (book `b`, price 100, stock 1000) and a
/// buyer `u` with funds; returns (seller token, buyer token).
fn shop(s: &TestServer) -> (String, String) {
    let seller = s.seller_with_store("s", "st", &[("b", 100, 1000)]);
    let buyer = s.buyer_with_funds("u", 1_000_000);
    (seller, buyer)
}

/// The statuses of the buyer's whole history, newest first.
fn statuses(s: &TestServer, token: &str) -> Vec<String> {
    statuses_in(s.query_orders(token, "u"))
}

/// The statuses of the store's whole history, newest first.
fn store_statuses(s: &TestServer, seller: &str) -> Vec<String> {
    let body = json!({"user_id": "s", "store_id": "st"});
    statuses_in(s.post_as(seller, "/seller/query_orders", body))
}

/// The statuses of a successful order list, in its order.
fn statuses_in(a: Answer) -> Vec<String> {
    assert_eq!(a.status, 200, "{a:?}");
    let orders = a.body.as_array().expect("a bare array");
    orders
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect()
}

fn order_id(s: &TestServer, buyer: &str) -> String {
    let a = s.order(buyer, "u", "st", &[("b", 1)]);
    assert_eq!(a.status, 200, "{a:?}");
    a.body["order_id"].as_str().unwrap().to_string()
}

#[test]
fn every_step_of_an_order_shows_in_the_next_whole_history() {
    let s = TestServer::start();
    let (seller, buyer) = shop(&s);
    assert!(statuses(&s, &buyer).is_empty());
    let step = |token: &str, path: &str, id: &str| {
        let a = s.post_as(
            token,
            path,
            json!({"user_id": path_user(path), "order_id": id}),
        );
        assert_eq!(a.status, 200, "{path}: {a:?}");
    };

    let first = order_id(&s, &buyer);
    assert_eq!(statuses(&s, &buyer), ["unpaid"]);
    assert_eq!(store_statuses(&s, &seller), ["unpaid"]);
    assert_eq!(s.pay("u", &first), 200);
    assert_eq!(statuses(&s, &buyer), ["paid"]);
    assert_eq!(store_statuses(&s, &seller), ["paid"]);
    step(&seller, "/seller/ship_order", &first);
    assert_eq!(statuses(&s, &buyer), ["shipped"]);
    step(&buyer, "/buyer/receive_order", &first);
    assert_eq!(statuses(&s, &buyer), ["received"]);
    assert_eq!(store_statuses(&s, &seller), ["received"]);

    let second = order_id(&s, &buyer);
    assert_eq!(statuses(&s, &buyer), ["unpaid", "received"]);
    step(&buyer, "/buyer/cancel_order", &second);
    assert_eq!(statuses(&s, &buyer), ["cancelled", "received"]);
    assert_eq!(store_statuses(&s, &seller), ["cancelled", "received"]);
}

fn path_user(path: &str) -> &'static str {
    if path.starts_with("/seller") {
        "s"
    } else {
        "u"
    }
}

#[test]
fn a_kept_history_is_answered_only_with_a_valid_token_of_its_owner() {
    let s = TestServer::start();
    let (seller, buyer) = shop(&s);
    order_id(&s, &buyer);
    assert_eq!(statuses(&s, &buyer), ["unpaid"]);
    assert_eq!(store_statuses(&s, &seller), ["unpaid"]);

    let other = s.user("other");
    let wrong_buyer = s.query_orders(&other, "u");
    let wrong_store = s.post_as(
        &other,
        "/seller/query_orders",
        json!({"user_id": "other", "store_id": "st"}),
    );
    let logout = s.post_as(&buyer, "/auth/logout", json!({"user_id": "u"}));
    let logged_out = s.query_orders(&buyer, "u");

    assert_eq!(wrong_buyer.status, 401, "{wrong_buyer:?}");
    assert_eq!(wrong_store.status, 401, "{wrong_store:?}");
    assert_eq!(logout.status, 200, "{logout:?}");
    assert_eq!(logged_out.status, 401, "{logged_out:?}");
}

#[test]
fn a_kept_history_is_not_answered_once_an_unpaid_order_is_past_its_deadline() {
    let s = TestServer::start_with(|c| c.order_timeout = 60);
    let (_, buyer) = shop(&s);
    let paid = order_id(&s, &buyer);
    assert_eq!(s.pay("u", &paid), 200);
    order_id(&s, &buyer);
    let app = s.server().app();
    let now = app.now();
    let list = |at: i64| -> Value {
        let body = app
            .histories
            .list(
                &app.db,
                Owner::Buyer("u"),
                at,
                |_| Ok(OrderQuery::default()),
            )
            .unwrap();
        serde_json::from_slice(body.as_ref()).unwrap()
    };

    // Read twice at the same time so the second answer is a kept one, then
    // at the deadline, with no commit in between to forget it.
    let before = (list(now), list(now));
    let at_deadline = list(now + 60);

    assert_eq!(before.0, before.1);
    assert_eq!(before.1[0]["status"], "unpaid");
    assert_eq!(at_deadline[0]["status"], "cancelled");
    assert_eq!(at_deadline[0]["cancel_reason"], "timeout");
    assert_eq!(at_deadline[1]["status"], "paid");
}

/// A buyer places orders one after another while other threads ask for its
/// whole history: every answer holds at least every order acknowledged
/// before it was asked for, and each order's lines.
#[test]
fn whole_histories_asked_for_during_orders_hold_every_acknowledged_order() {
    let s = TestServer::start();
    let (_, buyer) = shop(&s);
    let placed = AtomicUsize::new(0);
    const ORDERS: usize = 60;

    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..ORDERS {
                order_id(&s, &buyer);
                placed.fetch_add(1, Ordering::SeqCst);
            }
        });
        for _ in 0..3 {
            scope.spawn(|| {
                while placed.load(Ordering::SeqCst) < ORDERS {
                    let acknowledged = placed.load(Ordering::SeqCst);
                    let a = s.query_orders(&buyer, "u");
                    let orders = a.body.as_array().expect("a bare array");
                    assert!(
                        orders.len() >= acknowledged,
                        "{} orders listed after {acknowledged} were placed",
                        orders.len()
                    );
                    assert!(orders.iter().all(|o| o["order_books"][0]["count"] == 1));
                }
            });
        }
    });

    assert_eq!(statuses(&s, &buyer).len(), ORDERS);
}
