//! `bench`: throughput and latency percentiles of the running suite over
//! real gRPC, with the transport's own floor (an unauthenticated health
//! check) measured in the same run as the baseline.
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 4000 --concurrency 16
//!
//! Set FIVELEDGER_TEST_DATABASE_URL=postgres://… to measure on PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use tokio::sync::Semaphore;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser)]
struct Args {
    /// Requests per scenario.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

struct Report {
    name: &'static str,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

impl Report {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn print(&self, baseline: Option<&Report>) {
        let rps = self.latencies.len() as f64 / self.elapsed.as_secs_f64();
        let vs = baseline
            .map(|b| {
                format!(
                    "{:>6.2}x",
                    b.percentile(0.5).max(1e-9) / self.percentile(0.5).max(1e-9)
                )
            })
            .unwrap_or_else(|| "   base".into());
        println!(
            "{:<28} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {}",
            self.name,
            rps,
            self.percentile(0.5),
            self.percentile(0.95),
            self.percentile(0.99),
            self.percentile(1.0),
            self.errors,
            vs
        );
    }
}

/// Runs `n` calls of `call`, `concurrency` at a time.
async fn measure<F, Fut>(name: &'static str, n: usize, concurrency: usize, call: F) -> Report
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
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
        name,
        elapsed,
        latencies,
        errors,
    }
}

fn orgs(channel: &Channel) -> OrganisationServiceClient<Channel> {
    OrganisationServiceClient::new(channel.clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let suite = spawn_suite(Default::default()).await;
    let token = Arc::new(testing::token("bench", "", &[Role::Admin]));
    let rounds = suite.rounds.clone();
    // A tree to read from: a region, 20 cities.
    orgs(&rounds)
        .create_organisation(authed(
            &token,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "Region".into(),
                    kind: OrganisationKind::Region as i32,
                    ..Default::default()
                }),
                organisation_id: "region".into(),
                request_id: String::new(),
            },
        ))
        .await?;
    println!(
        "fiveledger bench on {} — {} requests per scenario, {} in flight",
        testing::backend(),
        args.requests,
        args.concurrency
    );
    println!(
        "{:<28} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} p50 vs base",
        "scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    );
    let (n, c) = (args.requests, args.concurrency);

    let ch = rounds.clone();
    let base = measure("health check (baseline)", n, c, move |_| {
        let mut client = HealthClient::new(ch.clone());
        async move {
            client
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    base.print(None);

    let (ch, t) = (rounds.clone(), token.clone());
    measure("CreateOrganisation", n, c, move |i| {
        let mut client = orgs(&ch);
        let request = authed(
            &t,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: format!("City {i}"),
                    kind: OrganisationKind::City as i32,
                    parent: "organisations/region".into(),
                    ..Default::default()
                }),
                organisation_id: format!("city-{i}"),
                request_id: format!("bench-{i}"),
            },
        );
        async move { client.create_organisation(request).await.map(|_| ()) }
    })
    .await
    .print(Some(&base));

    let (ch, t) = (rounds.clone(), token.clone());
    measure("GetOrganisation", n, c, move |i| {
        let mut client = orgs(&ch);
        let request = authed(
            &t,
            GetOrganisationRequest {
                name: format!("organisations/city-{}", i % n),
            },
        );
        async move { client.get_organisation(request).await.map(|_| ()) }
    })
    .await
    .print(Some(&base));

    let (ch, t) = (rounds.clone(), token.clone());
    measure("ListOrganisations (50/page)", n, c, move |_| {
        let mut client = orgs(&ch);
        let request = authed(
            &t,
            ListOrganisationsRequest {
                page_size: 50,
                filter: r#"parent = "organisations/region""#.into(),
                ..Default::default()
            },
        );
        async move { client.list_organisations(request).await.map(|_| ()) }
    })
    .await
    .print(Some(&base));

    suite.suite.stop().await?;
    Ok(())
}
