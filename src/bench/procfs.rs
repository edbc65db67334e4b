//! CPU time and memory of a process, read from Linux's `/proc`, so a report
//! can show how much of the machine the server and the generator each used.
//! Elsewhere these read nothing and the report leaves them out.

use std::fs;

/// Clock ticks per second of the times in `/proc/PID/stat`. Linux reports
/// them in USER_HZ, which is 100 on every architecture it ships for.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds used so far by process `pid` (this process
/// when `None`).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = fs::read_to_string(path(pid, "stat")).ok()?;
    // The command name may contain spaces; the fields after it do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, which are 12
    // and 13 after the name (the state is field 3, index 0 here).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Resident memory now and at its peak, in KiB.
pub fn memory_kib(pid: Option<u32>) -> Option<(u64, u64)> {
    let status = fs::read_to_string(path(pid, "status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(cpu_seconds(None).unwrap() >= 0.0);
        let (rss, peak) = memory_kib(None).unwrap();
        assert!(rss > 0 && peak >= rss);
    }
}
