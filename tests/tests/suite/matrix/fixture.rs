//! The world the matrix runs in: a region with one city and two sibling
//! counties (A and B), each level with its inspection office, discipline
//! commission and organisation department; a city round with one inspection
//! in county A handed over and one still with the group, a county A round
//! with an inspection stationed, one reported and one handed over, and a
//! county B round handed over; problems, clues, ledger entries in several
//! states, warnings and publications in each. Built as the operator, and
//! remembered as facts the expectations judge by.

use std::collections::BTreeMap;
use std::time::Duration;

use fiveledger_e2e::{TestSuite, eventually};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
use fiveledger_proto::{issues, ledgers, rounds, types};

/// Organisation paths, by the relation the matrix names them with.
pub mod paths {
    pub const REGION: &str = "gx";
    pub const CITY: &str = "gx/nn";
    pub const A: &str = "gx/nn/ca";
    pub const B: &str = "gx/nn/cb";
    pub const TOWNSHIP: &str = "gx/nn/ca/ca-town";
    pub const UNIT: &str = "gx/nn/ca/ca-u1";
    pub const UNIT_2: &str = "gx/nn/ca/ca-u2";
    pub const UNIT_3: &str = "gx/nn/ca/ca-u3";
    pub const B_UNIT: &str = "gx/nn/cb/cb-u1";
}

/// The bodies every level has, by the suffix of their ids.
pub const BODIES: [(&str, rounds::OrganisationKind); 4] = [
    ("office", rounds::OrganisationKind::InspectionOffice),
    ("jw", rounds::OrganisationKind::DisciplineCommission),
    ("zzb", rounds::OrganisationKind::OrganisationDepartment),
    ("xcb", rounds::OrganisationKind::PropagandaDepartment),
];

/// The hand-off at feedback every handed inspection's commission has
/// signed for; the others stay unsigned.
pub const SIGNED_HAND_OFF: &str = "discipline-commission";
/// A hand-off the fixture leaves unsigned (its body: the organisation
/// department).
pub const UNSIGNED_HAND_OFF: &str = "organisation-department";
/// Every hand-off at feedback, by id, with the body of the running level it
/// goes to (its suffix). The fixture's lists hold no ideology problem, so
/// nothing goes to the propaganda department.
pub const HAND_OFFS: [(&str, &str); 3] = [
    ("discipline-commission", "jw"),
    ("discipline-commission-record", "jw"),
    ("organisation-department", "zzb"),
];

/// The path of the body `suffix` of the level at `level` (`gx/nn` →
/// `gx/nn/nn-jw`).
pub fn body(level: &str, suffix: &str) -> String {
    let id = level.rsplit('/').next().unwrap_or(level);
    format!("{level}/{id}-{suffix}")
}

/// The resource name of the organisation at `path`.
pub fn org_name(path: &str) -> String {
    format!("organisations/{}", path.rsplit('/').next().unwrap_or(path))
}

pub struct OrgFact {
    pub name: String,
    pub path: String,
    pub display_name: String,
    pub etag: String,
}

pub struct InspectorFact {
    pub name: String,
    pub home: String,
    pub proto: rounds::Inspector,
}

pub struct RoundFact {
    pub name: String,
    pub running: String,
    pub proto: rounds::Round,
    pub groups: Vec<String>,
}

/// One inspection and what scope looks at.
pub struct InspectionFact {
    pub name: String,
    pub group: String,
    /// Path of the organisation running its round.
    pub running: String,
    pub target: String,
    /// Feedback was given: its list and entries are handed over.
    pub handed: bool,
    /// Token subjects of its group, the leader first.
    pub members: Vec<String>,
}

impl InspectionFact {
    pub fn leader(&self) -> &str {
        &self.members[0]
    }
}

pub struct ProblemFact {
    pub name: String,
    /// Key of its inspection in [`World::inspections`].
    pub inspection: &'static str,
    pub main_unit: String,
    pub supervising_body: String,
    pub functional_department: String,
    pub proto: issues::Problem,
}

pub struct ClueFact {
    pub name: String,
    /// The body holding it (the receiving body of its current transfer).
    pub holder: String,
    pub running: String,
    pub target: String,
}

pub struct EntryFact {
    pub name: String,
    pub inspection: &'static str,
    pub responsible_unit: String,
    pub supervising_body: String,
    /// Responsibility list (4), or empty.
    pub functional_department: String,
    /// Receiving bodies of its transfers, oldest first.
    pub receivers: Vec<String>,
    pub state: ledgers::EntryState,
}

pub struct PublicationFact {
    pub name: String,
    pub target: String,
}

/// Everything the fixture made, by key.
#[derive(Default)]
pub struct World {
    pub orgs: Vec<OrgFact>,
    pub inspectors: BTreeMap<&'static str, InspectorFact>,
    pub rounds: BTreeMap<&'static str, RoundFact>,
    pub inspections: BTreeMap<&'static str, InspectionFact>,
    pub problems: BTreeMap<&'static str, ProblemFact>,
    pub clues: BTreeMap<&'static str, ClueFact>,
    pub entries: BTreeMap<&'static str, EntryFact>,
    pub publications: BTreeMap<&'static str, PublicationFact>,
    /// Entries with a warning posted (and nothing more to post).
    pub warned: Vec<&'static str>,
    /// Entries whose colour changed since they were last swept.
    pub unswept: Vec<&'static str>,
    pub category: issues::Category,
}

impl World {
    pub fn inspection_of(&self, key: &str) -> &InspectionFact {
        &self.inspections[key]
    }
}

/// The operator's token (the fixture is built as the operator).
pub fn admin() -> String {
    token("admin", "", &[Role::Admin])
}

/// A day `offset` days from today (negative: in the past).
pub fn day(offset: i64) -> Date {
    use chrono::Datelike;
    let d = chrono::Utc::now().date_naive() + chrono::Duration::days(offset);
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

fn evidence() -> Vec<types::Evidence> {
    vec![types::Evidence {
        document: "整改材料.pdf".into(),
        sha256: "ab".repeat(32),
    }]
}

/// What a problem of the fixture is made of.
struct NewProblem {
    key: &'static str,
    inspection: &'static str,
    category: &'static str,
}

/// How far each handed-over entry is taken through the five ledgers.
#[derive(Clone, Copy)]
enum Path {
    /// Handed over only.
    HandedOver,
    /// Acknowledged, plan version 1 pending.
    Planned,
    /// Plan approved with a measure long overdue, transferred to the
    /// running level's organisation department, acknowledged and returned.
    Rectifying,
    /// Written off.
    WrittenOff,
}

pub async fn build(t: &TestSuite) -> World {
    let mut w = World::default();
    organisations(t, &mut w).await;
    inspectors(t, &mut w).await;
    for (key, level, id) in [
        ("rc", paths::CITY, "rc"),
        ("ra", paths::A, "ra"),
        ("rb", paths::B, "rb"),
    ] {
        round(t, &mut w, key, level, id).await;
    }
    // Inspections, each with its group.
    for (key, round, target, group_key) in [
        ("ic1", "rc", paths::UNIT, "gc"),
        ("ic2", "rc", paths::UNIT_2, "gc"),
        ("ia0", "ra", paths::UNIT, "ga"),
        ("ia1", "ra", paths::UNIT_2, "ga"),
        ("ia3", "ra", paths::UNIT_3, "ga"),
        ("ia2", "ra", paths::TOWNSHIP, "ga"),
        ("ib1", "rb", paths::B_UNIT, "gb"),
    ] {
        inspection(t, &mut w, key, round, target, group_key).await;
    }
    for key in w.inspections.keys().copied().collect::<Vec<_>>() {
        station(t, &w, key).await;
    }
    let problems = [
        NewProblem {
            key: "pa0",
            inspection: "ia0",
            category: "party-leadership",
        },
        NewProblem {
            key: "pa1",
            inspection: "ia1",
            category: "party-leadership",
        },
        NewProblem {
            key: "pc2",
            inspection: "ic2",
            category: "party-leadership",
        },
        NewProblem {
            key: "pb1",
            inspection: "ib1",
            category: "party-leadership",
        },
        NewProblem {
            key: "pa2-handed",
            inspection: "ia2",
            category: "party-leadership",
        },
        NewProblem {
            key: "pa2-planned",
            inspection: "ia2",
            category: "personnel-selection",
        },
        NewProblem {
            key: "pa2-rect",
            inspection: "ia2",
            category: "party-building",
        },
        NewProblem {
            key: "pa2-written",
            inspection: "ia2",
            category: "party-leadership",
        },
        NewProblem {
            key: "pc1-handed",
            inspection: "ic1",
            category: "party-leadership",
        },
        NewProblem {
            key: "pc1-planned",
            inspection: "ic1",
            category: "personnel-selection",
        },
        NewProblem {
            key: "pc1-rect",
            inspection: "ic1",
            category: "party-building",
        },
        NewProblem {
            key: "pc1-written",
            inspection: "ic1",
            category: "party-leadership",
        },
    ];
    for p in &problems {
        problem(t, &mut w, p).await;
    }
    // Everything but ia0 is reported: its list freezes, the ledger opens
    // one entry per problem.
    for key in ["ic1", "ic2", "ia1", "ia2", "ib1"] {
        report(t, &w, key).await;
    }
    let entries_of = |key: &'static str| problems.iter().filter(move |p| p.inspection == key);
    for key in ["ic1", "ic2", "ia1", "ia2", "ib1"] {
        let n = entries_of(key).count();
        wait_for_entries(t, &w.inspections[key].name, n, ledgers::EntryState::Open).await;
    }
    // Feedback hands ic1, ia2 and ib1 over; rectification starts and the
    // team's report comes in.
    for key in ["ic1", "ia2", "ib1"] {
        feedback(t, &mut w, key).await;
        let n = entries_of(key).count();
        wait_for_entries(
            t,
            &w.inspections[key].name,
            n,
            ledgers::EntryState::HandedOver,
        )
        .await;
    }
    for p in &problems {
        remember_entry(t, &mut w, p.key).await;
    }
    for (key, path) in [
        ("pa2-planned", Path::Planned),
        ("pa2-rect", Path::Rectifying),
        ("pa2-written", Path::WrittenOff),
        ("pc1-planned", Path::Planned),
        ("pc1-rect", Path::Rectifying),
        ("pc1-written", Path::WrittenOff),
        ("pa2-handed", Path::HandedOver),
    ] {
        take_entry(t, &mut w, key, path).await;
    }
    // County A's overdue entry is swept (its warning posted); the city's is
    // left for whoever may sweep it.
    sweep(t, paths::TOWNSHIP).await;
    w.warned.push("pa2-rect");
    w.unswept.push("pc1-rect");
    clues(t, &mut w).await;
    for (key, inspection) in [("pub-a", "ia2"), ("pub-c", "ic1"), ("pub-b", "ib1")] {
        publish(t, &mut w, key, inspection).await;
    }
    w.category = issues::category_service_client::CategoryServiceClient::new(t.issues.clone())
        .get_category(authed(
            &admin(),
            issues::GetCategoryRequest {
                name: "categories/party-leadership".into(),
            },
        ))
        .await
        .expect("category")
        .into_inner();
    w
}

async fn organisations(t: &TestSuite, w: &mut World) {
    use rounds::OrganisationKind as K;
    let mut all: Vec<(String, K)> = vec![
        (paths::REGION.into(), K::Region),
        (paths::CITY.into(), K::City),
    ];
    for level in [paths::CITY, paths::A, paths::B] {
        if level != paths::CITY {
            all.push((level.into(), K::County));
        }
        for (suffix, kind) in BODIES {
            all.push((body(level, suffix), kind));
        }
    }
    all.push((paths::TOWNSHIP.into(), K::Township));
    for unit in [paths::UNIT, paths::UNIT_2, paths::UNIT_3, paths::B_UNIT] {
        all.push((unit.into(), K::Enterprise));
    }
    // Parents first: sort by depth.
    all.sort_by_key(|(path, _)| path.matches('/').count());
    for (path, kind) in all {
        let (parent, id) = match path.rsplit_once('/') {
            Some((parent, id)) => (parent, id),
            None => ("", path.as_str()),
        };
        let created = t
            .organisation(id, kind, parent.rsplit('/').next().unwrap_or(""), id)
            .await;
        assert_eq!(created.path, path);
        w.orgs.push(OrgFact {
            name: created.name,
            path,
            display_name: created.display_name,
            etag: created.etag,
        });
    }
}

async fn inspectors(t: &TestSuite, w: &mut World) {
    for (key, home) in [
        ("leader-c", body(paths::CITY, "office")),
        ("leader-a", body(paths::A, "office")),
        ("member-a", body(paths::A, "office")),
        ("leader-b", body(paths::B, "office")),
    ] {
        let proto = t
            .inspectors()
            .create_inspector(authed(
                &admin(),
                rounds::CreateInspectorRequest {
                    inspector: Some(rounds::Inspector {
                        display_name: key.to_uppercase(),
                        subject: key.into(),
                        home_organisation: org_name(&home),
                        ..Default::default()
                    }),
                    inspector_id: key.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("inspector {key}: {s:?}"))
            .into_inner();
        w.inspectors.insert(
            key,
            InspectorFact {
                name: proto.name.clone(),
                home,
                proto,
            },
        );
    }
}

async fn round(t: &TestSuite, w: &mut World, key: &'static str, level: &str, id: &str) {
    let mut client = t.round_service();
    let created = client
        .create_round(authed(
            &admin(),
            rounds::CreateRoundRequest {
                round: Some(rounds::Round {
                    display_name: format!("{id} 第一轮巡察"),
                    term: 12,
                    number: 1,
                    kind: rounds::RoundKind::Regular as i32,
                    organisation: org_name(level),
                    planned_start_date: Some(day(-60)),
                    planned_end_date: Some(day(60)),
                    ..Default::default()
                }),
                round_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("round {id}: {s:?}"))
        .into_inner();
    let started = client
        .start_round(authed(
            &admin(),
            rounds::StartRoundRequest {
                name: created.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("starting {id}: {s:?}"))
        .into_inner();
    // One group per round: the city's led by leader-c, county A's by
    // leader-a with member-a, county B's by leader-b.
    let (group_id, leader, members): (&str, &str, &[&str]) = match key {
        "rc" => ("gc", "leader-c", &[]),
        "ra" => ("ga", "leader-a", &["member-a"]),
        _ => ("gb", "leader-b", &[]),
    };
    let group = t
        .groups()
        .create_group(authed(
            &admin(),
            rounds::CreateGroupRequest {
                parent: created.name.clone(),
                group: Some(rounds::Group {
                    display_name: format!("{group_id} 巡察组"),
                    leader: format!("inspectors/{leader}"),
                    members: members.iter().map(|m| format!("inspectors/{m}")).collect(),
                    ..Default::default()
                }),
                group_id: group_id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("group {group_id}: {s:?}"))
        .into_inner();
    w.rounds.insert(
        key,
        RoundFact {
            name: started.name.clone(),
            running: level.into(),
            proto: started,
            groups: vec![group.name],
        },
    );
}

async fn inspection(
    t: &TestSuite,
    w: &mut World,
    key: &'static str,
    round: &'static str,
    target: &str,
    group_key: &str,
) {
    let r = &w.rounds[round];
    let group = format!("{}/groups/{group_key}", r.name);
    let created = t
        .inspections()
        .create_inspection(authed(
            &admin(),
            rounds::CreateInspectionRequest {
                parent: r.name.clone(),
                inspection: Some(rounds::Inspection {
                    target: org_name(target),
                    group: group.clone(),
                    ..Default::default()
                }),
                inspection_id: key.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("inspection {key}: {s:?}"))
        .into_inner();
    let members = match group_key {
        "gc" => vec!["leader-c".to_owned()],
        "ga" => vec!["leader-a".to_owned(), "member-a".to_owned()],
        _ => vec!["leader-b".to_owned()],
    };
    w.inspections.insert(
        key,
        InspectionFact {
            name: created.name,
            group,
            running: r.running.clone(),
            target: target.into(),
            handed: false,
            members,
        },
    );
}

/// Briefings by the running level's commission and organisation
/// department, then stationed on site.
async fn station(t: &TestSuite, w: &World, key: &str) {
    let i = &w.inspections[key];
    let mut client = t.inspections();
    for suffix in ["jw", "zzb"] {
        client
            .record_briefing(authed(
                &admin(),
                rounds::RecordBriefingRequest {
                    name: i.name.clone(),
                    briefing: Some(rounds::Briefing {
                        organisation: org_name(&body(&i.running, suffix)),
                        date: Some(day(-41)),
                        summary: "巡前情况通报".into(),
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("briefing {key}: {s:?}"));
    }
    client
        .start_stationing(authed(
            &admin(),
            rounds::StartStationingRequest {
                name: i.name.clone(),
                start_date: Some(day(-40)),
                end_date: Some(day(-20)),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("stationing {key}: {s:?}"));
}

async fn problem(t: &TestSuite, w: &mut World, p: &NewProblem) {
    let i = &w.inspections[p.inspection];
    let proto = t
        .problems()
        .create_problem(authed(
            &admin(),
            issues::CreateProblemRequest {
                problem: Some(issues::Problem {
                    inspection: i.name.clone(),
                    category: p.category.into(),
                    severity: types::Severity::Major as i32,
                    title: format!("{} 存在的问题", p.key),
                    description: "巡察组查实。".into(),
                    responsibilities: Some(issues::Responsibilities {
                        principal: "主要负责人 张三".into(),
                        leader_in_charge: "分管领导 李四".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                problem_id: p.key.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("problem {}: {s:?}", p.key))
        .into_inner();
    let r = proto.responsibilities.clone().unwrap_or_default();
    assert!(!r.supervising_body_path.is_empty(), "{} is routed", p.key);
    w.problems.insert(
        p.key,
        ProblemFact {
            name: proto.name.clone(),
            inspection: p.inspection,
            main_unit: r.main_unit_path,
            supervising_body: r.supervising_body_path,
            functional_department: r.functional_department_path,
            proto,
        },
    );
}

/// The leader's mid-term and comprehensive reports (the list freezes).
async fn report(t: &TestSuite, w: &World, key: &str) {
    let i = &w.inspections[key];
    let mut client = t.inspections();
    for (kind, offset) in [
        (rounds::InspectionReportKind::MidTerm, -30),
        (rounds::InspectionReportKind::Comprehensive, -20),
    ] {
        client
            .report_inspection(authed(
                &token(i.leader(), &i.running, &[Role::InspectionGroup]),
                rounds::ReportInspectionRequest {
                    name: i.name.clone(),
                    kind: kind as i32,
                    report: Some(rounds::ReportRecord {
                        date: Some(day(offset)),
                        summary: "汇报".into(),
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("{kind:?} report of {key}: {s:?}"));
    }
}

/// Double feedback, rectification started and the team's report in.
async fn feedback(t: &TestSuite, w: &mut World, key: &str) {
    let name = w.inspections[key].name.clone();
    let mut client = t.inspections();
    let part = |to: &str| rounds::FeedbackPart {
        date: Some(day(-10)),
        given_by: "巡察组组长".into(),
        recipient: to.into(),
    };
    let leader = |role: rounds::LeaderInChargeRole| rounds::LeaderInCharge {
        role: role as i32,
        display_name: "分管领导".into(),
        post: String::new(),
    };
    client
        .notify_leaders_in_charge(authed(
            &admin(),
            rounds::NotifyLeadersInChargeRequest {
                name: name.clone(),
                notice: Some(rounds::LeadersInChargeNotice {
                    date: Some(day(-10)),
                    leaders: vec![
                        leader(rounds::LeaderInChargeRole::Party),
                        leader(rounds::LeaderInChargeRole::Government),
                    ],
                    summary: "巡察情况通报".into(),
                }),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("notice on {key}: {s:?}"));
    client
        .give_feedback(authed(
            &admin(),
            rounds::GiveFeedbackRequest {
                name: name.clone(),
                feedback: Some(rounds::DoubleFeedback {
                    individual: Some(part("主要负责人")),
                    public: Some(part("领导班子")),
                }),
                request_id: String::new(),
                functional_hand_offs: Vec::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("feedback on {key}: {s:?}"));
    client
        .start_rectification(authed(
            &admin(),
            rounds::StartRectificationRequest {
                name: name.clone(),
                start_date: Some(day(-9)),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("rectification of {key}: {s:?}"));
    client
        .record_double_report(authed(
            &admin(),
            rounds::RecordDoubleReportRequest {
                name: name.clone(),
                kind: rounds::DoubleReportKind::Team as i32,
                report: Some(rounds::ReportRecord {
                    date: Some(day(-5)),
                    summary: "班子整改报告".into(),
                }),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("team report of {key}: {s:?}"));
    // The commission signs for what was handed to it (移交签收), so no one
    // signs it again in the matrix.
    rounds::hand_off_service_client::HandOffServiceClient::new(t.rounds.clone())
        .acknowledge_hand_off(authed(
            &admin(),
            rounds::AcknowledgeHandOffRequest {
                name: format!("{name}/handOffs/{SIGNED_HAND_OFF}"),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("acknowledging {key}'s hand-off: {s:?}"));
    // The issues service hands the list over.
    let list = format!("{name}/problemList");
    eventually("the list handed over", Duration::from_secs(10), || {
        let list = list.clone();
        async move {
            t.problems()
                .get_problem_list(authed(
                    &admin(),
                    issues::GetProblemListRequest { name: list },
                ))
                .await
                .ok()
                .filter(|l| l.get_ref().feedback_date.is_some())
        }
    })
    .await;
    w.inspections.get_mut(key).expect("inspection").handed = true;
}

async fn wait_for_entries(t: &TestSuite, inspection: &str, n: usize, state: ledgers::EntryState) {
    let filter = format!(
        "inspection = \"{inspection}\" AND state = {}",
        state.as_str_name()
    );
    t.wait_for_entries(&filter, n).await;
}

async fn remember_entry(t: &TestSuite, w: &mut World, key: &'static str) {
    let p = &w.problems[key];
    let i = &w.inspections[p.inspection];
    if i.name.ends_with("/ia0") {
        return; // still with the group: no entry
    }
    let found = t
        .list_entries(&admin(), &format!("problem = \"{}\"", p.name))
        .await
        .expect("entries");
    let [entry] = found.as_slice() else {
        panic!("one entry for {key}: {found:?}");
    };
    let r = entry.responsibility.clone().unwrap_or_default();
    w.entries.insert(
        key,
        EntryFact {
            name: entry.name.clone(),
            inspection: p.inspection,
            responsible_unit: r.responsible_unit_path,
            supervising_body: r.supervising_body_path,
            functional_department: r.functional_department_path,
            receivers: Vec::new(),
            state: entry.state(),
        },
    );
}

/// Takes the entry of problem `key` along `path`, each step as whoever
/// takes it in real life (the operator stands in for the office).
async fn take_entry(t: &TestSuite, w: &mut World, key: &'static str, path: Path) {
    let running = w.inspections[w.problems[key].inspection].running.clone();
    let e = &w.entries[key];
    let name = e.name.clone();
    let unit = token("unit-fixture", &e.responsible_unit, &[Role::InspectedUnit]);
    let mut ledger = t.ledger();
    let fail = |step: &str, s: tonic::Status| -> ! { panic!("{step} on {key}: {s:?}") };
    if matches!(path, Path::HandedOver) {
        return;
    }
    ledger
        .acknowledge_hand_over(authed(
            &unit,
            ledgers::AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "签收".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| fail("acknowledge", s));
    let due = match path {
        // Long overdue: red, and a warning to post.
        Path::Rectifying => Date {
            year: 2020,
            month: 1,
            day: 1,
        },
        _ => day(60),
    };
    ledger
        .submit_plan(authed(
            &unit,
            ledgers::SubmitPlanRequest {
                name: name.clone(),
                plan: Some(fiveledger_e2e::one_measure_plan(
                    "整改方案",
                    "建章立制",
                    "办公室",
                    Some(due),
                )),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| fail("plan", s));
    if matches!(path, Path::Planned) {
        w.entries.get_mut(key).expect("entry").state = ledgers::EntryState::Planned;
        return;
    }
    ledger
        .approve_plan(authed(
            &admin(),
            ledgers::ApprovePlanRequest {
                name: name.clone(),
                version: 1,
                remarks: "同意".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| fail("approve", s));
    match path {
        Path::Rectifying => {
            let receiver = body(&running, "zzb");
            ledger
                .transfer(authed(
                    &admin(),
                    ledgers::TransferRequest {
                        name: name.clone(),
                        receiving_body: org_name(&receiver),
                        matter: "移交组织部".into(),
                        due_date: Some(day(30)),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("transfer", s));
            let receiving = token("zzb-fixture", &receiver, &[Role::Supervisor]);
            ledger
                .acknowledge_transfer(authed(
                    &receiving,
                    ledgers::AcknowledgeTransferRequest {
                        name: name.clone(),
                        remarks: "收到".into(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("acknowledge transfer", s));
            ledger
                .return_transfer_result(authed(
                    &receiving,
                    ledgers::ReturnTransferResultRequest {
                        name: name.clone(),
                        result: "已处理".into(),
                        evidence: evidence(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("return", s));
            let e = w.entries.get_mut(key).expect("entry");
            e.receivers.push(receiver);
            e.state = ledgers::EntryState::Rectifying;
        }
        Path::WrittenOff => {
            ledger
                .post_progress(authed(
                    &unit,
                    ledgers::PostProgressRequest {
                        name: name.clone(),
                        measure_id: "m1".into(),
                        description: "已完成".into(),
                        evidence: evidence(),
                        measure_done: true,
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("progress", s));
            ledger
                .request_write_off(authed(
                    &unit,
                    ledgers::RequestWriteOffRequest {
                        name: name.clone(),
                        closure_statement: "整改完成".into(),
                        evidence: evidence(),
                        figures: Some(ledgers::RectificationFigures::default()),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("request write-off", s));
            ledger
                .approve_write_off(authed(
                    &admin(),
                    ledgers::ApproveWriteOffRequest {
                        name: name.clone(),
                        remarks: "验收合格".into(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_or_else(|s| fail("approve write-off", s));
            w.entries.get_mut(key).expect("entry").state = ledgers::EntryState::WrittenOff;
        }
        Path::HandedOver | Path::Planned => unreachable!(),
    }
}

async fn sweep(t: &TestSuite, path: &str) {
    let report = t
        .warnings()
        .run_warning_sweep(authed(
            &admin(),
            ledgers::RunWarningSweepRequest {
                organisation_path: path.into(),
            },
        ))
        .await
        .expect("sweep")
        .into_inner();
    assert!(report.warnings_posted > 0, "{report:?}");
}

/// Clues: county A's held by its commission (one disposed), one on a
/// city-managed cadre gone up to the city's commission; the city's held by
/// its commission (one disposed); county B's held by its commission.
async fn clues(t: &TestSuite, w: &mut World) {
    let mut client = ClueServiceClient::new(t.issues.clone());
    for (key, inspection, managed_by, disposed) in [
        ("ca-reg", "ia2", "", false),
        ("ca-disp", "ia2", "", true),
        ("ca-up", "ia2", paths::CITY, false),
        ("cc-reg", "ic1", "", false),
        ("cc-disp", "ic1", "", true),
        ("cb-reg", "ib1", "", false),
    ] {
        let i = &w.inspections[inspection];
        let clue = client
            .create_clue(authed(
                &admin(),
                issues::CreateClueRequest {
                    clue: Some(issues::Clue {
                        inspection: i.name.clone(),
                        subject_name: format!("干部{key}"),
                        subject_post: "科长".into(),
                        summary: "反映问题线索".into(),
                        source: "谈话".into(),
                        subject_managed_by: if managed_by.is_empty() {
                            String::new()
                        } else {
                            org_name(managed_by)
                        },
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("clue {key}: {s:?}"))
            .into_inner();
        let holder = clue.receiving_body_path.clone();
        if disposed {
            // Three people of the holder, one at each level (三级集体研判).
            let mut last = None;
            for (signer, level) in [
                ("jw-fixture-room", issues::ClueDecisionLevel::HandlingRoom),
                (
                    "jw-fixture-leader",
                    issues::ClueDecisionLevel::LeaderInCharge,
                ),
                (
                    "jw-fixture-meeting",
                    issues::ClueDecisionLevel::SupervisionMeeting,
                ),
            ] {
                let signed = client
                    .dispose_clue(authed(
                        &token(signer, &holder, &[Role::DisciplineCommission]),
                        issues::DisposeClueRequest {
                            name: clue.name.clone(),
                            disposal: Some(issues::ClueDisposal {
                                method: issues::DisposalMethod::PreliminaryVerification as i32,
                                date: Some(day(0)),
                                note: "初核".into(),
                                ..Default::default()
                            }),
                            level: level as i32,
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_or_else(|s| panic!("disposing {key} as {signer}: {s:?}"))
                    .into_inner();
                last = Some(signed.state());
            }
            assert_eq!(last, Some(issues::ClueState::Disposed), "{key}");
        }
        w.clues.insert(
            key,
            ClueFact {
                name: clue.name,
                holder,
                running: i.running.clone(),
                target: i.target.clone(),
            },
        );
    }
    assert_eq!(w.clues["ca-up"].holder, body(paths::CITY, "jw"));
}

async fn publish(t: &TestSuite, w: &mut World, key: &'static str, inspection: &str) {
    let i = &w.inspections[inspection];
    let made = t
        .publications()
        .publish(authed(
            &admin(),
            ledgers::PublishRequest {
                inspection: i.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("publishing {inspection}: {s:?}"))
        .into_inner();
    let [publication] = made.publications.as_slice() else {
        panic!("one publication for {inspection}: {made:?}");
    };
    w.publications.insert(
        key,
        PublicationFact {
            name: publication.name.clone(),
            target: i.target.clone(),
        },
    );
}
