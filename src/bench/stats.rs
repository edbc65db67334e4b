//! What the benchmark measures: the latency of every successful request per
//! endpoint, and every failure by endpoint and status code.
//!
//! Each session keeps its own [`Recorder`], so recording takes no lock: a
//! latency is one push onto a vector of microseconds. The recorders are merged
//! when the sessions end and percentiles are computed exactly, from the sorted
//! samples. A million requests cost four megabytes, which is cheaper, for a
//! generator that shares the machine with the server, than binning on every
//! request.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// The endpoints the benchmark calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Health,
    Register,
    Login,
    AddFunds,
    CreateStore,
    AddBook,
    NewOrder,
    Payment,
    Search,
    QueryOrders,
}

impl Endpoint {
    const COUNT: usize = 10;

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Health => "health",
            Endpoint::Register => "register",
            Endpoint::Login => "login",
            Endpoint::AddFunds => "add_funds",
            Endpoint::CreateStore => "create_store",
            Endpoint::AddBook => "add_book",
            Endpoint::NewOrder => "new_order",
            Endpoint::Payment => "payment",
            Endpoint::Search => "search",
            Endpoint::QueryOrders => "query_orders",
        }
    }

    /// The request path, below the server's URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Health => "/health",
            Endpoint::Register => "/auth/register",
            Endpoint::Login => "/auth/login",
            Endpoint::AddFunds => "/buyer/add_funds",
            Endpoint::CreateStore => "/seller/create_store",
            Endpoint::AddBook => "/seller/add_book",
            Endpoint::NewOrder => "/buyer/new_order",
            Endpoint::Payment => "/buyer/payment",
            Endpoint::Search => "/search/books",
            Endpoint::QueryOrders => "/buyer/query_orders",
        }
    }

    fn all() -> [Endpoint; Endpoint::COUNT] {
        use Endpoint::*;
        [
            Health,
            Register,
            Login,
            AddFunds,
            CreateStore,
            AddBook,
            NewOrder,
            Payment,
            Search,
            QueryOrders,
        ]
    }
}

/// The status recorded for a request that got no answer at all (refused or
/// dropped connection, timeout, malformed answer).
pub const NO_ANSWER: u16 = 0;

/// One session's measurements.
#[derive(Default)]
pub struct Recorder {
    /// Microseconds of each successful request, indexed by endpoint.
    latencies: [Vec<u32>; Endpoint::COUNT],
    failures: BTreeMap<(Endpoint, u16), (u64, String)>,
}

impl Recorder {
    /// Records a successful request.
    pub fn success(&mut self, endpoint: Endpoint, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.latencies[endpoint as usize].push(micros);
    }

    /// Records a failed request by its status ([`NO_ANSWER`] if none came).
    /// The first `detail` (the answer's message, or the transport error) of
    /// each kind of failure is kept as an example.
    pub fn failure(&mut self, endpoint: Endpoint, status: u16, detail: &str) {
        let entry = self
            .failures
            .entry((endpoint, status))
            .or_insert_with(|| (0, detail.chars().take(200).collect()));
        entry.0 += 1;
    }

    /// Adds another session's measurements to these.
    pub fn merge(&mut self, other: Recorder) {
        for (mine, theirs) in self.latencies.iter_mut().zip(other.latencies) {
            mine.extend(theirs);
        }
        for (key, (n, detail)) in other.failures {
            self.failures.entry(key).or_insert((0, detail)).0 += n;
        }
    }

    /// Successful and failed requests together.
    pub fn requests(&self) -> u64 {
        let ok: usize = self.latencies.iter().map(Vec::len).sum();
        ok as u64 + self.failures.values().map(|f| f.0).sum::<u64>()
    }

    /// Latency percentiles of every endpoint that was called successfully.
    pub fn summaries(&mut self) -> Vec<Summary> {
        Endpoint::all()
            .into_iter()
            .filter_map(|e| Summary::of(e, &mut self.latencies[e as usize]))
            .collect()
    }

    /// Every failure, by endpoint and status.
    pub fn failures(&self) -> Vec<Failures> {
        self.failures
            .iter()
            .map(|(&(endpoint, status), (count, example))| Failures {
                endpoint: endpoint.name(),
                status,
                count: *count,
                example: example.clone(),
            })
            .collect()
    }
}

/// The latency of one endpoint, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub endpoint: &'static str,
    pub count: u64,
    pub mean_us: u64,
    pub p50_us: u32,
    pub p95_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

impl Summary {
    /// Sorts `samples` and reads the percentiles off them; `None` if empty.
    fn of(endpoint: Endpoint, samples: &mut [u32]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        Some(Summary {
            endpoint: endpoint.name(),
            count: samples.len() as u64,
            mean_us: sum / samples.len() as u64,
            p50_us: percentile(samples, 50.0),
            p95_us: percentile(samples, 95.0),
            p99_us: percentile(samples, 99.0),
            max_us: samples[samples.len() - 1],
        })
    }
}

/// Failed requests of one endpoint with one status.
#[derive(Clone, Debug, Serialize)]
pub struct Failures {
    pub endpoint: &'static str,
    /// The status code; 0 when no answer came.
    pub status: u16,
    pub count: u64,
    /// What the first of them said.
    pub example: String,
}

/// The nearest-rank percentile of sorted, non-empty samples: the smallest
/// sample with at least `p` percent of the samples at or below it.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), 50);
        assert_eq!(percentile(&samples, 99.0), 99);
        assert_eq!(percentile(&samples, 100.0), 100);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[1, 2, 3], 50.0), 2);
    }

    #[test]
    fn merged_recorders_add_samples_and_failures() {
        let mut a = Recorder::default();
        a.success(Endpoint::Payment, Duration::from_micros(10));
        a.failure(Endpoint::Payment, 519, "not sufficient funds");
        let mut b = Recorder::default();
        b.success(Endpoint::Payment, Duration::from_micros(30));
        b.failure(Endpoint::Payment, 519, "second");
        b.failure(Endpoint::NewOrder, NO_ANSWER, "connection refused");
        a.merge(b);

        assert_eq!(a.requests(), 5);
        let s = &a.summaries()[0];
        assert_eq!(
            (s.endpoint, s.count, s.p50_us, s.max_us),
            ("payment", 2, 10, 30)
        );
        let f = a.failures();
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[1].endpoint, f[1].status, f[1].count),
            ("payment", 519, 2)
        );
        assert_eq!(f[1].example, "not sufficient funds");
    }
}
