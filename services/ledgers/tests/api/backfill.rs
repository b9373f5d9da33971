//! Steps recorded after the fact (补录) by those who took them: the office,
//! the responsible unit and the receiving body date their own steps back,
//! within the `backfill_days` window; the postings say so, and the on-time
//! statistics count by the step's day, not the day it was recorded.

use crate::common;
use crate::ledger::refused;

use chrono::{TimeZone, Utc};
use common::*;
use fiveledger_ledgers::LedgersSettings;
use fiveledger_platform::testing::authed;
use fiveledger_platform::time::Clock;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::*;
use tonic::Code;

/// The service's today in these tests.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

/// A server whose window reaches back to 25 May 2026 (190 days before
/// 1 December), the inspection fed back on 1 June.
async fn spawn_windowed() -> TestApp {
    let app = spawn_with(
        LedgersSettings {
            backfill_days: 190,
            ..manual_sweep()
        },
        Clock::fixed(now()),
    )
    .await;
    seed_rounds(&app);
    app
}

/// Entries of `problems` handed over on the feedback date (1 June 2026,
/// due 31 July), sorted by problem.
async fn handed_over(app: &TestApp, problems: &[&str]) -> Vec<String> {
    app.upstream
        .freeze(
            INSPECTION,
            problems.iter().map(|p| problem(p, "xingning")).collect(),
        )
        .await;
    app.wait_for(&format!("inspection = \"{INSPECTION}\""), problems.len())
        .await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let mut entries = app
        .wait_for(
            &format!("inspection = \"{INSPECTION}\" AND state = ENTRY_STATE_HANDED_OVER"),
            problems.len(),
        )
        .await;
    entries.sort_by(|a, b| a.problem.cmp(&b.problem));
    entries.into_iter().map(|e| e.name).collect()
}

fn june(day: i32) -> Option<Date> {
    Some(date(2026, 6, day))
}

async fn acknowledge(
    app: &TestApp,
    token: &str,
    name: &str,
    day: Option<Date>,
    request_id: &str,
) -> Result<tonic::Response<LedgerEntry>, tonic::Status> {
    app.ledger()
        .acknowledge_hand_over(authed(
            token,
            AcknowledgeHandOverRequest {
                name: name.into(),
                effective_date: day,
                request_id: request_id.into(),
                ..Default::default()
            },
        ))
        .await
}

/// The latest posting of `name`'s journal (a step's answer carries none).
async fn last_posting(app: &TestApp, name: &str) -> Posting {
    app.get(name).await.postings.pop().expect("a posting")
}

#[tokio::test]
async fn the_office_the_unit_and_the_receiver_record_their_own_steps_after_the_fact() {
    assert_eq!(LedgersSettings::default().backfill_days, 1826, "five years");
    let app = spawn_windowed().await;
    let name = handed_over(&app, &["p1"]).await.remove(0);

    // A day still ahead names the field.
    let status = refused(
        &app,
        &name,
        acknowledge(&app, &unit(), &name, Some(date(2026, 12, 2)), "ack-f"),
        Code::InvalidArgument,
        "IN_THE_FUTURE",
    )
    .await;
    assert_eq!(bad_field(&status), "effective_date");
    // Further back than the window, even for the step's own taker.
    refused(
        &app,
        &name,
        acknowledge(&app, &unit(), &name, Some(date(2026, 5, 24)), "ack-w"),
        Code::FailedPrecondition,
        "BEYOND_BACKFILL_WINDOW",
    )
    .await;
    // Someone else's step: the office does not sign for the unit.
    refused(
        &app,
        &name,
        acknowledge(&app, &office(), &name, june(3), "ack-o"),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    )
    .await;

    // The unit's own step on its day; a retry is the same answer.
    let acked = acknowledge(&app, &unit(), &name, june(3), "ack-1")
        .await
        .expect("acknowledged after the fact")
        .into_inner();
    let posting = last_posting(&app, &name).await;
    assert!(posting.recorded_after_the_fact, "{posting:?}");
    assert_eq!(posting.effective_date, june(3));
    assert_eq!(posting.actor, "unit-xn");
    assert_eq!(acked.last_step_date, june(3));
    let again = acknowledge(&app, &unit(), &name, june(3), "ack-1")
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again, acked);
    assert_eq!(app.get(&name).await.posting_count, acked.posting_count);

    // A supervising body's remark is not one it may date back.
    let remark = |token: String, day: Option<Date>| {
        let mut ledger = app.ledger();
        let name = name.clone();
        async move {
            ledger
                .post_supervision(authed(
                    &token,
                    PostSupervisionRequest {
                        name,
                        remarks: "督促整改".into(),
                        effective_date: day,
                        ..Default::default()
                    },
                ))
                .await
        }
    };
    refused(
        &app,
        &name,
        remark(commission(), june(8)),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    )
    .await;
    // The unit's plan, the office's approval and transfer, and the
    // receiving body's acknowledgement and result, each on its day.
    plan_approved(&app, &name, (2026, 7, 20), june(5), june(6)).await;
    let mut ledger = app.ledger();
    let days = [june(7), june(8), june(20)];
    let answered =
        transfer_answered_on(&mut ledger, (&office(), &org_department()), &name, days).await;
    let journal = app.get(&name).await.postings;
    assert!(
        journal
            .iter()
            .rev()
            .take(3)
            .all(|p| p.recorded_after_the_fact)
    );
    let t = &answered.transfers[0];
    assert_eq!((t.transfer_date, t.result_date), (june(7), june(20)));
    // A step of today is not recorded after the fact.
    remark(commission(), None).await.expect("a remark of today");
    let posting = last_posting(&app, &name).await;
    assert!(!posting.recorded_after_the_fact, "{posting:?}");
    assert_eq!(posting.effective_date, Some(date(2026, 12, 1)));
    // The hand-over took effect on the feedback date but was not dated by
    // a caller.
    assert!(!app.get(&name).await.postings[1].recorded_after_the_fact);
}

/// Takes an entry from hand-over to write-off, every step dated back by
/// its taker: acknowledged on 3 June, planned, progressed and asked for on
/// `written_off - 1`, verified on `written_off`.
async fn written_off_on(app: &TestApp, name: &str, written_off: Date) {
    let mut ledger = app.ledger();
    acknowledge(app, &unit(), name, june(3), "")
        .await
        .expect("ack");
    plan_approved(app, name, (2026, 7, 20), june(5), june(6)).await;
    let asked = Some(
        fiveledger_platform::time::from_date("d", &written_off)
            .map(|d| fiveledger_platform::time::to_date(d - chrono::Days::new(1)))
            .expect("a date"),
    );
    let texts = ("完成", "整改到位", "销号申请.pdf");
    finish_and_request_on(&mut ledger, name, &["m1"], texts, asked).await;
    let approved = ledger
        .approve_write_off(authed(
            &office(),
            ApproveWriteOffRequest {
                name: name.into(),
                effective_date: Some(written_off),
                ..Default::default()
            },
        ))
        .await
        .expect("approve the write-off")
        .into_inner();
    assert_eq!(approved.first_written_off_date, Some(written_off));
    assert!(last_posting(app, name).await.recorded_after_the_fact);
}

#[tokio::test]
async fn on_time_statistics_count_by_the_step_s_day_not_the_day_it_was_recorded() {
    let app = spawn_windowed().await;
    // All three due 31 July (feedback 1 June, sixty days); all recorded on
    // 1 December.
    let names = handed_over(&app, &["p1", "p2", "p3"]).await;
    // On time though recorded months later.
    written_off_on(&app, &names[0], date(2026, 7, 20)).await;
    // Late though recorded the same day as the on-time one.
    written_off_on(&app, &names[1], date(2026, 8, 15)).await;
    // On the due date itself: on time.
    written_off_on(&app, &names[2], date(2026, 7, 31)).await;
    let counts = app
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
        .into_inner()
        .total
        .and_then(|t| t.counts)
        .expect("counts");
    assert_eq!(counts.found, 3);
    assert_eq!(counts.written_off, 3);
    assert_eq!((counts.written_off_on_time, counts.due_so_far), (2, 3));
    assert!((counts.on_time_rate - 2.0 / 3.0).abs() < 1e-9, "{counts:?}");
    assert_eq!(counts.overdue, 0, "{counts:?}");
}
