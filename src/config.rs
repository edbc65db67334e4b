//! Every setting of the server, with its default, in one struct.
//!
//! [`ServeArgs`] is the command line of `bookstore serve`; each flag can also
//! be given as a `BOOKSTORE_*` environment variable. It turns into a
//! [`Config`], which is all the server reads. Tests build a [`Config`]
//! directly, usually from [`Config::for_tests`].

use std::path::PathBuf;

use clap::Args;

/// Where course clients look for the server.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";
/// The database file, relative to the working directory.
pub const DEFAULT_DB: &str = "bookstore.db";
/// Request workers. Each one holds a request from parsing to response, and a
/// password check can keep one busy for tens of milliseconds, so there are
/// more workers than cores.
pub const DEFAULT_WORKERS: usize = 8;
/// How long a login token stays valid, in seconds.
pub const DEFAULT_TOKEN_TTL: i64 = 3600;
/// How long an order may stay unpaid before it is cancelled, in seconds.
pub const DEFAULT_ORDER_TIMEOUT: i64 = 900;
/// The largest request body accepted. A book with a few pictures, base64
/// encoded, fits comfortably.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Argon2id memory in KiB and passes: the parameters OWASP recommends.
pub const DEFAULT_KDF_MEMORY_KIB: u32 = 19 * 1024;
pub const DEFAULT_KDF_PASSES: u32 = 2;

/// The settings a running server reads.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: String,
    pub db: PathBuf,
    pub workers: usize,
    /// Workers ask the kernel for short time slices (see `server::slice`).
    pub short_slices: bool,
    pub token_ttl: i64,
    pub order_timeout: i64,
    pub body_limit: usize,
    pub access_log: bool,
    pub demo: bool,
    pub kdf_memory_kib: u32,
    pub kdf_passes: u32,
    /// Enables `POST /test/advance_clock`. Never on in production.
    pub test_clock: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: DEFAULT_ADDR.to_string(),
            db: PathBuf::from(DEFAULT_DB),
            workers: DEFAULT_WORKERS,
            short_slices: true,
            token_ttl: DEFAULT_TOKEN_TTL,
            order_timeout: DEFAULT_ORDER_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            access_log: true,
            demo: false,
            kdf_memory_kib: DEFAULT_KDF_MEMORY_KIB,
            kdf_passes: DEFAULT_KDF_PASSES,
            test_clock: false,
        }
    }
}

impl Config {
    /// A server on a free loopback port with the given file, a cheap password
    /// hash and no access log: what black-box tests want.
    pub fn for_tests(db: PathBuf) -> Config {
        Config {
            addr: "127.0.0.1:0".to_string(),
            db,
            workers: 4,
            access_log: false,
            kdf_memory_kib: 8,
            kdf_passes: 1,
            ..Config::default()
        }
    }
}

/// The flags of `bookstore serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "BOOKSTORE_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: String,

    /// SQLite database file; created with the schema if it does not exist.
    #[arg(long, env = "BOOKSTORE_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    /// Number of request worker threads.
    #[arg(long, env = "BOOKSTORE_WORKERS", default_value_t = DEFAULT_WORKERS,
          value_parser = worker_count)]
    pub workers: usize,

    /// Leave the workers the kernel's default time slice instead of a short
    /// one: a little faster for a single client, a longer tail under load.
    #[arg(long, env = "BOOKSTORE_DEFAULT_SLICES")]
    pub default_slices: bool,

    /// Seconds a login token stays valid.
    #[arg(long, env = "BOOKSTORE_TOKEN_TTL", default_value_t = DEFAULT_TOKEN_TTL,
          value_parser = clap::value_parser!(i64).range(1..=10 * 365 * 86_400))]
    pub token_ttl: i64,

    /// Seconds an order may stay unpaid before it is cancelled automatically.
    #[arg(long, env = "BOOKSTORE_ORDER_TIMEOUT", default_value_t = DEFAULT_ORDER_TIMEOUT,
          value_parser = clap::value_parser!(i64).range(1..=10 * 365 * 86_400))]
    pub order_timeout: i64,

    /// Largest request body in bytes; larger ones are answered with 413.
    #[arg(long, env = "BOOKSTORE_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,

    /// Do not print a line per request.
    #[arg(long, env = "BOOKSTORE_QUIET")]
    pub quiet: bool,

    /// Load the demo catalog, seller, store and buyer if the database lacks them.
    #[arg(long, env = "BOOKSTORE_DEMO")]
    pub demo: bool,

    #[command(flatten)]
    pub kdf: KdfArgs,

    /// Enable POST /test/advance_clock, which moves the server's clock
    /// forward so harnesses can test timeouts without sleeping. For tests only.
    #[arg(long, env = "BOOKSTORE_TEST_CLOCK")]
    pub test_clock: bool,
}

/// The cost of the Argon2id password hash: the flags of every command that
/// hashes passwords (`serve`, `import`, `generate`).
#[derive(Args, Clone, Copy, Debug)]
pub struct KdfArgs {
    /// Memory of the Argon2id password hash, in KiB (at least 8). Lower it
    /// only for tests: it is what makes guessing stolen hashes expensive.
    #[arg(long, env = "BOOKSTORE_KDF_MEMORY", default_value_t = DEFAULT_KDF_MEMORY_KIB,
          value_parser = clap::value_parser!(u32).range(8..=4 * 1024 * 1024))]
    pub kdf_memory: u32,

    /// Passes of the Argon2id password hash (at least 1).
    #[arg(long, env = "BOOKSTORE_KDF_PASSES", default_value_t = DEFAULT_KDF_PASSES,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub kdf_passes: u32,
}

impl KdfArgs {
    /// A cheap hash for tests.
    pub const CHEAP: KdfArgs = KdfArgs {
        kdf_memory: 8,
        kdf_passes: 1,
    };
}

/// Between 1 and 512 workers.
fn worker_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=512).contains(&n) => Ok(n),
        _ => Err("a whole number from 1 to 512".to_string()),
    }
}

impl From<ServeArgs> for Config {
    fn from(a: ServeArgs) -> Config {
        Config {
            addr: a.addr,
            db: a.db,
            workers: a.workers,
            short_slices: !a.default_slices,
            token_ttl: a.token_ttl,
            order_timeout: a.order_timeout,
            body_limit: a.body_limit,
            access_log: !a.quiet,
            demo: a.demo,
            kdf_memory_kib: a.kdf.kdf_memory,
            kdf_passes: a.kdf.kdf_passes,
            test_clock: a.test_clock,
        }
    }
}
