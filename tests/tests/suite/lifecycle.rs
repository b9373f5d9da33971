//! The whole life of an inspection's problems across the three real
//! services (rounds → issues → ledgers, real gRPC, events through the real
//! outboxes and consumers): a round is staffed and inspects a county, the
//! group registers problems with their four responsibilities, the report
//! freezes the list and opens the books, feedback hands the entries over,
//! and one entry goes through the five ledgers, is reopened by a look-back
//! and written off again. Every step out of order is refused naming the
//! state it is in, and the refusal writes nothing.

use crate::common;

use common::*;
use fiveledger_e2e::{EVENT_TIMEOUT, TestSuite, date, eventually, paths, spawn_suite, tokens};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::issues::{self, ProblemListState};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{self, InspectionPhase, RoundKind};
use fiveledger_proto::types::{Evidence, Severity};
use tonic::Code;

const LEADER: &str = "li-leader";
const R9: &str = "rounds/r9";
const XN: &str = "rounds/r9/inspections/xn";
const LOOK_BACK_ROUND: &str = "rounds/lb1";
const XN_LB: &str = "rounds/lb1/inspections/xn-lb";

fn evidence(document: &str) -> Vec<Evidence> {
    vec![Evidence {
        document: document.into(),
        sha256: "ab".repeat(32),
    }]
}

fn plan(m2_due: (i32, i32, i32)) -> RectificationPlan {
    let measure = |id: &str, kind: MeasureKind, due: (i32, i32, i32)| Measure {
        id: id.into(),
        kind: kind as i32,
        description: format!("整改措施 {id}"),
        owner: "区委办公室".into(),
        due_date: Some(date(due.0, due.1, due.2)),
        ..Default::default()
    };
    RectificationPlan {
        summary: "整改方案".into(),
        measures: vec![
            measure("m1", MeasureKind::Immediate, (2026, 7, 15)),
            measure("m2", MeasureKind::InstitutionBuilding, m2_due),
        ],
        ..Default::default()
    }
}

/// Asserts a ledger step on an entry the caller may not see yet was
/// answered NOT_FOUND and left its journal exactly as `before`.
async fn entry_hidden<T: std::fmt::Debug>(
    t: &TestSuite,
    before: &LedgerEntry,
    result: Result<tonic::Response<T>, tonic::Status>,
) {
    assert_refused(result, Code::NotFound, "NOT_FOUND", &before.name);
    let after = t.entry(&before.name).await;
    assert_eq!(after.posting_count, before.posting_count, "nothing posted");
    assert_eq!(after.journal_head, before.journal_head, "nothing posted");
}

/// Asserts a refused ledger step left the entry's journal exactly as
/// `before` (no posting, same head).
async fn entry_untouched<T: std::fmt::Debug>(
    t: &TestSuite,
    before: &LedgerEntry,
    result: Result<tonic::Response<T>, tonic::Status>,
    expected_reason: &str,
    mentions: &str,
) {
    assert_refused(result, Code::FailedPrecondition, expected_reason, mentions);
    let after = t.entry(&before.name).await;
    assert_eq!(after.posting_count, before.posting_count, "nothing posted");
    assert_eq!(after.journal_head, before.journal_head, "nothing posted");
    assert_eq!(after.state, before.state);
}

/// The city, its people, round 9 started with group g1 (leader li, members
/// wang and chen: none of them works in, worked in or is related to
/// Xingning) assigned to the inspection of Xingning.
async fn staffed(t: &TestSuite) {
    t.city().await;
    t.inspector("li", LEADER, "nanning-xcban", vec![]).await;
    t.inspector("wang", "wang-jw", "nanning-jw", vec![]).await;
    t.inspector("chen", "chen-qx", "qingxiu", vec![]).await;
    // Worked in Xingning until 2024: may not inspect it (任职回避).
    t.inspector(
        "zhou",
        "zhou-x",
        "nanning-edu",
        vec![rounds::Post {
            organisation: "organisations/xingning".into(),
            start_date: Some(date(2018, 1, 1)),
            end_date: Some(date(2024, 6, 30)),
            ..Default::default()
        }],
    )
    .await;
    let round = t
        .started_round(
            "r9",
            RoundKind::Regular,
            9,
            &[],
            (date(2026, 3, 1), date(2026, 6, 30)),
        )
        .await;
    assert_eq!(round.state, rounds::RoundState::InProgress as i32);
    let group = t
        .group(R9, "g1", "li", &["wang", "chen"])
        .await
        .expect("group g1");
    let inspection = t
        .inspection(R9, "xn", "xingning", "")
        .await
        .expect("inspection");
    assert_eq!(inspection.phase, InspectionPhase::Preparation as i32);
    let assigned = t.assign(XN, &group.name).await.expect("assign g1");
    assert_eq!(assigned.group, group.name);
    assert_eq!(assigned.target_path, paths::XINGNING);
    // Staffing enforces avoidance: zhou cannot join the group now.
    let status = t
        .groups()
        .add_group_members(authed(
            &tokens::office(),
            rounds::AddGroupMembersRequest {
                group: group.name.clone(),
                members: vec![rounds::GroupMember {
                    inspector: "inspectors/zhou".into(),
                    role: rounds::GroupRole::Member as i32,
                }],
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("avoidance");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(reason(&status).starts_with("AVOIDANCE_"), "{status:?}");
    assert!(
        violations(&status)
            .iter()
            .any(|(_, who)| who == "inspectors/zhou"),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_inspection_goes_from_staffing_to_written_off_books_across_the_services() {
    let t = spawn_suite(Default::default()).await;
    staffed(&t).await;
    let leader = tokens::group_member(LEADER);
    let office = tokens::office();
    let unit = tokens::unit(paths::XINGNING);
    let mut inspections = t.inspections();
    let mut ledger = t.ledger();

    // ---- 巡前: nothing is registered before the group is stationed.
    let status = assert_refused(
        t.problem(
            &leader,
            XN,
            "p0",
            "party-leadership",
            Severity::Major,
            "过早登记",
            "",
            "",
        )
        .await
        .map(tonic::Response::new),
        Code::FailedPrecondition,
        "INSPECTION_NOT_STATIONED",
        "INSPECTION_PHASE_PREPARATION",
    );
    assert_eq!(violations(&status)[0].1, XN);
    let prepared = t.get_inspection(XN).await;
    assert_refused(
        inspections
            .give_feedback(TestSuite::feedback_request(
                XN,
                date(2026, 6, 10),
                date(2026, 6, 12),
            ))
            .await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
        "INSPECTION_PHASE_PREPARATION",
    );
    assert_eq!(t.get_inspection(XN).await, prepared, "nothing changed");
    assert!(
        t.list_problems(&office, &format!("inspection = \"{XN}\""))
            .await
            .expect("list")
            .is_empty()
    );

    // ---- 巡中: briefings, then the leader stations the group.
    let stationed = t
        .brief_and_station(XN, LEADER, date(2026, 3, 10), date(2026, 5, 10))
        .await;
    assert_eq!(stationed.phase, InspectionPhase::Stationed as i32);
    assert_eq!(stationed.briefings.len(), 2);
    assert_refused(
        inspections
            .give_feedback(TestSuite::feedback_request(
                XN,
                date(2026, 6, 10),
                date(2026, 6, 12),
            ))
            .await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
        "INSPECTION_PHASE_STATIONED",
    );
    assert_eq!(t.get_inspection(XN).await, stationed, "nothing changed");

    // The group registers three problems; routing fills responsibility (3)
    // from the category with the city's bodies, found over gRPC.
    let p1 = t
        .problem(
            &leader,
            XN,
            "p1",
            "party-leadership",
            Severity::Major,
            "落实上级决策部署不到位",
            "",
            "",
        )
        .await
        .expect("p1");
    let p2 = t
        .problem(
            &leader,
            XN,
            "p2",
            "personnel-selection",
            Severity::Minor,
            "干部选拔任用程序不规范",
            "",
            "",
        )
        .await
        .expect("p2");
    let p3 = t
        .problem(
            &leader,
            XN,
            "p3",
            "ideology",
            Severity::Severe,
            "意识形态工作责任制落实不力",
            "",
            "organisations/nanning-edu",
        )
        .await
        .expect("p3");
    for (p, body, body_path) in [
        (&p1, "organisations/nanning-jw", paths::COMMISSION),
        (&p2, "organisations/nanning-zzb", paths::ORG_DEPARTMENT),
        (&p3, "organisations/nanning-xcb", paths::PROPAGANDA),
    ] {
        let r = p.responsibilities.clone().expect("responsibilities");
        assert_eq!(r.main_unit, "organisations/xingning", "{p:?}");
        assert_eq!(r.main_unit_path, paths::XINGNING);
        assert_eq!(r.principal, "区委书记 张三");
        assert_eq!(r.leader_in_charge, "分管副区长 李四");
        assert_eq!(r.supervising_body, body, "{}", p.name);
        assert_eq!(r.supervising_body_path, body_path);
        assert!(r.supervising_body_routed, "{}", p.name);
        assert_eq!(p.round, R9);
        assert_eq!(p.target_path, paths::XINGNING);
        assert_eq!(p.recorded_by, LEADER);
        assert!(!p.frozen);
    }
    let r3 = p3.responsibilities.clone().expect("responsibilities");
    assert_eq!(r3.functional_department, "organisations/nanning-edu");
    assert_eq!(r3.functional_department_path, paths::EDUCATION);

    // ---- 报告报账: the comprehensive report → InspectionReported → the
    // issues service freezes the list → ProblemListFrozen → the ledger
    // opens one entry per problem.
    let reported = t
        .report(XN, LEADER, date(2026, 4, 10), date(2026, 5, 20))
        .await;
    assert_eq!(reported.phase, InspectionPhase::Reported as i32);
    let list_name = format!("{XN}/problemList");
    let frozen = eventually("the problem list frozen", EVENT_TIMEOUT, || async {
        let list = t
            .problems()
            .get_problem_list(authed(
                &office,
                issues::GetProblemListRequest {
                    name: list_name.clone(),
                },
            ))
            .await
            .expect("problem list")
            .into_inner();
        (list.state == ProblemListState::Frozen as i32).then_some(list)
    })
    .await;
    assert_eq!(frozen.problem_count, 3);
    assert!(frozen.report_time.is_some());
    // The frozen list refuses edits, and writes nothing.
    assert_refused(
        t.problem(
            &leader,
            XN,
            "p4",
            "party-building",
            Severity::Minor,
            "补登问题",
            "",
            "",
        )
        .await
        .map(tonic::Response::new),
        Code::FailedPrecondition,
        "PROBLEM_LIST_FROZEN",
        "frozen",
    );
    let listed = t
        .list_problems(&office, &format!("inspection = \"{XN}\""))
        .await
        .expect("list");
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|p| p.frozen));

    let opened = t
        .wait_for_entries(&format!("inspection = \"{XN}\""), 3)
        .await;
    assert_eq!(opened.len(), 3);
    let by_problem = |name: &str| {
        opened
            .iter()
            .find(|e| e.problem == name)
            .unwrap_or_else(|| panic!("no entry for {name}"))
            .clone()
    };
    let e1 = by_problem(&p1.name);
    let e3 = by_problem(&p3.name);
    let name = e1.name.clone();
    assert_eq!(e1.state(), EntryState::Open);
    assert_eq!(e1.round, R9);
    assert_eq!(e1.target_path, paths::XINGNING);
    assert_eq!(e1.category, "party-leadership");
    assert_eq!(e1.severity(), Severity::Major);
    let resp = e1.responsibility.clone().expect("responsibility");
    assert_eq!(resp.responsible_unit_path, paths::XINGNING);
    assert_eq!(resp.supervising_body_path, paths::COMMISSION);
    assert_eq!(resp.principal, "区委书记 张三");
    let resp3 = e3.responsibility.clone().expect("responsibility");
    assert_eq!(resp3.supervising_body_path, paths::PROPAGANDA);
    assert_eq!(resp3.functional_department_path, paths::EDUCATION);
    let open = t.entry(&name).await;
    assert_eq!(open.postings.len(), 1);
    assert_eq!(open.postings[0].kind(), PostingKind::Open);
    assert_eq!(open.postings[0].actor, "service:ledgers");
    assert!(
        open.postings[0].request_id.starts_with("event:issues:"),
        "{:?}",
        open.postings[0]
    );

    // Nothing may be done to an entry before it is handed over: the unit
    // does not even see it yet (NOT_FOUND), and the office is told the state.
    entry_hidden(
        &t,
        &open,
        ledger
            .acknowledge_hand_over(authed(
                &unit,
                AcknowledgeHandOverRequest {
                    name: name.clone(),
                    ..Default::default()
                },
            ))
            .await,
    )
    .await;
    entry_hidden(
        &t,
        &open,
        ledger
            .submit_plan(authed(
                &unit,
                SubmitPlanRequest {
                    name: name.clone(),
                    plan: Some(plan((2026, 8, 1))),
                    ..Default::default()
                },
            ))
            .await,
    )
    .await;

    entry_untouched(
        &t,
        &open,
        ledger
            .transfer(authed(
                &office,
                TransferRequest {
                    name: name.clone(),
                    receiving_body: "organisations/nanning-zzb".into(),
                    matter: "移交".into(),
                    due_date: Some(date(2026, 10, 31)),
                    ..Default::default()
                },
            ))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_OPEN",
    )
    .await;

    // ---- 反馈交账: the double feedback in the rounds service hands every
    // entry over, due from the feedback date (the later part) by severity;
    // it needs the notice to the leaders in charge (分管领导通报) first.
    assert_refused(
        inspections
            .give_feedback(TestSuite::feedback_request(
                XN,
                date(2026, 6, 10),
                date(2026, 6, 12),
            ))
            .await,
        Code::FailedPrecondition,
        "LEADERS_IN_CHARGE_NOT_NOTIFIED",
        XN,
    );
    t.notify_leaders_in_charge(XN, date(2026, 6, 8)).await;
    let fed = inspections
        .give_feedback(TestSuite::feedback_request(
            XN,
            date(2026, 6, 10),
            date(2026, 6, 12),
        ))
        .await
        .expect("feedback")
        .into_inner();
    assert_eq!(fed.phase, InspectionPhase::FeedbackGiven as i32);
    assert_eq!(fed.feedback_date, Some(date(2026, 6, 12)));
    // Its list holds an ideology problem (p3), asked of the issues service
    // at feedback: the propaganda department gets its hand-off (移交).
    let handed_off = rounds::hand_off_service_client::HandOffServiceClient::new(t.rounds.clone())
        .list_hand_offs(authed(
            &tokens::office(),
            rounds::ListHandOffsRequest {
                parent: XN.into(),
                filter: "kind = HAND_OFF_KIND_PROPAGANDA_DEPARTMENT".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("hand-offs")
        .into_inner()
        .hand_offs;
    assert_eq!(
        handed_off
            .iter()
            .map(|h| h.receiver.as_str())
            .collect::<Vec<_>>(),
        ["organisations/nanning-xcb"]
    );
    let handed = t
        .wait_for_entries(
            &format!("inspection = \"{XN}\" AND state = ENTRY_STATE_HANDED_OVER"),
            3,
        )
        .await;
    for e in &handed {
        assert_eq!(e.handed_over_date, Some(date(2026, 6, 12)), "{}", e.name);
        let expected = match e.severity() {
            Severity::Severe => date(2026, 7, 12), // 30 days
            _ => date(2026, 8, 11),                // 60 days
        };
        assert_eq!(e.original_due_date, Some(expected), "{}", e.name);
        assert_eq!(e.due_date, Some(expected), "{}", e.name);
    }
    let handed_over = t.entry(&name).await;
    assert_eq!(handed_over.postings.len(), 2);
    assert_eq!(handed_over.postings[1].kind(), PostingKind::HandOver);
    assert_eq!(
        handed_over.postings[1].prev_hash,
        handed_over.postings[0].hash
    );

    entry_untouched(
        &t,
        &handed_over,
        ledger
            .submit_plan(authed(
                &unit,
                SubmitPlanRequest {
                    name: name.clone(),
                    plan: Some(plan((2026, 8, 1))),
                    ..Default::default()
                },
            ))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_HANDED_OVER",
    )
    .await;

    // The unit acknowledges receipt (签收).
    let acked = ledger
        .acknowledge_hand_over(authed(
            &unit,
            AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "已签收".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge")
        .into_inner();
    assert_eq!(acked.state(), EntryState::Acknowledged);
    entry_untouched(
        &t,
        &acked,
        ledger
            .approve_plan(authed(
                &office,
                ApprovePlanRequest {
                    name: name.clone(),
                    version: 1,
                    ..Default::default()
                },
            ))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_ACKNOWLEDGED",
    )
    .await;
    // Plan, approval; a changed plan is a new version and keeps the
    // original due date.
    let planned = ledger
        .submit_plan(authed(
            &unit,
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 8, 1))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan v1")
        .into_inner();
    assert_eq!(planned.state(), EntryState::Planned);
    let rectifying = ledger
        .approve_plan(authed(
            &office,
            ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                remarks: "同意".into(),
                etag: planned.etag.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("approve v1")
        .into_inner();
    assert_eq!(rectifying.state(), EntryState::Rectifying);
    let changed = ledger
        .submit_plan(authed(
            &unit,
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2026, 9, 30))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan v2")
        .into_inner();
    assert_eq!(changed.pending_plan.as_ref().expect("pending").version, 2);
    entry_untouched(
        &t,
        &changed,
        ledger
            .approve_plan(authed(
                &office,
                ApprovePlanRequest {
                    name: name.clone(),
                    version: 1,
                    ..Default::default()
                },
            ))
            .await,
        "PLAN_VERSION_MISMATCH",
        "version 1",
    )
    .await;
    let approved = ledger
        .approve_plan(authed(
            &office,
            ApprovePlanRequest {
                name: name.clone(),
                version: 2,
                ..Default::default()
            },
        ))
        .await
        .expect("approve v2")
        .into_inner();
    assert_eq!(approved.state(), EntryState::Rectifying);
    assert_eq!(approved.due_date, Some(date(2026, 9, 30)));
    assert_eq!(approved.original_due_date, Some(date(2026, 8, 11)));
    assert_eq!(approved.plan.expect("plan").approved_by, "office-nn");

    // ---- 督办对账: progress per measure; a write-off with a measure open
    // is refused; the supervising body checks.
    let progressed = ledger
        .post_progress(authed(
            &unit,
            PostProgressRequest {
                name: name.clone(),
                measure_id: "m1".into(),
                description: "已立行立改".into(),
                evidence: evidence("m1-整改台账.pdf"),
                measure_done: true,
                ..Default::default()
            },
        ))
        .await
        .expect("progress m1")
        .into_inner();
    entry_untouched(
        &t,
        &progressed,
        ledger
            .request_write_off(authed(
                &unit,
                RequestWriteOffRequest {
                    name: name.clone(),
                    closure_statement: "已整改".into(),
                    evidence: evidence("整改报告.pdf"),
                    ..Default::default()
                },
            ))
            .await,
        "MEASURES_OPEN",
        "measure",
    )
    .await;
    ledger
        .post_progress(authed(
            &unit,
            PostProgressRequest {
                name: name.clone(),
                measure_id: "m2".into(),
                description: "制度已印发".into(),
                evidence: evidence("m2-制度文件.pdf"),
                measure_done: true,
                ..Default::default()
            },
        ))
        .await
        .expect("progress m2");
    ledger
        .post_supervision(authed(
            &tokens::commission(),
            PostSupervisionRequest {
                name: name.clone(),
                remarks: "实地抽查属实".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("supervision by the discipline commission");

    // ---- 移交转账: to the organisation department (its path asked of the
    // rounds service), acknowledged, result returned.
    let transferred = ledger
        .transfer(authed(
            &office,
            TransferRequest {
                name: name.clone(),
                receiving_body: "organisations/nanning-zzb".into(),
                matter: "涉及干部作风问题，移交组织部处理".into(),
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
        paths::ORG_DEPARTMENT
    );
    entry_untouched(
        &t,
        &transferred,
        ledger
            .request_write_off(authed(
                &unit,
                RequestWriteOffRequest {
                    name: name.clone(),
                    closure_statement: "已整改".into(),
                    evidence: evidence("整改报告.pdf"),
                    ..Default::default()
                },
            ))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_TRANSFERRED",
    )
    .await;
    entry_untouched(
        &t,
        &transferred,
        ledger
            .return_transfer_result(authed(
                &tokens::org_department(),
                ReturnTransferResultRequest {
                    name: name.clone(),
                    result: "已处理".into(),
                    ..Default::default()
                },
            ))
            .await,
        "TRANSFER_NOT_ACKNOWLEDGED",
        "",
    )
    .await;
    ledger
        .acknowledge_transfer(authed(
            &tokens::org_department(),
            AcknowledgeTransferRequest {
                name: name.clone(),
                remarks: "已接收".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge transfer");
    entry_untouched(
        &t,
        &t.entry(&name).await,
        ledger
            .acknowledge_transfer(authed(
                &tokens::org_department(),
                AcknowledgeTransferRequest {
                    name: name.clone(),
                    ..Default::default()
                },
            ))
            .await,
        "TRANSFER_ALREADY_ACKNOWLEDGED",
        "zzb-liu",
    )
    .await;
    let returned = ledger
        .return_transfer_result(authed(
            &tokens::org_department(),
            ReturnTransferResultRequest {
                name: name.clone(),
                result: "诫勉谈话 1 人".into(),
                evidence: evidence("处理决定.pdf"),
                ..Default::default()
            },
        ))
        .await
        .expect("transfer result")
        .into_inner();
    assert_eq!(returned.state(), EntryState::Rectifying);
    assert_eq!(returned.transfers[0].acknowledged_by, "zzb-liu");
    assert_eq!(returned.transfers[0].result, "诫勉谈话 1 人");

    // ---- 整改销账: requested by someone who also sits in an office; they
    // may not verify it themselves. A verifier rejects once, then approves.
    let both = token(
        "xn-both",
        paths::CITY,
        &[Role::InspectedUnit, Role::InspectionOffice],
    );
    let write_off = |closure: &str| RequestWriteOffRequest {
        name: name.clone(),
        closure_statement: closure.into(),
        evidence: evidence("整改报告.pdf"),
        figures: Some(RectificationFigures {
            funds_recovered_fen: 12_345_600,
            losses_recovered_fen: 500_000,
            people_held_accountable: 2,
            people_disciplined: 1,
            rules_established: 3,
        }),
        ..Default::default()
    };
    let requested = ledger
        .request_write_off(authed(&both, write_off("已整改")))
        .await
        .expect("request write-off")
        .into_inner();
    assert_eq!(requested.state(), EntryState::AwaitingVerification);
    entry_untouched(
        &t,
        &requested,
        ledger
            .approve_write_off(authed(
                &both,
                ApproveWriteOffRequest {
                    name: name.clone(),
                    ..Default::default()
                },
            ))
            .await,
        "VERIFIER_IS_REQUESTER",
        "",
    )
    .await;
    entry_untouched(
        &t,
        &requested,
        ledger
            .reopen(authed(
                &office,
                ReopenRequest {
                    name: name.clone(),
                    inspection: XN.into(),
                    reason: "过早".into(),
                    due_date: Some(date(2027, 3, 1)),
                    ..Default::default()
                },
            ))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_AWAITING_VERIFICATION",
    )
    .await;
    let rejected = ledger
        .reject_write_off(authed(
            &tokens::commission(),
            RejectWriteOffRequest {
                name: name.clone(),
                reason: "佐证材料不全".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(rejected.state(), EntryState::Rectifying);
    ledger
        .request_write_off(authed(&both, write_off("已整改，补充佐证材料")))
        .await
        .expect("request again");
    let written_off = ledger
        .approve_write_off(authed(
            &tokens::commission(),
            ApproveWriteOffRequest {
                name: name.clone(),
                remarks: "核查属实，同意销号".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("verified by the discipline commission")
        .into_inner();
    assert_eq!(written_off.state(), EntryState::WrittenOff);
    let signed = written_off.write_off.clone().expect("write-off");
    assert_eq!(signed.requested_by, "xn-both");
    assert_eq!(signed.verified_by, "jw-wang");
    assert!(signed.approved);
    assert_eq!(
        signed.figures.expect("figures").funds_recovered_fen,
        12_345_600
    );
    assert!(written_off.first_written_off_date.is_some());

    // ---- 回头看: only an inspection of a look-back round may reopen.
    entry_untouched(
        &t,
        &written_off,
        ledger
            .reopen(authed(
                &office,
                ReopenRequest {
                    name: name.clone(),
                    inspection: XN.into(),
                    reason: "文字整改".into(),
                    due_date: Some(date(2027, 3, 1)),
                    ..Default::default()
                },
            ))
            .await,
        "NOT_A_LOOK_BACK",
        XN,
    )
    .await;
    t.started_round(
        "lb1",
        RoundKind::LookBack,
        11,
        &[R9],
        (date(2026, 9, 1), date(2026, 12, 31)),
    )
    .await;
    let lb_group = t
        .group(LOOK_BACK_ROUND, "glb", "li", &["wang"])
        .await
        .expect("look-back group");
    let lb = t
        .inspection(LOOK_BACK_ROUND, "xn-lb", "xingning", XN)
        .await
        .expect("look-back inspection");
    assert_eq!(lb.look_back_of, XN);
    assert_eq!(lb.round_kind, RoundKind::LookBack as i32);
    t.assign(XN_LB, &lb_group.name).await.expect("assign");
    t.brief_and_station(XN_LB, LEADER, date(2026, 9, 10), date(2026, 10, 10))
        .await;
    assert_eq!(
        t.get_inspection(XN).await.look_backs,
        vec![XN_LB.to_owned()]
    );
    let reopened = ledger
        .reopen(authed(
            &office,
            ReopenRequest {
                name: name.clone(),
                inspection: XN_LB.into(),
                reason: "回头看发现文字整改，制度未落实".into(),
                due_date: Some(date(2027, 3, 1)),
                ..Default::default()
            },
        ))
        .await
        .expect("reopen")
        .into_inner();
    assert_eq!(reopened.state(), EntryState::Reopened);
    assert_eq!(reopened.reopen_count, 1);
    assert_eq!(reopened.original_due_date, Some(date(2026, 8, 11)));
    entry_untouched(
        &t,
        &reopened,
        ledger
            .request_write_off(authed(&unit, write_off("再次整改")))
            .await,
        "WRONG_STATE",
        "ENTRY_STATE_REOPENED",
    )
    .await;

    // Rectified again, written off again (this time the office verifies).
    let v3 = ledger
        .submit_plan(authed(
            &unit,
            SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan((2027, 2, 1))),
                ..Default::default()
            },
        ))
        .await
        .expect("plan v3")
        .into_inner();
    let version = v3.pending_plan.expect("pending").version;
    let again = ledger
        .approve_plan(authed(
            &office,
            ApprovePlanRequest {
                name: name.clone(),
                version,
                ..Default::default()
            },
        ))
        .await
        .expect("approve v3")
        .into_inner();
    assert!(again.plan.expect("plan").measures.iter().all(|m| !m.done));
    for m in ["m1", "m2"] {
        ledger
            .post_progress(authed(
                &unit,
                PostProgressRequest {
                    name: name.clone(),
                    measure_id: m.into(),
                    description: "真改实改".into(),
                    measure_done: true,
                    ..Default::default()
                },
            ))
            .await
            .expect("progress");
    }
    ledger
        .request_write_off(authed(&unit, write_off("制度已落实到位")))
        .await
        .expect("request after the look-back");
    let closed = ledger
        .approve_write_off(authed(
            &office,
            ApproveWriteOffRequest {
                name: name.clone(),
                remarks: "回头看复核通过".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("written off again")
        .into_inner();
    assert_eq!(closed.state(), EntryState::WrittenOff);
    assert_eq!(closed.reopen_count, 1);
    assert_eq!(
        closed.write_off.expect("write-off").verified_by,
        "office-nn"
    );

    // The whole history is there, chained, with both write-offs.
    let history = t.entry(&name).await;
    let kinds: Vec<PostingKind> = history.postings.iter().map(|p| p.kind()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == PostingKind::WriteOffApproved)
            .count(),
        2
    );
    for kind in [
        PostingKind::Open,
        PostingKind::HandOver,
        PostingKind::HandOverAcknowledged,
        PostingKind::PlanApproved,
        PostingKind::Progress,
        PostingKind::Supervision,
        PostingKind::Transferred,
        PostingKind::TransferAcknowledged,
        PostingKind::TransferResult,
        PostingKind::WriteOffRejected,
        PostingKind::Reopened,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {kinds:?}");
    }
    for pair in history.postings.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(history.posting_count as usize, history.postings.len());

    // ---- 对账: the books balance with the issues service over the
    // inspection, its round and the county's subtree.
    for scope in [
        ReconcileRequest {
            inspection: XN.into(),
            ..Default::default()
        },
        ReconcileRequest {
            round: R9.into(),
            ..Default::default()
        },
        ReconcileRequest {
            organisation_path: paths::XINGNING.into(),
            ..Default::default()
        },
    ] {
        let reconciled = ledger
            .reconcile(authed(&office, scope.clone()))
            .await
            .expect("reconcile")
            .into_inner();
        assert!(reconciled.balanced, "{scope:?}: {reconciled:?}");
        assert!(reconciled.discrepancies.is_empty());
        assert_eq!(reconciled.problems, 3);
        assert_eq!(
            reconciled.balance,
            Some(Balance {
                reported: 3,
                open: 0,
                handed_over: 2,
                transferred: 0,
                awaiting_verification: 0,
                written_off: 1,
                reopened: 0,
            }),
            "{scope:?}"
        );
    }
    let verified = ledger
        .verify_journal(authed(
            &office,
            VerifyJournalRequest {
                inspection: XN.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("verify journal")
        .into_inner();
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.entries, 3);
    let others: i64 = {
        let mut sum = 0;
        for e in &opened {
            if e.name != name {
                sum += t.entry(&e.name).await.posting_count;
            }
        }
        sum
    };
    assert_eq!(verified.postings, history.posting_count + others);

    t.suite.stop().await.expect("the suite stops cleanly");
}
