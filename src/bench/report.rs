//! What a benchmark run found, as a table for people or JSON for machines.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::stats::{Failures, Summary, NO_ANSWER};

/// A whole run: every scenario, in the order they ran.
#[derive(Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub sessions: usize,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    pub machine: Machine,
    pub scenarios: Vec<ScenarioReport>,
    /// The server's memory once idle after the run, when its process id was
    /// given.
    pub server_memory: Option<Memory>,
}

/// The machine the generator ran on.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_mib: Option<u64>,
}

/// Resident memory of the server, in KiB.
#[derive(Debug, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// One scenario's measured phase.
#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    pub scenario: &'static str,
    pub sessions: usize,
    /// Wall-clock seconds of the measured phase.
    pub seconds: f64,
    /// Orders placed (the core scenario only).
    pub orders: u64,
    /// Requests made, failed ones included.
    pub requests: u64,
    pub orders_per_second: f64,
    pub requests_per_second: f64,
    /// Latency of successful requests per endpoint, in microseconds.
    pub endpoints: Vec<Summary>,
    /// Failed requests; status 0 means no answer came.
    pub errors: Vec<Failures>,
    pub error_count: u64,
    /// Latency of the requests that prepared the data.
    pub setup: Vec<Summary>,
    pub cpu: Cpu,
    /// Each endpoint's p50 divided by the p50 of the empty scenario of the
    /// same run, when one ran.
    pub p50_over_floor: BTreeMap<&'static str, f64>,
}

/// CPU seconds used during the measured phase.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub bench_seconds: Option<f64>,
    /// Only when the server's process id was given.
    pub server_seconds: Option<f64>,
    pub bench_us_per_request: Option<f64>,
    pub server_us_per_request: Option<f64>,
}

impl Report {
    /// Fills in every scenario's `p50_over_floor` from the empty scenario.
    pub fn compare_with_floor(&mut self) {
        let floor = self
            .scenarios
            .iter()
            .find(|s| s.scenario == "empty")
            .and_then(|s| s.endpoints.first())
            .map(|e| f64::from(e.p50_us.max(1)));
        let Some(floor) = floor else { return };
        for s in &mut self.scenarios {
            s.p50_over_floor = s
                .endpoints
                .iter()
                .map(|e| (e.endpoint, round2(f64::from(e.p50_us) / floor)))
                .collect();
        }
    }

    /// All errors of every scenario.
    pub fn error_count(&self) -> u64 {
        self.scenarios.iter().map(|s| s.error_count).sum()
    }

    /// The report as a table.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let memory = self
            .machine
            .memory_mib
            .map_or(String::new(), |m| format!(", {:.1} GiB", m as f64 / 1024.0));
        let _ = writeln!(
            out,
            "bookstore bench {} at {}: {} sessions; this machine: {} cores{memory}",
            self.url, self.started_at, self.sessions, self.machine.cores
        );
        for s in &self.scenarios {
            out.push('\n');
            s.write_text(&mut out);
        }
        if let Some(m) = &self.server_memory {
            let _ = writeln!(
                out,
                "\nserver memory idle after the run: {:.1} MiB resident, {:.1} MiB at peak",
                m.rss_kib as f64 / 1024.0,
                m.peak_rss_kib as f64 / 1024.0
            );
        }
        out
    }
}

impl ScenarioReport {
    fn write_text(&self, out: &mut String) {
        let _ = write!(out, "{}: ", self.scenario);
        if self.orders > 0 {
            let _ = write!(
                out,
                "{} orders, {:.0} orders/s, ",
                self.orders, self.orders_per_second
            );
        }
        let _ = writeln!(
            out,
            "{} requests in {:.2} s, {:.0} requests/s, {} errors",
            self.requests, self.seconds, self.requests_per_second, self.error_count
        );
        write_table(out, &self.endpoints, Some(&self.p50_over_floor));
        if let (Some(bench), Some(per)) = (self.cpu.bench_seconds, self.cpu.bench_us_per_request) {
            let _ = write!(out, "  cpu: bench {bench:.2} s ({per:.0} us/request)");
            if let (Some(server), Some(per)) =
                (self.cpu.server_seconds, self.cpu.server_us_per_request)
            {
                let _ = write!(out, ", server {server:.2} s ({per:.0} us/request)");
            }
            out.push('\n');
        }
        for f in &self.errors {
            let status = if f.status == NO_ANSWER {
                "no answer".to_string()
            } else {
                f.status.to_string()
            };
            let _ = writeln!(
                out,
                "  error: {} {status} x{}: {}",
                f.endpoint, f.count, f.example
            );
        }
        if !self.setup.is_empty() {
            out.push_str("  preparation:\n");
            write_table(out, &self.setup, None);
        }
    }
}

fn write_table(out: &mut String, rows: &[Summary], ratios: Option<&BTreeMap<&str, f64>>) {
    let _ = write!(
        out,
        "  {:<14}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "endpoint (us)", "count", "mean", "p50", "p95", "p99", "max"
    );
    let with_ratio = ratios.is_some_and(|r| !r.is_empty());
    out.push_str(if with_ratio { "  p50/floor\n" } else { "\n" });
    for e in rows {
        let _ = write!(
            out,
            "  {:<14}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
            e.endpoint, e.count, e.mean_us, e.p50_us, e.p95_us, e.p99_us, e.max_us
        );
        match ratios.and_then(|r| r.get(e.endpoint)) {
            Some(ratio) if with_ratio => {
                let _ = writeln!(out, "{ratio:>11.2}");
            }
            _ => out.push('\n'),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
