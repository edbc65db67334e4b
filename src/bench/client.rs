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
    /// How many times a connection had to be opened again.
    pub reconnects: u64,
}

impl Client {
    pub fn new(target: &Target) -> Client {
        Client {
            target: target.clone(),
            conn: None,
            request: Vec::with_capacity(1024),
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
        let (answer, keep_alive) = read_answer(conn)?;
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

/// Reads one answer; also says whether the connection may be reused.
fn read_answer(conn: &mut BufReader<TcpStream>) -> io::Result<(Answer, bool)> {
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

    let body = if chunked {
        read_chunked(conn, &mut line)?
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        conn.read_exact(&mut body)?;
        body
    } else {
        // No length: the body runs to the end of the connection.
        keep_alive = false;
        let mut body = Vec::new();
        conn.read_to_end(&mut body)?;
        body
    };
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

fn read_chunked(conn: &mut BufReader<TcpStream>, line: &mut String) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
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
            return Ok(body);
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

    #[test]
    fn status_lines_are_read_strictly() {
        assert_eq!(parse_status("HTTP/1.1 200 OK\r\n").unwrap(), 200);
        assert_eq!(parse_status("HTTP/1.0 518 Whatever\r\n").unwrap(), 518);
        assert!(parse_status("SSH-2.0\r\n").is_err());
        assert!(parse_status("HTTP/1.1 abc\r\n").is_err());
    }
}
