//! Large answer buffers, kept for the next large answer.
//!
//! A page of a thousand orders is 640 KB of JSON. A buffer that large comes
//! straight from the OS (the allocator maps every block over 128 KiB on its
//! own, see `server.rs`): each of its pages faults and is zeroed on first
//! write, and the whole mapping is undone once the answer is sent. That was
//! a fifth of the time of answering such a page. So the buffer of a large
//! answer comes back here once the answer has been sent, and the next large
//! answer is written into pages that are already there.
//!
//! At most [`KEPT`] buffers of at most [`LARGEST`] bytes each are kept, and
//! [`release`] drops them all when the server falls quiet, so idle memory
//! does not grow by them.

use std::sync::{Mutex, MutexGuard};

/// Smaller buffers come from the allocator's own free lists anyway.
const SMALLEST: usize = 128 << 10;
/// A larger buffer is not worth keeping for answers that rarely need it.
const LARGEST: usize = 4 << 20;
/// More than the answers that can be written at once on two cores.
const KEPT: usize = 4;

static SPARE: Spare = Spare::new();

/// An empty buffer with room for at least `room` bytes: a kept one if the
/// request is large and one is at hand.
pub fn take(room: usize) -> Vec<u8> {
    SPARE.take(room)
}

/// Keeps `buffer` for a later answer if it is worth it and there is room.
pub fn give_back(buffer: Vec<u8>) {
    SPARE.give_back(buffer)
}

/// Drops every kept buffer.
pub fn release() {
    *SPARE.kept() = Vec::new();
}

struct Spare(Mutex<Vec<Vec<u8>>>);

impl Spare {
    const fn new() -> Spare {
        Spare(Mutex::new(Vec::new()))
    }

    fn take(&self, room: usize) -> Vec<u8> {
        if room >= SMALLEST {
            let mut kept = self.kept();
            if let Some(i) = kept.iter().position(|b| b.capacity() >= room) {
                return kept.swap_remove(i);
            }
        }
        Vec::with_capacity(room)
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if !(SMALLEST..=LARGEST).contains(&buffer.capacity()) {
            return;
        }
        buffer.clear();
        let mut kept = self.kept();
        if kept.len() < KEPT {
            kept.push(buffer);
        }
    }

    /// A panic cannot leave the list inconsistent.
    fn kept(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_is_handed_out_again_empty() {
        let spare = Spare::new();
        let mut buffer = spare.take(SMALLEST * 3);
        buffer.extend_from_slice(b"[1,2,3]");
        let address = buffer.as_ptr();
        spare.give_back(buffer);

        let again = spare.take(SMALLEST * 2);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        assert!(spare.kept().is_empty());
    }

    #[test]
    fn a_kept_buffer_too_small_for_the_request_stays_kept() {
        let spare = Spare::new();
        spare.give_back(Vec::with_capacity(SMALLEST));
        let larger = spare.take(SMALLEST * 2);
        assert!(larger.capacity() >= SMALLEST * 2);
        assert_eq!(spare.kept().len(), 1);
    }

    #[test]
    fn small_and_huge_buffers_are_not_kept_nor_more_than_a_few() {
        let spare = Spare::new();
        spare.give_back(Vec::with_capacity(16));
        spare.give_back(Vec::with_capacity(LARGEST + 1));
        assert!(spare.kept().is_empty());
        for _ in 0..KEPT + 2 {
            spare.give_back(Vec::with_capacity(SMALLEST));
        }
        assert_eq!(spare.kept().len(), KEPT);
    }
}
