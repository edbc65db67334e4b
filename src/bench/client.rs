//! A minimal HTTP/1.1 client for the load generator.
//!
//! The generator shares the machine with the server it measures, so every
//! microsecond it spends is taken from the server. This client does only what
//! the benchmark needs: one keep-alive connection, a request written in one
//! `write` call from a reused buffer, and the answer read by its status line,
//! its headers and a `Content-Length` or chunked body. A connection the
//! server closed while idle is replaced and the request sent again.
//!
//! Only plain `http://` URLs are supported: the benchmark measures the server,
//! not a TLS library.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for an answer before counting the request as failed, so a
/// stuck server cannot hang the benchmark.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The most room reserved for a body before any of it has arrived.
const FIRST_READ_LIMIT: usize = 16 << 20;

/// Where the server is: its socket address, the `Host` header to send and a
/// path prefix put before every request path.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub prefix: String,
}

impl Target {
    /// Parses `http://host:port[/prefix]`; the port defaults to 80.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let with_port = if host.contains(':') && !host.ends_with(']') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url:?}: the host has no address"))?;
        Ok(Target {
            addr,
            host: host.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// An answer: the status code and the raw body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection to the server, opened on first use.
pub struct Client {
    target: Target,
    conn: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    /// A body handed back by [`Client::recycle`], read into by the next
    /// answer: a history answer is 640 KB, and a fresh buffer for each was
    /// zeroed (or faulted in) while the clock ran.
    spare: Vec<u8>,
    /// How many times a connection had to be opened again.
    pub reconnects: u64,
}

impl Client {
    pub fn new(target: &Target) -> Client {
        Client {
            target: target.clone(),
            conn: None,
            request: Vec::with_capacity(1024),
            spare: Vec::new(),
            reconnects: 0,
        }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> io::Result<Answer> {
        self.send("GET", path, None, None)
    }

    /// `POST path` with a JSON body and, if given, the `token` header.
    pub fn post(&mut self, path: &str, token: Option<&str>, body: &[u8]) -> io::Result<Answer> {
        self.send("POST", path, token, Some(body))
    }

    /// Gives an answer's body back for the next answer to be read into.
    pub fn recycle(&mut self, body: Vec<u8>) {
        if body.capacity() > self.spare.capacity() {
            self.spare = body;
        }
    }

    /// Sends one request and reads its answer. A reused connection that turns
    /// out to be closed is replaced once; a fresh one that fails is an error.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> io::Result<Answer> {
        self.write_request(method, path, token, body);
        let reused = self.conn.is_some();
        match self.exchange() {
            Err(e) if reused && closed_by_peer(&e) => {
                self.conn = None;
                self.reconnects += 1;
                self.exchange()
            }
            other => other,
        }
    }

    fn write_request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) {
        let r = &mut self.request;
        r.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            r,
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\n",
            self.target.prefix, self.target.host
        );
        if let Some(token) = token {
            let _ = write!(r, "token: {token}\r\n");
        }
        if let Some(body) = body {
            let _ = write!(
                r,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        r.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            r.extend_from_slice(body);
        }
    }

    /// Writes the prepared request and reads the answer, closing the
    /// connection on any failure so the next request starts clean.
    fn exchange(&mut self) -> io::Result<Answer> {
        let result = self.try_exchange();
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn try_exchange(&mut self) -> io::Result<Answer> {
        if self.conn.is_none() {
            self.conn = Some(connect(self.target.addr)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.get_mut().write_all(&self.request)?;
        let (answer, keep_alive) = read_answer(conn, std::mem::take(&mut self.spare))?;
        if !keep_alive {
            self.conn = None;
        }
        Ok(answer)
    }
}

fn connect(addr: SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr)?;
    // Requests are written whole; waiting to coalesce them only adds latency.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    Ok(BufReader::with_capacity(64 * 1024, stream))
}

/// Whether an error means the server had closed the connection before the
/// request reached it (a keep-alive connection it let go while idle).
fn closed_by_peer(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Reads one answer, its body into `body`'s room; also says whether the
/// connection may be reused.
fn read_answer(conn: &mut BufReader<TcpStream>, mut body: Vec<u8>) -> io::Result<(Answer, bool)> {
    let mut line = String::new();
    read_line(conn, &mut line)?;
    let status = parse_status(&line)?;

    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = true;
    loop {
        read_line(conn, &mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(bad("a header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad("Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }

    body.clear();
    if chunked {
        read_chunked(conn, &mut line, &mut body)?;
    } else if let Some(n) = length {
        // Read into the vector's spare room, which is not zeroed first. The
        // length is the server's word, so it only sizes the first read.
        body.reserve(n.min(FIRST_READ_LIMIT));
        conn.by_ref().take(n as u64).read_to_end(&mut body)?;
        if body.len() < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    } else {
        // No length: the body runs to the end of the connection.
        keep_alive = false;
        conn.read_to_end(&mut body)?;
    }
    Ok((Answer { status, body }, keep_alive))
}

/// Reads one CRLF-terminated line into `line`; end of stream is an error.
fn read_line(conn: &mut BufReader<TcpStream>, line: &mut String) -> io::Result<()> {
    line.clear();
    if conn.read_line(line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn parse_status(line: &str) -> io::Result<u16> {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => {
            code.parse().map_err(|_| bad("the status code"))
        }
        _ => Err(bad("the status line")),
    }
}

fn read_chunked(
    conn: &mut BufReader<TcpStream>,
    line: &mut String,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    loop {
        read_line(conn, line)?;
        let size = line.trim_end().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("a chunk size"))?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])?;
        read_line(conn, line)?;
    }
    // Trailers, if any, end with an empty line.
    loop {
        read_line(conn, line)?;
        if line.trim_end().is_empty() {
            return Ok(());
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed answer: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_address_host_and_prefix() {
        let t = Target::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(t.addr.port(), 5000);
        assert_eq!(t.host, "127.0.0.1:5000");
        assert_eq!(t.prefix, "");

        let t = Target::parse("http://localhost:8080/api/").unwrap();
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(t.prefix, "/api");

        assert_eq!(Target::parse("http://127.0.0.1").unwrap().addr.port(), 80);
        assert!(Target::parse("https://127.0.0.1:5000").is_err());
    }

    /// Serves the canned `answers` in turn on one connection, one per
    /// request, each request read up to its blank line.
    fn canned_server(answers: Vec<Vec<u8>>) -> Target {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            for answer in answers {
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                writer.write_all(&answer).unwrap();
            }
        });
        Target::parse(&format!("http://{addr}")).unwrap()
    }

    #[test]
    fn a_recycled_body_holds_only_the_next_answer() {
        let long = "x".repeat(5000);
        let target = canned_server(vec![
            format!("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{long}").into_bytes(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n5\r\nthere\r\n0\r\n\r\n"
                .to_vec(),
            b"HTTP/1.1 518 Nope\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end".to_vec(),
        ]);
        let mut client = Client::new(&target);

        let first = client.get("/a").unwrap();
        assert_eq!((first.status, first.body.len()), (200, 5000));
        assert!(first.body.iter().all(|&b| b == b'x'));
        client.recycle(first.body);

        let chunked = client.get("/b").unwrap();
        assert_eq!(chunked.body, b"hithere");
        assert!(
            chunked.body.capacity() >= 5000,
            "the recycled room is reused"
        );
        client.recycle(chunked.body);

        let short = client.get("/c").unwrap();
        assert_eq!((short.status, short.body.as_slice()), (518, &b"ok"[..]));
        client.recycle(short.body);

        let to_end = client.get("/d").unwrap();
        assert_eq!(to_end.body, b"to the end");
        assert_eq!(client.reconnects, 0);
    }

    #[test]
    fn a_body_shorter_than_its_length_is_an_error() {
        let target = canned_server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort".to_vec(),
        ]);
        let mut client = Client::new(&target);
        let e = client.get("/a").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn status_lines_are_read_strictly() {
        assert_eq!(parse_status("HTTP/1.1 200 OK\r\n").unwrap(), 200);
        assert_eq!(parse_status("HTTP/1.0 518 Whatever\r\n").unwrap(), 518);
        assert!(parse_status("SSH-2.0\r\n").is_err());
        assert!(parse_status("HTTP/1.1 abc\r\n").is_err());
    }
}
