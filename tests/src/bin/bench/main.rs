//! `bench`: throughput and latency percentiles of the running suite over
//! real gRPC, each scenario against a baseline measured in the same run,
//! with the database statements each request cost (`stmt/req`).
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 4000
//!
//! Writes (CreateOrganisation, a durable write with its event, 64 in flight)
//! with group commit against one commit per request; reads
//! (GetOrganisation at 1, 16 and 64 in flight) against a bare tonic unary
//! service built into the bench answering the same message, and that
//! against the health check; the writes again on SQLite at
//! `synchronous=normal`, on PostgreSQL in four lanes of batches.
//!
//! With `--ledger-entries N` it also loads N ledger entries and measures
//! GetStatistics and postings over them (`ledger.rs`); with `--access-log`
//! clue reads with the access log on against off; with `--tls` mutual TLS
//! against plaintext; with `--sqlite-settings` each SQLite tuning setting
//! against the defaults.
//!
//! Set FIVELEDGER_TEST_DATABASE_URL=postgres://… to measure on PostgreSQL.

mod access_log;
mod bare;
mod copy;
mod driver;
mod ledger;
mod lists;
mod measure;
mod tls;

use std::sync::Arc;

use clap::Parser;
use fiveledger_e2e::TestSuite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::{DatabaseSettings, ServerSettings, SqliteSync};
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use measure::{Report, measure};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[global_allocator]
static ALLOCATOR: fiveledger_platform::Allocator = fiveledger_platform::Allocator {};

#[derive(Parser)]
struct Args {
    /// Requests per scenario.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests in flight at once (writes, lists and the other scenarios).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// In-flight levels the reads are measured at, against the floor.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    in_flight: Vec<usize>,
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
    /// Measure writes and reads on SQLite with each tuning setting changed
    /// in turn (page cache, memory map) against the defaults.
    #[arg(long)]
    sqlite_settings: bool,
    /// Skip the write baselines (one commit each, synchronous=normal or
    /// four lanes): the group-commit writes still run, as they create the
    /// cities the reads read. For profiling the reads.
    #[arg(long)]
    reads_only: bool,
    /// Problems and ledger entries to load for the list scenarios (0: skip them).
    #[arg(long, default_value_t = 0)]
    list_rows: usize,
    /// Only the list scenarios whose label holds one of these words
    /// (`--list-only target_subtree,list_state`); all when empty.
    #[arg(long, value_delimiter = ',')]
    list_only: Vec<String>,
}

/// A measured suite's settings where they differ from the tests'. The bench
/// is one caller standing for the many a live suite serves, so its suites
/// do not hold it to one caller's rate (`limits.caller`); the in-flight
/// bound, and the limiter's work on every request, stay. And each service
/// opens the connections it opens as deployed (`database.max_connections`'
/// default), not the tests' smaller pools: the readers' and the writers'
/// pools and the group-commit lanes follow from it.
pub(crate) fn as_deployed(settings: &mut ServerSettings) {
    settings.limits.caller.requests_per_second = 0.0;
    settings.database.max_connections = DatabaseSettings::default().max_connections;
}

/// A suite to measure: [`fiveledger_e2e::spawn_suite_with`],
/// [`as_deployed`] and then changed by `configure`.
pub(crate) async fn bench_suite(
    domains: fiveledger::Domains,
    configure: impl FnOnce(&mut ServerSettings),
) -> TestSuite {
    fiveledger_e2e::spawn_suite_with(domains, |s| {
        as_deployed(s);
        configure(s)
    })
    .await
}

fn orgs(channel: &Channel) -> OrganisationServiceClient<Channel> {
    OrganisationServiceClient::new(channel.clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // No periodic warning sweep: it would post warnings for the loaded
    // entries while the statistics are measured.
    let suite = bench_suite(
        fiveledger::Domains {
            ledgers: fiveledger_ledgers::LedgersSettings {
                sweep_interval_seconds: 0,
                ..Default::default()
            },
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let token = Arc::new(testing::token("bench", "", &[Role::Admin]));
    let rounds = suite.rounds.clone();
    // A tree to read from: a region and its cities.
    region(&rounds, &token).await?;
    println!(
        "fiveledger bench on {} — {} requests per scenario, {} in flight unless said",
        testing::backend(),
        args.requests,
        args.concurrency
    );
    measure::header();
    let (n, c) = (args.requests, args.concurrency);
    if args.only_access_log {
        suite.suite.stop().await?;
        return access_log::access_log(n, c, args.access_log_flush_ms).await;
    }

    let sqlite = testing::backend() == "sqlite";
    let write = |label: &str| {
        if sqlite {
            format!("CreateOrganisation, {c} in flight ({label}, SQLite synchronous=full)")
        } else {
            format!("CreateOrganisation, {c} in flight ({label})")
        }
    };
    // The same writes on a suite committing each in a transaction of its
    // own: what group commit is measured against.
    let one_by_one = if args.reads_only {
        None
    } else {
        let single = bench_suite(Default::default(), |s| s.database.group_commit = false).await;
        region(&single.rounds, &token).await?;
        let one_by_one =
            create_organisations(&write("one commit each"), &single.rounds, &token, n, c).await;
        one_by_one.print(None);
        single.suite.stop().await?;
        Some(one_by_one)
    };
    create_organisations(&write("group commit"), &rounds, &token, n, c)
        .await
        .print(one_by_one.as_ref());
    if let Some(one_by_one) = one_by_one.as_ref() {
        // The same writes again on SQLite syncing only at checkpoints, and
        // on PostgreSQL in four lanes of batches (see `group_commit`).
        type Configure = fn(&mut ServerSettings);
        let (label, configure): (&str, Configure) = if sqlite {
            ("group commit, SQLite synchronous=normal", |s| {
                s.database.sqlite_synchronous = SqliteSync::Normal
            })
        } else {
            ("group commit, four lanes", |s| {
                s.database.group_commit_lanes = 4;
                // Lanes take at most half the writers' pool, which is half
                // of `max_connections`.
                s.database.max_connections = 16;
            })
        };
        let variant = bench_suite(Default::default(), configure).await;
        region(&variant.rounds, &token).await?;
        create_organisations(
            &format!("CreateOrganisation, {c} in flight ({label})"),
            &variant.rounds,
            &token,
            n,
            c,
        )
        .await
        .print(Some(one_by_one));
        variant.suite.stop().await?;
    }

    // Reads against the floor: the health check, and a bare tonic service
    // answering the same message (both without auth or database).
    let city = orgs(&rounds)
        .get_organisation(authed(
            &token,
            GetOrganisationRequest {
                name: "organisations/city-0".into(),
            },
        ))
        .await?
        .into_inner();
    let floor = bare::serve(city).await?;
    let mut base = None;
    for &c in &args.in_flight {
        let ch = rounds.clone();
        let health = measure(format!("health check, {c} in flight"), n, c, move |_| {
            let mut client = HealthClient::new(ch.clone());
            async move {
                client
                    .check(HealthCheckRequest::default())
                    .await
                    .map(|_| ())
            }
        })
        .await;
        health.print(None);
        let ch = floor.clone();
        let bare = measure(format!("bare tonic unary, {c} in flight"), n, c, move |i| {
            bare::get(
                ch.clone(),
                GetOrganisationRequest {
                    name: format!("organisations/city-{}", i % n),
                },
            )
        })
        .await;
        bare.print(Some(&health));
        get_organisations(
            &format!("GetOrganisation, {c} in flight"),
            &rounds,
            &token,
            n,
            c,
            n,
        )
        .await
        .print(Some(&bare));
        if sqlite {
            let (pooled, inline) = driver::floor(&suite, n, c, n).await?;
            pooled.print(None);
            inline.print(Some(&pooled));
        }
        if c == args.concurrency || base.is_none() {
            base = Some(health);
        }
    }
    let base = base.expect("at least one in-flight level");

    let (ch, t) = (rounds.clone(), token.clone());
    measure(
        format!("ListOrganisations (50/page), {c} in flight"),
        n,
        c,
        move |_| {
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
        },
    )
    .await
    .print(Some(&base));

    if args.ledger_entries > 0 {
        ledger::statistics(&suite, args.ledger_entries, args.statistics_requests).await?;
        ledger::postings(&suite, args.ledger_entries, n, c, &base).await;
    }
    if args.tls {
        tls::tls(&suite, &token, n, c).await?;
    }
    if args.sqlite_settings && sqlite {
        sqlite_settings(&token, n, c).await?;
    }
    if args.list_rows > 0 {
        lists::lists(&suite, args.list_rows, n, &args.list_only).await?;
    }
    suite.suite.stop().await?;
    if args.access_log {
        access_log::access_log(n, c, args.access_log_flush_ms).await?;
    }
    let failed = measure::FAILED_CALLS.load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} calls failed (the errors column)");
    Ok(())
}

/// CreateOrganisation and GetOrganisation on suites whose SQLite differs
/// from the defaults in one setting each, against the defaults.
async fn sqlite_settings(token: &Arc<String>, n: usize, c: usize) -> anyhow::Result<()> {
    type Change = fn(&mut fiveledger_platform::settings::DatabaseSettings);
    let variants: [(&str, Change); 5] = [
        ("defaults", |_| {}),
        ("SQLite's own 2 MiB page cache", |d| d.sqlite_cache_mib = 2),
        ("a 256 MiB memory map", |d| d.sqlite_mmap_mib = 256),
        ("statement cache 128", |d| d.statement_cache = 128),
        ("4 readers", |d| d.max_connections = 4),
    ];
    let mut base: Option<(Report, Report)> = None;
    for (label, change) in variants {
        let suite = bench_suite(Default::default(), |s| change(&mut s.database)).await;
        region(&suite.rounds, token).await?;
        let write = create_organisations(
            &format!("CreateOrganisation, {c} in flight, {label}"),
            &suite.rounds,
            token,
            n,
            c,
        )
        .await;
        let read = get_organisations(
            &format!("GetOrganisation, {c} in flight, {label}"),
            &suite.rounds,
            token,
            n,
            c,
            n,
        )
        .await;
        suite.suite.stop().await?;
        write.print(base.as_ref().map(|b| &b.0));
        read.print(base.as_ref().map(|b| &b.1));
        base.get_or_insert((write, read));
    }
    Ok(())
}

/// `n` GetOrganisation calls of the first `cities` cities, `c` at a time.
async fn get_organisations(
    label: &str,
    rounds: &Channel,
    token: &Arc<String>,
    n: usize,
    c: usize,
    cities: usize,
) -> Report {
    let (ch, t) = (rounds.clone(), token.clone());
    measure(label, n, c, move |i| {
        let mut client = orgs(&ch);
        let request = authed(
            &t,
            GetOrganisationRequest {
                name: format!("organisations/city-{}", i % cities),
            },
        );
        async move { client.get_organisation(request).await.map(|_| ()) }
    })
    .await
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
