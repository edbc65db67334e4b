//! The writing connection, with group commit.
//!
//! Committing costs more than most of the work it commits: SQLite appends
//! every page a transaction changed to the write-ahead log, two system calls
//! per page, and the pages every order touches (the end of a buyer's orders,
//! of the ledger, a store's listings, their indexes) are written again by
//! each transaction. So when requests queue for the writer, they
//! share one transaction. Each runs in a savepoint of its own, so a request
//! that fails undoes only its own changes; the last request of the queue
//! commits for all of them; none is answered before that commit. Requests
//! still run one at a time, each seeing the changes of those before it, so
//! the outcome is the same as if each had committed alone. A request that
//! finds no queue commits at once, as it always did.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The most requests one transaction holds, so the first of a long queue
/// does not wait for all the others.
pub const MAX_GROUP: usize = 32;

/// The writing connection and the requests waiting for it.
pub struct Writer {
    inner: Mutex<Inner>,
    /// Requests waiting for `inner`; the last one in commits.
    queued: AtomicUsize,
    /// Twice the number of transactions committed, plus one while a commit
    /// is under way: readers compare it before and after they read to know
    /// whether what they read is still the latest state.
    commits: AtomicU64,
}

struct Inner {
    conn: Connection,
    /// The group of the open transaction, if one is open.
    open: Option<Arc<Group>>,
    members: usize,
}

/// The requests of one transaction, waiting for its commit.
#[derive(Default)]
struct Group {
    outcome: Mutex<Outcome>,
    committed: Condvar,
}

/// How a group's commit went, and who is waiting to hear it.
#[derive(Default)]
struct Outcome {
    /// Set once the commit has been tried.
    done: Option<Result<(), SharedError>>,
    /// Members asleep on `committed`. Usually none: a lone request commits
    /// before it asks, and waking no one still costs a system call.
    waiting: usize,
}

/// A failed commit, as every member of the group reports it.
#[derive(Clone)]
struct SharedError {
    code: rusqlite::ffi::Error,
    message: String,
}

impl Writer {
    pub fn new(conn: Connection) -> Writer {
        Writer {
            inner: Mutex::new(Inner {
                conn,
                open: None,
                members: 0,
            }),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
        }
    }

    /// How many transactions have been committed, or `None` while one is
    /// being committed.
    pub fn commits(&self) -> Option<i64> {
        let n = self.commits.load(Ordering::SeqCst);
        n.is_multiple_of(2).then_some((n / 2) as i64)
    }

    /// Runs `f` as one atomic step of the current transaction, and returns
    /// once that transaction is committed. If `f` fails (or panics), its
    /// changes are undone and the error returned; the rest of the group is
    /// not affected.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut inner = lock(&self.inner);
        self.queued.fetch_sub(1, Ordering::SeqCst);

        let group = inner.join()?;
        let result = inner.run(f);
        inner.members += 1;
        if inner.members >= MAX_GROUP || self.queued.load(Ordering::SeqCst) == 0 {
            inner.commit(&self.commits);
        }
        drop(inner);

        let value = result?;
        group.wait()?;
        Ok(value)
    }

    /// Runs `f` on the connection between transactions (for maintenance such
    /// as the final checkpoint).
    pub fn idle<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let mut inner = lock(&self.inner);
        inner.commit(&self.commits);
        f(&inner.conn)
    }

    /// Runs `f` on the connection if nothing holds it, waits for it or has
    /// a transaction open; `None` otherwise. For housekeeping that can wait
    /// for a quiet moment and must not hold up a request.
    pub fn try_idle<T>(&self, f: impl FnOnce(&Connection) -> T) -> Option<T> {
        let inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        // An open transaction means a queued request is about to join it.
        if inner.open.is_some() || self.queued.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(f(&inner.conn))
    }
}

impl Inner {
    /// The open transaction's group, beginning a transaction if none is open.
    fn join(&mut self) -> Result<Arc<Group>> {
        if let Some(group) = &self.open {
            return Ok(group.clone());
        }
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let group = Arc::new(Group::default());
        self.open = Some(group.clone());
        self.members = 0;
        Ok(group)
    }

    /// Runs `f`: kept if it succeeds, undone if it fails. The first request
    /// of a transaction needs no savepoint, since undoing it means rolling
    /// the transaction back; the others run in one. If a savepoint cannot
    /// be closed, the whole transaction is rolled back and its group fails.
    fn run<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let first = self.members == 0;
        if !first {
            self.conn.prepare_cached("SAVEPOINT request")?.execute([])?;
        }
        let result = catch_unwind(AssertUnwindSafe(|| f(&self.conn)))
            .unwrap_or_else(|_| Err(Error::Internal("a write panicked".into())));
        let end = match (first, result.is_ok()) {
            (true, true) => return result,
            (true, false) => "ROLLBACK",
            (false, true) => "RELEASE request",
            (false, false) => "ROLLBACK TO request; RELEASE request",
        };
        if let Err(e) = self.conn.execute_batch(end) {
            self.abort(&e);
            return Err(e.into());
        }
        if first {
            // Rolled back: the transaction and its group, which holds only
            // this request, are over.
            if let Some(group) = self.open.take() {
                group.finish(Ok(()));
            }
        }
        result
    }

    /// Commits the open transaction, if any, and tells its group how it went.
    /// `commits` is odd from just before the commit until just after it, so
    /// no reader takes what it read during a commit for the latest state.
    fn commit(&mut self, commits: &AtomicU64) {
        let Some(group) = self.open.take() else {
            return;
        };
        commits.fetch_add(1, Ordering::SeqCst);
        let outcome = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(drop);
        commits.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Ok(()) => group.finish(Ok(())),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                group.finish(Err(SharedError::from(&e)));
            }
        }
    }

    /// Rolls the open transaction back; every request in it fails.
    fn abort(&mut self, cause: &rusqlite::Error) {
        if let Some(group) = self.open.take() {
            let _ = self.conn.execute_batch("ROLLBACK");
            group.finish(Err(SharedError::from(cause)));
        }
    }
}

impl Group {
    fn finish(&self, outcome: Result<(), SharedError>) {
        let waiting = {
            let mut state = lock(&self.outcome);
            state.done = Some(outcome);
            state.waiting
        };
        // Woken after the lock is let go, so that they do not wake only to
        // wait for it.
        if waiting > 0 {
            self.committed.notify_all();
        }
    }

    /// Waits until the group's transaction has been committed or has failed.
    fn wait(&self) -> Result<()> {
        let mut state = lock(&self.outcome);
        loop {
            if let Some(done) = &state.done {
                return done.clone().map_err(Error::from);
            }
            state.waiting += 1;
            state = self
                .committed
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
            state.waiting -= 1;
        }
    }
}

impl From<&rusqlite::Error> for SharedError {
    fn from(e: &rusqlite::Error) -> SharedError {
        let code = match e {
            rusqlite::Error::SqliteFailure(code, _) => *code,
            _ => rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
        };
        SharedError {
            code,
            message: e.to_string(),
        }
    }
}

impl From<SharedError> for Error {
    fn from(e: SharedError) -> Error {
        Error::Database(rusqlite::Error::SqliteFailure(e.code, Some(e.message)))
    }
}

/// Locks a mutex whose data a panic cannot leave inconsistent: requests run
/// under `catch_unwind`, and a group's outcome is set in one step.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER CHECK (n >= 0));")
            .unwrap();
        Writer::new(conn)
    }

    fn count(w: &Writer) -> i64 {
        w.idle(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .unwrap()
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind_and_later_ones_commit() {
        let w = writer();
        let failed = w.write(|c| {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            c.execute("INSERT INTO t VALUES (-1)", [])?;
            Ok(())
        });
        assert!(matches!(failed, Err(Error::Database(_))));
        w.write(|c| Ok(c.execute("INSERT INTO t VALUES (2)", [])?))
            .unwrap();
        assert_eq!(count(&w), 1);
    }

    #[test]
    fn commits_count_committed_transactions_only() {
        let w = writer();
        assert_eq!(w.commits(), Some(0));
        w.write(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?))
            .unwrap();
        let failed = w.write(|c| Ok(c.execute("INSERT INTO t VALUES (-1)", [])?));
        assert!(failed.is_err());
        assert_eq!(w.commits(), Some(1));
    }

    #[test]
    fn a_panicking_write_is_an_error_and_undone() {
        let w = writer();
        let panicked = w.write(|c| -> Result<()> {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            panic!("test");
        });
        assert!(matches!(panicked, Err(Error::Internal(_))));
        assert_eq!(count(&w), 0);
    }

    #[test]
    fn concurrent_writes_all_commit_and_failures_stay_their_own() {
        let w = writer();
        std::thread::scope(|s| {
            for i in 0..8 {
                let w = &w;
                s.spawn(move || {
                    for j in 0..50 {
                        // Every fifth write fails after inserting a row.
                        let n = if j % 5 == 0 { -1 } else { i * 100 + j };
                        let _ = w.write(|c| {
                            c.execute("INSERT INTO t VALUES (0)", [])?;
                            c.execute("INSERT INTO t VALUES (?1)", [n])?;
                            Ok(())
                        });
                    }
                });
            }
        });
        assert_eq!(count(&w), 8 * 40 * 2);
    }
}
