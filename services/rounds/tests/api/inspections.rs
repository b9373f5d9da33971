//! Inspectors, rounds, groups with avoidance, and inspections through
//! their whole timeline, over gRPC.

use crate::common;

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::consumer::{self, EventHandler, EventSource};
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv, authed};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::inspector_service_client::InspectorServiceClient;
use fiveledger_proto::rounds::round_service_client::RoundServiceClient;
use fiveledger_proto::rounds::*;
use fiveledger_proto::types::Event;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryOrder};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

fn date(y: i32, m: u32, d: u32) -> Option<Date> {
    Some(Date {
        year: y,
        month: m as i32,
        day: d as i32,
    })
}

fn day(d: NaiveDate) -> Option<Date> {
    date(d.year(), d.month(), d.day())
}

const LEADER_SUBJECT: &str = "li-sub";

struct Clients {
    inspectors: InspectorServiceClient<Channel>,
    rounds: RoundServiceClient<Channel>,
    groups: GroupServiceClient<Channel>,
    inspections: InspectionServiceClient<Channel>,
}

fn clients(app: &TestApp) -> Clients {
    Clients {
        inspectors: InspectorServiceClient::new(app.channel.clone()),
        rounds: RoundServiceClient::new(app.channel.clone()),
        groups: GroupServiceClient::new(app.channel.clone()),
        inspections: InspectionServiceClient::new(app.channel.clone()),
    }
}

/// Nanning with two counties, a township and a bureau in each, the city's
/// discipline commission, organisation and propaganda departments; and five
/// people in the talent pool.
async fn fixture(app: &TestApp) -> Clients {
    app.small_tree().await;
    let t = admin();
    use OrganisationKind as K;
    app.org(
        &t,
        "nanning-zzb",
        K::OrganisationDepartment,
        "organisations/nanning",
        "南宁市委组织部",
    )
    .await;
    app.org(
        &t,
        "nanning-xcb",
        K::PropagandaDepartment,
        "organisations/nanning",
        "南宁市委宣传部",
    )
    .await;
    app.org(
        &t,
        "xn-edu",
        K::FunctionalDepartment,
        "organisations/xingning",
        "兴宁区教育局",
    )
    .await;
    app.org(
        &t,
        "xn-town",
        K::Township,
        "organisations/xingning",
        "三塘镇",
    )
    .await;
    app.org(
        &t,
        "qx-town",
        K::Township,
        "organisations/qingxiu",
        "南阳镇",
    )
    .await;
    let c = clients(app);
    let office = office("guangxi/nanning");
    let person = |id: &str, subject: &str, home: &str, posts: Vec<Post>, relations: Vec<String>| {
        let mut client = c.inspectors.clone();
        let office = office.clone();
        let request = CreateInspectorRequest {
            inspector: Some(Inspector {
                display_name: id.to_uppercase(),
                subject: subject.into(),
                home_organisation: format!("organisations/{home}"),
                past_posts: posts,
                related_organisations: relations,
                ..Default::default()
            }),
            inspector_id: id.into(),
            request_id: String::new(),
        };
        async move {
            client
                .create_inspector(authed(&office, request))
                .await
                .unwrap_or_else(|s| panic!("inspector: {s:?}"))
                .into_inner()
        }
    };
    person("li", LEADER_SUBJECT, "nanning", vec![], vec![]).await;
    person("wang", "wang-sub", "qingxiu", vec![], vec![]).await;
    let zhao = person(
        "zhao",
        "",
        "nanning",
        vec![Post {
            organisation: "organisations/xn-edu".into(),
            start_date: date(2015, 1, 1),
            end_date: date(2019, 12, 31),
            ..Default::default()
        }],
        vec![],
    )
    .await;
    assert_eq!(
        zhao.past_posts[0].organisation_path,
        "guangxi/nanning/xingning/xn-edu"
    );
    person("liu", "", "xn-town", vec![], vec![]).await;
    person(
        "chen",
        "",
        "nanning",
        vec![],
        vec!["organisations/xingning".into()],
    )
    .await;
    c
}

async fn create_round(
    c: &mut Clients,
    id: &str,
    kind: RoundKind,
    number: i32,
    extra: Round,
) -> Round {
    c.rounds
        .create_round(authed(
            &office("guangxi/nanning"),
            CreateRoundRequest {
                round: Some(Round {
                    display_name: format!("十二届市委第{number}轮巡察"),
                    term: 12,
                    number,
                    kind: kind as i32,
                    organisation: "organisations/nanning".into(),
                    planned_start_date: extra.planned_start_date.or(date(2026, 3, 1)),
                    planned_end_date: extra.planned_end_date.or(date(2026, 6, 30)),
                    ..extra
                }),
                round_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("round {id}: {s:?}"))
        .into_inner()
}

/// The first violation a refusal's PreconditionFailure names.
fn first_violation(status: &tonic::Status) -> tonic_types::PreconditionViolation {
    status
        .get_error_details()
        .precondition_failure()
        .expect("details")
        .violations[0]
        .clone()
}

/// Adds a person to the pool as the city's office: `id`, working in
/// `home`, born in `native_place` (empty: none recorded).
async fn create_inspector(
    c: &mut Clients,
    id: &str,
    home: &str,
    native_place: &str,
) -> Result<Inspector, tonic::Status> {
    c.inspectors
        .create_inspector(authed(
            &office("guangxi/nanning"),
            CreateInspectorRequest {
                inspector: Some(Inspector {
                    display_name: id.to_uppercase(),
                    home_organisation: format!("organisations/{home}"),
                    native_place: native_place.into(),
                    ..Default::default()
                }),
                inspector_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn create_group(
    c: &mut Clients,
    round: &str,
    id: &str,
    leader: &str,
    members: &[&str],
) -> Result<Group, tonic::Status> {
    c.groups
        .create_group(authed(
            &office("guangxi/nanning"),
            CreateGroupRequest {
                parent: format!("rounds/{round}"),
                group: Some(Group {
                    display_name: format!("group {id}"),
                    leader: if leader.is_empty() {
                        String::new()
                    } else {
                        format!("inspectors/{leader}")
                    },
                    members: members.iter().map(|m| format!("inspectors/{m}")).collect(),
                    ..Default::default()
                }),
                group_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn create_inspection(
    c: &mut Clients,
    round: &str,
    id: &str,
    target: &str,
    group: &str,
    look_back_of: &str,
) -> Result<Inspection, tonic::Status> {
    c.inspections
        .create_inspection(authed(
            &office("guangxi/nanning"),
            CreateInspectionRequest {
                parent: format!("rounds/{round}"),
                inspection: Some(Inspection {
                    target: format!("organisations/{target}"),
                    group: if group.is_empty() {
                        String::new()
                    } else {
                        format!("rounds/{round}/groups/{group}")
                    },
                    look_back_of: look_back_of.into(),
                    ..Default::default()
                }),
                inspection_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn get(c: &mut Clients, name: &str) -> Inspection {
    c.inspections
        .get_inspection(authed(
            &office("guangxi/nanning"),
            GetInspectionRequest { name: name.into() },
        ))
        .await
        .expect("get")
        .into_inner()
}

fn assert_refused(
    result: Result<tonic::Response<Inspection>, tonic::Status>,
    code: Code,
    why: &str,
) {
    let status = result.expect_err(why);
    assert_eq!(status.code(), code, "{why}: {status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
}

/// Every phase step of one inspection, in order, as `token` (the office),
/// dated from `base`, the first day on site.
struct Steps {
    token: String,
    name: String,
    base: NaiveDate,
}

/// The bodies that brief a group before it goes on site.
const BRIEFERS: [&str; 2] = ["nanning-jw", "nanning-zzb"];

impl Steps {
    /// `days` after the first day on site (before it when negative).
    fn at(&self, days: i64) -> Option<Date> {
        day(self.base + chrono::TimeDelta::days(days))
    }
    /// The discipline commission's briefing.
    fn briefing(&self) -> tonic::Request<RecordBriefingRequest> {
        self.briefing_by(BRIEFERS[0])
    }
    fn briefing_by(&self, body: &str) -> tonic::Request<RecordBriefingRequest> {
        authed(
            &self.token,
            RecordBriefingRequest {
                name: self.name.clone(),
                briefing: Some(Briefing {
                    organisation: format!("organisations/{body}"),
                    date: self.at(-8),
                    summary: "线索与信访情况".into(),
                }),
                request_id: String::new(),
            },
        )
    }
    fn station(&self, token: &str) -> tonic::Request<StartStationingRequest> {
        authed(
            token,
            StartStationingRequest {
                name: self.name.clone(),
                start_date: self.at(0),
                end_date: self.at(61),
                request_id: String::new(),
            },
        )
    }
    fn report(
        &self,
        kind: InspectionReportKind,
        d: Option<Date>,
    ) -> tonic::Request<ReportInspectionRequest> {
        authed(
            &self.token,
            ReportInspectionRequest {
                name: self.name.clone(),
                kind: kind as i32,
                report: Some(ReportRecord {
                    date: d,
                    summary: "汇报".into(),
                }),
                request_id: String::new(),
            },
        )
    }
    fn feedback(
        &self,
        individual: Option<Date>,
        public: Option<Date>,
    ) -> tonic::Request<GiveFeedbackRequest> {
        let part = |d: Option<Date>, to: &str| FeedbackPart {
            date: d,
            given_by: "巡察组组长 李".into(),
            recipient: to.into(),
        };
        authed(
            &self.token,
            GiveFeedbackRequest {
                name: self.name.clone(),
                feedback: Some(DoubleFeedback {
                    individual: Some(part(individual, "主要负责人")),
                    public: Some(part(public, "领导班子")),
                }),
                request_id: String::new(),
                functional_hand_offs: Vec::new(),
            },
        )
    }
    /// The notice to the party and government leaders in charge (分管领导
    /// 通报), after the comprehensive report and before feedback.
    fn notice(&self) -> tonic::Request<NotifyLeadersInChargeRequest> {
        let leader = |role: LeaderInChargeRole, name: &str| LeaderInCharge {
            role: role as i32,
            display_name: name.into(),
            post: String::new(),
        };
        authed(
            &self.token,
            NotifyLeadersInChargeRequest {
                name: self.name.clone(),
                notice: Some(LeadersInChargeNotice {
                    date: self.at(80),
                    leaders: vec![
                        leader(LeaderInChargeRole::Party, "张常委"),
                        leader(LeaderInChargeRole::Government, "王副市长"),
                    ],
                    summary: "巡察发现的主要问题".into(),
                }),
                request_id: String::new(),
            },
        )
    }
    fn rectify(&self) -> tonic::Request<StartRectificationRequest> {
        authed(
            &self.token,
            StartRectificationRequest {
                name: self.name.clone(),
                start_date: None,
                request_id: String::new(),
            },
        )
    }
    fn double_report(
        &self,
        kind: DoubleReportKind,
        d: Option<Date>,
    ) -> tonic::Request<RecordDoubleReportRequest> {
        authed(
            &self.token,
            RecordDoubleReportRequest {
                name: self.name.clone(),
                kind: kind as i32,
                report: Some(ReportRecord {
                    date: d,
                    summary: "整改报告".into(),
                }),
                request_id: String::new(),
            },
        )
    }
    fn close(&self, d: Option<Date>) -> tonic::Request<CloseInspectionRequest> {
        authed(
            &self.token,
            CloseInspectionRequest {
                name: self.name.clone(),
                close_date: d,
                note: "对账销号".into(),
                request_id: String::new(),
            },
        )
    }
}

impl Steps {
    /// The same steps taken by someone else.
    fn by(&self, token: &str) -> Steps {
        Steps {
            token: token.into(),
            name: self.name.clone(),
            base: self.base,
        }
    }
    /// The same steps on another inspection.
    fn of(&self, name: &str) -> Steps {
        Steps {
            token: self.token.clone(),
            name: name.into(),
            base: self.base,
        }
    }
}

/// Each step that changes an inspection, for tables of calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Assign,
    Brief,
    Station,
    MidTerm,
    Comprehensive,
    Feedback,
    Rectify,
    TeamReport,
    PrincipalReport,
    Close,
}

impl Op {
    /// In timeline order.
    const ALL: [Op; 10] = [
        Op::Assign,
        Op::Brief,
        Op::Station,
        Op::MidTerm,
        Op::Comprehensive,
        Op::Feedback,
        Op::Rectify,
        Op::TeamReport,
        Op::PrincipalReport,
        Op::Close,
    ];

    /// The phase the step is taken in.
    fn phase(self) -> InspectionPhase {
        use InspectionPhase as P;
        match self {
            Op::Assign | Op::Brief | Op::Station => P::Preparation,
            Op::MidTerm | Op::Comprehensive => P::Stationed,
            Op::Feedback => P::Reported,
            Op::Rectify => P::FeedbackGiven,
            Op::TeamReport | Op::PrincipalReport | Op::Close => P::Rectifying,
        }
    }
}

/// Takes `op` on `s`'s inspection as `s.token` (assigning group `g1` of
/// its round; briefed by the discipline commission).
async fn take(
    c: &mut InspectionServiceClient<Channel>,
    s: &Steps,
    op: Op,
) -> Result<Inspection, tonic::Status> {
    use DoubleReportKind as D;
    use InspectionReportKind as R;
    let round = s.name.split("/inspections/").next().unwrap_or_default();
    let response = match op {
        Op::Assign => {
            c.assign_inspection_group(authed(
                &s.token,
                AssignInspectionGroupRequest {
                    name: s.name.clone(),
                    group: format!("{round}/groups/g1"),
                    request_id: String::new(),
                },
            ))
            .await
        }
        Op::Brief => c.record_briefing(s.briefing()).await,
        Op::Station => c.start_stationing(s.station(&s.token)).await,
        Op::MidTerm => c.report_inspection(s.report(R::MidTerm, s.at(31))).await,
        Op::Comprehensive => {
            c.report_inspection(s.report(R::Comprehensive, s.at(71)))
                .await
        }
        Op::Feedback => {
            // The leaders in charge are notified first (a step of its own).
            if let Err(status) = c.notify_leaders_in_charge(s.notice()).await
                && reason(&status) != "LEADERS_IN_CHARGE_ALREADY_NOTIFIED"
            {
                return Err(status);
            }
            c.give_feedback(s.feedback(s.at(92), s.at(94))).await
        }
        Op::Rectify => c.start_rectification(s.rectify()).await,
        Op::TeamReport => {
            c.record_double_report(s.double_report(D::Team, s.at(113)))
                .await
        }
        Op::PrincipalReport => {
            c.record_double_report(s.double_report(D::Principal, s.at(132)))
                .await
        }
        Op::Close => c.close_inspection(s.close(s.at(144))).await,
    };
    response.map(tonic::Response::into_inner)
}

/// Takes the timeline's steps (both briefings) until `s`'s inspection, with
/// a group assigned, is in `phase`.
async fn advance_to(c: &mut Clients, s: &Steps, phase: InspectionPhase) {
    let mut now = get(c, &s.name).await.phase();
    for op in Op::ALL {
        if now == phase {
            break;
        }
        match op {
            Op::Assign => {}
            Op::Brief => {
                brief(c, s).await;
            }
            _ => {
                now = take(&mut c.inspections, s, op)
                    .await
                    .unwrap_or_else(|e| panic!("{op:?} on {}: {e:?}", s.name))
                    .phase();
            }
        }
    }
    assert_eq!(now, phase, "{}", s.name);
}

/// A started round `r9` with group `g1` (leader li, member wang) and an
/// inspection of the education bureau.
async fn staffed_inspection(app: &TestApp) -> (Clients, Steps) {
    let mut c = fixture(app).await;
    create_round(&mut c, "r9", RoundKind::Regular, 9, Round::default()).await;
    create_group(&mut c, "r9", "g1", "li", &["wang"])
        .await
        .expect("group");
    let i = create_inspection(&mut c, "r9", "edu", "xn-edu", "g1", "")
        .await
        .expect("inspection");
    let steps = Steps {
        token: office("guangxi/nanning"),
        name: i.name,
        // Far enough back that a double report due 60 days after the
        // feedback (day 94) is overdue today.
        base: today() - chrono::Days::new(200),
    };
    (c, steps)
}

/// Records the briefings of both bodies; returns the inspection after them.
async fn brief(c: &mut Clients, s: &Steps) -> Inspection {
    let mut last = None;
    for body in BRIEFERS {
        last = Some(
            c.inspections
                .record_briefing(s.briefing_by(body))
                .await
                .unwrap_or_else(|e| panic!("briefing by {body}: {e:?}"))
                .into_inner(),
        );
    }
    last.expect("two briefings")
}

async fn start_round(c: &mut Clients, id: &str) {
    c.rounds
        .start_round(authed(
            &office("guangxi/nanning"),
            StartRoundRequest {
                name: format!("rounds/{id}"),
                ..Default::default()
            },
        ))
        .await
        .expect("start round");
}

/// Takes an inspection from preparation to closed.
async fn run_to_closed(c: &mut Clients, s: &Steps) {
    brief(c, s).await;
    let i = &mut c.inspections;
    i.start_stationing(s.station(&s.token))
        .await
        .expect("station");
    i.report_inspection(s.report(InspectionReportKind::MidTerm, s.at(31)))
        .await
        .expect("mid-term");
    i.report_inspection(s.report(InspectionReportKind::Comprehensive, s.at(71)))
        .await
        .expect("comprehensive");
    i.notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    i.give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect("feedback");
    i.start_rectification(s.rectify()).await.expect("rectify");
    i.record_double_report(s.double_report(DoubleReportKind::Team, s.at(113)))
        .await
        .expect("team");
    i.record_double_report(s.double_report(DoubleReportKind::Principal, s.at(132)))
        .await
        .expect("principal");
    i.close_inspection(s.close(s.at(144))).await.expect("close");
}

#[tokio::test]
async fn the_whole_timeline_step_by_step_refusing_every_step_out_of_order() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    let created = get(&mut c, &s.name).await;
    assert_eq!(created.phase, InspectionPhase::Preparation as i32);
    assert_eq!(created.target, "organisations/xn-edu");
    assert_eq!(created.target_path, "guangxi/nanning/xingning/xn-edu");
    assert_eq!(created.group, "rounds/r9/groups/g1");
    assert_eq!(created.round_kind, RoundKind::Regular as i32);
    assert_eq!(created.round_organisation_path, "guangxi/nanning");

    // Out of order in preparation: refused, nothing changed.
    let i = &mut c.inspections;
    assert_refused(
        i.give_feedback(s.feedback(s.at(92), s.at(94))).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    let status = i
        .close_inspection(s.close(s.at(144)))
        .await
        .expect_err("close");
    assert!(
        status.message().contains("INSPECTION_PHASE_PREPARATION"),
        "{status:?}"
    );
    let violation = status
        .get_error_details()
        .precondition_failure()
        .expect("details")
        .violations[0]
        .clone();
    assert_eq!(violation.r#type, "PHASE");
    assert_eq!(violation.subject, s.name);
    assert_refused(
        i.report_inspection(s.report(InspectionReportKind::MidTerm, s.at(31)))
            .await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_refused(
        i.start_stationing(s.station(&s.token)).await,
        Code::FailedPrecondition,
        "BRIEFING_MISSING",
    );
    assert_eq!(
        get(&mut c, &s.name).await,
        created,
        "refusals change nothing"
    );

    // 巡前: the discipline commission alone is not enough, and only it and
    // the organisation department brief.
    let i = &mut c.inspections;
    let half = i
        .record_briefing(s.briefing())
        .await
        .expect("briefing")
        .into_inner();
    assert_eq!(half.briefings.len(), 1);
    let status = i
        .start_stationing(s.station(&s.token))
        .await
        .expect_err("no organisation department briefing");
    assert_eq!(reason(&status), "BRIEFING_MISSING");
    assert!(
        status
            .message()
            .contains("ORGANISATION_KIND_ORGANISATION_DEPARTMENT"),
        "{status:?}"
    );
    let status = i
        .record_briefing(s.briefing_by("nanning-xcb"))
        .await
        .expect_err("the propaganda department does not brief");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "NOT_A_BRIEFING_BODY");
    assert_eq!(bad_field(&status), "briefing.organisation");
    assert_eq!(get(&mut c, &s.name).await, half);
    let i = &mut c.inspections;
    let briefed = i
        .record_briefing(s.briefing_by("nanning-zzb"))
        .await
        .expect("briefing")
        .into_inner();
    assert_eq!(briefed.briefings.len(), 2);
    assert_refused(
        i.start_stationing(s.station(&s.token)).await,
        Code::FailedPrecondition,
        "ROUND_NOT_IN_PROGRESS",
    );
    start_round(&mut c, "r9").await;
    // A group member who is not the leader may not station the group; the leader may.
    let member = testing::token("wang-sub", "guangxi/nanning", &[Role::InspectionGroup]);
    let leader = testing::token(LEADER_SUBJECT, "guangxi/nanning", &[Role::InspectionGroup]);
    let i = &mut c.inspections;
    assert_refused(
        i.start_stationing(s.station(&member)).await,
        Code::PermissionDenied,
        "NOT_GROUP_LEADER",
    );
    assert_eq!(get(&mut c, &s.name).await, briefed);
    let i = &mut c.inspections;
    let stationed = i
        .start_stationing(s.station(&leader))
        .await
        .expect("leader stations")
        .into_inner();
    assert_eq!(stationed.phase, InspectionPhase::Stationed as i32);
    assert_eq!(
        stationed.stationing.expect("stationing").start_date,
        s.at(0)
    );
    // The leader still may not give feedback.
    let mut as_leader = s.feedback(s.at(92), s.at(94));
    as_leader.metadata_mut().insert(
        "authorization",
        format!("Bearer {leader}").parse().expect("ascii"),
    );
    assert_eq!(
        i.give_feedback(as_leader).await.expect_err("role").code(),
        Code::PermissionDenied
    );

    assert_refused(
        i.record_briefing(s.briefing()).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_refused(
        i.report_inspection(s.report(InspectionReportKind::Comprehensive, s.at(71)))
            .await,
        Code::FailedPrecondition,
        "MID_TERM_REPORT_MISSING",
    );
    let bad = i
        .report_inspection(s.report(InspectionReportKind::MidTerm, s.at(-9)))
        .await
        .expect_err("before stationing");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&bad), "report.date");
    assert_eq!(get(&mut c, &s.name).await, stationed);

    let i = &mut c.inspections;
    i.report_inspection(s.report(InspectionReportKind::MidTerm, s.at(31)))
        .await
        .expect("mid-term");
    let reported = i
        .report_inspection(s.report(InspectionReportKind::Comprehensive, s.at(71)))
        .await
        .expect("comprehensive")
        .into_inner();
    assert_eq!(reported.phase, InspectionPhase::Reported as i32);
    assert!(reported.mid_term_report.is_some() && reported.comprehensive_report.is_some());
    assert_refused(
        i.start_rectification(s.rectify()).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_refused(
        i.record_double_report(s.double_report(DoubleReportKind::Team, s.at(113)))
            .await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_eq!(get(&mut c, &s.name).await, reported);

    let i = &mut c.inspections;
    i.notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    let fed = i
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect("feedback")
        .into_inner();
    assert_eq!(fed.phase, InspectionPhase::FeedbackGiven as i32);
    assert_eq!(fed.feedback_date, s.at(94), "the later of the two parts");
    assert_eq!(fed.double_report_due_date, s.at(154), "60 days by default");
    let feedback = fed.feedback.clone().expect("feedback");
    assert_eq!(
        feedback.individual.expect("individual").recipient,
        "主要负责人"
    );
    assert_eq!(feedback.public.expect("public").recipient, "领导班子");
    // Stationed 200 days ago: today is past the due date with nothing received.
    assert!(fed.double_report.clone().expect("double report").overdue);
    assert_refused(
        i.give_feedback(s.feedback(s.at(92), s.at(94))).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_refused(
        i.record_double_report(s.double_report(DoubleReportKind::Team, s.at(113)))
            .await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );

    let rectifying = i
        .start_rectification(s.rectify())
        .await
        .expect("rectify")
        .into_inner();
    assert_eq!(rectifying.rectification_start_date, s.at(94));
    assert_refused(
        i.close_inspection(s.close(s.at(144))).await,
        Code::FailedPrecondition,
        "DOUBLE_REPORT_MISSING",
    );
    i.record_double_report(s.double_report(DoubleReportKind::Team, s.at(113)))
        .await
        .expect("team");
    let after_team = get(&mut c, &s.name).await;
    assert!(
        after_team.double_report.clone().expect("dr").overdue,
        "the principal's report is missing"
    );
    let i = &mut c.inspections;
    assert_refused(
        i.record_double_report(s.double_report(DoubleReportKind::Team, s.at(114)))
            .await,
        Code::FailedPrecondition,
        "DOUBLE_REPORT_ALREADY_RECORDED",
    );
    assert_eq!(get(&mut c, &s.name).await, after_team);
    let i = &mut c.inspections;
    let both = i
        .record_double_report(s.double_report(DoubleReportKind::Principal, s.at(132)))
        .await
        .expect("principal")
        .into_inner();
    assert!(
        !both.double_report.expect("dr").overdue,
        "both in before the due date"
    );
    let closed = i
        .close_inspection(s.close(s.at(144)))
        .await
        .expect("close")
        .into_inner();
    assert_eq!(closed.phase, InspectionPhase::Closed as i32);
    assert_eq!(closed.close_date, s.at(144));
    assert_refused(
        i.record_briefing(s.briefing()).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );
    assert_refused(
        i.close_inspection(s.close(s.at(145))).await,
        Code::FailedPrecondition,
        "WRONG_PHASE",
    );

    let timeline = i
        .get_inspection_timeline(authed(
            &s.token,
            GetInspectionTimelineRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("timeline")
        .into_inner();
    let steps: Vec<&str> = timeline.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "CreateInspection",
            "RecordBriefing",
            "RecordBriefing",
            "StartStationing",
            "ReportInspection",
            "ReportInspection",
            "NotifyLeadersInCharge",
            "GiveFeedback",
            // No ideology problem on its list: none to propaganda.
            "HandOff",
            "HandOff",
            "HandOff",
            "StartRectification",
            "RecordDoubleReport",
            "RecordDoubleReport",
            "CloseInspection"
        ],
        "refused steps leave no trace"
    );
    assert_eq!(timeline.steps[3].actor, LEADER_SUBJECT);
    assert_eq!(
        timeline.steps.last().expect("closing step").phase,
        InspectionPhase::Closed as i32
    );
    assert_eq!(timeline.inspection.expect("inspection"), closed);

    // A county office outside the target's and the round's subtree sees nothing.
    let other = office("guangxi/nanning/qingxiu");
    let hidden = c
        .inspections
        .get_inspection(authed(
            &other,
            GetInspectionRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(hidden.code(), Code::NotFound);
    // The other services read with their own identity.
    let service = testing::service_token("issues");
    let read = c
        .inspections
        .get_inspection(authed(
            &service,
            GetInspectionRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("read by a service")
        .into_inner();
    // The same inspection, and (for the services only) who is in its group.
    assert_eq!(read.group_member_subjects, ["li-sub", "wang-sub"]);
    assert_eq!(
        Inspection {
            group_member_subjects: vec![],
            ..read
        },
        closed
    );
    // The round closes once every inspection is closed.
    let round = c
        .rounds
        .close_round(authed(
            &s.token,
            CloseRoundRequest {
                name: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("close round")
        .into_inner();
    assert_eq!(round.state, RoundState::Closed as i32);
}

#[tokio::test]
async fn the_double_report_is_due_the_configured_days_after_feedback() {
    let app = spawn_with(fiveledger_rounds::RoundsSettings {
        double_report_days: 30,
        ..Default::default()
    })
    .await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    brief(&mut c, &s).await;
    let i = &mut c.inspections;
    i.start_stationing(s.station(&s.token))
        .await
        .expect("station");
    i.report_inspection(s.report(InspectionReportKind::MidTerm, s.at(31)))
        .await
        .expect("mid");
    i.report_inspection(s.report(InspectionReportKind::Comprehensive, s.at(71)))
        .await
        .expect("comp");
    let feedback = today() - chrono::Days::new(10);
    i.notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    let fed = i
        .give_feedback(s.feedback(day(feedback), day(feedback)))
        .await
        .expect("feedback")
        .into_inner();
    assert_eq!(fed.feedback_date, day(feedback));
    assert_eq!(
        fed.double_report_due_date,
        day(feedback + chrono::Days::new(30))
    );
    let report = fed.double_report.unwrap_or_default();
    assert!(!report.overdue, "due in 20 days");
    assert_eq!(
        report.colour(),
        fiveledger_proto::types::WarningColour::Green,
        "due in 20 days, blue from 7 before"
    );
    let listed = i
        .list_inspections(authed(
            &s.token,
            ListInspectionsRequest {
                parent: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.inspections[0].double_report_due_date,
        fed.double_report_due_date
    );
}

/// 四色预警 of the double report: overdue, the sweep sends one written
/// supervision notice (a timeline step), never twice, and nothing once both
/// parts are in.
#[tokio::test]
async fn an_overdue_double_report_gets_one_supervision_notice() {
    use fiveledger_proto::types::WarningColour;
    let app = spawn_with(fiveledger_rounds::RoundsSettings {
        double_report_days: 30,
        sweep_interval_seconds: 0,
        ..Default::default()
    })
    .await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    brief(&mut c, &s).await;
    let i = &mut c.inspections;
    i.start_stationing(s.station(&s.token))
        .await
        .expect("station");
    i.report_inspection(s.report(InspectionReportKind::MidTerm, s.at(31)))
        .await
        .expect("mid");
    i.report_inspection(s.report(InspectionReportKind::Comprehensive, s.at(71)))
        .await
        .expect("comp");
    // Due ten days ago.
    let feedback = today() - chrono::Days::new(40);
    i.notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    i.give_feedback(s.feedback(day(feedback), day(feedback)))
        .await
        .expect("feedback");
    i.start_rectification(s.rectify()).await.expect("rectify");
    let sweep = |token: String| {
        let mut client = InspectionServiceClient::new(app.channel.clone());
        async move {
            client
                .sweep_double_reports(authed(&token, SweepDoubleReportsRequest {}))
                .await
        }
    };
    let viewer = testing::token("v", "guangxi/nanning", &[Role::Viewer]);
    assert_eq!(
        sweep(viewer).await.expect_err("a viewer").code(),
        Code::PermissionDenied
    );
    let first = sweep(s.token.clone()).await.expect("sweep").into_inner();
    assert_eq!((first.inspections_checked, first.notices), (1, 1));
    let again = sweep(s.token.clone()).await.expect("sweep").into_inner();
    assert_eq!(again.notices, 0, "one notice per colour");

    let timeline = i
        .get_inspection_timeline(authed(
            &s.token,
            GetInspectionTimelineRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("timeline")
        .into_inner();
    let report = timeline
        .inspection
        .and_then(|i| i.double_report)
        .expect("double report");
    assert_eq!(report.colour(), WarningColour::Yellow);
    assert_eq!(report.notified_colour(), WarningColour::Yellow);
    let notices: Vec<_> = timeline
        .steps
        .iter()
        .filter(|st| st.step == "DoubleReportWarning")
        .collect();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].description.starts_with("督办通知书"),
        "{notices:?}"
    );

    // Both parts in: no colour, nothing to send.
    let received = today() - chrono::Days::new(1);
    for kind in [DoubleReportKind::Team, DoubleReportKind::Principal] {
        i.record_double_report(s.double_report(kind, day(received)))
            .await
            .expect("received");
    }
    let done = sweep(s.token.clone()).await.expect("sweep").into_inner();
    assert_eq!(done.notices, 0);
}

/// Sweeps double reports as `token`.
async fn sweep_as(app: &TestApp, token: &str) -> SweepDoubleReportsResponse {
    InspectionServiceClient::new(app.channel.clone())
        .sweep_double_reports(authed(token, SweepDoubleReportsRequest {}))
        .await
        .unwrap_or_else(|e| panic!("sweep: {e:?}"))
        .into_inner()
}

/// The descriptions of an inspection's double-report warning steps.
async fn warning_steps(c: &mut Clients, name: &str) -> Vec<String> {
    c.inspections
        .get_inspection_timeline(authed(
            &office("guangxi/nanning"),
            GetInspectionTimelineRequest { name: name.into() },
        ))
        .await
        .expect("timeline")
        .into_inner()
        .steps
        .into_iter()
        .filter(|st| st.step == "DoubleReportWarning")
        .map(|st| st.description)
        .collect()
}

/// The clock moved across each threshold of the shared defaults (blue
/// from 7 days before the due date, yellow from the day after it, red from
/// the 31st day after it): reads show the colour of that day and the sweep
/// sends each rise once, with its kind of notice, dated by the clock.
#[tokio::test]
async fn the_double_report_turns_each_colour_on_its_threshold_day() {
    use fiveledger_proto::types::WarningColour as W;
    let app = spawn_with(fiveledger_rounds::RoundsSettings {
        double_report_days: 30,
        sweep_interval_seconds: 0,
        ..Default::default()
    })
    .await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Reported).await;
    let feedback = today() - chrono::Days::new(10);
    c.inspections
        .notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    c.inspections
        .give_feedback(s.feedback(day(feedback), day(feedback)))
        .await
        .expect("feedback");
    c.inspections
        .start_rectification(s.rectify())
        .await
        .expect("rectify");
    let due = NaiveDate::from_ymd_opt(2026, 6, 21).expect("date");
    assert_eq!(get(&mut c, &s.name).await.double_report_due_date, day(due));

    let at = |offset: i64| due + chrono::TimeDelta::days(offset);
    // (day, colour shown, overdue, inspections swept, notice sent)
    let table = [
        (today(), W::Green, false, 0, None),
        (at(-8), W::Green, false, 0, None),
        (at(-7), W::Blue, false, 1, Some("提醒")),
        (at(0), W::Blue, false, 1, None),
        (at(1), W::Yellow, true, 1, Some("督办通知书")),
        (at(30), W::Yellow, true, 1, None),
        (at(31), W::Red, true, 1, Some("通报")),
        (at(400), W::Red, true, 1, None),
    ];
    let mut notified = W::Unspecified;
    let mut sent = 0;
    for (on, colour, overdue, checked, notice) in table {
        app.clock.set(noon(on));
        let report = get(&mut c, &s.name).await.double_report.expect("awaited");
        assert_eq!(
            (report.colour(), report.overdue),
            (colour, overdue),
            "shown on {on}"
        );
        let swept = sweep_as(&app, &s.token).await;
        assert_eq!(swept.as_of, day(on));
        assert_eq!(
            (swept.inspections_checked, swept.notices),
            (checked, i64::from(notice.is_some())),
            "swept on {on}"
        );
        if notice.is_some() {
            notified = colour;
            sent += 1;
        }
        let steps = warning_steps(&mut c, &s.name).await;
        assert_eq!(steps.len(), sent, "on {on}: {steps:?}");
        if let Some(prefix) = notice {
            let text = steps.last().expect("the notice");
            assert!(text.starts_with(prefix), "on {on}: {text}");
            assert!(
                text.contains("兴宁区教育局的整改情况报告（双报告）"),
                "names the unit: {text}"
            );
            assert!(text.contains("2026年6月21日"), "names the due date: {text}");
            assert!(!text.chars().any(|c| c.is_ascii_alphabetic()), "{text}");
        }
        let report = get(&mut c, &s.name).await.double_report.expect("awaited");
        assert_eq!(report.notified_colour(), notified, "on {on}");
    }
    // The written supervision notice gave ten days from its own date.
    let steps = warning_steps(&mut c, &s.name).await;
    assert_eq!(
        steps[1],
        "督办通知书：兴宁区教育局的整改情况报告（双报告）已于2026年6月21日到期，现已逾期。\
         请于2026年7月2日前书面报告办理情况。"
    );
}

/// An office sweeps only the inspections of the rounds it runs: the
/// county's sweep warns its own round's inspection and leaves the city
/// round's inspection in the same county (which it may read, not change)
/// unwarned; an office running neither sweeps nothing; the city's office
/// then warns the city's one; the root finds nothing left to send.
#[tokio::test]
async fn an_office_sweeps_only_the_inspections_of_rounds_it_runs() {
    use fiveledger_proto::types::WarningColour as W;
    let app = spawn_with(fiveledger_rounds::RoundsSettings {
        sweep_interval_seconds: 0,
        ..Default::default()
    })
    .await;
    let (mut c, city) = staffed_inspection(&app).await;
    let county = office("guangxi/nanning/xingning");
    // The county's bodies, which its round hands off to at feedback.
    for (id, kind) in [
        ("xingning-jw", OrganisationKind::DisciplineCommission),
        ("xingning-zzb", OrganisationKind::OrganisationDepartment),
        ("xingning-xcb", OrganisationKind::PropagandaDepartment),
    ] {
        app.org(&admin(), id, kind, "organisations/xingning", id)
            .await;
    }
    c.rounds
        .create_round(authed(
            &county,
            CreateRoundRequest {
                round: Some(Round {
                    display_name: "兴宁区委第1轮巡察".into(),
                    term: 5,
                    number: 1,
                    kind: RoundKind::Regular as i32,
                    organisation: "organisations/xingning".into(),
                    planned_start_date: date(2026, 3, 1),
                    planned_end_date: date(2026, 6, 30),
                    ..Default::default()
                }),
                round_id: "x1".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("the county's round");
    create_group(&mut c, "x1", "g1", "liu", &[])
        .await
        .expect("the county's group");
    let own = create_inspection(&mut c, "x1", "edu", "xn-edu", "g1", "")
        .await
        .expect("the county's inspection")
        .name;
    let own = city.of(&own);
    start_round(&mut c, "r9").await;
    start_round(&mut c, "x1").await;
    for s in [&city, &own] {
        advance_to(&mut c, s, InspectionPhase::Rectifying).await;
        let report = get(&mut c, &s.name).await.double_report.expect("awaited");
        assert_eq!(report.colour(), W::Red, "{}: due 46 days ago", s.name);
    }
    let db = app.db().await;
    let notified = |i: Inspection| i.double_report.expect("awaited").notified_colour();

    let events = recorded(&db).await.len();
    let swept = sweep_as(&app, &county).await;
    assert_eq!((swept.inspections_checked, swept.notices), (1, 1));
    assert_eq!(notified(get(&mut c, &own.name).await), W::Red);
    assert_eq!(warning_steps(&mut c, &own.name).await.len(), 1);
    assert_eq!(notified(get(&mut c, &city.name).await), W::Unspecified);
    assert!(warning_steps(&mut c, &city.name).await.is_empty());
    assert_eq!(
        &recorded(&db).await[events..],
        std::slice::from_ref(&own.name)
    );

    let outsider = sweep_as(&app, &office("guangxi/nanning/qingxiu")).await;
    assert_eq!((outsider.inspections_checked, outsider.notices), (0, 0));

    let swept = sweep_as(&app, &city.token).await;
    assert_eq!((swept.inspections_checked, swept.notices), (2, 1));
    assert_eq!(notified(get(&mut c, &city.name).await), W::Red);
    assert_eq!(warning_steps(&mut c, &city.name).await.len(), 1);
    assert_eq!(warning_steps(&mut c, &own.name).await.len(), 1, "not again");
    assert_eq!(
        recorded(&db).await[events..],
        [own.name.clone(), city.name.clone()]
    );

    let root = sweep_as(&app, &admin()).await;
    assert_eq!((root.inspections_checked, root.notices), (2, 0));
}

/// 地域回避 counts where a person comes from (籍贯) as their own county: in a
/// cross-county round someone working in the city but born in Xingning may
/// not inspect a Xingning unit, may inspect a Qingxiu one, and the native
/// place is kept, resolved and updatable like any organisation reference.
#[tokio::test]
async fn regional_avoidance_counts_the_county_a_person_comes_from() {
    let app = spawn().await;
    let mut c = fixture(&app).await;
    let t = office("guangxi/nanning");
    let created = create_inspector(&mut c, "huang", "nanning-zzb", "organisations/xn-town")
        .await
        .expect("huang");
    assert_eq!(created.native_place, "organisations/xn-town");
    assert_eq!(
        created.native_place_path,
        "guangxi/nanning/xingning/xn-town"
    );
    let unknown = create_inspector(&mut c, "nobody", "nanning-zzb", "organisations/nowhere")
        .await
        .expect_err("no such place");
    assert_eq!(unknown.code(), Code::NotFound);

    let cross = Round {
        cross_county: true,
        ..Default::default()
    };
    create_round(&mut c, "x11", RoundKind::Regular, 11, cross).await;
    create_group(&mut c, "x11", "g1", "li", &["huang"])
        .await
        .expect("a group");
    let status = create_inspection(&mut c, "x11", "edu", "xn-edu", "g1", "")
        .await
        .expect_err("his native county");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
    let v = first_violation(&status);
    assert_eq!(
        (v.r#type.as_str(), v.subject.as_str()),
        ("AVOIDANCE_REGION", "inspectors/huang")
    );
    assert!(
        v.description
            .contains("comes from (籍贯) organisations/xingning"),
        "{v:?}"
    );
    create_inspection(&mut c, "x11", "qx", "qx-town", "g1", "")
        .await
        .expect("another county");
    // A regular round that does not cross counties does not apply it.
    create_round(&mut c, "r9", RoundKind::Regular, 9, Round::default()).await;
    create_group(&mut c, "r9", "g1", "li", &["huang"])
        .await
        .expect("a group");
    create_inspection(&mut c, "r9", "edu", "xn-edu", "g1", "")
        .await
        .expect("no regional avoidance");

    // Recorded as Qingxiu instead, he may inspect Xingning.
    let updated = c
        .inspectors
        .update_inspector(authed(
            &t,
            UpdateInspectorRequest {
                inspector: Some(Inspector {
                    name: "inspectors/huang".into(),
                    native_place: "organisations/qingxiu".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["native_place".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.native_place_path, "guangxi/nanning/qingxiu");
    create_round(
        &mut c,
        "x12",
        RoundKind::Regular,
        12,
        Round {
            cross_county: true,
            ..Default::default()
        },
    )
    .await;
    create_group(&mut c, "x12", "g1", "li", &["huang"])
        .await
        .expect("a group");
    create_inspection(&mut c, "x12", "edu", "xn-edu", "g1", "")
        .await
        .expect("not his county any more");
    let status = create_inspection(&mut c, "x12", "qx", "qx-town", "g1", "")
        .await
        .expect_err("now his native county");
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
}

#[tokio::test]
async fn avoidance_refuses_each_rule_with_its_reason_and_accepts_a_clean_staffing() {
    let app = spawn().await;
    let mut c = fixture(&app).await;
    let t = office("guangxi/nanning");
    create_round(&mut c, "r9", RoundKind::Regular, 9, Round::default()).await;
    // Clean: leader from the city, a member from another county.
    create_group(&mut c, "r9", "g1", "li", &["wang"])
        .await
        .expect("clean group");
    create_inspection(&mut c, "r9", "edu", "xn-edu", "g1", "")
        .await
        .expect("clean assignment");
    let before = c
        .groups
        .get_group(authed(
            &t,
            GetGroupRequest {
                name: "rounds/r9/groups/g1".into(),
            },
        ))
        .await
        .expect("group")
        .into_inner();

    let add = |who: &str| {
        authed(
            &t,
            AddGroupMembersRequest {
                group: "rounds/r9/groups/g1".into(),
                members: vec![GroupMember {
                    inspector: format!("inspectors/{who}"),
                    role: GroupRole::Member as i32,
                }],
                request_id: String::new(),
            },
        )
    };
    // 任职回避: zhao worked in the bureau.
    let status = c
        .groups
        .add_group_members(add("zhao"))
        .await
        .expect_err("post");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "AVOIDANCE_POST");
    let v = first_violation(&status);
    assert_eq!(
        (v.r#type.as_str(), v.subject.as_str()),
        ("AVOIDANCE_POST", "inspectors/zhao")
    );
    // 公务回避: chen declared a relation to the county the bureau is in.
    let status = c
        .groups
        .add_group_members(add("chen"))
        .await
        .expect_err("relation");
    assert_eq!(reason(&status), "AVOIDANCE_RELATION");
    // The same person in two groups of one round.
    let status = create_group(&mut c, "r9", "g2", "", &["wang"])
        .await
        .expect_err("two groups");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "INSPECTOR_IN_OTHER_GROUP");
    let after = c
        .groups
        .get_group(authed(
            &t,
            GetGroupRequest {
                name: "rounds/r9/groups/g1".into(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    assert_eq!(after, before, "a refused staffing changes nothing");
    assert!(
        c.groups
            .get_group(authed(
                &t,
                GetGroupRequest {
                    name: "rounds/r9/groups/g2".into()
                }
            ))
            .await
            .is_err(),
        "nothing half-written"
    );

    // 任职回避 on assignment: liu works in a township of Xingning now.
    create_group(&mut c, "r9", "g3", "liu", &[])
        .await
        .expect("group of liu");
    let status = create_inspection(&mut c, "r9", "xn", "xingning", "g3", "")
        .await
        .expect_err("works there");
    assert_eq!(reason(&status), "AVOIDANCE_POST");
    create_inspection(&mut c, "r9", "xn", "xingning", "", "")
        .await
        .expect("without a group");
    let status = c
        .inspections
        .assign_inspection_group(authed(
            &t,
            AssignInspectionGroupRequest {
                name: "rounds/r9/inspections/xn".into(),
                group: "rounds/r9/groups/g3".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("assign");
    assert_eq!(reason(&status), "AVOIDANCE_POST");
    assert_eq!(get(&mut c, "rounds/r9/inspections/xn").await.group, "");

    // 地域回避 applies in a linked round: wang (Qingxiu) may not inspect a
    // Qingxiu township, but may inspect one in Xingning.
    create_round(&mut c, "r10", RoundKind::Linked, 10, Round::default()).await;
    create_group(&mut c, "r10", "g1", "li", &["wang"])
        .await
        .expect("linked group");
    let status = create_inspection(&mut c, "r10", "qx", "qx-town", "g1", "")
        .await
        .expect_err("region");
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
    let v = first_violation(&status);
    assert_eq!(v.subject, "inspectors/wang");
    create_inspection(&mut c, "r10", "xt", "xn-town", "g1", "")
        .await
        .expect("another county");
    // …and not in a regular round.
    create_inspection(&mut c, "r9", "qx", "qx-town", "g1", "")
        .await
        .expect("regular round");
    // A regular round that crosses counties (交叉巡察) applies it too, when
    // staffing a group as when assigning one.
    let cross = Round {
        cross_county: true,
        ..Default::default()
    };
    let round = create_round(&mut c, "x11", RoundKind::Regular, 11, cross).await;
    assert!(round.cross_county);
    create_group(&mut c, "x11", "g1", "li", &["wang"])
        .await
        .expect("cross-county group");
    let status = create_inspection(&mut c, "x11", "qx", "qx-town", "g1", "")
        .await
        .expect_err("region");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
    let v = first_violation(&status);
    assert_eq!(
        (v.r#type.as_str(), v.subject.as_str()),
        ("AVOIDANCE_REGION", "inspectors/wang")
    );
    create_inspection(&mut c, "x11", "qx", "qx-town", "", "")
        .await
        .expect("without a group");
    create_group(&mut c, "x11", "g2", "", &["liu"])
        .await
        .expect("liu's group");
    let status = c
        .inspections
        .assign_inspection_group(authed(
            &t,
            AssignInspectionGroupRequest {
                name: "rounds/x11/inspections/qx".into(),
                group: "rounds/x11/groups/g1".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("assign");
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
    assert_eq!(get(&mut c, "rounds/x11/inspections/qx").await.group, "");
    // liu (a Xingning township) may inspect in Qingxiu, and wang in Xingning.
    c.inspections
        .assign_inspection_group(authed(
            &t,
            AssignInspectionGroupRequest {
                name: "rounds/x11/inspections/qx".into(),
                group: "rounds/x11/groups/g2".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("another county's person");
    create_inspection(&mut c, "x11", "xt", "xn-town", "g1", "")
        .await
        .expect("another county");
    // Staffing checks it against the group's targets too: someone from a
    // Xingning bureau may not join the group inspecting a Xingning township.
    create_inspector(&mut c, "zhou", "xn-edu", "")
        .await
        .expect("zhou");
    let before = c
        .groups
        .get_group(authed(
            &t,
            GetGroupRequest {
                name: "rounds/x11/groups/g1".into(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    let status = c
        .groups
        .add_group_members(authed(
            &t,
            AddGroupMembersRequest {
                group: "rounds/x11/groups/g1".into(),
                members: vec![GroupMember {
                    inspector: "inspectors/zhou".into(),
                    role: GroupRole::Member as i32,
                }],
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("same county as the group's target");
    assert_eq!(reason(&status), "AVOIDANCE_REGION");
    let after = c
        .groups
        .get_group(authed(
            &t,
            GetGroupRequest {
                name: "rounds/x11/groups/g1".into(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_look_back_links_to_the_earlier_inspection_both_ways() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    run_to_closed(&mut c, &s).await;
    create_inspection(&mut c, "r9", "early", "xn-town", "", "")
        .await
        .expect("not yet fed back");
    let lb = Round {
        look_back_rounds: vec!["rounds/r9".into()],
        planned_start_date: date(2026, 9, 1),
        planned_end_date: date(2026, 10, 30),
        ..Default::default()
    };
    let round = create_round(&mut c, "lb1", RoundKind::LookBack, 11, lb).await;
    assert_eq!(round.look_back_rounds, ["rounds/r9"]);
    let status = create_inspection(&mut c, "lb1", "x", "xn-edu", "", "")
        .await
        .expect_err("required");
    assert_eq!(bad_field(&status), "inspection.look_back_of");
    let status = create_inspection(&mut c, "lb1", "x", "xn-town", "", &s.name)
        .await
        .expect_err("other target");
    assert_eq!(reason(&status), "LOOK_BACK_TARGET_MISMATCH");
    let status = create_inspection(
        &mut c,
        "lb1",
        "x",
        "xn-town",
        "",
        "rounds/r9/inspections/early",
    )
    .await
    .expect_err("before feedback");
    assert_eq!(reason(&status), "LOOK_BACK_BEFORE_FEEDBACK");
    let later = create_inspection(&mut c, "lb1", "edu", "xn-edu", "", &s.name)
        .await
        .expect("look-back");
    assert_eq!(later.look_back_of, s.name);
    assert_eq!(later.round_kind, RoundKind::LookBack as i32);
    assert_eq!(
        get(&mut c, &s.name).await.look_backs,
        vec![later.name.clone()]
    );
    let listed = c
        .inspections
        .list_inspections(authed(
            &s.token,
            ListInspectionsRequest {
                parent: "rounds/-".into(),
                filter: format!("look_back_of = \"{}\"", s.name),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.inspections.len(), 1);
    assert_eq!(listed.inspections[0].name, later.name);
    let status = create_inspection(&mut c, "r9", "y", "qx-town", "", &s.name)
        .await
        .expect_err("not a look-back round");
    assert_eq!(reason(&status), "LOOK_BACK_ONLY_IN_LOOK_BACK_ROUND");
}

/// Records each event's type in its own outbox (as the subject).
struct RecordTypes;

impl EventHandler for RecordTypes {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> futures::future::BoxFuture<'t, fiveledger_platform::ApiResult<()>> {
        Box::pin(async move {
            let ctx = EventContext {
                actor: "service:test".into(),
                ..Default::default()
            };
            outbox::append(txn, &ctx, &event.r#type, &OrganisationCreated::default()).await
        })
    }
}

struct ConsumerMigrator;

#[async_trait::async_trait]
impl sea_orm_migration::MigratorTrait for ConsumerMigrator {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        fiveledger_platform::platform_tables::migrations()
    }
}

async fn recorded(db: &Db) -> Vec<String> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(db.reader())
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.subject)
        .collect()
}

#[tokio::test]
async fn every_phase_is_an_event_delivered_in_order_once() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    let env = TestEnv::new("consumer");
    let db = Db::connect(
        &env.settings.database,
        &env.settings.data_dir.join("c.sqlite"),
    )
    .await
    .expect("consumer db");
    db.migrate::<ConsumerMigrator>().await.expect("migrate");
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", app.running.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    let types: Vec<String> = [
        "InspectionCreated",
        "InspectionBriefingRecorded",
        "InspectionStationed",
        "InspectionMidTermReported",
        "InspectionReported",
        "FeedbackGiven",
        "RectificationStarted",
        "DoubleReportRecorded",
        "InspectionClosed",
    ]
    .map(String::from)
    .to_vec();
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        db.clone(),
        "phases".into(),
        source.clone(),
        types.clone(),
        RecordTypes,
        stop.clone(),
    ));
    run_to_closed(&mut c, &s).await;
    let expected = [
        "InspectionCreated",
        "InspectionBriefingRecorded",
        "InspectionBriefingRecorded",
        "InspectionStationed",
        "InspectionMidTermReported",
        "InspectionReported",
        "FeedbackGiven",
        "RectificationStarted",
        "DoubleReportRecorded",
        "DoubleReportRecorded",
        "InspectionClosed",
    ];
    for _ in 0..100 {
        if recorded(&db).await.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded(&db).await, expected);
    stop.cancel();
    task.await.expect("consumer stops");
    // A restart and a replay add nothing.
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        db.clone(),
        "phases".into(),
        source.clone(),
        types.clone(),
        RecordTypes,
        stop.clone(),
    ));
    use futures::StreamExt;
    let mut replay = source
        .watch(fiveledger_platform::outbox::Position::START, &types)
        .await
        .expect("watch");
    let first = replay.next().await.expect("event").expect("ok");
    assert!(
        !consumer::apply(
            &db,
            "phases",
            &first,
            &(std::sync::Arc::new(RecordTypes) as _)
        )
        .await
        .expect("apply")
    );
    let payload: InspectionCreated = first.payload.expect("payload").to_msg().expect("decode");
    assert_eq!(
        payload.inspection.expect("inspection").target_path,
        "guangxi/nanning/xingning/xn-edu"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(recorded(&db).await.len(), expected.len());
    stop.cancel();
    task.await.expect("stops");
    // The reported event carries the whole inspection.
    let mut reported = source
        .watch(
            fiveledger_platform::outbox::Position::START,
            &["InspectionReported".to_owned()],
        )
        .await
        .expect("watch");
    let event = reported.next().await.expect("event").expect("ok");
    let payload: InspectionReported = event.payload.expect("payload").to_msg().expect("decode");
    let inspection = payload.inspection.expect("inspection");
    assert_eq!(inspection.phase, InspectionPhase::Reported as i32);
    assert_eq!(inspection.round_organisation_path, "guangxi/nanning");
}

#[tokio::test]
async fn a_demo_sized_round_loads_and_lists_with_pagination() {
    let app = spawn().await;
    let t = admin();
    use OrganisationKind as K;
    app.org(&t, "guangxi", K::Region, "", "广西").await;
    app.org(&t, "nanning", K::City, "organisations/guangxi", "南宁市")
        .await;
    let mut targets = Vec::new();
    for county in 0..6 {
        let cid = format!("county-{county}");
        app.org(&t, &cid, K::County, "organisations/nanning", &cid)
            .await;
        targets.push(cid.clone());
        for town in 0..5 {
            let tid = format!("town-{county}-{town}");
            app.org(&t, &tid, K::Township, &format!("organisations/{cid}"), &tid)
                .await;
            targets.push(tid);
        }
    }
    for dept in 0..9 {
        let did = format!("bureau-{dept}");
        app.org(
            &t,
            &did,
            K::FunctionalDepartment,
            "organisations/nanning",
            &did,
        )
        .await;
        targets.push(did);
    }
    assert_eq!(targets.len(), 45);
    let mut c = clients(&app);
    // Four rounds a year, each of the 45 targets.
    for n in 1..=4 {
        create_round(
            &mut c,
            &format!("r{n}"),
            RoundKind::Regular,
            n,
            Round {
                planned_start_date: date(2026, 3 * n as u32 - 2, 1),
                planned_end_date: date(2026, 3 * n as u32, 1),
                ..Default::default()
            },
        )
        .await;
        for (i, target) in targets.iter().enumerate() {
            create_inspection(
                &mut c,
                &format!("r{n}"),
                &format!("i{i:02}"),
                target,
                "",
                "",
            )
            .await
            .expect("inspection");
        }
    }
    // Every round at once: keyset pages cross from one round to the next.
    let office = office("guangxi/nanning");
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .inspections
            .list_inspections(authed(
                &office,
                ListInspectionsRequest {
                    parent: "rounds/-".into(),
                    page_size: 50,
                    page_token: token.clone(),
                    filter: String::new(),
                },
            ))
            .await
            .expect("page")
            .into_inner();
        all.extend(page.inspections.into_iter().map(|i| i.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(all.len(), 180);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 180);
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .inspections
            .list_inspections(authed(
                &office,
                ListInspectionsRequest {
                    parent: "rounds/r1".into(),
                    page_size: 10,
                    page_token: token.clone(),
                    filter: "phase = INSPECTION_PHASE_PREPARATION".into(),
                },
            ))
            .await
            .expect("page")
            .into_inner();
        pages += 1;
        seen.extend(page.inspections.into_iter().map(|i| i.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 45);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique, seen, "keyset pages neither repeat nor skip");

    // A county's subtree: the county and its five townships, in each round.
    let county = c
        .inspections
        .list_inspections(authed(
            &office,
            ListInspectionsRequest {
                parent: "rounds/-".into(),
                filter: "ancestor = organisations/county-2".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("subtree")
        .into_inner();
    assert_eq!(county.inspections.len(), 24);
    // A county office sees only its subtree of the city's round.
    let county_office = testing::token("xc", "guangxi/nanning/county-2", &[Role::InspectionOffice]);
    let own = c
        .inspections
        .list_inspections(authed(
            &county_office,
            ListInspectionsRequest {
                parent: "rounds/r1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("county scope")
        .into_inner();
    assert_eq!(own.inspections.len(), 6);
    let status = c
        .inspections
        .list_inspections(authed(
            &office,
            ListInspectionsRequest {
                parent: "rounds/r1".into(),
                page_size: 10,
                page_token: token,
                filter: String::new(),
            },
        ))
        .await
        .expect_err("token of another query");
    assert_eq!(status.code(), Code::InvalidArgument);
    let rounds = c
        .rounds
        .list_rounds(authed(
            &office,
            ListRoundsRequest {
                filter: "year = 2026 AND kind = ROUND_KIND_REGULAR".into(),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("rounds")
        .into_inner();
    assert_eq!(rounds.rounds.len(), 1);
    assert!(!rounds.next_page_token.is_empty());
}

/// A county office sees the city round's inspections of its county (to
/// read) but changes none of them, nor the round, its groups or its list of
/// inspections; an office that cannot even see the inspection gets
/// NOT_FOUND. Each refused step is then taken by the city's office, so only
/// the scope refused it.
#[tokio::test]
async fn a_county_office_reads_but_cannot_change_a_city_rounds_inspection() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    let town = create_inspection(&mut c, "r9", "town", "xn-town", "", "")
        .await
        .expect("unassigned")
        .name;
    start_round(&mut c, "r9").await;
    let db = app.db().await;
    let county = office("guangxi/nanning/xingning");
    let outsider = office("guangxi/nanning/qingxiu");

    // Reading stays open to the target's office.
    let seen = c
        .inspections
        .get_inspection(authed(
            &county,
            GetInspectionRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("the target's county reads it")
        .into_inner();
    assert_eq!(seen, get(&mut c, &s.name).await);
    let listed = c
        .inspections
        .list_inspections(authed(
            &county,
            ListInspectionsRequest {
                parent: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.inspections.len(), 2);

    for op in Op::ALL {
        let steps = if op == Op::Assign {
            s.of(&town)
        } else {
            s.by(&s.token)
        };
        let before = get(&mut c, &steps.name).await;
        let events = outbox_len(&db).await;
        let status = take(&mut c.inspections, &steps.by(&county), op)
            .await
            .expect_err("a county office changes a city round's inspection");
        assert_eq!(status.code(), Code::PermissionDenied, "{op:?}: {status:?}");
        assert_eq!(reason(&status), "ROUND_OUT_OF_SCOPE", "{op:?}");
        let status = take(&mut c.inspections, &steps.by(&outsider), op)
            .await
            .expect_err("an office that cannot see it");
        assert_eq!(status.code(), Code::NotFound, "{op:?}: {status:?}");
        assert_eq!(get(&mut c, &steps.name).await, before, "{op:?}");
        assert_eq!(outbox_len(&db).await, events, "{op:?}: no event");
        take(&mut c.inspections, &steps, op)
            .await
            .unwrap_or_else(|e| panic!("the city's office takes {op:?}: {e:?}"));
        if op == Op::Brief {
            c.inspections
                .record_briefing(s.briefing_by(BRIEFERS[1]))
                .await
                .expect("organisation department");
        }
    }
    assert_eq!(get(&mut c, &s.name).await.phase(), InspectionPhase::Closed);

    // The round itself, its groups and its inspections are the city's.
    let events = outbox_len(&db).await;
    let not_found = |r: Result<Code, tonic::Status>, what: &str| {
        let status = r.expect_err(what);
        assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
    };
    not_found(
        c.rounds
            .get_round(authed(
                &county,
                GetRoundRequest {
                    name: "rounds/r9".into(),
                },
            ))
            .await
            .map(|_| Code::Ok),
        "GetRound",
    );
    not_found(
        c.rounds
            .update_round(authed(
                &county,
                UpdateRoundRequest {
                    round: Some(Round {
                        name: "rounds/r9".into(),
                        display_name: "renamed".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["display_name".into()],
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|_| Code::Ok),
        "UpdateRound",
    );
    not_found(
        c.groups
            .create_group(authed(
                &county,
                CreateGroupRequest {
                    parent: "rounds/r9".into(),
                    group: Some(Group {
                        display_name: "county group".into(),
                        ..Default::default()
                    }),
                    group_id: "g9".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|_| Code::Ok),
        "CreateGroup",
    );
    not_found(
        c.groups
            .add_group_members(authed(
                &county,
                AddGroupMembersRequest {
                    group: "rounds/r9/groups/g1".into(),
                    members: vec![GroupMember {
                        inspector: "inspectors/liu".into(),
                        role: GroupRole::Member as i32,
                    }],
                    request_id: String::new(),
                },
            ))
            .await
            .map(|_| Code::Ok),
        "AddGroupMembers",
    );
    not_found(
        c.inspections
            .create_inspection(authed(
                &county,
                CreateInspectionRequest {
                    parent: "rounds/r9".into(),
                    inspection: Some(Inspection {
                        target: "organisations/xingning".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| Code::Ok),
        "CreateInspection",
    );
    assert_eq!(outbox_len(&db).await, events, "no event");
    let round = c
        .rounds
        .get_round(authed(
            &s.token,
            GetRoundRequest {
                name: "rounds/r9".into(),
            },
        ))
        .await
        .expect("the city's office reads its round")
        .into_inner();
    assert_eq!(round.display_name, "十二届市委第9轮巡察", "not renamed");
    let group = c
        .groups
        .get_group(authed(
            &s.token,
            GetGroupRequest {
                name: "rounds/r9/groups/g1".into(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    assert_eq!(group.members, ["inspectors/wang"], "liu not added");
}

/// Every step in every phase it is not taken in: FAILED_PRECONDITION
/// `WRONG_PHASE` naming the current phase, the inspection unchanged and no
/// event.
#[tokio::test]
async fn every_step_out_of_order_is_refused_naming_the_phase() {
    use InspectionPhase as P;
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    let db = app.db().await;
    let phases = [
        (P::Preparation, "xn-edu"),
        (P::Stationed, "xn-town"),
        (P::Reported, "qx-town"),
        (P::FeedbackGiven, "xingning"),
        (P::Rectifying, "nanning-zzb"),
        (P::Closed, "nanning-xcb"),
    ];
    let mut at = Vec::new();
    for (phase, target) in phases {
        let name = if target == "xn-edu" {
            s.name.clone()
        } else {
            create_inspection(&mut c, "r9", target, target, "g1", "")
                .await
                .expect("inspection")
                .name
        };
        let steps = s.of(&name);
        advance_to(&mut c, &steps, phase).await;
        at.push((phase, steps));
    }
    let mut refused = 0;
    for (phase, steps) in &at {
        for op in Op::ALL.into_iter().filter(|op| op.phase() != *phase) {
            let before = get(&mut c, &steps.name).await;
            let events = outbox_len(&db).await;
            let status = take(&mut c.inspections, steps, op)
                .await
                .expect_err("out of order");
            let why = format!("{op:?} in {phase:?}");
            assert_eq!(status.code(), Code::FailedPrecondition, "{why}: {status:?}");
            assert_eq!(reason(&status), "WRONG_PHASE", "{why}: {status:?}");
            assert!(
                status.message().contains(phase.as_str_name()),
                "{why}: {status:?}"
            );
            let violation = status
                .get_error_details()
                .precondition_failure()
                .expect("details")
                .violations[0]
                .clone();
            assert_eq!(violation.subject, steps.name, "{why}");
            assert_eq!(
                violation.description,
                format!("current phase: {}", phase.as_str_name()),
                "{why}"
            );
            assert_eq!(get(&mut c, &steps.name).await, before, "{why}: unchanged");
            assert_eq!(outbox_len(&db).await, events, "{why}: no event");
            refused += 1;
        }
    }
    // 10 steps in 6 phases, less the 10 (step, phase) pairs that are in order.
    assert_eq!(refused, 50);
}

/// The role table: a group member who does not lead the group may not
/// report; group members and viewers may not staff, assign, add or close.
#[tokio::test]
async fn members_and_viewers_may_not_report_staff_assign_create_or_close() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    let town = create_inspection(&mut c, "r9", "town", "xn-town", "", "")
        .await
        .expect("unassigned")
        .name;
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Stationed).await;
    let db = app.db().await;
    let member = testing::token("wang-sub", "guangxi/nanning", &[Role::InspectionGroup]);
    let leader = testing::token(LEADER_SUBJECT, "guangxi/nanning", &[Role::InspectionGroup]);
    let viewer = testing::token("v", "guangxi/nanning", &[Role::Viewer]);

    let before = get(&mut c, &s.name).await;
    let events = outbox_len(&db).await;
    for token in [&member, &viewer] {
        let status = take(&mut c.inspections, &s.by(token), Op::MidTerm)
            .await
            .expect_err("only the leader reports");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let status = take(&mut c.inspections, &s.by(&member), Op::MidTerm)
        .await
        .expect_err("member");
    assert_eq!(reason(&status), "NOT_GROUP_LEADER");
    assert_eq!(get(&mut c, &s.name).await, before);
    assert_eq!(outbox_len(&db).await, events);

    let group = |c: &mut Clients| {
        let mut groups = c.groups.clone();
        async move {
            groups
                .get_group(authed(
                    &office("guangxi/nanning"),
                    GetGroupRequest {
                        name: "rounds/r9/groups/g1".into(),
                    },
                ))
                .await
                .expect("group")
                .into_inner()
        }
    };
    let staff = group(&mut c).await;
    let unassigned = get(&mut c, &town).await;
    for token in [&member, &viewer, &leader] {
        let denied = |r: Result<Code, tonic::Status>, what: &str| {
            let status = r.expect_err(what);
            assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
        };
        denied(
            c.groups
                .add_group_members(authed(
                    token,
                    AddGroupMembersRequest {
                        group: "rounds/r9/groups/g1".into(),
                        members: vec![GroupMember {
                            inspector: "inspectors/liu".into(),
                            role: GroupRole::Member as i32,
                        }],
                        request_id: String::new(),
                    },
                ))
                .await
                .map(|_| Code::Ok),
            "AddGroupMembers",
        );
        denied(
            take(&mut c.inspections, &s.of(&town).by(token), Op::Assign)
                .await
                .map(|_| Code::Ok),
            "AssignInspectionGroup",
        );
        denied(
            c.inspections
                .create_inspection(authed(
                    token,
                    CreateInspectionRequest {
                        parent: "rounds/r9".into(),
                        inspection: Some(Inspection {
                            target: "organisations/qx-town".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ))
                .await
                .map(|_| Code::Ok),
            "CreateInspection",
        );
        denied(
            take(&mut c.inspections, &s.by(token), Op::Close)
                .await
                .map(|_| Code::Ok),
            "CloseInspection",
        );
    }
    assert_eq!(group(&mut c).await, staff);
    assert_eq!(get(&mut c, &town).await, unassigned);
    assert_eq!(get(&mut c, &s.name).await, before);
    assert_eq!(outbox_len(&db).await, events, "no event");
    let all = c
        .inspections
        .list_inspections(authed(
            &s.token,
            ListInspectionsRequest {
                parent: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.inspections.len(), 2, "nothing created");

    // The leader of the group may report.
    let reported = take(&mut c.inspections, &s.by(&leader), Op::MidTerm)
        .await
        .expect("the leader reports");
    assert!(reported.mid_term_report.is_some());
}

/// The list filters, the round's and the inspector's reads, each narrowing
/// what an unfiltered call returns; lists under a round out of reach are
/// NOT_FOUND.
#[tokio::test]
async fn list_filters_and_reads_narrow_to_what_was_asked() {
    let app = spawn().await;
    let mut c = fixture(&app).await;
    let city = office("guangxi/nanning");
    let county = office("guangxi/nanning/xingning");
    create_round(&mut c, "r9", RoundKind::Regular, 9, Round::default()).await;
    create_round(&mut c, "r10", RoundKind::Regular, 10, Round::default()).await;
    let county_round = c
        .rounds
        .create_round(authed(
            &county,
            CreateRoundRequest {
                round: Some(Round {
                    display_name: "兴宁区委第1轮巡察".into(),
                    term: 5,
                    number: 1,
                    kind: RoundKind::Regular as i32,
                    organisation: "organisations/xingning".into(),
                    planned_start_date: date(2026, 3, 1),
                    planned_end_date: date(2026, 6, 30),
                    ..Default::default()
                }),
                round_id: "xn1".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("county round")
        .into_inner();
    create_group(&mut c, "r9", "g1", "li", &[])
        .await
        .expect("g1");
    create_group(&mut c, "r9", "g2", "", &["wang"])
        .await
        .expect("g2");
    for (id, target, group) in [
        ("a", "xn-edu", "g1"),
        ("b", "xn-town", "g2"),
        ("c", "qx-town", "g1"),
    ] {
        create_inspection(&mut c, "r9", id, target, group, "")
            .await
            .expect("inspection");
    }
    create_inspection(&mut c, "r10", "a", "xn-edu", "", "")
        .await
        .expect("inspection");

    let list = |parent: &str, filter: &str, token: &str| {
        let mut client = c.inspections.clone();
        let request = authed(
            token,
            ListInspectionsRequest {
                parent: parent.into(),
                filter: filter.into(),
                ..Default::default()
            },
        );
        async move {
            client.list_inspections(request).await.map(|r| {
                r.into_inner()
                    .inspections
                    .into_iter()
                    .map(|i| i.name)
                    .collect::<Vec<_>>()
            })
        }
    };
    assert_eq!(
        list("rounds/r9", "", &city).await.expect("all").len(),
        3,
        "unfiltered"
    );
    assert_eq!(
        list("rounds/r9", "group = rounds/r9/groups/g1", &city)
            .await
            .expect("group"),
        ["rounds/r9/inspections/a", "rounds/r9/inspections/c"]
    );
    assert_eq!(
        list("rounds/-", "group = rounds/r9/groups/g2", &city)
            .await
            .expect("group in every round"),
        ["rounds/r9/inspections/b"]
    );
    assert_eq!(
        list("rounds/-", "target = organisations/xn-edu", &city)
            .await
            .expect("target"),
        ["rounds/r10/inspections/a", "rounds/r9/inspections/a"]
    );
    assert_eq!(
        list(
            "rounds/r9",
            "target = organisations/xn-edu AND group = rounds/r9/groups/g1",
            &city
        )
        .await
        .expect("both"),
        ["rounds/r9/inspections/a"]
    );
    let status = list("rounds/r9", "group = rounds/r10/groups/g1", &city)
        .await
        .expect_err("a group of another round");
    assert_eq!(bad_field(&status), "filter");
    // A round that does not exist, or that runs outside the caller's reach:
    // NOT_FOUND, not an empty page. A county office lists its county's part
    // of the city's round.
    for (parent, filter, token) in [
        ("rounds/nope", "", &city),
        ("rounds/-", "group = rounds/nope/groups/g1", &city),
        ("rounds/r9", "", &office("guangxi/liuzhou")),
        ("rounds/xn1", "", &office("guangxi/nanning/qingxiu")),
    ] {
        let status = list(parent, filter, token).await.expect_err("out of reach");
        assert_eq!(status.code(), Code::NotFound, "{parent} {filter}");
    }
    assert_eq!(
        list("rounds/r9", "", &county).await.expect("county part"),
        ["rounds/r9/inspections/a", "rounds/r9/inspections/b"]
    );
    assert!(
        list("rounds/xn1", "", &city)
            .await
            .expect("the city sees the county's round")
            .is_empty()
    );

    // ListRounds by organisation.
    let rounds = |filter: &str, token: &str| {
        let mut client = c.rounds.clone();
        let request = authed(
            token,
            ListRoundsRequest {
                filter: filter.into(),
                ..Default::default()
            },
        );
        async move {
            client
                .list_rounds(request)
                .await
                .expect("rounds")
                .into_inner()
                .rounds
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(rounds("", &city).await.len(), 3);
    assert_eq!(
        rounds("organisation = organisations/xingning", &city).await,
        ["rounds/xn1"]
    );
    assert_eq!(
        rounds("organisation = organisations/nanning", &city).await,
        ["rounds/r10", "rounds/r9"]
    );
    assert_eq!(rounds("", &county).await, ["rounds/xn1"]);

    // GetRound: in the round's scope only.
    let get_round = |name: &str, token: &str| {
        let mut client = c.rounds.clone();
        let request = authed(token, GetRoundRequest { name: name.into() });
        async move { client.get_round(request).await.map(|r| r.into_inner()) }
    };
    let r9 = get_round("rounds/r9", &city).await.expect("r9");
    assert_eq!(r9.number, 9);
    assert_eq!(r9.organisation_path, "guangxi/nanning");
    assert_eq!(
        get_round("rounds/xn1", &county).await.expect("own"),
        county_round
    );
    assert_eq!(
        get_round("rounds/r9", &county)
            .await
            .expect_err("the city's round")
            .code(),
        Code::NotFound
    );

    // ListGroups: the round's groups with their members, page by page.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .groups
            .list_groups(authed(
                &city,
                ListGroupsRequest {
                    parent: "rounds/r9".into(),
                    page_size: 1,
                    page_token: token.clone(),
                },
            ))
            .await
            .expect("groups")
            .into_inner();
        names.extend(
            page.groups
                .iter()
                .map(|g| (g.name.clone(), g.leader.clone())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        [
            ("rounds/r9/groups/g1".to_owned(), "inspectors/li".to_owned()),
            ("rounds/r9/groups/g2".to_owned(), String::new())
        ]
    );
    let empty = c
        .groups
        .list_groups(authed(
            &city,
            ListGroupsRequest {
                parent: "rounds/r10".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("no groups")
        .into_inner();
    assert!(empty.groups.is_empty());
    let status = c
        .groups
        .list_groups(authed(
            &county,
            ListGroupsRequest {
                parent: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("the city's round");
    assert_eq!(status.code(), Code::NotFound);

    // GetInspector: in the home organisation's scope.
    let get_inspector = |name: &str, token: &str| {
        let mut client = c.inspectors.clone();
        let request = authed(token, GetInspectorRequest { name: name.into() });
        async move { client.get_inspector(request).await.map(|r| r.into_inner()) }
    };
    let zhao = get_inspector("inspectors/zhao", &city).await.expect("zhao");
    assert_eq!(zhao.home_organisation, "organisations/nanning");
    assert_eq!(zhao.past_posts[0].organisation, "organisations/xn-edu");
    let liu = get_inspector("inspectors/liu", &county)
        .await
        .expect("a county's own person");
    assert_eq!(liu.home_organisation, "organisations/xn-town");
    assert_eq!(
        get_inspector("inspectors/zhao", &county)
            .await
            .expect_err("a city person")
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn an_inspected_unit_sees_who_briefed_the_group_but_not_what() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    brief(&mut c, &s).await;
    let office_view = get(&mut c, &s.name).await;
    assert_eq!(office_view.briefings.len(), 2);
    assert!(
        office_view
            .briefings
            .iter()
            .all(|b| b.summary == "线索与信访情况"),
        "the office reads the summaries: {:?}",
        office_view.briefings
    );

    let unit = testing::token(
        "xn-edu-office",
        &office_view.target_path,
        &[Role::InspectedUnit],
    );
    let shown = c
        .inspections
        .get_inspection(authed(
            &unit,
            GetInspectionRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("the unit reads its inspection")
        .into_inner();
    let listed = c
        .inspections
        .list_inspections(authed(
            &unit,
            ListInspectionsRequest {
                parent: "rounds/r9".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("the unit lists its inspections")
        .into_inner()
        .inspections;
    let timeline = c
        .inspections
        .get_inspection_timeline(authed(
            &unit,
            GetInspectionTimelineRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("the unit reads its timeline")
        .into_inner()
        .inspection
        .expect("inspection");
    assert_eq!(listed.len(), 1);
    for (how, seen) in [
        ("get", &shown),
        ("list", &listed[0]),
        ("timeline", &timeline),
    ] {
        let bodies: Vec<_> = seen
            .briefings
            .iter()
            .map(|b| b.organisation.as_str())
            .collect();
        assert_eq!(
            bodies,
            ["organisations/nanning-jw", "organisations/nanning-zzb"],
            "{how}: who briefed, and when, stays"
        );
        assert!(
            seen.briefings
                .iter()
                .all(|b| b.summary.is_empty() && b.date.is_some()),
            "{how}: {:?}",
            seen.briefings
        );
    }
}

/// An inspector's organisations (home, native place, posts, relations) are
/// checked against the caller's scope: another county's unit answers
/// exactly as one that does not exist, so its path is never echoed back.
#[tokio::test]
async fn an_inspectors_history_outside_the_callers_scope_looks_unknown() {
    let app = spawn().await;
    let mut c = fixture(&app).await;
    let county = office("guangxi/nanning/xingning");
    let create = |post: &str, id: &str| {
        let mut client = c.inspectors.clone();
        let county = county.clone();
        let request = CreateInspectorRequest {
            inspector: Some(Inspector {
                display_name: id.to_uppercase(),
                home_organisation: "organisations/xn-edu".into(),
                past_posts: vec![Post {
                    organisation: post.into(),
                    start_date: Some(Date {
                        year: 2018,
                        month: 1,
                        day: 1,
                    }),
                    end_date: Some(Date {
                        year: 2021,
                        month: 12,
                        day: 31,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            inspector_id: id.into(),
            request_id: String::new(),
        };
        async move { client.create_inspector(authed(&county, request)).await }
    };
    let other_county = create("organisations/qx-town", "p1")
        .await
        .expect_err("another county's town");
    let nowhere = create("organisations/no-such-town", "p2")
        .await
        .expect_err("no such town");
    assert_eq!(other_county.code(), Code::NotFound);
    assert_eq!(
        (other_county.code(), reason(&other_county)),
        (nowhere.code(), reason(&nowhere))
    );
    assert_eq!(
        other_county.message().replace("qx-town", "X"),
        nowhere.message().replace("no-such-town", "X")
    );
    assert!(
        !other_county.message().contains("qingxiu"),
        "{other_county:?}"
    );
    // Within its scope the same request is fine.
    create("organisations/xn-town", "p3")
        .await
        .expect("a post in its own county");
    c.inspectors
        .get_inspector(authed(
            &admin(),
            GetInspectorRequest {
                name: "inspectors/p3".into(),
            },
        ))
        .await
        .expect("stored");
}

/// The notice to the leaders in charge before feedback, and the hand-offs
/// at feedback with their acknowledgements and colours.
#[path = "hand_offs.rs"]
mod hand_offs;

/// A step on an inspection read before another step moved it on (a
/// replica's concurrent step) is ABORTED: the row, the timeline and the
/// outbox keep only the step that came first.
#[tokio::test]
async fn a_step_on_an_inspection_that_moved_on_since_it_was_read_is_aborted_and_writes_nothing() {
    use fiveledger_platform::group_commit::Step as Outcome;
    use fiveledger_platform::{ApiError, time::to_date};
    use fiveledger_rounds::domain::inspection::Step;
    use fiveledger_rounds::storage::inspections as store;

    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    let db = app.db().await;
    let id = s.name.rsplit('/').next().expect("id").to_owned();
    let stale = store::find(db.reader(), "r9", &id)
        .await
        .expect("read")
        .expect("the inspection");
    let first = c
        .inspections
        .record_briefing(s.briefing())
        .await
        .expect("the first step")
        .into_inner();
    let events = outbox_len(&db).await;
    let timeline = |c: &mut Clients| {
        let mut inspections = c.inspections.clone();
        let request = authed(
            &s.token,
            GetInspectionTimelineRequest {
                name: s.name.clone(),
            },
        );
        async move {
            inspections
                .get_inspection_timeline(request)
                .await
                .expect("timeline")
                .into_inner()
                .steps
                .len()
        }
    };
    let steps = timeline(&mut c).await;

    let name = s.name.clone();
    let settings = fiveledger_rounds::RoundsSettings::default();
    let step = Step::Brief {
        briefing: Briefing {
            organisation: format!("organisations/{}", BRIEFERS[1]),
            date: Some(to_date(today())),
            summary: "read before the first step".into(),
        },
        body: OrganisationKind::OrganisationDepartment,
    };
    let late = db
        .write(Box::new(move |txn| {
            Box::pin(async move {
                let ctx = EventContext {
                    actor: "late-replica".into(),
                    ..Default::default()
                };
                let now = chrono::Utc::now();
                store::take_step(txn, &ctx, &settings, now, &stale, &name, step)
                    .await
                    .map(Outcome::Commit)
            })
        }))
        .await
        .expect_err("a step on a row that moved on");
    assert!(
        matches!(&late, ApiError::Aborted { resource } if *resource == s.name),
        "{late:?}"
    );
    assert_eq!(
        get(&mut c, &s.name).await,
        first,
        "the row keeps the first step"
    );
    assert_eq!(timeline(&mut c).await, steps, "no timeline step");
    assert_eq!(outbox_len(&db).await, events, "no event");
}
