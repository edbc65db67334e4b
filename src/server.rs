//! The transport: listener, worker threads, body limits, access log, and
//! shutdown.
//!
//! One `tiny_http::Server` accepts connections and parses requests (it keeps
//! connections alive between requests). A fixed pool of workers takes
//! requests from it, reads each body up to the configured limit, hands the
//! request to [`api::handle`] and writes the answer. A background thread
//! cancels overdue orders and forgets expired sessions once a second, so
//! deadlines pass even when no request arrives, and gives memory back when
//! requests stop coming (the `idle` module).
//!
//! Workers write answers straight to the client's socket, and a connection
//! has one request with them at a time. A client that takes nothing of its
//! answer for 20 ms gets the rest of it from a thread of its own, so clients
//! that stop reading hold no worker; writing gives up after 30 seconds
//! without progress. Those threads hold at most about 64 MiB of answers;
//! past that, a worker waits for its stalled client as long as that.

mod idle;
mod slice;

use std::io::Read;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::api::{self, json, Input, Reply};
use crate::app::App;
use crate::config::Config;
use crate::error::{log_cause, Error, Result};
use crate::model::{accounts, orders};
use idle::Activity;

pub use idle::IDLE_AFTER;

/// The longest a worker spends reading one request body.
const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// How often the background sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A running server.
pub struct Server {
    app: Arc<App>,
    addr: SocketAddr,
    stopper: Stopper,
    threads: Vec<JoinHandle<()>>,
}

/// Stops a running server from anywhere (a signal handler, a test).
#[derive(Clone)]
pub struct Stopper {
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: usize,
}

impl Stopper {
    /// Stops taking requests. Requests already taken are finished; the
    /// workers then exit and [`Server::wait`] returns.
    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Each unblock wakes one worker waiting for a request.
        for _ in 0..self.workers {
            self.http.unblock();
        }
    }
}

impl Server {
    /// Opens the database, binds the address and starts the workers.
    pub fn start(config: Config) -> Result<Server> {
        return_freed_memory();
        let app = Arc::new(App::open(config)?);
        let http = tiny_http::Server::http(&app.config.addr)
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", app.config.addr)))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| Error::Internal("the listener has no IP address".into()))?;

        // Bodies the server accepts are read in full by the connection's
        // thread, so a client sending one slowly holds no worker.
        http.set_body_preload_limit(app.config.body_limit);
        let stopper = Stopper {
            http: Arc::new(http),
            stopping: Arc::new(AtomicBool::new(false)),
            workers: app.config.workers,
        };
        let activity = Arc::new(Activity::default());
        let mut threads = Vec::with_capacity(stopper.workers + 1);
        for n in 0..stopper.workers {
            let (app, http) = (app.clone(), stopper.http.clone());
            let (stopping, activity) = (stopper.stopping.clone(), activity.clone());
            threads.push(spawn(&format!("worker-{n}"), move || {
                if app.config.short_slices {
                    slice::shorten_for_this_thread();
                }
                work(&app, &http, &stopping, &activity)
            })?);
        }
        let (sweep_app, stopping) = (app.clone(), stopper.stopping.clone());
        threads.push(spawn("sweeper", move || {
            sweep(&sweep_app, &stopping, &activity)
        })?);
        Ok(Server {
            app,
            addr,
            stopper,
            threads,
        })
    }

    /// The address the server listens on (the real port when asked for 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for tests that look behind the API.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Gives back now what the server gives back by itself once requests
    /// stop coming: cached search rankings and database pages, and the
    /// allocator's free space. Safe while requests run; a connection in use
    /// keeps its pages.
    pub fn release_memory(&self) {
        idle::release_memory(&self.app);
    }

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Blocks until the server has been stopped and every in-flight request
    /// answered, then checkpoints the database.
    pub fn wait(self) -> Result<()> {
        for t in self.threads {
            let _ = t.join();
        }
        self.stopper.http.wait_for_handed_over_answers();
        self.app.db.close()
    }

    /// Stops the server and waits for it.
    pub fn stop(self) -> Result<()> {
        self.stopper.stop();
        self.wait()
    }
}

/// Makes the allocator hand big blocks back to the system as soon as they
/// are freed, and keeps it to two arenas. Every password hash works in
/// 19 MiB, and an order history answer can be a megabyte; by default glibc
/// raises its threshold after the first such block and keeps later ones in
/// the arena of each of the many threads, so an idle server held hundreds of
/// megabytes after a few dozen logins. With these settings it holds about
/// 10 MB.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets parameters of the allocator, which is
        // valid at any time and from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::Internal(format!("cannot start thread {name}: {e}")))
}

/// A worker: answers requests until the server stops.
///
/// `recv` also fails when the listener could not accept a connection, for
/// example when the process has run out of file descriptors. Such an error
/// is logged and the worker carries on: leaving would shrink the pool for
/// good, and the listener keeps accepting once descriptors are free again.
fn work(app: &App, http: &tiny_http::Server, stopping: &AtomicBool, activity: &Activity) {
    loop {
        match http.recv() {
            Ok(request) => {
                let _busy = activity.begin();
                serve(app, request)
            }
            // Stopping sets the flag before it unblocks each worker.
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(e) => eprintln!("error: accepting a connection: {e}"),
        }
    }
}

/// Answers one request and writes its access-log line.
fn serve(app: &App, mut request: tiny_http::Request) {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url.as_str(), None),
    };
    let token = header(&request, "token");

    let reply = match read_body(&mut request, app.config.body_limit) {
        Ok(body) => {
            let input = Input {
                method: &method,
                path,
                query,
                body: &body,
                token: token.as_deref(),
            };
            catch_unwind(AssertUnwindSafe(|| api::handle(app, &input))).unwrap_or_else(|_| {
                eprintln!("error: {method} {path}: the handler panicked");
                json::error(&Error::Internal("panic".into()))
            })
        }
        Err(e) => json::error(&e),
    };

    let status = reply.status;
    if let Err(e) = request.respond(response(reply)) {
        eprintln!("error: {method} {path}: writing the response: {e}");
    }
    if app.config.access_log {
        eprintln!(
            "{method} {path} {status} {}us",
            started.elapsed().as_micros()
        );
    }
}

/// The body, or 413 if it is larger than `limit` (decided from the declared
/// length when there is one, so an oversized body is not read at all).
///
/// A body with a length within the limit is in memory already: the HTTP
/// layer reads it on the connection's own thread. A chunked body is read
/// here, and a client that sends it slowly holds this worker; so reading
/// gives up once [`BODY_DEADLINE`] has passed, checked before every read (a
/// single read waits at most the socket's 30-second timeout). A chunked
/// body is never drained after its answer: its connection closes.
fn read_body(request: &mut tiny_http::Request, limit: usize) -> Result<Vec<u8>> {
    if request.body_length().is_some_and(|n| n > limit) {
        return Err(Error::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0).min(1 << 20));
    let reader = Deadline {
        inner: request.as_reader(),
        until: Instant::now() + BODY_DEADLINE,
    };
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            if is_timeout(&e) {
                Error::TooSlow
            } else {
                Error::invalid(format!("reading the request body: {e}"))
            }
        })?;
    if body.len() > limit {
        return Err(Error::TooLarge(limit));
    }
    Ok(body)
}

/// A reader that fails with a timeout once `until` has passed.
struct Deadline<R> {
    inner: R,
    until: Instant,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() > self.until {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.inner.read(buf)
    }
}

/// How a socket's read timeout shows: Linux says the read would block.
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

/// The whole body is at hand, so it is always sent with its length, and
/// from where it is: chunked framing would only add to a large answer (an
/// order history of 600 KB) and cut it into more pieces.
fn response(reply: Reply) -> tiny_http::Response<std::io::Empty> {
    let content_type = tiny_http::Header::from_bytes("Content-Type", reply.content_type)
        .expect("content types are ASCII constants");
    let status = tiny_http::StatusCode(reply.status);
    tiny_http::Response::from_bytes(status, vec![content_type], reply.body)
        .with_chunked_threshold(usize::MAX)
}

/// The background sweep: cancels overdue orders and drops expired sessions,
/// checkpoints the database at every tick, so that requests never have to,
/// and releases memory at the start of each quiet period.
fn sweep(app: &App, stopping: &AtomicBool, activity: &Activity) {
    let tick = Duration::from_millis(100);
    let mut last = Instant::now();
    let mut watch = idle::Watch::new(Instant::now());
    while !stopping.load(Ordering::SeqCst) {
        thread::sleep(tick);
        if let Err(e) = app.db.checkpoint() {
            eprintln!("error: checkpoint: {}", log_cause(&e));
        }
        if watch.newly_quiet(activity, Instant::now()) {
            idle::release_memory(app);
        }
        if last.elapsed() < SWEEP_EVERY {
            continue;
        }
        last = Instant::now();
        let now = app.now();
        let swept = app.db.write(|tx| {
            orders::expire_due(tx, now)?;
            accounts::purge_expired_sessions(tx, now)
        });
        if let Err(e) = swept {
            eprintln!("error: background sweep: {}", log_cause(&e));
        }
    }
}
