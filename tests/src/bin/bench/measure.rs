//! Running calls a number of times, some in flight at once, and printing
//! their throughput and latency percentiles against a baseline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub struct Report {
    pub name: String,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub errors: usize,
    /// Database statements the suite ran during the scenario (BEGIN,
    /// COMMIT and savepoints not counted).
    pub statements: u64,
}

/// Calls that failed in the scenarios printed so far: the bench exits
/// with an error when any did (CI runs it small for correctness).
pub static FAILED_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The column heads of [`Report::print`].
pub fn header() {
    println!(
        "{:<72} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>9} {:>8}",
        "scenario",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "stmt/req",
        "vs base"
    );
}

impl Report {
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    /// One line; `vs base` is this scenario's throughput over the
    /// baseline's (measured in the same run).
    pub fn print(&self, baseline: Option<&Report>) {
        if self.errors > 0 {
            FAILED_CALLS.fetch_add(self.errors, std::sync::atomic::Ordering::Relaxed);
        }
        let vs = baseline
            .map(|b| format!("{:>7.2}x", self.rps() / b.rps().max(1e-9)))
            .unwrap_or_else(|| "    base".into());
        let done = (self.latencies.len() + self.errors).max(1);
        println!(
            "{:<72} {:>8.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>9.1} {:>8}",
            self.name,
            self.rps(),
            self.percentile(0.5),
            self.percentile(0.95),
            self.percentile(0.99),
            self.percentile(1.0),
            self.errors,
            self.statements as f64 / done as f64,
            vs
        );
    }

    /// Successful calls per second.
    pub fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `n` calls of `call`, `concurrency` at a time.
pub async fn measure<F, Fut>(
    name: impl Into<String>,
    n: usize,
    concurrency: usize,
    call: F,
) -> Report
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
    let statements = fiveledger_platform::storage::statements_run();
    let permits = Arc::new(Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = call(i).await.is_ok();
            drop(permit);
            (t.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut errors = 0;
    for task in tasks {
        let (latency, ok) = task.await.expect("task");
        if ok {
            latencies.push(latency);
        } else {
            errors += 1;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Report {
        name: name.into(),
        elapsed,
        latencies,
        errors,
        statements: fiveledger_platform::storage::statements_run() - statements,
    }
}
