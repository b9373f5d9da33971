//! Clues over gRPC: who may see them, and the order of disposal.

use crate::common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
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

pub(crate) async fn register(app: &TestApp) -> Clue {
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

    for (token, lists) in [
        (testing::token("v", "", &[Role::Viewer]), false),
        (
            testing::token("u", "guangxi/nanning/xingning", &[Role::InspectedUnit]),
            false,
        ),
        (
            testing::token(
                "g",
                "guangxi/nanning",
                &[Role::InspectionGroup, Role::Supervisor],
            ),
            true,
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
        let listed = app
            .clues()
            .list_clues(authed(&token, ListCluesRequest::default()))
            .await;
        if lists {
            // A supervising body lists the clues handed to it: none here.
            assert!(listed.expect("list").into_inner().clues.is_empty());
        } else {
            assert_eq!(listed.expect_err("no list").code(), Code::PermissionDenied);
        }
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
        .decide(
            &commission(),
            dispose(DisposalMethod::PreliminaryVerification),
        )
        .await
        .expect("dispose");
    assert_eq!(disposed.state, ClueState::Disposed as i32);
    let err = app
        .decide(&commission(), dispose(DisposalMethod::Conclude))
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
    // A new decision: the earlier one's signatures do not count.
    app.decide(&commission(), dispose(DisposalMethod::TalkOrLetter))
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
    let decision = |clue: &Clue, method: DisposalMethod| DisposeClueRequest {
        name: clue.name.clone(),
        disposal: Some(ClueDisposal {
            method: method as i32,
            date: date(10),
            ..Default::default()
        }),
        ..Default::default()
    };
    app.decide(
        &commission(),
        decision(&clues[0], DisposalMethod::PreliminaryVerification),
    )
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
    app.decide(&commission(), decision(&clues[1], DisposalMethod::Hold))
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
    // Transferred: signed for by the receiving body, here by disposing.
    assert_eq!(
        (c.registered, c.transferred, c.disposed, c.with_outcome),
        (3, 2, 2, 1)
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

pub(crate) fn day(month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, month, day).expect("date")
}

pub(crate) fn proto_day(d: chrono::NaiveDate) -> Option<Date> {
    Some(fiveledger_platform::time::to_date(d))
}

/// A clock stopped at noon of `d`.
pub(crate) fn clock_at(d: chrono::NaiveDate) -> Clock {
    Clock::fixed(d.and_hms_opt(12, 0, 0).expect("noon").and_utc())
}

/// The issues service with clue transfers due after 10 days, on a clock
/// stopped on 2 March 2026.
async fn spawn_transfers() -> (TestApp, Clock) {
    let clock = clock_at(day(3, 2));
    let settings = fiveledger_issues::IssuesSettings {
        clue_transfer_due_days: 10,
        ..Default::default()
    };
    (spawn_with(settings, clock.clone()).await, clock)
}

async fn get(app: &TestApp, token: &str, name: &str) -> Result<Clue, tonic::Status> {
    app.clues()
        .get_clue(authed(token, GetClueRequest { name: name.into() }))
        .await
        .map(tonic::Response::into_inner)
}

async fn acknowledge(app: &TestApp, token: &str, name: &str) -> Result<Clue, tonic::Status> {
    app.clues()
        .acknowledge_clue_transfer(authed(
            token,
            AcknowledgeClueTransferRequest {
                name: name.into(),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn transfer(
    app: &TestApp,
    token: &str,
    name: &str,
    body: &str,
) -> Result<Clue, tonic::Status> {
    app.clues()
        .transfer_clue(authed(
            token,
            TransferClueRequest {
                name: name.into(),
                receiving_body: body.into(),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Transferred on registration, signed for, disposed of, result returned:
/// each step dated, the clock of the transfer judged against its due date.
#[tokio::test]
async fn a_clue_is_transferred_acknowledged_disposed_and_its_result_returned() {
    let (app, clock) = spawn_transfers().await;
    let clue = register(&app).await;
    assert_eq!(clue.transfers.len(), 1);
    let first = &clue.transfers[0];
    assert_eq!(first.receiving_body, "organisations/nanning-jw");
    assert_eq!(first.receiving_body_path, "guangxi/nanning/nanning-jw");
    assert_eq!(first.transfer_date, proto_day(day(3, 2)));
    // Due after the configured 10 days, not the default 30.
    assert_eq!(first.due_date, proto_day(day(3, 12)));
    assert_eq!(first.transferred_by, "office-nn");
    assert!(first.acknowledge_date.is_none() && !first.overdue);
    let transferred = app.events("ClueTransferred").await;
    assert_eq!(transferred.len(), 1);
    assert_eq!(transferred[0].subject, clue.name);

    // A level below the one running the round never sees its clue, not
    // even about its own cadres: the county's discipline commission gets
    // NOT_FOUND, as for a clue that does not exist.
    let county_jw = testing::token(
        "xn-jw",
        "guangxi/nanning/xingning",
        &[Role::DisciplineCommission],
    );
    let err = get(&app, &county_jw, &clue.name)
        .await
        .expect_err("below the running level");
    assert_eq!(err.code(), Code::NotFound);
    let err = acknowledge(&app, &county_jw, &clue.name)
        .await
        .expect_err("below the running level");
    assert_eq!(err.code(), Code::NotFound);
    // The city office (the running level) sees it but is not the receiving
    // body: it may not sign for it.
    get(&app, &office(), &clue.name).await.expect("sees it");
    let err = acknowledge(&app, &office(), &clue.name)
        .await
        .expect_err("not the receiving body");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "PERMISSION_DENIED");
    // Elsewhere it does not exist; without the role the gate refuses.
    let elsewhere = testing::token("jw2", "guangxi/liuzhou", &[Role::DisciplineCommission]);
    let err = acknowledge(&app, &elsewhere, &clue.name)
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let unit = testing::token("u", "guangxi/nanning/xingning", &[Role::InspectedUnit]);
    let err = acknowledge(&app, &unit, &clue.name)
        .await
        .expect_err("no role");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(app.events("ClueTransferAcknowledged").await.is_empty());
    let unchanged = get(&app, &office(), &clue.name).await.expect("get");
    assert_eq!(unchanged.etag, clue.etag, "refusals write nothing");

    // The receiving body signs, dated by the clock.
    clock.set(day(3, 4).and_hms_opt(9, 0, 0).expect("t").and_utc());
    let jw = discipline();
    let signed = acknowledge(&app, &jw, &clue.name)
        .await
        .expect("acknowledge");
    assert_eq!(signed.transfers[0].acknowledge_date, proto_day(day(3, 4)));
    assert_eq!(signed.transfers[0].acknowledged_by, "jw-1");
    let err = acknowledge(&app, &jw, &clue.name).await.expect_err("twice");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "TRANSFER_ALREADY_ACKNOWLEDGED");
    let acks = app.events("ClueTransferAcknowledged").await;
    assert_eq!(acks.len(), 1);
    let payload = <ClueTransferAcknowledged as prost::Message>::decode(
        acks[0].payload.as_ref().expect("payload").value.as_slice(),
    )
    .expect("decode");
    assert_eq!(payload.transfer.expect("transfer").acknowledged_by, "jw-1");

    // Past the due date without a result: overdue.
    clock.set(day(3, 13).and_hms_opt(9, 0, 0).expect("t").and_utc());
    let late = get(&app, &office(), &clue.name).await.expect("get");
    assert!(late.transfers[0].overdue);
    let listed = app
        .clues()
        .list_clues(authed(&office(), ListCluesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.clues[0].transfers[0].overdue);

    // Disposal of an acknowledged transfer signs nothing more.
    app.decide(
        &commission(),
        DisposeClueRequest {
            name: clue.name.clone(),
            disposal: Some(ClueDisposal {
                method: DisposalMethod::PreliminaryVerification as i32,
                date: proto_day(day(3, 5)),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .expect("dispose");
    assert_eq!(app.events("ClueTransferAcknowledged").await.len(), 1);
    // The outcome is the result posted back: no longer overdue.
    let concluded = app
        .clues()
        .record_clue_outcome(authed(
            &jw,
            RecordClueOutcomeRequest {
                name: clue.name.clone(),
                outcome: Some(ClueOutcome {
                    kind: ClueOutcomeKind::Disciplined as i32,
                    date: proto_day(day(3, 20)),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("outcome")
        .into_inner();
    assert_eq!(concluded.transfers[0].result_date, proto_day(day(3, 20)));
    assert!(!concluded.transfers[0].overdue);

    // A concluded clue is not transferred on.
    let err = transfer(&app, &jw, &clue.name, "organisations/nanning-zzb")
        .await
        .expect_err("concluded");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "CLUE_CONCLUDED");
    assert_eq!(app.events("ClueTransferred").await.len(), 1);

    // Reopening takes the result back: overdue again.
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
    assert!(reopened.transfers[0].result_date.is_none());
    assert!(reopened.transfers[0].overdue);
}

/// Transferred on to another body: a new clock, the first transfer kept;
/// the new body's disposal signs for it.
#[tokio::test]
async fn a_clue_transferred_on_gets_a_new_clock_and_disposal_signs_for_it() {
    let (app, clock) = spawn_transfers().await;
    app.fake.organisations.lock().expect("lock").insert(
        "organisations/xingning-jw".into(),
        fiveledger_proto::rounds::Organisation {
            name: "organisations/xingning-jw".into(),
            display_name: "兴宁区纪委监委".into(),
            kind: fiveledger_proto::rounds::OrganisationKind::DisciplineCommission as i32,
            parent: "organisations/xingning".into(),
            path: "guangxi/nanning/xingning/xingning-jw".into(),
            ..Default::default()
        },
    );
    let clue = register(&app).await;
    let jw = discipline();

    // Refusals first: nothing is written by any of them.
    let err = transfer(&app, &jw, &clue.name, "")
        .await
        .expect_err("no body");
    assert_eq!(bad_field(&err), "receiving_body");
    let err = transfer(&app, &jw, &clue.name, "organisations/nowhere")
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "UNKNOWN_ORGANISATION");
    assert_eq!(bad_field(&err), "receiving_body");
    let err = transfer(&app, &jw, &clue.name, "organisations/nanning-jw")
        .await
        .expect_err("same body");
    assert_eq!(reason(&err), "SAME_RECEIVING_BODY");
    let elsewhere = testing::token("jw2", "guangxi/liuzhou", &[Role::DisciplineCommission]);
    let err = transfer(&app, &elsewhere, &clue.name, "organisations/xingning-jw")
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(app.events("ClueTransferred").await.len(), 1);

    clock.set(day(3, 5).and_hms_opt(9, 0, 0).expect("t").and_utc());
    let moved = transfer(&app, &jw, &clue.name, "organisations/xingning-jw")
        .await
        .expect("transfer");
    assert_eq!(moved.receiving_body, "organisations/xingning-jw");
    assert_eq!(
        moved.receiving_body_path,
        "guangxi/nanning/xingning/xingning-jw"
    );
    assert_eq!(moved.transfers.len(), 2);
    assert_eq!(
        moved.transfers[0].receiving_body,
        "organisations/nanning-jw"
    );
    assert_eq!(moved.transfers[0].transfer_date, proto_day(day(3, 2)));
    let second = &moved.transfers[1];
    assert_eq!(second.transfer_date, proto_day(day(3, 5)));
    assert_eq!(second.due_date, proto_day(day(3, 15)));
    assert_eq!(second.transferred_by, "jw-1");
    assert_eq!(moved.state, ClueState::Registered as i32);
    assert_eq!(app.events("ClueTransferred").await.len(), 2);
    // The filter follows the current body.
    let by_body = app
        .clues()
        .list_clues(authed(
            &office(),
            ListCluesRequest {
                filter: "receiving_body = \"organisations/xingning-jw\"".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(by_body.clues.len(), 1);

    // Past the first transfer's due date, only the current one counts.
    clock.set(day(3, 13).and_hms_opt(9, 0, 0).expect("t").and_utc());
    let now = get(&app, &office(), &clue.name).await.expect("get");
    assert!(!now.transfers[0].overdue && !now.transfers[1].overdue);

    // The earlier body still sees it (it serves the level running the
    // round) but no longer holds it: it may not dispose of it. The new one
    // disposes of it, signing for the transfer on the disposal's date.
    get(&app, &jw, &clue.name)
        .await
        .expect("the running level sees it");
    let hand_on_decision = DisposeClueRequest {
        name: clue.name.clone(),
        disposal: Some(ClueDisposal {
            method: DisposalMethod::TalkOrLetter as i32,
            date: proto_day(day(3, 8)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = app
        .decide(&commission(), hand_on_decision.clone())
        .await
        .expect_err("handed on");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "NOT_THE_HOLDER");
    let county = three(
        "xn-jw",
        "guangxi/nanning/xingning/xingning-jw",
        &[Role::DisciplineCommission],
    );
    let county_jw = county[0].clone();
    let disposed = app
        .decide(&county, hand_on_decision)
        .await
        .expect("dispose");
    assert_eq!(disposed.transfers[1].acknowledge_date, proto_day(day(3, 8)));
    assert_eq!(disposed.transfers[1].acknowledged_by, "xn-jw-1");
    assert!(disposed.transfers[0].acknowledge_date.is_none());
    assert_eq!(app.events("ClueTransferAcknowledged").await.len(), 1);
    let err = acknowledge(&app, &county_jw, &clue.name)
        .await
        .expect_err("signed by disposing");
    assert_eq!(reason(&err), "TRANSFER_ALREADY_ACKNOWLEDGED");

    // Counted as transferred once signed for.
    let stats = app
        .clues()
        .get_clue_statistics(authed(&office(), GetClueStatisticsRequest::default()))
        .await
        .expect("statistics")
        .into_inner();
    let c = stats.rows[0].counts.expect("counts");
    assert_eq!((c.registered, c.transferred), (1, 1));
}

/// Clues registered before transfers existed get their registration as
/// their first transfer (the migration's backfill, on either database).
#[tokio::test]
async fn existing_clues_get_their_registration_as_first_transfer() {
    use fiveledger_issues::storage::{Migrator, clues};
    use sea_orm::ActiveModelTrait;
    use sea_orm_migration::MigratorTrait;

    let env = fiveledger_platform::testing::TestEnv::new("issues");
    let db = fiveledger_platform::storage::Db::connect(
        &env.settings.database,
        &env.settings.data_dir.join("issues.sqlite"),
    )
    .await
    .expect("db");
    // The platform tables and the first issues migration only.
    Migrator::up(db.writer(), Some(2)).await.expect("migrate");
    let registered = chrono::DateTime::parse_from_rfc3339("2026-01-10T05:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let row = |id: &str, disposed: bool| clues::Model {
        id: id.into(),
        inspection: INSPECTION.into(),
        round: "rounds/r12-9".into(),
        target: "organisations/xingning".into(),
        target_path: "guangxi/nanning/xingning".into(),
        subject_name: "某某".into(),
        subject_post: "局长".into(),
        summary: "x".into(),
        source: String::new(),
        receiving_body: "organisations/nanning-jw".into(),
        receiving_body_path: "guangxi/nanning/nanning-jw".into(),
        state: if disposed {
            ClueState::Concluded
        } else {
            ClueState::Registered
        }
        .as_str_name()
        .into(),
        disposal_method: if disposed {
            DisposalMethod::Hold.as_str_name().into()
        } else {
            String::new()
        },
        // Recorded as decided before the registration: signed for on it.
        disposal_date: disposed.then(|| day(1, 5)),
        disposal_note: String::new(),
        disposal_by: if disposed {
            "jw-old".into()
        } else {
            String::new()
        },
        outcome_kind: if disposed {
            ClueOutcomeKind::Cleared.as_str_name().into()
        } else {
            String::new()
        },
        outcome_date: disposed.then(|| day(2, 1)),
        outcome_note: String::new(),
        outcome_by: String::new(),
        reopen_count: 0,
        registered_by: "office-old".into(),
        round_organisation_path: String::new(),
        subject_managed_by: String::new(),
        subject_managed_by_path: String::new(),
        due_date: String::new(),
        notified_colour: 0,
        yellow_count: 0,
        colour_floor: 0,
        colour_peak: 0,
        warning_count: 0,
        reopen_date: None,
        revision: 1,
        create_time: registered,
        update_time: registered,
    };
    for model in [row("c-open", false), row("c-done", true)] {
        // Columns of later migrations are not there yet.
        let mut active = clues::ActiveModel::from(model).reset_all();
        active.round_organisation_path = sea_orm::ActiveValue::NotSet;
        active.subject_managed_by = sea_orm::ActiveValue::NotSet;
        active.subject_managed_by_path = sea_orm::ActiveValue::NotSet;
        active.due_date = sea_orm::ActiveValue::NotSet;
        active.notified_colour = sea_orm::ActiveValue::NotSet;
        active.yellow_count = sea_orm::ActiveValue::NotSet;
        active.colour_floor = sea_orm::ActiveValue::NotSet;
        active.colour_peak = sea_orm::ActiveValue::NotSet;
        active.warning_count = sea_orm::ActiveValue::NotSet;
        active.reopen_date = sea_orm::ActiveValue::NotSet;
        <clues::Entity as sea_orm::EntityTrait>::insert(active)
            .exec_without_returning(db.writer())
            .await
            .expect("insert");
    }
    db.close().await;

    let app = spawn_in(env, Default::default(), clock_at(day(3, 1))).await;
    let open = get(&app, &admin(), "clues/c-open").await.expect("get");
    assert_eq!(open.transfers.len(), 1);
    let t = &open.transfers[0];
    assert_eq!(t.receiving_body, "organisations/nanning-jw");
    assert_eq!(t.receiving_body_path, "guangxi/nanning/nanning-jw");
    assert_eq!(t.transfer_date, proto_day(day(1, 10)));
    assert_eq!(t.due_date, proto_day(day(2, 9)));
    assert_eq!(t.transferred_by, "office-old");
    assert!(t.acknowledge_date.is_none() && t.acknowledged_by.is_empty());
    assert!(t.overdue, "due 9 February, no result by 1 March");
    // The migration gave the registered clue its transfer's time limit:
    // overdue by 20 days, yellow.
    assert_eq!(open.due_date, proto_day(day(2, 9)));
    assert_eq!(
        open.colour,
        fiveledger_proto::types::WarningColour::Yellow as i32
    );
    let done = get(&app, &admin(), "clues/c-done").await.expect("get");
    let t = &done.transfers[0];
    assert_eq!(t.acknowledge_date, proto_day(day(1, 10)));
    assert_eq!(t.acknowledged_by, "jw-old");
    assert_eq!(t.result_date, proto_day(day(2, 1)));
    assert!(!t.overdue);
    assert!(done.due_date.is_none() && done.colour == 0);
}

async fn list_clues_all(app: &TestApp, filter: &str, page_size: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .clues()
            .list_clues(authed(
                &office(),
                ListCluesRequest {
                    page_size,
                    page_token: page_token.clone(),
                    filter: filter.into(),
                },
            ))
            .await
            .expect("list")
            .into_inner();
        assert!(page.clues.len() <= page_size as usize);
        out.extend(page.clues.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

/// ListClues pages by name and each filter narrows (two inspections in two
/// rounds and places, two receiving bodies, two disposal methods).
#[tokio::test]
async fn clues_page_and_filter_by_round_target_receiving_body_and_disposal() {
    let app = spawn().await;
    const OTHER: &str = "rounds/r13-1/inspections/qingxiu";
    app.fake.inspections.lock().expect("lock").insert(
        OTHER.into(),
        inspection(
            OTHER,
            "qingxiu",
            fiveledger_proto::rounds::InspectionPhase::Stationed,
        ),
    );
    let mut here = Vec::new();
    for _ in 0..3 {
        here.push(register(&app).await.name);
    }
    let mut there = Vec::new();
    for i in 0..2 {
        let clue = app
            .clues()
            .create_clue(authed(
                &office(),
                CreateClueRequest {
                    clue: Some(Clue {
                        inspection: OTHER.into(),
                        subject_name: format!("某{i}"),
                        subject_post: "局长".into(),
                        summary: "x".into(),
                        receiving_body: "organisations/nanning-zzb".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ))
            .await
            .expect("register")
            .into_inner();
        assert_eq!(clue.round, "rounds/r13-1");
        there.push(clue.name);
    }
    for (name, method) in [
        (&here[0], DisposalMethod::Hold),
        (&here[1], DisposalMethod::TalkOrLetter),
    ] {
        app.decide(
            &commission(),
            DisposeClueRequest {
                name: name.clone(),
                disposal: Some(ClueDisposal {
                    method: method as i32,
                    date: date(10),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("dispose");
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let all = sorted(here.iter().chain(&there).cloned().collect());
    // Pages of two, by name, nothing repeated or skipped.
    assert_eq!(list_clues_all(&app, "", 2).await, all);
    assert_eq!(
        list_clues_all(&app, "round = \"rounds/r13-1\"", 1).await,
        sorted(there.clone())
    );
    assert_eq!(
        list_clues_all(&app, "round = \"rounds/r12-9\"", 2).await,
        sorted(here.clone())
    );
    assert_eq!(
        list_clues_all(&app, "target_subtree = \"guangxi/nanning/qingxiu\"", 2).await,
        sorted(there.clone())
    );
    assert_eq!(
        list_clues_all(&app, "target_subtree = \"guangxi/nanning/xingning\"", 2).await,
        sorted(here.clone())
    );
    assert_eq!(
        list_clues_all(&app, "receiving_body = \"organisations/nanning-zzb\"", 2).await,
        sorted(there.clone())
    );
    assert_eq!(
        list_clues_all(&app, "disposal_method = DISPOSAL_METHOD_HOLD", 2).await,
        vec![here[0].clone()]
    );
    assert_eq!(
        list_clues_all(
            &app,
            "disposal_method = DISPOSAL_METHOD_TALK_OR_LETTER AND round = \"rounds/r12-9\"",
            2
        )
        .await,
        vec![here[1].clone()]
    );
    let err = app
        .clues()
        .list_clues(authed(
            &office(),
            ListCluesRequest {
                filter: "disposal_method = SOMEHOW".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("unknown method");
    assert_eq!(bad_field(&err), "filter");
}
