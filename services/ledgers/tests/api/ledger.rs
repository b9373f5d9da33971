//! The five ledgers over gRPC: the whole lifecycle of an entry step by step
//! (every step out of order refused, nothing written by a refusal),
//! exactly-once opening, scope, reconciliation and journal verification.

use crate::common;

use common::*;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
use fiveledger_proto::ledgers::*;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use tonic::Code;
use tonic::transport::Channel;

/// The unit marks measures m1 and m2 done (`progress`) and asks for the
/// write-off with `statement` and the document `doc`.
async fn finish_and_request(
    ledger: &mut LedgerServiceClient<Channel>,
    name: &str,
    progress: &str,
    statement: &str,
    doc: &str,
) {
    let texts = (progress, statement, doc);
    finish_and_request_on(ledger, name, &["m1", "m2"], texts, None).await;
}

fn measure(id: &str, kind: MeasureKind, due: (i32, i32, i32)) -> Measure {
    Measure {
        id: id.into(),
        kind: kind as i32,
        description: format!("措施 {id}"),
        owner: "办公室".into(),
        due_date: Some(date(due.0, due.1, due.2)),
        ..Default::default()
    }
}

fn plan(due2: (i32, i32, i32)) -> RectificationPlan {
    RectificationPlan {
        summary: "整改方案".into(),
        measures: vec![
            measure("m1", MeasureKind::Corrective, (2026, 7, 15)),
            measure("m2", MeasureKind::InstitutionBuilding, due2),
        ],
        ..Default::default()
    }
}

/// Asserts a refusal (code and reason) that wrote nothing: the whole entry
/// (history, etag, colours) and the number of outbox events, read BEFORE
/// the call runs (`call` is a future not yet polled), are the same after.
pub(crate) async fn refused<T: std::fmt::Debug>(
    app: &TestApp,
    name: &str,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    code: Code,
    expected_reason: &str,
) -> tonic::Status {
    let before = (app.get(name).await, app.event_count().await);
    let status = call.await.expect_err("the step must be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), expected_reason, "{status:?}");
    let after = (app.get(name).await, app.event_count().await);
    assert_eq!(after, before, "nothing written by {status:?}");
    status
}

#[tokio::test]
async fn an_entry_goes_through_the_five_ledgers_and_back() {
    let app = spawn().await;
    seed_rounds(&app);
    let mut ledger = app.ledger();
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;

    // 报告报账: one entry per problem, OPEN.
    let entries = app
        .wait_for(&format!("inspection = \"{INSPECTION}\""), 2)
        .await;
    let entry = entries
        .iter()
        .find(|e| e.problem == "problems/p1")
        .expect("p1 posted")
        .clone();
    let name = entry.name.clone();
    assert_eq!(entry.state(), EntryState::Open);
    assert_eq!(entry.round, "rounds/r9");
    let responsibility = entry.responsibility.clone().expect("responsibility");
    assert_eq!(
        responsibility.responsible_unit_path,
        "guangxi/nanning/xingning"
    );
    let opened = app.get(&name).await;
    assert_eq!(opened.postings.len(), 1);
    let first = &opened.postings[0];
    assert_eq!(first.kind(), PostingKind::Open);
    assert_eq!(first.actor, "service:ledgers");
    assert!(first.request_id.starts_with("event:issues:"));
    assert!(first.traceparent.starts_with("00-0af7651916cd43dd"));
    assert_eq!(first.prev_hash, "");
    assert_eq!(first.hash.len(), 64);

    // Nothing may happen before the hand-over: the unit does not even see
    // the entry yet, and the office is told the state.
    refused(
        &app,
        &name,
        ledger.acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                ..Default::default()
            },
        )),
        Code::NotFound,
        "NOT_FOUND",
    )
    .await;
    let status = refused(
        &app,
        &name,
        ledger.approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;
    assert!(status.message().contains("ENTRY_STATE_OPEN"), "{status:?}");

    // 反馈交账: feedback hands the entries over, due 60 days after feedback.
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.wait_for(
        &format!("inspection = \"{INSPECTION}\" AND state = ENTRY_STATE_HANDED_OVER"),
        2,
    )
    .await;
    let handed = app.get(&name).await;
    assert_eq!(handed.handed_over_date, Some(date(2026, 6, 1)));
    assert_eq!(handed.original_due_date, Some(date(2026, 7, 31)));
    assert_eq!(handed.due_date, Some(date(2026, 7, 31)));
    assert_eq!(handed.postings[1].prev_hash, handed.postings[0].hash);

    // Another unit does not even see the entry.
    let err = ledger
        .acknowledge_hand_over(authed(
            &other_unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    refused(
        &app,
        &name,
        ledger.submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 8, 1))),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;
    let acked = ledger
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "已签收".into(),
                request_id: "ack-1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge")
        .into_inner();
    assert_eq!(acked.state(), EntryState::Acknowledged);
    // A retry with the same request id returns the first answer and posts nothing.
    let retried = ledger
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "已签收".into(),
                request_id: "ack-1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.posting_count, acked.posting_count);
    refused(
        &app,
        &name,
        ledger.acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;

    // Plan, with bad input named by field.
    let mut bad = plan((2026, 8, 1));
    bad.measures[1].owner.clear();
    let err = ledger
        .submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(bad),
                ..Default::default()
            },
        ))
        .await
        .expect_err("owner required");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "plan.measures[1].owner");
    refused(
        &app,
        &name,
        ledger.approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;
    let planned = ledger
        .submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 8, 1))),
                ..Default::default()
            },
        ))
        .await
        .expect("submit")
        .into_inner();
    assert_eq!(planned.state(), EntryState::Planned);
    assert_eq!(planned.pending_plan.as_ref().expect("pending").version, 1);
    // The unit cannot approve its own plan.
    let err = ledger
        .approve_plan(authed(
            &unit(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                ..Default::default()
            },
        ))
        .await
        .expect_err("role");
    assert_eq!(err.code(), Code::PermissionDenied);
    let rectifying = ledger
        .approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                etag: planned.etag.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("approve")
        .into_inner();
    assert_eq!(rectifying.state(), EntryState::Rectifying);
    assert_eq!(rectifying.due_date, Some(date(2026, 8, 1)));
    // A stale etag is ABORTED.
    let err = ledger
        .post_progress(authed(
            &unit(),
            PostProgressRequest {
                name: name.clone(),
                description: "x".into(),
                etag: planned.etag.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(err.code(), Code::Aborted);

    // Write-off refused while a measure is open.
    let status = refused(
        &app,
        &name,
        ledger.request_write_off(authed(
            &unit(),
            RequestWriteOffRequest {
                name: name.clone(),
                closure_statement: "已整改".into(),
                evidence: evidence("整改报告.pdf"),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "MEASURES_OPEN",
    )
    .await;
    assert!(status.message().contains("2 measure"), "{status:?}");

    // A plan change (m2 later) is a new version needing approval; the
    // original due date stays.
    let changed = ledger
        .submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 9, 30))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan change")
        .into_inner();
    assert_eq!(changed.state(), EntryState::Planned);
    assert_eq!(changed.pending_plan.as_ref().expect("pending").version, 2);
    refused(
        &app,
        &name,
        ledger.approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "PLAN_VERSION_MISMATCH",
    )
    .await;
    let approved = ledger
        .approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 2,
                ..Default::default()
            },
        ))
        .await
        .expect("approve v2")
        .into_inner();
    assert_eq!(approved.due_date, Some(date(2026, 9, 30)));
    assert_eq!(approved.original_due_date, Some(date(2026, 7, 31)));
    assert_eq!(
        approved.plan.as_ref().expect("plan").approved_by,
        "office-nn"
    );

    // 督办: progress per measure, a supervisor's check.
    for m in ["m1", "m2"] {
        ledger
            .post_progress(authed(
                &unit(),
                PostProgressRequest {
                    name: name.clone(),
                    measure_id: m.into(),
                    description: format!("{m} 完成"),
                    evidence: evidence(&format!("{m}.pdf")),
                    measure_done: true,
                    ..Default::default()
                },
            ))
            .await
            .expect("progress");
    }
    ledger
        .post_supervision(authed(
            &commission(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "抽查属实".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("supervision");

    // 移交转账: to the organisation department (its path asked of rounds).
    let transferred = ledger
        .transfer(authed(
            &office(),
            TransferRequest {
                name: name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                matter: "选人用人问题移交组织部".into(),
                due_date: Some(date(2026, 10, 31)),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer")
        .into_inner();
    assert_eq!(transferred.state(), EntryState::Transferred);
    assert_eq!(
        transferred.transfers[0].receiving_body_path,
        "guangxi/nanning/nanning-zzb"
    );
    refused(
        &app,
        &name,
        ledger.return_transfer_result(authed(
            &org_department(),
            ReturnTransferResultRequest {
                name: name.clone(),
                result: "已处理".into(),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "TRANSFER_NOT_ACKNOWLEDGED",
    )
    .await;
    refused(
        &app,
        &name,
        ledger.request_write_off(authed(
            &unit(),
            RequestWriteOffRequest {
                name: name.clone(),
                closure_statement: "已整改".into(),
                evidence: evidence("整改报告.pdf"),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;
    // The receiving body now sees the entry; the unit is not the receiver.
    assert_eq!(
        app.list(&org_department(), "").await.len(),
        1,
        "the receiver sees what it received"
    );
    let returned = answer_transfer(
        &mut ledger,
        &org_department(),
        name.clone(),
        "诫勉谈话 1 人",
    )
    .await;
    assert_eq!(returned.state(), EntryState::Rectifying);
    assert_eq!(returned.transfers[0].acknowledged_by, "zzb-liu");

    // 整改销账: requested by someone who also holds the office role; they
    // cannot verify it themselves.
    let both = testing::token(
        "zhang-both",
        "guangxi/nanning",
        &[
            fiveledger_platform::auth::Role::InspectedUnit,
            fiveledger_platform::auth::Role::InspectionOffice,
        ],
    );
    let requested = ledger
        .request_write_off(authed(
            &both,
            RequestWriteOffRequest {
                name: name.clone(),
                closure_statement: "已整改到位".into(),
                evidence: evidence("整改报告.pdf"),
                figures: Some(RectificationFigures {
                    funds_recovered_fen: 12_345_600,
                    losses_recovered_fen: 500_000,
                    people_held_accountable: 2,
                    people_disciplined: 1,
                    rules_established: 3,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("request write-off")
        .into_inner();
    assert_eq!(requested.state(), EntryState::AwaitingVerification);
    refused(
        &app,
        &name,
        ledger.approve_write_off(authed(
            &both,
            ApproveWriteOffRequest {
                name: name.clone(),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "VERIFIER_IS_REQUESTER",
    )
    .await;
    refused(
        &app,
        &name,
        ledger.reopen(authed(
            &office(),
            ReopenRequest {
                name: name.clone(),
                inspection: LOOK_BACK.into(),
                reason: "文字整改".into(),
                due_date: Some(date(2027, 3, 1)),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;
    let written_off = ledger
        .approve_write_off(authed(
            &commission(),
            ApproveWriteOffRequest {
                name: name.clone(),
                remarks: "核查属实，同意销号".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify")
        .into_inner();
    assert_eq!(written_off.state(), EntryState::WrittenOff);
    let write_off = written_off.write_off.clone().expect("write-off");
    assert_eq!(write_off.requested_by, "zhang-both");
    assert_eq!(write_off.verified_by, "jw-wang");
    assert_eq!(
        write_off.figures.expect("figures").funds_recovered_fen,
        12_345_600
    );
    assert!(written_off.first_written_off_date.is_some());

    // 回头看: only a look-back inspection may reopen.
    refused(
        &app,
        &name,
        ledger.reopen(authed(
            &office(),
            ReopenRequest {
                name: name.clone(),
                inspection: REGULAR.into(),
                reason: "文字整改".into(),
                due_date: Some(date(2027, 3, 1)),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "NOT_A_LOOK_BACK",
    )
    .await;
    let reopened = ledger
        .reopen(authed(
            &office(),
            ReopenRequest {
                name: name.clone(),
                inspection: LOOK_BACK.into(),
                reason: "文字整改，制度未落实".into(),
                due_date: Some(date(2027, 3, 1)),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen")
        .into_inner();
    assert_eq!(reopened.state(), EntryState::Reopened);
    assert_eq!(reopened.reopen_count, 1);
    assert_eq!(reopened.original_due_date, Some(date(2026, 7, 31)));
    refused(
        &app,
        &name,
        ledger.request_write_off(authed(
            &unit(),
            RequestWriteOffRequest {
                name: name.clone(),
                closure_statement: "再次整改".into(),
                evidence: evidence("整改报告2.pdf"),
                ..Default::default()
            },
        )),
        Code::FailedPrecondition,
        "WRONG_STATE",
    )
    .await;

    // Back to rectifying with a new plan whose measures are all to be redone.
    ledger
        .submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2027, 2, 1))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan v3");
    let again = ledger
        .approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 3,
                ..Default::default()
            },
        ))
        .await
        .expect("approve v3")
        .into_inner();
    assert_eq!(again.state(), EntryState::Rectifying);
    assert!(again.plan.expect("plan").measures.iter().all(|m| !m.done));
    finish_and_request(&mut ledger, &name, "落实", "制度已落实", "制度文件.pdf").await;
    let closed = ledger
        .approve_write_off(authed(
            &office(),
            ApproveWriteOffRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("written off again")
        .into_inner();
    assert_eq!(closed.state(), EntryState::WrittenOff);

    // The whole history is there, chained, with both write-offs.
    let history = app.get(&name).await;
    let kinds: Vec<PostingKind> = history.postings.iter().map(|p| p.kind()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == PostingKind::WriteOffApproved)
            .count(),
        2
    );
    assert!(kinds.contains(&PostingKind::Reopened));
    for pair in history.postings.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(
        history.journal_head,
        history.postings.last().expect("last").hash
    );

    // Every posting is an event in the outbox.
    let db = app.db().await;
    let events = fiveledger_platform::outbox::Entity::find()
        .count(db.reader())
        .await
        .expect("count");
    let other = app
        .get(&app.list(&admin(), "problem = \"problems/p2\"").await[0].name)
        .await;
    assert_eq!(
        events as usize,
        history.postings.len() + other.postings.len()
    );

    // 对账: the books balance with the issues service.
    let reconciled = ledger
        .reconcile(authed(
            &office(),
            ReconcileRequest {
                inspection: INSPECTION.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("reconcile")
        .into_inner();
    assert!(reconciled.balanced, "{reconciled:?}");
    let balance = reconciled.balance.expect("balance");
    assert_eq!(balance.reported, 2);
    assert_eq!(balance.written_off, 1);
    assert_eq!(balance.handed_over, 1);
    assert_eq!(reconciled.problems, 2);

    // The journal verifies, and a tampered posting is named.
    let verified = ledger
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.tally_fault, "");
    assert_eq!(verified.entries, 2);
    // The statistics' tallies are checked against the written-off entries.
    db.writer()
        .execute_unprepared(
            "UPDATE entry_tallies SET funds_recovered_fen = funds_recovered_fen + 1",
        )
        .await
        .expect("tamper with the tallies");
    let verified = ledger
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(!verified.valid);
    assert!(verified.tally_fault.contains("tallies"), "{verified:?}");
    db.writer()
        .execute_unprepared(
            "UPDATE entry_tallies SET funds_recovered_fen = funds_recovered_fen - 1",
        )
        .await
        .expect("restore the tallies");
    // And the open tallies against the open entries handed over (one here).
    let tamper =
        |by: i32| format!("UPDATE entry_open_tallies SET transferred = transferred + {by}");
    let changed = db
        .writer()
        .execute_unprepared(&tamper(1))
        .await
        .expect("tamper with the open tallies");
    assert_eq!(changed.rows_affected(), 1);
    let verified = ledger
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(!verified.valid);
    assert!(
        verified.tally_fault.contains("open tallies"),
        "{verified:?}"
    );
    db.writer()
        .execute_unprepared(&tamper(-1))
        .await
        .expect("restore the open tallies");
    let id = name.trim_start_matches("entries/");
    db.writer()
        .execute_unprepared(&format!(
            "UPDATE postings SET actor = 'mallory' WHERE entry_id = '{id}' AND seq = 3"
        ))
        .await
        .expect("tamper");
    let verified = ledger
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(!verified.valid);
    assert_eq!(verified.faults.len(), 1, "{verified:?}");
    assert_eq!(verified.faults[0].posting, format!("{name}/postings/3"));
    assert_eq!(verified.faults[0].kind, "ALTERED");

    // Deleting the newest posting is caught too.
    db.writer()
        .execute_unprepared(&format!(
            "UPDATE postings SET actor = 'unit-xn' WHERE entry_id = '{id}' AND seq = 3"
        ))
        .await
        .expect("restore");
    db.writer()
        .execute_unprepared(&format!(
            "DELETE FROM postings WHERE entry_id = '{id}' AND seq = {}",
            history.postings.len()
        ))
        .await
        .expect("delete");
    let verified = ledger
        .verify_journal(authed(
            &office(),
            VerifyJournalRequest {
                entry: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify")
        .into_inner();
    assert_eq!(verified.faults[0].kind, "TRUNCATED", "{verified:?}");
    assert_eq!(
        verified.faults[0].posting,
        format!("{name}/postings/{}", history.postings.len())
    );
}

/// 补录: an administrator moving a paper ledger in records each step on the
/// day it happened; the dates the books derive (done, transferred, written
/// off) and the on-time rate follow those days. A day still ahead, a day
/// before the last step, or a day given by anyone else is refused.
/// Every submission is a new version, a rejected one included, and a
/// decision names exactly the pending version.
#[tokio::test]
async fn a_rejected_plan_version_is_never_given_again() {
    let app = spawn().await;
    seed_rounds(&app);
    let mut ledger = app.ledger();
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let name = app
        .wait_for(&format!("inspection = \"{INSPECTION}\""), 1)
        .await[0]
        .name
        .clone();
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.wait_for("state = ENTRY_STATE_HANDED_OVER", 1).await;
    ledger
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge");
    let submit = || {
        let mut ledger = app.ledger();
        let name = name.clone();
        async move {
            ledger
                .submit_plan(authed(
                    &unit(),
                    SubmitPlanRequest {
                        name,
                        plan: Some(plan((2026, 8, 1))),
                        ..Default::default()
                    },
                ))
                .await
                .expect("submit")
                .into_inner()
        }
    };
    let approve = |version: i32| {
        let mut ledger = app.ledger();
        let request = authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version,
                ..Default::default()
            },
        );
        async move { ledger.approve_plan(request).await }
    };

    assert_eq!(submit().await.pending_plan.expect("pending").version, 1);
    ledger
        .reject_plan(authed(
            &office(),
            RejectPlanRequest {
                name: name.clone(),
                version: 1,
                reason: "措施不具体".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("reject");
    let resubmitted = submit().await;
    assert_eq!(resubmitted.pending_plan.expect("pending").version, 2);
    assert_eq!(resubmitted.latest_plan_version, 2);

    // The rejected version and one never submitted approve nothing.
    for (version, what) in [(1, "was decided already"), (3, "was never submitted")] {
        let status = refused(
            &app,
            &name,
            approve(version),
            Code::FailedPrecondition,
            "PLAN_VERSION_MISMATCH",
        )
        .await;
        assert!(status.message().contains(what), "{status:?}");
        assert!(
            status
                .message()
                .contains("ENTRY_STATE_PLANNED with version 2 pending"),
            "{status:?}"
        );
    }
    let approved = approve(2).await.expect("approve").into_inner();
    assert_eq!(approved.plan.expect("plan").version, 2);
    // A revision while rectifying is version 3; version 2 is in force.
    assert_eq!(submit().await.pending_plan.expect("pending").version, 3);
    refused(
        &app,
        &name,
        approve(2),
        Code::FailedPrecondition,
        "PLAN_VERSION_MISMATCH",
    )
    .await;

    let journal = app.get(&name).await;
    let versions: Vec<i32> = journal
        .postings
        .iter()
        .filter_map(|p| match &p.detail {
            Some(posting::Detail::PlanSubmitted(plan)) => Some(plan.version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert!(ledger_verify(&app).await.faults.is_empty());
}

#[tokio::test]
async fn steps_recorded_after_the_fact_keep_their_days() {
    let app = spawn().await;
    seed_rounds(&app);
    let mut ledger = app.ledger();
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    app.wait_for(&format!("inspection = \"{INSPECTION}\""), 1)
        .await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let name = app
        .wait_for(
            &format!("inspection = \"{INSPECTION}\" AND state = ENTRY_STATE_HANDED_OVER"),
            1,
        )
        .await[0]
        .name
        .clone();
    // The hand-over took effect on the feedback date (反馈交账), not today.
    let handed = app.get(&name).await;
    assert_eq!(handed.postings[1].effective_date, Some(date(2026, 6, 1)));
    assert_eq!(handed.last_step_date, Some(date(2026, 6, 1)));

    let ack = |token: String, day| {
        let mut ledger = app.ledger();
        let name = name.clone();
        async move {
            ledger
                .acknowledge_hand_over(authed(
                    &token,
                    AcknowledgeHandOverRequest {
                        name,
                        effective_date: Some(day),
                        ..Default::default()
                    },
                ))
                .await
        }
    };
    // The office may not sign the unit's step, on any day.
    refused(
        &app,
        &name,
        ack(office(), date(2026, 6, 3)),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    )
    .await;
    let status = refused(
        &app,
        &name,
        ack(admin(), date(2099, 1, 1)),
        Code::InvalidArgument,
        "IN_THE_FUTURE",
    )
    .await;
    assert_eq!(bad_field(&status), "effective_date");
    refused(
        &app,
        &name,
        ack(admin(), date(2026, 5, 20)),
        Code::FailedPrecondition,
        "STEP_BEFORE_LAST",
    )
    .await;
    let acked = ack(admin(), date(2026, 6, 3))
        .await
        .expect("acknowledged after the fact")
        .into_inner();
    assert_eq!(acked.last_step_date, Some(date(2026, 6, 3)));

    let day = |d| Some(date(2026, 6, d));
    ledger
        .submit_plan(authed(
            &admin(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 7, 20))),
                effective_date: day(10),
                ..Default::default()
            },
        ))
        .await
        .expect("plan");
    ledger
        .approve_plan(authed(
            &admin(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                effective_date: day(12),
                ..Default::default()
            },
        ))
        .await
        .expect("approve");
    let tokens = (admin(), admin());
    let days = [day(14), day(15), day(25)];
    transfer_answered_on(&mut ledger, (&tokens.0, &tokens.1), &name, days).await;
    for (m, d) in [("m1", 28), ("m2", 29)] {
        ledger
            .post_progress(authed(
                &admin(),
                PostProgressRequest {
                    name: name.clone(),
                    measure_id: m.into(),
                    description: "完成".into(),
                    measure_done: true,
                    effective_date: day(d),
                    ..Default::default()
                },
            ))
            .await
            .expect("progress");
    }
    ledger
        .request_write_off(authed(
            &admin(),
            RequestWriteOffRequest {
                name: name.clone(),
                closure_statement: "整改到位".into(),
                evidence: evidence("销号申请.pdf"),
                figures: Some(RectificationFigures::default()),
                effective_date: day(30),
                ..Default::default()
            },
        ))
        .await
        .expect("request the write-off");
    let verifier = testing::token("admin-2", "", &[fiveledger_platform::auth::Role::Admin]);
    ledger
        .approve_write_off(authed(
            &verifier,
            ApproveWriteOffRequest {
                name: name.clone(),
                effective_date: Some(date(2026, 7, 2)),
                ..Default::default()
            },
        ))
        .await
        .expect("approve the write-off");

    let entry = app.get(&name).await;
    assert_eq!(entry.state(), EntryState::WrittenOff);
    assert_eq!(entry.first_written_off_date, Some(date(2026, 7, 2)));
    let t = &entry.transfers[0];
    assert_eq!(t.transfer_date, day(14));
    assert_eq!(t.result_date, day(25));
    let plan = entry.plan.expect("plan");
    assert_eq!(plan.measures[1].done_date, day(29));
    // Every posting shows the day it took effect, in order from the
    // hand-over on (the opening is dated the day the ledger opened the
    // entry); the journal still verifies (the day is part of the hash).
    let days: Vec<_> = entry.postings[1..]
        .iter()
        .map(|p| p.effective_date.expect("every posting has its day"))
        .collect();
    assert!(
        days.windows(2)
            .all(|w| (w[0].year, w[0].month, w[0].day) <= (w[1].year, w[1].month, w[1].day))
    );
    let verified = ledger
        .verify_journal(authed(
            &admin(),
            VerifyJournalRequest {
                entry: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.faults.is_empty(), "{verified:?}");
    // Written off on 2 July, before the original due date (31 July): on time.
    let stats = app
        .statistics()
        .get_statistics(authed(
            &admin(),
            GetStatisticsRequest {
                inspection: INSPECTION.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("statistics")
        .into_inner();
    let counts = stats.total.and_then(|t| t.counts).expect("counts");
    assert_eq!((counts.written_off_on_time, counts.due_so_far), (1, 1));
}

/// A step of the refusal matrix, taken by the caller whose capacity it needs.
#[derive(Debug, Clone, Copy)]
enum Step {
    PostProgress,
    RejectPlan,
    AcknowledgeTransfer,
    ReturnTransferResult,
    ApproveWriteOff,
    RejectWriteOff,
    Reopen,
}

async fn take(
    app: &TestApp,
    name: &str,
    step: Step,
) -> Result<tonic::Response<LedgerEntry>, tonic::Status> {
    let mut ledger = app.ledger();
    let name = name.to_owned();
    match step {
        Step::PostProgress => {
            ledger
                .post_progress(authed(
                    &unit(),
                    PostProgressRequest {
                        name,
                        description: "进展".into(),
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::RejectPlan => {
            ledger
                .reject_plan(authed(
                    &office(),
                    RejectPlanRequest {
                        name,
                        version: 1,
                        reason: "不具体".into(),
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::AcknowledgeTransfer => {
            ledger
                .acknowledge_transfer(authed(
                    &org_department(),
                    AcknowledgeTransferRequest {
                        name,
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::ReturnTransferResult => {
            ledger
                .return_transfer_result(authed(
                    &org_department(),
                    ReturnTransferResultRequest {
                        name,
                        result: "已处理".into(),
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::ApproveWriteOff => {
            ledger
                .approve_write_off(authed(
                    &commission(),
                    ApproveWriteOffRequest {
                        name,
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::RejectWriteOff => {
            ledger
                .reject_write_off(authed(
                    &commission(),
                    RejectWriteOffRequest {
                        name,
                        reason: "证据不足".into(),
                        ..Default::default()
                    },
                ))
                .await
        }
        Step::Reopen => {
            ledger
                .reopen(authed(
                    &office(),
                    ReopenRequest {
                        name,
                        inspection: LOOK_BACK.into(),
                        reason: "回头看".into(),
                        due_date: Some(date(2027, 3, 1)),
                        ..Default::default()
                    },
                ))
                .await
        }
    }
}

/// Every step out of its state is FAILED_PRECONDITION naming the state the
/// entry is in, and writes nothing; the entry is driven through its states
/// and, in each, the steps that state does not allow are tried.
#[tokio::test]
async fn every_step_out_of_its_state_is_refused_naming_the_state() {
    use Step::*;
    let app = spawn().await;
    seed_rounds(&app);
    let mut ledger = app.ledger();
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let name = app.wait_for("", 1).await[0].name.clone();
    let check = |state: EntryState, steps: Vec<Step>| {
        let (app, name) = (&app, name.clone());
        async move {
            assert_eq!(app.get(&name).await.state(), state);
            for step in steps {
                let status = refused(
                    app,
                    &name,
                    take(app, &name, step),
                    Code::FailedPrecondition,
                    "WRONG_STATE",
                )
                .await;
                assert!(
                    status.message().contains(state.as_str_name()),
                    "{step:?} in {state:?}: {status:?}"
                );
            }
        }
    };
    check(EntryState::Open, vec![RejectPlan, Reopen]).await;
    // Before hand-over the unit and the supervising body do not see the
    // entry at all.
    for step in [PostProgress, ApproveWriteOff, RejectWriteOff] {
        refused(
            &app,
            &name,
            take(&app, &name, step),
            Code::NotFound,
            "NOT_FOUND",
        )
        .await;
    }

    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    app.wait_for("state = ENTRY_STATE_HANDED_OVER", 1).await;
    check(
        EntryState::HandedOver,
        vec![
            PostProgress,
            RejectPlan,
            ApproveWriteOff,
            RejectWriteOff,
            Reopen,
        ],
    )
    .await;

    ledger
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge");
    check(EntryState::Acknowledged, vec![RejectPlan, Reopen]).await;

    ledger
        .submit_plan(authed(
            &unit(),
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 8, 1))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan");
    ledger
        .approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("approve");
    ledger
        .transfer(authed(
            &office(),
            TransferRequest {
                name: name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                matter: "移交组织部".into(),
                due_date: Some(date(2026, 10, 31)),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer");
    check(
        EntryState::Transferred,
        vec![RejectPlan, ApproveWriteOff, RejectWriteOff, Reopen],
    )
    .await;

    take(&app, &name, AcknowledgeTransfer)
        .await
        .expect("acknowledge the transfer");
    take(&app, &name, ReturnTransferResult)
        .await
        .expect("result");
    // Back to rectifying: the (former) receiver may not act on the transfer.
    check(
        EntryState::Rectifying,
        vec![
            AcknowledgeTransfer,
            ReturnTransferResult,
            RejectPlan,
            ApproveWriteOff,
            RejectWriteOff,
            Reopen,
        ],
    )
    .await;

    finish_and_request(&mut ledger, &name, "完成", "已整改", "整改报告.pdf").await;
    check(
        EntryState::AwaitingVerification,
        vec![
            PostProgress,
            AcknowledgeTransfer,
            ReturnTransferResult,
            RejectPlan,
            Reopen,
        ],
    )
    .await;

    take(&app, &name, ApproveWriteOff)
        .await
        .expect("written off");
    check(
        EntryState::WrittenOff,
        vec![
            PostProgress,
            AcknowledgeTransfer,
            ReturnTransferResult,
            RejectPlan,
            ApproveWriteOff,
            RejectWriteOff,
        ],
    )
    .await;
}

/// Is `t` a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`, ids not zero)?
fn is_traceparent(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && s.bytes().any(|b| b != b'0')
    };
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && parts[3].len() == 2
        && parts[3].bytes().all(|b| b.is_ascii_hexdigit())
}

/// 经手人签字: a step sent without a request id or a traceparent is still
/// signed with both: a request id of the server's (two such steps are two
/// requests, neither a retry of the other) and the trace of the RPC's span.
#[tokio::test]
async fn a_step_without_request_id_or_traceparent_is_signed_by_the_server() {
    // Telemetry as the binary installs it: the RPC's span has a trace.
    let _telemetry = fiveledger_platform::telemetry::init_with(
        &fiveledger_platform::settings::LogSettings {
            format: "text".into(),
            filter: "warn".into(),
            ..Default::default()
        },
        opentelemetry_sdk::trace::SdkTracerProvider::builder().build(),
    );
    let app = spawn().await;
    seed_rounds(&app);
    let mut ledger = app.ledger();
    app.upstream
        .freeze(INSPECTION, vec![problem("p1", "xingning")])
        .await;
    let name = app.wait_for("", 1).await[0].name.clone();
    for _ in 0..2 {
        let request = authed(
            &office(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "抽查".into(),
                ..Default::default()
            },
        );
        assert!(request.metadata().get("traceparent").is_none());
        ledger.post_supervision(request).await.expect("supervision");
    }
    let entry = app.get(&name).await;
    let steps: Vec<&Posting> = entry
        .postings
        .iter()
        .filter(|p| p.kind() == PostingKind::Supervision)
        .collect();
    assert_eq!(steps.len(), 2, "the second identical step is not a retry");
    for p in &steps {
        assert!(p.request_id.starts_with("server:"), "{p:?}");
        assert!(p.request_id.len() > "server:".len(), "{p:?}");
        assert!(is_traceparent(&p.traceparent), "{p:?}");
        assert_eq!(p.actor, "office-nn");
    }
    assert_ne!(steps[0].request_id, steps[1].request_id);
    assert_ne!(steps[0].traceparent, steps[1].traceparent);
    // The client's own request id is kept as given.
    ledger
        .post_supervision(authed(
            &office(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "复查".into(),
                request_id: "client-req-1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("supervision with an id");
    let last = app.get(&name).await.postings.pop().expect("posting");
    assert_eq!(last.request_id, "client-req-1");
    assert!(is_traceparent(&last.traceparent), "{last:?}");
    // The journal still verifies (both fields are hashed as recorded).
    let verified = ledger
        .verify_journal(authed(
            &admin(),
            VerifyJournalRequest {
                entry: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
}

/// VerifyJournal replays every journal and compares the whole projected
/// row: a tampered column of any kind is PROJECTION_MISMATCH naming the
/// column, a posting deleted in the middle is MISSING, postings whose entry
/// row was deleted are ORPHANED; an untouched entry has no fault.
#[tokio::test]
async fn verify_journal_names_every_kind_of_tampering() {
    let app = spawn().await;
    seed_rounds(&app);
    let tampered = [
        ("category", "'other'"),
        ("round", "'rounds/r1'"),
        ("severity", "1"),
        ("fixed_on_the_spot", "1"),
        ("transfer_count", "2"),
        ("reopen_count", "1"),
        ("first_written_off_date", "'2026-06-02'"),
        ("funds_recovered_fen", "7"),
        ("colour_floor", "3"),
        ("yellow_count", "1"),
        ("next_due_date", "'2099-01-01'"),
        ("attention", "4"),
        ("due_date", "'2026-08-31'"),
    ];
    let n = tampered.len() + 3;
    app.upstream
        .freeze(
            INSPECTION,
            (0..n)
                .map(|i| problem(&format!("v{i:02}"), "xingning"))
                .collect(),
        )
        .await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let mut entries = app.wait_for("state = ENTRY_STATE_HANDED_OVER", n).await;
    entries.sort_by(|a, b| a.problem.cmp(&b.problem));
    let ids: Vec<String> = entries
        .iter()
        .map(|e| e.name.trim_start_matches("entries/").to_owned())
        .collect();
    let clean = ledger_verify(&app).await;
    assert!(clean.valid, "{clean:?}");

    let db = app.db().await;
    let exec = |sql: String| {
        let db = db.clone();
        async move { db.writer().execute_unprepared(&sql).await.expect(&sql) }
    };
    for ((column, value), id) in tampered.iter().zip(&ids) {
        exec(format!(
            "UPDATE entries SET {column} = {value} WHERE id = '{id}'"
        ))
        .await;
    }
    // A middle posting: the entry gets a third one first.
    let missing = &ids[tampered.len()];
    app.ledger()
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: format!("entries/{missing}"),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge");
    exec(format!(
        "DELETE FROM postings WHERE entry_id = '{missing}' AND seq = 2"
    ))
    .await;
    let orphaned = &ids[tampered.len() + 1];
    exec(format!("DELETE FROM entries WHERE id = '{orphaned}'")).await;
    let untouched = format!("entries/{}", ids[tampered.len() + 2]);

    let verified = ledger_verify(&app).await;
    assert!(!verified.valid);
    let fault = |id: &str| {
        let entry = format!("entries/{id}");
        verified
            .faults
            .iter()
            .find(|f| f.entry == entry)
            .unwrap_or_else(|| panic!("no fault for {entry}: {verified:?}"))
    };
    for ((column, _), id) in tampered.iter().zip(&ids) {
        let f = fault(id);
        assert_eq!(f.kind, "PROJECTION_MISMATCH", "{column}: {f:?}");
        assert!(f.description.contains(column), "{column}: {f:?}");
    }
    let f = fault(missing);
    assert_eq!(f.kind, "MISSING", "{f:?}");
    assert_eq!(f.posting, format!("entries/{missing}/postings/2"));
    let f = fault(orphaned);
    assert_eq!(f.kind, "ORPHANED", "{f:?}");
    assert_eq!(f.posting, format!("entries/{orphaned}/postings/1"));
    assert!(verified.faults.iter().all(|f| f.entry != untouched));
    assert_eq!(verified.faults.len(), n - 1, "{verified:?}");
    // A caller who sees only a subtree is not told of postings without an
    // entry (they belong to no scope), but still of its own entries.
    let scoped = app
        .ledger()
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(
        scoped.faults.iter().all(|f| f.kind != "ORPHANED"),
        "{scoped:?}"
    );
    assert_eq!(scoped.faults.len(), n - 2, "{scoped:?}");
}

async fn ledger_verify(app: &TestApp) -> VerifyJournalResponse {
    app.ledger()
        .verify_journal(authed(&admin(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner()
}

/// `days` before (or, negative, after) today, as a proto date.
fn days_from_today(days: i64) -> fiveledger_proto::google::r#type::Date {
    fiveledger_platform::time::to_date(
        chrono::Utc::now().date_naive() - chrono::Duration::days(days),
    )
}

/// An inspection of Xingning the fake rounds service knows, fed back
/// `feedback_days_ago`, with one problem `id`.
fn reported_inspection(
    app: &TestApp,
    inspection: &str,
    id: &str,
    feedback_days_ago: i64,
) -> (
    fiveledger_proto::rounds::Inspection,
    fiveledger_proto::issues::Problem,
) {
    let i = fiveledger_proto::rounds::Inspection {
        name: inspection.into(),
        target: "organisations/xingning".into(),
        target_path: "guangxi/nanning/xingning".into(),
        round_kind: fiveledger_proto::rounds::RoundKind::Regular as i32,
        feedback_date: Some(days_from_today(feedback_days_ago)),
        ..Default::default()
    };
    app.upstream
        .data
        .lock()
        .expect("lock")
        .inspections
        .insert(inspection.into(), i.clone());
    let p = fiveledger_proto::issues::Problem {
        inspection: inspection.into(),
        ..problem(id, "xingning")
    };
    (i, p)
}

/// 报告报账 on the report day: a list frozen weeks after its inspection was
/// reported opens its entries on the report date, so the journal's day
/// order starts there; the hand-over on the (later) feedback date follows
/// in order, whether the feedback comes after the list or before it.
#[tokio::test]
async fn an_entry_opens_on_the_report_date_of_its_inspection() {
    let app = spawn().await;
    seed_rounds(&app);
    let reported = days_from_today(40);

    // The list first, then the feedback.
    let after = "rounds/r9/inspections/xn-after";
    let (inspection, p) = reported_inspection(&app, after, "p-after", 10);
    app.upstream
        .freeze_reported(after, vec![p], Some(reported))
        .await;
    let name = app.wait_for(&format!("inspection = \"{after}\""), 1).await[0]
        .name
        .clone();
    let opened = app.get(&name).await;
    assert_eq!(opened.state(), EntryState::Open);
    assert_eq!(opened.postings.len(), 1);
    assert_eq!(opened.postings[0].kind(), PostingKind::Open);
    assert_eq!(opened.postings[0].effective_date, Some(reported));
    assert_eq!(opened.last_step_date, Some(reported));
    app.upstream.feedback(&inspection).await;
    app.wait_for(
        &format!("inspection = \"{after}\" AND state = ENTRY_STATE_HANDED_OVER"),
        1,
    )
    .await;
    let handed = app.get(&name).await;
    assert_eq!(handed.postings[1].kind(), PostingKind::HandOver);
    assert_eq!(handed.postings[1].effective_date, Some(days_from_today(10)));
    assert_eq!(handed.last_step_date, Some(days_from_today(10)));

    // The feedback first: the entry is handed over as it opens, each
    // posting on its own day.
    let before = "rounds/r9/inspections/xn-before";
    let (inspection, p) = reported_inspection(&app, before, "p-before", 10);
    app.upstream.feedback(&inspection).await;
    app.upstream
        .freeze_reported(before, vec![p], Some(reported))
        .await;
    let name = app
        .wait_for(
            &format!("inspection = \"{before}\" AND state = ENTRY_STATE_HANDED_OVER"),
            1,
        )
        .await[0]
        .name
        .clone();
    let handed = app.get(&name).await;
    let days: Vec<_> = handed.postings.iter().map(|p| p.effective_date).collect();
    assert_eq!(days, vec![Some(reported), Some(days_from_today(10))]);
    assert_eq!(handed.handed_over_date, Some(days_from_today(10)));

    // The day order now holds from the opening: acknowledging the hand-over
    // before the feedback date is refused, on it accepted.
    let ack = |day| {
        let mut ledger = app.ledger();
        let name = name.clone();
        async move {
            ledger
                .acknowledge_hand_over(authed(
                    &admin(),
                    AcknowledgeHandOverRequest {
                        name,
                        effective_date: Some(day),
                        ..Default::default()
                    },
                ))
                .await
        }
    };
    refused(
        &app,
        &name,
        ack(days_from_today(20)),
        Code::FailedPrecondition,
        "STEP_BEFORE_LAST",
    )
    .await;
    let acked = ack(days_from_today(10)).await.expect("ack").into_inner();
    assert_eq!(acked.last_step_date, Some(days_from_today(10)));
    // The opening's day is part of its hash: the journal still verifies.
    let verified = ledger_verify(&app).await;
    assert!(verified.valid, "{verified:?}");
}

/// A report date still ahead, or not a calendar date, opens the entries
/// today instead of stopping the consumer.
#[tokio::test]
async fn a_report_date_ahead_or_invalid_opens_the_entry_today() {
    let app = spawn().await;
    seed_rounds(&app);
    let today = days_from_today(0);
    let cases = [
        ("rounds/r9/inspections/xn-ahead", Some(days_from_today(-5))),
        ("rounds/r9/inspections/xn-invalid", Some(date(2026, 13, 40))),
        ("rounds/r9/inspections/xn-none", None),
    ];
    for (i, (inspection, report_date)) in cases.into_iter().enumerate() {
        let (_, p) = reported_inspection(&app, inspection, &format!("p-{i}"), 1);
        app.upstream
            .freeze_reported(inspection, vec![p], report_date)
            .await;
    }
    for (inspection, _) in cases {
        let entries = app
            .wait_for(&format!("inspection = \"{inspection}\""), 1)
            .await;
        let entry = app.get(&entries[0].name).await;
        assert_eq!(
            entry.postings[0].effective_date,
            Some(today),
            "{inspection}"
        );
        assert_eq!(entry.last_step_date, Some(today), "{inspection}");
    }
}
