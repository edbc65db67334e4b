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
