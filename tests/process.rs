//! The `bookstore serve` executable as a separate process: it stops cleanly
//! on SIGTERM, keeps every acknowledged write when killed outright, and
//! survives running out of file descriptors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any single wait in these tests may take before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A running `bookstore serve` and the lines it writes to stderr.
struct Process {
    child: Child,
    addr: String,
    stderr: Receiver<String>,
}

impl Process {
    /// Starts the executable on `db` with cheap password hashing and the
    /// given extra flags, under a shell that first runs `limits` (for
    /// example `ulimit -n 64`), and waits until it listens.
    fn start(db: &Path, limits: &str, flags: &[&str]) -> Process {
        let script = format!("{limits}\nexec \"$0\" \"$@\"");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_bookstore"))
            .args(["serve", "--addr", "127.0.0.1:0", "--quiet"])
            .args(["--kdf-memory", "8", "--kdf-passes", "1"])
            .arg("--db")
            .arg(db)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the executable starts");
        let stderr = lines_of(child.stderr.take().unwrap());
        let mut process = Process {
            child,
            addr: String::new(),
            stderr,
        };
        let line = process.wait_for_line("listening on http://");
        process.addr = line.rsplit("http://").next().unwrap().trim().to_string();
        process
    }

    /// Waits for a stderr line containing `text` and returns it.
    fn wait_for_line(&self, text: &str) -> String {
        loop {
            match self.stderr.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no line with {text:?} on stderr: {e}"),
            }
        }
    }

    /// Whether a stderr line containing `text` has arrived since the last
    /// look; does not wait.
    fn saw_line(&self, text: &str) -> bool {
        self.stderr.try_iter().any(|line| line.contains(text))
    }

    /// What the process holds, for a failure message.
    fn describe(&self) -> String {
        let pid = self.child.id();
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let threads = status.lines().find(|l| l.starts_with("Threads:"));
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
        let files = limits.lines().find(|l| l.starts_with("Max open files"));
        format!(
            "{fds} descriptors open, {}; {}",
            threads.unwrap_or("threads unknown"),
            files.unwrap_or("descriptor limit unknown")
        )
    }

    fn signal(&self, name: &str) {
        // The shell's own `kill`, so no separate program is needed.
        let status = Command::new("sh")
            .args(["-c", "kill -s \"$0\" \"$1\""])
            .arg(name)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// POSTs a JSON body on a new connection; returns status and body.
    fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut stream = self.connect();
        let body = body.to_string();
        let token = token.map_or(String::new(), |t| format!("token: {t}\r\n"));
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{token}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        read_answer(&mut stream)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Only if a test failed halfway is the process still running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Forwards each line of `stream` to the returned channel.
fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

/// Reads one HTTP answer with a Content-Length: its status and JSON body.
fn read_answer(stream: &mut TcpStream) -> (u16, Value) {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("a status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn register(p: &Process, user_id: &str) {
    let (status, body) = p.post(
        "/auth/register",
        None,
        json!({"user_id": user_id, "password": "pw"}),
    );
    assert_eq!(status, 200, "register {user_id}: {body}");
}

fn login(p: &Process, user_id: &str) -> (u16, Value) {
    p.post(
        "/auth/login",
        None,
        json!({"user_id": user_id, "password": "pw", "terminal": "t"}),
    )
}

#[test]
fn sigterm_answers_the_request_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(&dir.path().join("b.db"), "", &["--workers", "2"]);
    let body = json!({"user_id": "late", "password": "pw"}).to_string();
    let mut held = p.connect();
    // A chunked body is read by the worker that took the request (a body
    // of known length would be read before any worker sees it), so the
    // 100 Continue says a worker holds it.
    write!(
        held,
        "POST /auth/register HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_answer(&mut held).0, 100, "a worker holds the request");

    p.signal("TERM");
    write!(held, "{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).unwrap();
    let (status, answer) = read_answer(&mut held);

    assert_eq!(status, 200, "{answer}");
    p.wait_for_line("stopped");
    let mut p = p;
    let exit = p.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let wal = dir.path().join("b.db-wal");
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_bytes, 0, "the log was checkpointed into the file");
    let again = Process::start(&dir.path().join("b.db"), "", &[]);
    assert_eq!(login(&again, "late").0, 200);
}

#[test]
fn a_killed_server_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let p = Process::start(&db, "", &[]);
    for i in 0..20 {
        register(&p, &format!("user{i}"));
    }
    let (_, session) = login(&p, "user0");
    let token = session["token"].as_str().unwrap().to_string();
    let funds = json!({"user_id": "user0", "password": "pw", "add_value": 1234});
    assert_eq!(p.post("/buyer/add_funds", None, funds).0, 200);

    p.signal("KILL");
    let mut p = p;
    p.child.wait().unwrap();
    let p = Process::start(&db, "", &[]);

    for i in 0..20 {
        assert_eq!(login(&p, &format!("user{i}")).0, 200, "user{i} is lost");
    }
    let query = json!({"user_id": "user0"});
    assert_eq!(p.post("/buyer/query_orders", Some(&token), query).0, 200);
    let withdraw = json!({"user_id": "user0", "password": "pw", "add_value": -1234});
    assert_eq!(p.post("/buyer/add_funds", None, withdraw).0, 200);
}

/// Keeps the tests that run a server out of descriptors from running at
/// the same time: each holds a crowd of connections, each with a thread,
/// and where threads are limited for the whole user the two crowds
/// together could run out of threads before descriptors.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static CROWDS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CROWDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens connections, one at a time, until a server limited to 64 file
/// descriptors reports failing to accept one, and returns them. The surplus
/// waits in the listen backlog (at least 128), so connecting never blocks.
fn exhaust_file_descriptors(p: &Process) -> Vec<TcpStream> {
    let mut open = Vec::new();
    let started = Instant::now();
    while !p.saw_line("accepting a connection") {
        assert!(
            started.elapsed() < PATIENCE,
            "the server never ran out of descriptors with {} connections open; {}",
            open.len(),
            p.describe()
        );
        let stream = (open.len() < 100).then(|| TcpStream::connect(&p.addr));
        match stream {
            Some(Ok(stream)) => open.push(stream),
            _ => thread::sleep(Duration::from_millis(10)),
        }
    }
    open
}

#[test]
fn running_out_of_file_descriptors_does_not_stop_the_workers() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(
        &dir.path().join("b.db"),
        "ulimit -n 64",
        &["--workers", "1"],
    );
    let mut kept_alive = p.connect();
    let health = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n";
    kept_alive.write_all(health).unwrap();
    assert_eq!(read_answer(&mut kept_alive).0, 200);

    let crowd = exhaust_file_descriptors(&p);
    drop(crowd);
    kept_alive.write_all(health).unwrap();

    assert_eq!(read_answer(&mut kept_alive).0, 200);
}

/// Running out of descriptors is passing: once some are free again, new
/// connections are accepted. Each accepted connection takes two descriptors,
/// so the two limits make the last one run out either at `accept` or when
/// the socket is duplicated; both must be survived.
#[test]
fn after_running_out_of_file_descriptors_new_connections_are_served_again() {
    let _alone = one_at_a_time();
    for limit in [64, 65] {
        served_again_after_running_out(&format!("ulimit -n {limit}"));
    }
}

fn served_again_after_running_out(limits: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(&dir.path().join("b.db"), limits, &["--workers", "1"]);

    drop(exhaust_file_descriptors(&p));

    let started = Instant::now();
    let healthy = || -> Option<u16> {
        let mut stream = TcpStream::connect(&p.addr).ok()?;
        stream.set_read_timeout(Some(PATIENCE)).ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            .ok()?;
        // While descriptors are short, the server may accept a connection
        // and drop it at once: that is a closed stream, not yet an answer.
        let mut status_line = String::new();
        BufReader::new(&mut stream)
            .read_line(&mut status_line)
            .ok()?;
        status_line.split_whitespace().nth(1)?.parse().ok()
    };
    while healthy() != Some(200) {
        assert!(started.elapsed() < PATIENCE, "new connections are refused");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The time slice the kernel reports for each worker thread of `pid`, or
/// `None` for a kernel that keeps no slice per thread (before Linux 6.12).
fn worker_slices(pid: u32) -> Option<Vec<u64>> {
    let mut slices = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: i64 = task.unwrap().file_name().to_str().unwrap().parse().unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap();
        if !comm.starts_with("worker-") {
            continue;
        }
        let size = std::mem::size_of::<libc::sched_attr>() as u32;
        // SAFETY: sched_attr is plain integers; the kernel writes at most
        // `size` bytes into it.
        let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::syscall(libc::SYS_sched_getattr, tid, &mut attr, size, 0) };
        assert_eq!(got, 0, "sched_getattr of thread {tid}");
        slices.push(attr.sched_runtime);
    }
    (slices.iter().any(|&s| s != 0)).then_some(slices)
}

/// The workers' slices once every worker has started and set its own.
fn settled_worker_slices(pid: u32, workers: usize, settled: impl Fn(u64) -> bool) -> Vec<u64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let slices = worker_slices(pid).unwrap_or_default();
        if (slices.len() == workers && slices.iter().all(|&s| settled(s)))
            || Instant::now() > deadline
        {
            return slices;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn workers_ask_for_short_slices_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(&dir.path().join("b.db"), "", &["--workers", "3"]);
    if worker_slices(p.child.id()).is_none() {
        eprintln!("this kernel keeps no time slice per thread; nothing to check");
        return;
    }
    let short = settled_worker_slices(p.child.id(), 3, |s| s == 100_000);
    assert_eq!(short, vec![100_000; 3]);
    drop(p);

    let p = Process::start(
        &dir.path().join("c.db"),
        "",
        &["--workers", "3", "--default-slices"],
    );
    p.wait_for_line("workers: 3 (default slices)");
    let default = settled_worker_slices(p.child.id(), 3, |s| s > 100_000);
    assert_eq!(default.len(), 3);
    assert!(default.iter().all(|&s| s > 100_000), "{default:?}");
}
