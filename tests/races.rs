//! Requests racing each other from real threads: the last copies, one order
//! paid many times at once, deposits arriving together, and the server
//! giving memory back under running requests. Each race must end exactly as
//! if the requests had come one by one.

mod common;

use std::sync::Barrier;
use std::thread;

use common::TestServer;

/// Runs `f(i)` for each `i` in `0..n` on its own thread, all released at the
/// same moment, and returns the results in `i` order.
fn race<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(n);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (start, f) = (&start, &f);
                scope.spawn(move || {
                    start.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn count(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|&&s| s == code).count()
}

#[test]
fn twenty_buyers_racing_for_ten_copies_get_exactly_ten() {
    let s = TestServer::start_with(|c| c.workers = 8);
    s.seller_with_store("seller", "store", &[("last", 100, 10)]);
    let buyers: Vec<(String, String)> = (0..20)
        .map(|i| {
            let id = format!("buyer{i}");
            let token = s.user(&id);
            (id, token)
        })
        .collect();

    let statuses = race(buyers.len(), |i| {
        let (id, token) = &buyers[i];
        s.order(token, id, "store", &[("last", 1)]).status
    });

    assert_eq!(count(&statuses, 200), 10, "{statuses:?}");
    assert_eq!(count(&statuses, 517), 10, "{statuses:?}");
    assert_eq!(s.stock("store", "last"), 0);
    assert_eq!(s.scalar("SELECT COUNT(*) FROM orders"), 10);
    assert_eq!(
        s.scalar("SELECT SUM(line.value ->> 'count') FROM orders, json_each(orders.books) AS line"),
        10
    );
    // The ledger has the seller's ten copies; the orders' lines took them.
    assert_eq!(s.scalar("SELECT SUM(delta) FROM stock_ledger"), 10);
}

#[test]
fn one_order_paid_from_ten_threads_is_paid_and_debited_once() {
    let s = TestServer::start_with(|c| c.workers = 8);
    s.seller_with_store("seller", "store", &[("b1", 300, 10)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let placed = s.order(&token, "buyer", "store", &[("b1", 1)]);
    let order_id = placed.body["order_id"].as_str().unwrap();

    let statuses = race(10, |_| s.pay("buyer", order_id));

    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 520), 9, "{statuses:?}");
    assert_eq!(s.balance("buyer"), 700);
    let payments = s.scalar("SELECT COUNT(*) FROM money_ledger WHERE kind = 'payment'");
    assert_eq!(payments, 1);
    assert_eq!(
        s.sql_i64(
            "SELECT SUM(amount) FROM money_ledger WHERE user_id = ?1",
            "buyer"
        ),
        700
    );
}

#[test]
fn deposits_from_many_threads_add_up_exactly() {
    let s = TestServer::start_with(|c| c.workers = 8);
    s.user("buyer");
    let (threads, per_thread) = (8, 25);

    let statuses = race(threads, |i| {
        (0..per_thread)
            .map(|j| s.add_funds("buyer", (i * per_thread + j + 1) as i64).status)
            .collect::<Vec<_>>()
    });

    let n = threads * per_thread;
    assert!(
        statuses.iter().flatten().all(|&st| st == 200),
        "{statuses:?}"
    );
    assert_eq!(s.balance("buyer"), (n * (n + 1) / 2) as i64);
    let rows = s.sql_i64(
        "SELECT COUNT(*) FROM money_ledger WHERE user_id = ?1",
        "buyer",
    );
    assert_eq!(rows, n as i64);
}

#[test]
fn withdrawals_racing_for_one_balance_never_take_more_than_it_holds() {
    let s = TestServer::start_with(|c| c.workers = 8);
    s.buyer_with_funds("buyer", 500);

    let statuses = race(10, |_| s.add_funds("buyer", -100).status);

    assert_eq!(count(&statuses, 200), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 519), 5, "{statuses:?}");
    assert_eq!(s.balance("buyer"), 0);
}

#[test]
fn paying_and_cancelling_one_order_at_once_leaves_money_and_stock_consistent() {
    let s = TestServer::start_with(|c| c.workers = 8);
    s.seller_with_store("seller", "store", &[("b1", 100, 10)]);
    let token = s.buyer_with_funds("buyer", 1000);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let placed = s.order(&token, "buyer", "store", &[("b1", 2)]);
        ids.push(placed.body["order_id"].as_str().unwrap().to_string());
    }

    race(10, |i| {
        let id = &ids[i / 2];
        if i % 2 == 0 {
            s.pay("buyer", id)
        } else {
            let body = serde_json::json!({"user_id": "buyer", "order_id": id});
            s.post_as(&token, "/buyer/cancel_order", body).status
        }
    });

    // Whatever the interleaving, every order ended cancelled (with its money
    // back if it was paid first) or paid; nothing is half done.
    let paid = s.scalar("SELECT COUNT(*) FROM orders WHERE status = 'paid'");
    let cancelled = s.scalar("SELECT COUNT(*) FROM orders WHERE status = 'cancelled'");
    assert_eq!(paid + cancelled, 5);
    assert_eq!(
        cancelled, 5,
        "each order was cancelled after or instead of payment"
    );
    assert_eq!(s.balance("buyer"), 1000);
    assert_eq!(s.stock("store", "b1"), 10);
    assert_eq!(s.scalar("SELECT SUM(held) FROM orders"), 0);
}

#[test]
fn giving_memory_back_while_buyers_order_and_search_changes_no_answer() {
    let s = TestServer::start_with(|c| c.workers = 8);
    let books: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    let listed: Vec<(&str, i64, i64)> = books.iter().map(|b| (b.as_str(), 100, 1000)).collect();
    s.seller_with_store("seller", "store", &listed);
    // The books found and their order; stock changes as the buyers order.
    let search = || {
        let found = s.post("/search/books", serde_json::json!({"keyword": "书"}));
        let ids: Vec<String> = found.body["books"]
            .as_array()
            .map(|books| books.iter().map(|b| b["book_id"].to_string()).collect())
            .unwrap_or_default();
        (found.status, ids)
    };
    let (_, expected) = search();
    assert_eq!(expected.len(), books.len());
    let buyers: Vec<(String, String)> = (0..4)
        .map(|i| {
            let id = format!("buyer{i}");
            let token = s.buyer_with_funds(&id, 1_000_000);
            (id, token)
        })
        .collect();

    // Eight threads request; a ninth gives memory back over and over.
    let statuses = race(9, |i| {
        if i == 8 {
            for _ in 0..200 {
                s.server().release_memory();
            }
            return Vec::new();
        }
        (0..25)
            .map(|j| {
                if i % 2 == 0 {
                    let (id, token) = &buyers[i / 2];
                    let book = books[(i + j) % books.len()].as_str();
                    s.order(token, id, "store", &[(book, 1)]).status
                } else {
                    let (status, found) = search();
                    assert_eq!(found, expected);
                    status
                }
            })
            .collect()
    });

    assert!(
        statuses.iter().flatten().all(|&st| st == 200),
        "{statuses:?}"
    );
    assert_eq!(s.scalar("SELECT COUNT(*) FROM orders"), 4 * 25);
    assert_eq!(
        s.scalar("SELECT SUM(stock) FROM listings"),
        20 * 1000 - 4 * 25
    );
}
