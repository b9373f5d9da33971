//! Exactly-once opening and hand-over, scope and lists, and reconciliation
//! naming what is missing.

use crate::common;

use std::time::Duration;

use common::*;
use fiveledger_platform::testing::authed;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::Inspection;
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

    // Until feedback the entries belong to the office (and groups) of the
    // level running the round: units and supervising bodies see nothing.
    assert_eq!(app.list(&office(), "").await.len(), 6);
    for token in [unit(), other_unit(), commission()] {
        assert_eq!(app.list(&token, "").await.len(), 0, "before hand-over");
    }
    assert_eq!(
        app.list(&office(), "due_date < \"2030-01-01\"").await.len(),
        0,
        "nothing is due before hand-over"
    );
    let draft = app.list(&office(), "").await[0].name.clone();
    let err = app
        .ledger()
        .get_entry(authed(&unit(), GetEntryRequest { name: draft }))
        .await
        .expect_err("not yet handed over");
    assert_eq!(err.code(), Code::NotFound);
    for (name, county) in [
        (INSPECTION, "xingning"),
        ("rounds/r9/inspections/qingxiu", "qingxiu"),
    ] {
        app.upstream
            .feedback(&Inspection {
                name: name.into(),
                target_path: format!("guangxi/nanning/{county}"),
                feedback_date: Some(date(2026, 6, 1)),
                ..Default::default()
            })
            .await;
    }
    app.wait_for("state = ENTRY_STATE_HANDED_OVER", 6).await;

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

/// An entry the issues service no longer holds as a frozen problem (its
/// problem went missing upstream) is named ENTRY_WITHOUT_PROBLEM.
#[tokio::test]
async fn reconcile_names_an_entry_without_a_problem() {
    let app = spawn().await;
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;
    let entries = app.wait_for("", 2).await;
    let reconcile = || async {
        app.ledger()
            .reconcile(authed(
                &office(),
                ReconcileRequest {
                    inspection: INSPECTION.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("reconcile")
            .into_inner()
    };
    assert!(reconcile().await.balanced);
    // The issues service loses p2.
    app.upstream
        .data
        .lock()
        .expect("lock")
        .problems
        .retain(|p| p.name != "problems/p2");
    let result = reconcile().await;
    assert!(!result.balanced);
    assert_eq!(result.problems, 1);
    let p2 = entries
        .iter()
        .find(|e| e.problem == "problems/p2")
        .expect("p2's entry");
    let orphans: Vec<_> = result
        .discrepancies
        .iter()
        .filter(|d| d.kind == "ENTRY_WITHOUT_PROBLEM")
        .map(|d| d.subject.as_str())
        .collect();
    assert_eq!(orphans, [p2.name.as_str()], "{result:?}");
    assert!(
        result
            .discrepancies
            .iter()
            .all(|d| d.kind != "PROBLEM_WITHOUT_ENTRY"),
        "{result:?}"
    );
}

/// Every page of `order_by`, `page_size` at a time: the names in order.
async fn pages(app: &TestApp, filter: &str, order_by: &str, page_size: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .ledger()
            .list_entries(authed(
                &office(),
                ListEntriesRequest {
                    page_size,
                    page_token: token.clone(),
                    filter: filter.into(),
                    order_by: order_by.into(),
                },
            ))
            .await
            .expect("page")
            .into_inner();
        assert!(page.entries.len() <= page_size as usize);
        out.extend(page.entries.into_iter().map(|e| e.name));
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// `due_date` filters narrow by date (each bound both ways), and lists
/// ordered by due date page by key across ties, ascending and descending.
#[tokio::test]
async fn lists_filter_and_page_by_due_date() {
    let app = spawn().await;
    seed_rounds(&app);
    app.upstream
        .freeze(
            INSPECTION,
            (1..=5)
                .map(|i| problem(&format!("d{i}"), "xingning"))
                .collect(),
        )
        .await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let mut entries = app.wait_for("state = ENTRY_STATE_HANDED_OVER", 5).await;
    entries.sort_by(|a, b| a.problem.cmp(&b.problem));
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    // d1, d2: due 2026-07-31 (hand-over); d3: 08-01; d4: 09-30; d5: 07-20.
    planned(&app, &names[2], (2026, 8, 1)).await;
    planned(&app, &names[3], (2026, 9, 30)).await;
    planned(&app, &names[4], (2026, 7, 20)).await;
    let due: Vec<(String, String)> = {
        let mut v: Vec<(String, String)> = [
            "2026-07-31",
            "2026-07-31",
            "2026-08-01",
            "2026-09-30",
            "2026-07-20",
        ]
        .iter()
        .zip(&names)
        .map(|(d, n)| (d.to_string(), n.clone()))
        .collect();
        v.sort();
        v
    };

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let pick = |idx: &[usize]| sorted(idx.iter().map(|i| names[*i].clone()).collect());
    for (filter, expected) in [
        ("due_date < \"2026-08-01\"", pick(&[0, 1, 4])),
        ("due_date <= \"2026-08-01\"", pick(&[0, 1, 2, 4])),
        ("due_date > \"2026-08-01\"", pick(&[3])),
        ("due_date >= \"2026-07-31\"", pick(&[0, 1, 2, 3])),
        ("due_date = \"2026-07-31\"", pick(&[0, 1])),
        (
            "due_date >= \"2026-07-21\" AND due_date < \"2026-09-01\"",
            pick(&[0, 1, 2]),
        ),
    ] {
        assert_eq!(
            sorted(
                app.list(&office(), filter)
                    .await
                    .into_iter()
                    .map(|e| e.name)
                    .collect()
            ),
            expected,
            "{filter}"
        );
    }

    // Ordered by due date, one or two a page (pages split the tie of d1/d2).
    let ascending: Vec<String> = due.iter().map(|(_, n)| n.clone()).collect();
    let mut descending = ascending.clone();
    descending.reverse();
    for size in [1, 2] {
        assert_eq!(pages(&app, "", "due_date", size).await, ascending, "{size}");
        assert_eq!(
            pages(&app, "", "due_date desc", size).await,
            descending,
            "{size}"
        );
    }
    // Filtered and ordered at once.
    assert_eq!(
        pages(&app, "due_date >= \"2026-07-31\"", "due_date", 1).await,
        ascending[1..].to_vec()
    );
}

/// A body that received an entry keeps seeing it after the entry is
/// transferred on (transfer → result → transfer again); only the latest
/// receiver acts on the open transfer, and a body that never received it
/// sees nothing.
#[tokio::test]
async fn an_earlier_receiving_body_keeps_sight_of_the_entry() {
    let app = spawn().await;
    seed_rounds(&app);
    app.upstream
        .data
        .lock()
        .expect("lock")
        .organisations
        .insert(
            "organisations/nanning-sjj".into(),
            fiveledger_proto::rounds::Organisation {
                name: "organisations/nanning-sjj".into(),
                path: "guangxi/nanning/nanning-sjj".into(),
                ..Default::default()
            },
        );
    let audit = fiveledger_platform::testing::token(
        "sjj-chen",
        "guangxi/nanning/nanning-sjj",
        &[fiveledger_platform::auth::Role::Supervisor],
    );
    let stranger = fiveledger_platform::testing::token(
        "tjj-zhao",
        "guangxi/nanning/nanning-tjj",
        &[fiveledger_platform::auth::Role::Supervisor],
    );
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let entries = app.wait_for("state = ENTRY_STATE_HANDED_OVER", 2).await;
    let name = entries[0].name.clone();
    let mut ledger = app.ledger();
    let transfer = |to: &'static str| {
        let (mut ledger, name) = (app.ledger(), name.clone());
        async move {
            ledger
                .transfer(authed(
                    &office(),
                    TransferRequest {
                        name,
                        receiving_body: to.into(),
                        matter: "移交".into(),
                        due_date: Some(date(2026, 10, 31)),
                        ..Default::default()
                    },
                ))
                .await
                .expect("transfer")
                .into_inner()
        }
    };
    let sees = |token: String| {
        let name = name.clone();
        let app = &app;
        async move {
            let listed = app.list(&token, "").await;
            let got = app
                .ledger()
                .get_entry(authed(&token, GetEntryRequest { name: name.clone() }))
                .await;
            assert_eq!(
                listed.iter().any(|e| e.name == name),
                got.is_ok(),
                "list and get agree"
            );
            // Only the transferred entry, never its sibling.
            assert!(listed.len() <= 1, "{listed:?}");
            got.is_ok()
        }
    };
    assert!(!sees(org_department()).await);

    transfer("organisations/nanning-zzb").await;
    assert!(sees(org_department()).await);
    answer_transfer(&mut ledger, &org_department(), name.clone(), "谈话提醒").await;
    let again = transfer("organisations/nanning-sjj").await;
    assert_eq!(again.transfers.len(), 2);

    assert!(
        sees(org_department()).await,
        "the first receiver still sees it"
    );
    assert!(sees(audit.clone()).await, "the second receiver sees it");
    assert!(
        !sees(stranger).await,
        "a body that never received it does not"
    );
    // Only the open transfer's receiver acts on it.
    let err = ledger
        .acknowledge_transfer(authed(
            &org_department(),
            AcknowledgeTransferRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not the receiver of t2");
    assert_eq!(err.code(), Code::PermissionDenied);
    let acked = ledger
        .acknowledge_transfer(authed(
            &audit,
            AcknowledgeTransferRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("ack t2")
        .into_inner();
    assert_eq!(acked.transfers[1].acknowledged_by, "sjj-chen");
    // The journal (and the receivers it implies) still verifies.
    let verified = ledger
        .verify_journal(authed(&admin(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");

    // The migration's backfill derives the receivers from the entries.
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    db.writer()
        .execute_unprepared("DELETE FROM entry_receivers")
        .await
        .expect("forget the receivers");
    assert!(app.list(&org_department(), "").await.is_empty());
    fiveledger_ledgers::storage::books::fill_receivers(db.writer())
        .await
        .expect("fill");
    assert_eq!(app.list(&org_department(), "").await.len(), 1);
    assert_eq!(app.list(&audit, "").await.len(), 1);
}
