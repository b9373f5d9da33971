//! Supervision over gRPC with a fixed clock: the four colours and their
//! notices, sweeps racing on two servers, statistics rolled up by
//! organisation with a hand-computed on-time rate, the double publication
//! and what the public role may read.

use crate::common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{self, Inspection};
use fiveledger_proto::types::{DeadlineKind, NoticeKind, WarningColour, WarningDetail};
use futures::StreamExt;
use prost::Message;
use tonic::Code;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn public() -> String {
    testing::token("citizen", "", &[Role::Public])
}

/// Inspections of two counties of Nanning, fed back on 2026-06-01.
fn seed_counties(app: &TestApp) {
    seed_rounds(app);
    let mut data = app.upstream.data.lock().expect("lock");
    {
        let county = "qingxiu";
        let name = format!("rounds/r9/inspections/{county}");
        data.inspections.insert(
            name.clone(),
            Inspection {
                name,
                target: format!("organisations/{county}"),
                target_path: format!("guangxi/nanning/{county}"),
                round_kind: rounds::RoundKind::Regular as i32,
                feedback_date: Some(date(2026, 6, 1)),
                ..Default::default()
            },
        );
    }
}

/// Freezes the problems of one inspection and gives feedback: entries due
/// on 2026-07-31. Returns the entries by problem id order.
async fn handed_over(
    app: &TestApp,
    inspection: &str,
    problems: Vec<fiveledger_proto::issues::Problem>,
) -> Vec<LedgerEntry> {
    let n = problems.len();
    app.upstream.freeze(inspection, problems).await;
    app.wait_for(&format!("inspection = \"{inspection}\""), n)
        .await;
    let i = app.upstream.data.lock().expect("lock").inspections[inspection].clone();
    app.upstream.feedback(&i).await;
    let mut entries = app
        .wait_for(
            &format!("inspection = \"{inspection}\" AND state = ENTRY_STATE_HANDED_OVER"),
            n,
        )
        .await;
    entries.sort_by(|a, b| a.problem.cmp(&b.problem));
    entries
}

async fn sweep(app: &TestApp) -> RunWarningSweepResponse {
    app.warnings()
        .run_warning_sweep(authed(&office(), RunWarningSweepRequest::default()))
        .await
        .expect("sweep")
        .into_inner()
}

fn kinds(ws: &[WarningDetail]) -> Vec<NoticeKind> {
    ws.iter()
        .map(|w| w.notice.as_ref().expect("notice").kind())
        .collect()
}

/// Unit acknowledges and plans one measure due `due`; the office approves.
async fn plan(app: &TestApp, name: &str, unit_token: &str, due: (i32, i32, i32), owner: &str) {
    let mut ledger = app.ledger();
    let entry = app.get(name).await;
    if entry.state() == EntryState::HandedOver {
        ledger
            .acknowledge_hand_over(authed(
                unit_token,
                AcknowledgeHandOverRequest {
                    name: name.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("ack");
    }
    let entry = ledger
        .submit_plan(authed(
            unit_token,
            SubmitPlanRequest {
                name: name.into(),
                plan: Some(RectificationPlan {
                    summary: "整改方案".into(),
                    measures: vec![Measure {
                        id: "m1".into(),
                        kind: MeasureKind::Corrective as i32,
                        description: "建立台账制度".into(),
                        owner: owner.into(),
                        due_date: Some(date(due.0, due.1, due.2)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("plan")
        .into_inner();
    let version = entry.pending_plan.expect("pending").version;
    ledger
        .approve_plan(authed(
            &office(),
            ApprovePlanRequest {
                name: name.into(),
                version,
                ..Default::default()
            },
        ))
        .await
        .expect("approve");
}

/// Completes the measure and writes the entry off (verified by the commission).
async fn write_off(app: &TestApp, name: &str, unit_token: &str) {
    let mut ledger = app.ledger();
    ledger
        .post_progress(authed(
            unit_token,
            PostProgressRequest {
                name: name.into(),
                measure_id: "m1".into(),
                description: "PROGRESS-NOTE 已完成".into(),
                evidence: evidence("EVIDENCE-SECRET.pdf"),
                measure_done: true,
                ..Default::default()
            },
        ))
        .await
        .expect("progress");
    ledger
        .request_write_off(authed(
            unit_token,
            RequestWriteOffRequest {
                name: name.into(),
                closure_statement: "CLOSURE-SECRET".into(),
                evidence: evidence("EVIDENCE-SECRET.pdf"),
                figures: Some(RectificationFigures {
                    funds_recovered_fen: 100,
                    losses_recovered_fen: 50,
                    people_held_accountable: 1,
                    people_disciplined: 1,
                    rules_established: 2,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("request");
    ledger
        .approve_write_off(authed(
            &commission(),
            ApproveWriteOffRequest {
                name: name.into(),
                remarks: "VERIFIER-REMARK".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify");
}

#[tokio::test]
async fn an_entry_goes_green_blue_yellow_red_with_one_notice_each_and_catches_up_to_yellow() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_rounds(&app);
    let mut p1 = problem("p1", "xingning");
    p1.title = "违规发放津贴补贴".into();
    let entry = handed_over(&app, INSPECTION, vec![p1]).await;
    let name = entry[0].name.clone();
    assert_eq!(app.get(&name).await.colour(), WarningColour::Green);
    assert_eq!(sweep(&app).await.warnings_posted, 0);

    let steps = [
        (at(2026, 7, 25), WarningColour::Blue, NoticeKind::Reminder),
        (
            at(2026, 8, 1),
            WarningColour::Yellow,
            NoticeKind::SupervisionNotice,
        ),
        (at(2026, 8, 31), WarningColour::Red, NoticeKind::Circular),
    ];
    for (i, (when, colour, kind)) in steps.iter().enumerate() {
        clock.set(*when);
        // Correct on read before any sweep.
        assert_eq!(app.get(&name).await.colour(), *colour);
        let report = sweep(&app).await;
        assert_eq!(report.warnings_posted, 1, "{report:?}");
        // Sweeping again changes nothing.
        assert_eq!(sweep(&app).await.warnings_posted, 0);
        let ws = warnings(&app, &name).await;
        assert_eq!(ws.len(), i + 1);
        let last = ws.last().expect("warning");
        assert_eq!(last.to_colour(), *colour);
        assert_eq!(last.notice.as_ref().expect("notice").kind(), *kind);
        if *kind == NoticeKind::SupervisionNotice {
            // The unit replies in time (a missing reply would colour).
            app.ledger()
                .reply_to_notice(authed(
                    &unit(),
                    ReplyToNoticeRequest {
                        name: name.clone(),
                        notice: last.notice.clone().expect("notice").number,
                        reply: "已整改".into(),
                        ..Default::default()
                    },
                ))
                .await
                .expect("reply");
        }
    }
    let ws = warnings(&app, &name).await;
    let notice = ws[1].notice.clone().expect("notice");
    assert_eq!(notice.addressees, vec!["organisations/xingning".to_owned()]);
    assert_eq!(notice.reply_due_date, Some(date(2026, 8, 11)));
    assert!(notice.number.starts_with(&format!("{name}/postings/")));
    let circular = ws[2].notice.clone().expect("notice");
    assert!(
        circular
            .addressees
            .contains(&"organisations/nanning-jw".to_owned())
    );
    assert!(
        circular
            .addressees
            .contains(&"office:guangxi/nanning".to_owned())
    );

    // The plan moves the due date far out: red catches up to yellow only.
    clock.set(at(2026, 9, 1));
    plan(&app, &name, &unit(), (2026, 12, 31), "王五").await;
    let entry = app.get(&name).await;
    assert_eq!(entry.due_date, Some(date(2026, 12, 31)));
    assert_eq!(entry.colour(), WarningColour::Yellow);
    let report = sweep(&app).await;
    assert_eq!((report.warnings_posted, report.eased), (1, 1), "{report:?}");
    assert_eq!(
        kinds(&warnings(&app, &name).await),
        vec![
            NoticeKind::Reminder,
            NoticeKind::SupervisionNotice,
            NoticeKind::Circular,
            NoticeKind::Eased
        ]
    );
    // Overdue again: a second yellow is red at once.
    clock.set(at(2027, 1, 2));
    assert_eq!(app.get(&name).await.colour(), WarningColour::Red);

    // Each notice as the office sends it: Chinese, the unit and the
    // problem by name, dates written out.
    let texts: Vec<String> = warnings(&app, &name)
        .await
        .into_iter()
        .map(|w| w.notice.expect("notice").text)
        .collect();
    assert_eq!(
        texts,
        [
            "提醒：兴宁区问题「违规发放津贴补贴」的整改将于2026年7月31日到期，请抓紧办理。",
            "督办通知书：兴宁区问题「违规发放津贴补贴」的整改已于2026年7月31日到期，现已逾期。\
             请于2026年8月11日前书面报告办理情况。",
            "通报：兴宁区问题「违规发放津贴补贴」的整改已于2026年7月31日到期，现严重逾期，予以通报。",
            "预警调整：兴宁区问题「违规发放津贴补贴」的整改（期限2026年12月31日）的预警由红色降为黄色。",
        ]
    );
    for text in &texts {
        // No ids, no English.
        assert!(!text.chars().any(|c| c.is_ascii_alphabetic()), "{text}");
    }

    // The stream of warnings replays from the start and resumes by cursor.
    let mut stream = app
        .warnings()
        .watch_warnings(authed(&office(), WatchWarningsRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let w = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("in time")
            .expect("item")
            .expect("ok");
        seen.push(w);
    }
    assert!(seen.iter().all(|w| w.entry == name));
    let mut resumed = app
        .warnings()
        .watch_warnings(authed(
            &office(),
            WatchWarningsRequest {
                after_cursor: seen[2].cursor.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let next = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .expect("in time")
        .expect("item")
        .expect("ok");
    assert_eq!(next.posting, seen[3].posting);
    // Another county's unit sees none of it.
    let mut other = app
        .warnings()
        .watch_warnings(authed(&other_unit(), WatchWarningsRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), other.next())
            .await
            .is_err()
    );
    // The journal still verifies with the warning postings in it.
    let verified = app
        .ledger()
        .verify_journal(authed(&office(), VerifyJournalRequest::default()))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
}

/// A look-back reopens a written-off entry with a new due date ahead: by
/// the ladder the reopening counts as one yellow, so the entry shows blue
/// (not yellow: it is not overdue) with a reminder, and red at once when
/// the new due date passes (a second yellow), with a circular.
#[tokio::test]
async fn a_reopened_entry_is_blue_until_its_new_due_date_then_red() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_rounds(&app);
    let mut p1 = problem("p1", "xingning");
    p1.title = "违规发放津贴补贴".into();
    let name = handed_over(&app, INSPECTION, vec![p1]).await[0]
        .name
        .clone();
    clock.set(at(2026, 7, 10));
    plan(&app, &name, &unit(), (2026, 7, 20), "办公室").await;
    write_off(&app, &name, &unit()).await;
    clock.set(at(2026, 10, 1));
    let reopened = app
        .ledger()
        .reopen(authed(
            &office(),
            ReopenRequest {
                name: name.clone(),
                inspection: LOOK_BACK.into(),
                reason: "文字整改".into(),
                due_date: Some(date(2026, 12, 31)),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen")
        .into_inner();
    assert_eq!(reopened.colour(), WarningColour::Blue);
    assert_eq!(app.get(&name).await.colour(), WarningColour::Blue);
    let report = sweep(&app).await;
    assert_eq!(
        (report.warnings_posted, report.reminders),
        (1, 1),
        "{report:?}"
    );
    let last = warnings(&app, &name).await.pop().expect("a warning");
    assert_eq!(last.to_colour(), WarningColour::Blue);
    assert_eq!(
        last.notice.expect("notice").text,
        "提醒：兴宁区问题「违规发放津贴补贴」的整改（经回头看重新交办）将于2026年12月31日到期，请抓紧办理。"
    );
    // Overdue again: red at once, circulated.
    clock.set(at(2027, 1, 1));
    assert_eq!(app.get(&name).await.colour(), WarningColour::Red);
    let report = sweep(&app).await;
    assert_eq!(
        (report.warnings_posted, report.circulars),
        (1, 1),
        "{report:?}"
    );
    let last = warnings(&app, &name).await.pop().expect("a warning");
    assert_eq!(
        last.notice.expect("notice").text,
        "通报：兴宁区问题「违规发放津贴补贴」的整改（经回头看重新交办）已于2026年12月31日到期，现严重逾期，予以通报。"
    );
    // The list's colour filter agrees with the colour on read.
    let red = app.list(&admin(), "colour = WARNING_COLOUR_RED").await;
    assert_eq!(red.len(), 1);
}

/// Nobody runs the sweep: the service's own periodic sweep records the
/// colour change with its notice, once.
#[tokio::test]
async fn the_periodic_sweep_posts_the_notice_without_being_asked() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let upstream = Upstream::start().await;
    let env = fiveledger_platform::testing::TestEnv::new("ledgers");
    let settings = fiveledger_ledgers::LedgersSettings {
        sweep_interval_seconds: 1,
        ..Default::default()
    };
    let (running, channel) = start_ledgers_with(&env, &upstream.url, settings, clock.clone()).await;
    let app = TestApp {
        running,
        channel,
        env,
        upstream,
    };
    seed_rounds(&app);
    let entry = handed_over(&app, INSPECTION, vec![problem("p1", "xingning")]).await;
    let name = entry[0].name.clone();
    // Overdue (due 7-31): the next sweep posts a supervision notice.
    clock.set(at(2026, 8, 5));
    let deadline = Instant::now() + Duration::from_secs(20);
    let posted = loop {
        let ws = warnings(&app, &name).await;
        if !ws.is_empty() || Instant::now() > deadline {
            break ws;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(posted.len(), 1, "one notice from the periodic sweep");
    assert_eq!(posted[0].to_colour(), WarningColour::Yellow);
    assert_eq!(
        posted[0].notice.as_ref().expect("notice").kind(),
        NoticeKind::SupervisionNotice
    );
    // Later sweeps find nothing new.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(warnings(&app, &name).await.len(), 1);
}

#[tokio::test]
async fn two_servers_sweeping_at_once_post_one_notice_per_change() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_rounds(&app);
    let problems = (1..=8)
        .map(|i| problem(&format!("p{i}"), "xingning"))
        .collect();
    let entries = handed_over(&app, INSPECTION, problems).await;
    let (_replica, channel) =
        start_ledgers_with(&app.env, &app.upstream.url, manual_sweep(), clock.clone()).await;
    clock.set(at(2026, 8, 2)); // yellow
    let run = |channel: tonic::transport::Channel| async move {
        WarningServiceClient::new(channel)
            .run_warning_sweep(authed(&office(), RunWarningSweepRequest::default()))
            .await
            .expect("sweep")
            .into_inner()
            .warnings_posted
    };
    let (a, b, c, d) = tokio::join!(
        run(app.channel.clone()),
        run(channel.clone()),
        run(app.channel.clone()),
        run(channel.clone())
    );
    assert_eq!(a + b + c + d, 8, "one change per entry in all");
    for e in &entries {
        assert_eq!(
            kinds(&warnings(&app, &e.name).await),
            vec![NoticeKind::SupervisionNotice],
            "{}",
            e.name
        );
    }
}

use fiveledger_proto::ledgers::warning_service_client::WarningServiceClient;

async fn statistics(app: &TestApp, request: GetStatisticsRequest) -> GetStatisticsResponse {
    app.statistics()
        .get_statistics(authed(&office(), request))
        .await
        .expect("statistics")
        .into_inner()
}

#[tokio::test]
async fn statistics_roll_up_and_the_on_time_rate_matches_the_fixture() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_counties(&app);
    let xn = handed_over(
        &app,
        INSPECTION,
        ["a", "b", "c", "d"]
            .iter()
            .map(|p| problem(p, "xingning"))
            .collect(),
    )
    .await;
    let qx = handed_over(
        &app,
        "rounds/r9/inspections/qingxiu",
        vec![problem("e", "qingxiu"), problem("f", "qingxiu")],
    )
    .await;
    // All due 2026-07-31. a, c, e written off on time (7-10).
    clock.set(at(2026, 7, 10));
    for (entry, token) in [(&xn[0], unit()), (&xn[2], unit()), (&qx[0], other_unit())] {
        plan(&app, &entry.name, &token, (2026, 7, 20), "办公室").await;
        write_off(&app, &entry.name, &token).await;
    }
    // b: the plan extends its due date to 9-30; written off 9-15, late
    // against the original due date.
    plan(&app, &xn[1].name, &unit(), (2026, 9, 30), "办公室").await;
    clock.set(at(2026, 9, 15));
    write_off(&app, &xn[1].name, &unit()).await;
    // c: reopened by the look-back; counts against the rate.
    app.ledger()
        .reopen(authed(
            &office(),
            ReopenRequest {
                name: xn[2].name.clone(),
                inspection: LOOK_BACK.into(),
                reason: "文字整改".into(),
                due_date: Some(date(2026, 12, 31)),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen");
    // d and f stay open: overdue by 10-1.
    clock.set(at(2026, 10, 1));

    // Three clues (issues service): two in Xingning, one disposed of.
    {
        let clue = |target: &str, disposed: bool| fiveledger_proto::issues::Clue {
            // A disposed clue past its disposal way's time limit, the others on track.
            colour: if disposed {
                fiveledger_proto::types::WarningColour::Red as i32
            } else {
                fiveledger_proto::types::WarningColour::Green as i32
            },
            inspection: INSPECTION.into(),
            round: "rounds/r9".into(),
            target_path: format!("guangxi/nanning/{target}"),
            receiving_body: "organisations/nanning-jw".into(),
            disposal: disposed.then(Default::default),
            ..Default::default()
        };
        let mut data = app.upstream.data.lock().expect("lock");
        data.clues = vec![
            clue("xingning", true),
            clue("xingning", false),
            clue("qingxiu", false),
        ];
    }

    let total = statistics(&app, GetStatisticsRequest::default()).await;
    let t = total.total.and_then(|r| r.counts).expect("total");
    let clues = t.clues.expect("clue figures for the office");
    assert_eq!(
        (clues.registered, clues.transferred, clues.disposed),
        (3, 3, 1)
    );
    // Clue colours come with the clue figures (the public sees no clues).
    assert_eq!(
        (clues.green, clues.blue, clues.yellow, clues.red),
        (2, 0, 0, 1),
        "{clues:?}"
    );
    assert_eq!(t.found, 6);
    assert_eq!(t.written_off, 3); // a, b, e (c reopened)
    assert_eq!(t.open, 3);
    assert_eq!(t.reopened, 1);
    assert_eq!(t.due_so_far, 6);
    assert_eq!(t.written_off_on_time, 2); // a and e
    assert!((t.on_time_rate - 2.0 / 6.0).abs() < 1e-9, "{t:?}");
    assert!((t.completion_rate - 0.5).abs() < 1e-9);
    assert_eq!(t.funds_recovered_fen, 400); // a, b, c (figures kept), e
    // d, f red (61 days late); c reopened, due 12-31: blue (a reopening
    // counts as one yellow, so at least blue; not overdue).
    assert_eq!((t.green, t.blue, t.yellow, t.red), (0, 1, 0, 2), "{t:?}");
    assert_eq!(t.overdue, 2);
    // The same figures from the entries one by one: a round's scope reads
    // no tallies, the whole subtree above did.
    let one_by_one = statistics(
        &app,
        GetStatisticsRequest {
            round: "rounds/r9".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(one_by_one.total.and_then(|r| r.counts), Some(t));
    // A period narrows by the day entries were opened.
    let since_2000 = statistics(
        &app,
        GetStatisticsRequest {
            period_start: Some(date(2000, 1, 1)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(since_2000.total.and_then(|r| r.counts), Some(t));
    let in_2000 = statistics(
        &app,
        GetStatisticsRequest {
            period_start: Some(date(2000, 1, 1)),
            period_end: Some(date(2000, 12, 31)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        in_2000.total.and_then(|r| r.counts).map(|c| c.found),
        Some(0)
    );
    let reversed = app
        .statistics()
        .get_statistics(authed(
            &office(),
            GetStatisticsRequest {
                period_start: Some(date(2026, 2, 1)),
                period_end: Some(date(2026, 1, 1)),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a reversed period");
    assert_eq!(bad_field(&reversed), "period_end");
    // The SQL colour agrees with the colour on read.
    let mut on_read = [0i64; 5];
    for e in app.list(&admin(), "").await {
        if e.state() != EntryState::WrittenOff {
            on_read[e.colour as usize] += 1;
        }
    }
    assert_eq!(on_read[1..], [t.green, t.blue, t.yellow, t.red]);
    // Filtering the list by colour finds the same entries.
    let red: Vec<String> = app
        .list(&admin(), "colour = WARNING_COLOUR_RED")
        .await
        .into_iter()
        .map(|e| e.problem)
        .collect();
    assert_eq!(red.len(), 2, "{red:?}");
    assert!(red.contains(&"problems/d".to_owned()) && red.contains(&"problems/f".to_owned()));
    let blue = app.list(&admin(), "colour = WARNING_COLOUR_BLUE").await;
    assert_eq!(blue.len(), 1);
    assert_eq!(blue[0].name, xn[2].name);
    let err = app
        .ledger()
        .list_entries(authed(
            &admin(),
            ListEntriesRequest {
                filter: "colour = PURPLE".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("unknown colour");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // City = sum of its counties, for every figure.
    let by_county = statistics(
        &app,
        GetStatisticsRequest {
            organisation_path: "guangxi/nanning".into(),
            group_by: StatisticsGrouping::Organisation as i32,
            ..Default::default()
        },
    )
    .await;
    let city = by_county
        .total
        .clone()
        .and_then(|r| r.counts)
        .expect("city");
    let rows: Vec<_> = by_county.rows.iter().collect();
    assert_eq!(
        rows.iter()
            .map(|r| r.key.as_ref().expect("key").organisation_path.clone())
            .collect::<Vec<_>>(),
        vec!["guangxi/nanning/qingxiu", "guangxi/nanning/xingning"]
    );
    let mut sum = StatisticsCounts::default();
    for r in &rows {
        let c = r.counts.as_ref().expect("counts");
        sum.found += c.found;
        sum.fixed_on_the_spot += c.fixed_on_the_spot;
        sum.handed_over += c.handed_over;
        sum.transferred += c.transferred;
        sum.written_off += c.written_off;
        sum.open += c.open;
        sum.overdue += c.overdue;
        sum.reopened += c.reopened;
        sum.due_so_far += c.due_so_far;
        sum.written_off_on_time += c.written_off_on_time;
        sum.funds_recovered_fen += c.funds_recovered_fen;
        sum.losses_recovered_fen += c.losses_recovered_fen;
        sum.people_held_accountable += c.people_held_accountable;
        sum.people_disciplined += c.people_disciplined;
        sum.rules_established += c.rules_established;
        sum.green += c.green;
        sum.blue += c.blue;
        sum.yellow += c.yellow;
        sum.red += c.red;
        let k = c.clues.expect("clue figures per county");
        let into = sum.clues.get_or_insert_with(Default::default);
        into.registered += k.registered;
        into.transferred += k.transferred;
        into.disposed += k.disposed;
        into.with_outcome += k.with_outcome;
        into.green += k.green;
        into.blue += k.blue;
        into.yellow += k.yellow;
        into.red += k.red;
    }
    sum.on_time_rate = city.on_time_rate;
    sum.completion_rate = city.completion_rate;
    assert_eq!(sum, city);
    let xingning = rows[1].counts.expect("xingning");
    assert!((xingning.on_time_rate - 0.25).abs() < 1e-9, "{xingning:?}");
    // The city rolled up one level higher is one row equal to the total.
    let city_row = statistics(
        &app,
        GetStatisticsRequest {
            organisation_path: "guangxi".into(),
            group_by: StatisticsGrouping::Organisation as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(city_row.rows.len(), 1);
    assert_eq!(city_row.rows[0].counts.expect("c"), city);
    let levels = statistics(
        &app,
        GetStatisticsRequest {
            group_by: StatisticsGrouping::OrganisationLevel as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(levels.rows.len(), 1);
    assert_eq!(levels.rows[0].key.as_ref().expect("k").level, 3);
    // A county office sees only its county.
    let qx_office = testing::token(
        "office-qx",
        "guangxi/nanning/qingxiu",
        &[Role::InspectionOffice],
    );
    let own = app
        .statistics()
        .get_statistics(authed(&qx_office, GetStatisticsRequest::default()))
        .await
        .expect("stats")
        .into_inner();
    let own = own.total.and_then(|r| r.counts).expect("c");
    assert_eq!(own.found, 2);
    assert_eq!(
        own.clues.expect("clues").registered,
        1,
        "only Qingxiu's clue"
    );
    // A unit holds no clues: its statistics carry none.
    let unit_view = app
        .statistics()
        .get_statistics(authed(&unit(), GetStatisticsRequest::default()))
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(
        unit_view.total.and_then(|r| r.counts).expect("c").clues,
        None
    );
    let bad = app
        .statistics()
        .get_statistics(authed(
            &office(),
            GetStatisticsRequest {
                organisation_path: "not a path".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bad path");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&bad), "organisation_path");
}

#[tokio::test]
async fn the_public_edition_holds_no_clue_name_evidence_or_remark_and_the_public_reads_nothing_else()
 {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_rounds(&app);
    let entries = handed_over(&app, INSPECTION, vec![problem("p1", "xingning")]).await;
    let name = entries[0].name.clone();
    let mut ledger = app.ledger();
    ledger
        .acknowledge_hand_over(authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "ACK-REMARK".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("ack");
    // A clue handed to the organisation department.
    ledger
        .transfer(authed(
            &office(),
            TransferRequest {
                name: name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                matter: "CLUE-线索 about cadre 赵六".into(),
                due_date: Some(date(2026, 7, 20)),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer");
    answer_transfer(
        &mut ledger,
        &org_department(),
        name.clone(),
        "RESULT-SECRET",
    )
    .await;
    ledger
        .post_supervision(authed(
            &commission(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "REMARK-SECRET".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("supervision");
    plan(&app, &name, &unit(), (2026, 7, 20), "OWNER-王五").await;

    let publish = |request_id: &str| {
        let mut publications = app.publications();
        let request_id = request_id.to_owned();
        async move {
            publications
                .publish(authed(
                    &office(),
                    PublishRequest {
                        inspection: INSPECTION.into(),
                        request_id,
                        ..Default::default()
                    },
                ))
                .await
                .expect("publish")
                .into_inner()
        }
    };
    let first = publish("pub-1").await;
    assert_eq!(first.publications.len(), 1);
    assert_eq!(first.publications[0].version, 1);
    // A retried request gives the same publication.
    assert_eq!(publish("pub-1").await, first);
    // Its event says who published it, under which request.
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let db = app.db().await;
        let events = fiveledger_platform::outbox::Entity::find()
            .filter(fiveledger_platform::outbox::Column::EventType.eq("PublicationPublished"))
            .all(db.reader())
            .await
            .expect("events");
        assert_eq!(events.len(), 1, "one event, not one per retry");
        assert_eq!(
            (events[0].actor.as_str(), events[0].request_id.as_str()),
            ("office-nn", "pub-1")
        );
    }

    clock.set(at(2026, 7, 15));
    write_off(&app, &name, &unit()).await;
    let second = publish("pub-2").await.publications.remove(0);
    assert_eq!(second.version, 2);
    assert_eq!(second.previous, first.publications[0].name);

    let get = |token: String, edition: PublicationEdition| {
        let mut publications = app.publications();
        let name = second.name.clone();
        async move {
            publications
                .get_publication(authed(
                    &token,
                    GetPublicationRequest {
                        name,
                        edition: edition as i32,
                    },
                ))
                .await
        }
    };
    let public_edition = get(public(), PublicationEdition::Public)
        .await
        .expect("public edition")
        .into_inner();
    assert_eq!(public_edition.items.len(), 1);
    let item = &public_edition.items[0];
    assert_eq!(item.title, "问题 p1");
    assert_eq!(item.status(), PublishedStatus::Completed);
    assert_eq!(item.completion_date, Some(date(2026, 7, 15)));
    assert_eq!(item.measures[0].description, "建立台账制度");
    assert_eq!(
        public_edition
            .changes
            .iter()
            .map(|c| c.kind())
            .collect::<Vec<_>>(),
        vec![PublicationChangeKind::StatusChanged]
    );
    let bytes = public_edition.encode_to_vec();
    let text = format!("{public_edition:?}");
    for planted in [
        "CLUE",
        "线索",
        "赵六",
        "张三",
        "李四",
        "OWNER",
        "王五",
        "EVIDENCE-SECRET",
        "REMARK",
        "RESULT-SECRET",
        "CLOSURE-SECRET",
        "VERIFIER-REMARK",
        "PROGRESS-NOTE",
        "unit-xn",
        "office-nn",
        "jw-wang",
        "zzb-liu",
        "ACK-REMARK",
    ] {
        let needle = planted.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the public edition leaks {planted}: {text}"
        );
    }
    // The internal edition adds owners and progress.
    let internal = get(office(), PublicationEdition::Internal)
        .await
        .expect("internal")
        .into_inner();
    assert_eq!(internal.items[0].measures[0].owner, "OWNER-王五");
    assert!(internal.items[0].progress[0].contains("PROGRESS-NOTE"));

    // The public role reads the public edition and nothing else.
    let status = get(public(), PublicationEdition::Internal)
        .await
        .expect_err("internal refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut ledger = app.ledger();
    let refusals = [
        ledger
            .get_entry(authed(&public(), GetEntryRequest { name: name.clone() }))
            .await
            .map(|_| ())
            .expect_err("entry"),
        ledger
            .list_entries(authed(&public(), ListEntriesRequest::default()))
            .await
            .map(|_| ())
            .expect_err("entries"),
        app.statistics()
            .get_statistics(authed(&public(), GetStatisticsRequest::default()))
            .await
            .map(|_| ())
            .expect_err("statistics"),
        app.publications()
            .list_publications(authed(&public(), ListPublicationsRequest::default()))
            .await
            .map(|_| ())
            .expect_err("list publications"),
        app.publications()
            .publish(authed(
                &public(),
                PublishRequest {
                    inspection: INSPECTION.into(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ())
            .expect_err("publish"),
        app.warnings()
            .run_warning_sweep(authed(&public(), RunWarningSweepRequest::default()))
            .await
            .map(|_| ())
            .expect_err("sweep"),
        app.warnings()
            .watch_warnings(authed(&public(), WatchWarningsRequest::default()))
            .await
            .map(|_| ())
            .expect_err("watch"),
    ];
    for status in refusals {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // Lists show both versions in order.
    let list = app
        .publications()
        .list_publications(authed(&office(), ListPublicationsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        list.publications
            .iter()
            .map(|p| p.version)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

/// Each transfer has its own clock: its deadline goes blue and yellow by
/// its own due date while the entry stays green, the sweep warns on the
/// transfer's item, the result closes it, and a second transfer starts a
/// fresh deadline of its own.
#[tokio::test]
async fn a_transfer_has_its_own_deadline_and_colour() {
    let clock = Clock::fixed(at(2026, 7, 1));
    let app = spawn_with_clock(clock.clone()).await;
    seed_rounds(&app);
    let name = handed_over(&app, INSPECTION, vec![problem("p1", "xingning")]).await[0]
        .name
        .clone();
    let mut ledger = app.ledger();
    let transfer = |due: (i32, i32, i32)| {
        let (mut ledger, name) = (app.ledger(), name.clone());
        async move {
            ledger
                .transfer(authed(
                    &office(),
                    TransferRequest {
                        name,
                        receiving_body: "organisations/nanning-zzb".into(),
                        matter: "移交组织部".into(),
                        due_date: Some(date(due.0, due.1, due.2)),
                        ..Default::default()
                    },
                ))
                .await
                .expect("transfer")
                .into_inner()
        }
    };
    let deadline = |entry: &LedgerEntry, item: &str| {
        entry
            .deadlines
            .iter()
            .find(|d| d.item == item)
            .unwrap_or_else(|| panic!("no deadline {item}: {:?}", entry.deadlines))
            .clone()
    };
    let entry = transfer((2026, 7, 5)).await;
    let t1 = deadline(&entry, "transfers/t1");
    assert_eq!(t1.kind(), DeadlineKind::Transfer);
    assert_eq!(t1.due_date, Some(date(2026, 7, 5)));
    assert_eq!(t1.colour(), WarningColour::Blue, "due within a week");
    assert_eq!(
        entry.colour(),
        WarningColour::Green,
        "the entry is due 7-31"
    );
    assert_eq!(deadline(&entry, "entry").colour(), WarningColour::Green);

    clock.set(at(2026, 7, 10));
    let entry = app.get(&name).await;
    assert_eq!(
        deadline(&entry, "transfers/t1").colour(),
        WarningColour::Yellow
    );
    assert_eq!(entry.colour(), WarningColour::Green);
    assert_eq!(sweep(&app).await.warnings_posted, 1);
    let ws = warnings(&app, &name).await;
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].item, "transfers/t1");
    assert_eq!(ws[0].to_colour(), WarningColour::Yellow);

    for step in ["ack", "result"] {
        let token = org_department();
        if step == "ack" {
            ledger
                .acknowledge_transfer(authed(
                    &token,
                    AcknowledgeTransferRequest {
                        name: name.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .expect("ack");
        } else {
            ledger
                .return_transfer_result(authed(
                    &token,
                    ReturnTransferResultRequest {
                        name: name.clone(),
                        result: "已处理".into(),
                        ..Default::default()
                    },
                ))
                .await
                .expect("result");
        }
    }
    let entry = app.get(&name).await;
    let t1 = deadline(&entry, "transfers/t1");
    assert!(t1.closed);
    assert_eq!(t1.colour(), WarningColour::Unspecified);

    // A second transfer: its own due date, green, nothing inherited from t1.
    let entry = transfer((2026, 9, 30)).await;
    let t2 = deadline(&entry, "transfers/t2");
    assert_eq!(t2.due_date, Some(date(2026, 9, 30)));
    assert_eq!(t2.colour(), WarningColour::Green);
    assert!(!t2.closed);
    assert_eq!(t2.ladder.unwrap_or_default().yellow_count, 0);
    assert_eq!(t2.notified_colour(), WarningColour::Unspecified);
    assert!(deadline(&entry, "transfers/t1").closed);
}
