//! Stopping the server: requests already taken are answered in full, and
//! what they wrote is in the file afterwards.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestServer;
use serde_json::json;

/// A registration whose headers are sent with `Expect: 100-continue` and
/// whose chunked body is held back: once the server answers `100 Continue`,
/// a worker has taken the request and is waiting for the body. (A body of
/// known length is read before any worker sees its request.)
struct HeldRequest {
    stream: TcpStream,
    body: Vec<u8>,
}

impl HeldRequest {
    fn open(s: &TestServer, user_id: &str) -> HeldRequest {
        let json = json!({"user_id": user_id, "password": "pw"}).to_string();
        let body = format!("{:x}\r\n{json}\r\n0\r\n\r\n", json.len()).into_bytes();
        let mut stream = TcpStream::connect(s.server().addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head =
            "POST /auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                    Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        let interim = read_head(&mut stream);
        assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        HeldRequest { stream, body }
    }

    /// Sends the body and returns the whole answer.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.body).unwrap();
        let mut answer = Vec::new();
        let head = read_head(&mut self.stream);
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("a content length");
        answer.resize(length, 0);
        self.stream.read_exact(&mut answer).unwrap();
        head + &String::from_utf8(answer).unwrap()
    }
}

/// Reads up to and including the blank line that ends a response head.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn stopping_finishes_the_requests_the_workers_hold() {
    let s = TestServer::start_with(|c| c.workers = 3);
    let held: Vec<HeldRequest> = ["alice", "bob", "carol"]
        .iter()
        .map(|user| HeldRequest::open(&s, user))
        .collect();

    s.server().stopper().stop();
    let answers: Vec<String> = held.into_iter().map(HeldRequest::finish).collect();

    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(answer.ends_with(r#"{"message":"ok"}"#), "{answer:?}");
    }
    let s = s.restart();
    for user in ["alice", "bob", "carol"] {
        let login = s.post(
            "/auth/login",
            json!({"user_id": user, "password": "pw", "terminal": "t"}),
        );
        assert_eq!(login.status, 200, "{user} was not registered");
    }
}
