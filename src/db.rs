//! Opening the database file and handing out its connections.
//!
//! One connection writes, one request at a time, so two requests can never
//! interleave their changes; each request's changes are atomic, and requests
//! that queue for the writer are committed together ([`group`]). A few more
//! connections only read: in WAL mode they see the last
//! committed state without waiting for the writer, so queries and searches do
//! not queue behind orders.
//!
//! Committed pages are copied from the write-ahead log into the main file by
//! [`Db::checkpoint`], which the server's background thread runs on a
//! connection of its own: a checkpoint writes and syncs the file, and a
//! request should not wait for that. The writer checkpoints by itself only
//! if the log grows past [`WAL_BACKSTOP_PAGES`] anyway. The writer hands
//! each commit's log to the OS in one piece ([`batched_wal`]).
//!
//! The file's `user_version` is its schema version. Older files are upgraded
//! step by step on opening; a file written by a newer release is refused
//! rather than misread.

mod batched_wal;
mod group;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use group::Writer;

use crate::error::{Error, Result};

/// The whole schema, applied at every start (it is idempotent).
pub const SCHEMA: &str = include_str!("../schema.sql");

/// The schema version this release writes.
pub const SCHEMA_VERSION: i64 = 7;

/// Upgrades from each older version, applied in order before [`SCHEMA`]:
/// entry `i` takes a file from version `i + 1` to `i + 2`.
const UPGRADES: &[&str] = &[
    include_str!("../upgrades/2.sql"),
    include_str!("../upgrades/3.sql"),
    include_str!("../upgrades/4.sql"),
    include_str!("../upgrades/5.sql"),
    include_str!("../upgrades/6.sql"),
    include_str!("../upgrades/7.sql"),
];

/// How long a connection waits for another process's lock (for example a
/// `bookstore check` reading a live file) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pages in the write-ahead log at which the writer checkpoints by itself,
/// when the background checkpoints do not keep up (or do not run).
///
/// Under steady writing the background checkpoints never catch up with the
/// last frame, so the log is only started over from its beginning after the
/// writer's own checkpoint, and each such cycle makes the writer wait for
/// three fsyncs (log, file, the new log header), 3 to 100 ms on this
/// project's machine, while every queued request waits with it. At 10,000
/// pages (40 MB) sixteen sessions placing orders went through cycles
/// several times a second, and those waits set the p99 (6 to 9 ms); at
/// 50,000 (200 MB) it is about 4 ms. The log is truncated again once the
/// server falls quiet ([`Db::truncate_log`]).
const WAL_BACKSTOP_PAGES: i64 = 50_000;

/// How long truncating the log may wait for the writer or a reader: it is
/// only worth doing while nothing else happens.
const TRUNCATE_PATIENCE: Duration = Duration::from_millis(20);

/// The database: one writing connection, a small pool of reading ones, and
/// one that only checkpoints.
pub struct Db {
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    checkpointer: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the file at `path`, brings its schema up to
    /// date and opens `readers` extra read-only connections.
    pub fn open(path: &Path, readers: usize) -> Result<Db> {
        batched_wal::register()?;
        let vfs = batched_wal::NAME.to_str().expect("the name is ASCII");
        let writer = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)?;
        configure(&writer)?;
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES};"
        ))?;
        migrate(&writer)?;
        let checkpointer = Connection::open(path)?;
        configure(&checkpointer)?;

        let readers = (0..readers.max(1))
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Db {
            writer: Writer::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            checkpointer: Mutex::new(checkpointer),
        })
    }

    /// Runs `f` on the writing connection as one atomic change: kept if it
    /// returns `Ok`, undone, with nothing changed, if it returns an error.
    /// Returns once the change is committed.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.writer.write(f)
    }

    /// Runs `f` on a read-only connection inside one read transaction, so
    /// everything it reads comes from the same committed state.
    pub fn read<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.reader();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let value = f(&tx)?;
        tx.finish()?;
        Ok(value)
    }

    /// Like [`Db::read`], and also hands `f` the number of transactions
    /// committed before its read transaction began (`None` if one was being
    /// committed just then). If [`Db::commits`] still gives the same number
    /// once `f` has read, what `f` read is the latest committed state.
    pub fn read_counted<T>(
        &self,
        f: impl FnOnce(&Transaction, Option<i64>) -> Result<T>,
    ) -> Result<T> {
        // Counted before the transaction takes its snapshot, so the snapshot
        // holds at least every commit counted.
        let commits = self.commits();
        self.read(|tx| f(tx, commits))
    }

    /// How many transactions have been committed since the file was opened,
    /// or `None` while one is being committed.
    pub fn commits(&self) -> Option<i64> {
        self.writer.commits()
    }

    /// Copies what the write-ahead log holds into the main file, as far as
    /// readers allow, without waiting for or blocking the writer.
    pub fn checkpoint(&self) -> Result<()> {
        let conn = lock(&self.checkpointer);
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Checkpoints the whole write-ahead log and truncates it to nothing,
    /// giving its disk space back, if the writer and every reader are idle
    /// within [`TRUNCATE_PATIENCE`]; otherwise leaves it for another time.
    pub fn truncate_log(&self) -> Result<()> {
        let conn = lock(&self.checkpointer);
        conn.busy_timeout(TRUNCATE_PATIENCE)?;
        let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(done?)
    }

    /// Waits for the writer and checkpoints the write-ahead log into the main
    /// file, so a stopped server leaves one self-contained file behind.
    pub fn close(&self) -> Result<()> {
        self.writer
            .idle(|conn| conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))?;
        Ok(())
    }

    /// Hands back to the allocator the pages SQLite caches on every
    /// connection. A connection in use is skipped, so no request ever waits
    /// for this.
    pub fn release_memory(&self) -> Result<()> {
        self.writer.try_idle(shrink).transpose()?;
        for conn in self.readers.iter().chain([&self.checkpointer]) {
            if let Some(conn) = try_lock(conn) {
                shrink(&conn)?;
            }
        }
        Ok(())
    }

    /// A free reader if there is one, otherwise the next in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return guard;
            }
        }
        lock(&self.readers[start % n])
    }
}

/// Locks a connection. A panic while it was held left no open transaction
/// behind (dropping a `Transaction` rolls it back), so the connection is
/// still good and the poison can be ignored.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Locks a connection if no one holds it (ignoring poison, as [`lock`]).
fn try_lock(m: &Mutex<Connection>) -> Option<MutexGuard<'_, Connection>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Frees the pages of a connection's page cache that no statement holds;
/// they are read again, mostly from the OS's cache, when needed. Prepared
/// statements are kept: dropping them saved nothing measurable.
fn shrink(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA shrink_memory;")?;
    Ok(())
}

/// Pragmas every connection needs.
///
/// `synchronous = NORMAL` in WAL mode keeps every committed transaction when
/// the process is killed; only a power loss or OS crash can lose the last few.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(())
}

/// Opens an existing database file read-only, to inspect it while a server
/// may be writing to it. Never creates the file nor touches its schema.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    open_reader(path)
}

/// The page cache of each reader, in KiB. Pages missing from it are read
/// from the OS's cache with one system call each: with 512 KiB, a search
/// repeated over the generated catalog read 26 pages that way, 40 % of its
/// system time; with 4 MiB, fewer than one. The caches are emptied when
/// the server falls quiet ([`Db::release_memory`]), so they cost memory
/// only while requests come.
const READER_CACHE_KIB: u32 = 4096;

fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{READER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
    ))?;
    Ok(conn)
}

/// Brings the file's schema to [`SCHEMA_VERSION`].
fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Internal(format!(
            "the database has schema version {version}, newer than this release's \
             {SCHEMA_VERSION}; use a newer bookstore"
        )));
    }
    let fresh = version == 0;
    if !fresh {
        for upgrade in &UPGRADES[(version - 1) as usize..] {
            conn.execute_batch(upgrade)?;
        }
    }
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
    Ok(())
}
