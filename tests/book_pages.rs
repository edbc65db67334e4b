//! `GET /books/{book_id}` and `GET /books/{book_id}/pictures/{n}`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use base64::Engine;
use bookstore::model::catalog;
use common::{book, tiny_jpeg, tiny_png, TestServer};
use serde_json::{json, Value};

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("a JSON body")
}

#[test]
fn pictures_come_back_byte_for_byte_with_the_type_read_from_their_bytes() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let (png, jpeg) = (tiny_png(), tiny_jpeg());
    let mut info = book("b1", 100);
    info["pictures"] = json!([base64(&png), base64(&jpeg)]);
    s.add_book(&token, "seller", "store", info, 1);

    let first = s.get("/books/b1/pictures/0");
    let second = s.get("/books/b1/pictures/1");
    let missing = s.get("/books/b1/pictures/2");

    assert_eq!((first.0, first.1.as_str()), (200, "image/png"));
    assert_eq!(first.2, png);
    assert_eq!((second.0, second.1.as_str()), (200, "image/jpeg"));
    assert_eq!(second.2, jpeg);
    assert_eq!(missing.0, 404);
    assert_eq!(json_of(&missing.2)["message"], "not found");
}

#[test]
fn pictures_are_stored_as_raw_bytes_apart_from_the_description() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let png = tiny_png();
    let mut info = book("b1", 100);
    info["pictures"] = json!([base64(&png)]);
    s.add_book(&token, "seller", "store", info, 1);

    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    let (stored, mime): (Vec<u8>, String) = conn
        .query_row("SELECT bytes, mime FROM pictures", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let mut every_column = conn.prepare("SELECT * FROM books").unwrap();
    let columns = every_column.column_count();
    let description: Vec<String> = every_column
        .query_row([], |r| {
            (0..columns)
                .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                .collect()
        })
        .unwrap();

    assert_eq!(stored, png);
    assert_eq!(mime, "image/png");
    assert!(description.len() > 10);
    assert!(description.iter().all(|v| !v.contains(&base64(&png))));
}

#[test]
fn the_book_page_shows_the_description_picture_urls_and_every_offer() {
    let s = TestServer::start();
    let a = s.seller_with_store("a", "store-a", &[]);
    let mut info = book("a/b 书", 2500);
    info["tags"] = json!(["小说", "经典"]);
    info["pictures"] = json!([base64(&tiny_png())]);
    s.add_book(&a, "a", "store-a", info.clone(), 3);
    let b = s.seller_with_store("b", "store-b", &[]);
    info["price"] = json!(1999);
    s.add_book(&b, "b", "store-b", info, 0);

    let (status, content_type, body) = s.get("/books/a%2Fb%20%E4%B9%A6");

    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let page = json_of(&body);
    assert_eq!(page["message"], "ok");
    assert_eq!(page["book"]["id"], "a/b 书");
    assert_eq!(page["book"]["title"], "书 a/b 书");
    assert_eq!(page["book"]["author"], "作者");
    assert_eq!(page["book"]["pages"], 100);
    assert_eq!(page["book"]["isbn"], Value::Null);
    assert_eq!(page["book"]["tags"], json!(["小说", "经典"]));
    let url = page["book"]["pictures"][0].as_str().unwrap();
    assert_eq!(url, "/books/a%2Fb%20%E4%B9%A6/pictures/0");
    assert_eq!(s.get(url).2, tiny_png());
    assert_eq!(
        page["stores"],
        json!([
            {"store_id": "store-b", "price": 1999, "stock": 0},
            {"store_id": "store-a", "price": 2500, "stock": 3}
        ])
    );
    assert_eq!(page["store_count"], 2);
}

#[test]
fn unknown_books_and_malformed_book_paths_answer_404_and_other_methods_405() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 1)]);

    for path in [
        "/books/nope",
        "/books/nope/pictures/0",
        "/books/b1/pictures/0",
        "/books/b1/pictures/x",
        "/books/b1/pictures/-1",
        "/books/b1/extra",
        "/books/%ZZ",
        "/books/",
    ] {
        let (status, content_type, body) = s.get(path);
        assert_eq!(status, 404, "{path}");
        assert_eq!(content_type, "application/json", "{path}");
        assert_eq!(json_of(&body)["message"], "not found", "{path}");
    }
    let post = s.post("/books/b1", json!({}));
    assert_eq!(post.status, 405);
    let search_get = s.get("/search/books");
    assert_eq!(search_get.0, 405);
}

#[test]
fn large_answers_one_after_another_each_carry_only_their_own_bytes() {
    // The buffer of a large answer is kept and written into again by the
    // next large one: a picture of 700 KB, then a page of orders with room
    // for a thousand, then the picture again.
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let mut large = tiny_png();
    large.extend((0..700_000u32).map(|i| (i % 251) as u8));
    let mut info = book("b1", 100);
    info["pictures"] = json!([base64(&large)]);
    s.add_book(&token, "seller", "store", info, 5);
    let buyer = s.buyer_with_funds("buyer", 10_000);
    let order = s.order(&buyer, "buyer", "store", &[("b1", 2)]);
    assert_eq!(order.status, 200, "{order:?}");

    let first = s.get("/books/b1/pictures/0");
    let page = s.post_as(
        &buyer,
        "/buyer/query_orders",
        json!({"user_id": "buyer", "page": 1, "page_size": 1000}),
    );
    let again = s.get("/books/b1/pictures/0");

    assert_eq!((first.0, first.1.as_str()), (200, "image/png"));
    assert!(first.2 == large, "the first picture came back changed");
    assert_eq!(page.status, 200);
    let orders = page.body.as_array().expect("a bare array of orders");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["order_id"], order.body["order_id"]);
    assert_eq!(
        orders[0]["order_books"],
        json!([{"book_id": "b1", "count": 2, "price": 100}])
    );
    assert_eq!(again.0, 200);
    assert!(again.2 == large, "the second picture came back changed");
}

#[test]
fn a_large_picture_is_not_read_to_show_or_fetch_another_books_pictures() {
    // Books listed before and after one with a picture of 3 MB, so that
    // their keys sit next to the large picture's.
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let mut large = tiny_png();
    large.extend((0..3_000_000u32).map(|i| (i % 251) as u8));
    for (id, picture) in [
        ("b1", tiny_png()),
        ("b2", tiny_png()),
        ("large", large),
        ("b3", tiny_png()),
        ("b4", tiny_jpeg()),
    ] {
        let mut info = book(id, 100);
        info["pictures"] = json!([base64(&picture)]);
        s.add_book(&token, "seller", "store", info, 1);
    }
    let conn = rusqlite::Connection::open_with_flags(
        s.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();

    let before = bytes_read_by_this_thread();
    let (_, page) = catalog::book(&conn, "b1").unwrap().unwrap();
    let picture = catalog::picture(&conn, "b4", 0).unwrap().unwrap();
    let read = bytes_read_by_this_thread() - before;

    assert_eq!(page.pictures, 1);
    assert_eq!((picture.mime, picture.bytes), ("image/jpeg", tiny_jpeg()));
    // A few pages of 4 KiB each; reading the large picture would be 3 MB.
    assert!(read < 256 * 1024, "{read} bytes read");
    let (status, _, body) = s.get("/books/b3");
    assert_eq!(status, 200);
    assert_eq!(
        json_of(&body)["book"]["pictures"],
        json!(["/books/b3/pictures/0"])
    );
}

/// Bytes the calling thread has read through system calls so far, as Linux
/// counts them; other threads' reads (other tests, the server) are not in it.
fn bytes_read_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("Linux's /proc");
    io.lines()
        .find_map(|line| line.strip_prefix("rchar:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("an rchar line")
}

/// Adds book `b1` to a new store with a picture of `mb` megabytes, which
/// it returns.
fn book_with_a_large_picture(s: &TestServer, mb: u32) -> Vec<u8> {
    let token = s.seller_with_store("seller", "store", &[]);
    let mut large = tiny_png();
    large.extend((0..mb * 1_000_000).map(|i| (i % 251) as u8));
    let mut info = book("b1", 100);
    info["pictures"] = json!([base64(&large)]);
    s.add_book(&token, "seller", "store", info, 5);
    large
}

/// A connection that asks for the large picture `times` times at once.
fn ask_for_the_picture(s: &TestServer, times: usize) -> TcpStream {
    let mut stream = TcpStream::connect(s.server().addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ask = b"GET /books/b1/pictures/0 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(times);
    stream.write_all(&ask).unwrap();
    stream
}

/// Reads one answer with a Content-Length: its status and body.
fn read_answer(stream: &mut impl BufRead) -> (u16, Vec<u8>) {
    let mut line = String::new();
    stream.read_line(&mut line).expect("a status line");
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.unwrap_or_else(|| panic!("status line {line:?}"));
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).expect("a header line");
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().expect("a length");
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("the whole body");
    (status, body)
}

/// `GET /health` on a connection of its own, within ten seconds.
fn health(s: &TestServer) -> u16 {
    let mut stream = TcpStream::connect(s.server().addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_answer(&mut BufReader::new(stream)).0
}

#[test]
fn a_client_that_pipelines_requests_and_reads_no_answer_holds_one_worker_at_most() {
    let s = TestServer::start_with(|c| c.workers = 2);
    book_with_a_large_picture(&s, 2);

    // Forty pictures of 2 MB asked for at once and none read: far more than
    // the sockets' buffers hold, so the answer being written stalls.
    let greedy = ask_for_the_picture(&s, 40);
    thread::sleep(Duration::from_millis(500));

    // The workers still answer everyone else.
    assert_eq!(health(&s), 200);
    drop(greedy);
}

#[test]
fn clients_that_stop_reading_hold_no_worker_and_later_get_every_answer_whole() {
    let s = TestServer::start_with(|c| c.workers = 2);
    let large = book_with_a_large_picture(&s, 2);

    // Twice as many clients as workers, each asking for five pictures of
    // 2 MB and reading nothing for now: more than their sockets hold.
    let greedy: Vec<TcpStream> = (0..4).map(|_| ask_for_the_picture(&s, 5)).collect();
    thread::sleep(Duration::from_millis(500));

    // No worker waits for them.
    assert_eq!(health(&s), 200);
    // What was handed over to be written later arrives whole and in order.
    for stream in greedy {
        let mut stream = BufReader::new(stream);
        for _ in 0..5 {
            let (status, body) = read_answer(&mut stream);
            assert_eq!(status, 200);
            assert!(body == large, "a picture of {} bytes came back", body.len());
        }
    }
}

#[test]
fn stopping_waits_for_answers_still_being_written_to_slow_clients() {
    let s = TestServer::start_with(|c| {
        c.workers = 2;
        c.body_limit = 32 << 20;
    });
    // One answer of 12 MB, more than the sockets hold, not read for now.
    let large = book_with_a_large_picture(&s, 12);
    let slow = ask_for_the_picture(&s, 1);
    thread::sleep(Duration::from_millis(500));

    // Dropping a test server stops it and waits for it.
    let stopped = thread::spawn(move || drop(s));
    thread::sleep(Duration::from_millis(300));
    assert!(!stopped.is_finished(), "stopped with answers unwritten");

    let (status, body) = read_answer(&mut BufReader::new(slow));
    assert_eq!(status, 200);
    assert!(body == large, "a picture of {} bytes came back", body.len());
    stopped.join().unwrap();
}
