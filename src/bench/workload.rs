//! The scenarios and what their sessions do.
//!
//! - `empty`: `GET /health`, the cheapest request there is. Its latency is
//!   the floor: HTTP, the loopback network and the generator itself.
//! - `core`: the course workload. Each session logs in as one of ten buyers
//!   and places orders of 1 to 10 random books of 1 to 10 copies each from a
//!   random store, paying every order it placed.
//! - `search`: keyword queries over the synthetic catalog.
//! - `history`: `query_orders` for synthetic buyers with many orders.
//!
//! Every scenario first prepares its data, then runs its sessions for the
//! budget; only the second part is measured.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use super::client::Target;
use super::prepare::{self, order_and_pay, random_lines, Line, NewOrder, Shop};
use super::procfs;
use super::report::{Cpu, Machine, Memory, Report, ScenarioReport};
use super::session::{run_sessions, Budget, Gate, Measured, Session};
use super::stats::{Endpoint, Recorder};
use super::synthetic::{self, HISTORY_BUYERS, PASSWORD};

/// A scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Empty,
    Core,
    Search,
    History,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Empty => "empty",
            Scenario::Core => "core",
            Scenario::Search => "search",
            Scenario::History => "history",
        }
    }
}

/// How long each scenario runs.
#[derive(Clone, Copy, Debug)]
pub enum Length {
    /// The core scenario places this many orders; the empty scenario makes
    /// as many requests as that takes (two per order), search and history
    /// make one request per order.
    Orders(u64),
    /// Every scenario runs this long.
    Time(Duration),
}

/// Everything a run needs.
pub struct Plan {
    pub target: Target,
    pub url: String,
    pub sessions: usize,
    pub length: Length,
    /// The scenarios, in the order they run.
    pub scenarios: Vec<Scenario>,
    /// The `book_info` objects the core workload's stores list.
    pub catalog: Vec<Value>,
    /// Books of the synthetic catalog, when it has to be built over HTTP.
    pub books: usize,
    /// Orders of each history buyer, when they have to be placed over HTTP.
    pub history_orders: usize,
    /// The page the history scenario asks for; `None` for the whole history.
    pub history_page_size: Option<u32>,
    pub seed: u64,
    pub progress: bool,
    /// The server's process id, to report its CPU time and memory.
    pub server_pid: Option<u32>,
}

/// Runs every scenario of the plan, one after the other, against the same
/// server. Fails only if the data cannot be prepared; failed requests of the
/// measured phases are counted in the report.
pub fn run(plan: &Plan) -> Result<Report, String> {
    let started_at = crate::clock::rfc3339(crate::clock::Clock::default().now());
    let mut scenarios = Vec::new();
    for &scenario in &plan.scenarios {
        scenarios.push(run_scenario(plan, scenario)?);
    }
    let mut report = Report {
        url: plan.url.clone(),
        sessions: plan.sessions,
        started_at,
        machine: machine(),
        scenarios,
        server_memory: plan.server_pid.and_then(idle_memory),
    };
    report.compare_with_floor();
    Ok(report)
}

/// The server's memory once it has been idle long enough to give back what
/// the run left behind, which is what it holds between bursts.
fn idle_memory(pid: u32) -> Option<Memory> {
    std::thread::sleep(2 * crate::server::IDLE_AFTER);
    let (rss_kib, peak_rss_kib) = procfs::memory_kib(Some(pid))?;
    Some(Memory {
        rss_kib,
        peak_rss_kib,
    })
}

fn run_scenario(plan: &Plan, scenario: Scenario) -> Result<ScenarioReport, String> {
    let mut setup = Session::new(&plan.target, usize::MAX, plan.seed);
    let measured = match scenario {
        Scenario::Empty => measure(plan, scenario, |s, gate| {
            while gate.next().is_some() {
                s.get(Endpoint::Health);
                gate.done();
            }
        }),
        Scenario::Core => {
            let run_id = format!("{:08x}", rand::random::<u32>());
            let shop = prepare::shop(&mut setup, &run_id, &plan.catalog)?;
            measure(plan, scenario, |s, gate| core_session(s, gate, &shop))
        }
        Scenario::Search => {
            let built = prepare::synthetic_world(plan, &mut setup)?;
            setup.recorder.merge(built);
            measure(plan, scenario, search_session)
        }
        Scenario::History => {
            let built = prepare::synthetic_world(plan, &mut setup)?;
            setup.recorder.merge(built);
            let page_size = plan.history_page_size;
            measure(plan, scenario, |s, gate| {
                history_session(s, gate, page_size)
            })
        }
    };
    Ok(scenario_report(plan, scenario, measured, setup.recorder))
}

/// What a measured phase found, with the CPU time it took.
struct Phase {
    measured: Measured,
    cpu: Cpu,
}

fn measure(plan: &Plan, scenario: Scenario, work: impl Fn(&mut Session, &Gate) + Sync) -> Phase {
    let budget = match (plan.length, scenario) {
        (Length::Time(t), _) => Budget::Time(t),
        (Length::Orders(n), Scenario::Empty) => Budget::Operations(2 * n),
        (Length::Orders(n), _) => Budget::Operations(n),
    };
    let gate = Gate::new(budget);
    let label = format!("{:<16}", scenario.name());
    let progress = plan.progress.then_some(label.as_str());

    let bench_before = procfs::cpu_seconds(None);
    let server_before = plan.server_pid.and_then(|p| procfs::cpu_seconds(Some(p)));
    let measured = run_sessions(
        &plan.target,
        plan.sessions,
        plan.seed,
        &gate,
        progress,
        work,
    );
    let bench = bench_before
        .zip(procfs::cpu_seconds(None))
        .map(|(a, b)| b - a);
    let server = server_before
        .zip(plan.server_pid.and_then(|p| procfs::cpu_seconds(Some(p))))
        .map(|(a, b)| b - a);

    let requests = measured.recorder.requests().max(1) as f64;
    let per_request = |s: f64| (s * 1e6 / requests * 10.0).round() / 10.0;
    let cpu = Cpu {
        bench_seconds: bench,
        server_seconds: server,
        bench_us_per_request: bench.map(per_request),
        server_us_per_request: server.map(per_request),
    };
    Phase { measured, cpu }
}

fn scenario_report(
    plan: &Plan,
    scenario: Scenario,
    phase: Phase,
    mut setup: Recorder,
) -> ScenarioReport {
    let Phase { mut measured, cpu } = phase;
    let seconds = measured.elapsed.as_secs_f64().max(1e-9);
    let endpoints = measured.recorder.summaries();
    let orders = endpoints
        .iter()
        .find(|e| scenario == Scenario::Core && e.endpoint == Endpoint::NewOrder.name())
        .map_or(0, |e| e.count);
    let requests = measured.recorder.requests();
    let errors = measured.recorder.failures();
    ScenarioReport {
        scenario: scenario.name(),
        sessions: plan.sessions,
        seconds: (seconds * 1000.0).round() / 1000.0,
        orders,
        requests,
        orders_per_second: (orders as f64 / seconds).round(),
        requests_per_second: (requests as f64 / seconds).round(),
        endpoints,
        error_count: errors.iter().map(|f| f.count).sum(),
        errors,
        setup: setup.summaries(),
        cpu,
        p50_over_floor: Default::default(),
    }
}

/// A core session: logs in as its buyer, then orders and pays.
fn core_session(s: &mut Session, gate: &Gate, shop: &Shop) {
    let (buyer, password) = &shop.buyers[s.index % shop.buyers.len()];
    let Some(token) = s.login(buyer, password) else {
        return;
    };
    while gate.next().is_some() {
        let store = &shop.stores[s.rng.gen_range(0..shop.stores.len())];
        let lines = random_lines(&mut s.rng, shop.books.len());
        let order = NewOrder {
            user_id: buyer,
            store_id: store,
            books: lines
                .iter()
                .map(|&(i, count)| Line {
                    id: &shop.books[i],
                    count,
                })
                .collect(),
        };
        order_and_pay(s, (buyer, password), &token, &order);
        gate.done();
    }
}

#[derive(Serialize)]
struct SearchRequest {
    keyword: &'static str,
    page: u32,
    page_size: u32,
}

/// The results page size of the search scenario.
const SEARCH_PAGE_SIZE: u32 = 20;

/// A search session: the first page of results for random keywords.
fn search_session(s: &mut Session, gate: &Gate) {
    while gate.next().is_some() {
        let query = SearchRequest {
            keyword: synthetic::keyword(&mut s.rng),
            page: 1,
            page_size: SEARCH_PAGE_SIZE,
        };
        if let Some(answer) = s.call(Endpoint::Search, None, &query) {
            s.recycle(answer);
        }
        gate.done();
    }
}

#[derive(Serialize)]
struct HistoryRequest<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_size: Option<u32>,
}

/// A history session: one history buyer's whole order list (or its first
/// page, with `--history-page-size`), again and again.
fn history_session(s: &mut Session, gate: &Gate, page_size: Option<u32>) {
    let buyer = synthetic::buyer_id(s.index % HISTORY_BUYERS);
    let Some(token) = s.login(&buyer, PASSWORD) else {
        return;
    };
    let query = HistoryRequest {
        user_id: &buyer,
        page: page_size.map(|_| 1),
        page_size,
    };
    while gate.next().is_some() {
        if let Some(answer) = s.call(Endpoint::QueryOrders, Some(&token), &query) {
            s.recycle(answer);
        }
        gate.done();
    }
}

fn machine() -> Machine {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory_mib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line
            .trim_start_matches("MemTotal:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024)
    });
    Machine { cores, memory_mib }
}
