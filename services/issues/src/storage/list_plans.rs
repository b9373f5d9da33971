//! Every documented filter of ListProblems is served by an index: the query
//! the storage layer builds, checked against SQLite's plan (beside the
//! queries it checks, out of the gRPC handlers).

use crate::grpc::filters::PROBLEMS;

/// Every documented filter of ListProblems, in either order, as a
/// viewer of the whole tree and as a city's office, reads the problems
/// through an index (SQLite's plan has no full `SCAN problems`), and
/// in the list's order unless its matches are few or no index orders
/// them, so that a page costs the same at any size of the table.
#[tokio::test]
async fn each_problem_filter_is_served_by_an_index() {
    use crate::storage::problems::{ListQuery, Order, list_select};
    use fiveledger_platform::testing::{sqlite_plans, table_reads};
    use sea_orm::{DbBackend, QueryTrait};
    // How each filter's rows are found. SEEK: an index on the filter in
    // the list's order. SORTS: an index on the filter, whose matches are
    // sorted (few: one inspection, one leader; or a subtree, or three
    // lists at once, that no one index orders). WALK:
    // the order's own index, skipping the rows the filter refuses (a
    // value a third of the rows share).
    const SEEK: (bool, bool) = (false, false);
    const SORTS: (bool, bool) = (false, true);
    const WALK: (bool, bool) = (true, false);
    let examples: &[(&str, &str, (bool, bool))] = &[
        (
            "inspection",
            r#"inspection = "rounds/r1/inspections/i1""#,
            SORTS,
        ),
        ("round", r#"round = "rounds/r1""#, SEEK),
        ("frozen", "frozen = false", SEEK),
        ("category", r#"category = "party-leadership""#, SEEK),
        ("severity", "severity = SEVERITY_SEVERE", WALK),
        ("target_subtree", r#"target_subtree = "gx/nn""#, SORTS),
        ("responsible", r#"responsible = "organisations/nn""#, SORTS),
        (
            "responsibility",
            r#"responsible = "organisations/nn-jw" AND responsibility = 3"#,
            SEEK,
        ),
        ("leader_in_charge", r#"leader_in_charge = "张三""#, SORTS),
        (
            "list_state",
            "list_state = PROBLEM_LIST_STATE_REPORTED",
            SEEK,
        ),
    ];
    let fields: Vec<&str> = examples.iter().map(|(field, _, _)| *field).collect();
    assert_eq!(fields, PROBLEMS.names(), "an example for each field");
    let viewer = ListQuery {
        by_target: true,
        ..Default::default()
    };
    let office = ListQuery {
        scope: "gx/nn".into(),
        own: "gx/nn".into(),
        by_target: true,
        works_rounds: true,
        ..Default::default()
    };
    let mut cases = Vec::new();
    for (who, caller) in [("viewer", &viewer), ("office", &office)] {
        for order in [Order::Id, Order::CreateTime] {
            for (field, filter, served) in examples {
                let mut q = caller.clone();
                q.order = order;
                q.limit = 51;
                PROBLEMS.apply(filter, &mut q).expect("filter");
                let sql = list_select(&q, DbBackend::Sqlite).build(DbBackend::Sqlite);
                cases.push((format!("{who} {order:?} {field}"), *served, sql));
                // A broad subtree (one the probe counted BROAD rows in) is
                // walked in the list's order, never sorted.
                if let Some(s) = &mut q.target_subtree {
                    s.broad = true;
                    let sql = list_select(&q, DbBackend::Sqlite).build(DbBackend::Sqlite);
                    cases.push((format!("{who} {order:?} broad {field}"), WALK, sql));
                }
            }
        }
    }
    let queries: Vec<_> = cases.iter().map(|(_, _, sql)| sql.clone()).collect();
    let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
    for ((case, (walks, sorts), _), plan) in cases.iter().zip(&plans) {
        let reads = table_reads(plan, "problems");
        assert!(reads.scans.is_empty(), "{case}: reads every row: {plan:#?}");
        assert!(*walks || reads.walks.is_empty(), "{case}: walks: {plan:#?}");
        assert!(*sorts || reads.sorts.is_empty(), "{case}: sorts: {plan:#?}");
    }
}
