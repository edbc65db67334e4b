//! The ranked matches of recent searches, kept for reuse.
//!
//! Ranking a common keyword reads every book it matches, which takes
//! milliseconds on a large catalog. The ranking depends only on which books
//! are listed where, and a book's text never changes once written, so it
//! stays right until a store lists a book, which raises the catalog's
//! version (`catalog_version`, in the same transaction). Ranked lists are
//! kept under the version their read transaction saw; a search that sees
//! the same version reuses the list, so further pages of a keyword and
//! repeated keywords cost only the page itself. Orders and stock changes
//! leave the version alone: stock is read fresh for every page.
//!
//! The cache serves bursts: the server empties it when requests stop coming
//! (see `server::idle`), since after a busy period it can hold tens of
//! megabytes. A page asked for after such a pause ranks its keyword again:
//! about 2 ms for most words of the generated catalog of 100,000 books,
//! 15 to 25 ms for the few that occur in most of its books.

use std::sync::Arc;

use rusqlite::Connection;

use crate::cache::Kept;
use crate::error::Result;

/// At most this many bytes are held over all kept lists (a rowid is 8);
/// past it the cache is emptied and fills again with what is searched next.
pub const MAX_HELD: usize = 32 << 20;

/// What a list is kept under: the store searched (`None` for the whole
/// catalog) and the FTS5 expression.
type Key = (Option<String>, String);

/// Ranked rowid lists by store and FTS5 expression, for one version of the
/// catalog.
pub struct Cache {
    lists: Kept<Key, Arc<Vec<i64>>>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            lists: Kept::new(MAX_HELD),
        }
    }
}

/// The version of the catalog the transaction on `conn` sees.
pub fn generation(conn: &Connection) -> Result<i64> {
    let mut stmt = conn.prepare_cached("SELECT version FROM catalog_version WHERE id = 0")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

impl Cache {
    /// The list kept for `store` and `expression` at `generation`, or the
    /// one `rank` makes, which is then kept. `rank` runs without holding the
    /// cache's lock.
    pub fn ranked(
        &self,
        generation: i64,
        store: Option<&str>,
        expression: &str,
        rank: impl FnOnce() -> Result<Vec<i64>>,
    ) -> Result<Arc<Vec<i64>>> {
        let key = (store.map(String::from), expression.to_string());
        if let Some(list) = self.lists.get(generation, &key) {
            return Ok(list);
        }
        let list = Arc::new(rank()?);
        let size =
            size_of_val(list.as_slice()) + key.0.as_ref().map_or(0, String::len) + key.1.len();
        self.lists.keep(generation, key, list.clone(), size);
        Ok(list)
    }

    /// Forgets every kept list.
    pub fn clear(&self) {
        self.lists.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(cache: &Cache, generation: i64, store: Option<&str>, value: i64) -> Vec<i64> {
        cache
            .ranked(generation, store, "k", || Ok(vec![value]))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_list_is_reused_only_for_the_same_catalog_state() {
        let cache = Cache::default();
        assert_eq!(list(&cache, 5, None, 1), [1]);
        assert_eq!(list(&cache, 5, None, 2), [1]);
        assert_eq!(list(&cache, 5, Some("s"), 3), [3]);
        assert_eq!(list(&cache, 6, None, 4), [4]);
        assert_eq!(list(&cache, 5, None, 5), [5]);
        assert_eq!(list(&cache, 6, None, 6), [4]);
    }
}
