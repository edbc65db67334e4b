//! Answers kept for reuse while the data they were made from stays the same.
//!
//! Every kept value is tagged with the generation of the data it was made
//! from: a number that grows whenever that data changes. A value is handed
//! out only to a reader that sees the same generation, so it is never stale.
//! Keeping a value of a newer generation forgets all older ones, and a value
//! of an older generation than the kept ones is not kept at all.
//!
//! Past its budget the map is emptied and fills again with what is asked
//! next, rather than evicting one value at a time: these caches serve bursts
//! of the same few questions, and the server empties them anyway when
//! requests stop coming (see `server::idle`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// What every kept value costs on top of its own size, in bytes: its slot
/// in the map and the headers of its key and value. Counted so that values
/// of size zero (a search that matched nothing) still fill the budget;
/// counted as nothing, a stream of distinct empty answers grew the map
/// without end while requests kept coming.
pub const ENTRY_BYTES: usize = 128;

/// Values by key, for one generation of the data.
pub struct Kept<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// The most bytes the kept values may add up to.
    budget: usize,
}

struct Inner<K, V> {
    generation: i64,
    values: HashMap<K, V>,
    held: usize,
}

impl<K, V> Default for Inner<K, V> {
    fn default() -> Self {
        Inner {
            generation: 0,
            values: HashMap::new(),
            held: 0,
        }
    }
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    /// An empty map whose values may add up to `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Kept {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    /// The value kept under `key` for `generation`, if any.
    pub fn get(&self, generation: i64, key: &K) -> Option<V> {
        let inner = self.lock();
        if inner.generation != generation {
            return None;
        }
        inner.values.get(key).cloned()
    }

    /// Keeps `value`, made from the data at `generation`, under `key`;
    /// `size` is the bytes the key and value hold apart from their headers,
    /// and [`ENTRY_BYTES`] more are counted against the budget. A value
    /// larger than the whole budget is not kept.
    pub fn keep(&self, generation: i64, key: K, value: V, size: usize) {
        let size = size.saturating_add(ENTRY_BYTES);
        if size > self.budget {
            return;
        }
        let mut inner = self.lock();
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation || inner.held + size > self.budget {
            *inner = Inner {
                generation,
                ..Inner::default()
            };
        }
        // Two readers may make the same value at once; counting both only
        // empties the map a little early.
        inner.held += size;
        inner.values.insert(key, value);
    }

    /// Forgets every kept value.
    pub fn clear(&self) {
        let mut inner = self.lock();
        let generation = inner.generation;
        *inner = Inner {
            generation,
            ..Inner::default()
        };
    }

    /// A panic while the lock was held cannot leave a half-made entry (each
    /// change is one assignment or insert), so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_handed_out_only_for_its_own_generation() {
        let kept = Kept::new(1000);
        kept.keep(5, "k", 1, 1);
        assert_eq!(kept.get(5, &"k"), Some(1));
        assert_eq!(kept.get(6, &"k"), None);
        assert_eq!(kept.get(4, &"k"), None);
    }

    #[test]
    fn a_newer_generation_forgets_the_older_and_an_older_one_is_not_kept() {
        let kept = Kept::new(1000);
        kept.keep(5, "a", 1, 1);
        kept.keep(6, "b", 2, 1);
        kept.keep(5, "c", 3, 1);
        assert_eq!(kept.get(5, &"a"), None);
        assert_eq!(kept.get(5, &"c"), None);
        assert_eq!(kept.get(6, &"b"), Some(2));
    }

    #[test]
    fn past_the_budget_the_map_starts_again_and_oversized_values_stay_out() {
        let kept = Kept::new(2 * ENTRY_BYTES + 10);
        kept.keep(1, "a", 1, 6);
        kept.keep(1, "b", 2, 6);
        assert_eq!(kept.get(1, &"a"), None);
        assert_eq!(kept.get(1, &"b"), Some(2));
        kept.keep(1, "huge", 3, ENTRY_BYTES + 11);
        assert_eq!(kept.get(1, &"huge"), None);
        assert_eq!(kept.get(1, &"b"), Some(2));
    }

    #[test]
    fn values_of_size_zero_still_fill_the_budget() {
        let kept = Kept::new(10 * ENTRY_BYTES);
        for key in 0..10_000 {
            kept.keep(1, key, (), 0);
        }
        let held = kept.lock().values.len();
        assert!((1..=10).contains(&held), "{held} values held");
    }

    #[test]
    fn clearing_forgets_everything_but_keeps_the_generation() {
        let kept = Kept::new(1000);
        kept.keep(3, "a", 1, 1);
        kept.clear();
        assert_eq!(kept.get(3, &"a"), None);
        kept.keep(2, "b", 2, 1);
        assert_eq!(kept.get(2, &"b"), None);
    }
}
