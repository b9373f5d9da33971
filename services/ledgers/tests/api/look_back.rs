//! Look-back campaigns (整改"回头看") over gRPC: the city's office asks
//! Xingning for its self-check report (with its own 整改台账 compiled from
//! the books), returns and accepts it (then it is final), compiles the
//! key-problem list from the books' candidates, makes a supervision
//! suggestion Xingning answers once, and spot-checks written-off entries:
//! a failed check reopens the entry in the check's transaction.

use crate::common;

use chrono::{TimeZone, Utc};
use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::ledgers::look_back_service_client::LookBackServiceClient;
use fiveledger_proto::ledgers::self_check_report::State;
use fiveledger_proto::ledgers::*;
use tonic::transport::Channel;
use tonic::{Code, Status};

const ROUND: &str = "rounds/r9";

fn client(app: &TestApp) -> LookBackServiceClient<Channel> {
    LookBackServiceClient::new(app.channel.clone())
}

/// Another city's office: sees nothing of Nanning's round.
fn outsider() -> String {
    testing::token("office-lz", "guangxi/liuzhou", &[Role::InspectionOffice])
}

fn refused<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>, code: Code) -> Status {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    status
}

type Client = LookBackServiceClient<Channel>;

/// The round's key-problem candidates as `token` sees them.
async fn list_candidates(lb: &mut Client, token: &str) -> Vec<KeyProblemCandidate> {
    let request = ListKeyProblemCandidatesRequest {
        round: ROUND.into(),
        ..Default::default()
    };
    let listed = lb.list_key_problem_candidates(authed(token, request)).await;
    listed.expect("candidates").into_inner().candidates
}

/// A page of the round's key problems as `token` sees them.
async fn key_problems(
    lb: &mut Client,
    token: &str,
    page_size: i32,
    page_token: String,
) -> Result<ListKeyProblemsResponse, Status> {
    let request = ListKeyProblemsRequest {
        round: ROUND.into(),
        page_size,
        page_token,
    };
    Ok(lb
        .list_key_problems(authed(token, request))
        .await?
        .into_inner())
}

/// A page of the round's spot checks as `token` sees them.
async fn spot_checks(
    lb: &mut Client,
    token: &str,
    page_size: i32,
    page_token: String,
) -> Result<ListSpotChecksResponse, Status> {
    let request = ListSpotChecksRequest {
        round: ROUND.into(),
        page_size,
        page_token,
    };
    Ok(lb
        .list_spot_checks(authed(token, request))
        .await?
        .into_inner())
}

/// Two handed-over entries of Xingning in round 9: the first written off
/// (due next year), the second overdue (due in January).
async fn fixture(app: &TestApp) -> (String, String) {
    seed_rounds(app);
    // The city's commission is a body of the city: it works at its level.
    app.upstream
        .data
        .lock()
        .expect("lock")
        .organisations
        .insert(
            "organisations/nanning-jw".into(),
            fiveledger_proto::rounds::Organisation {
                name: "organisations/nanning-jw".into(),
                path: "guangxi/nanning/nanning-jw".into(),
                kind: fiveledger_proto::rounds::OrganisationKind::DisciplineCommission as i32,
                ..Default::default()
            },
        );
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;
    app.wait_for("", 2).await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let handed = app.wait_for("state = ENTRY_STATE_HANDED_OVER", 2).await;
    let (done, late) = (handed[0].name.clone(), handed[1].name.clone());
    planned(app, &done, (2027, 6, 30)).await;
    planned(app, &late, (2026, 1, 31)).await;
    let mut ledger = app.ledger();
    ledger
        .post_progress(authed(
            &unit(),
            PostProgressRequest {
                name: done.clone(),
                measure_id: "m1".into(),
                description: "制度已建立".into(),
                measure_done: true,
                ..Default::default()
            },
        ))
        .await
        .expect("progress");
    ledger
        .request_write_off(authed(
            &unit(),
            RequestWriteOffRequest {
                name: done.clone(),
                closure_statement: "已整改".into(),
                evidence: evidence("整改报告.pdf"),
                ..Default::default()
            },
        ))
        .await
        .expect("request write-off");
    let written_off = ledger
        .approve_write_off(authed(
            &commission(),
            ApproveWriteOffRequest {
                name: done.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("write off")
        .into_inner();
    assert_eq!(written_off.state(), EntryState::WrittenOff);
    (done, late)
}

fn ask(inspection: &str, request_id: &str) -> RequestSelfCheckReportRequest {
    RequestSelfCheckReportRequest {
        self_check_report: Some(SelfCheckReport {
            inspection: inspection.into(),
            ..Default::default()
        }),
        self_check_report_id: String::new(),
        request_id: request_id.into(),
    }
}

fn submit(name: &str, request_id: &str) -> SubmitSelfCheckReportRequest {
    SubmitSelfCheckReportRequest {
        name: name.into(),
        summary: "对照巡察反馈问题逐项自查，形成整改台账".into(),
        request_id: request_id.into(),
    }
}

fn accept(name: &str, request_id: &str) -> AcceptSelfCheckReportRequest {
    AcceptSelfCheckReportRequest {
        name: name.into(),
        request_id: request_id.into(),
    }
}

fn send_back(name: &str) -> ReturnSelfCheckReportRequest {
    ReturnSelfCheckReportRequest {
        name: name.into(),
        reason: "台账不完整".into(),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_self_check_report_is_asked_submitted_returned_and_accepted_once() {
    let app = spawn().await;
    let (done, late) = fixture(&app).await;
    let mut lb = client(&app);
    // Only an office asks; an office that does not see the inspection finds
    // it unknown; an unknown inspection is unknown.
    refused(
        lb.request_self_check_report(authed(&unit(), ask(INSPECTION, "")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        lb.request_self_check_report(authed(&outsider(), ask(INSPECTION, "")))
            .await,
        Code::NotFound,
    );
    refused(
        lb.request_self_check_report(authed(&office(), ask("rounds/r9/inspections/none", "")))
            .await,
        Code::NotFound,
    );
    let asked = lb
        .request_self_check_report(authed(&office(), ask(INSPECTION, "scr-1")))
        .await
        .expect("asked")
        .into_inner();
    assert_eq!(asked.state(), State::Requested);
    assert_eq!(asked.unit_path, "guangxi/nanning/xingning");
    assert_eq!(asked.round, ROUND);
    assert_eq!(asked.round_organisation_path, CITY);
    let name = asked.name.clone();
    // A retry answers the same; a second report for the inspection exists.
    let again = lb
        .request_self_check_report(authed(&office(), ask(INSPECTION, "scr-1")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again, asked);
    refused(
        lb.request_self_check_report(authed(&office(), ask(INSPECTION, "scr-2")))
            .await,
        Code::AlreadyExists,
    );
    // Another district's unit does not see it; the office does not submit;
    // nothing is accepted before it is submitted.
    refused(
        lb.submit_self_check_report(authed(&other_unit(), submit(&name, "")))
            .await,
        Code::NotFound,
    );
    refused(
        lb.get_self_check_report(authed(
            &other_unit(),
            GetSelfCheckReportRequest { name: name.clone() },
        ))
        .await,
        Code::NotFound,
    );
    refused(
        lb.submit_self_check_report(authed(&office(), submit(&name, "")))
            .await,
        Code::PermissionDenied,
    );
    let status = refused(
        lb.accept_self_check_report(authed(&office(), accept(&name, "")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "WRONG_STATE");
    // Xingning submits: its ledger as the books hold it.
    let submitted = lb
        .submit_self_check_report(authed(&unit(), submit(&name, "sub-1")))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(submitted.state(), State::Submitted);
    assert_eq!(submitted.submitted_by, "unit-xn");
    let mut lines: Vec<_> = submitted
        .ledger
        .iter()
        .map(|l| (l.entry.clone(), l.state()))
        .collect();
    lines.sort();
    let mut expected = vec![
        (done.clone(), EntryState::WrittenOff),
        (late.clone(), EntryState::Rectifying),
    ];
    expected.sort();
    assert_eq!(lines, expected);
    // The unit does not decide; the office returns it, Xingning submits
    // again, the office accepts.
    refused(
        lb.accept_self_check_report(authed(&unit(), accept(&name, "")))
            .await,
        Code::PermissionDenied,
    );
    let returned = lb
        .return_self_check_report(authed(&office(), send_back(&name)))
        .await
        .expect("returned")
        .into_inner();
    assert_eq!(returned.state(), State::Returned);
    assert_eq!(returned.return_reason, "台账不完整");
    lb.submit_self_check_report(authed(&unit(), submit(&name, "sub-2")))
        .await
        .expect("submitted again");
    let accepted = lb
        .accept_self_check_report(authed(&office(), accept(&name, "acc-1")))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(accepted.state(), State::Accepted);
    assert_eq!(accepted.decided_by, "office-nn");
    // Accepted is final: no submission, return or acceptance changes it; a
    // retry of the acceptance answers as the first time.
    for status in [
        refused(
            lb.submit_self_check_report(authed(&unit(), submit(&name, "sub-3")))
                .await,
            Code::FailedPrecondition,
        ),
        refused(
            lb.return_self_check_report(authed(&office(), send_back(&name)))
                .await,
            Code::FailedPrecondition,
        ),
        refused(
            lb.accept_self_check_report(authed(&office(), accept(&name, "acc-2")))
                .await,
            Code::FailedPrecondition,
        ),
    ] {
        assert_eq!(reason(&status), "SELF_CHECK_ACCEPTED");
    }
    let retried = lb
        .accept_self_check_report(authed(&office(), accept(&name, "acc-1")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, accepted);
    // Read back by the unit and the supervising commission.
    for token in [unit(), commission()] {
        let read = lb
            .get_self_check_report(authed(
                &token,
                GetSelfCheckReportRequest { name: name.clone() },
            ))
            .await
            .expect("read")
            .into_inner();
        assert_eq!(read, accepted);
    }
}

fn key_problem(entry: &str, request_id: &str) -> CreateKeyProblemRequest {
    CreateKeyProblemRequest {
        key_problem: Some(KeyProblem {
            entry: entry.into(),
            note: "整改超期，责任未压实".into(),
            ..Default::default()
        }),
        key_problem_id: String::new(),
        request_id: request_id.into(),
    }
}

fn suggestion(request_id: &str) -> CreateSupervisionSuggestionRequest {
    CreateSupervisionSuggestionRequest {
        supervision_suggestion: Some(SupervisionSuggestion {
            inspection: INSPECTION.into(),
            suggestion: "建议对超期问题逐项销号管理".into(),
            ..Default::default()
        }),
        supervision_suggestion_id: String::new(),
        request_id: request_id.into(),
    }
}

fn reply(name: &str, request_id: &str) -> ReplyToSupervisionSuggestionRequest {
    ReplyToSupervisionSuggestionRequest {
        name: name.into(),
        reply: "已制定销号计划".into(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn the_office_compiles_key_problems_and_suggests_and_the_unit_replies_once() {
    let app = spawn().await;
    let (done, late) = fixture(&app).await;
    let mut lb = client(&app);
    // The books' candidates: the overdue entry, not the written-off one.
    let candidates = list_candidates(&mut lb, &office()).await;
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_eq!(candidates[0].entry, late);
    assert!(
        candidates[0]
            .reasons
            .contains(&(KeyProblemReason::Overdue as i32))
    );
    // Another city's office finds none; a unit may not ask.
    let none = list_candidates(&mut lb, &outsider()).await;
    assert!(none.is_empty());
    refused(
        lb.create_key_problem(authed(&unit(), key_problem(&late, "")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        lb.create_key_problem(authed(&outsider(), key_problem(&late, "")))
            .await,
        Code::NotFound,
    );
    let listed = lb
        .create_key_problem(authed(&office(), key_problem(&late, "kp-1")))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.round, ROUND);
    assert!(listed.reasons.contains(&(KeyProblemReason::Overdue as i32)));
    let retried = lb
        .create_key_problem(authed(&office(), key_problem(&late, "kp-1")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, listed);
    // Read back by name: the office and the unit it is about; as unknown
    // to another city, and a name never made.
    let get = |token: String, name: &str| {
        let request = GetKeyProblemRequest { name: name.into() };
        let mut lb = lb.clone();
        async move { lb.get_key_problem(authed(&token, request)).await }
    };
    for token in [office(), unit()] {
        let got = get(token, &listed.name).await.expect("get").into_inner();
        assert_eq!(got, listed);
    }
    refused(get(outsider(), &listed.name).await, Code::NotFound);
    refused(get(office(), "keyProblems/knone").await, Code::NotFound);
    refused(
        get(office(), "spotChecks/kp-1").await,
        Code::InvalidArgument,
    );
    refused(
        lb.create_key_problem(authed(&office(), key_problem(&late, "kp-2")))
            .await,
        Code::AlreadyExists,
    );
    lb.create_key_problem(authed(&office(), key_problem(&done, "kp-3")))
        .await
        .expect("the office may list any entry of its round");
    // Listed by key, a page at a time, for the office and the commission;
    // another city sees none.
    for token in [office(), commission()] {
        let first = key_problems(&mut lb, &token, 1, String::new())
            .await
            .expect("page 1");
        assert_eq!(first.key_problems.len(), 1);
        assert!(!first.next_page_token.is_empty());
        let second = key_problems(&mut lb, &token, 1, first.next_page_token)
            .await
            .expect("page 2");
        assert_eq!(second.key_problems.len(), 1);
        assert_ne!(second.key_problems[0].name, first.key_problems[0].name);
    }
    let elsewhere = key_problems(&mut lb, &outsider(), 0, String::new())
        .await
        .expect("another city");
    assert!(elsewhere.key_problems.is_empty());

    // A supervision suggestion to Xingning: only an office makes one, one
    // that does not see the inspection finds it unknown.
    refused(
        lb.create_supervision_suggestion(authed(&unit(), suggestion("")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        lb.create_supervision_suggestion(authed(&outsider(), suggestion("")))
            .await,
        Code::NotFound,
    );
    let made = lb
        .create_supervision_suggestion(authed(&office(), suggestion("sg-1")))
        .await
        .expect("suggested")
        .into_inner();
    assert_eq!(made.unit_path, "guangxi/nanning/xingning");
    let name = made.name.clone();
    refused(
        lb.reply_to_supervision_suggestion(authed(&other_unit(), reply(&name, "")))
            .await,
        Code::NotFound,
    );
    refused(
        lb.reply_to_supervision_suggestion(authed(&office(), reply(&name, "")))
            .await,
        Code::PermissionDenied,
    );
    let answered = lb
        .reply_to_supervision_suggestion(authed(&unit(), reply(&name, "rp-1")))
        .await
        .expect("replied")
        .into_inner();
    assert_eq!(answered.reply, "已制定销号计划");
    assert_eq!(answered.replied_by, "unit-xn");
    let retried = lb
        .reply_to_supervision_suggestion(authed(&unit(), reply(&name, "rp-1")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, answered);
    let status = refused(
        lb.reply_to_supervision_suggestion(authed(&unit(), reply(&name, "rp-2")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "SUGGESTION_ALREADY_REPLIED");
    let read = lb
        .get_supervision_suggestion(authed(
            &office(),
            GetSupervisionSuggestionRequest { name: name.clone() },
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read, answered);
    refused(
        lb.get_supervision_suggestion(authed(
            &outsider(),
            GetSupervisionSuggestionRequest { name },
        ))
        .await,
        Code::NotFound,
    );
}

fn spot_check(
    entry: &str,
    look_back: &str,
    failed: bool,
    request_id: &str,
) -> CreateSpotCheckRequest {
    CreateSpotCheckRequest {
        spot_check: Some(SpotCheck {
            entry: entry.into(),
            look_back: look_back.into(),
            result: (if failed {
                SpotCheckResult::Failed
            } else {
                SpotCheckResult::Passed
            }) as i32,
            findings: if failed {
                "制度未落实，文字整改".into()
            } else {
                "整改到位".into()
            },
            due_date: failed.then(|| date(2027, 3, 31)),
            ..Default::default()
        }),
        spot_check_id: String::new(),
        request_id: request_id.into(),
    }
}

async fn reopened_count(app: &TestApp) -> i64 {
    app.statistics()
        .get_statistics(authed(
            &office(),
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
        .expect("counts")
        .reopened
}

#[tokio::test]
async fn a_failed_spot_check_reopens_the_entry_in_its_transaction() {
    let app = spawn().await;
    let (done, late) = fixture(&app).await;
    let mut lb = client(&app);
    let before = app.get(&done).await.posting_count;
    assert_eq!(reopened_count(&app).await, 0);
    // Refusals write nothing: a unit may not check; another city's office
    // does not see the entry; an entry not written off; not a look-back
    // inspection; a failed check without a due date; no result.
    refused(
        lb.create_spot_check(authed(&unit(), spot_check(&done, LOOK_BACK, true, "")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        lb.create_spot_check(authed(&outsider(), spot_check(&done, LOOK_BACK, true, "")))
            .await,
        Code::NotFound,
    );
    let status = refused(
        lb.create_spot_check(authed(&office(), spot_check(&late, LOOK_BACK, true, "")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "WRONG_STATE");
    let status = refused(
        lb.create_spot_check(authed(&office(), spot_check(&done, REGULAR, true, "")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "NOT_A_LOOK_BACK");
    let mut undated = spot_check(&done, LOOK_BACK, true, "");
    undated.spot_check.as_mut().expect("check").due_date = None;
    let status = refused(
        lb.create_spot_check(authed(&office(), undated)).await,
        Code::InvalidArgument,
    );
    assert_eq!(bad_field(&status), "spot_check.due_date");
    let mut no_result = spot_check(&done, LOOK_BACK, true, "");
    no_result.spot_check.as_mut().expect("check").result = 0;
    refused(
        lb.create_spot_check(authed(&office(), no_result)).await,
        Code::InvalidArgument,
    );
    // Another unit's body (the organisation department) is no checker of it.
    refused(
        lb.create_spot_check(authed(
            &org_department(),
            spot_check(&done, LOOK_BACK, false, ""),
        ))
        .await,
        Code::NotFound,
    );
    assert_eq!(
        app.get(&done).await.posting_count,
        before,
        "nothing written"
    );

    // The supervising commission's check passes: no posting.
    let passed = lb
        .create_spot_check(authed(
            &commission(),
            spot_check(&done, LOOK_BACK, false, "sc-1"),
        ))
        .await
        .expect("passed")
        .into_inner();
    assert!(passed.posting.is_empty());
    assert_eq!(passed.round, ROUND);
    assert_eq!(app.get(&done).await.posting_count, before);

    // The office's check fails: the entry is reopened by the look-back, the
    // reopening in its history and in the statistics.
    let failed = lb
        .create_spot_check(authed(
            &office(),
            spot_check(&done, LOOK_BACK, true, "sc-2"),
        ))
        .await
        .expect("failed")
        .into_inner();
    let entry = app.get(&done).await;
    assert_eq!(entry.state(), EntryState::Reopened);
    assert_eq!(entry.reopen_count, 1);
    assert_eq!(entry.due_date, Some(date(2027, 3, 31)));
    assert_eq!(entry.posting_count, before + 1);
    let last = entry.postings.last().expect("posting");
    assert_eq!(last.kind(), PostingKind::Reopened);
    assert_eq!(last.name, failed.posting);
    assert_eq!(last.actor, "office-nn");
    match &last.detail {
        Some(posting::Detail::Reopened(r)) => assert_eq!(r.inspection, LOOK_BACK),
        other => panic!("{other:?}"),
    }
    assert_eq!(reopened_count(&app).await, 1);
    // A retry answers the same and reopens nothing more; the entry is no
    // longer written off, so a fresh check is refused.
    let retried = lb
        .create_spot_check(authed(
            &office(),
            spot_check(&done, LOOK_BACK, true, "sc-2"),
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, failed);
    let get = |token: String| {
        let request = GetSpotCheckRequest {
            name: failed.name.clone(),
        };
        let mut lb = lb.clone();
        async move { lb.get_spot_check(authed(&token, request)).await }
    };
    assert_eq!(get(office()).await.expect("get").into_inner(), failed);
    refused(get(outsider()).await, Code::NotFound);
    assert_eq!(app.get(&done).await.posting_count, before + 1);
    let status = refused(
        lb.create_spot_check(authed(
            &office(),
            spot_check(&done, LOOK_BACK, true, "sc-3"),
        ))
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "WRONG_STATE");
    // The reopened entry is now a key-problem candidate.
    let candidates = list_candidates(&mut lb, &office()).await;
    let reopened = candidates
        .iter()
        .find(|c| c.entry == done)
        .expect("the reopened entry");
    assert!(
        reopened
            .reasons
            .contains(&(KeyProblemReason::Reopened as i32))
    );

    // The round's spot checks, a page at a time; none for another city.
    let first = spot_checks(&mut lb, &office(), 1, String::new())
        .await
        .expect("page 1");
    assert_eq!(first.spot_checks.len(), 1);
    let second = spot_checks(&mut lb, &commission(), 1, first.next_page_token.clone())
        .await
        .expect_err("a token is the caller's own");
    assert_eq!(second.code(), Code::InvalidArgument);
    let second = spot_checks(&mut lb, &office(), 1, first.next_page_token)
        .await
        .expect("page 2");
    assert_eq!(second.spot_checks.len(), 1);
    assert!(second.next_page_token.is_empty());
    let mut names = vec![
        first.spot_checks[0].name.clone(),
        second.spot_checks[0].name.clone(),
    ];
    names.sort();
    let mut expected = vec![passed.name, failed.name];
    expected.sort();
    assert_eq!(names, expected);
    let elsewhere = spot_checks(&mut lb, &outsider(), 0, String::new())
        .await
        .expect("another city");
    assert!(elsewhere.spot_checks.is_empty());
}

/// A spot check recorded after the fact (补录) on the day it was made: by
/// the office only, not ahead of today, not before the entry's last step;
/// a failed one's reopening is dated on that day.
#[tokio::test]
async fn a_spot_check_recorded_after_the_fact_is_dated_on_its_day() {
    let clock = Clock::fixed(Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap());
    let app = spawn_with_clock(clock.clone()).await;
    let (done, _) = fixture(&app).await;
    // Written off on 1 December; checked on the 10th, recorded on the 20th.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 20, 12, 0, 0).unwrap());
    let mut lb = client(&app);
    let on = |token: String, day, request_id: &str| {
        let mut request = spot_check(&done, LOOK_BACK, true, request_id);
        request.spot_check.as_mut().expect("check").effective_date = Some(day);
        authed(&token, request)
    };
    let before = app.get(&done).await.posting_count;
    let status = refused(
        lb.create_spot_check(on(office(), date(2026, 12, 21), ""))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(bad_field(&status), "spot_check.effective_date");
    assert_eq!(reason(&status), "IN_THE_FUTURE");
    refused(
        lb.create_spot_check(on(commission(), date(2026, 12, 10), ""))
            .await,
        Code::PermissionDenied,
    );
    let status = refused(
        lb.create_spot_check(on(office(), date(2026, 11, 30), ""))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "STEP_BEFORE_LAST");
    assert_eq!(
        app.get(&done).await.posting_count,
        before,
        "nothing written"
    );

    let failed = lb
        .create_spot_check(on(office(), date(2026, 12, 10), "sc-dated"))
        .await
        .expect("recorded after the fact")
        .into_inner();
    assert_eq!(failed.effective_date, Some(date(2026, 12, 10)));
    let entry = app.get(&done).await;
    assert_eq!(entry.state(), EntryState::Reopened);
    let last = entry.postings.last().expect("posting");
    assert_eq!(last.name, failed.posting);
    assert_eq!(last.effective_date, Some(date(2026, 12, 10)));
    assert!(last.recorded_after_the_fact);
    assert_eq!(entry.last_step_date, Some(date(2026, 12, 10)));
}
