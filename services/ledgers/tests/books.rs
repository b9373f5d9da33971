//! Exactly-once opening and hand-over, scope and lists, and reconciliation
//! naming what is missing.

mod common;

use std::time::Duration;

use common::*;
use fiveledger_platform::testing::authed;
use fiveledger_proto::ledgers::*;
use tonic::Code;

#[tokio::test]
async fn the_same_event_twice_or_two_replicas_open_each_entry_once() {
    let app = spawn().await;
    seed_rounds(&app);
    // A second replica on the same database consumes the same events.
    let (replica, _) = start_ledgers(&app.env, &app.upstream.url).await;
    let problems = vec![
        problem("p1", "xingning"),
        problem("p2", "xingning"),
        problem("p3", "xingning"),
    ];
    app.upstream.freeze(INSPECTION, problems.clone()).await;
    // Delivered again (a re-sent list), with one problem more.
    let mut more = problems.clone();
    more.push(problem("p4", "xingning"));
    app.upstream.freeze(INSPECTION, more).await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.upstream.feedback(&inspection).await;

    let filter = format!("inspection = \"{INSPECTION}\" AND state = ENTRY_STATE_HANDED_OVER");
    app.wait_for(&filter, 4).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let entries = app
        .list(&admin(), &format!("inspection = \"{INSPECTION}\""))
        .await;
    assert_eq!(entries.len(), 4, "{entries:?}");
    for e in &entries {
        let full = app.get(&e.name).await;
        let kinds: Vec<_> = full.postings.iter().map(|p| p.kind()).collect();
        assert_eq!(
            kinds,
            [PostingKind::Open, PostingKind::HandOver],
            "{}",
            e.name
        );
    }
    replica.stop().await.expect("replica stops");
}

#[tokio::test]
async fn feedback_before_the_list_hands_entries_over_when_they_open() {
    let app = spawn().await;
    seed_rounds(&app);
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let entries = app.wait_for("state = ENTRY_STATE_HANDED_OVER", 1).await;
    assert_eq!(entries[0].due_date, Some(date(2026, 7, 31)));
}

#[tokio::test]
async fn each_caller_sees_its_own_entries_and_lists_page_by_key() {
    let app = spawn().await;
    app.upstream
        .freeze(
            INSPECTION,
            (1..=5)
                .map(|i| problem(&format!("x{i}"), "xingning"))
                .collect(),
        )
        .await;
    app.upstream
        .freeze(
            "rounds/r9/inspections/qingxiu",
            vec![problem("q1", "qingxiu")],
        )
        .await;
    app.wait_for("", 6).await;

    assert_eq!(app.list(&unit(), "").await.len(), 5);
    assert_eq!(app.list(&other_unit(), "").await.len(), 1);
    assert_eq!(app.list(&office(), "").await.len(), 6);
    assert_eq!(app.list(&commission(), "").await.len(), 6);
    assert_eq!(app.list(&org_department(), "").await.len(), 0);
    assert_eq!(
        app.list(
            &office(),
            "responsible_subtree = \"guangxi/nanning/qingxiu\""
        )
        .await
        .len(),
        1
    );
    assert_eq!(
        app.list(
            &office(),
            "category = \"party-leadership\" AND severity = SEVERITY_MAJOR"
        )
        .await
        .len(),
        6
    );
    assert_eq!(
        app.list(&office(), "due_date < \"2030-01-01\"").await.len(),
        0,
        "nothing is due before hand-over"
    );

    // Another unit's entry is NOT_FOUND, never shown.
    let theirs = &app.list(&other_unit(), "").await[0].name;
    let err = app
        .ledger()
        .get_entry(authed(
            &unit(),
            GetEntryRequest {
                name: theirs.clone(),
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);

    // Keyset pages of two, stable and complete.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .ledger()
            .list_entries(authed(
                &unit(),
                ListEntriesRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("page")
            .into_inner();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.into_iter().map(|e| e.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 5);
    // A token is bound to its query.
    let err = app
        .ledger()
        .list_entries(authed(
            &unit(),
            ListEntriesRequest {
                page_size: 2,
                page_token: token_of(&app).await,
                filter: "state = ENTRY_STATE_OPEN".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("mismatched token");
    assert_eq!(reason(&err), "PAGE_TOKEN_MISMATCH");
    let err = app
        .ledger()
        .list_entries(authed(
            &unit(),
            ListEntriesRequest {
                filter: "colour = RED".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("unknown field");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "filter");
}

async fn token_of(app: &TestApp) -> String {
    app.ledger()
        .list_entries(authed(
            &unit(),
            ListEntriesRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("page")
        .into_inner()
        .next_page_token
}

#[tokio::test]
async fn reconcile_names_a_problem_without_an_entry() {
    let app = spawn().await;
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;
    app.wait_for("", 2).await;
    // The issues service holds a third frozen problem the ledger never got.
    app.upstream
        .data
        .lock()
        .expect("lock")
        .problems
        .push(fiveledger_proto::issues::Problem {
            frozen: true,
            ..problem("p3", "xingning")
        });
    for request in [
        ReconcileRequest {
            inspection: INSPECTION.into(),
            ..Default::default()
        },
        ReconcileRequest {
            round: "rounds/r9".into(),
            ..Default::default()
        },
        ReconcileRequest {
            organisation_path: "guangxi/nanning".into(),
            ..Default::default()
        },
    ] {
        let result = app
            .ledger()
            .reconcile(authed(&office(), request))
            .await
            .expect("reconcile")
            .into_inner();
        assert!(!result.balanced);
        assert_eq!(result.problems, 3);
        assert_eq!(result.balance.expect("balance").open, 2);
        let missing: Vec<_> = result
            .discrepancies
            .iter()
            .filter(|d| d.kind == "PROBLEM_WITHOUT_ENTRY")
            .map(|d| d.subject.as_str())
            .collect();
        assert_eq!(missing, ["problems/p3"]);
    }
    let err = app
        .ledger()
        .reconcile(authed(&office(), ReconcileRequest::default()))
        .await
        .expect_err("no scope");
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = app
        .ledger()
        .reconcile(authed(
            &unit(),
            ReconcileRequest {
                inspection: INSPECTION.into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a unit does not reconcile");
    assert_eq!(err.code(), Code::PermissionDenied);
}
