//! The state every request handler shares: settings, database, clock and
//! password hasher.

use crate::api::histories::Histories;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::Result;
use crate::model::passwords::Passwords;
use crate::search;

/// Read-only connections opened beside the writer.
const READERS: usize = 4;

/// One running bookstore.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub clock: Clock,
    pub passwords: Passwords,
    /// Rankings of recent searches.
    pub search_cache: search::Cache,
    /// Whole order histories, as answered last.
    pub histories: Histories,
}

impl App {
    /// Opens the database named in `config` and prepares everything else.
    pub fn open(config: Config) -> Result<App> {
        let db = Db::open(&config.db, READERS.min(config.workers))?;
        let passwords = Passwords::new(config.kdf_memory_kib, config.kdf_passes)?;
        Ok(App {
            config,
            db,
            clock: Clock::default(),
            passwords,
            search_cache: search::Cache::default(),
            histories: Histories::default(),
        })
    }

    /// The server's current time in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
