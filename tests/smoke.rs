mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn a_placed_and_paid_order_moves_stock_and_money() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 250, 10)]);
    let token = s.buyer_with_funds("buyer", 1000);

    let placed = s.order(&token, "buyer", "store", &[("b1", 3)]);
    assert_eq!(placed.status, 200, "{placed:?}");
    let order_id = placed.body["order_id"].as_str().unwrap();
    assert_eq!(s.pay("buyer", order_id), 200);

    assert_eq!(s.stock("store", "b1"), 7);
    assert_eq!(s.balance("buyer"), 250);
    let again = s.post(
        "/buyer/payment",
        json!({"user_id": "buyer", "order_id": order_id, "password": "buyer-pw"}),
    );
    assert_eq!(again.status, 520);
}
