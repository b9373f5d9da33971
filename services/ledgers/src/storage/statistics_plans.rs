//! Statistics at any size of the ledger read index ranges: the open
//! entries of every scope from a partial index over them that holds every
//! column the statistics' SQL reads (never the entries' rows, with their
//! snapshots), and the rollups of a round or of whole months from indexes
//! holding their sums. Checked against SQLite's plan of the queries the
//! storage layer builds.

use chrono::NaiveDate;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::testing::{sqlite_plans, table_reads};
use fiveledger_proto::ledgers::EntryState;
use sea_orm::{DbBackend, QueryTrait};

use super::open_tallies;
use super::statistics::{KeyColumn, OPEN, Scope, States, groups_select};
use super::tallies::{self, Filter, Months};

/// The predicate the partial indexes and the query share names the one
/// state that is not open.
#[test]
fn the_open_predicate_names_the_written_off_state() {
    assert_eq!(
        OPEN,
        format!("state <> '{}'", EntryState::WrittenOff.as_str_name())
    );
    // And those the open tallies leave out, or count, name real states.
    assert_eq!(
        super::statistics::NOT_HANDED_OVER,
        format!("state = '{}'", EntryState::Open.as_str_name())
    );
    assert_eq!(
        super::open_tallies::counted("e"),
        format!(
            "e.state NOT IN ('{}', '{}')",
            EntryState::Open.as_str_name(),
            EntryState::WrittenOff.as_str_name()
        )
    );
}

/// (label, subtree seen, round, inspection, over a period)
type ScopeCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);

#[tokio::test]
async fn every_scope_reads_open_entries_and_rollups_from_covering_indexes() {
    let thresholds = crate::LedgersSettings::default().thresholds();
    let today = NaiveDate::from_ymd_opt(2026, 7, 1).expect("day");
    let (from, until) = (
        Some(1_751_328_000_000_000), // 2025-07-01
        Some(1_782_864_000_000_000), // 2026-07-01
    );
    let months = Months::split(from, until);
    let scopes: &[ScopeCase] = &[
        ("whole tree", "", None, None, false),
        ("subtree", "gx/nn", None, None, false),
        ("round", "", Some("rounds/r1"), None, false),
        (
            "inspection",
            "",
            None,
            Some("rounds/r1/inspections/i1"),
            false,
        ),
        ("period", "", None, None, true),
        ("subtree and period", "gx/nn", None, None, true),
    ];
    let viewer = Caller::new("viewer", "", &[Role::Viewer]);
    let office = Caller::new("office", "gx/nn", &[Role::InspectionOffice]);
    let keys = [
        KeyColumn::None,
        KeyColumn::TargetPath,
        KeyColumn::Round,
        KeyColumn::Category,
    ];
    let mut open_reads = Vec::new();
    let mut sum_reads = Vec::new();
    let mut not_handed_over_reads = Vec::new();
    for (label, seen, round, inspection, period) in scopes {
        for key in keys {
            for (who, caller) in [("viewer", &viewer), ("office", &office)] {
                let scope = Scope {
                    subtree: Some((*seen).to_owned()),
                    round: round.map(str::to_owned),
                    inspection: inspection.map(str::to_owned),
                    created_from_us: if *period { from } else { None },
                    created_until_us: if *period { until } else { None },
                    states: States::Open,
                };
                let sql =
                    groups_select(caller, &scope, key, today, &thresholds).build(DbBackend::Sqlite);
                let case = format!("{label} by {key:?} as {who}");
                open_reads.push((case.clone(), "entries_open_", sql));
                if round.is_none() && inspection.is_none() {
                    // A subtree's open entries (of a period too) come from
                    // the open tallies, but for those not yet handed over.
                    let not_handed_over = Scope {
                        states: States::NotHandedOver,
                        ..scope.clone()
                    };
                    let sql = groups_select(caller, &not_handed_over, key, today, &thresholds)
                        .build(DbBackend::Sqlite);
                    not_handed_over_reads.push((format!("{case}, not handed over"), sql));
                }
                if *period {
                    // The written-off entries of an edge day.
                    let edge = Scope {
                        created_from_us: from,
                        created_until_us: from.map(|f| f + 86_400_000_000),
                        states: States::WrittenOff,
                        ..scope
                    };
                    let sql = groups_select(caller, &edge, key, today, &thresholds)
                        .build(DbBackend::Sqlite);
                    let case = format!("{case}, written off on an edge day");
                    open_reads.push((case, "entries_create_time_figures", sql));
                }
            }
            let filter = Filter {
                subtree: (*seen).to_owned(),
                round: round.map(str::to_owned),
                inspection: inspection.map(str::to_owned),
                months: period.then(|| (months.from.clone(), months.until.clone())),
            };
            let narrowed = round.is_some() || inspection.is_some() || *period;
            let sql = DbBackend::Sqlite.build(&tallies::groups_select(&filter, key));
            sum_reads.push((format!("{label} by {key:?}"), narrowed, sql));
        }
    }
    let queries: Vec<_> = open_reads.iter().map(|(_, _, sql)| sql.clone()).collect();
    let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
    for ((case, index, _), plan) in open_reads.iter().zip(&plans) {
        let reads = table_reads(plan, "entries");
        assert!(reads.scans.is_empty(), "{case}: reads every row: {plan:#?}");
        let covering = format!("USING COVERING INDEX {index}");
        assert!(
            plan.iter().all(|step| !step.starts_with("SEARCH entries ")
                && !step.starts_with("SCAN entries ")
                || step.contains(&covering)),
            "{case}: entries not read from a covering index {index}…: {plan:#?}"
        );
        assert!(
            plan.iter().any(|step| step.contains(&covering)),
            "{case}: {plan:#?}"
        );
    }
    // The entries not handed over are found by an index led by the state.
    let queries: Vec<_> = not_handed_over_reads
        .iter()
        .map(|(_, sql)| sql.clone())
        .collect();
    let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
    for ((case, _), plan) in not_handed_over_reads.iter().zip(&plans) {
        let reads = table_reads(plan, "entries");
        let searches: Vec<_> = plan
            .iter()
            .filter(|step| step.starts_with("SEARCH entries "))
            .collect();
        assert!(
            reads.scans.is_empty()
                && reads.walks.is_empty()
                && !searches.is_empty()
                && searches.iter().all(|step| step.contains("(state=?")),
            "{case}: {plan:#?}"
        );
    }
    // A subtree's open tallies are one range of their key, a period's one
    // range of the days.
    let days = |subtree: &str| open_tallies::Filter {
        subtree: subtree.into(),
        opened_from: Some("2025-07-01".into()),
        opened_until: Some("2026-07-01".into()),
    };
    for (label, filter) in [
        (
            "subtree",
            open_tallies::Filter {
                subtree: "gx/nn".into(),
                ..Default::default()
            },
        ),
        ("period", days("")),
        ("subtree and period", days("gx/nn")),
    ] {
        for key in keys {
            let sql = DbBackend::Sqlite.build(&open_tallies::groups_select(
                &filter,
                key,
                today,
                &thresholds,
            ));
            let plan = &sqlite_plans::<crate::storage::Migrator>(&[sql]).await[0];
            let reads = table_reads(plan, open_tallies::TABLE);
            let search = format!("SEARCH {} USING INDEX", open_tallies::TABLE);
            assert!(
                reads.scans.is_empty()
                    && reads.walks.is_empty()
                    && plan.iter().any(|step| step.starts_with(&search)),
                "open tallies of a {label} by {key:?}: {plan:#?}"
            );
        }
    }
    let queries: Vec<_> = sum_reads.iter().map(|(_, _, sql)| sql.clone()).collect();
    let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
    for ((case, narrowed, _), plan) in sum_reads.iter().zip(&plans) {
        if !narrowed {
            continue;
        }
        let reads = table_reads(plan, "entry_rollups");
        assert!(reads.scans.is_empty(), "{case}: reads every row: {plan:#?}");
        // An inspection's rollups are a few rows; a round's and whole
        // months' are many: those come from an index with their sums.
        if !case.starts_with("inspection") {
            assert!(
                plan.iter()
                    .any(|step| step.contains("USING COVERING INDEX")),
                "{case}: rollups not from a covering index: {plan:#?}"
            );
        }
    }
}
