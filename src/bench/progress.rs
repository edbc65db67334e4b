//! The progress bar drawn on the terminal while a phase runs.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often the bar is redrawn.
const REDRAW: Duration = Duration::from_millis(200);
/// How often the drawing thread looks whether the phase has finished.
const POLL: Duration = Duration::from_millis(20);
const WIDTH: usize = 30;

/// Draws `label`, a bar and a rate on standard error until `finished` is
/// set, then clears the line. `status` gives the operations done and the
/// fraction of the budget they are.
pub fn show(label: &str, finished: &AtomicBool, status: impl Fn() -> (u64, f64)) {
    let started = Instant::now();
    let mut last_draw: Option<Instant> = None;
    while !finished.load(Ordering::Relaxed) {
        if last_draw.is_none_or(|t| t.elapsed() >= REDRAW) {
            let (done, fraction) = status();
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            draw(label, done, fraction, rate);
            last_draw = Some(Instant::now());
        }
        thread::sleep(POLL);
    }
    eprint!("\r\x1b[K");
    let _ = std::io::stderr().flush();
}

fn draw(label: &str, done: u64, fraction: f64, rate: f64) {
    let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    eprint!(
        "\r\x1b[K{label} [{}{}] {:3.0}%  {done} done, {rate:.0}/s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        fraction * 100.0
    );
    let _ = std::io::stderr().flush();
}
