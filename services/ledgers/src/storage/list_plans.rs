//! Every documented filter of ListEntries is served by an index: the query
//! the storage layer builds, checked against SQLite's plan (beside the
//! queries it checks, out of the gRPC handlers).

use crate::grpc::filters::{ENTRIES, list_filter};

/// Every documented filter of ListEntries, in either order, as a viewer
/// of the whole tree and as a city's office, reads the entries through
/// an index (SQLite's plan has no full `SCAN entries`), and in the
/// list's order unless its matches are few or no index orders them, so
/// that a page costs the same at any size of the ledger.
#[tokio::test]
async fn each_entry_filter_is_served_by_an_index() {
    use crate::storage::books::{EntryTerm, ListQuery, list_select};
    use fiveledger_platform::auth::{Caller, Role};
    use fiveledger_platform::testing::{sqlite_plans, table_reads};
    use sea_orm::{DbBackend, QueryTrait};
    // How each filter's rows are found. SEEK: an index on the filter in
    // the list's order. SORTS: an index on the filter, whose matches are
    // sorted (few: one inspection, one problem; or a subtree, or a range
    // of due dates listed by name, that no one index orders). WALK: the
    // order's own index, skipping the rows the filter refuses (a value
    // a third of the rows share, or the colour, computed for the day).
    const SEEK: (bool, bool) = (false, false);
    const SORTS: (bool, bool) = (false, true);
    const WALK: (bool, bool) = (true, false);
    let examples: &[(&str, &str, (bool, bool))] = &[
        ("state", "state = ENTRY_STATE_RECTIFYING", SEEK),
        ("colour", "colour = WARNING_COLOUR_RED", WALK),
        (
            "responsible_subtree",
            r#"responsible_subtree = "gx/nn""#,
            SORTS,
        ),
        ("target_subtree", r#"target_subtree = "gx/nn""#, SORTS),
        ("round", r#"round = "rounds/r1""#, SEEK),
        (
            "inspection",
            r#"inspection = "rounds/r1/inspections/i1""#,
            SORTS,
        ),
        ("problem", r#"problem = "problems/p1""#, SORTS),
        ("category", r#"category = "party-leadership""#, SEEK),
        ("severity", "severity = SEVERITY_SEVERE", WALK),
        ("due_date", r#"due_date < "2026-03-01""#, (true, true)),
    ];
    let fields: Vec<&str> = examples.iter().map(|(field, _, _)| *field).collect();
    assert_eq!(fields, ENTRIES.names(), "an example for each field");
    let viewer = Caller::new("viewer", "", &[Role::Viewer]);
    let office = Caller::new("office", "gx/nn", &[Role::InspectionOffice]);
    let mut cases = Vec::new();
    for (who, caller) in [("viewer", &viewer), ("office", &office)] {
        for by_due_date in [false, true] {
            for (field, filter, served) in examples {
                let q = ListQuery {
                    terms: list_filter(filter).expect("filter"),
                    by_due_date,
                    limit: 51,
                    ..Default::default()
                };
                let sql = list_select(caller, &q).build(DbBackend::Sqlite);
                let case = format!("{who} by_due_date={by_due_date} {field}");
                cases.push((case, *served, sql));
                // A broad subtree (one the probe counted BROAD rows in) is
                // walked in the list's order, never sorted.
                let mut broad = q.clone();
                let mut subtrees = 0;
                for term in &mut broad.terms {
                    if let EntryTerm::TargetSubtree(s) | EntryTerm::ResponsibleSubtree(s) = term {
                        s.broad = true;
                        subtrees += 1;
                    }
                }
                if subtrees > 0 {
                    let sql = list_select(caller, &broad).build(DbBackend::Sqlite);
                    let case = format!("{who} by_due_date={by_due_date} broad {field}");
                    cases.push((case, WALK, sql));
                }
            }
        }
    }
    let queries: Vec<_> = cases.iter().map(|(_, _, sql)| sql.clone()).collect();
    let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
    for ((case, (walks, sorts), _), plan) in cases.iter().zip(&plans) {
        let reads = table_reads(plan, "entries");
        assert!(reads.scans.is_empty(), "{case}: reads every row: {plan:#?}");
        assert!(*walks || reads.walks.is_empty(), "{case}: walks: {plan:#?}");
        assert!(*sorts || reads.sorts.is_empty(), "{case}: sorts: {plan:#?}");
    }
}
