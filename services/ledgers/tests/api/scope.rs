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
