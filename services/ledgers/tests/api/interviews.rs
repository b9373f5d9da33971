//! Escalation that bites (约谈) over gRPC with a fixed clock: replies to
//! supervision notices (a missing or late reply colours, once), interviews
//! whose levels follow the item's colour and never skip, who may record
//! which, follow-ups, and a red item escalating to the next interview level
//! with one notice per level, on sweeps run twice and on two servers at once.

use crate::common;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use fiveledger_platform::testing::authed;
use fiveledger_platform::time::Clock;
use fiveledger_proto::ledgers::warning_service_client::WarningServiceClient;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{DeadlineKind, NoticeKind, WarningColour};
use futures::StreamExt;
use tonic::Code;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// Problems `ids` of Xingning frozen and handed over on 2026-06-01 (due
/// 2026-07-31); their entries in the order of `ids`.
async fn handed_over(app: &TestApp, ids: &[&str]) -> Vec<String> {
    seed_rounds(app);
    let problems: Vec<_> = ids.iter().map(|id| problem(id, "xingning")).collect();
    app.upstream.freeze(INSPECTION, problems).await;
    app.wait_for(&format!("inspection = \"{INSPECTION}\""), ids.len())
        .await;
    let i = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&i).await;
    let entries = app
        .wait_for("state = ENTRY_STATE_HANDED_OVER", ids.len())
        .await;
    ids.iter()
        .map(|id| {
            entries
                .iter()
                .find(|e| e.problem == format!("problems/{id}"))
                .expect("entry")
                .name
                .clone()
        })
        .collect()
}

async fn sweep_on(channel: tonic::transport::Channel) -> RunWarningSweepResponse {
    WarningServiceClient::new(channel)
        .run_warning_sweep(authed(&office(), RunWarningSweepRequest::default()))
        .await
        .expect("sweep")
        .into_inner()
}

fn deadline(entry: &LedgerEntry, item: &str) -> Deadline {
    entry
        .deadlines
        .iter()
        .find(|d| d.item == item)
        .unwrap_or_else(|| panic!("no deadline {item}: {:?}", entry.deadlines))
        .clone()
}

async fn reply(
    app: &TestApp,
    token: &str,
    name: &str,
    notice: &str,
) -> Result<LedgerEntry, tonic::Status> {
    app.ledger()
        .reply_to_notice(authed(
            token,
            ReplyToNoticeRequest {
                name: name.into(),
                notice: notice.into(),
                reply: "已按要求整改，书面报告附后".into(),
                evidence: evidence("报告.pdf"),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

fn refused(status: &tonic::Status, code: Code, why: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    if !why.is_empty() {
        assert_eq!(reason(status), why, "{status:?}");
    }
}

#[tokio::test]
async fn a_notice_awaits_its_reply_and_a_missing_or_late_reply_colours_once() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    let names = handed_over(&app, &["p1", "p2", "p3"]).await;
    // Overdue: one supervision notice each, reply due in ten days.
    clock.set(at(2026, 8, 1));
    let report = sweep_on(app.channel.clone()).await;
    assert_eq!(report.supervision_notices, 3, "{report:?}");
    let mut notices = Vec::new();
    for name in &names {
        let entry = app.get(name).await;
        assert_eq!(entry.notices.len(), 1);
        let n = entry.notices[0].clone();
        assert_eq!(n.item, "entry");
        assert_eq!(n.reply_due_date, Some(date(2026, 8, 11)));
        let reply_item = deadline(&entry, &n.reply_item);
        assert_eq!(reply_item.kind(), DeadlineKind::NoticeReply);
        assert_eq!(reply_item.due_date, Some(date(2026, 8, 11)));
        assert_eq!(reply_item.colour(), WarningColour::Green);
        let number = warnings(&app, name).await[0]
            .notice
            .clone()
            .expect("notice")
            .number;
        assert_eq!(n.notice, number, "the notice is named by its number");
        notices.push(n);
    }
    let (p1, p2, p3) = (&names[0], &names[1], &names[2]);

    // Who may reply, to what.
    let err = reply(&app, &office(), p3, &notices[2].notice)
        .await
        .expect_err("only the unit replies");
    refused(&err, Code::PermissionDenied, "");
    let err = reply(&app, &other_unit(), p3, &notices[2].notice)
        .await
        .expect_err("another county's unit");
    refused(&err, Code::NotFound, "");
    let err = reply(&app, &unit(), p3, &format!("{p3}/postings/1"))
        .await
        .expect_err("the opening is no notice");
    refused(&err, Code::NotFound, "");
    let err = reply(&app, &unit(), p3, &notices[0].notice)
        .await
        .expect_err("another entry's notice");
    refused(&err, Code::InvalidArgument, "");
    assert_eq!(bad_field(&err), "notice");

    // In time: recorded, closed, not late.
    clock.set(at(2026, 8, 5));
    let entry = reply(&app, &unit(), p3, &notices[2].notice)
        .await
        .expect("reply in time");
    let n = &entry.notices[0];
    assert_eq!(n.replied_by, "unit-xn");
    assert_eq!(n.reply_date, Some(date(2026, 8, 5)));
    assert_eq!(n.late_colour(), WarningColour::Unspecified);
    let item = deadline(&entry, &n.reply_item);
    assert!(item.closed);
    assert_eq!(item.closing_colour(), WarningColour::Unspecified);
    let err = reply(&app, &unit(), p3, &notices[2].notice)
        .await
        .expect_err("twice");
    refused(&err, Code::FailedPrecondition, "NOTICE_ALREADY_REPLIED");

    // Past the reply date: p2 replies late before any sweep saw it; p1
    // has not replied.
    clock.set(at(2026, 8, 12));
    let entry = reply(&app, &unit(), p2, &notices[1].notice)
        .await
        .expect("a late reply is recorded");
    assert_eq!(entry.notices[0].late_colour(), WarningColour::Yellow);
    let item = deadline(&entry, &notices[1].reply_item);
    assert!(item.closed);
    assert_eq!(item.closing_colour(), WarningColour::Yellow);
    assert_eq!(
        deadline(&app.get(p1).await, &notices[0].reply_item).colour(),
        WarningColour::Yellow
    );
    let report = sweep_on(app.channel.clone()).await;
    assert_eq!(report.warnings_posted, 2, "{report:?}");
    assert_eq!(sweep_on(app.channel.clone()).await.warnings_posted, 0);
    // p1: the missing reply is a supervision notice of its own, which
    // opens no reply item of its own.
    let missing = warnings(&app, p1).await.pop().expect("warning");
    assert_eq!(missing.item, notices[0].reply_item);
    assert_eq!(missing.kind(), DeadlineKind::NoticeReply);
    assert_eq!(missing.to_colour(), WarningColour::Yellow);
    assert_eq!(
        missing.notice.as_ref().expect("notice").kind(),
        NoticeKind::SupervisionNotice
    );
    assert_eq!(app.get(p1).await.notices.len(), 1);
    // p2: the lateness, recorded once.
    let late = warnings(&app, p2).await.pop().expect("warning");
    assert_eq!(late.item, notices[1].reply_item);
    assert_eq!(late.to_colour(), WarningColour::Yellow);
    let notice = late.notice.expect("notice");
    assert_eq!(notice.kind(), NoticeKind::LateReply);
    assert_eq!(
        notice.text,
        "逾期回复：兴宁区就问题「问题 p2」督办通知书的回复应于2026年8月11日前书面报告，\
         2026年8月12日方才报告，逾期回复予以记录。"
    );
    // p1 replies late after the sweep coloured it: no second notice.
    clock.set(at(2026, 8, 13));
    let entry = reply(&app, &unit(), p1, &notices[0].notice)
        .await
        .expect("late reply");
    assert_eq!(entry.notices[0].late_colour(), WarningColour::Yellow);
    assert_eq!(sweep_on(app.channel.clone()).await.warnings_posted, 0);
    assert_eq!(warnings(&app, p3).await.len(), 1, "p3 replied in time");

    // The late reply streams with the colour changes.
    let mut stream = app
        .warnings()
        .watch_warnings(authed(&unit(), WatchWarningsRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    let mut kinds = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
        let w = item.expect("ok").warning.expect("a warning");
        kinds.push(w.notice.expect("notice").kind());
    }
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert!(kinds.contains(&NoticeKind::LateReply));
    let verified = app
        .ledger()
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
}

fn graded(level: InterviewLevel, item: &str) -> Interview {
    Interview {
        kind: InterviewKind::GradedReminder as i32,
        level: level as i32,
        item: item.into(),
        interviewers: vec!["巡察办副主任 陈".into()],
        interviewees: vec!["兴宁区分管副区长 李四".into()],
        interview_date: Some(date(2026, 7, 25)),
        requirements: "十日内报送整改进展".into(),
        ..Default::default()
    }
}

async fn interview(
    app: &TestApp,
    token: &str,
    name: &str,
    interview: Interview,
) -> Result<LedgerEntry, tonic::Status> {
    app.ledger()
        .record_interview(authed(
            token,
            RecordInterviewRequest {
                name: name.into(),
                interview: Some(interview),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn interview_levels_follow_the_colour_never_skip_and_each_has_its_interviewer() {
    use InterviewLevel::{Handler, InCharge, Liaison};
    let clock = Clock::fixed(at(2026, 7, 25));
    let app = spawn_with_clock(clock.clone()).await;
    let names = handed_over(&app, &["p1", "p2"]).await;
    let name = names[0].as_str();
    // Blue: the liaison's level skips the handler's.
    let err = interview(&app, &office(), name, graded(Liaison, ""))
        .await
        .expect_err("skipped");
    refused(&err, Code::FailedPrecondition, "INTERVIEW_LEVEL_SKIPPED");
    let err = interview(&app, &commission(), name, graded(InCharge, "entry"))
        .await
        .expect_err("skipped two");
    refused(&err, Code::FailedPrecondition, "INTERVIEW_LEVEL_SKIPPED");
    // Nobody interviews about an item the entry does not have.
    let err = interview(&app, &office(), name, graded(Handler, "measures/m9"))
        .await
        .expect_err("no such item");
    refused(&err, Code::FailedPrecondition, "NO_SUCH_ITEM");
    // The unit is interviewed; it records none.
    let err = interview(&app, &unit(), name, graded(Handler, ""))
        .await
        .expect_err("the unit");
    refused(&err, Code::PermissionDenied, "");
    let entry = interview(&app, &office(), name, graded(Handler, ""))
        .await
        .expect("the handler's, on blue");
    let i1 = &entry.interviews[0];
    assert_eq!((i1.id.as_str(), i1.item.as_str()), ("i1", "entry"));
    assert_eq!(i1.recorded_by, "office-nn");
    assert_eq!(i1.requirements, "十日内报送整改进展");
    // The liaison's waits for yellow.
    let err = interview(&app, &office(), name, graded(Liaison, ""))
        .await
        .expect_err("not yellow yet");
    refused(&err, Code::FailedPrecondition, "INTERVIEW_NOT_DUE");
    clock.set(at(2026, 8, 1));
    interview(&app, &commission(), name, graded(Liaison, ""))
        .await
        .expect("the liaison's, on yellow, by the supervising body");
    // The leader in charge's: the supervising body's, on red only.
    let err = interview(&app, &office(), name, graded(InCharge, ""))
        .await
        .expect_err("the office is not the leader in charge");
    refused(&err, Code::PermissionDenied, "");
    let err = interview(&app, &commission(), name, graded(InCharge, ""))
        .await
        .expect_err("not red yet");
    refused(&err, Code::FailedPrecondition, "INTERVIEW_NOT_DUE");
    clock.set(at(2026, 8, 31));
    let entry = interview(&app, &commission(), name, graded(InCharge, ""))
        .await
        .expect("the leader in charge's, on red");
    let levels: Vec<InterviewLevel> = entry.interviews.iter().map(|i| i.level()).collect();
    assert_eq!(levels, vec![Handler, Liaison, InCharge]);

    // Bad input names its field.
    let mut future = graded(Handler, "");
    future.interview_date = Some(date(2026, 9, 1));
    let err = interview(&app, &office(), names[1].as_str(), future)
        .await
        .expect_err("in the future");
    refused(&err, Code::InvalidArgument, "IN_THE_FUTURE");
    assert_eq!(bad_field(&err), "interview.interview_date");
    let double = |interviewers: Vec<&str>, level: InterviewLevel| Interview {
        kind: InterviewKind::DoubleInterview as i32,
        level: level as i32,
        interviewers: interviewers.into_iter().map(Into::into).collect(),
        interviewees: vec!["兴宁区委书记".into(), "派驻纪检组长".into()],
        interview_date: Some(date(2026, 8, 30)),
        requirements: "履行主体责任和一岗双责".into(),
        ..Default::default()
    };
    let err = interview(
        &app,
        &commission(),
        name,
        double(vec!["市纪委书记"], Handler),
    )
    .await
    .expect_err("a level on a 双约谈");
    refused(&err, Code::InvalidArgument, "NOT_FOR_KIND");
    assert_eq!(bad_field(&err), "interview.level");
    let unspecified = InterviewLevel::Unspecified;
    let err = interview(
        &app,
        &commission(),
        name,
        double(vec!["市纪委书记"], unspecified),
    )
    .await
    .expect_err("one body");
    refused(&err, Code::InvalidArgument, "TOO_FEW");
    assert_eq!(bad_field(&err), "interview.interviewers");
    let both = double(vec!["市纪委书记", "市委组织部部长"], unspecified);
    let err = interview(&app, &office(), name, both.clone())
        .await
        .expect_err("the office holds no 双约谈");
    refused(&err, Code::PermissionDenied, "");
    let entry = interview(&app, &commission(), name, both)
        .await
        .expect("双约谈");
    assert_eq!(entry.interviews[3].kind(), InterviewKind::DoubleInterview);

    // The talk before rectification: the office's, before the plan.
    let talk = Interview {
        kind: InterviewKind::PreRectificationTalk as i32,
        interviewers: vec!["巡察领导小组组长".into()],
        interviewees: vec!["12个部门党组主要负责同志".into()],
        interview_date: Some(date(2026, 8, 31)),
        requirements: "主动承担整改主体责任和第一责任人责任".into(),
        ..Default::default()
    };
    let err = interview(&app, &commission(), name, talk.clone())
        .await
        .expect_err("the office's talk");
    refused(&err, Code::PermissionDenied, "");
    let entry = interview(&app, &office(), name, talk.clone())
        .await
        .expect("talk");
    assert_eq!(entry.interviews.len(), 5);
    let second = names[1].as_str();
    planned(&app, second, (2026, 12, 31)).await;
    let err = interview(&app, &office(), second, talk)
        .await
        .expect_err("rectifying already");
    refused(&err, Code::FailedPrecondition, "WRONG_STATE");

    // The follow-up, once.
    let follow = |token: String, id: &str| {
        let (mut ledger, id, name) = (app.ledger(), id.to_owned(), name.to_owned());
        async move {
            ledger
                .record_interview_follow_up(authed(
                    &token,
                    RecordInterviewFollowUpRequest {
                        name,
                        interview_id: id,
                        follow_up: "已按要求报送整改进展".into(),
                        ..Default::default()
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }
    };
    let err = follow(unit(), "i9").await.expect_err("no such interview");
    refused(&err, Code::NotFound, "");
    clock.set(at(2026, 9, 2));
    let entry = follow(unit(), "i1").await.expect("follow-up");
    let i1 = &entry.interviews[0];
    assert_eq!(i1.followed_up_by, "unit-xn");
    assert_eq!(i1.follow_up_date, Some(date(2026, 9, 2)));
    let err = follow(office(), "i1").await.expect_err("twice");
    refused(
        &err,
        Code::FailedPrecondition,
        "INTERVIEW_ALREADY_FOLLOWED_UP",
    );
    // Every step is a posting of the journal, in GetEntry.
    let kinds: Vec<PostingKind> = app
        .get(name)
        .await
        .postings
        .iter()
        .map(|p| p.kind())
        .filter(|k| matches!(k, PostingKind::Interview | PostingKind::InterviewFollowUp))
        .collect();
    assert_eq!(kinds.len(), 6);
}

fn requirements(entry: &LedgerEntry) -> Vec<(String, InterviewLevel)> {
    entry
        .interview_requirements
        .iter()
        .map(|r| (r.item.clone(), r.level()))
        .collect()
}

#[tokio::test]
async fn a_red_item_escalates_to_the_next_interview_level_once_however_many_sweep() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let upstream = Upstream::start().await;
    let env = fiveledger_platform::testing::TestEnv::new("ledgers");
    let settings = fiveledger_ledgers::LedgersSettings {
        interview_escalation_days: 10,
        ..manual_sweep()
    };
    let (running, channel) =
        start_ledgers_with(&env, &upstream.url, settings.clone(), clock.clone()).await;
    let app = TestApp {
        running,
        channel,
        env,
        upstream,
    };
    let ids = ["p1", "p2", "p3", "p4", "p5", "p6"];
    let names = handed_over(&app, &ids).await;
    let (_replica, replica) =
        start_ledgers_with(&app.env, &app.upstream.url, settings, clock.clone()).await;
    // Red from 8-31 (a circular each, no reply asked).
    clock.set(at(2026, 8, 31));
    let report = sweep_on(app.channel.clone()).await;
    assert_eq!((report.circulars, report.interviews_required), (6, 0));
    let entry = app.get(&names[0]).await;
    assert_eq!(deadline(&entry, "entry").red_since, Some(date(2026, 8, 31)));
    // Nine days red: not yet.
    clock.set(at(2026, 9, 9));
    assert_eq!(sweep_on(replica.clone()).await.interviews_required, 0);
    // Ten days: the handler's interview is required, once per entry,
    // whatever the sweeps racing on two servers do.
    clock.set(at(2026, 9, 10));
    let (a, b, c, d) = tokio::join!(
        sweep_on(app.channel.clone()),
        sweep_on(replica.clone()),
        sweep_on(app.channel.clone()),
        sweep_on(replica.clone())
    );
    let total = [a, b, c, d]
        .iter()
        .map(|r| (r.interviews_required, r.warnings_posted))
        .fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1));
    assert_eq!(total, (6, 0), "one requirement per entry in all");
    assert_eq!(sweep_on(app.channel.clone()).await.interviews_required, 0);
    for name in &names {
        assert_eq!(
            requirements(&app.get(name).await),
            vec![("entry".to_owned(), InterviewLevel::Handler)],
            "{name}"
        );
    }
    let required = app.get(&names[0]).await.interview_requirements[0].clone();
    let notice = required.notice.expect("notice");
    assert_eq!(notice.kind(), NoticeKind::InterviewRequired);
    assert!(
        notice
            .number
            .starts_with(&format!("{}/postings/", names[0]))
    );
    assert_eq!(notice.addressees, vec!["office:guangxi/nanning".to_owned()]);
    assert_eq!(
        notice.text,
        "约谈要求：兴宁区问题「问题 p1」的整改自2026年8月31日起为红色预警，\
         10日内未进行下一级约谈，现须由主办部门（谁主办、谁负责）进行约谈提醒。"
    );

    // The handler interviews on p1 on 9-12: the requirement is met, and the
    // liaison's is required ten days after that interview.
    clock.set(at(2026, 9, 12));
    let mut handler = graded(InterviewLevel::Handler, "");
    handler.interview_date = Some(date(2026, 9, 12));
    let entry = interview(&app, &office(), &names[0], handler)
        .await
        .expect("handler");
    assert_eq!(entry.interview_requirements[0].met_by, "i1");
    clock.set(at(2026, 9, 21));
    assert_eq!(sweep_on(replica.clone()).await.interviews_required, 0);
    clock.set(at(2026, 9, 22));
    // The others still owe the handler's interview: nothing new for them.
    let (a, b) = tokio::join!(sweep_on(app.channel.clone()), sweep_on(replica.clone()));
    assert_eq!(a.interviews_required + b.interviews_required, 1);
    assert_eq!(sweep_on(app.channel.clone()).await.interviews_required, 0);
    assert_eq!(
        requirements(&app.get(&names[0]).await),
        vec![
            ("entry".to_owned(), InterviewLevel::Handler),
            ("entry".to_owned(), InterviewLevel::Liaison)
        ]
    );
    let liaison = app.get(&names[0]).await.interview_requirements[1].clone();
    assert_eq!(
        liaison.notice.expect("notice").addressees,
        vec![
            "office:guangxi/nanning".to_owned(),
            "organisations/nanning-jw".to_owned()
        ]
    );
    for name in &names[1..] {
        assert_eq!(app.get(name).await.interview_requirements.len(), 1);
    }

    // Escalations stream with the warnings: six circulars, seven requirements.
    let mut stream = app
        .warnings()
        .watch_warnings(authed(&office(), WatchWarningsRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    let (mut circulars, mut required) = (0, 0);
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
        let item = item.expect("ok");
        match (item.warning, item.interview_required) {
            (Some(_), None) => circulars += 1,
            (None, Some(_)) => required += 1,
            other => panic!("one of the two: {other:?}"),
        }
    }
    assert_eq!((circulars, required), (6, 7));
    let verified = app
        .ledger()
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
}

/// An interview's follow-up has its due date (given, else
/// `interview_follow_up_days` after the interview) and colours like every
/// item until it is recorded: one notice per change however often the
/// sweep runs, and none once followed up.
#[tokio::test]
async fn an_overdue_follow_up_colours_once_per_change_until_it_is_recorded() {
    let clock = Clock::fixed(at(2026, 6, 5));
    let app = spawn_with_clock(clock.clone()).await;
    let names = handed_over(&app, &["p1"]).await;
    let name = names[0].as_str();
    let talk = Interview {
        kind: InterviewKind::PreRectificationTalk as i32,
        interviewers: vec!["巡察领导小组组长".into()],
        interviewees: vec!["兴宁区委书记".into()],
        interview_date: Some(date(2026, 6, 5)),
        requirements: "十日内报送整改方案".into(),
        ..Default::default()
    };
    let entry = interview(&app, &office(), name, talk).await.expect("talk");
    // No date given: thirty days after the interview (the default).
    let i1 = &entry.interviews[0];
    assert_eq!(i1.follow_up_due_date, Some(date(2026, 7, 5)));
    let d = deadline(&entry, "interviews/i1");
    assert_eq!(d.kind(), DeadlineKind::InterviewFollowUp);
    assert_eq!(d.due_date, Some(date(2026, 7, 5)));
    assert!(!d.closed);

    // Only the follow-up is near or past its date on these days (the
    // entry is due 2026-07-31): blue, then yellow, each noticed once.
    let follow_up_warnings = |entry: &LedgerEntry| -> Vec<(WarningColour, NoticeKind)> {
        entry
            .postings
            .iter()
            .filter_map(|p| match &p.detail {
                Some(posting::Detail::Warning(w)) if w.item == "interviews/i1" => {
                    Some((w.to_colour(), w.notice.as_ref().expect("notice").kind()))
                }
                _ => None,
            })
            .collect()
    };
    clock.set(at(2026, 7, 1));
    sweep_on(app.channel.clone()).await;
    sweep_on(app.channel.clone()).await;
    assert_eq!(
        follow_up_warnings(&app.get(name).await),
        [(WarningColour::Blue, NoticeKind::Reminder)]
    );
    clock.set(at(2026, 7, 6));
    sweep_on(app.channel.clone()).await;
    sweep_on(app.channel.clone()).await;
    let entry = app.get(name).await;
    assert_eq!(
        follow_up_warnings(&entry),
        [
            (WarningColour::Blue, NoticeKind::Reminder),
            (WarningColour::Yellow, NoticeKind::SupervisionNotice)
        ]
    );
    let notice = entry
        .postings
        .iter()
        .rev()
        .find_map(|p| match &p.detail {
            Some(posting::Detail::Warning(w)) if w.item == "interviews/i1" => w.notice.clone(),
            _ => None,
        })
        .expect("notice");
    assert!(notice.text.contains("约谈要求的落实"), "{}", notice.text);

    // Followed up: closed, and later sweeps send nothing more about it.
    let entry = app
        .ledger()
        .record_interview_follow_up(authed(
            &unit(),
            RecordInterviewFollowUpRequest {
                name: name.into(),
                interview_id: "i1".into(),
                follow_up: "整改方案已报送".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("follow-up")
        .into_inner();
    assert!(deadline(&entry, "interviews/i1").closed);
    clock.set(at(2026, 7, 20));
    sweep_on(app.channel.clone()).await;
    assert_eq!(follow_up_warnings(&app.get(name).await).len(), 2);
}
