//! The process metrics every Prometheus client library exports
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, `process_max_fds`, `process_start_time_seconds`),
//! read from `/proc` (Linux; elsewhere nothing is reported).

use std::time::Duration;

/// Clock ticks per second of `/proc/self/stat`: USER_HZ, 100 on every
/// Linux ABI (the Prometheus clients assume it too).
const TICKS_PER_SECOND: f64 = 100.0;

/// How often the figures are read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// One reading of the process's figures.
#[derive(Debug, Default, PartialEq)]
pub struct Reading {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    pub open_fds: f64,
    pub max_fds: f64,
    pub start_time_seconds: f64,
}

/// Reads the figures; `None` where `/proc` is not there.
pub fn read() -> Option<Reading> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: fields count from
    // the last `)`. After it: state (field 3) … utime 14, stime 15,
    // starttime 22.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu_seconds = (field(14)? + field(15)?) / TICKS_PER_SECOND;
    let resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())?
        * 1024.0;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok())?;
    let start_time_seconds = boot + field(22)? / TICKS_PER_SECOND;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    Some(Reading {
        cpu_seconds,
        resident_bytes,
        open_fds,
        max_fds,
        start_time_seconds,
    })
}

/// Records one reading into the process metrics.
pub fn record() {
    let Some(r) = read() else { return };
    // A gauge: the facade's counters count whole numbers.
    metrics::gauge!("process_cpu_seconds_total").set(r.cpu_seconds);
    metrics::gauge!("process_resident_memory_bytes").set(r.resident_bytes);
    metrics::gauge!("process_open_fds").set(r.open_fds);
    metrics::gauge!("process_max_fds").set(r.max_fds);
    metrics::gauge!("process_start_time_seconds").set(r.start_time_seconds);
}
