//! The one helper every black-box test uses: a server started in-process on
//! a free port with its own temporary database, and a small HTTP client.
#![allow(dead_code)] // each test crate uses a different part of it

use std::path::PathBuf;
use std::time::Duration;

use bookstore::{Config, Server};
use serde_json::{json, Value};

/// A running server with a fresh database that is deleted afterwards.
pub struct TestServer {
    server: Option<Server>,
    dir: tempfile::TempDir,
    config: Config,
    pub url: String,
    agent: ureq::Agent,
}

/// An answer: status code and JSON body (`Value::Null` if not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The `message` field, or "" if there is none.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

impl TestServer {
    /// A server with the test defaults (cheap password hash, no access log).
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// A server whose test configuration `change` adjusts first.
    pub fn start_with(change: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config::for_tests(dir.path().join("bookstore.db"));
        change(&mut config);
        TestServer::on(dir, config)
    }

    fn on(dir: tempfile::TempDir, config: Config) -> TestServer {
        let server = Server::start(config.clone()).expect("server starts");
        let url = format!("http://{}", server.addr());
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        TestServer {
            server: Some(server),
            dir,
            config,
            url,
            agent,
        }
    }

    /// Stops the server cleanly and starts a new one on the same file.
    pub fn restart(self) -> TestServer {
        self.restart_after(|_| {})
    }

    /// Stops the server cleanly, lets `change` work on the stopped file, and
    /// starts a new server on it.
    pub fn restart_after(mut self, change: impl FnOnce(&std::path::Path)) -> TestServer {
        self.server
            .take()
            .expect("running")
            .stop()
            .expect("clean stop");
        change(&self.config.db);
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let config = self.config.clone();
        TestServer::on(dir, config)
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.config.db.clone()
    }

    /// The running server, for tests that look behind the API.
    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    /// POSTs a JSON body without a token.
    pub fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, None, Some(body.to_string().into_bytes()))
    }

    /// POSTs a JSON body with the `token` header.
    pub fn post_as(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(
            "POST",
            path,
            Some(token),
            Some(body.to_string().into_bytes()),
        )
    }

    /// POSTs raw bytes, for malformed bodies.
    pub fn post_raw(&self, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        self.send("POST", path, token, Some(body.to_vec()))
    }

    /// GETs a path; the body is returned raw with its content type.
    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        let resp = match self.agent.get(&format!("{}{path}", self.url)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = resp.status();
        let content_type = resp.header("Content-Type").unwrap_or("").to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
        (status, content_type, bytes)
    }

    /// Sends any method with an optional token and body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = self
            .agent
            .request(method, &format!("{}{path}", self.url))
            .set("Content-Type", "application/json");
        if let Some(token) = token {
            req = req.set("token", token);
        }
        let result = match body {
            Some(bytes) => req.send_bytes(&bytes),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    // Shortcuts for the usual arrangements.

    /// Registers `user_id` with password `{user_id}-pw`.
    pub fn register(&self, user_id: &str) {
        let a = self.post(
            "/auth/register",
            json!({"user_id": user_id, "password": pw(user_id)}),
        );
        assert_eq!(a.status, 200, "register {user_id}: {a:?}");
    }

    /// Logs `user_id` in and returns the token.
    pub fn login(&self, user_id: &str) -> String {
        let a = self.post(
            "/auth/login",
            json!({"user_id": user_id, "password": pw(user_id), "terminal": "test"}),
        );
        assert_eq!(a.status, 200, "login {user_id}: {a:?}");
        a.body["token"].as_str().expect("token").to_string()
    }

    /// Logs `user_id` in with `password`; returns the token.
    pub fn login_as(&self, user_id: &str, password: &str) -> String {
        let a = self.post(
            "/auth/login",
            json!({"user_id": user_id, "password": password, "terminal": "test"}),
        );
        assert_eq!(a.status, 200, "login {user_id}: {a:?}");
        a.body["token"].as_str().expect("token").to_string()
    }

    /// Registers and logs in; returns the token.
    pub fn user(&self, user_id: &str) -> String {
        self.register(user_id);
        self.login(user_id)
    }

    /// A seller with one store listing `books` as (book id, price, stock).
    /// Returns the seller's token.
    pub fn seller_with_store(
        &self,
        seller: &str,
        store: &str,
        books: &[(&str, i64, i64)],
    ) -> String {
        let token = self.user(seller);
        let a = self.post_as(
            &token,
            "/seller/create_store",
            json!({"user_id": seller, "store_id": store}),
        );
        assert_eq!(a.status, 200, "create_store: {a:?}");
        for &(id, price, stock) in books {
            self.add_book(&token, seller, store, book(id, price), stock);
        }
        token
    }

    pub fn add_book(&self, token: &str, seller: &str, store: &str, info: Value, stock: i64) {
        let a = self.post_as(
            token,
            "/seller/add_book",
            json!({"user_id": seller, "store_id": store, "book_info": info, "stock_level": stock}),
        );
        assert_eq!(a.status, 200, "add_book: {a:?}");
    }

    /// A buyer with `funds` cents; returns the token.
    pub fn buyer_with_funds(&self, buyer: &str, funds: i64) -> String {
        let token = self.user(buyer);
        if funds > 0 {
            let a = self.post(
                "/buyer/add_funds",
                json!({"user_id": buyer, "password": pw(buyer), "add_value": funds}),
            );
            assert_eq!(a.status, 200, "add_funds: {a:?}");
        }
        token
    }

    /// Places an order of (book id, count) lines; returns the answer.
    pub fn order(&self, token: &str, buyer: &str, store: &str, lines: &[(&str, i64)]) -> Answer {
        let books: Vec<Value> = lines
            .iter()
            .map(|(id, n)| json!({"id": id, "count": n}))
            .collect();
        self.post_as(
            token,
            "/buyer/new_order",
            json!({"user_id": buyer, "store_id": store, "books": books}),
        )
    }

    /// Pays an order with the buyer's password; returns the status.
    pub fn pay(&self, buyer: &str, order_id: &str) -> u16 {
        self.post(
            "/buyer/payment",
            json!({"user_id": buyer, "order_id": order_id, "password": pw(buyer)}),
        )
        .status
    }

    /// The user's balance, read straight from the database file.
    pub fn balance(&self, user_id: &str) -> i64 {
        self.sql_i64("SELECT balance FROM users WHERE user_id = ?1", user_id)
    }

    /// The stock of `book_id` in `store_id`, read straight from the file.
    pub fn stock(&self, store_id: &str, book_id: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row(
            "SELECT l.stock FROM listings l JOIN books b ON b.book_rowid = l.book_rowid
             WHERE l.store_id = ?1 AND b.book_id = ?2",
            [store_id, book_id],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// One text value from the file, for a query with one text parameter.
    pub fn sql_text(&self, sql: &str, param: &str) -> String {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row(sql, [param], |r| r.get(0)).unwrap()
    }

    /// Deposits (or, when negative, withdraws) `value` cents with the
    /// shortcut password; returns the answer.
    pub fn add_funds(&self, user_id: &str, value: i64) -> Answer {
        self.post(
            "/buyer/add_funds",
            json!({"user_id": user_id, "password": pw(user_id), "add_value": value}),
        )
    }

    /// The user's orders as `/buyer/query_orders` answers them.
    pub fn query_orders(&self, token: &str, user_id: &str) -> Answer {
        self.post_as(token, "/buyer/query_orders", json!({"user_id": user_id}))
    }

    /// Moves the server's clock forward; the server needs `test_clock`.
    pub fn advance_clock(&self, seconds: u32) {
        let a = self.post("/test/advance_clock", json!({ "seconds": seconds }));
        assert_eq!(a.status, 200, "advance_clock: {a:?}");
    }

    /// One integer from the file, for a query without parameters.
    pub fn scalar(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// One integer from the file, for a query with one text parameter.
    pub fn sql_i64(&self, sql: &str, param: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row(sql, [param], |r| r.get(0)).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop();
        }
    }
}

/// The password the shortcuts give `user_id`.
pub fn pw(user_id: &str) -> String {
    format!("{user_id}-pw")
}

/// A `book_info` with the given id and price and every optional field, as
/// course clients send them (some `null`).
pub fn book(id: &str, price: i64) -> Value {
    json!({
        "id": id,
        "title": format!("书 {id}"),
        "author": "作者",
        "publisher": null,
        "original_title": null,
        "translator": null,
        "pub_year": "2020-1",
        "pages": 100,
        "price": price,
        "currency_unit": "元",
        "binding": "平装",
        "isbn": null,
        "author_intro": "简介",
        "book_intro": "一本书",
        "content": "",
        "tags": ["测试"],
        "pictures": []
    })
}

/// A valid 1x1 PNG (one red pixel), built byte by byte.
pub fn tiny_png() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    // One scanline: filter byte 0, then R G B, in a stored (uncompressed)
    // zlib block with its Adler-32.
    let raw = [0u8, 255, 0, 0];
    let mut zlib = vec![0x78, 0x01, 0x01, 4, 0, !4, 0xFF];
    zlib.extend(raw);
    let (a, b) = raw.iter().fold((1u32, 0u32), |(a, b), &x| {
        let a = (a + u32::from(x)) % 65521;
        (a, (b + a) % 65521)
    });
    zlib.extend(((b << 16) | a).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The start of a JFIF JPEG and its end marker: enough for any reader that
/// sniffs the type, and bytes that must come back unchanged.
pub fn tiny_jpeg() -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    jpeg.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    jpeg.extend((0..=255u8).collect::<Vec<_>>()); // every byte value once
    jpeg.extend([0xFF, 0xD9]);
    jpeg
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
