use ascii::AsciiString;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;

use crate::common::{HTTPVersion, Header, HeaderField, Method};
use crate::util::{write_patiently, Parking};
use crate::util::{RefinedTcpStream, DRAIN_LIMIT};
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::{Request, Response};

/// Patched: the longest request line read, in bytes. Past it the request is
/// refused with 414. This API's longest targets (a search with its query)
/// stay far below 1 KiB; 8 KiB is what common servers accept, so no client
/// that works elsewhere is turned away, while one connection can no longer
/// make the server buffer a line of any length.
const MAX_REQUEST_LINE: usize = 8 * 1024;

/// Patched: the longest header line read, in bytes (431 past it). The
/// longest header this API expects is a 64-character `token`; 8 KiB is, as
/// for the request line, what common servers accept.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// Patched: the most headers one request may carry (431 past it). Clients
/// send about five; 100 is a common server's limit.
const MAX_HEADERS: usize = 100;

/// Patched: the most bytes all header lines of one request may take
/// together (431 past it). With the request line this bounds what one
/// connection makes the server hold before its request is handed over to
/// about 40 KiB, where the published crate held whatever it was sent.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // Patched in: a byte of the request being read has arrived, so a
    // timeout now is a request that came too slowly (408), where before it
    // is a kept-alive connection left idle, closed without a word.
    request_started: bool,

    // Patched in: the server's body preload limit, which it may change.
    preload_limit: Arc<AtomicUsize>,

    // Patched in: where answers go that a client does not read in time.
    parking: Arc<Parking>,

    // true if the connection goes through SSL
    secure: bool,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    /// Patched: the request cannot be served. It is answered with this
    /// status and reason, and the connection is closed, since where the next
    /// request would start is unknown.
    Refused { status: u16, reason: String },
    ReadIoError(IoError),
}

/// Patched in: the refusal of a line that ends in LF alone.
fn bare_line_feed() -> ReadError {
    refused(400, "a line ends in a line feed without a carriage return")
}

fn refused(status: u16, reason: impl Into<String>) -> ReadError {
    ReadError::Refused {
        status,
        reason: reason.into(),
    }
}

/// Why a line could not be read.
enum LineError {
    /// The line is longer than the limit; reading stopped there.
    TooLong,
    /// A line feed came without the carriage return before it.
    BareLineFeed,
    Io(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        preload_limit: Arc<AtomicUsize>,
        parking: Arc<Parking>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            request_started: false,
            preload_limit,
            parking,
            secure,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line, up to its `CRLF`, which is not returned. The
    /// next read starts at the first byte of the following line.
    ///
    /// Patched: a line longer than `limit` bytes is not read past its
    /// limit; the published crate grew the line without end.
    fn read_line(&mut self, limit: usize) -> Result<Vec<u8>, LineError> {
        let mut line = Vec::new();
        loop {
            let byte = match self.next_header_source.by_ref().bytes().next() {
                Some(byte) => byte.map_err(LineError::Io)?,
                None => {
                    let eof = IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF");
                    return Err(LineError::Io(eof));
                }
            };
            self.request_started = true;
            if byte == b'\n' {
                if line.pop() == Some(b'\r') {
                    return Ok(line);
                }
                // Patched: refused at once; the published crate read on,
                // waiting for a CRLF that such a client never sends.
                return Err(LineError::BareLineFeed);
            }
            // `limit` bytes and the CR that ends them fit; one more does not.
            if line.len() > limit {
                return Err(LineError::TooLong);
            }
            line.push(byte);
        }
    }

    /// Reads the request line: method, target and version.
    fn read_request_line(&mut self) -> Result<(Method, String, HTTPVersion), ReadError> {
        let line = match self.read_line(MAX_REQUEST_LINE) {
            Ok(line) => line,
            Err(LineError::TooLong) => {
                let reason = format!("the request line is longer than {MAX_REQUEST_LINE} bytes");
                return Err(refused(414, reason));
            }
            Err(LineError::BareLineFeed) => return Err(bare_line_feed()),
            Err(LineError::Io(e)) => return Err(ReadError::ReadIoError(e)),
        };
        let line = printable(line)
            .ok_or_else(|| refused(400, "the request line holds a byte that is not ASCII text"))?;
        parse_request_line(&line)
    }

    /// Reads the header lines, up to the empty line that ends them.
    fn read_headers(&mut self) -> Result<Vec<Header>, ReadError> {
        let mut headers = Vec::new();
        let mut total = 0;
        loop {
            let limit = MAX_HEADER_LINE.min(MAX_HEADER_BYTES - total);
            let line = match self.read_line(limit) {
                Ok(line) => line,
                Err(LineError::TooLong) if limit < MAX_HEADER_LINE => {
                    let reason = format!("the headers are longer than {MAX_HEADER_BYTES} bytes");
                    return Err(refused(431, reason));
                }
                Err(LineError::TooLong) => {
                    let reason = format!("a header line is longer than {MAX_HEADER_LINE} bytes");
                    return Err(refused(431, reason));
                }
                Err(LineError::BareLineFeed) => return Err(bare_line_feed()),
                Err(LineError::Io(e)) => return Err(ReadError::ReadIoError(e)),
            };
            if line.is_empty() {
                return Ok(headers);
            }
            if headers.len() == MAX_HEADERS {
                return Err(refused(431, format!("more than {MAX_HEADERS} headers")));
            }
            total += line.len();
            headers.push(parse_header(line)?);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        self.request_started = false;
        let (method, path, version) = self.read_request_line()?;
        let headers = self.read_headers()?;

        // building the writer for the request
        let mut writer = self.sink.next().unwrap();
        // Patched: a request is handed over only once the answer to the one
        // before it on this connection has been written. The published
        // crate handed over every request it read: a client pipelining
        // requests without reading the answers had one worker blocked
        // writing and every other worker waiting behind it for its turn,
        // and requests piling up in memory.
        writer.wait_turn();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version,
            headers,
            // Patched: a client that reset the connection right after
            // connecting has no address to give; the published crate
            // panicked on it.
            self.remote_addr.as_ref().ok().copied().flatten(),
            data_source,
            writer,
            self.preload_limit.load(Ordering::Relaxed),
            self.parking.clone(),
        )
        .map_err(|e| {
            use crate::request::RequestCreationError;
            match e {
                RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                RequestCreationError::ExpectationFailed => {
                    refused(417, "the only expectation understood is 100-continue")
                }
                RequestCreationError::BadFraming(reason) => refused(400, reason),
            }
        })?;

        // return the request
        Ok(request)
    }

    /// Patched: answers a request that cannot be served with a JSON
    /// `message`, like every other answer of the server, and says that the
    /// connection closes. The published crate sent an empty body without a
    /// Content-Type, and nothing at all for a line that was not ASCII.
    fn refuse(&mut self, status: u16, reason: &str) {
        let mut writer = self.sink.next().unwrap();
        let answer = Response::json_message(status, &format!("bad request: {reason}"));
        let mut bytes = Vec::new();
        let printed = answer
            .closing_connection()
            .raw_print(&mut bytes, HTTPVersion(1, 1), &[], false, None);
        // This thread serves this connection alone, so it may wait for the
        // client. The client may be gone already; then there is nobody to
        // tell.
        if printed.is_ok() {
            let _ = write_patiently(&mut writer, &bytes);
        }
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        let mut rq = match self.read() {
            Ok(rq) => rq,
            Err(ReadError::Refused { status, reason }) => {
                self.refuse(status, &reason);
                return None;
            }
            // Patched: Linux reports a read timeout as `WouldBlock`, which
            // the published crate did not take for one.
            Err(ReadError::ReadIoError(ref err))
                if self.request_started
                    && matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) =>
            {
                self.refuse(408, "the request did not arrive in time");
                return None;
            }
            Err(ReadError::ReadIoError(_)) => return None,
        };

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };

        // Patched: the next request starts where this body ends, which is
        // known only if the body is read to its end. A body left unread is
        // drained when the request is dropped, but only a length one up to
        // DRAIN_LIMIT, and a chunked one not at all; the published crate then
        // parsed the rest of the body as the next request, so a request
        // hidden in a refused body (413) was run. Such a request is now the
        // last one of its connection.
        let chunked = rq
            .headers()
            .iter()
            .any(|h| h.field.equiv("Transfer-Encoding"));
        if chunked || rq.body_length().is_some_and(|n| n > DRAIN_LIMIT) {
            self.no_more_requests = true;
        }

        // Patched: the answer tells the client that the connection closes,
        // so it does not send its next request down a socket being closed.
        if self.no_more_requests {
            rq.close_connection_after();
        }

        // returning the request
        Some(rq)
    }
}

/// The line as text, or `None` if it holds a byte other than printable
/// ASCII, space or tab.
///
/// Patched: a lone CR or LF, a NUL or a byte past ASCII is refused. The
/// published crate closed the connection without an answer on a byte past
/// ASCII, and kept control characters, which other parsers may take for the
/// end of a line.
fn printable(line: Vec<u8>) -> Option<String> {
    let text = line
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    if text {
        String::from_utf8(line).ok()
    } else {
        None
    }
}

/// Parses a header line, `Name: value`.
///
/// Patched: a line that starts with white space continued the previous
/// header in old HTTP (line folding). The published crate trimmed that
/// space and read the line as a header of its own, where a proxy that
/// unfolds reads part of a value: they disagree on which headers, and so
/// which body length, a request has. It is refused, as RFC 9112 allows.
fn parse_header(line: Vec<u8>) -> Result<Header, ReadError> {
    let malformed = || refused(400, "a header line is not `Name: value`");
    let line = printable(line)
        .ok_or_else(|| refused(400, "a header holds a byte that is not ASCII text"))?;
    if line.starts_with([' ', '\t']) {
        return Err(refused(400, "a header line starts with white space"));
    }
    let (name, value) = line.split_once(':').ok_or_else(malformed)?;
    if name.is_empty() {
        return Err(malformed());
    }
    // Header names never hold white space; that keeps `Content-Length :`
    // from being a header that some parsers see and others do not.
    let field: HeaderField = name.parse().map_err(|_| malformed())?;
    let value = AsciiString::from_ascii(value.trim_matches([' ', '\t'])).map_err(|_| malformed())?;
    Ok(Header { field, value })
}

/// Parses a "HTTP/1.1" string.
///
/// Patched: a later HTTP/1.x is read as HTTP/1.1, as RFC 9110 asks, and
/// another major version is answered with 505 right away. The published
/// crate answered 505 only after reading the whole request, through a
/// writer queued behind the request's own, and so waited for itself: the
/// connection's thread hung for good.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let digits = match version.strip_prefix("HTTP/").map(str::as_bytes) {
        Some(&[major, b'.', minor]) if major.is_ascii_digit() && minor.is_ascii_digit() => {
            (major - b'0', minor - b'0')
        }
        _ => return Err(refused(400, "the request line does not end in an HTTP version")),
    };
    match digits {
        (1, 0) => Ok(HTTPVersion(1, 0)),
        (1, _) => Ok(HTTPVersion(1, 1)),
        _ => Err(refused(505, "only HTTP/1.0 and HTTP/1.1 are supported")),
    }
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
///
/// Patched: exactly three parts, separated by single spaces; the published
/// crate ignored whatever followed the third.
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let malformed = || refused(400, "the request line is not `METHOD target HTTP/1.1`");
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next())
    {
        (Some(method), Some(target), Some(version), None) => (method, target, version),
        _ => return Err(malformed()),
    };
    if method.is_empty() || target.is_empty() {
        return Err(malformed());
    }
    let method = method.parse().map_err(|_| malformed())?;
    Ok((method, target.to_owned(), parse_http_version(version)?))
}

#[cfg(test)]
mod test {
    use super::{parse_request_line, ReadError};

    fn status(line: &str) -> Option<u16> {
        match parse_request_line(line) {
            Ok(_) => None,
            Err(ReadError::Refused { status, .. }) => Some(status),
            Err(ReadError::ReadIoError(e)) => panic!("{}", e),
        }
    }

    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert_eq!(status("GET /hello"), Some(400));
        assert_eq!(status("qsd qsd qsd"), Some(400));
        assert_eq!(status("GET  /hello HTTP/1.1"), Some(400));
        assert_eq!(status("GET /hello HTTP/1.1 more"), Some(400));
        assert_eq!(status("GET /hello HTTP/2.0"), Some(505));
        assert_eq!(status("GET /hello HTTP/1.2"), None);
    }
}
