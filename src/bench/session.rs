//! Sessions: the simulated clients, each on its own thread with its own
//! connection, measurements and random numbers, and the gate that shares one
//! budget of work among them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::client::{Answer, Client, Target};
use super::progress;
use super::stats::{Endpoint, Recorder, NO_ANSWER};

/// One simulated client.
pub struct Session {
    /// Which session this is, from 0.
    pub index: usize,
    pub rng: StdRng,
    pub recorder: Recorder,
    client: Client,
    body: Vec<u8>,
}

#[derive(Serialize)]
struct Login<'a> {
    user_id: &'a str,
    password: &'a str,
    terminal: &'a str,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

impl Session {
    /// Session `index`; its random numbers depend only on `seed` and `index`.
    pub fn new(target: &Target, index: usize, seed: u64) -> Session {
        Session {
            index,
            rng: StdRng::seed_from_u64(seed.wrapping_add(index as u64)),
            recorder: Recorder::default(),
            client: Client::new(target),
            body: Vec::with_capacity(1024),
        }
    }

    /// POSTs `body` as JSON to `endpoint` and records the outcome. Returns the
    /// answer only when it is a success.
    pub fn call(
        &mut self,
        endpoint: Endpoint,
        token: Option<&str>,
        body: &impl Serialize,
    ) -> Option<Answer> {
        self.body.clear();
        serde_json::to_writer(&mut self.body, body).expect("request bodies serialise");
        let started = Instant::now();
        let result = self.client.post(endpoint.path(), token, &self.body);
        self.record(endpoint, started, result)
    }

    /// Hands an answer back once read, so the next answer reuses its room.
    pub fn recycle(&mut self, answer: Answer) {
        self.client.recycle(answer.body);
    }

    /// GETs `endpoint` and records the outcome.
    pub fn get(&mut self, endpoint: Endpoint) -> Option<Answer> {
        let started = Instant::now();
        let result = self.client.get(endpoint.path());
        self.record(endpoint, started, result)
    }

    /// Like [`Session::call`], for preparation steps that must succeed: a
    /// failure is an error that says what went wrong.
    pub fn require(
        &mut self,
        endpoint: Endpoint,
        token: Option<&str>,
        body: &impl Serialize,
    ) -> Result<Answer, String> {
        self.call(endpoint, token, body).ok_or_else(|| {
            let failures = self.recorder.failures();
            let last = failures
                .iter()
                .find(|f| f.endpoint == endpoint.name())
                .map_or(String::new(), |f| format!(": {} {}", f.status, f.example));
            format!("preparing the data: {} failed{last}", endpoint.path())
        })
    }

    /// Logs in and returns the token, or `None` (recorded) if refused.
    pub fn login(&mut self, user_id: &str, password: &str) -> Option<String> {
        let body = Login {
            user_id,
            password,
            terminal: "bench",
        };
        let answer = self.call(Endpoint::Login, None, &body)?;
        parse::<Token>(&answer).map(|t| t.token)
    }

    /// Whether `user_id` can log in, without recording anything: used to
    /// find out whether data is there already.
    pub fn can_login(&mut self, user_id: &str, password: &str) -> bool {
        let body = Login {
            user_id,
            password,
            terminal: "bench",
        };
        self.body.clear();
        serde_json::to_writer(&mut self.body, &body).expect("request bodies serialise");
        let path = Endpoint::Login.path();
        matches!(self.client.post(path, None, &self.body), Ok(a) if a.status == 200)
    }

    fn record(
        &mut self,
        endpoint: Endpoint,
        started: Instant,
        result: std::io::Result<Answer>,
    ) -> Option<Answer> {
        let took = started.elapsed();
        match result {
            Ok(answer) if answer.status == 200 => {
                self.recorder.success(endpoint, took);
                Some(answer)
            }
            Ok(answer) => {
                let text = String::from_utf8_lossy(&answer.body);
                self.recorder.failure(endpoint, answer.status, &text);
                None
            }
            Err(e) => {
                self.recorder.failure(endpoint, NO_ANSWER, &e.to_string());
                None
            }
        }
    }
}

/// Reads a JSON answer into `T`; `None` if it does not fit.
pub fn parse<T: for<'de> Deserialize<'de>>(answer: &Answer) -> Option<T> {
    serde_json::from_slice(&answer.body).ok()
}

/// How much work a phase does: a number of operations, or as many as fit in
/// a time.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    Operations(u64),
    Time(Duration),
}

/// Hands out the operations of a budget to the sessions, and counts the ones
/// finished for the progress bar.
pub struct Gate {
    budget: Budget,
    started: Instant,
    claimed: AtomicU64,
    finished: AtomicU64,
    stopped: AtomicBool,
}

impl Gate {
    pub fn new(budget: Budget) -> Gate {
        Gate {
            budget,
            started: Instant::now(),
            claimed: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        }
    }

    /// Claims the next operation; `None` once the budget is spent. The
    /// number is the operation's index from 0.
    pub fn next(&self) -> Option<u64> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        let n = self.claimed.fetch_add(1, Ordering::Relaxed);
        let more = match self.budget {
            Budget::Operations(total) => n < total,
            Budget::Time(limit) => self.started.elapsed() < limit,
        };
        more.then_some(n)
    }

    /// Counts an operation as done.
    pub fn done(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the phase early: no more operations are handed out.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Operations done so far and the fraction of the budget they are.
    pub fn status(&self) -> (u64, f64) {
        let done = self.finished.load(Ordering::Relaxed);
        let fraction = match self.budget {
            Budget::Operations(0) => 1.0,
            Budget::Operations(total) => done as f64 / total as f64,
            Budget::Time(limit) => self.started.elapsed().as_secs_f64() / limit.as_secs_f64(),
        };
        (done, fraction.min(1.0))
    }
}

/// What a set of sessions measured.
pub struct Measured {
    pub recorder: Recorder,
    pub elapsed: Duration,
    /// Operations done.
    pub operations: u64,
}

/// Runs `sessions` sessions on their own threads, each calling `work` until
/// it returns, and merges what they measured. The wall-clock time runs from
/// before the first session starts to after the last one ends. With a
/// `progress` label, a progress bar is drawn meanwhile.
pub fn run_sessions(
    target: &Target,
    sessions: usize,
    seed: u64,
    gate: &Gate,
    progress: Option<&str>,
    work: impl Fn(&mut Session, &Gate) + Sync,
) -> Measured {
    let finished = AtomicBool::new(false);
    let (recorders, elapsed) = std::thread::scope(|scope| {
        if let Some(label) = progress {
            let finished = &finished;
            scope.spawn(move || progress::show(label, finished, || gate.status()));
        }
        let started = Instant::now();
        let handles: Vec<_> = (0..sessions)
            .map(|index| {
                let work = &work;
                scope.spawn(move || {
                    let mut session = Session::new(target, index, seed);
                    work(&mut session, gate);
                    session.recorder
                })
            })
            .collect();
        let recorders: Vec<Recorder> = handles
            .into_iter()
            .map(|h| h.join().expect("a session panicked"))
            .collect();
        let elapsed = started.elapsed();
        finished.store(true, Ordering::Relaxed);
        (recorders, elapsed)
    });

    let mut recorder = Recorder::default();
    for r in recorders {
        recorder.merge(r);
    }
    Measured {
        recorder,
        elapsed,
        operations: gate.status().0,
    }
}
