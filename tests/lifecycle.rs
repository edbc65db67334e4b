//! The order lifecycle: paying, shipping, receiving and cancelling, where
//! the money and the stock are after each step, every refused step with its
//! code, and the buyer's and the seller's lists of orders.

mod common;

use common::{Answer, TestServer};
use serde_json::{json, Value};

/// A store selling b1 at 250 (10 copies) and b2 at 40 (5 copies), and a
/// buyer with 1000 cents.
struct Shop {
    s: TestServer,
    seller: String,
    buyer: String,
}

fn shop() -> Shop {
    let s = TestServer::start();
    let seller = s.seller_with_store("seller", "store", &[("b1", 250, 10), ("b2", 40, 5)]);
    let buyer = s.buyer_with_funds("buyer", 1000);
    Shop { s, seller, buyer }
}

impl Shop {
    fn order(&self, lines: &[(&str, i64)]) -> String {
        let placed = self.s.order(&self.buyer, "buyer", "store", lines);
        assert_eq!(placed.status, 200, "{placed:?}");
        placed.body["order_id"].as_str().unwrap().to_string()
    }

    fn ship(&self, order_id: &str) -> Answer {
        let body = json!({"user_id": "seller", "order_id": order_id});
        self.s.post_as(&self.seller, "/seller/ship_order", body)
    }

    fn receive(&self, order_id: &str) -> Answer {
        let body = json!({"user_id": "buyer", "order_id": order_id});
        self.s.post_as(&self.buyer, "/buyer/receive_order", body)
    }

    fn cancel(&self, order_id: &str) -> Answer {
        let body = json!({"user_id": "buyer", "order_id": order_id});
        self.s.post_as(&self.buyer, "/buyer/cancel_order", body)
    }

    /// The buyer's view of one order.
    fn view(&self, order_id: &str) -> Value {
        let all = self.s.post_as(
            &self.buyer,
            "/buyer/query_orders",
            json!({"user_id": "buyer"}),
        );
        all.body
            .as_array()
            .expect("a bare array")
            .iter()
            .find(|o| o["order_id"] == order_id)
            .expect("the order is listed")
            .clone()
    }

    /// Everything a refused step must leave as it was.
    fn state(&self, order_id: &str) -> (i64, i64, i64, i64, i64, String) {
        let held = self
            .s
            .sql_i64("SELECT held FROM orders WHERE order_id = ?1", order_id);
        let status = self
            .s
            .sql_text("SELECT status FROM orders WHERE order_id = ?1", order_id);
        (
            self.s.balance("buyer"),
            self.s.balance("seller"),
            self.s.stock("store", "b1"),
            self.s.stock("store", "b2"),
            held,
            status,
        )
    }
}

fn held(shop: &Shop, order_id: &str) -> i64 {
    shop.s
        .sql_i64("SELECT held FROM orders WHERE order_id = ?1", order_id)
}

#[test]
fn an_order_moves_from_unpaid_to_received_and_its_money_follows() {
    let shop = shop();

    let id = shop.order(&[("b1", 2), ("b2", 3)]);
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (1000, 0)
    );
    assert_eq!(
        (shop.s.stock("store", "b1"), shop.s.stock("store", "b2")),
        (8, 2)
    );
    assert_eq!(shop.view(&id)["status"], "unpaid");

    assert_eq!(shop.s.pay("buyer", &id), 200);
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (380, 0)
    );
    assert_eq!(held(&shop, &id), 620);
    assert_eq!(shop.view(&id)["status"], "paid");

    assert_eq!(shop.ship(&id).status, 200);
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (380, 0)
    );
    assert_eq!(held(&shop, &id), 620);
    assert_eq!(shop.view(&id)["status"], "shipped");

    assert_eq!(shop.receive(&id).status, 200);
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (380, 620)
    );
    assert_eq!(held(&shop, &id), 0);
    assert_eq!(
        (shop.s.stock("store", "b1"), shop.s.stock("store", "b2")),
        (8, 2)
    );

    let order = shop.view(&id);
    assert_eq!(order["status"], "received");
    assert_eq!(
        (&order["paid"], &order["cancelled"]),
        (&json!(true), &json!(false))
    );
    let times = ["order_time", "paid_time", "shipped_time", "received_time"];
    let stamps: Vec<&str> = times.iter().map(|t| order[t].as_str().unwrap()).collect();
    assert!(
        stamps.iter().all(|t| t.len() == 20 && t.ends_with('Z')),
        "{order}"
    );
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{order}");
    assert_eq!(order["cancelled_time"], Value::Null);
}

#[test]
fn cancelling_a_paid_order_refunds_it_whole_and_puts_the_stock_back() {
    let shop = shop();
    let id = shop.order(&[("b1", 2), ("b2", 5)]);
    assert_eq!(shop.s.pay("buyer", &id), 200);
    assert_eq!(shop.s.balance("buyer"), 300);

    let cancel = shop.cancel(&id);

    assert_eq!(cancel.status, 200, "{cancel:?}");
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (1000, 0)
    );
    assert_eq!(held(&shop, &id), 0);
    assert_eq!(
        (shop.s.stock("store", "b1"), shop.s.stock("store", "b2")),
        (10, 5)
    );
    let order = shop.view(&id);
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancel_reason"], "buyer");
    assert_eq!(
        (&order["paid"], &order["cancelled"]),
        (&json!(false), &json!(true))
    );
    assert!(order["paid_time"].is_string() && order["cancelled_time"].is_string());
    // The whole stock can be ordered again.
    let again = shop
        .s
        .order(&shop.buyer, "buyer", "store", &[("b1", 10), ("b2", 5)]);
    assert_eq!(again.status, 200, "{again:?}");
}

#[test]
fn cancelling_an_unpaid_order_puts_the_stock_back_and_moves_no_money() {
    let shop = shop();
    let id = shop.order(&[("b2", 5)]);
    assert_eq!(shop.s.stock("store", "b2"), 0);

    let cancel = shop.cancel(&id);

    assert_eq!(cancel.status, 200, "{cancel:?}");
    assert_eq!(shop.s.stock("store", "b2"), 5);
    assert_eq!(
        (shop.s.balance("buyer"), shop.s.balance("seller")),
        (1000, 0)
    );
    let again = shop.s.order(&shop.buyer, "buyer", "store", &[("b2", 5)]);
    assert_eq!(again.status, 200, "{again:?}");
}

/// Runs a step that must be refused with `code`, and checks it changed
/// nothing.
fn refused(shop: &Shop, id: &str, code: u16, step: &str, run: impl Fn() -> u16) {
    let before = shop.state(id);
    assert_eq!(run(), code, "{step} in state {}", before.5);
    assert_eq!(shop.state(id), before, "{step} changed something");
}

#[test]
fn every_step_from_the_wrong_state_is_refused_and_changes_nothing() {
    let shop = shop();
    let id = shop.order(&[("b1", 1)]);
    let pay = || shop.s.pay("buyer", &id);
    let ship = || shop.ship(&id).status;
    let receive = || shop.receive(&id).status;
    let cancel = || shop.cancel(&id).status;

    // unpaid
    refused(&shop, &id, 522, "ship", ship);
    refused(&shop, &id, 522, "receive", receive);
    assert_eq!(pay(), 200);
    // paid
    refused(&shop, &id, 520, "pay", pay);
    refused(&shop, &id, 522, "receive", receive);
    assert_eq!(ship(), 200);
    // shipped
    refused(&shop, &id, 520, "pay", pay);
    refused(&shop, &id, 522, "ship", ship);
    refused(&shop, &id, 522, "cancel", cancel);
    assert_eq!(receive(), 200);
    // received
    refused(&shop, &id, 520, "pay", pay);
    refused(&shop, &id, 522, "ship", ship);
    refused(&shop, &id, 522, "receive", receive);
    refused(&shop, &id, 522, "cancel", cancel);

    let gone = shop.order(&[("b1", 1)]);
    assert_eq!(shop.cancel(&gone).status, 200);
    // cancelled
    refused(&shop, &gone, 521, "pay", || shop.s.pay("buyer", &gone));
    refused(&shop, &gone, 521, "cancel", || shop.cancel(&gone).status);
    refused(&shop, &gone, 522, "ship", || shop.ship(&gone).status);
    refused(&shop, &gone, 522, "receive", || shop.receive(&gone).status);
}

#[test]
fn paying_more_than_the_balance_is_refused_and_changes_nothing() {
    let shop = shop();
    let id = shop.order(&[("b1", 5)]);

    refused(&shop, &id, 519, "pay", || shop.s.pay("buyer", &id));
}

#[test]
fn only_the_stores_owner_ships_and_only_the_buyer_receives() {
    let shop = shop();
    let id = shop.order(&[("b1", 1)]);
    assert_eq!(shop.s.pay("buyer", &id), 200);
    let other = shop.s.seller_with_store("other", "other-store", &[]);
    let stranger = shop.s.buyer_with_funds("stranger", 0);
    let order = |user: &str| json!({"user_id": user, "order_id": id});

    let s = &shop.s;
    refused(&shop, &id, 401, "ship by another seller", || {
        s.post_as(&other, "/seller/ship_order", order("other"))
            .status
    });
    refused(&shop, &id, 401, "ship by the buyer", || {
        s.post_as(&shop.buyer, "/seller/ship_order", order("buyer"))
            .status
    });
    refused(&shop, &id, 401, "ship with someone else's token", || {
        s.post_as(&shop.buyer, "/seller/ship_order", order("seller"))
            .status
    });
    refused(&shop, &id, 401, "ship without a token", || {
        s.post("/seller/ship_order", order("seller")).status
    });
    assert_eq!(shop.ship(&id).status, 200);
    refused(&shop, &id, 401, "receive by a stranger", || {
        s.post_as(&stranger, "/buyer/receive_order", order("stranger"))
            .status
    });
    refused(&shop, &id, 401, "receive by the seller", || {
        s.post_as(&shop.seller, "/buyer/receive_order", order("seller"))
            .status
    });
    refused(&shop, &id, 518, "cancel by a stranger", || {
        s.post_as(&stranger, "/buyer/cancel_order", order("stranger"))
            .status
    });
    refused(&shop, &id, 401, "pay by a stranger", || {
        s.pay("stranger", &id)
    });
}

#[test]
fn unknown_orders_and_malformed_requests_are_refused() {
    let shop = shop();
    let s = &shop.s;
    let unknown = json!({"user_id": "seller", "order_id": "no-such-order"});

    let ship = s.post_as(&shop.seller, "/seller/ship_order", unknown.clone());
    let receive = s.post_as(
        &shop.buyer,
        "/buyer/receive_order",
        json!({"user_id": "buyer", "order_id": "no-such-order"}),
    );
    let missing = s.post_as(
        &shop.seller,
        "/seller/ship_order",
        json!({"user_id": "seller"}),
    );
    let wrong_type = s.post_as(
        &shop.buyer,
        "/buyer/receive_order",
        json!({"user_id": "buyer", "order_id": 7}),
    );
    let not_json = s.post_raw("/seller/ship_order", Some(&shop.seller), b"{order");

    assert_eq!(ship.status, 518, "{ship:?}");
    assert_eq!(receive.status, 518, "{receive:?}");
    assert_eq!(missing.status, 523, "{missing:?}");
    assert_eq!(wrong_type.status, 523, "{wrong_type:?}");
    assert_eq!(not_json.status, 523, "{not_json:?}");
    assert!(missing.message().contains("order_id"), "{missing:?}");
}

#[test]
fn the_buyers_query_has_the_seeds_shape_newest_first() {
    let shop = shop();
    let first = shop.order(&[("b1", 1), ("b2", 2)]);
    let second = shop.order(&[("b2", 1)]);
    assert_eq!(shop.s.pay("buyer", &second), 200);

    let all = shop.s.post_as(
        &shop.buyer,
        "/buyer/query_orders",
        json!({"user_id": "buyer"}),
    );

    assert_eq!(all.status, 200, "{all:?}");
    let orders = all.body.as_array().expect("a bare array");
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0]["order_id"], second.as_str());
    assert_eq!(orders[1]["order_id"], first.as_str());
    let o = &orders[1];
    for key in [
        "order_id",
        "store_id",
        "order_time",
        "total_price",
        "paid",
        "cancelled",
    ] {
        assert!(o.get(key).is_some(), "{key} missing from {o}");
    }
    assert_eq!(o["store_id"], "store");
    assert_eq!(o["total_price"], 330);
    assert_eq!(
        (&o["paid"], &o["cancelled"]),
        (&json!(false), &json!(false))
    );
    let mut books = o["order_books"].as_array().unwrap().clone();
    books.sort_by_key(|b| b["book_id"].as_str().unwrap().to_string());
    assert_eq!(
        books,
        [
            json!({"book_id": "b1", "count": 1, "price": 250}),
            json!({"book_id": "b2", "count": 2, "price": 40})
        ]
    );
    assert_eq!(orders[0]["paid"], true);
}

#[test]
fn the_buyers_query_filters_by_status_and_pages() {
    let shop = shop();
    let ids: Vec<String> = (0..5).map(|_| shop.order(&[("b2", 1)])).collect();
    assert_eq!(shop.s.pay("buyer", &ids[1]), 200);
    assert_eq!(shop.s.pay("buyer", &ids[3]), 200);
    let query = |extra: Value| {
        let mut body = json!({"user_id": "buyer"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        shop.s.post_as(&shop.buyer, "/buyer/query_orders", body)
    };
    let listed = |a: &Answer| -> Vec<String> {
        assert_eq!(a.status, 200, "{a:?}");
        let orders = a.body.as_array().unwrap();
        orders
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect()
    };

    assert_eq!(
        listed(&query(json!({"status": "paid"}))),
        [ids[3].clone(), ids[1].clone()]
    );
    assert_eq!(
        listed(&query(json!({"status": "unpaid", "page_size": 2}))),
        [ids[4].clone(), ids[2].clone()]
    );
    assert_eq!(
        listed(&query(json!({"page": 2, "page_size": 2}))),
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        listed(&query(json!({"page": 4, "page_size": 2}))),
        Vec::<String>::new()
    );
    assert_eq!(query(json!({"status": "lost"})).status, 523);
    assert_eq!(query(json!({"page": 0})).status, 523);
    assert_eq!(query(json!({"page_size": 0})).status, 523);
}

#[test]
fn the_seller_lists_one_stores_orders_with_their_buyers() {
    let shop = shop();
    let s = &shop.s;
    let own = shop.order(&[("b1", 1)]);
    let other_buyer = s.buyer_with_funds("other-buyer", 1000);
    let theirs = s.order(&other_buyer, "other-buyer", "store", &[("b2", 2)]);
    let theirs = theirs.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(s.pay("other-buyer", &theirs), 200);
    let second_store = json!({"user_id": "seller", "store_id": "second"});
    assert_eq!(
        s.post_as(&shop.seller, "/seller/create_store", second_store)
            .status,
        200
    );
    let query = |token: &str, user: &str, store: &str, extra: Value| {
        let mut body = json!({"user_id": user, "store_id": store});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s.post_as(token, "/seller/query_orders", body)
    };

    let all = query(&shop.seller, "seller", "store", json!({}));
    let paid = query(&shop.seller, "seller", "store", json!({"status": "paid"}));
    let page = query(
        &shop.seller,
        "seller",
        "store",
        json!({"page": 2, "page_size": 1}),
    );
    let empty = query(&shop.seller, "seller", "second", json!({}));

    assert_eq!(all.status, 200, "{all:?}");
    let orders = all.body.as_array().expect("a bare array");
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0]["order_id"], theirs.as_str());
    assert_eq!(orders[0]["buyer_id"], "other-buyer");
    assert_eq!(orders[0]["status"], "paid");
    assert_eq!(
        orders[0]["order_books"],
        json!([{"book_id": "b2", "count": 2, "price": 40}])
    );
    assert_eq!(orders[1]["order_id"], own.as_str());
    assert_eq!(orders[1]["buyer_id"], "buyer");
    assert!(orders[1]["order_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(paid.body.as_array().unwrap().len(), 1);
    assert_eq!(page.body.as_array().unwrap()[0]["order_id"], own.as_str());
    assert_eq!(empty.body, json!([]));
}

#[test]
fn only_the_owner_may_list_a_stores_orders() {
    let shop = shop();
    let s = &shop.s;
    shop.order(&[("b1", 1)]);
    let body = |user: &str, store: &str| json!({"user_id": user, "store_id": store});

    let buyer = s.post_as(&shop.buyer, "/seller/query_orders", body("buyer", "store"));
    let forged = s.post_as(&shop.buyer, "/seller/query_orders", body("seller", "store"));
    let no_token = s.post("/seller/query_orders", body("seller", "store"));
    let unknown = s.post_as(
        &shop.seller,
        "/seller/query_orders",
        body("seller", "nowhere"),
    );
    let bad_page = s.post_as(
        &shop.seller,
        "/seller/query_orders",
        json!({"user_id": "seller", "store_id": "store", "page": -1}),
    );

    assert_eq!(buyer.status, 401, "{buyer:?}");
    assert_eq!(forged.status, 401, "{forged:?}");
    assert_eq!(no_token.status, 401, "{no_token:?}");
    assert_eq!(unknown.status, 513, "{unknown:?}");
    assert_eq!(bad_page.status, 523, "{bad_page:?}");
}

#[test]
fn stock_cannot_be_raised_so_high_that_a_cancel_would_overflow_it() {
    let shop = shop();
    let id = shop.order(&[("b2", 5)]);
    let add = |value: i64| {
        let body = json!({"user_id": "seller", "store_id": "store", "book_id": "b2",
                          "add_stock_level": value});
        shop.s
            .post_as(&shop.seller, "/seller/add_stock_level", body)
            .status
    };

    let too_much = add(i64::MAX);
    let just_enough = add(i64::MAX - 5);
    let one_more = add(1);
    let cancel = shop.cancel(&id);

    assert_eq!(too_much, 523, "the 5 copies out would not fit back");
    assert_eq!(just_enough, 200);
    assert_eq!(one_more, 523);
    assert_eq!(cancel.status, 200, "{cancel:?}");
    assert_eq!(shop.s.stock("store", "b2"), i64::MAX);
}

#[test]
fn a_release_that_would_overflow_the_sellers_balance_keeps_the_money_held() {
    let shop = shop();
    let s = &shop.s;
    let fill =
        json!({"user_id": "seller", "password": common::pw("seller"), "add_value": i64::MAX});
    assert_eq!(s.post("/buyer/add_funds", fill).status, 200);
    let id = shop.order(&[("b1", 1)]);
    assert_eq!(s.pay("buyer", &id), 200);
    assert_eq!(shop.ship(&id).status, 200);

    let receive = shop.receive(&id);

    assert_eq!(receive.status, 523, "{receive:?}");
    assert_eq!(s.balance("seller"), i64::MAX);
    assert_eq!(held(&shop, &id), 250);
    assert_eq!(shop.view(&id)["status"], "shipped");
}
