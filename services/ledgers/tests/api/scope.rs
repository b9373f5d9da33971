//! Trust boundaries of the ledger: acting as the office takes the office of
//! the level running the round, transfers stay within its reach, and an
//! entry belongs to those who work its round until it is handed over.

use crate::common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::Organisation;
use tonic::Code;

/// Xingning's own inspection office: it sees its county's entries of the
/// city's round once handed over, but does not run that round.
fn county_office() -> String {
    testing::token(
        "xn-office",
        "guangxi/nanning/xingning",
        &[Role::InspectionOffice],
    )
}

async fn handed_over_entry(app: &TestApp) -> String {
    seed_rounds(app);
    {
        let mut data = app.upstream.data.lock().expect("lock");
        for (id, path) in [
            ("qingxiu-jw", "guangxi/nanning/qingxiu/qingxiu-jw"),
            ("xingning-jw", "guangxi/nanning/xingning/xingning-jw"),
        ] {
            data.organisations.insert(
                format!("organisations/{id}"),
                Organisation {
                    name: format!("organisations/{id}"),
                    path: path.into(),
                    ..Default::default()
                },
            );
        }
    }
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let name = app.wait_for("", 1).await[0].name.clone();
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.wait_for("state = ENTRY_STATE_HANDED_OVER", 1).await;
    name
}

/// Asserts the call was refused with `code` and changed nothing.
async fn refused<T: std::fmt::Debug>(
    app: &TestApp,
    name: &str,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    code: Code,
) {
    let before = app.get(name).await;
    let status = call.await.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(app.get(name).await, before, "nothing written");
}

#[tokio::test]
async fn only_the_office_running_the_round_acts_as_the_office() {
    let app = spawn().await;
    let name = handed_over_entry(&app).await;
    let mut ledger = app.ledger();
    // The county office reads its county's entry...
    ledger
        .get_entry(authed(
            &county_office(),
            GetEntryRequest { name: name.clone() },
        ))
        .await
        .expect("a county office reads its county's entries");
    // ...but acts on none of the city round's steps.
    refused(
        &app,
        &name,
        ledger.transfer(authed(
            &county_office(),
            TransferRequest {
                name: name.clone(),
                receiving_body: "organisations/xingning-jw".into(),
                matter: "移交".into(),
                due_date: Some(date(2026, 10, 31)),
                ..Default::default()
            },
        )),
        Code::PermissionDenied,
    )
    .await;
    refused(
        &app,
        &name,
        ledger.post_supervision(authed(
            &county_office(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "督办".into(),
                ..Default::default()
            },
        )),
        Code::PermissionDenied,
    )
    .await;
    // The city's office does.
    ledger
        .post_supervision(authed(
            &office(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "督办".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("the running office");
}

#[tokio::test]
async fn a_transfer_goes_only_where_the_round_reaches_and_elsewhere_looks_unknown() {
    let app = spawn().await;
    let name = handed_over_entry(&app).await;
    let mut ledger = app.ledger();
    let transfer = |body: &str| {
        authed(
            &office(),
            TransferRequest {
                name: name.clone(),
                receiving_body: body.into(),
                matter: "移交".into(),
                due_date: Some(date(2026, 10, 31)),
                ..Default::default()
            },
        )
    };
    // A sibling county's commission answers exactly as an unknown body.
    let unknown = ledger
        .transfer(transfer("organisations/no-such-body"))
        .await
        .expect_err("unknown");
    let sibling = ledger
        .transfer(transfer("organisations/qingxiu-jw"))
        .await
        .expect_err("a sibling county's body");
    assert_eq!(sibling.code(), Code::NotFound);
    assert_eq!(
        (sibling.code(), reason(&sibling)),
        (unknown.code(), reason(&unknown))
    );
    assert_eq!(
        sibling.message().replace("qingxiu-jw", "X"),
        unknown.message().replace("no-such-body", "X")
    );
    // The target's own commission and the running level's bodies are in reach.
    let moved = ledger
        .transfer(transfer("organisations/xingning-jw"))
        .await
        .expect("the target's own body")
        .into_inner();
    assert_eq!(moved.state(), EntryState::Transferred);
}

#[tokio::test]
async fn an_entry_is_hidden_from_all_but_its_round_until_hand_over() {
    let app = spawn().await;
    seed_rounds(&app);
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let name = app.wait_for("", 1).await[0].name.clone();
    let viewer = testing::token("v", "guangxi/nanning", &[Role::Viewer]);
    let group = testing::token("g", "guangxi/nanning", &[Role::InspectionGroup]);
    for token in [unit(), commission(), viewer.clone(), county_office()] {
        let err = app
            .ledger()
            .get_entry(authed(&token, GetEntryRequest { name: name.clone() }))
            .await
            .expect_err("not handed over");
        assert_eq!(err.code(), Code::NotFound);
        assert!(app.list(&token, "").await.is_empty());
    }
    for token in [office(), group] {
        assert_eq!(
            app.list(&token, "").await.len(),
            1,
            "those who work the round"
        );
    }
    // Nor do the figures count it for them.
    let stats = app
        .statistics()
        .get_statistics(authed(&viewer, GetStatisticsRequest::default()))
        .await
        .expect("statistics")
        .into_inner();
    let total = stats.total.and_then(|t| t.counts).unwrap_or_default();
    assert_eq!(total.found, 0, "{total:?}");
}

fn supervisor(subject: &str, org: &str) -> String {
    testing::token(subject, org, &[Role::Supervisor])
}

/// Responsibility lists (2) and (4) over gRPC: a leader in charge holds a
/// supervisor token naming the unit in their charge (or its level), the
/// functional department one naming itself; each sees and supervises what
/// it answers for from hand-over on, and nothing else.
#[tokio::test]
async fn leaders_in_charge_and_the_functional_department_see_and_supervise_their_units() {
    let app = spawn().await;
    seed_rounds(&app);
    let mut sector = problem("p1", "xingning");
    if let Some(r) = sector.responsibilities.as_mut() {
        r.functional_department = "organisations/nanning-jyj".into();
        r.functional_department_path = "guangxi/nanning/nanning-jyj".into();
    }
    let mut bureau = problem("p2", "xingning");
    if let Some(r) = bureau.responsibilities.as_mut() {
        r.main_unit = "organisations/xn-edu".into();
        r.main_unit_path = "guangxi/nanning/xingning/xn-edu".into();
    }
    app.upstream.freeze(INSPECTION, vec![sector, bureau]).await;
    let entries = app.wait_for("", 2).await;
    let name_of = |problem: &str| {
        entries
            .iter()
            .find(|e| e.problem == problem)
            .map(|e| e.name.clone())
            .expect("entry")
    };
    let (p1, p2) = (name_of("problems/p1"), name_of("problems/p2"));
    let county_leader = supervisor("xn-fuqu", "guangxi/nanning/xingning");
    let bureau_leader = supervisor("edu-fu", "guangxi/nanning/xingning/xn-edu");
    let other_leader = supervisor("qx-fuqu", "guangxi/nanning/qingxiu");
    let department = supervisor("jyj-chen", "guangxi/nanning/nanning-jyj");
    // A commission's token naming the unit makes it no leader of it.
    let commission_at_unit = testing::token(
        "jw-at-xn",
        "guangxi/nanning/xingning",
        &[Role::DisciplineCommission],
    );
    let listed = |entries: Vec<LedgerEntry>| {
        let mut names: Vec<String> = entries.into_iter().map(|e| e.name).collect();
        names.sort();
        names
    };
    // Before hand-over the entries belong to those who work the round.
    for token in [&county_leader, &department] {
        assert!(app.list(token, "").await.is_empty());
    }
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.wait_for("state = ENTRY_STATE_HANDED_OVER", 2).await;
    let mut both = vec![p1.clone(), p2.clone()];
    both.sort();
    assert_eq!(listed(app.list(&county_leader, "").await), both);
    assert_eq!(listed(app.list(&bureau_leader, "").await), vec![p2.clone()]);
    assert_eq!(listed(app.list(&department, "").await), vec![p1.clone()]);
    assert!(app.list(&other_leader, "").await.is_empty());
    assert!(app.list(&commission_at_unit, "").await.is_empty());
    let mut ledger = app.ledger();
    // Each supervises what it answers for; the posting names who.
    for (token, name, actor) in [
        (&county_leader, &p1, "xn-fuqu"),
        (&bureau_leader, &p2, "edu-fu"),
        (&department, &p1, "jyj-chen"),
    ] {
        let entry = ledger
            .post_supervision(authed(
                token,
                PostSupervisionRequest {
                    name: name.clone(),
                    remarks: "督促整改".into(),
                    request_id: format!("lead-{actor}"),
                    ..Default::default()
                },
            ))
            .await
            .expect("supervises")
            .into_inner();
        let last = app.get(&entry.name).await.postings.pop().expect("posting");
        assert_eq!(last.kind(), PostingKind::Supervision);
        assert_eq!(last.actor, actor);
    }
    // Out of their charge: exactly as an entry that does not exist.
    let unknown = ledger
        .get_entry(authed(
            &other_leader,
            GetEntryRequest {
                name: "entries/no-such-entry".into(),
            },
        ))
        .await
        .expect_err("unknown");
    for (token, name) in [
        (&other_leader, &p1),
        (&bureau_leader, &p1),
        (&department, &p2),
        (&commission_at_unit, &p1),
    ] {
        let hidden = ledger
            .get_entry(authed(token, GetEntryRequest { name: name.clone() }))
            .await
            .expect_err("out of their charge");
        assert_eq!(
            (hidden.code(), reason(&hidden)),
            (unknown.code(), reason(&unknown))
        );
        refused(
            &app,
            name,
            ledger.post_supervision(authed(
                token,
                PostSupervisionRequest {
                    name: name.clone(),
                    remarks: "督促".into(),
                    ..Default::default()
                },
            )),
            Code::NotFound,
        )
        .await;
    }
    // Sight and supervision, not the verifier's or the office's steps.
    for token in [&county_leader, &department] {
        refused(
            &app,
            &p1,
            ledger.approve_write_off(authed(
                token,
                ApproveWriteOffRequest {
                    name: p1.clone(),
                    ..Default::default()
                },
            )),
            Code::PermissionDenied,
        )
        .await;
    }
}
