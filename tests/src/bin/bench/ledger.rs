//! The ledger at scale: entries loaded in bulk, GetStatistics over them,
//! and postings spread over them against postings on one entry.

use std::sync::Arc;
use std::time::Instant;

use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};

use crate::measure::{Report, measure};

/// Loads `entries` entries straight into the ledger's tables: each opened
/// and handed over through the books (two postings), then most written off
/// in the projection directly (what the statistics read), and the tallies
/// recounted. Spread over 10 cities × 10 counties × 20 units, 8 categories.
pub async fn load_ledger(suite: &fiveledger_e2e::TestSuite, entries: usize) -> anyhow::Result<()> {
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
pub async fn statistics(
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
pub async fn postings(
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
