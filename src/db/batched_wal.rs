//! A file layer for the writing connection that sends each transaction's
//! write-ahead log to the OS in one system call instead of two per page.
//!
//! SQLite appends a committed transaction to the log frame by frame, and
//! writes every frame as two calls: its 24-byte header, then the page. A new
//! order changes about ten pages, so its commit made twenty `pwrite` calls,
//! each touching the OS page cache on its own; measured on this project's
//! machine that is 27 us per commit, against 6.5 us for one call carrying
//! the same bytes.
//!
//! So the writer opens the database through this layer, a thin wrapper
//! around SQLite's own file layer. For the log file only, writes that
//! continue one another are gathered in memory and handed to the OS
//! together. The rule that keeps this safe: the gathered bytes are written
//! out before the call that completes a commit returns. A frame header
//! whose commit field is set marks the last frame of a transaction, and the
//! page written right after it is the end of that transaction; the batch is
//! written then, and an error there fails the commit as an error of the
//! original write would. Other readers learn of the new frames only after
//! that, when SQLite publishes them in the shared index. Any other use of
//! the log file (a read, a write elsewhere, a sync, a size query, a
//! truncation, closing) writes the batch out first, so what SQLite reads
//! back is always what it wrote. A process killed halfway loses only a
//! transaction that had not been committed, as with SQLite alone.
//!
//! Every other file, and every other operation, goes straight to SQLite's
//! default file layer.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::mem::{align_of, size_of};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name the layer is registered under.
pub const NAME: &CStr = c"bookstore-batched-wal";

/// Size of a frame header in the log.
const FRAME_HEADER: usize = 24;

/// The most bytes gathered before they are written anyway. The default
/// layer writes less than 128 KiB per call (it masks larger lengths), and a
/// large transaction should not hold its whole log in memory. A new order's
/// commit (ten frames, 41 KB) fits.
const MAX_BATCH: usize = 64 << 10;

/// Registers the layer with SQLite, once; later calls do nothing.
pub fn register() -> rusqlite::Result<()> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    let rc = *REGISTERED.get_or_init(|| unsafe { register_once() });
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None))
    }
}

/// Builds the layer from the default one and registers it (not as default).
///
/// # Safety
/// Called once; the layer is leaked, as SQLite keeps pointers to it.
unsafe fn register_once() -> c_int {
    let rc = ffi::sqlite3_initialize();
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let base = ffi::sqlite3_vfs_find(ptr::null());
    if base.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // The same operations as the default layer, except opening files. The
    // default layer's other operations do not depend on which layer
    // structure they are called through.
    let mut vfs: ffi::sqlite3_vfs = *base;
    vfs.szOsFile = (File::real_offset() + (*base).szOsFile as usize) as c_int;
    vfs.zName = NAME.as_ptr();
    vfs.pNext = ptr::null_mut();
    vfs.pAppData = base.cast();
    vfs.xOpen = Some(open);
    ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0)
}

/// An open file as SQLite sees it: SQLite's own header, then this layer's
/// state, then the default layer's file structure, all in the memory SQLite
/// allocated (`szOsFile` bytes).
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    /// The log's gathered writes; `None` for every other file.
    batch: Option<Box<Batch>>,
}

/// Consecutive writes to the log not yet handed to the OS.
#[derive(Default)]
struct Batch {
    /// File offset of `bytes[0]`.
    start: i64,
    bytes: Vec<u8>,
    /// The last write was the header of a transaction's last frame.
    commit_follows: bool,
    /// The end of the furthest write since the log was last started over:
    /// a write before it changes bytes the log already has.
    end: i64,
}

impl File {
    /// Where the default layer's structure starts, suitably aligned.
    fn real_offset() -> usize {
        size_of::<File>().next_multiple_of(align_of::<u64>().max(16))
    }

    /// The default layer's structure for `file`.
    unsafe fn real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
        file.cast::<u8>().add(File::real_offset()).cast()
    }

    unsafe fn methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
        &*(*File::real(file)).pMethods
    }

    /// Hands the gathered bytes of `file` to the OS, if there are any.
    unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
        let this = &mut *file.cast::<File>();
        let Some(batch) = this.batch.as_deref_mut() else {
            return ffi::SQLITE_OK;
        };
        batch.commit_follows = false;
        if batch.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let write = File::methods(file).xWrite.expect("files can be written");
        let rc = write(
            File::real(file),
            batch.bytes.as_ptr().cast(),
            batch.bytes.len() as c_int,
            batch.start,
        );
        // Written or failed, the bytes are done with: on failure SQLite
        // abandons the transaction they belong to.
        batch.bytes.clear();
        rc
    }
}

/// Opens a file through the default layer and wraps it.
unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
    let real = File::real(file);
    // SQLite calls close only on a file whose methods are set.
    ptr::write(
        file.cast::<File>(),
        File {
            base: ffi::sqlite3_file {
                pMethods: ptr::null(),
            },
            batch: None,
        },
    );
    let open = (*base).xOpen.expect("the default layer opens files");
    let rc = open(base, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // The methods below forward every operation of version 3, which the
    // Unix layer has; over an older layer, which lacks some of them, the
    // file is refused rather than left to call what is missing.
    if File::methods(file).iVersion < 3 {
        if let Some(close) = File::methods(file).xClose {
            close(real);
        }
        return ffi::SQLITE_CANTOPEN;
    }
    let this = &mut *file.cast::<File>();
    if flags & ffi::SQLITE_OPEN_WAL != 0 {
        this.batch = Some(Box::default());
        this.base.pMethods = &LOG_METHODS;
    } else {
        this.base.pMethods = &PASS_METHODS;
    }
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let flushed = File::flush(file);
    let close = File::methods(file).xClose.expect("files can be closed");
    let rc = close(File::real(file));
    ptr::drop_in_place(file.cast::<File>());
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        rc
    }
}

/// A write to the log: gathered while it continues the batch.
unsafe extern "C" fn log_write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let this = &mut *file.cast::<File>();
    let batch = this.batch.as_deref_mut().expect("a log file has a batch");
    // Read before anything is written out: writing the batch clears it, and
    // the page that ends a commit must be written before this call returns
    // even when it starts a new batch.
    let ends_commit = batch.commit_follows;
    let continues = offset == batch.start + batch.bytes.len() as i64;
    let fits = batch.bytes.len() + amount as usize <= MAX_BATCH;
    let joins = batch.bytes.is_empty() || (continues && fits);
    if !joins {
        let rc = File::flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    let batch = (*file.cast::<File>()).batch.as_deref_mut().unwrap();
    if batch.bytes.is_empty() {
        batch.start = offset;
    }
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), amount as usize);
    batch.bytes.extend_from_slice(bytes);

    // A write at offset 0 is the header of a log started over.
    if offset == 0 {
        batch.end = 0;
    }
    let rewrite = offset < batch.end;
    batch.end = batch.end.max(offset + i64::from(amount));
    // Bytes 4..8 of a frame header hold the database size after a commit,
    // and are zero in every frame but a transaction's last.
    let commit_header = bytes.len() == FRAME_HEADER && bytes[4..8] != [0; 4];
    batch.commit_follows = commit_header;
    // A commit header rewritten in place with its new checksum (SQLite does
    // so for every frame of a transaction that wrote a spilled page again)
    // is the last write of that commit, with no page after it: it goes out
    // now. Left in the batch, a process killed before the next write would
    // leave a log whose checksums end before the commit, and the next write
    // would be taken for the page ending it.
    if ends_commit || (commit_header && rewrite) {
        return File::flush(file);
    }
    ffi::SQLITE_OK
}

/// Defines operations on the log that write the gathered bytes out first,
/// then do what the default layer does.
macro_rules! after_flush {
    ($($name:ident => $pass:ident ($($arg:ident: $ty:ty),*);)*) => {
        $(
            unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
                let rc = File::flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                $pass(file $(, $arg)*)
            }
        )*
    };
}

after_flush! {
    log_read => pass_read(data: *mut c_void, amount: c_int, offset: i64);
    log_truncate => pass_truncate(size: i64);
    log_sync => pass_sync(flags: c_int);
    log_file_size => pass_file_size(size: *mut i64);
    log_file_control => pass_file_control(op: c_int, arg: *mut c_void);
}

/// Defines operations that only forward to the default layer.
macro_rules! forward {
    ($($name:ident => $method:ident ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
                let method = File::methods(file).$method.expect("the default layer has it");
                method(File::real(file) $(, $arg)*)
            }
        )*
    };
}

forward! {
    pass_read => xRead(data: *mut c_void, amount: c_int, offset: i64) -> c_int;
    pass_write => xWrite(data: *const c_void, amount: c_int, offset: i64) -> c_int;
    pass_truncate => xTruncate(size: i64) -> c_int;
    pass_sync => xSync(flags: c_int) -> c_int;
    pass_file_size => xFileSize(size: *mut i64) -> c_int;
    pass_lock => xLock(level: c_int) -> c_int;
    pass_unlock => xUnlock(level: c_int) -> c_int;
    pass_check_reserved_lock => xCheckReservedLock(out: *mut c_int) -> c_int;
    pass_file_control => xFileControl(op: c_int, arg: *mut c_void) -> c_int;
    pass_sector_size => xSectorSize() -> c_int;
    pass_device_characteristics => xDeviceCharacteristics() -> c_int;
    pass_shm_map => xShmMap(region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int;
    pass_shm_lock => xShmLock(offset: c_int, n: c_int, flags: c_int) -> c_int;
    pass_shm_barrier => xShmBarrier() -> ();
    pass_shm_unmap => xShmUnmap(delete: c_int) -> c_int;
    pass_fetch => xFetch(offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int;
    pass_unfetch => xUnfetch(offset: i64, page: *mut c_void) -> c_int;
}

/// Operations of every file but the log. Version 3, as the default layer's:
/// shared memory for the log's index, and memory-mapped reads.
static PASS_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(pass_read),
    xWrite: Some(pass_write),
    xTruncate: Some(pass_truncate),
    xSync: Some(pass_sync),
    xFileSize: Some(pass_file_size),
    xLock: Some(pass_lock),
    xUnlock: Some(pass_unlock),
    xCheckReservedLock: Some(pass_check_reserved_lock),
    xFileControl: Some(pass_file_control),
    xSectorSize: Some(pass_sector_size),
    xDeviceCharacteristics: Some(pass_device_characteristics),
    xShmMap: Some(pass_shm_map),
    xShmLock: Some(pass_shm_lock),
    xShmBarrier: Some(pass_shm_barrier),
    xShmUnmap: Some(pass_shm_unmap),
    xFetch: Some(pass_fetch),
    xUnfetch: Some(pass_unfetch),
};

/// Operations of the log file: writes gathered, everything else after the
/// gathered bytes are written.
static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    xRead: Some(log_read),
    xWrite: Some(log_write),
    xTruncate: Some(log_truncate),
    xSync: Some(log_sync),
    xFileSize: Some(log_file_size),
    xFileControl: Some(log_file_control),
    ..PASS_METHODS
};

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::*;

    /// A writer through the layer and a plain reader on a new file.
    fn pair(dir: &tempfile::TempDir) -> (Connection, Connection) {
        register().unwrap();
        let path = dir.path().join("t.db");
        let vfs = NAME.to_str().unwrap();
        let writer = Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), vfs).unwrap();
        // A tiny page cache makes large transactions spill pages into the
        // log before they commit, and write some of them again.
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 PRAGMA cache_size = 10;
                 CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
            )
            .unwrap();
        (writer, Connection::open(&path).unwrap())
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn every_commit_is_visible_to_another_connection_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = pair(&dir);
        for k in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (?1, zeroblob(100))", [k])
                .unwrap();
            assert_eq!(count(&reader), k + 1);
        }
    }

    /// Commits of every length from one frame to about forty, so that the
    /// page ending a commit falls at every place in a batch, including
    /// first in a new one because the batch before it was full.
    #[test]
    fn the_page_ending_a_commit_is_written_wherever_it_falls_in_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = pair(&dir);
        for k in 1..=160_i64 {
            let value: Vec<u8> = (0..k * 1024).map(|i| (i * 7 + k) as u8).collect();
            writer
                .execute("INSERT INTO t VALUES (?1, ?2)", rusqlite::params![k, value])
                .unwrap();
            let read: Vec<u8> = reader
                .query_row("SELECT v FROM t WHERE k = ?1", [k], |r| r.get(0))
                .unwrap_or_else(|e| panic!("commit of {k} KiB: {e}"));
            assert!(read == value, "commit of {k} KiB read back different");
        }
        drop(writer);
        let again = Connection::open(dir.path().join("t.db")).unwrap();
        assert_eq!(count(&again), 160);
    }

    /// A commit that spilled pages and wrote some of them again ends by
    /// rewriting its frames' headers in place, its last one included; the
    /// next commit's last page must still be written before it returns.
    #[test]
    fn a_commit_right_after_one_that_rewrote_its_headers_is_visible_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, reader) = pair(&dir);
        let tx = writer.transaction().unwrap();
        for k in 0..500 {
            tx.execute("INSERT INTO t VALUES (?1, zeroblob(2000))", [k])
                .unwrap();
        }
        tx.execute("UPDATE t SET v = zeroblob(1500) WHERE k % 3 = 0", [])
            .unwrap();
        tx.commit().unwrap();

        // The files as a process killed now would leave them: recovery
        // there must find the commit whose headers were rewritten.
        let copy = tempfile::tempdir().unwrap();
        for name in ["t.db", "t.db-wal"] {
            std::fs::copy(dir.path().join(name), copy.path().join(name)).unwrap();
        }
        assert_eq!(
            count(&Connection::open(copy.path().join("t.db")).unwrap()),
            500
        );

        writer.execute_batch("PRAGMA user_version = 7;").unwrap();

        let version: i64 = reader
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("the last commit's page is in the log");
        assert_eq!(version, 7);
        assert_eq!(count(&reader), 500);
    }

    #[test]
    fn large_spilled_and_rolled_back_transactions_leave_a_sound_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, reader) = pair(&dir);
        // Several MiB of log in one transaction: past the batch limit, and
        // past the page cache, so pages are spilled and rewritten.
        let tx = writer.transaction().unwrap();
        for k in 0..3000 {
            tx.execute("INSERT INTO t VALUES (?1, zeroblob(2000))", [k])
                .unwrap();
        }
        tx.execute("UPDATE t SET v = zeroblob(1500) WHERE k % 3 = 0", [])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(count(&reader), 3000);

        let tx = writer.transaction().unwrap();
        for k in 3000..5000 {
            tx.execute("INSERT INTO t VALUES (?1, zeroblob(2000))", [k])
                .unwrap();
        }
        tx.rollback().unwrap();
        writer
            .execute("INSERT INTO t VALUES (9999, x'01')", [])
            .unwrap();

        assert_eq!(count(&reader), 3001);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        drop(writer);
        // Reopened from the file alone, through the default layer.
        let again = Connection::open(dir.path().join("t.db")).unwrap();
        assert_eq!(count(&again), 3001);
    }
}
