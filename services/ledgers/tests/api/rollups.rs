//! The statistics' maintained figures (tallies and rollups, kept by the
//! books as postings land) against the same figures counted entry by entry,
//! for every scope and grouping, over a generated ledger with reopenings,
//! late write-offs, transfers and entries opened on period boundaries.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use fiveledger_ledgers::storage::books::{self, Signature};
use fiveledger_ledgers::storage::statistics::{self, Group, KeyColumn, Scope};
use fiveledger_ledgers::storage::{open_tallies, tallies};
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::storage::Db;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;

use crate::common::*;

fn us(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .unwrap()
        .timestamp_micros()
}

const DAY_US: i64 = 86_400_000_000;

/// Appends one posting through the books (the one write path) in its own
/// transaction, at `at_us`.
async fn post(db: &Db, id: &str, detail: Detail, actor: &str, at_us: i64) {
    let txn = db.begin().await.expect("begin");
    let row = books::lock(&txn, id).await.expect("lock");
    let signature = Signature {
        actor: actor.into(),
        at_us,
        ..Default::default()
    };
    books::append(&txn, row.as_ref(), id, detail, &signature)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e:?}"));
    db.commit(txn).await.expect("commit");
}

/// Plans (version `version`, due `due`) and writes the entry off on the
/// day `at_us`, with figures.
async fn write_off(db: &Db, id: &str, version: i32, due: (i32, i32, i32), at_us: i64, n: i64) {
    post(
        db,
        id,
        Detail::PlanSubmitted(RectificationPlan {
            version,
            summary: "整改方案".into(),
            due_date: Some(date(due.0, due.1, due.2)),
            ..Default::default()
        }),
        "unit",
        at_us,
    )
    .await;
    post(
        db,
        id,
        Detail::PlanApproved(PlanDecisionDetail {
            version,
            ..Default::default()
        }),
        "office",
        at_us,
    )
    .await;
    if n % 4 == 0 {
        // A transfer answered before the write-off.
        post(
            db,
            id,
            Detail::Transferred(Transfer {
                id: format!("t{version}"),
                receiving_body_path: "gx/nn/jw".into(),
                ..Default::default()
            }),
            "office",
            at_us,
        )
        .await;
        post(
            db,
            id,
            Detail::TransferAcknowledged(Default::default()),
            "jw",
            at_us,
        )
        .await;
        post(
            db,
            id,
            Detail::TransferResult(TransferResultDetail {
                transfer_id: format!("t{version}"),
                result: "立案".into(),
                ..Default::default()
            }),
            "jw",
            at_us,
        )
        .await;
    }
    post(
        db,
        id,
        Detail::WriteOffRequested(WriteOff {
            closure_statement: "已整改".into(),
            figures: Some(RectificationFigures {
                funds_recovered_fen: 100 + n,
                losses_recovered_fen: 7 * n,
                people_held_accountable: (n % 3) as i32,
                people_disciplined: (n % 2) as i32,
                rules_established: 1,
            }),
            ..Default::default()
        }),
        "unit",
        at_us,
    )
    .await;
    post(
        db,
        id,
        Detail::WriteOffApproved(Default::default()),
        "commission",
        at_us,
    )
    .await;
}

/// Entries opened on and around month and year boundaries, across three
/// rounds, five inspections, five targets in two trees and four
/// categories; open, written off on time, late, reopened, reopened and
/// written off again, transferred.
async fn generate(db: &Db) {
    let opened = [
        us(2025, 12, 31, 23, 59, 59) + 999_999,
        us(2026, 1, 1, 0, 0, 0),
        us(2026, 1, 15, 12, 0, 0),
        us(2026, 1, 31, 23, 59, 59),
        us(2026, 2, 1, 0, 0, 0),
        us(2026, 2, 28, 8, 0, 0),
        us(2026, 3, 1, 0, 0, 0) - 1,
        us(2026, 4, 10, 9, 0, 0),
    ];
    let targets = ["gx/nn/xn", "gx/nn/qx", "gx/nn", "gx/lz/cz", "gx2/bh"];
    for i in 0..48i64 {
        let id = format!("t{i:03}");
        let at = opened[i as usize % opened.len()];
        let round = format!("rounds/r{}", i % 3);
        post(
            db,
            &id,
            Detail::Open(OpenDetail {
                problem: format!("problems/{id}"),
                inspection: format!("{round}/inspections/i{}", i % 5),
                round,
                target: format!("organisations/o{}", i % 5),
                target_path: targets[(i as usize / 2) % targets.len()].into(),
                category: format!("c{}", i % 4),
                title: format!("问题 {i}"),
                fixed_on_the_spot: i % 7 == 0,
                ..Default::default()
            }),
            "system",
            at,
        )
        .await;
        if i % 11 == 10 {
            // Never handed over.
            continue;
        }
        post(
            db,
            &id,
            Detail::HandOver(HandOverDetail {
                feedback_date: Some(date(2026, 1, 1)),
                due_date: Some(date(2026, 3, 31)),
            }),
            "system",
            at,
        )
        .await;
        post(
            db,
            &id,
            Detail::HandOverAcknowledged(Default::default()),
            "unit",
            at,
        )
        .await;
        let on_time = us(2026, 3, 20, 10, 0, 0);
        let late = us(2026, 5, 5, 10, 0, 0);
        match i % 6 {
            // Open: acknowledged, or rectifying.
            0 => {}
            1 => {
                if i % 12 == 1 {
                    // Seen yellow before its plan moved the date: its
                    // ladder remembers (a second overdue is red).
                    post(
                        db,
                        &id,
                        Detail::Warning(fiveledger_proto::types::WarningDetail {
                            item: "entry".into(),
                            due_date: Some(date(2026, 3, 31)),
                            from_colour: fiveledger_proto::types::WarningColour::Blue as i32,
                            to_colour: fiveledger_proto::types::WarningColour::Yellow as i32,
                            ..Default::default()
                        }),
                        "system",
                        us(2026, 4, 2, 0, 0, 0),
                    )
                    .await;
                }
                post(
                    db,
                    &id,
                    Detail::PlanSubmitted(RectificationPlan {
                        version: 1,
                        summary: "整改方案".into(),
                        due_date: Some(date(2026, 6, 30)),
                        ..Default::default()
                    }),
                    "unit",
                    at,
                )
                .await;
            }
            2 => write_off(db, &id, 1, (2026, 3, 31), on_time, i).await,
            3 => write_off(db, &id, 1, (2026, 4, 30), late, i).await,
            // Reopened (open again), or reopened and written off again.
            _ => {
                write_off(db, &id, 1, (2026, 3, 31), on_time, i).await;
                post(
                    db,
                    &id,
                    Detail::Reopened(ReopenDetail {
                        inspection: LOOK_BACK.into(),
                        reason: "文字整改".into(),
                        due_date: Some(date(2026, 8, 31)),
                    }),
                    "office",
                    late,
                )
                .await;
                if i % 6 == 5 {
                    write_off(db, &id, 2, (2026, 8, 31), late + 20 * DAY_US, i).await;
                }
            }
        }
    }
}

/// The groups folded by (key, colour): the two reads may split a key's
/// figures over different rows.
fn folded(groups: &[Group]) -> BTreeMap<(String, i32), Group> {
    let mut out: BTreeMap<(String, i32), Group> = BTreeMap::new();
    for g in groups {
        let sum = out
            .entry((g.key.clone(), g.colour))
            .or_insert_with(|| Group {
                key: g.key.clone(),
                colour: g.colour,
                ..Default::default()
            });
        statistics::add_group(sum, g);
    }
    out
}

#[tokio::test]
async fn maintained_statistics_equal_the_entries_one_by_one_for_every_scope_and_grouping() {
    // The server migrates the database, then stops: nothing but the
    // postings here changes the books (no sweep, no relay of their events).
    let app = spawn_with_clock(fiveledger_platform::time::Clock::fixed(
        Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap(),
    ))
    .await;
    let db = app.db().await;
    let TestApp { running, .. } = app;
    running.stop().await.expect("stop");
    generate(&db).await;
    let thresholds = fiveledger_ledgers::LedgersSettings::default().thresholds();
    let caller_as = |scope_path: &str, role: Role| Caller {
        subject: "viewer".into(),
        org_path: scope_path.into(),
        scope_path: scope_path.into(),
        roles: vec![role],
    };
    let caller = |scope_path: &str| caller_as(scope_path, Role::Viewer);
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("day");
    let period = |from: Option<NaiveDate>, to: Option<NaiveDate>| {
        let p = fiveledger_platform::time::Period {
            start: from,
            end: to,
        };
        (
            p.from_time().map(|t| t.timestamp_micros()),
            p.until_time().map(|t| t.timestamp_micros()),
        )
    };
    let periods = [
        (None, None),
        (Some(day(2026, 1, 1)), Some(day(2026, 1, 31))),
        (Some(day(2026, 1, 1)), Some(day(2026, 2, 28))),
        (Some(day(2025, 12, 31)), Some(day(2026, 2, 1))),
        (Some(day(2026, 1, 2)), Some(day(2026, 1, 31))),
        (Some(day(2026, 1, 15)), Some(day(2026, 1, 15))),
        (Some(day(2026, 2, 1)), None),
        (None, Some(day(2026, 1, 31))),
        (Some(day(2026, 1, 16)), Some(day(2026, 3, 1))),
        (Some(day(2027, 1, 1)), None),
    ];
    let mut compared = 0;
    // An office also sees the entries of the rounds it runs before they
    // are handed over, which the open tallies do not count.
    let callers = [
        ("", None, Role::Viewer),
        ("", Some("gx/nn"), Role::Viewer),
        ("gx/nn", None, Role::Viewer),
        ("gx", Some("gx/lz"), Role::Viewer),
        ("", None, Role::InspectionOffice),
        ("gx", Some("gx/nn"), Role::InspectionOffice),
    ];
    for (caller_path, subtree, role) in callers {
        let who = caller_as(caller_path, role);
        for (round, inspection) in [
            (None, None),
            (Some("rounds/r1"), None),
            (None, Some("rounds/r2/inspections/i2")),
            (Some("rounds/r0"), Some("rounds/r0/inspections/i0")),
        ] {
            for (from, to) in periods {
                let (created_from_us, created_until_us) = period(from, to);
                let scope = Scope {
                    subtree: subtree.map(str::to_owned),
                    round: round.map(str::to_owned),
                    inspection: inspection.map(str::to_owned),
                    created_from_us,
                    created_until_us,
                    ..Default::default()
                };
                let seen = subtree.unwrap_or(caller_path);
                for key in [
                    KeyColumn::None,
                    KeyColumn::TargetPath,
                    KeyColumn::Round,
                    KeyColumn::Category,
                ] {
                    // Days after every posting (a tally counts a written-off entry due),
                    // on which open entries take different colours.
                    for today in [day(2026, 7, 1), day(2026, 9, 15)] {
                        let reader = db.reader();
                        let one_by_one =
                            statistics::groups(reader, &who, &scope, key, today, &thresholds)
                                .await
                                .expect("entry by entry");
                        let maintained = statistics::maintained_groups(
                            reader,
                            &who,
                            seen,
                            &scope,
                            key,
                            today,
                            &thresholds,
                        )
                        .await
                        .expect("maintained");
                        assert_eq!(
                            folded(&maintained),
                            folded(&one_by_one),
                            "{scope:?} seen {seen:?}, by {key:?} on {today}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, callers.len() * 4 * periods.len() * 4 * 2);
    // The whole tree's figures are not trivially empty.
    let all = statistics::groups(
        db.reader(),
        &caller(""),
        &Scope::default(),
        KeyColumn::None,
        day(2026, 7, 1),
        &thresholds,
    )
    .await
    .expect("all");
    let total = folded(&all)
        .into_values()
        .fold(Group::default(), |mut s, g| {
            statistics::add_group(&mut s, &g);
            s
        });
    // Four were never handed over: a viewer does not see them yet.
    assert_eq!(total.found, 44);
    assert!(
        total.written_off > 10 && total.reopened > 5 && total.transferred > 0,
        "{total:?}"
    );
    assert!(total.written_off_on_time > 0 && total.written_off_on_time < total.written_off);
    // And the recount from scratch gives the maintained rows back.
    let before = tallies::groups(
        db.reader(),
        &tallies::Filter {
            months: Some((None, None)),
            ..Default::default()
        },
        KeyColumn::Round,
    )
    .await
    .expect("rollups");
    assert_eq!(
        tallies::check(db.reader(), "", day(2026, 7, 1), &thresholds)
            .await
            .expect("check"),
        None
    );
    tallies::rebuild(db.writer()).await.expect("rebuild");
    let after = tallies::groups(
        db.reader(),
        &tallies::Filter {
            months: Some((None, None)),
            ..Default::default()
        },
        KeyColumn::Round,
    )
    .await
    .expect("rollups");
    assert_eq!(folded(&before), folded(&after));
    // The open tallies, kept by triggers, equal a recount; and one of their
    // rows carries a ladder (a yellow seen before the date moved).
    for path in ["", "gx/nn", "gx2"] {
        assert_eq!(
            open_tallies::check(db.reader(), path, day(2026, 7, 1), &thresholds)
                .await
                .expect("check"),
            None
        );
    }
    let kept = open_tally_rows(&db).await;
    assert!(
        kept.iter()
            .any(|r| r.split('|').nth(6) == Some("1") && r.split('|').nth(7) != Some("0")),
        "a ladder in {kept:?}"
    );
    open_tallies::rebuild(db.writer()).await.expect("rebuild");
    assert_eq!(kept, open_tally_rows(&db).await);
}

/// Every row of the open tallies as text (keys then counts), in key order.
async fn open_tally_rows(db: &Db) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!(
        "SELECT target_path || '|' || round || '|' || category || '|' || opened || '|' || due_date || '|' || original_due_date \
         || '|' || yellows || '|' || colour_floor || '|' || early || '|' || found || '|' \
         || fixed_on_the_spot || '|' || handed_over || '|' || transferred || '|' || reopened \
         || '|' || written_off_on_time || '|' || funds_recovered_fen AS r FROM {} \
         ORDER BY target_path, round, category, opened, due_date, original_due_date, yellows, colour_floor, early",
        open_tallies::TABLE
    );
    let rows = db
        .reader()
        .query_all_raw(Statement::from_string(db.backend(), sql))
        .await
        .expect("open tallies");
    rows.iter()
        .map(|r| r.try_get::<String>("", "r").expect("row"))
        .collect()
}
