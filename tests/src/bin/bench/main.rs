//! `bench`: throughput and latency percentiles of the running suite over
//! real gRPC, with the transport's own floor (an unauthenticated health
//! check) measured in the same run as the baseline.
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 4000 --concurrency 16
//!
//! With `--ledger-entries N` it also loads N ledger entries (93 % written
//! off, as in the source) and measures GetStatistics over the whole tree,
//! from the tallies, against the same figures read entry by entry.
//!
//! With `--access-log` it also measures GetClue and ListClues on a suite
//! recording every clue read in its access log (the default) against the
//! same reads on a suite with `access_log.enabled = false`.
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 2000 --access-log
//!
//! With `--tls` it also measures, on a suite with mutual TLS on, the health
//! check and GetOrganisation over one TLS connection, and a health check on
//! a new TLS connection each time (the handshake's cost), against the same
//! in plaintext.
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 4000 --tls
//!
//! On SQLite the write scenario runs once more on a suite with
//! `synchronous=normal`, against the default `full` measured above it.
//!
//! Set FIVELEDGER_TEST_DATABASE_URL=postgres://… to measure on PostgreSQL.

mod access_log;
mod ledger;
mod lists;
mod measure;
mod tls;

use std::sync::Arc;

use clap::Parser;
use fiveledger_e2e::{spawn_suite, spawn_suite_with};
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::SqliteSync;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use measure::{Report, measure};
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
    /// Ledger entries to load for the statistics scenarios (0: skip them).
    #[arg(long, default_value_t = 0)]
    ledger_entries: usize,
    /// Requests per statistics scenario.
    #[arg(long, default_value_t = 50)]
    statistics_requests: usize,
    /// Measure clue reads with the access log on against off.
    #[arg(long)]
    access_log: bool,
    /// Only the access log scenarios (with `--access-log`).
    #[arg(long)]
    only_access_log: bool,
    /// The access log's `flush_ms` in those scenarios.
    #[arg(long, default_value_t = fiveledger_platform::access_log::AccessLogSettings::default().flush_ms)]
    access_log_flush_ms: u64,
    /// Measure calls over mutual TLS against plaintext.
    #[arg(long)]
    tls: bool,
    /// Problems and ledger entries to load for the list scenarios (0: skip them).
    #[arg(long, default_value_t = 0)]
    list_rows: usize,
}

fn orgs(channel: &Channel) -> OrganisationServiceClient<Channel> {
    OrganisationServiceClient::new(channel.clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // No periodic warning sweep: it would post warnings for the loaded
    // entries while the statistics are measured.
    let suite = spawn_suite(fiveledger::Domains {
        ledgers: fiveledger_ledgers::LedgersSettings {
            sweep_interval_seconds: 0,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let token = Arc::new(testing::token("bench", "", &[Role::Admin]));
    let rounds = suite.rounds.clone();
    // A tree to read from: a region and its cities.
    region(&rounds, &token).await?;
    println!(
        "fiveledger bench on {} — {} requests per scenario, {} in flight",
        testing::backend(),
        args.requests,
        args.concurrency
    );
    println!(
        "{:<48} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} p50 vs base",
        "scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    );
    let (n, c) = (args.requests, args.concurrency);
    if args.only_access_log {
        suite.suite.stop().await?;
        return access_log::access_log(n, c, args.access_log_flush_ms).await;
    }

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

    let sqlite = testing::backend() == "sqlite";
    let label = if sqlite {
        "CreateOrganisation (SQLite synchronous=full)"
    } else {
        "CreateOrganisation"
    };
    create_organisations(label, &rounds, &token, n, c)
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

    if sqlite {
        // The same writes on a suite whose SQLite syncs only at checkpoints.
        let normal = spawn_suite_with(Default::default(), |s| {
            s.database.sqlite_synchronous = SqliteSync::Normal;
        })
        .await;
        region(&normal.rounds, &token).await?;
        create_organisations(
            "CreateOrganisation (SQLite synchronous=normal)",
            &normal.rounds,
            &token,
            n,
            c,
        )
        .await
        .print(Some(&base));
        normal.suite.stop().await?;
    }

    if args.ledger_entries > 0 {
        ledger::statistics(&suite, args.ledger_entries, args.statistics_requests).await?;
        ledger::postings(&suite, args.ledger_entries, n, c, &base).await;
    }
    if args.tls {
        tls::tls(&suite, &token, n, c).await?;
    }
    if args.list_rows > 0 {
        lists::lists(&suite, args.list_rows, n).await?;
    }
    suite.suite.stop().await?;
    if args.access_log {
        access_log::access_log(n, c, args.access_log_flush_ms).await?;
    }
    Ok(())
}

/// Creates the region the cities hang under.
async fn region(rounds: &Channel, token: &str) -> anyhow::Result<()> {
    orgs(rounds)
        .create_organisation(authed(
            token,
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
    Ok(())
}

/// `n` cities created under the region, `c` at a time.
async fn create_organisations(
    label: &str,
    rounds: &Channel,
    token: &Arc<String>,
    n: usize,
    c: usize,
) -> Report {
    let (ch, t) = (rounds.clone(), token.clone());
    measure(label, n, c, move |i| {
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
}
