use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use crate::connection::Connection;
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
use crate::ssl::SslStream;

pub(crate) enum Stream {
    Http(Connection),
    #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
    Https(SslStream),
}

impl Stream {
    // Patched: duplicating a socket takes a file descriptor, which may not
    // be there; the published `Clone` unwrapped the error and so killed the
    // accepting thread when descriptors ran out.
    fn try_clone(&self) -> IoResult<Self> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.try_clone().map(Stream::Http),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => Ok(Stream::Https(ssl_stream.clone())),
        }
    }
}

impl From<Connection> for Stream {
    fn from(tcp_stream: Connection) -> Self {
        Stream::Http(tcp_stream)
    }
}

impl Stream {
    fn secure(&self) -> bool {
        match self {
            Stream::Http(_) => false,
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => true,
        }
    }

    fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.peer_addr(),
        }
    }

    fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.read(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.write(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.write(buf),
        }
    }

    fn flush(&mut self) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.flush(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.flush(),
        }
    }
}

pub struct RefinedTcpStream {
    stream: Stream,
    close_read: bool,
    close_write: bool,
    // Patched in: when the client began to take nothing, if it has.
    stalled_since: Option<Instant>,
}

impl RefinedTcpStream {
    pub(crate) fn new<S>(stream: S) -> IoResult<(RefinedTcpStream, RefinedTcpStream)>
    where
        S: Into<Stream>,
    {
        let stream: Stream = stream.into();

        let (read, write) = (stream.try_clone()?, stream);

        let read = RefinedTcpStream {
            stream: read,
            close_read: true,
            close_write: false,
            stalled_since: None,
        };

        let write = RefinedTcpStream {
            stream: write,
            close_read: false,
            close_write: true,
            stalled_since: None,
        };

        Ok((read, write))
    }

    /// Returns true if this struct wraps around a secure connection.
    #[inline]
    pub(crate) fn secure(&self) -> bool {
        self.stream.secure()
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// Patched in: a write that times out has waited `STALL_AFTER` for a
    /// client that took nothing, and the caller may try again, until the
    /// client has taken nothing for `WRITE_TIMEOUT`. Then, or after any other
    /// failure, the connection is shut down (an interrupted write is only
    /// retried by the caller).
    fn watch<T>(&mut self, result: IoResult<T>) -> IoResult<T> {
        let kind = match &result {
            Ok(_) => {
                self.stalled_since = None;
                return result;
            }
            Err(e) => e.kind(),
        };
        if kind == ErrorKind::Interrupted {
            return result;
        }
        if kind == ErrorKind::WouldBlock {
            let since = *self.stalled_since.get_or_insert_with(Instant::now);
            if since.elapsed() < crate::WRITE_TIMEOUT {
                return result;
            }
        }
        self.stream.shutdown(Shutdown::Both).ok();
        if kind == ErrorKind::WouldBlock {
            let reason = "the client has read nothing for too long";
            return Err(IoError::new(ErrorKind::TimedOut, reason));
        }
        result
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.stream.read(buf)
    }
}

impl Write for RefinedTcpStream {
    /// Patched: a write that fails (the client is gone, or has taken nothing
    /// for `WRITE_TIMEOUT`) shuts the whole connection down. The answers to
    /// requests it had pipelined behind this one then fail at once instead of
    /// each waiting out the timeout again, and the thread reading its
    /// requests stops. A shorter stall is reported as `WouldBlock`, so a
    /// worker can hand the answer over (see `hand_off`).
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        let written = self.stream.write(buf);
        self.watch(written)
    }

    fn flush(&mut self) -> IoResult<()> {
        let flushed = self.stream.flush();
        self.watch(flushed)
    }
}
