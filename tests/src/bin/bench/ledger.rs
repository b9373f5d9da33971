//! The ledger at scale: entries loaded in bulk, GetStatistics over them,
//! and postings spread over them against postings on one entry.

use std::sync::Arc;
use std::time::Instant;

use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use sea_orm::DbBackend;

use crate::measure::{Report, measure};

/// The first instant entries are opened at (2025-01-01, UTC), and the span
/// their opening instants spread over, in id order (700 days: periods cross
/// months and years).
const OPENED_FROM_US: i64 = 1_735_689_600_000_000;
const OPENED_SPAN_US: i64 = 700 * 86_400_000_000;

/// Entries computed per batch, and (SQLite) written per multi-row INSERT.
const BATCH: usize = 10_000;
const ENTRY_ROWS: usize = 500;
const POSTING_ROWS: usize = 2_000;

/// Loads `entries` entries straight into the ledger's tables. Each is
/// opened and handed over in its journal by the books' own rules
/// (`books::journal_rows`: the postings hash-chained as `append` chains
/// them, so VerifyJournal holds for the journals); 93 % of them are then
/// marked written off in the projection only (no write-off postings: what
/// the statistics read), nine in a hundred of those late. No events are
/// written. Rows go in by COPY on PostgreSQL and by multi-row INSERTs, one
/// transaction per batch, on SQLite, computed on a blocking thread while the previous batch is written;
/// then the tallies, rollups and open tallies are counted from the
/// entries. Spread over 10 cities × 10 counties × 20 units, 8 categories,
/// 12 rounds one after the other, 2,000 inspections (one a unit, its
/// problems posted on one day, as a report posts them), opened over 700
/// days from 2025-01-01.
pub async fn load_ledger(suite: &fiveledger_e2e::TestSuite, entries: usize) -> anyhow::Result<()> {
    use fiveledger_ledgers::storage::{entries as rows, open_tallies, postings, tallies};
    use sea_orm::ConnectionTrait;
    let db = crate::lists::open(suite, fiveledger_ledgers::NAME).await?;
    let started = Instant::now();
    // As a bulk import does: the secondary indexes are dropped, the rows
    // written in table order, the indexes built again (each one sort of the
    // table, not a million inserts in random places of each index). The
    // triggers keeping the open tallies go too: the tallies are counted
    // once at the end, as the migration that made them counts them.
    let derived = drop_derived(&db, &["entries", "postings"]).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for chunk in (0..entries).step_by(BATCH) {
            let batch = (chunk..(chunk + BATCH).min(entries))
                .map(|n| bench_entry(n, entries))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
        Ok(())
    });
    while let Some(batch) = rx.recv().await {
        let (models, journals): (Vec<rows::Model>, Vec<Vec<postings::Model>>) =
            batch.into_iter().unzip();
        let journals: Vec<postings::Model> = journals.into_iter().flatten().collect();
        match db.backend() {
            DbBackend::Postgres => copy_batch(&db, &models, &journals).await?,
            _ => insert_batch(&db, &models, &journals).await?,
        }
    }
    producer.await??;
    let written = started.elapsed();
    for sql in &derived {
        match db.backend() {
            // Each index is one sort of the table: in memory rather than
            // in temporary files (the default is 64 MB), as a restore is
            // advised to do. The setting holds for that connection only.
            DbBackend::Postgres => {
                db.writer()
                    .execute_unprepared(&format!("SET maintenance_work_mem = '512MB'; {sql}"))
                    .await?
            }
            _ => db.writer().execute_unprepared(sql).await?,
        };
    }
    let indexed = started.elapsed();
    tallies::rebuild(db.writer()).await?;
    open_tallies::rebuild(db.writer()).await?;
    let analyze = settle(&db).await?;
    if db.backend() == DbBackend::Sqlite {
        db.writer()
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    println!(
        "loaded {entries} ledger entries in {:.1} s ({:.1} s writing rows, {:.1} s making {} indexes and triggers again, then tallies, rollups, open tallies and {analyze})",
        started.elapsed().as_secs_f64(),
        written.as_secs_f64(),
        (indexed - written).as_secs_f64(),
        derived.len(),
    );
    Ok(())
}

/// Writes a batch on PostgreSQL: one COPY of its entries, one of their
/// postings.
async fn copy_batch(
    db: &fiveledger_platform::storage::Db,
    entries: &[fiveledger_ledgers::storage::entries::Model],
    journals: &[fiveledger_ledgers::storage::postings::Model],
) -> anyhow::Result<()> {
    use fiveledger_ledgers::storage::{entries, postings};
    let pool = db.writer().get_postgres_connection_pool();
    crate::copy::copy_in::<entries::Entity>(pool, entries).await?;
    crate::copy::copy_in::<postings::Entity>(pool, journals).await?;
    Ok(())
}

/// Writes a batch on SQLite: multi-row INSERTs in one transaction, then a
/// checkpoint that keeps the write-ahead log small (unchecked, it grows to
/// gigabytes and every page read searches it).
async fn insert_batch(
    db: &fiveledger_platform::storage::Db,
    entries: &[fiveledger_ledgers::storage::entries::Model],
    journals: &[fiveledger_ledgers::storage::postings::Model],
) -> anyhow::Result<()> {
    use fiveledger_ledgers::storage::{entries, postings};
    use sea_orm::{ConnectionTrait, EntityTrait};
    let txn = db.begin().await?;
    for part in entries.chunks(ENTRY_ROWS) {
        entries::Entity::insert_many(part.iter().cloned().map(entries::ActiveModel::from))
            .exec_without_returning(&txn)
            .await?;
    }
    for part in journals.chunks(POSTING_ROWS) {
        postings::Entity::insert_many(part.iter().cloned().map(postings::ActiveModel::from))
            .exec_without_returning(&txn)
            .await?;
    }
    db.commit(txn).await?;
    db.writer()
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    Ok(())
}

/// Drops the secondary indexes and the triggers of `tables` (not the
/// indexes of their keys and constraints) and returns the SQL that makes
/// them again, as the database itself prints it.
async fn drop_derived(
    db: &fiveledger_platform::storage::Db,
    tables: &[&str],
) -> anyhow::Result<Vec<String>> {
    use sea_orm::{ConnectionTrait, Statement};
    let list = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = match db.backend() {
        DbBackend::Postgres => format!(
            "SELECT 'DROP INDEX ' || indexname AS remove, indexdef AS sql FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ({list}) \
             AND indexname NOT IN (SELECT conname FROM pg_constraint) \
             UNION ALL \
             SELECT 'DROP TRIGGER ' || t.tgname || ' ON ' || c.relname, pg_get_triggerdef(t.oid) \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE NOT t.tgisinternal AND c.relname IN ({list}) \
             AND c.relnamespace = current_schema()::regnamespace"
        ),
        _ => format!(
            "SELECT 'DROP ' || type || ' ' || name AS remove, sql FROM sqlite_master \
             WHERE type IN ('index', 'trigger') AND tbl_name IN ({list}) AND sql IS NOT NULL"
        ),
    };
    let rows = db
        .writer()
        .query_all_raw(Statement::from_string(db.backend(), query))
        .await?;
    let mut made = Vec::new();
    for row in rows {
        made.push(row.try_get::<String>("", "sql")?);
        db.writer()
            .execute_unprepared(&row.try_get::<String>("", "remove")?)
            .await?;
    }
    Ok(made)
}

/// Inspections the loaded entries were found in, and rounds they ran in.
const INSPECTIONS: usize = 2_000;
const ROUNDS: usize = 12;

/// The inspection (0..INSPECTIONS) that found entry `n` of `total`, and its
/// round: an inspection's problems are consecutive ids, posted together when
/// its report was (the same day), and rounds follow one another in time.
fn inspection_of(n: usize, total: usize) -> (usize, usize) {
    let i = (n as u128 * INSPECTIONS as u128 / total as u128) as usize;
    (i, i * ROUNDS / INSPECTIONS)
}

/// The first entry of `total` still open: those after it are.
fn first_open(total: usize) -> usize {
    total - total * 7 / 100
}

/// The resource name of inspection `i` of round `round`.
fn inspection_name(i: usize, round: usize) -> String {
    format!("rounds/r{round}/inspections/u{i}")
}

/// Entry `n` of `total` as the loader writes it: its projection and its
/// two postings.
fn bench_entry(
    n: usize,
    total: usize,
) -> anyhow::Result<(
    fiveledger_ledgers::storage::entries::Model,
    Vec<fiveledger_ledgers::storage::postings::Model>,
)> {
    use chrono::{DateTime, Datelike, Days, NaiveDate};
    use fiveledger_ledgers::storage::books;
    use fiveledger_proto::ledgers::{EntryState, HandOverDetail, OpenDetail, posting::Detail};
    let date = |d: NaiveDate| fiveledger_proto::google::r#type::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    };
    let id = format!("e{n:08}");
    let at_us = OPENED_FROM_US + (OPENED_SPAN_US as i128 * n as i128 / total as i128) as i64;
    let opened = DateTime::from_timestamp_micros(at_us)
        .expect("instant")
        .date_naive();
    let signature = books::Signature {
        actor: "bench".into(),
        at_us,
        ..Default::default()
    };
    // Each inspection inspects one unit of the 2,000.
    let (i, round) = inspection_of(n, total);
    let open = Detail::Open(OpenDetail {
        problem: format!("problems/{id}"),
        inspection: inspection_name(i, round),
        round: format!("rounds/r{round}"),
        target: format!("organisations/u{i}"),
        target_path: format!("bench/c{}/x{}/u{}", i % 10, (i / 10) % 10, (i / 100) % 20),
        category: format!("category-{}", n % 8),
        title: format!("问题 {n}"),
        ..Default::default()
    });
    // Feedback a month after the report; rectified within three more (a
    // few in a hundred given six).
    let feedback = opened + Days::new(30);
    let due = feedback + Days::new(if n % 50 == 7 { 180 } else { 90 });
    let hand_over = Detail::HandOver(HandOverDetail {
        feedback_date: Some(date(feedback)),
        due_date: Some(date(due)),
    });
    let (mut entry, journal) = books::journal_rows(&id, [open, hand_over], &signature)?;
    // 93 % written off: all but the newest 7 % (rectification takes months,
    // so what is still open is recent); nine in a hundred of them late.
    if n < first_open(total) {
        entry.state = EntryState::WrittenOff.as_str_name().into();
        let written_off = if n % 100 < 9 {
            due + Days::new(40)
        } else {
            due - Days::new(20)
        };
        entry.first_written_off_date = written_off.format("%Y-%m-%d").to_string();
        entry.funds_recovered_fen = (n % 1000) as i64;
    }
    Ok((entry, journal))
}

/// GetStatistics over the loaded entries for every scope of the table (the
/// whole tree, a subtree, a period of whole months, a period with edge
/// days, a round, an inspection) × every grouping, as a viewer of the whole
/// tree (sees by target, holds no clues: the figures are the ledger's
/// alone). Each scope's baseline is the same total read entry by entry (a
/// viewer who also supervises sees entries beyond a subtree, so only the
/// entries can answer it), a tenth as many times: it is slow.
pub async fn statistics(
    suite: &fiveledger_e2e::TestSuite,
    entries: usize,
    n: usize,
) -> anyhow::Result<()> {
    use fiveledger_proto::ledgers::statistics_service_client::StatisticsServiceClient;
    use fiveledger_proto::ledgers::{GetStatisticsRequest, StatisticsGrouping};
    load_ledger(suite, entries).await?;
    let token = Arc::new(testing::token("bench-viewer", "", &[Role::Viewer]));
    let date = fiveledger_e2e::date;
    let scopes: Vec<(&str, GetStatisticsRequest)> = vec![
        ("whole tree", GetStatisticsRequest::default()),
        (
            "subtree",
            GetStatisticsRequest {
                organisation_path: "bench/c3".into(),
                ..Default::default()
            },
        ),
        (
            "period of whole months",
            GetStatisticsRequest {
                // Both periods hold open entries (the newest are).
                period_start: Some(date(2026, 1, 1)),
                period_end: Some(date(2026, 11, 30)),
                ..Default::default()
            },
        ),
        (
            "period with edge days",
            GetStatisticsRequest {
                period_start: Some(date(2025, 12, 15)),
                period_end: Some(date(2026, 11, 10)),
                ..Default::default()
            },
        ),
        (
            "round",
            GetStatisticsRequest {
                round: "rounds/r3".into(),
                ..Default::default()
            },
        ),
        (
            "inspection",
            GetStatisticsRequest {
                inspection: {
                    let (i, round) = inspection_of(entries / 4, entries);
                    inspection_name(i, round)
                },
                ..Default::default()
            },
        ),
    ];
    let baseline = Arc::new(testing::token(
        "bench-supervisor",
        "bench",
        &[Role::Viewer, Role::Supervisor],
    ));
    for (scope, request) in scopes {
        // (A subtree within the caller's own is answered from the sums
        // whoever asks: no baseline for it.)
        let base = if request.organisation_path.is_empty() {
            let (ch, t, r) = (suite.ledgers.clone(), baseline.clone(), request.clone());
            let base = measure(
                format!("Stats {scope}: entry by entry (baseline)"),
                n.div_ceil(10),
                1,
                move |_| {
                    let mut client = StatisticsServiceClient::new(ch.clone());
                    let request = authed(&t, r.clone());
                    async move { client.get_statistics(request).await.map(|_| ()) }
                },
            )
            .await;
            base.print(None);
            Some(base)
        } else {
            None
        };
        for (grouping, group_by) in [
            ("total", StatisticsGrouping::Unspecified),
            ("by organisation", StatisticsGrouping::Organisation),
            ("by level", StatisticsGrouping::OrganisationLevel),
            ("by category", StatisticsGrouping::Category),
            ("by colour", StatisticsGrouping::Colour),
            ("by round", StatisticsGrouping::Round),
        ] {
            let (ch, t) = (suite.ledgers.clone(), token.clone());
            let request = GetStatisticsRequest {
                group_by: group_by as i32,
                ..request.clone()
            };
            let whole = scope == "whole tree";
            measure(format!("Stats {scope}, {grouping}"), n, 1, move |_| {
                let mut client = StatisticsServiceClient::new(ch.clone());
                let request = authed(&t, request.clone());
                async move {
                    let stats = client.get_statistics(request).await?.into_inner();
                    let found = stats.total.and_then(|t| t.counts).map_or(0, |c| c.found);
                    if (whole && found as usize != entries) || found == 0 {
                        return Err(tonic::Status::internal(format!(
                            "counted {found} of {entries} entries"
                        )));
                    }
                    Ok(())
                }
            })
            .await
            .print(base.as_ref());
        }
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
    // load_ledger leaves the newest 7 % handed over (the rest are written
    // off and refuse remarks).
    let open = move |i: usize| first_open(entries) + i;
    let n = n.min(entries - first_open(entries));
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

/// Gives a bulk-loaded database the planner statistics and (PostgreSQL)
/// the visibility map that lets an index answer alone, as autovacuum (which
/// a million inserts set off) or a routine ANALYZE (SQLite) would have them
/// after such a load; says which statement it ran.
pub(crate) async fn settle(db: &fiveledger_platform::storage::Db) -> anyhow::Result<&'static str> {
    use sea_orm::ConnectionTrait;
    let analyze = match db.backend() {
        DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.writer().execute_unprepared(analyze).await?;
    Ok(analyze)
}
