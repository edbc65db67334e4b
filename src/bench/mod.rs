//! The benchmark: a load generator that speaks only the public HTTP API, and
//! a generator of large synthetic databases for the scale scenarios.
//!
//! - [`client`]: a minimal keep-alive HTTP/1.1 client, cheap on CPU because
//!   it shares the machine with the server it measures;
//! - [`session`]: simulated clients on their own threads, sharing a budget;
//! - [`workload`]: the scenarios (empty, core, search, history);
//! - [`prepare`]: the data the scenarios need, made over HTTP;
//! - [`synthetic`]: the synthetic world's ids, text and keywords;
//! - [`generate`]: that world written straight into a database file;
//! - [`stats`] and [`report`]: latencies, failures, and the report.

pub mod catalog;
pub mod client;
pub mod generate;
pub mod prepare;
mod procfs;
mod progress;
pub mod report;
pub mod session;
pub mod stats;
pub mod synthetic;
pub mod workload;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use client::Target;
use report::Report;
use workload::{Length, Plan, Scenario};

/// Orders the core scenario places when neither `--orders` nor `--seconds`
/// is given.
pub const DEFAULT_ORDERS: u64 = 10_000;

/// A scenario name on the command line; `all` runs every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    Empty,
    Core,
    Search,
    History,
    All,
}

/// The flags of `bookstore bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The server under test: any server that implements the API.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    pub url: String,

    /// Concurrent sessions, each with its own keep-alive connection.
    #[arg(long, default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub sessions: u64,

    /// Orders the core scenario places [default: 10000]. The empty scenario
    /// makes as many requests as that takes (two per order); search and
    /// history make one request per order.
    #[arg(long, conflicts_with = "seconds")]
    pub orders: Option<u64>,

    /// Run each scenario for this many seconds instead.
    #[arg(long)]
    pub seconds: Option<f64>,

    /// Scenarios to run, in order, separated by commas.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "core")]
    pub scenario: Vec<Choice>,

    /// A catalog in the course's format (SQLite, `book` table) for the core
    /// scenario's stores, instead of the built-in fixture catalog.
    #[arg(long)]
    pub catalog: Option<PathBuf>,

    /// Books of the synthetic catalog, if it must be built over HTTP because
    /// the server was not started on a `bookstore generate` file.
    #[arg(long, default_value_t = 100_000)]
    pub books: usize,

    /// Orders of each history buyer, if they must be placed over HTTP.
    #[arg(long, default_value_t = 1_000)]
    pub history_orders: usize,

    /// Ask the history scenario for the first page of this many orders
    /// instead of the whole history. A whole history is answered from what
    /// the server kept of it while nothing changes; a page is always read
    /// afresh, so this measures the reading itself.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub history_page_size: Option<u32>,

    /// Seed of the sessions' random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// The server's process id, to report its CPU time and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Draw no progress bar (none is drawn when standard error is not a
    /// terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

impl BenchArgs {
    /// The arguments as the plan of a run.
    pub fn plan(&self) -> Result<Plan, String> {
        let length = match (self.orders, self.seconds) {
            (_, Some(s)) if !(s > 0.0 && s.is_finite()) => {
                return Err("--seconds must be a positive number".into())
            }
            (_, Some(s)) => Length::Time(Duration::from_secs_f64(s)),
            (Some(n), None) => Length::Orders(n),
            (None, None) => Length::Orders(DEFAULT_ORDERS),
        };
        let catalog = match &self.catalog {
            Some(path) => catalog::from_file(path)?,
            None => catalog::fixture()?,
        };
        if self.books == 0 {
            return Err("--books must be at least 1".into());
        }
        Ok(Plan {
            target: Target::parse(&self.url)?,
            url: self.url.clone(),
            sessions: self.sessions as usize,
            length,
            scenarios: scenarios(&self.scenario),
            catalog,
            books: self.books,
            history_orders: self.history_orders,
            history_page_size: self.history_page_size,
            seed: self.seed,
            progress: !self.no_progress && std::io::stderr().is_terminal(),
            server_pid: self.server_pid,
        })
    }
}

/// The scenarios chosen, each once, in the order given; `all` stands for
/// every scenario, the floor first.
fn scenarios(choices: &[Choice]) -> Vec<Scenario> {
    let mut out: Vec<Scenario> = Vec::new();
    for choice in choices {
        let add: &[Scenario] = match choice {
            Choice::Empty => &[Scenario::Empty],
            Choice::Core => &[Scenario::Core],
            Choice::Search => &[Scenario::Search],
            Choice::History => &[Scenario::History],
            Choice::All => &[
                Scenario::Empty,
                Scenario::Core,
                Scenario::Search,
                Scenario::History,
            ],
        };
        for &s in add {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Runs the benchmark the arguments describe.
pub fn run(args: &BenchArgs) -> Result<Report, String> {
    workload::run(&args.plan()?)
}
