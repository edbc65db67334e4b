//! The benchmark in short mode against an in-process server: it must finish
//! with zero errors and count what it did. A test of the generator, not of
//! speed.

mod common;

use bookstore::bench::{self, BenchArgs, Choice};
use common::TestServer;

/// Short-mode arguments for the server at `url`.
fn short(url: &str, scenarios: &[Choice], orders: u64) -> BenchArgs {
    BenchArgs {
        url: url.to_string(),
        sessions: 4,
        orders: Some(orders),
        seconds: None,
        scenario: scenarios.to_vec(),
        catalog: None,
        books: 40,
        history_orders: 12,
        history_page_size: None,
        seed: 7,
        server_pid: None,
        json: false,
        no_progress: true,
    }
}

#[test]
fn a_short_core_run_places_and_pays_every_order_without_errors() {
    let s = TestServer::start();

    let report = bench::run(&short(&s.url, &[Choice::Empty, Choice::Core], 300)).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    let (empty, core) = (&report.scenarios[0], &report.scenarios[1]);
    assert_eq!((empty.scenario, empty.requests), ("empty", 600));
    assert_eq!((core.scenario, core.orders), ("core", 300));
    let count = |name: &str| {
        core.endpoints
            .iter()
            .find(|e| e.endpoint == name)
            .map_or(0, |e| e.count)
    };
    assert_eq!(count("payment"), 300);
    assert_eq!(count("login"), 4, "one login per session");
    assert!(core.p50_over_floor.contains_key("new_order"));
    let paid = s.sql_i64(
        "SELECT count(*) FROM orders WHERE status = 'paid' AND buyer_id LIKE ?1",
        "bench_%",
    );
    assert_eq!(paid, 300);
}

#[test]
fn a_short_history_run_builds_its_buyers_over_http_then_queries_them() {
    let s = TestServer::start();

    let report = bench::run(&short(&s.url, &[Choice::History], 50)).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    let history = &report.scenarios[0];
    assert_eq!(
        history.requests,
        50 + 4,
        "50 queries and one login per session"
    );
    let per_buyer = s.sql_i64(
        "SELECT count(*) FROM orders WHERE buyer_id = ?1",
        "syn_buyer_9",
    );
    assert_eq!(per_buyer, 12);
}

#[test]
fn a_history_run_may_ask_for_pages_the_server_accepts() {
    let s = TestServer::start();
    let mut args = short(&s.url, &[Choice::History], 30);
    args.history_page_size = Some(5);

    let report = bench::run(&args).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    assert_eq!(report.scenarios[0].requests, 30 + 4);
}

#[test]
fn a_second_run_against_the_same_server_reuses_the_synthetic_world() {
    let s = TestServer::start();
    bench::run(&short(&s.url, &[Choice::History], 10)).unwrap();

    let again = bench::run(&short(&s.url, &[Choice::History, Choice::Core], 20)).unwrap();

    assert_eq!(again.error_count(), 0, "{}", again.text());
    assert!(again.scenarios[0].setup.is_empty(), "nothing was rebuilt");
    let books = s.sql_i64("SELECT count(*) FROM books WHERE book_id LIKE ?1", "syn-%");
    assert_eq!(books, 40);
}

#[test]
fn a_timed_run_stops_by_itself() {
    let s = TestServer::start();
    let mut args = short(&s.url, &[Choice::Empty], 0);
    args.orders = None;
    args.seconds = Some(0.3);

    let report = bench::run(&args).unwrap();

    let empty = &report.scenarios[0];
    assert_eq!(report.error_count(), 0, "{}", report.text());
    assert!(empty.requests > 0);
    assert!(empty.seconds < 2.0, "ran {} s", empty.seconds);
}

#[test]
fn a_server_that_is_not_there_is_counted_as_failures_not_a_hang() {
    // Bind a port, then free it, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let report = bench::run(&short(&url, &[Choice::Empty], 5)).unwrap();

    let errors = &report.scenarios[0].errors;
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].status, errors[0].count), (0, 10));
}

#[test]
fn a_short_search_run_finds_books_without_errors() {
    let s = TestServer::start();

    let report = bench::run(&short(&s.url, &[Choice::Search], 100)).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    assert_eq!(report.scenarios[0].requests, 100);
}

#[test]
fn sessions_that_connect_all_at_once_are_all_served_at_once() {
    let s = TestServer::start();
    let mut args = short(&s.url, &[Choice::Empty], 0);
    args.sessions = 32;
    args.orders = None;
    args.seconds = Some(1.5);

    let report = bench::run(&args).unwrap();

    // A session left waiting for a thread would get its first answer only
    // when the others disconnect, at the end of the run.
    let health = &report.scenarios[0].endpoints[0];
    assert!(health.max_us < 750_000, "{}", report.text());
}

#[test]
fn a_catalog_in_the_course_format_stocks_the_core_workload_stores() {
    // The course's 100-book catalog, kept beside the repository.
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/book.db");
    assert!(
        catalog.exists(),
        "the course catalog {} is missing",
        catalog.display()
    );
    let s = TestServer::start();
    let mut args = short(&s.url, &[Choice::Core], 30);
    args.catalog = Some(catalog);

    let report = bench::run(&args).unwrap();

    assert_eq!(report.error_count(), 0, "{}", report.text());
    assert_eq!(report.scenarios[0].orders, 30);
    let listed = s.sql_i64(
        "SELECT count(*) FROM listings WHERE store_id LIKE ?1",
        "bench_%",
    );
    assert_eq!(listed, 6 * 100, "six stores list the file's 100 books");
    let pictures = s.sql_i64("SELECT count(*) FROM pictures WHERE ?1 = ?1", "x");
    assert_eq!(pictures, 100, "every book of the file has a picture");
}
