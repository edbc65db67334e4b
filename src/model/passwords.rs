//! Password hashing and verification.
//!
//! Passwords are stored only as Argon2id hashes in PHC format (the salt and
//! cost travel with each hash, so changing the cost later does not lock
//! anyone out). Argon2id is slow on purpose, yet payment and add_funds check
//! the password on every call. To keep them fast, a successful check is
//! remembered in memory as a keyed SHA-256 tag of the stored hash and the
//! password: a later call with the same password for the same stored hash is
//! confirmed by recomputing that tag, which costs microseconds. The key is
//! random per process and the tags never leave memory, so they are no help to
//! anyone holding a copy of the database. A changed password changes the
//! stored hash, so old tags stop matching by themselves. A wrong password
//! always pays the full Argon2id cost.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How many users' confirmed passwords are remembered at most; beyond it the
/// memory is cleared and refills with the users who are active.
const CACHE_LIMIT: usize = 100_000;

type Tag = [u8; 32];

/// Hashes new passwords and checks given ones against stored hashes.
pub struct Passwords {
    argon: Argon2<'static>,
    key: [u8; 32],
    confirmed: Mutex<HashMap<String, Tag>>,
    slots: Slots,
}

/// Bounds how many Argon2id computations run at once. Each takes its full
/// memory cost (19 MiB by default) and a whole core; running more of them
/// than there are cores only multiplies the memory and slows each one.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Runs `f` once a slot is free.
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        drop(free);

        let value = f();

        *self.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.freed.notify_one();
        value
    }
}

impl Passwords {
    /// A hasher with the given Argon2id memory (KiB) and passes.
    pub fn new(memory_kib: u32, passes: u32) -> Result<Passwords> {
        let params = Params::new(memory_kib, passes, 1, None)
            .map_err(|e| Error::Internal(format!("password hash parameters: {e}")))?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Ok(Passwords {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            key,
            confirmed: Mutex::new(HashMap::new()),
            slots: Slots::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        })
    }

    /// A salted hash of `password`, in PHC string format.
    pub fn hash(&self, password: &str) -> Result<String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.slots
            .run(|| self.argon.hash_password(password.as_bytes(), &salt))
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
    }

    /// Checks `password` against `stored`, the hash kept for `user_id`.
    /// Answers [`Error::Unauthorized`] when it does not match.
    pub fn verify(&self, user_id: &str, password: &str, stored: &str) -> Result<()> {
        if self.confirmed_before(user_id, password, stored) {
            return Ok(());
        }
        let tag = self.tag(stored, password);

        // The slow path: a full Argon2id verification with the stored cost.
        let parsed = PasswordHash::new(stored)
            .map_err(|e| Error::Internal(format!("stored password hash of {user_id:?}: {e}")))?;
        let matched = self.slots.run(|| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        });
        if !matched {
            return Err(Error::Unauthorized);
        }
        self.remember(user_id, tag);
        Ok(())
    }

    /// Whether `password` was confirmed for `user_id` against this same
    /// stored hash before: the fast path of [`Passwords::verify`] alone,
    /// which never runs the slow hash. `false` says nothing either way.
    pub fn confirmed_before(&self, user_id: &str, password: &str, stored: &str) -> bool {
        self.remembered(user_id) == Some(self.tag(stored, password))
    }

    fn tag(&self, stored: &str, password: &str) -> Tag {
        // Length prefixes keep (hash, password) pairs from running together.
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((stored.len() as u64).to_le_bytes());
        h.update(stored.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn remembered(&self, user_id: &str) -> Option<Tag> {
        self.cache().get(user_id).copied()
    }

    fn remember(&self, user_id: &str, tag: Tag) {
        let mut cache = self.cache();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(user_id.to_string(), tag);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tag>> {
        // The map holds no invariant a panic could break.
        self.confirmed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(8, 1).unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = cheap();
        let stored = p.hash("secret").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(p.verify("u", "secret", &stored).is_ok());
        assert!(matches!(
            p.verify("u", "Secret", &stored),
            Err(Error::Unauthorized)
        ));
    }

    #[test]
    fn a_remembered_check_does_not_accept_another_password_or_hash() {
        let p = cheap();
        let old = p.hash("one").unwrap();
        p.verify("u", "one", &old).unwrap();
        assert!(p.verify("u", "two", &old).is_err());

        // After a password change the stored hash differs: the old password
        // must fail even though it was remembered for the old hash.
        let new = p.hash("two").unwrap();
        assert!(p.verify("u", "one", &new).is_err());
        assert!(p.verify("u", "two", &new).is_ok());
    }

    #[test]
    fn the_same_password_gets_a_different_salt_each_time() {
        let p = cheap();
        assert_ne!(p.hash("same").unwrap(), p.hash("same").unwrap());
    }
}
