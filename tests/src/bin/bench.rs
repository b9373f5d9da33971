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

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fiveledger_e2e::{spawn_suite, spawn_suite_with};
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::SqliteSync;
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
}

struct Report {
    name: String,
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
            "{:<48} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {}",
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
async fn measure<F, Fut>(name: impl Into<String>, n: usize, concurrency: usize, call: F) -> Report
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
        name: name.into(),
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
        return access_log(n, c, args.access_log_flush_ms).await;
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
        statistics(&suite, args.ledger_entries, args.statistics_requests).await?;
        postings(&suite, args.ledger_entries, n, c, &base).await;
    }
    if args.tls {
        tls(&suite, &token, n, c).await?;
    }
    suite.suite.stop().await?;
    if args.access_log {
        access_log(n, c, args.access_log_flush_ms).await?;
    }
    Ok(())
}

/// The same reads in plaintext (`plain`, the suite measured above) and
/// over mutual TLS (a suite of its own), then a new connection per call.
async fn tls(
    plain: &fiveledger_e2e::TestSuite,
    token: &Arc<String>,
    n: usize,
    c: usize,
) -> anyhow::Result<()> {
    let secure = fiveledger_e2e::spawn_tls_suite(Default::default()).await;
    region(&secure.rounds, token).await?;
    // The same cities as the plaintext suite's first hundred.
    let cities = n.min(100);
    create_organisations("", &secure.rounds, token, cities, c).await;
    let get = |label: &str, channel: &Channel| {
        let (ch, t) = (channel.clone(), token.clone());
        measure(label.to_owned(), n, c, move |i| {
            let mut client = orgs(&ch);
            let request = authed(
                &t,
                GetOrganisationRequest {
                    name: format!("organisations/city-{}", i % cities),
                },
            );
            async move { client.get_organisation(request).await.map(|_| ()) }
        })
    };
    let health = |label: &str, channel: &Channel| {
        let ch = channel.clone();
        measure(label.to_owned(), n, c, move |_| {
            let mut client = HealthClient::new(ch.clone());
            async move {
                client
                    .check(HealthCheckRequest::default())
                    .await
                    .map(|_| ())
            }
        })
    };
    let base = health("health check, plaintext", &plain.rounds).await;
    base.print(None);
    health("health check, mutual TLS", &secure.rounds)
        .await
        .print(Some(&base));
    let plain_get = get("GetOrganisation, plaintext", &plain.rounds).await;
    plain_get.print(Some(&base));
    get("GetOrganisation, mutual TLS", &secure.rounds)
        .await
        .print(Some(&plain_get));

    // A new connection per call: TCP (+ TLS handshake) + one health check.
    let (plain_addr, tls_addr) = (plain.suite.rounds.addr, secure.suite.rounds.addr);
    let dir = fiveledger_e2e::tls_dir(&secure.env);
    let fresh_plain = measure("new connection + health, plaintext", n / 4, c, move |_| {
        let channel = Channel::from_shared(format!("http://{plain_addr}"))
            .expect("url")
            .connect_lazy();
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    fresh_plain.print(Some(&base));
    measure("new connection + health, mutual TLS", n / 4, c, move |_| {
        let channel = fiveledger_e2e::tls_channel(&dir, fiveledger_platform::tls::CLIENT, tls_addr);
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await
    .print(Some(&fresh_plain));
    secure.suite.stop().await
}

/// Clues registered in each suite of the access log scenarios.
const BENCH_CLUES: usize = 60;

/// A suite with round 9's inspections stationed and [`BENCH_CLUES`] clues
/// on Xingning's, its access log on or off.
async fn clue_suite(
    log: bool,
    flush_ms: u64,
) -> anyhow::Result<(fiveledger_e2e::TestSuite, Vec<String>)> {
    use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
    use fiveledger_proto::issues::{Clue, CreateClueRequest};
    let suite = spawn_suite_with(Default::default(), |s| {
        s.access_log.enabled = log;
        s.access_log.flush_ms = flush_ms;
    })
    .await;
    suite.two_stationed_inspections("r9", 9).await;
    let office = fiveledger_e2e::tokens::office();
    let mut client = ClueServiceClient::new(suite.issues.clone());
    let mut names = Vec::with_capacity(BENCH_CLUES);
    for i in 0..BENCH_CLUES {
        let clue = client
            .create_clue(authed(
                &office,
                CreateClueRequest {
                    clue: Some(Clue {
                        inspection: "rounds/r9/inspections/xn".into(),
                        subject_name: format!("干部{i}"),
                        subject_post: "科长".into(),
                        summary: "反映问题线索".into(),
                        source: "来信来访".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await?
            .into_inner();
        names.push(clue.name);
    }
    Ok((suite, names))
}

/// GetClue and ListClues (50 a page) as the city's office, with the access
/// log off (the baseline) and on, each on its own suite, measured in turn.
async fn access_log(n: usize, c: usize, flush_ms: u64) -> anyhow::Result<()> {
    use fiveledger_proto::access::VerifyAccessLogRequest;
    use fiveledger_proto::access::access_log_service_client::AccessLogServiceClient;
    use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
    use fiveledger_proto::issues::{GetClueRequest, ListCluesRequest};
    let office = Arc::new(fiveledger_e2e::tokens::office());
    let (off, off_clues) = clue_suite(false, flush_ms).await?;
    let (on, on_clues) = clue_suite(true, flush_ms).await?;
    println!("access log flush_ms = {flush_ms}");
    let mut reports: Vec<Report> = Vec::new();
    for list in [false, true] {
        for (label, suite, clues) in [("off", &off, &off_clues), ("on", &on, &on_clues)] {
            let (ch, t, clues) = (
                suite.issues.clone(),
                office.clone(),
                Arc::new(clues.clone()),
            );
            let name = if list {
                format!("ListClues (50/page), access log {label}")
            } else {
                format!("GetClue, access log {label}")
            };
            let report = measure(name, n, c, move |i| {
                let mut client = ClueServiceClient::new(ch.clone());
                let (t, clues) = (t.clone(), clues.clone());
                async move {
                    if list {
                        let request = ListCluesRequest {
                            page_size: 50,
                            ..Default::default()
                        };
                        client.list_clues(authed(&t, request)).await.map(|_| ())
                    } else {
                        let request = GetClueRequest {
                            name: clues[i % clues.len()].clone(),
                        };
                        client.get_clue(authed(&t, request)).await.map(|_| ())
                    }
                }
            })
            .await;
            reports.push(report);
        }
    }
    for pair in reports.chunks(2) {
        pair[0].print(None);
        pair[1].print(Some(&pair[0]));
    }
    // Every read made it into the log, and the chain holds.
    let verified = AccessLogServiceClient::new(on.issues.clone())
        .verify_access_log(authed(
            &testing::token("bench-jw", "", &[Role::DisciplineCommission]),
            VerifyAccessLogRequest {},
        ))
        .await?
        .into_inner();
    println!(
        "access log after the run: {} records, valid: {}",
        verified.records, verified.valid
    );
    off.suite.stop().await?;
    on.suite.stop().await?;
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

/// Loads `entries` entries straight into the ledger's tables: each opened
/// and handed over through the books (two postings), then most written off
/// in the projection directly (what the statistics read), and the tallies
/// recounted. Spread over 10 cities × 10 counties × 20 units, 8 categories.
async fn load_ledger(suite: &fiveledger_e2e::TestSuite, entries: usize) -> anyhow::Result<()> {
    use fiveledger_ledgers::storage::{books, tallies};
    use fiveledger_proto::ledgers::{HandOverDetail, OpenDetail, posting::Detail};
    use sea_orm::ConnectionTrait;
    let settings = fiveledger::service_settings(
        &suite.env.settings,
        fiveledger_ledgers::NAME,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    );
    let db = fiveledger_platform::storage::Db::connect(
        &settings.database,
        &settings
            .data_dir
            .join(format!("{}.sqlite", fiveledger_ledgers::NAME)),
    )
    .await?;
    let signature = books::Signature {
        actor: "bench".into(),
        at_us: fiveledger_platform::time::Clock::system()
            .now()
            .timestamp_micros(),
        ..Default::default()
    };
    let date = |y, m, d| fiveledger_proto::google::r#type::Date {
        year: y,
        month: m,
        day: d,
    };
    let started = Instant::now();
    for chunk in (0..entries).step_by(1000) {
        let txn = db.begin().await?;
        for n in chunk..(chunk + 1000).min(entries) {
            let id = format!("e{n:08}");
            let target = format!("bench/c{}/x{}/u{}", n % 10, (n / 10) % 10, (n / 100) % 20);
            let open = Detail::Open(OpenDetail {
                problem: format!("problems/{id}"),
                inspection: format!("rounds/r{}/inspections/u{}", n % 12, n % 2000),
                round: format!("rounds/r{}", n % 12),
                target: format!("organisations/u{}", n % 2000),
                target_path: target,
                category: format!("category-{}", n % 8),
                title: format!("问题 {n}"),
                ..Default::default()
            });
            books::append(&txn, None, &id, open, &signature).await?;
            let row = books::lock(&txn, &id).await?.expect("just opened");
            let hand_over = Detail::HandOver(HandOverDetail {
                feedback_date: Some(date(2026, 1 + (n % 6) as i32, 1)),
                due_date: Some(date(2026, 3 + (n % 10) as i32, 1)),
            });
            books::append(&txn, Some(&row), &id, hand_over, &signature).await?;
        }
        db.commit(txn).await?;
    }
    // 93 % written off; nine in a hundred of those late.
    db.writer()
        .execute_unprepared(
            "UPDATE entries SET state = 'ENTRY_STATE_WRITTEN_OFF', \
             first_written_off_date = CASE WHEN (CAST(SUBSTR(id, 2) AS BIGINT) % 100) < 9 \
               THEN '2026-12-31' ELSE '2026-02-15' END, \
             funds_recovered_fen = CAST(SUBSTR(id, 2) AS BIGINT) % 1000 \
             WHERE (CAST(SUBSTR(id, 2) AS BIGINT) % 100) < 93",
        )
        .await?;
    tallies::rebuild(db.writer()).await?;
    // Planner statistics, as autovacuum (PostgreSQL) or a routine ANALYZE
    // (SQLite) would have them after a bulk load.
    db.writer().execute_unprepared("ANALYZE").await?;
    println!(
        "loaded {entries} ledger entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// GetStatistics over the whole tree, read from the tallies (the whole
/// subtree) against the baseline of the same figures read entry by entry
/// (a period from 2000 on makes the service read the entries).
async fn statistics(
    suite: &fiveledger_e2e::TestSuite,
    entries: usize,
    n: usize,
) -> anyhow::Result<()> {
    use fiveledger_proto::ledgers::statistics_service_client::StatisticsServiceClient;
    use fiveledger_proto::ledgers::{GetStatisticsRequest, StatisticsGrouping};
    load_ledger(suite, entries).await?;
    // A viewer of the whole tree: sees by target, holds no clues.
    let token = Arc::new(testing::token("bench-viewer", "", &[Role::Viewer]));
    for (label, group_by) in [
        ("total", StatisticsGrouping::Unspecified),
        ("by organisation", StatisticsGrouping::Organisation),
        ("by category", StatisticsGrouping::Category),
        ("by colour", StatisticsGrouping::Colour),
    ] {
        let mut reports = Vec::new();
        for (name, period_start) in [
            (
                "entry by entry (baseline)",
                Some(fiveledger_e2e::date(2000, 1, 1)),
            ),
            ("tallies + open entries", None),
        ] {
            let (ch, t) = (suite.ledgers.clone(), token.clone());
            let report = measure(format!("Stats {label}: {name}"), n, 1, move |_| {
                let mut client = StatisticsServiceClient::new(ch.clone());
                let request = authed(
                    &t,
                    GetStatisticsRequest {
                        organisation_path: String::new(),
                        group_by: group_by as i32,
                        period_start,
                        ..Default::default()
                    },
                );
                async move {
                    let stats = client.get_statistics(request).await?.into_inner();
                    let found = stats.total.and_then(|t| t.counts).map_or(0, |c| c.found);
                    if found as usize != entries {
                        return Err(tonic::Status::internal(format!(
                            "counted {found} of {entries} entries"
                        )));
                    }
                    Ok(())
                }
            })
            .await;
            reports.push(report);
        }
        reports[0].print(None);
        reports[1].print(Some(&reports[0]));
    }
    Ok(())
}

/// Ledger writes: one posting (a supervisor's remark) per call, spread over
/// the loaded entries that are still open, against the same calls all on
/// one entry (one hash chain, one row lock). Entries are chained each on
/// its own, so spread writes should not queue behind each other.
async fn postings(
    suite: &fiveledger_e2e::TestSuite,
    entries: usize,
    n: usize,
    concurrency: usize,
    base: &Report,
) {
    use fiveledger_proto::ledgers::PostSupervisionRequest;
    use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
    // load_ledger leaves ids ending in 93..99 handed over (the rest are
    // written off and refuse remarks).
    let open = |i: usize| (i / 7) * 100 + 93 + i % 7;
    let n = n.min((0..).take_while(|&i| open(i) < entries).count());
    let token = Arc::new(testing::token("bench-office", "", &[Role::Admin]));
    for (label, spread) in [
        ("PostSupervision, each on its own entry", true),
        ("PostSupervision, all on one entry", false),
    ] {
        let (ch, t) = (suite.ledgers.clone(), token.clone());
        measure(label, n, concurrency, move |i| {
            let mut client = LedgerServiceClient::new(ch.clone());
            let entry = if spread { open(i) } else { open(0) };
            let request = authed(
                &t,
                PostSupervisionRequest {
                    name: format!("entries/e{entry:08}"),
                    remarks: format!("督办检查 {i}"),
                    ..Default::default()
                },
            );
            async move { client.post_supervision(request).await.map(|_| ()) }
        })
        .await
        .print(Some(base));
    }
}
