//! The `bookstore` command line: `serve` runs the server; the other
//! subcommands work on a database file or against a running server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bookstore::bench::generate::GenerateArgs;
use bookstore::bench::BenchArgs;
use bookstore::config::{Config, ServeArgs, DEFAULT_DB};
use bookstore::db::Db;
use bookstore::import::{self, ImportArgs};
use bookstore::model::audit;
use bookstore::{demo, Server};

#[derive(Parser)]
#[command(
    name = "bookstore",
    version,
    about = "The bookstore API server, on one SQLite file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the bookstore API over HTTP.
    Serve(ServeArgs),
    /// Verify a database file, live or stopped: SQLite's integrity check,
    /// every balance against its ledger, every stock level against its
    /// ledger and the orders that hold its copies, and conservation of
    /// money. Exits non-zero, saying what is wrong, if anything is.
    Check {
        /// The database file; opened read-only, never created.
        #[arg(long, env = "BOOKSTORE_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// List every book of a catalog file (course `book` table) in a store.
    Import(ImportArgs),
    /// Measure a running server with the course workload and more.
    Bench(BenchArgs),
    /// Write a large synthetic database for the benchmark's scale scenarios.
    Generate(GenerateArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args.into()),
        Command::Check { db } => check(&db),
        Command::Import(args) => import(&args),
        Command::Bench(args) => bench(&args),
        Command::Generate(args) => generate(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bookstore: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then finishes the requests in
/// flight and closes the database.
fn serve(config: Config) -> Result<(), String> {
    let demo = config.demo;
    let server = Server::start(config.clone()).map_err(|e| describe(&e))?;
    if demo {
        let loaded = demo::load(server.app()).map_err(|e| describe(&e))?;
        eprintln!("demo data: {loaded} books listed");
    }

    let stopper = server.stopper();
    ctrlc::set_handler(move || stopper.stop()).map_err(|e| e.to_string())?;
    print_settings(&server, &config);
    server.wait().map_err(|e| describe(&e))?;
    eprintln!("stopped");
    Ok(())
}

/// Audits the file and prints what it added up and anything wrong.
fn check(path: &Path) -> Result<(), String> {
    let report = audit::audit_file(path).map_err(|e| match e {
        bookstore::Error::Internal(why) => why,
        other => describe(&other),
    })?;
    println!("checked {}", path.display());
    print!("{report}");
    if !report.is_ok() {
        return Err(format!(
            "{}: {} problem(s) found",
            path.display(),
            report.problem_count
        ));
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// Imports a catalog file into the database, with a progress bar.
fn import(args: &ImportArgs) -> Result<(), String> {
    let started = std::time::Instant::now();
    let db = Db::open(&args.db, 1).map_err(|e| describe(&e))?;
    let bar = import::progress_bar();
    let now = bookstore::clock::Clock::default().now();
    let done = import::import(&db, args, now, &bar).map_err(|e| describe(&e))?;
    bar.finish_and_clear();
    db.close().map_err(|e| describe(&e))?;
    eprintln!(
        "imported {} books into store {} in {:.2?} ({} already listed, {} unreadable rows skipped)",
        done.listed,
        args.store,
        started.elapsed(),
        done.already_listed,
        done.unreadable,
    );
    Ok(())
}

/// Runs the benchmark and prints its report; fails if any request failed.
fn bench(args: &BenchArgs) -> Result<(), String> {
    let report = bookstore::bench::run(args)?;
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        print!("{}", report.text());
    }
    match report.error_count() {
        0 => Ok(()),
        n => Err(format!("{n} requests failed")),
    }
}

fn generate(args: &GenerateArgs) -> Result<(), String> {
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let done = bookstore::bench::generate::generate(args, progress).map_err(|e| describe(&e))?;
    eprintln!(
        "{}: {} books in {} stores, {} buyers, {} orders, written in {:.1} s",
        args.db.display(),
        done.books,
        done.stores,
        done.buyers,
        done.orders,
        done.seconds
    );
    Ok(())
}

fn print_settings(server: &Server, c: &Config) {
    eprintln!("bookstore listening on http://{}", server.addr());
    eprintln!("database: {}", c.db.display());
    eprintln!(
        "workers: {} ({} slices), token ttl: {}s, order timeout: {}s, body limit: {} bytes, \
         password hash: argon2id {} KiB x {}, access log: {}, test clock: {}",
        c.workers,
        if c.short_slices { "short" } else { "default" },
        c.token_ttl,
        c.order_timeout,
        c.body_limit,
        c.kdf_memory_kib,
        c.kdf_passes,
        if c.access_log { "on" } else { "off" },
        if c.test_clock { "ON" } else { "off" },
    );
}

fn describe(e: &bookstore::Error) -> String {
    bookstore::error::log_cause(e)
}
