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

/// The figures the ledger's statistics show for clues: counted by disposal
/// method and outcome, grouped by target or round, narrowed to the caller's
/// subtree, and refused to anyone who holds no clues.
#[tokio::test]
async fn clue_statistics_count_disposals_and_outcomes_in_scope() {
    let app = spawn().await;
    let jw = discipline();
    let mut clues = Vec::new();
    for _ in 0..3 {
        clues.push(register(&app).await);
    }
    app.clues()
        .dispose_clue(authed(
            &jw,
            DisposeClueRequest {
                name: clues[0].name.clone(),
                disposal: Some(ClueDisposal {
                    method: DisposalMethod::PreliminaryVerification as i32,
                    date: date(10),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("dispose");
    app.clues()
        .record_clue_outcome(authed(
            &jw,
            RecordClueOutcomeRequest {
                name: clues[0].name.clone(),
                outcome: Some(ClueOutcome {
                    kind: ClueOutcomeKind::CaseFiled as i32,
                    date: date(20),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("outcome");
    app.clues()
        .dispose_clue(authed(
            &jw,
            DisposeClueRequest {
                name: clues[1].name.clone(),
                disposal: Some(ClueDisposal {
                    method: DisposalMethod::Hold as i32,
                    date: date(10),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("dispose");

    let stats = |token: String, request: GetClueStatisticsRequest| {
        let mut client = app.clues();
        async move { client.get_clue_statistics(authed(&token, request)).await }
    };
    let all = stats(office(), GetClueStatisticsRequest::default())
        .await
        .expect("statistics")
        .into_inner();
    assert_eq!(all.rows.len(), 1);
    let c = all.rows[0].counts.expect("counts");
    assert_eq!(
        (c.registered, c.transferred, c.disposed, c.with_outcome),
        (3, 3, 2, 1)
    );
    assert_eq!(
        (c.preliminary_verification, c.hold, c.talk_or_letter),
        (1, 1, 0)
    );
    assert_eq!((c.case_filed, c.disciplined), (1, 0));

    let by_target = stats(
        jw.clone(),
        GetClueStatisticsRequest {
            group_by: ClueGrouping::TargetPath as i32,
            ..Default::default()
        },
    )
    .await
    .expect("by target")
    .into_inner();
    assert_eq!(by_target.rows.len(), 1);
    assert_eq!(by_target.rows[0].key, "guangxi/nanning/xingning");
    let by_round = stats(
        office(),
        GetClueStatisticsRequest {
            group_by: ClueGrouping::Round as i32,
            ..Default::default()
        },
    )
    .await
    .expect("by round")
    .into_inner();
    assert_eq!(by_round.rows[0].key, "rounds/r12-9");

    // Another county's office counts nothing here; an unrelated subtree
    // neither.
    let elsewhere = testing::token("qx", "guangxi/nanning/qingxiu", &[Role::InspectionOffice]);
    let none = stats(elsewhere, GetClueStatisticsRequest::default())
        .await
        .expect("own scope")
        .into_inner();
    assert!(none.rows.is_empty(), "{none:?}");
    let none = stats(
        office(),
        GetClueStatisticsRequest {
            organisation_path: "guangxi/liuzhou".into(),
            ..Default::default()
        },
    )
    .await
    .expect("narrowed")
    .into_inner();
    assert!(none.rows.is_empty());

    let err = stats(
        testing::token("u", "guangxi/nanning/xingning", &[Role::InspectedUnit]),
        GetClueStatisticsRequest::default(),
    )
    .await
    .expect_err("a unit holds no clues");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = stats(
        office(),
        GetClueStatisticsRequest {
            organisation_path: "bad path!".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("bad path");
    assert_eq!(bad_field(&err), "organisation_path");
    let err = stats(
        office(),
        GetClueStatisticsRequest {
            group_by: 99,
            ..Default::default()
        },
    )
    .await
    .expect_err("bad grouping");
    assert_eq!(bad_field(&err), "group_by");
    let err = stats(
        office(),
        GetClueStatisticsRequest {
            period_start: date(20),
            period_end: date(10),
            ..Default::default()
        },
    )
    .await
    .expect_err("reversed period");
    assert_eq!(bad_field(&err), "period_end");
    let none = stats(
        office(),
        GetClueStatisticsRequest {
            period_end: Some(Date {
                year: 2000,
                month: 1,
                day: 1,
            }),
            ..Default::default()
        },
    )
    .await
    .expect("an old period")
    .into_inner();
    assert!(none.rows.is_empty(), "registered today, not in 2000");
}
