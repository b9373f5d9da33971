//! Clues over gRPC: who may see them, and the order of disposal.

mod common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::*;
use tonic::Code;

fn date(day: i32) -> Option<Date> {
    Some(Date {
        year: 2026,
        month: 11,
        day,
    })
}

async fn register(app: &TestApp) -> Clue {
    app.clues()
        .create_clue(authed(
            &office(),
            CreateClueRequest {
                clue: Some(Clue {
                    inspection: INSPECTION.into(),
                    subject_name: "某某".into(),
                    subject_post: "乡党委书记".into(),
                    summary: "涉嫌违规收受礼金".into(),
                    source: "来信来访".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("register")
        .into_inner()
}

#[tokio::test]
async fn a_clue_is_invisible_without_a_clue_holding_role() {
    let app = spawn().await;
    let clue = register(&app).await;
    assert_eq!(clue.receiving_body, "organisations/nanning-jw");
    assert_eq!(clue.state, ClueState::Registered as i32);

    for token in [
        testing::token("v", "", &[Role::Viewer]),
        testing::token("u", "guangxi/nanning/xingning", &[Role::InspectedUnit]),
        testing::token(
            "g",
            "guangxi/nanning",
            &[Role::InspectionGroup, Role::Supervisor],
        ),
    ] {
        let err = app
            .clues()
            .get_clue(authed(
                &token,
                GetClueRequest {
                    name: clue.name.clone(),
                },
            ))
            .await
            .expect_err("hidden");
        assert_eq!(err.code(), Code::NotFound);
        assert!(!err.message().contains("某某"));
        let err = app
            .clues()
            .list_clues(authed(&token, ListCluesRequest::default()))
            .await
            .expect_err("no list");
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    // The discipline commission receiving it and the office see it.
    for token in [discipline(), office()] {
        let got = app
            .clues()
            .get_clue(authed(
                &token,
                GetClueRequest {
                    name: clue.name.clone(),
                },
            ))
            .await
            .expect("visible")
            .into_inner();
        assert_eq!(got.subject_name, "某某");
        let list = app
            .clues()
            .list_clues(authed(
                &token,
                ListCluesRequest {
                    filter: format!(
                        "inspection = \"{INSPECTION}\" AND state = CLUE_STATE_REGISTERED"
                    ),
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.clues.len(), 1);
    }
    // A discipline commission of another place does not.
    let elsewhere = testing::token("jw2", "guangxi/liuzhou", &[Role::DisciplineCommission]);
    let err = app
        .clues()
        .get_clue(authed(
            &elsewhere,
            GetClueRequest {
                name: clue.name.clone(),
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let list = app
        .clues()
        .list_clues(authed(&elsewhere, ListCluesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(list.clues.is_empty());
    assert_eq!(app.events("ClueRegistered").await.len(), 1);
}

#[tokio::test]
async fn the_disposal_order_is_enforced() {
    let app = spawn().await;
    let clue = register(&app).await;
    let jw = discipline();
    let outcome = |kind: ClueOutcomeKind, day: i32| RecordClueOutcomeRequest {
        name: clue.name.clone(),
        outcome: Some(ClueOutcome {
            kind: kind as i32,
            date: date(day),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dispose = |method: DisposalMethod| DisposeClueRequest {
        name: clue.name.clone(),
        disposal: Some(ClueDisposal {
            method: method as i32,
            date: date(10),
            note: "经研究".into(),
            ..Default::default()
        }),
        ..Default::default()
    };

    let err = app
        .clues()
        .record_clue_outcome(authed(&jw, outcome(ClueOutcomeKind::CaseFiled, 12)))
        .await
        .expect_err("outcome first");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "CLUE_NOT_DISPOSED");

    let disposed = app
        .clues()
        .dispose_clue(authed(
            &jw,
            dispose(DisposalMethod::PreliminaryVerification),
        ))
        .await
        .expect("dispose")
        .into_inner();
    assert_eq!(disposed.state, ClueState::Disposed as i32);
    let err = app
        .clues()
        .dispose_clue(authed(&jw, dispose(DisposalMethod::Conclude)))
        .await
        .expect_err("second disposal");
    assert_eq!(reason(&err), "CLUE_ALREADY_DISPOSED");

    let err = app
        .clues()
        .record_clue_outcome(authed(&jw, outcome(ClueOutcomeKind::Disciplined, 9)))
        .await
        .expect_err("before the disposal");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "outcome.date");
    let concluded = app
        .clues()
        .record_clue_outcome(authed(&jw, outcome(ClueOutcomeKind::Disciplined, 20)))
        .await
        .expect("outcome")
        .into_inner();
    assert_eq!(concluded.state, ClueState::Concluded as i32);
    assert_eq!(
        concluded.outcome.as_ref().map(|o| o.kind),
        Some(ClueOutcomeKind::Disciplined as i32)
    );

    // Only the discipline commission disposes.
    let err = app
        .clues()
        .reopen_clue(authed(
            &office(),
            ReopenClueRequest {
                name: clue.name.clone(),
                reason: "x".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("office");
    assert_eq!(err.code(), Code::PermissionDenied);

    let reopened = app
        .clues()
        .reopen_clue(authed(
            &jw,
            ReopenClueRequest {
                name: clue.name.clone(),
                reason: "发现新情况".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen")
        .into_inner();
    assert_eq!(reopened.state, ClueState::Registered as i32);
    assert_eq!(reopened.reopen_count, 1);
    assert!(reopened.disposal.is_none());
    app.clues()
        .dispose_clue(authed(&jw, dispose(DisposalMethod::TalkOrLetter)))
        .await
        .expect("dispose again after reopening");
    assert_eq!(app.events("ClueDisposed").await.len(), 2);
    assert_eq!(app.events("ClueOutcomeRecorded").await.len(), 1);
}
