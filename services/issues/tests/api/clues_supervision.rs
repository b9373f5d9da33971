//! Clue supervision as the source runs it (L3127–3311): time limits per
//! disposal way with four-colour warnings and one notice per change, the
//! collective disposal decision (集体研判), and the monthly reconciliation
//! (对账销号) reproducible from the clue journal.

use crate::clues::{clock_at, day, proto_day, register};
use crate::common;

use common::*;
use fiveledger_issues::IssuesSettings;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::*;
use fiveledger_proto::types::{DeadlineKind, NoticeKind, WarningColour, WarningDetail};
use tonic::Code;

fn set_day(clock: &Clock, d: chrono::NaiveDate) {
    clock.set(d.and_hms_opt(12, 0, 0).expect("noon").and_utc());
}

/// Short time limits, no periodic sweep (the tests sweep on demand); a
/// disposal decided as by default, by three signers at three levels.
fn settings() -> IssuesSettings {
    IssuesSettings {
        clue_talk_or_letter_days: 10,
        clue_preliminary_verification_days: 40,
        clue_hold_days: 60,
        clue_conclude_days: 5,
        clue_sweep_interval_seconds: 0,
        ..Default::default()
    }
}

fn jw(n: u32) -> String {
    testing::token(
        &format!("jw-{n}"),
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission],
    )
}

/// One signature's request: `method` on `on` at `level`.
fn signing(
    name: &str,
    method: DisposalMethod,
    on: chrono::NaiveDate,
    level: ClueDecisionLevel,
) -> DisposeClueRequest {
    DisposeClueRequest {
        name: name.into(),
        disposal: Some(ClueDisposal {
            method: method as i32,
            date: proto_day(on),
            ..Default::default()
        }),
        level: level as i32,
        ..Default::default()
    }
}

async fn dispose(
    app: &TestApp,
    token: &str,
    name: &str,
    method: DisposalMethod,
    on: chrono::NaiveDate,
    level: ClueDecisionLevel,
) -> Result<Clue, tonic::Status> {
    app.clues()
        .dispose_clue(authed(token, signing(name, method, on, level)))
        .await
        .map(tonic::Response::into_inner)
}

/// A disposal decided by the city commission's three signers at the three
/// levels (the defaults).
async fn decide(
    app: &TestApp,
    name: &str,
    method: DisposalMethod,
    on: chrono::NaiveDate,
) -> Result<Clue, tonic::Status> {
    decide_as(app, &commission(), name, method, on).await
}

async fn decide_as(
    app: &TestApp,
    signers: &[String; 3],
    name: &str,
    method: DisposalMethod,
    on: chrono::NaiveDate,
) -> Result<Clue, tonic::Status> {
    // `decide` names each signer's level.
    let request = signing(name, method, on, ClueDecisionLevel::Unspecified);
    app.decide(signers, request).await
}

async fn outcome(
    app: &TestApp,
    name: &str,
    kind: ClueOutcomeKind,
    on: chrono::NaiveDate,
) -> Result<Clue, tonic::Status> {
    app.clues()
        .record_clue_outcome(authed(
            &jw(1),
            RecordClueOutcomeRequest {
                name: name.into(),
                outcome: Some(ClueOutcome {
                    kind: kind as i32,
                    date: proto_day(on),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn sweep(app: &TestApp, token: &str) -> Result<SweepClueWarningsResponse, tonic::Status> {
    app.clues()
        .sweep_clue_warnings(authed(token, SweepClueWarningsRequest::default()))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(app: &TestApp, name: &str) -> Clue {
    app.clues()
        .get_clue(authed(&jw(1), GetClueRequest { name: name.into() }))
        .await
        .expect("get")
        .into_inner()
}

async fn warnings(app: &TestApp) -> Vec<WarningDetail> {
    app.events("ClueWarned")
        .await
        .into_iter()
        .map(|e| {
            e.payload
                .expect("payload")
                .to_msg::<ClueWarned>()
                .expect("ClueWarned")
                .warning
                .expect("warning")
        })
        .collect()
}

#[tokio::test]
async fn each_disposal_way_has_its_own_time_limit() {
    let app = spawn_with(settings(), clock_at(day(3, 2))).await;
    let registered = register(&app).await;
    // Before its disposal: the transfer's due date (30 days), green.
    assert_eq!(registered.due_date, proto_day(day(4, 1)));
    assert_eq!(registered.colour, WarningColour::Green as i32);
    for (method, due) in [
        (DisposalMethod::TalkOrLetter, day(3, 12)),
        (DisposalMethod::PreliminaryVerification, day(4, 11)),
        (DisposalMethod::Hold, day(5, 1)),
        (DisposalMethod::Conclude, day(3, 7)),
    ] {
        let clue = register(&app).await;
        let disposed = decide(&app, &clue.name, method, day(3, 2))
            .await
            .expect("dispose");
        assert_eq!(disposed.state, ClueState::Disposed as i32);
        assert_eq!(disposed.due_date, proto_day(due), "{method:?}");
        // Counted from receipt, not from the decision's date.
        assert_eq!(get(&app, &clue.name).await.due_date, proto_day(due));
    }
    // Concluded: no time limit and no colour.
    let clue = register(&app).await;
    decide(&app, &clue.name, DisposalMethod::Hold, day(3, 2))
        .await
        .expect("dispose");
    let done = outcome(&app, &clue.name, ClueOutcomeKind::Cleared, day(3, 2))
        .await
        .expect("outcome");
    assert!(done.due_date.is_none());
    assert_eq!(done.colour, WarningColour::Unspecified as i32);
}

#[tokio::test]
async fn each_colour_change_is_notified_once() {
    let clock = clock_at(day(3, 2));
    let app = spawn_with(settings(), clock.clone()).await;
    let clue = register(&app).await;
    decide(&app, &clue.name, DisposalMethod::TalkOrLetter, day(3, 2))
        .await
        .expect("dispose");
    // Due 12 March: green, nothing to send.
    let quiet = sweep(&app, &jw(1)).await.expect("sweep");
    assert_eq!(quiet.warnings_posted, 0);

    // Blue from 5 March (7 days before): one reminder, and only one.
    set_day(&clock, day(3, 6));
    let blue = sweep(&app, &jw(1)).await.expect("sweep");
    assert_eq!((blue.warnings_posted, blue.reminders), (1, 1));
    assert_eq!(sweep(&app, &jw(1)).await.expect("again").warnings_posted, 0);
    assert_eq!(
        get(&app, &clue.name).await.colour,
        WarningColour::Blue as i32
    );

    // Overdue: two sweeps at once (two replicas) send one notice.
    set_day(&clock, day(3, 13));
    let (one, other) = (jw(1), office());
    let (a, b) = tokio::join!(sweep(&app, &one), sweep(&app, &other));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.supervision_notices + b.supervision_notices, 1);
    assert_eq!(a.warnings_posted + b.warnings_posted, 1);

    // Seriously overdue (30 days after): a circular.
    set_day(&clock, day(4, 12));
    let red = sweep(&app, &office()).await.expect("sweep");
    assert_eq!((red.warnings_posted, red.circulars), (1, 1));
    let shown = get(&app, &clue.name).await;
    assert_eq!(shown.colour, WarningColour::Red as i32);

    let posted = warnings(&app).await;
    assert_eq!(posted.len(), 3, "one event per change, never two");
    let kinds: Vec<NoticeKind> = posted
        .iter()
        .map(|w| w.notice.as_ref().expect("notice").kind())
        .collect();
    assert_eq!(
        kinds,
        [
            NoticeKind::Reminder,
            NoticeKind::SupervisionNotice,
            NoticeKind::Circular
        ]
    );
    for w in &posted {
        assert_eq!(w.kind, DeadlineKind::Clue as i32);
        assert_eq!(w.item, "clue");
        assert_eq!(w.due_date, proto_day(day(3, 12)));
        let notice = w.notice.as_ref().expect("notice");
        assert!(
            notice
                .number
                .starts_with(&format!("{}/warnings/", clue.name))
        );
        // The cadre's name stays in the clue.
        assert!(!notice.text.contains("某某"), "{}", notice.text);
    }
    let yellow = posted[1].notice.as_ref().expect("notice");
    assert_eq!(yellow.addressees, ["organisations/nanning-jw"]);
    assert_eq!(yellow.reply_due_date, proto_day(day(3, 23)));
    assert!(yellow.text.starts_with("督办通知书"), "{}", yellow.text);
    let circular = posted[2].notice.as_ref().expect("notice");
    assert_eq!(
        circular.addressees,
        ["organisations/nanning-jw", "office:guangxi/nanning"]
    );

    // Statistics count the clue by its colour.
    let stats = app
        .clues()
        .get_clue_statistics(authed(&jw(1), GetClueStatisticsRequest::default()))
        .await
        .expect("statistics")
        .into_inner();
    let counts = stats.rows[0].counts.expect("counts");
    assert_eq!((counts.red, counts.yellow, counts.green), (1, 0, 0));

    // Reopened, its clock starts again; once red it never shows below
    // yellow, and the easing is notified once.
    app.clues()
        .reopen_clue(authed(
            &jw(1),
            ReopenClueRequest {
                name: clue.name.clone(),
                reason: "新的举报".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen");
    let reopened = get(&app, &clue.name).await;
    assert_eq!(reopened.due_date, proto_day(day(5, 12)));
    assert_eq!(reopened.colour, WarningColour::Yellow as i32);
    let eased = sweep(&app, &jw(1)).await.expect("sweep");
    assert_eq!((eased.warnings_posted, eased.eased), (1, 1));
    assert_eq!(sweep(&app, &jw(1)).await.expect("again").warnings_posted, 0);

    // Outside the clue's scope nothing is swept; the public may not sweep.
    let elsewhere = testing::token("jw-lz", "guangxi/liuzhou", &[Role::DisciplineCommission]);
    set_day(&clock, day(6, 1));
    let none = sweep(&app, &elsewhere).await.expect("sweep");
    assert_eq!((none.clues_checked, none.warnings_posted), (0, 0));
    let public = testing::token("p", "", &[Role::Public]);
    let err = sweep(&app, &public).await.expect_err("public");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(warnings(&app).await.len(), 4);
}

/// By default a disposal is the three-level collective decision
/// (三级集体研判, "任何个人不得擅自决策"): one signature records itself
/// and decides nothing, nor do two; the same person counts once; the
/// third distinct signer, with every level signed, disposes of the clue.
#[tokio::test]
async fn a_disposal_is_a_collective_decision_by_default() {
    use ClueDecisionLevel as L;
    let app = spawn_with(settings(), clock_at(day(3, 2))).await;
    let clue = register(&app).await;
    let pv = DisposalMethod::PreliminaryVerification;
    let sign_once = DisposeClueRequest {
        name: clue.name.clone(),
        disposal: Some(ClueDisposal {
            method: pv as i32,
            date: proto_day(day(3, 2)),
            ..Default::default()
        }),
        level: L::HandlingRoom as i32,
        request_id: "sign-jw-1".into(),
        ..Default::default()
    };
    let first = app
        .clues()
        .dispose_clue(authed(&jw(1), sign_once.clone()))
        .await
        .expect("first signature")
        .into_inner();
    assert_eq!(
        first.state,
        ClueState::Registered as i32,
        "one is not enough"
    );
    assert!(first.disposal.is_none());
    assert_eq!(first.disposal_signatures_required, 3);
    assert_eq!(first.disposal_signatures.len(), 1);
    let s = &first.disposal_signatures[0];
    assert_eq!(
        (s.signer.as_str(), s.level, s.method),
        ("jw-1", L::HandlingRoom as i32, pv as i32)
    );
    assert!(s.sign_time.is_some());
    assert_eq!(
        get(&app, &clue.name).await.disposal_signatures,
        first.disposal_signatures
    );

    // The same person twice counts once: a retry is answered as the first
    // time, another signature is refused.
    let retried = app
        .clues()
        .dispose_clue(authed(&jw(1), sign_once))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, first);
    let err = dispose(&app, &jw(1), &clue.name, pv, day(3, 2), L::LeaderInCharge)
        .await
        .expect_err("twice");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "CLUE_ALREADY_SIGNED");
    assert_eq!(get(&app, &clue.name).await.disposal_signatures.len(), 1);
    // Another way than the decision's.
    let err = dispose(
        &app,
        &jw(2),
        &clue.name,
        DisposalMethod::Hold,
        day(3, 2),
        L::LeaderInCharge,
    )
    .await
    .expect_err("differs");
    assert_eq!(reason(&err), "DISPOSAL_METHOD_DIFFERS");
    // No level where levels are required.
    let err = dispose(&app, &jw(2), &clue.name, pv, day(3, 2), L::Unspecified)
        .await
        .expect_err("no level");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "DECISION_LEVEL_NOT_REQUIRED");
    assert_eq!(bad_field(&err), "level");
    // A caller without the commission's role signs nothing.
    let err = dispose(
        &app,
        &office(),
        &clue.name,
        pv,
        day(3, 2),
        L::LeaderInCharge,
    )
    .await
    .expect_err("office");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(get(&app, &clue.name).await.disposal_signatures.len(), 1);

    // Two distinct signers: still too few; no outcome can be recorded.
    let second = dispose(&app, &jw(2), &clue.name, pv, day(3, 3), L::LeaderInCharge)
        .await
        .expect("second signature");
    assert_eq!(second.state, ClueState::Registered as i32);
    assert!(second.disposal.is_none());
    assert_eq!(second.disposal_signatures.len(), 2);
    let err = outcome(&app, &clue.name, ClueOutcomeKind::Cleared, day(3, 3))
        .await
        .expect_err("not disposed");
    assert_eq!(reason(&err), "CLUE_NOT_DISPOSED");
    assert!(app.events("ClueDisposed").await.is_empty());
    // The third distinct signer, the meeting, completes it.
    let done = dispose(
        &app,
        &jw(3),
        &clue.name,
        pv,
        day(3, 4),
        L::SupervisionMeeting,
    )
    .await
    .expect("complete");
    assert_eq!(done.state, ClueState::Disposed as i32);
    let disposal = done.disposal.expect("disposal");
    assert_eq!(disposal.method, pv as i32);
    assert_eq!(disposal.date, proto_day(day(3, 4)));
    assert_eq!(disposal.recorded_by, "jw-3");
    let signed: Vec<(&str, i32)> = done
        .disposal_signatures
        .iter()
        .map(|s| (s.signer.as_str(), s.level))
        .collect();
    assert_eq!(
        signed,
        [
            ("jw-1", L::HandlingRoom as i32),
            ("jw-2", L::LeaderInCharge as i32),
            ("jw-3", L::SupervisionMeeting as i32),
        ]
    );
    assert_eq!(app.events("ClueDisposalSigned").await.len(), 3);
    assert_eq!(app.events("ClueDisposed").await.len(), 1);

    // Three signers are not enough while a level has not signed.
    let clue = register(&app).await;
    for (n, level) in [
        (1, L::HandlingRoom),
        (2, L::HandlingRoom),
        (3, L::LeaderInCharge),
    ] {
        let signed = dispose(&app, &jw(n), &clue.name, pv, day(3, 4), level)
            .await
            .expect("signature");
        assert_eq!(signed.state, ClueState::Registered as i32, "{n} signers");
    }
    let done = dispose(
        &app,
        &jw(4),
        &clue.name,
        pv,
        day(3, 4),
        L::SupervisionMeeting,
    )
    .await
    .expect("the meeting completes it");
    assert_eq!(done.state, ClueState::Disposed as i32);
    assert_eq!(done.disposal_signatures.len(), 4);
}

/// An office with fewer people configures fewer signers (a small county:
/// one, with no level required); the single signature then decides.
#[tokio::test]
async fn an_office_configured_for_one_signer_decides_with_one() {
    let settings = IssuesSettings {
        clue_disposal_signers: 1,
        clue_disposal_levels: String::new(),
        ..settings()
    };
    let app = spawn_with(settings, clock_at(day(3, 2))).await;
    let clue = register(&app).await;
    let done = dispose(
        &app,
        &jw(1),
        &clue.name,
        DisposalMethod::TalkOrLetter,
        day(3, 2),
        ClueDecisionLevel::Unspecified,
    )
    .await
    .expect("one signature decides");
    assert_eq!(done.state, ClueState::Disposed as i32);
    assert_eq!(done.disposal_signatures_required, 1);
    assert_eq!(done.disposal_signatures.len(), 1);
    assert_eq!(done.disposal.expect("disposal").recorded_by, "jw-1");
    assert_eq!(app.events("ClueDisposed").await.len(), 1);
}

#[tokio::test]
async fn a_level_the_settings_do_not_require_is_refused() {
    use ClueDecisionLevel as L;
    let settings = IssuesSettings {
        clue_disposal_signers: 2,
        clue_disposal_levels: "handling_room,supervision_meeting".into(),
        ..settings()
    };
    let app = spawn_with(settings, clock_at(day(3, 2))).await;
    let clue = register(&app).await;
    let pv = DisposalMethod::PreliminaryVerification;
    let err = dispose(&app, &jw(1), &clue.name, pv, day(3, 2), L::LeaderInCharge)
        .await
        .expect_err("not required");
    assert_eq!(reason(&err), "DECISION_LEVEL_NOT_REQUIRED");
    assert!(get(&app, &clue.name).await.disposal_signatures.is_empty());
    dispose(&app, &jw(1), &clue.name, pv, day(3, 2), L::HandlingRoom)
        .await
        .expect("room");
    let done = dispose(
        &app,
        &jw(2),
        &clue.name,
        pv,
        day(3, 2),
        L::SupervisionMeeting,
    )
    .await
    .expect("meeting");
    assert_eq!(done.state, ClueState::Disposed as i32);
}

fn october() -> Option<Date> {
    Some(Date {
        year: 2026,
        month: 10,
        day: 0,
    })
}

async fn reconcile(
    app: &TestApp,
    token: &str,
    body: &str,
    month: Option<Date>,
) -> Result<ClueReconciliation, tonic::Status> {
    app.clues()
        .create_clue_reconciliation(authed(
            token,
            CreateClueReconciliationRequest {
                handling_body: body.into(),
                month,
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn verify(app: &TestApp, name: &str) -> VerifyClueReconciliationResponse {
    app.clues()
        .verify_clue_reconciliation(authed(
            &jw(1),
            VerifyClueReconciliationRequest { name: name.into() },
        ))
        .await
        .expect("verify")
        .into_inner()
}

#[tokio::test]
async fn a_monthly_reconciliation_is_stored_and_reproducible() {
    let clock = clock_at(day(10, 5));
    let app = spawn_with(settings(), clock.clone()).await;
    let (a, b, c) = (
        register(&app).await,
        register(&app).await,
        register(&app).await,
    );
    set_day(&clock, day(10, 6));
    decide(
        &app,
        &a.name,
        DisposalMethod::PreliminaryVerification,
        day(10, 6),
    )
    .await
    .expect("dispose");
    outcome(&app, &a.name, ClueOutcomeKind::CaseFiled, day(10, 7))
        .await
        .expect("outcome");
    set_day(&clock, day(10, 8));
    app.clues()
        .transfer_clue(authed(
            &jw(1),
            TransferClueRequest {
                name: b.name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer");

    // October is not over on 31 October.
    set_day(&clock, day(10, 31));
    let body = "organisations/nanning-jw";
    let err = reconcile(&app, &jw(1), body, october())
        .await
        .expect_err("early");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "MONTH_NOT_OVER");

    set_day(&clock, day(11, 3));
    let made = reconcile(&app, &jw(1), body, october())
        .await
        .expect("made");
    assert_eq!(made.name, "clueReconciliations/nanning-jw-2026-10");
    assert_eq!(made.handling_body_path, "guangxi/nanning/nanning-jw");
    assert_eq!(made.made_by, "jw-1");
    let f = made.figures.expect("figures");
    assert_eq!(f.received, 3);
    assert_eq!(f.acknowledged, 1, "signed for by disposing of it");
    assert_eq!((f.disposed, f.preliminary_verification), (1, 1));
    assert_eq!(f.concluded, 1);
    assert_eq!(f.transferred_out, 1);
    assert_eq!(f.outstanding, 1, "c is still held without an outcome");

    // Made once: a second one is refused, the first stands.
    let err = reconcile(&app, &jw(2), body, october())
        .await
        .expect_err("twice");
    assert_eq!(err.code(), Code::AlreadyExists);

    // Later steps, even one dated in October, leave it as it was, and
    // counting the journal again gives the stored figures.
    decide(&app, &c.name, DisposalMethod::Hold, day(10, 20))
        .await
        .expect("a late record");
    let checked = verify(&app, &made.name).await;
    assert!(checked.matches);
    assert_eq!(checked.recomputed, made.figures);
    assert_eq!(checked.reconciliation.as_ref(), Some(&made));
    // November's, once November is over, counts nothing new for October.
    set_day(&clock, day(12, 1));
    let november = reconcile(
        &app,
        &jw(1),
        body,
        Some(Date {
            year: 2026,
            month: 11,
            day: 0,
        }),
    )
    .await
    .expect("november");
    assert_eq!(november.figures.expect("figures").received, 0);
    assert!(verify(&app, &made.name).await.matches);

    // Refusals: a day in the month, a body outside the caller's subtree,
    // a reader of another place, the public.
    let err = reconcile(
        &app,
        &jw(1),
        body,
        Some(Date {
            year: 2026,
            month: 10,
            day: 3,
        }),
    )
    .await
    .expect_err("a day");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "month");
    // The city's commission reconciles with every handling body of the
    // city: the organisation department received b and holds it.
    let zzb = reconcile(&app, &jw(1), "organisations/nanning-zzb", october())
        .await
        .expect("the organisation department's");
    let f = zzb.figures.expect("figures");
    assert_eq!((f.received, f.outstanding, f.transferred_out), (1, 1, 0));
    // A body above it, or unknown, is not found alike.
    for body in ["organisations/guangxi", "organisations/nowhere"] {
        let err = reconcile(&app, &jw(1), body, october())
            .await
            .expect_err("outside");
        assert_eq!(err.code(), Code::NotFound, "{body}");
    }
    let elsewhere = testing::token("jw-lz", "guangxi/liuzhou", &[Role::DisciplineCommission]);
    let err = app
        .clues()
        .get_clue_reconciliation(authed(
            &elsewhere,
            GetClueReconciliationRequest {
                name: made.name.clone(),
            },
        ))
        .await
        .expect_err("elsewhere");
    assert_eq!(err.code(), Code::NotFound);
    let got = app
        .clues()
        .get_clue_reconciliation(authed(
            &office(),
            GetClueReconciliationRequest {
                name: made.name.clone(),
            },
        ))
        .await
        .expect("the office reads it")
        .into_inner();
    assert_eq!(got, made);
    let public = testing::token("p", "", &[Role::Public]);
    for err in [
        app.clues()
            .get_clue_reconciliation(authed(
                &public,
                GetClueReconciliationRequest {
                    name: made.name.clone(),
                },
            ))
            .await
            .expect_err("public"),
        reconcile(&app, &office(), body, october())
            .await
            .expect_err("the office does not make it"),
    ] {
        assert_eq!(err.code(), Code::PermissionDenied);
    }
}

#[tokio::test]
async fn the_public_sees_nothing_of_clues() {
    let app = spawn_with(settings(), clock_at(day(3, 2))).await;
    let clue = register(&app).await;
    let public = testing::token("p", "", &[Role::Public]);
    let err = app
        .clues()
        .get_clue(authed(
            &public,
            GetClueRequest {
                name: clue.name.clone(),
            },
        ))
        .await
        .expect_err("hidden");
    assert!(matches!(
        err.code(),
        Code::NotFound | Code::PermissionDenied
    ));
    assert!(!err.message().contains("某某"));
    let err = app
        .clues()
        .list_clues(authed(&public, ListCluesRequest::default()))
        .await
        .expect_err("no list");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .clues()
        .get_clue_statistics(authed(&public, GetClueStatisticsRequest::default()))
        .await
        .expect_err("no statistics");
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// The organisation department disposes of the clues that are its own
/// (organisational and personnel discipline, L907–917): those handed to
/// it. It signs for, disposes of and concludes them; the commission that
/// handed one on no longer takes its steps; a clue it does not hold does
/// not exist for it, and another supervising body sees none of them.
#[tokio::test]
async fn the_organisation_department_disposes_of_its_own_clues_and_of_no_other() {
    let clock = clock_at(day(10, 5));
    let app = spawn_with(settings(), clock.clone()).await;
    let (own, other) = (register(&app).await, register(&app).await);
    app.clues()
        .transfer_clue(authed(
            &jw(1),
            TransferClueRequest {
                name: own.name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer");
    let zzb = testing::token(
        "zzb-liu",
        "guangxi/nanning/nanning-zzb",
        &[Role::Supervisor],
    );
    // The department decides as collectively as the commission does.
    let department = [
        zzb.clone(),
        testing::token(
            "zzb-chen",
            "guangxi/nanning/nanning-zzb",
            &[Role::Supervisor],
        ),
        testing::token(
            "zzb-huang",
            "guangxi/nanning/nanning-zzb",
            &[Role::Supervisor],
        ),
    ];
    set_day(&clock, day(10, 6));

    // Refusals first: the commission's clue does not exist for it, and
    // nothing is written.
    let err = decide_as(
        &app,
        &department,
        &other.name,
        DisposalMethod::TalkOrLetter,
        day(10, 6),
    )
    .await
    .expect_err("not its own");
    assert_eq!(err.code(), Code::NotFound);
    assert!(!err.message().contains("某某"));
    for (token, name) in [
        (zzb.clone(), other.name.clone()),
        (
            testing::token("xcb", "guangxi/nanning/nanning-xcb", &[Role::Supervisor]),
            own.name.clone(),
        ),
    ] {
        let err = app
            .clues()
            .get_clue(authed(&token, GetClueRequest { name }))
            .await
            .expect_err("hidden");
        assert_eq!(err.code(), Code::NotFound);
    }
    assert!(app.events("ClueDisposalSigned").await.is_empty());
    // It lists its own clue only.
    let listed = app
        .clues()
        .list_clues(authed(&zzb, ListCluesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    let names: Vec<String> = listed.clues.into_iter().map(|c| c.name).collect();
    assert_eq!(names, std::slice::from_ref(&own.name));

    // Its own: signed for, disposed of, concluded by the department.
    let signed = app
        .clues()
        .acknowledge_clue_transfer(authed(
            &zzb,
            AcknowledgeClueTransferRequest {
                name: own.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("signs for it")
        .into_inner();
    assert_eq!(signed.transfers[1].acknowledged_by, "zzb-liu");
    let disposed = decide_as(
        &app,
        &department,
        &own.name,
        DisposalMethod::TalkOrLetter,
        day(10, 6),
    )
    .await
    .expect("disposes of it");
    assert_eq!(disposed.state(), ClueState::Disposed);
    // (Signed at one instant of the test's clock: listed by signer.)
    let mut signers: Vec<&str> = disposed
        .disposal_signatures
        .iter()
        .map(|s| s.signer.as_str())
        .collect();
    signers.sort_unstable();
    assert_eq!(signers, ["zzb-chen", "zzb-huang", "zzb-liu"]);
    assert_eq!(
        disposed.disposal.expect("disposal").recorded_by,
        "zzb-huang"
    );
    // The commission, which handed it on, sees it but no longer holds it.
    let err = outcome(
        &app,
        &own.name,
        ClueOutcomeKind::OrganisationalHandling,
        day(10, 7),
    )
    .await
    .expect_err("not the holder");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "NOT_THE_HOLDER");
    let concluded = app
        .clues()
        .record_clue_outcome(authed(
            &zzb,
            RecordClueOutcomeRequest {
                name: own.name.clone(),
                outcome: Some(ClueOutcome {
                    kind: ClueOutcomeKind::OrganisationalHandling as i32,
                    date: proto_day(day(10, 7)),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("concludes it")
        .into_inner();
    assert_eq!(concluded.state(), ClueState::Concluded);
}
