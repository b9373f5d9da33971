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
    use crate::storage::problems::{Order, list_select};
    use fiveledger_platform::testing::{sqlite_plans, sqlite_plans_at_scale, table_reads};
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
    let mut cases = Vec::new();
    for (who, caller) in &callers() {
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
    // As planned over an empty table and over the bench's loaded one.
    let loaded: Vec<_> = LOADED.iter().map(|(i, s)| ("problems", *i, *s)).collect();
    for (at, plans) in [
        (
            "empty",
            sqlite_plans::<crate::storage::Migrator>(&queries).await,
        ),
        (
            "loaded",
            sqlite_plans_at_scale::<crate::storage::Migrator>(&loaded, &queries).await,
        ),
    ] {
        for ((case, (walks, sorts), _), plan) in cases.iter().zip(&plans) {
            let reads = table_reads(plan, "problems");
            assert!(
                reads.scans.is_empty(),
                "{at} {case}: reads every row: {plan:#?}"
            );
            assert!(
                *walks || reads.walks.is_empty(),
                "{at} {case}: walks: {plan:#?}"
            );
            assert!(
                *sorts || reads.sorts.is_empty(),
                "{at} {case}: sorts: {plan:#?}"
            );
        }
    }
}

/// The two callers every case is planned for: a viewer of the whole tree
/// and a city's office.
fn callers() -> [(&'static str, crate::storage::problems::ListQuery); 2] {
    use crate::storage::problems::ListQuery;
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
    [("viewer", viewer), ("office", office)]
}

/// What `ANALYZE` wrote (index, stat) over the bench's 200,000 problems
/// (`bench --list-rows 200000`): a city's commission or department holds
/// a tenth or a fiftieth of them, a unit a two-thousandth. Planned with
/// these, the three responsibility lists at once walked the whole table
/// for a unit.
const LOADED: &[(&str, &str)] = &[
    ("problems_list_state_create_time", "200000 66667 1 1"),
    ("problems_list_state", "200000 66667 1"),
    (
        "problems_functional_department_create_time",
        "200000 4000 1 1",
    ),
    ("problems_supervising_body_create_time", "200000 20000 1 1"),
    ("problems_category_create_time", "200000 25000 1 1"),
    ("problems_round_create_time", "200000 16667 1 1"),
    ("problems_leader_in_charge", "200000 100 1"),
    ("problems_frozen_create_time", "200000 100000 1 1"),
    ("problems_frozen", "200000 100000 1"),
    ("problems_functional_department_path", "200000 4000"),
    ("problems_supervising_body_path", "200000 20000"),
    ("problems_main_unit_path", "200000 100"),
    ("problems_functional_department", "200000 4000 1"),
    ("problems_supervising_body", "200000 20000 1"),
    ("problems_main_unit", "200000 100 1"),
    ("problems_create_time_scope", "200000 1 1 1 1 1"),
    ("problems_category", "200000 25000 1"),
    ("problems_target_path", "200000 100 1"),
    ("problems_round", "200000 16667 1"),
    ("problems_inspection", "200000 9 1"),
    ("sqlite_autoindex_problems_1", "200000 1"),
];

/// A broad subtree walked in creation order checks each problem on the
/// index it walks: every column its WHERE reads, for a viewer of the whole
/// tree and for a city's office, is one of that index's, so SQLite reads a
/// problem's row only once it is listed (its deferred seek), not for each
/// problem it skips.
#[tokio::test]
async fn a_broad_subtree_walked_by_creation_time_is_checked_on_the_index() {
    use crate::storage::migrations::m20261204_000007_create_time_scope::{COLUMNS, INDEX};
    use crate::storage::problems::{ListQuery, Order, list_select};
    use fiveledger_platform::subtree::Subtree;
    use fiveledger_platform::testing::sqlite_plans_at_scale;
    use sea_orm::{DbBackend, QueryTrait};
    let queries: Vec<_> = callers()
        .into_iter()
        .map(|(_, caller)| {
            let q = ListQuery {
                order: Order::CreateTime,
                limit: 51,
                target_subtree: Some(Subtree {
                    path: "gx/nn/xx".into(),
                    broad: true,
                    backend: DbBackend::Sqlite,
                }),
                ..caller
            };
            list_select(&q, DbBackend::Sqlite).build(DbBackend::Sqlite)
        })
        .collect();
    let loaded: Vec<_> = LOADED.iter().map(|(i, s)| ("problems", *i, *s)).collect();
    let plans = sqlite_plans_at_scale::<crate::storage::Migrator>(&loaded, &queries).await;
    for (query, plan) in queries.iter().zip(plans) {
        let sql = &query.sql;
        assert_eq!(
            plan,
            vec![format!("SCAN problems USING INDEX {INDEX}")],
            "{sql}"
        );
        // The quoted names between WHERE and ORDER BY, but the table's.
        let filter = &sql
            [sql.find(" WHERE ").expect("a WHERE")..sql.find(" ORDER BY ").expect("an ORDER BY")];
        let read: Vec<&str> = filter
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|name| *name != "problems")
            .collect();
        assert!(read.contains(&"list_handed_over"), "{filter}");
        for column in read {
            assert!(
                COLUMNS.contains(&column),
                "{column} is not on {INDEX}: {filter}"
            );
        }
    }
}

/// A broad subtree's pages are the pages its index gives, in either order,
/// either direction, for a viewer of the whole tree and for a city's
/// office, on the database the tests run on. On PostgreSQL a broad page's
/// ids are read by creation time from `problems_create_time_scope` alone
/// (an index-only scan: every column the walk checks is on it), and only
/// the listed problems' rows are read.
#[tokio::test]
async fn a_broad_subtree_gives_the_pages_its_index_gives() {
    use crate::storage::problem_lists;
    use crate::storage::problems::{self, Cursor, ListQuery, Order, list_select};
    use crate::storage::test_rows::{migrated_db, problem};
    use fiveledger_platform::subtree::Subtree;
    use fiveledger_proto::rounds::Inspection;
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

    let (_env, db) = migrated_db().await;
    let backend = db.backend();

    // Forty units: ten in the subtree gx/nn/xa, ten elsewhere in the
    // office's city, twenty in another city. Every other list is handed
    // over; the city runs a third of the rounds, the region the rest.
    // Creation times are shuffled against the ids, so the orders differ.
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    let txn = db.begin().await.expect("begin");
    for unit in 0..40u32 {
        let path = match unit {
            0..10 => format!("gx/nn/xa/u{unit}"),
            10..20 => format!("gx/nn/xb/u{unit}"),
            _ => format!("gx/bs/u{unit}"),
        };
        let of = Inspection {
            name: format!("rounds/r1/inspections/i{unit}"),
            target: format!("organisations/u{unit}"),
            target_path: path.clone(),
            round_organisation_path: if unit % 3 == 0 { "gx/nn" } else { "gx" }.into(),
            ..Default::default()
        };
        if unit % 2 == 0 {
            problem_lists::hand_over(&txn, &of, now.date_naive(), now)
                .await
                .expect("hand over");
        } else {
            problem_lists::lock(&txn, &of, now).await.expect("lock");
        }
        for n in 0..8u32 {
            let i = unit * 8 + n;
            let create_time = now - chrono::Duration::seconds(i64::from(i * 7919 % 320 / 2));
            rows.push(problems::Model {
                title: format!("problem {i}"),
                main_unit: of.target.clone(),
                main_unit_path: path.clone(),
                create_time,
                update_time: create_time,
                ..problem(&format!("p{i:04}"), &of)
            });
        }
    }
    problems::insert_all(&txn, &rows).await.expect("problems");
    db.commit(txn).await.expect("commit");
    if backend == DbBackend::Postgres {
        // The visibility map, as autovacuum leaves it, and statistics.
        db.writer()
            .execute_unprepared("VACUUM ANALYZE problems")
            .await
            .expect("vacuum");
    }

    // Every page of a walk, five problems a page.
    let walk = |q: ListQuery| {
        let db = db.clone();
        async move {
            let mut q = ListQuery { limit: 5, ..q };
            let mut ids = Vec::new();
            loop {
                let page = list_select(&q, backend)
                    .all(db.reader())
                    .await
                    .expect("page");
                ids.extend(page.iter().map(|p| p.id.clone()));
                let Some(last) = page.last().filter(|_| page.len() == 5) else {
                    return ids;
                };
                q.after = Some(match q.order {
                    Order::Id => Cursor::Id(last.id.clone()),
                    Order::CreateTime => Cursor::CreateTime(last.create_time, last.id.clone()),
                });
            }
        }
    };
    for (who, caller) in callers() {
        // The callers' city is gx/nn, as the units' paths above.
        for order in [Order::Id, Order::CreateTime] {
            for desc in [false, true] {
                let narrow = ListQuery {
                    order,
                    desc,
                    target_subtree: Some(Subtree::new("gx/nn/xa".into())),
                    ..caller.clone()
                };
                let mut broad = narrow.clone();
                broad.target_subtree = Some(Subtree {
                    path: "gx/nn/xa".into(),
                    broad: true,
                    backend,
                });
                let (expected, got) = (walk(narrow).await, walk(broad.clone()).await);
                assert!(expected.len() >= 40, "{who} {order:?}: {expected:?}");
                assert_eq!(got, expected, "{who} {order:?} desc {desc}");

                if backend != DbBackend::Postgres || order != Order::CreateTime {
                    continue;
                }
                // The planner's own choice over a few hundred rows is to
                // read the table; with that priced out, the walk for the
                // ids reads the index alone, and the page's rows are read
                // by id.
                let query = list_select(&ListQuery { limit: 51, ..broad }, backend).build(backend);
                let txn = db.begin().await.expect("begin");
                for off in ["enable_seqscan", "enable_bitmapscan"] {
                    txn.execute_unprepared(&format!("SET LOCAL {off} = off"))
                        .await
                        .expect("set");
                }
                let plan: Vec<String> = txn
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        format!("EXPLAIN {}", query.sql),
                        query.values.clone().map(|v| v.0).unwrap_or_default(),
                    ))
                    .await
                    .expect("explain")
                    .iter()
                    .map(|r| r.try_get_by_index(0).expect("plan line"))
                    .collect();
                txn.rollback().await.expect("rollback");
                let plan = plan.join("\n");
                assert!(
                    plan.contains("Index Only Scan using problems_create_time_scope")
                        || plan
                            .contains("Index Only Scan Backward using problems_create_time_scope"),
                    "{who} desc {desc}: {plan}"
                );
                assert!(
                    plan.contains("Index Scan using problems_pkey"),
                    "{who} desc {desc}: the listed rows by id: {plan}"
                );
            }
        }
    }
}
