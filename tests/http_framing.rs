//! How requests are framed on the socket, tested on raw connections: a
//! request whose end cannot be known for sure is refused and its connection
//! closed, so nothing behind it is read as a request; request lines and
//! headers are ASCII text within fixed limits; and every answer the HTTP
//! layer gives by itself is JSON with a `message`, like the API's own.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bookstore::config::DEFAULT_BODY_LIMIT;
use bookstore::Error;
use common::TestServer;
use serde_json::{json, Value};

/// A registration of `user_id`, complete and ready to be hidden behind
/// another request.
fn register(user_id: &str) -> Vec<u8> {
    let body = json!({"user_id": user_id, "password": "pw"}).to_string();
    format!(
        "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A request with `head` (request line and headers, without the empty line)
/// and then a whole registration of "smuggled".
fn hiding_a_registration(head: &str) -> Vec<u8> {
    [format!("{head}\r\n\r\n").as_bytes(), &register("smuggled")].concat()
}

fn smuggled_users(s: &TestServer) -> i64 {
    s.sql_i64("SELECT count(*) FROM users WHERE user_id = ?1", "smuggled")
}

fn assert_healthy(s: &TestServer) {
    let (status, _, _) = s.get("/health");
    assert_eq!(status, 200, "GET /health on a fresh connection");
}

/// One answer as it came off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON `message`; panics if the body is not a JSON object with one.
    fn message(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"));
        body["message"].as_str().expect("a message").to_string()
    }
}

/// A raw connection. What is sent goes out on a thread of its own, since
/// the server may stop reading long before the last byte.
struct Raw {
    stream: TcpStream,
    received: Vec<u8>,
    sender: Option<JoinHandle<()>>,
}

impl Raw {
    fn open(s: &TestServer) -> Raw {
        let stream = TcpStream::connect(s.server().addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            stream,
            received: Vec::new(),
            sender: None,
        }
    }

    /// Sends `bytes` without closing the sending side: only the server
    /// may end the connection.
    fn send(&mut self, bytes: Vec<u8>) {
        let mut writer = self.stream.try_clone().unwrap();
        // A refused request makes the server close before it has read
        // everything, so the write may fail; that is part of the test.
        self.sender = Some(thread::spawn(move || {
            let _ = writer.write_all(&bytes);
        }));
    }

    /// Reads one whole answer, framed by its Content-Length.
    fn next_reply(&mut self) -> Reply {
        loop {
            if let Some((reply, used)) = parse_reply(&self.received) {
                self.received.drain(..used);
                return reply;
            }
            let mut piece = [0; 4096];
            match self.stream.read(&mut piece) {
                Ok(0) => panic!("closed in the middle of an answer: {:?}", self.text()),
                Ok(n) => self.received.extend_from_slice(&piece[..n]),
                Err(e) => panic!("no whole answer ({e}): {:?}", self.text()),
            }
        }
    }

    /// Reads on until the server closes the connection; panics if it is
    /// still open after 10 seconds. Returns what came after the answers
    /// already read.
    fn rest_until_closed(mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.received);
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => {}
            // Closing with bytes left unread makes the kernel reset the
            // connection: closed all the same.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "the server left the connection open ({e}) after {:?}",
                String::from_utf8_lossy(&rest)
            ),
        }
        if let Some(sender) = self.sender.take() {
            sender.join().unwrap();
        }
        rest
    }

    /// True if nothing arrives and the connection stays open for a while.
    fn stays_open(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0];
        match self.stream.peek(&mut byte) {
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            // A byte is an answer too many; none means the server closed.
            Ok(_) => false,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

/// The first answer in `bytes` and how many bytes it takes, or `None` if
/// it is not all there yet.
fn parse_reply(bytes: &[u8]) -> Option<(Reply, usize)> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..head_end]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header");
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().expect("a numeric Content-Length"))
        .expect("every answer has a Content-Length");
    let end = head_end + 4 + length;
    let body = bytes.get(head_end + 4..end)?.to_vec();
    let reply = Reply {
        status,
        headers,
        body,
    };
    Some((reply, end))
}

/// Sends `request` on a fresh connection and checks that the server answers
/// it with `status` and the JSON `message`, with nothing after, and then
/// closes the connection; and that it still answers a fresh `GET /health`.
fn assert_refused(s: &TestServer, request: Vec<u8>, status: u16, message: &str) {
    let shown = String::from_utf8_lossy(&request[..request.len().min(120)]).into_owned();
    let mut raw = Raw::open(s);

    raw.send(request);
    let reply = raw.next_reply();
    let rest = raw.rest_until_closed();

    assert_eq!(reply.status, status, "{shown:?}: {reply:?}");
    assert_eq!(reply.message(), message, "{shown:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{shown:?}"
    );
    assert_eq!(reply.header("connection"), Some("close"), "{shown:?}");
    assert!(
        rest.is_empty(),
        "{shown:?}: answered more: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_healthy(s);
}

// Body framing.

#[test]
fn a_content_length_that_is_not_a_number_is_refused_and_the_request_behind_it_never_runs() {
    let s = TestServer::start();
    let users = s.scalar("SELECT count(*) FROM users");

    for length in ["99999999999999999999", "abc", "-1", "+5", "", "0x10", "1 0"] {
        let head = format!("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {length}");
        assert_refused(
            &s,
            hiding_a_registration(&head),
            400,
            "bad request: Content-Length is not a number of bytes",
        );
    }

    assert_eq!(smuggled_users(&s), 0);
    assert_eq!(s.scalar("SELECT count(*) FROM users"), users);
}

#[test]
fn content_lengths_that_disagree_are_refused_and_the_request_behind_them_never_runs() {
    let s = TestServer::start();

    for lengths in [
        "Content-Length: 0\r\nContent-Length: 5",
        "Content-Length: 5\r\ncontent-length: 0",
        "Content-Length: 0, 5",
    ] {
        let head = format!("POST /x HTTP/1.1\r\nHost: x\r\n{lengths}");
        assert_refused(
            &s,
            hiding_a_registration(&head),
            400,
            "bad request: the Content-Length values disagree",
        );
    }

    assert_eq!(s.scalar("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_content_length_repeated_with_one_value_is_read_as_that_length() {
    let s = TestServer::start();
    let body = json!({"user_id": "alice", "password": "pw"}).to_string();
    let head = format!(
        "POST /auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Length: {0}\r\nContent-Length: {0}, {0}\r\n\r\n",
        body.len()
    );
    let mut raw = Raw::open(&s);

    raw.send([head.as_bytes(), body.as_bytes()].concat());
    let reply = raw.next_reply();

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        s.sql_i64("SELECT count(*) FROM users WHERE user_id = ?1", "alice"),
        1
    );
}

#[test]
fn a_huge_but_valid_content_length_still_answers_413_and_ends_the_connection() {
    let s = TestServer::start();
    let mut raw = Raw::open(&s);

    raw.send(hiding_a_registration(
        "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807",
    ));
    let reply = raw.next_reply();

    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(
        reply.message(),
        Error::TooLarge(DEFAULT_BODY_LIMIT).to_string()
    );
    assert_eq!(reply.header("connection"), Some("close"));
    drop(raw);
    assert_healthy(&s);
    assert_eq!(smuggled_users(&s), 0);
}

#[test]
fn content_length_together_with_chunked_is_refused_and_the_request_behind_it_never_runs() {
    let s = TestServer::start();

    for framing in [
        "Content-Length: 0\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
    ] {
        let head = format!("POST /x HTTP/1.1\r\nHost: x\r\n{framing}");
        let request = [hiding_a_registration(&head), b"0\r\n\r\n".to_vec()].concat();
        assert_refused(
            &s,
            request,
            400,
            "bad request: both Content-Length and Transfer-Encoding are given",
        );
    }

    assert_eq!(smuggled_users(&s), 0);
}

#[test]
fn a_transfer_encoding_other_than_chunked_alone_is_refused() {
    let s = TestServer::start();

    for coding in [
        "gzip",
        "identity",
        "gzip, chunked",
        "chunked, chunked",
        "xchunked",
    ] {
        let head = format!("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}");
        assert_refused(
            &s,
            hiding_a_registration(&head),
            400,
            "bad request: the only Transfer-Encoding understood is chunked",
        );
    }

    assert_eq!(smuggled_users(&s), 0);
}

#[test]
fn a_request_hidden_past_the_drained_part_of_a_refused_body_never_runs() {
    // Bodies left unread are drained up to 1 MiB; the registration starts
    // right where draining stops.
    let s = TestServer::start_with(|c| c.body_limit = 1024);
    let head = b"POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n";
    let request = [&head[..], &vec![b' '; 1 << 20], &register("smuggled")].concat();
    let mut raw = Raw::open(&s);

    raw.send(request);
    let reply = raw.next_reply();
    let rest = raw.rest_until_closed();

    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert_healthy(&s);
    assert_eq!(smuggled_users(&s), 0);
}

#[test]
fn a_request_hidden_in_a_chunked_body_that_was_not_read_to_its_end_never_runs() {
    let s = TestServer::start_with(|c| c.body_limit = 1024);
    let head = "POST /auth/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let broken = [head.as_bytes(), b"zz\r\n", &register("smuggled")].concat();
    let oversized = [
        head.as_bytes(),
        format!("{:x}\r\n", 4096).as_bytes(),
        &vec![b' '; 2048],
        &register("smuggled"),
    ]
    .concat();

    for (request, status) in [(broken, 523), (oversized, 413)] {
        let mut raw = Raw::open(&s);
        raw.send(request);
        let reply = raw.next_reply();
        let rest = raw.rest_until_closed();

        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(reply.header("connection"), Some("close"));
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        assert_healthy(&s);
    }

    assert_eq!(smuggled_users(&s), 0);
}

#[test]
fn a_chunked_request_is_served_and_is_the_last_on_its_connection() {
    let s = TestServer::start();
    let body = json!({"user_id": "alice", "password": "pw"}).to_string();
    let chunked = format!(
        "POST /auth/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut raw = Raw::open(&s);

    raw.send([chunked.as_bytes(), &register("bob")].concat());
    let reply = raw.next_reply();
    let rest = raw.rest_until_closed();

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(
        s.sql_i64("SELECT count(*) FROM users WHERE user_id = ?1", "alice"),
        1
    );
    assert_eq!(
        s.sql_i64("SELECT count(*) FROM users WHERE user_id = ?1", "bob"),
        0
    );
}

#[test]
fn requests_with_plain_lengths_still_share_one_kept_alive_connection() {
    let s = TestServer::start();
    let mut raw = Raw::open(&s);

    raw.send(
        [
            register("alice"),
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ]
        .concat(),
    );
    let first = raw.next_reply();
    let second = raw.next_reply();

    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(first.header("connection"), None);
    assert_eq!(second.header("connection"), None);
    assert!(raw.stays_open());
}

// Request lines and headers that are not ASCII text, or not well formed.

#[test]
fn a_request_line_that_is_not_ascii_text_answers_400_and_closes() {
    let s = TestServer::start();
    let message = "bad request: the request line holds a byte that is not ASCII text";

    for line in [
        &b"GET /books/\xff HTTP/1.1"[..],
        b"GET /h\xc3\xa9 HTTP/1.1",
        b"\x00\x01\x02\xff\xfe",
        b"GET /health\x00 HTTP/1.1",
        b"GET /health\rX HTTP/1.1",
    ] {
        let request = [line, b"\r\nHost: x\r\n\r\n"].concat();
        assert_refused(&s, request, 400, message);
    }
}

#[test]
fn a_header_that_is_not_ascii_text_answers_400_and_closes() {
    let s = TestServer::start();
    let message = "bad request: a header holds a byte that is not ASCII text";

    for header in [
        &b"token: \xff\xfe"[..],
        b"X-Name: caf\xc3\xa9",
        b"X: a\x00b",
        // A lone CR, which other parsers may take for a line end.
        b"X: a\rContent-Length: 5",
    ] {
        let request = [b"GET /health HTTP/1.1\r\n", header, b"\r\n\r\nhello"].concat();
        assert_refused(&s, request, 400, message);
    }
}

#[test]
fn a_line_ended_by_a_line_feed_alone_answers_400_at_once_and_closes() {
    let s = TestServer::start();
    let message = "bad request: a line ends in a line feed without a carriage return";

    // Refused as soon as the line feed arrives: waiting for a CR LF that
    // such a client never sends held the connection until its timeout,
    // longer than the ten seconds `Raw` waits for an answer.
    for request in [
        &b"GET /health HTTP/1.1\nConnection: close\n\n"[..],
        b"GET /health HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\nhello",
    ] {
        assert_refused(&s, request.to_vec(), 400, message);
    }
}

#[test]
fn clients_sending_their_bodies_slowly_hold_no_worker() {
    let s = TestServer::start_with(|c| c.workers = 2);
    let head = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{";
    // Twice as many stalled bodies as there are workers, each on its own
    // connection and each sent with `Expect: 100-continue` or without.
    let stalled: Vec<Raw> = (0..4)
        .map(|n| {
            let mut raw = Raw::open(&s);
            let expect = if n % 2 == 0 {
                "Expect: 100-continue\r\n"
            } else {
                ""
            };
            raw.send(
                head.replacen("Host: x\r\n", &format!("Host: x\r\n{expect}"), 1)
                    .into_bytes(),
            );
            raw
        })
        .collect();
    thread::sleep(Duration::from_millis(300));

    // Every worker is free for other clients, within `Raw`'s ten seconds.
    let mut raw = Raw::open(&s);
    raw.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
    assert_eq!(raw.next_reply().status, 200);
    drop(stalled);
}

#[test]
fn a_malformed_header_line_answers_400_and_closes() {
    let s = TestServer::start();
    let not_a_header = "bad request: a header line is not `Name: value`";

    for (header, message) in [
        ("no colon here", not_a_header),
        (": no name", not_a_header),
        ("Content-Length : 5", not_a_header),
        ("Content Length: 5", not_a_header),
        (
            " Content-Length: 5",
            "bad request: a header line starts with white space",
        ),
        (
            "\tContent-Length: 5",
            "bad request: a header line starts with white space",
        ),
    ] {
        let head = format!("POST /x HTTP/1.1\r\nHost: x\r\n{header}");
        assert_refused(&s, hiding_a_registration(&head), 400, message);
    }

    assert_eq!(smuggled_users(&s), 0);
}

// Limits on the size of the request line and headers.

#[test]
fn a_request_line_of_8_kib_is_read_and_a_longer_one_answers_414_and_closes() {
    let s = TestServer::start();
    let line = |length: usize| {
        let frame = "GET / HTTP/1.1".len();
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(length - frame)
        )
    };
    let mut raw = Raw::open(&s);

    raw.send(line(8192).into_bytes());
    let longest = raw.next_reply();

    assert_eq!(longest.status, 404, "{longest:?}");
    for length in [8193, 1 << 20] {
        assert_refused(
            &s,
            line(length).into_bytes(),
            414,
            "bad request: the request line is longer than 8192 bytes",
        );
    }
}

#[test]
fn a_header_line_over_8_kib_answers_431_and_closes() {
    let s = TestServer::start();
    let header = |length: usize| {
        let value = "a".repeat(length - "X: ".len());
        format!("GET /health HTTP/1.1\r\nX: {value}\r\n\r\n").into_bytes()
    };
    let mut raw = Raw::open(&s);

    raw.send(header(8192));
    let longest = raw.next_reply();

    assert_eq!(longest.status, 200, "{longest:?}");
    for length in [8193, 64 << 20] {
        assert_refused(
            &s,
            header(length),
            431,
            "bad request: a header line is longer than 8192 bytes",
        );
    }
}

#[test]
fn more_than_100_headers_answer_431_and_close() {
    let s = TestServer::start();
    let headers = |count: usize| {
        let lines: String = (0..count).map(|i| format!("X-{i}: y\r\n")).collect();
        format!("GET /health HTTP/1.1\r\n{lines}\r\n").into_bytes()
    };
    let mut raw = Raw::open(&s);

    raw.send(headers(100));
    let most = raw.next_reply();

    assert_eq!(most.status, 200, "{most:?}");
    for count in [101, 10_000] {
        assert_refused(
            &s,
            headers(count),
            431,
            "bad request: more than 100 headers",
        );
    }
}

#[test]
fn headers_over_32_kib_in_all_answer_431_and_close() {
    let s = TestServer::start();
    // Four lines of 8 KiB fill the 32 KiB exactly.
    let headers = |more: &str| {
        let line = |i: usize| format!("X-{i}: {}\r\n", "y".repeat(8192 - "X-0: ".len()));
        let lines: String = (0..4).map(line).collect();
        format!("GET /health HTTP/1.1\r\n{lines}{more}\r\n").into_bytes()
    };
    let mut raw = Raw::open(&s);

    raw.send(headers(""));
    let most = raw.next_reply();

    assert_eq!(most.status, 200, "{most:?}");
    assert_refused(
        &s,
        headers("Z: 1\r\n"),
        431,
        "bad request: the headers are longer than 32768 bytes",
    );
}

// The HTTP layer's own answers.

#[test]
fn requests_the_http_layer_cannot_read_are_answered_in_json() {
    let s = TestServer::start();
    let not_a_request_line = "bad request: the request line is not `METHOD target HTTP/1.1`";

    for (request, status, message) in [
        (&b"GARBAGE\r\n\r\n"[..], 400, not_a_request_line),
        (b"\r\n\r\n", 400, not_a_request_line),
        (b"GET /health\r\n\r\n", 400, not_a_request_line),
        (b"GET  /health HTTP/1.1\r\n\r\n", 400, not_a_request_line),
        (b"GET /health HTTP/1.1 x\r\n\r\n", 400, not_a_request_line),
        (
            b"GET /health HTTP/1\r\n\r\n",
            400,
            "bad request: the request line does not end in an HTTP version",
        ),
        (
            b"GET /health HTTP/9.9\r\n\r\n",
            505,
            "bad request: only HTTP/1.0 and HTTP/1.1 are supported",
        ),
        (
            b"GET /health HTTP/2.0\r\n\r\n",
            505,
            "bad request: only HTTP/1.0 and HTTP/1.1 are supported",
        ),
        (
            b"GET /health HTTP/0.9\r\n\r\n",
            505,
            "bad request: only HTTP/1.0 and HTTP/1.1 are supported",
        ),
        (
            b"POST /auth/register HTTP/1.1\r\nExpect: nothing-good\r\n\r\n",
            417,
            "bad request: the only expectation understood is 100-continue",
        ),
    ] {
        assert_refused(&s, request.to_vec(), status, message);
    }
}
