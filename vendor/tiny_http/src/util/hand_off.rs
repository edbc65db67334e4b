//! Patched in: the rest of an answer whose client has stopped reading is
//! written by a thread of its own, so the worker that began it goes back to
//! other requests.
//!
//! Sockets get a short write timeout (`STALL_AFTER`). A write that has sent
//! nothing when it expires fails with `WouldBlock`, and one that has sent
//! part of its bytes returns that part: either way the client is not taking
//! the answer as fast as it is written. The worker then copies what is left
//! of the answer into memory and hands it to a new thread, which keeps
//! writing until the socket gives up (`WRITE_TIMEOUT` without progress, see
//! `RefinedTcpStream`). The next request of that connection waits for that
//! thread, not for a worker, because it waits for the writer to be dropped.
//!
//! Answers held this way are counted, with a thread's stack for each; once
//! they reach `BUDGET`, a worker that meets a stalled client waits for it as
//! before, so memory stays bounded. The budget is checked when an answer is
//! handed over, so it can be passed by as many answers as there are workers.

use std::io::{self, ErrorKind, Write};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

/// How long a write may wait for a client that takes nothing before it
/// returns to its caller.
pub(crate) const STALL_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// The most memory answers handed to writing threads may hold at once.
const BUDGET: usize = 64 << 20;

/// The stack of a thread that finishes an answer: it only calls `write`.
const THREAD_STACK: usize = 64 << 10;

/// The answers of one server that threads are still writing.
#[derive(Default)]
pub(crate) struct Parking {
    held: Mutex<Held>,
    emptied: Condvar,
}

#[derive(Default)]
struct Held {
    /// Their bytes, with a thread's stack for each.
    bytes: usize,
    answers: usize,
}

impl Parking {
    /// Blocks until every answer handed to a thread has been written or
    /// given up.
    pub(crate) fn wait_until_written(&self) {
        let mut held = self.lock();
        while held.answers > 0 {
            held = self.emptied.wait(held).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn has_room(&self) -> bool {
        self.lock().bytes < BUDGET
    }

    /// Writes `rest` to `out` on a new thread, or on this one if no thread
    /// can be started.
    fn hand_over(self: &Arc<Self>, mut out: Box<dyn Write + Send>, rest: Vec<u8>) {
        let claim = Claim::new(self, rest.len() + THREAD_STACK);
        let (sender, receiver) = mpsc::channel::<(Box<dyn Write + Send>, Vec<u8>)>();
        let started = thread::Builder::new()
            .name("answer-writer".into())
            .stack_size(THREAD_STACK)
            .spawn(move || {
                if let Ok((mut out, rest)) = receiver.recv() {
                    // Failing here means the client is gone; the socket has
                    // been shut down, and nobody is left to tell.
                    let _ = write_patiently(&mut out, &rest);
                }
                drop(claim);
            });
        match started {
            // The thread is alive and waiting for exactly this.
            Ok(_) => drop(sender.send((out, rest))),
            Err(_) => drop(write_patiently(&mut out, &rest)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An answer being written by a thread of its own, counted in its parking
/// until dropped, even by a panic.
struct Claim {
    parking: Arc<Parking>,
    cost: usize,
}

impl Claim {
    fn new(parking: &Arc<Parking>, cost: usize) -> Claim {
        let mut held = parking.lock();
        held.bytes += cost;
        held.answers += 1;
        Claim {
            parking: Arc::clone(parking),
            cost,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = self.parking.lock();
        held.bytes -= self.cost;
        held.answers -= 1;
        if held.answers == 0 {
            self.parking.emptied.notify_all();
        }
    }
}

/// The writer a worker writes one answer through: at the client's first
/// stall the rest of the answer is kept, to be handed over by `finish`.
pub(crate) struct HandOff<'a> {
    out: Box<dyn Write + Send>,
    parking: &'a Arc<Parking>,
    /// What the client has not been sent yet, once it has stalled.
    rest: Option<Vec<u8>>,
}

impl<'a> HandOff<'a> {
    pub(crate) fn new(out: Box<dyn Write + Send>, parking: &'a Arc<Parking>) -> HandOff<'a> {
        HandOff {
            out,
            parking,
            rest: None,
        }
    }

    /// Hands what is left of the answer to a thread of its own, if the
    /// client stalled; otherwise the answer is written already.
    pub(crate) fn finish(self) {
        if let Some(rest) = self.rest {
            self.parking.hand_over(self.out, rest);
        }
    }

    /// The client stalled with `unsent` still to go: keep it if there is
    /// room, and say whether it was kept.
    fn keep(&mut self, unsent: &[u8]) -> bool {
        if !self.parking.has_room() {
            return false;
        }
        self.rest = Some(unsent.to_vec());
        true
    }
}

impl Write for HandOff<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(rest) = &mut self.rest {
            rest.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let result = self.out.write(buf);
        let sent = match result {
            Ok(n) if n == buf.len() || n == 0 => return result,
            // Cut short by the stall timeout.
            Ok(n) => n,
            Err(ref e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(_) => return result,
        };
        if self.keep(&buf[sent..]) {
            return Ok(buf.len());
        }
        // No room to keep it: this worker waits for the client.
        if sent > 0 {
            return Ok(sent);
        }
        write_patiently(&mut self.out, buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.rest.is_some() {
            return Ok(());
        }
        match self.out.flush() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if self.keep(&[]) {
                    Ok(())
                } else {
                    write_patiently(&mut self.out, &[])
                }
            }
            other => other,
        }
    }
}

/// Writes all of `bytes` and flushes, waiting out stalls; the socket itself
/// gives up once its client has taken nothing for `WRITE_TIMEOUT`.
pub(crate) fn write_patiently(out: &mut (impl Write + ?Sized), mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if is_stall(&e) => {}
            Err(e) => return Err(e),
        }
    }
    loop {
        match out.flush() {
            Err(e) if is_stall(&e) => {}
            other => return other,
        }
    }
}

fn is_stall(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted)
}
