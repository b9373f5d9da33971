//! The expectations of the matrix, kept beside the services' roles tables
//! (`grpc::ROLES`, which decide who passes the gate): for every RPC of the
//! API a row saying how to build its request against a resource of county
//! A (and, where a rule turns on it, the city's round about A), and which
//! outcome each caller may get, by the caller's relation to what it asks
//! about. The rules are the ones the services document:
//!
//! - rounds: organisations, rounds, inspectors and groups are read within
//!   the caller's subtree, an inspection by its target or its running
//!   organisation; only the office of the running level (or above) changes
//!   an inspection (`ROUND_OUT_OF_SCOPE`), group leaders take the on-site
//!   steps (`NOT_GROUP_LEADER`);
//! - issues: problems and clues are recorded by the running level's office
//!   (or above) and the inspection's own group (`NOT_GROUP_MEMBER`); until
//!   feedback a list belongs to them; afterwards also to offices, groups
//!   and viewers over the target and to the organisations it names; a clue
//!   is seen by its holder and the offices and commissions of the running
//!   level and above (`NOT_THE_HOLDER` for steps only the holder takes);
//! - ledgers: an entry is seen before hand-over only by the offices and
//!   groups of the running level (or above), afterwards also by target, by
//!   the responsible unit, the supervising body, every receiving body, the
//!   leaders in charge (a supervisor token naming the responsible unit or an
//!   organisation above it) and the functional department;
//!   each step takes its capacity (the office capacity: the office of the
//!   running level).
//!
//! Out of scope answers exactly as a name that does not exist (`Unknown`:
//! compared with the answer for the case's twin name). A reference that
//! may not be named (another county's body) answers as an unknown one.

use std::collections::BTreeSet;
use std::sync::Arc;

use fiveledger_platform::auth::{Role, RoleTable, in_subtree};
use fiveledger_platform::service_identity::{SUBJECT_PREFIX, ServiceCalls, granted};
use fiveledger_platform::testing::{self, token};
use fiveledger_proto::{issues, ledgers, rounds};
use prost_types::FieldMask;
use tonic::Code;

use super::call::{self, Call, Reply};
use super::fixture::{self, EntryFact, InspectionFact, World, body, day, org_name, paths};

/// What a caller may get from one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served (a read, or a change that changes nothing).
    Ok,
    /// Served, showing exactly these names (or figures).
    Listed(BTreeSet<String>),
    /// PERMISSION_DENIED for a role or capacity the caller lacks.
    Denied,
    /// PERMISSION_DENIED naming the rule (`ROUND_OUT_OF_SCOPE` …): the
    /// caller sees the resource but may not change it.
    Refused(&'static str),
    /// The caller passed every scope check; the step is then refused for
    /// the state it finds (nothing changes).
    Fails(Code, &'static str),
    /// Exactly the answer for a name that does not exist (code and reason
    /// given), compared with the twin's answer.
    Unknown(Code, &'static str),
    /// The caller may take the step and it changes the books: run once the
    /// matrix proved nothing else changed anything.
    Performs,
}

/// A recording step on a frozen list: scope passed, the list refuses.
const FROZEN: Outcome = Outcome::Fails(Code::FailedPrecondition, "PROBLEM_LIST_FROZEN");
/// Out of scope: exactly as not found.
pub const HIDDEN: Outcome = Outcome::Unknown(Code::NotFound, "NOT_FOUND");
/// A reference out of reach: exactly as an unknown organisation.
const UNKNOWN_ORGANISATION: Outcome =
    Outcome::Unknown(Code::InvalidArgument, "UNKNOWN_ORGANISATION");

fn listed<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Outcome {
    Outcome::Listed(items.into_iter().map(Into::into).collect())
}

/// One caller of the matrix: a role, acting for an organisation.
pub struct Who {
    /// `role@relation`, e.g. `office@B` or `member@city-body`.
    pub label: String,
    pub role: Role,
    pub subject: String,
    /// The organisation the token names ("" for the whole tree).
    pub org: String,
    /// The subtree it works in: the level a body serves, else `org`.
    pub scope: String,
    pub token: String,
}

/// Roles whose token may name a body of a level and act for the level.
const LEVEL_ROLES: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::DisciplineCommission,
    Role::Supervisor,
    Role::Viewer,
];
/// Roles that read handed-over problems and entries by their target.
const BY_TARGET: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup, Role::Viewer];
/// Roles that act for a supervising or receiving body.
const SUPERVISING: &[Role] = &[Role::Supervisor, Role::DisciplineCommission];

impl Who {
    fn new(label: String, role: Role, subject: &str, org: &str) -> Self {
        let is_body = org.rsplit('/').next().is_some_and(|id| {
            fixture::BODIES
                .iter()
                .any(|(s, _)| id.ends_with(&format!("-{s}")))
        });
        let scope = if is_body && LEVEL_ROLES.contains(&role) {
            fiveledger_platform::auth::parent_path(org).to_owned()
        } else {
            org.to_owned()
        };
        Self {
            label,
            role,
            subject: subject.into(),
            org: org.into(),
            scope,
            // A service is itself only by its own key.
            token: match subject.strip_prefix(SUBJECT_PREFIX) {
                Some(service) if role == Role::Service => testing::service_token(service),
                _ => token(subject, org, &[role]),
            },
        }
    }

    pub fn is(&self, role: Role) -> bool {
        self.role == role || self.role == Role::Admin
    }

    pub fn any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.is(*r))
    }

    /// `path` lies in the subtree the caller works in.
    pub fn sees(&self, path: &str) -> bool {
        in_subtree(path, &self.scope)
    }

    /// `path` is the caller's organisation or lies under it.
    pub fn holds(&self, path: &str) -> bool {
        !path.is_empty() && in_subtree(path, &self.org)
    }

    /// The caller acts for the body at `path` (it, or a unit under it).
    pub fn within(&self, path: &str) -> bool {
        self.role == Role::Admin || (!path.is_empty() && in_subtree(&self.org, path))
    }

    /// Whether the gate lets the caller call `rpc` (the service's table).
    pub fn passes_gate(&self, rpc: &str) -> bool {
        if let Some(service) = self.subject.strip_prefix(SUBJECT_PREFIX) {
            // A service: what the callee's table grants it, role or not.
            return SERVICE_TABLES
                .iter()
                .any(|t| granted(t, service).contains(&rpc));
        }
        let allowed = roles_of(rpc);
        self.role == Role::Admin || allowed.contains(&self.role)
    }
}

const ROLE_TABLES: [RoleTable; 3] = [
    fiveledger_rounds::grpc::ROLES,
    fiveledger_issues::grpc::ROLES,
    fiveledger_ledgers::grpc::ROLES,
];

const SERVICE_TABLES: [ServiceCalls; 3] = [
    fiveledger_rounds::grpc::SERVICE_CALLS,
    fiveledger_issues::grpc::SERVICE_CALLS,
    fiveledger_ledgers::grpc::SERVICE_CALLS,
];

fn roles_of(rpc: &str) -> &'static [Role] {
    ROLE_TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|(path, _)| *path == rpc)
        .map(|(_, roles)| *roles)
        .unwrap_or(&[])
}

/// Every caller: the operator and a service over the whole tree, and each
/// role for county A (the level and its body), county B, the city (the
/// level and its body), a township of A and a unit of A. Group roles come
/// as county A's leader, its member and a stranger to every group.
pub fn callers() -> Vec<Who> {
    let mut out = vec![
        Who::new("admin@root".into(), Role::Admin, "admin", ""),
        Who::new("ledgers@root".into(), Role::Service, "service:ledgers", ""),
    ];
    let people: [(Role, &str, &str); 9] = [
        (Role::InspectionOffice, "office", "office"),
        (Role::InspectionGroup, "leader", "leader-a"),
        (Role::InspectionGroup, "member", "member-a"),
        (Role::InspectionGroup, "stranger", "stranger"),
        (Role::InspectedUnit, "unit", "unit"),
        (Role::Supervisor, "supervisor", "zzb"),
        (Role::DisciplineCommission, "commission", "jw"),
        (Role::Viewer, "viewer", "viewer"),
        (Role::Public, "public", "public"),
    ];
    for (role, what, subject) in people {
        let suffix = match role {
            Role::DisciplineCommission => "jw",
            Role::Supervisor => "zzb",
            _ => "office",
        };
        let body_role = matches!(
            role,
            Role::InspectionOffice | Role::DisciplineCommission | Role::Supervisor
        );
        let b = if body_role {
            body(paths::B, suffix)
        } else {
            paths::B.to_owned()
        };
        for (relation, org) in [
            ("A", paths::A.to_owned()),
            ("A-body", body(paths::A, suffix)),
            ("B", b),
            ("city", paths::CITY.to_owned()),
            ("city-body", body(paths::CITY, suffix)),
            ("township", paths::TOWNSHIP.to_owned()),
            ("unit", paths::UNIT.to_owned()),
        ] {
            out.push(Who::new(format!("{what}@{relation}"), role, subject, &org));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The rules, over the fixture's facts.
// ---------------------------------------------------------------------------

/// rounds: who sees an inspection (its target or running organisation).
fn sees_inspection(w: &Who, i: &InspectionFact) -> bool {
    w.sees(&i.target) || w.sees(&i.running)
}

fn is_member(w: &Who, i: &InspectionFact) -> bool {
    w.is(Role::InspectionGroup) && i.members.contains(&w.subject)
}

/// The office of the running level (or one above it).
fn runs(w: &Who, running: &str) -> bool {
    w.is(Role::InspectionOffice) && w.sees(running)
}

/// A change to an inspection: the running office, the leader for the
/// on-site steps (`leader_may`).
fn change_inspection(w: &Who, i: &InspectionFact, leader_may: bool, then: Outcome) -> Outcome {
    if !sees_inspection(w, i) {
        HIDDEN
    } else if runs(w, &i.running) || (leader_may && w.subject == i.leader()) {
        then
    } else if w.is(Role::InspectionOffice) {
        Outcome::Refused("ROUND_OUT_OF_SCOPE")
    } else {
        Outcome::Refused("NOT_GROUP_LEADER")
    }
}

/// issues: who works a round (offices and groups of the running level or above).
fn works(w: &Who, running: &str) -> bool {
    w.any(&[Role::InspectionOffice, Role::InspectionGroup]) && w.sees(running)
}

/// issues: a recording step on an inspection.
fn record(w: &Who, i: &InspectionFact, then: Outcome) -> Outcome {
    if !(sees_inspection(w, i) || is_member(w, i)) {
        HIDDEN
    } else if runs(w, &i.running) || is_member(w, i) {
        then
    } else if w.is(Role::InspectionOffice) {
        Outcome::Refused("ROUND_OUT_OF_SCOPE")
    } else {
        Outcome::Refused("NOT_GROUP_MEMBER")
    }
}

/// issues: who reads a problem (or, with only the target in `named`, a
/// list) of inspection `i`; `via_member`: membership is known (a read by
/// name, or a list filtered by the inspection).
fn reads_problem(w: &Who, i: &InspectionFact, named: &[&str], via_member: bool) -> bool {
    w.is(Role::Service)
        || (via_member && is_member(w, i))
        || works(w, &i.running)
        || (i.handed
            && ((w.any(BY_TARGET) && w.sees(&i.target)) || named.iter().any(|p| w.holds(p))))
}

fn problem_named<'a>(world: &'a World, key: &str) -> (&'a InspectionFact, Vec<&'a str>) {
    let p = &world.problems[key];
    let i = world.inspection_of(p.inspection);
    (
        i,
        vec![
            i.target.as_str(),
            p.main_unit.as_str(),
            p.supervising_body.as_str(),
            p.functional_department.as_str(),
        ],
    )
}

fn reads_problem_key(world: &World, w: &Who, key: &str, via_member: bool) -> bool {
    let (i, named) = problem_named(world, key);
    reads_problem(w, i, &named, via_member)
}

/// issues: who finds a problem in a list: by its target (in the subtree,
/// or under its own organisation for units and bodies) and, when the list
/// asks for what one organisation is responsible for (`responsible`, a
/// path), by that organisation being its own.
fn lists_problem(
    world: &World,
    w: &Who,
    key: &str,
    via_member: bool,
    responsible: Option<&str>,
) -> bool {
    let p = &world.problems[key];
    let i = world.inspection_of(p.inspection);
    let mut named = vec![i.target.as_str()];
    if let Some(r) = responsible {
        if ![&p.main_unit, &p.supervising_body, &p.functional_department]
            .iter()
            .any(|n| *n == r)
        {
            return false;
        }
        named.push(r);
    }
    reads_problem(w, i, &named, via_member)
}

/// issues: a clue is seen by its holder and by the offices and commissions
/// of the running level and above.
fn reads_clue(world: &World, w: &Who, key: &str) -> bool {
    let c = &world.clues[key];
    w.is(Role::Service)
        || (w.any(&[Role::InspectionOffice, Role::DisciplineCommission])
            && (w.within(&c.holder) || w.sees(&c.running)))
        // The organisation department: the clues handed to it.
        || (w.is(Role::Supervisor) && w.within(&c.holder))
}

/// A step only the clue's holder takes (`office_may`: or the running office).
fn clue_step(world: &World, w: &Who, key: &str, office_may: bool, then: Outcome) -> Outcome {
    let c = &world.clues[key];
    if !reads_clue(world, w, key) {
        HIDDEN
    } else if w.within(&c.holder)
        || (office_may && w.is(Role::InspectionOffice) && works(w, &c.running))
    {
        then
    } else {
        Outcome::Refused("NOT_THE_HOLDER")
    }
}

/// ledgers: the capacities a step takes.
#[derive(Clone, Copy)]
enum Capacity {
    Unit,
    Office,
    Supervisor,
    Receiver,
    LeaderInCharge,
    FunctionalDepartment,
}

fn entry_and_inspection<'a>(world: &'a World, key: &str) -> (&'a EntryFact, &'a InspectionFact) {
    let e = &world.entries[key];
    (e, world.inspection_of(e.inspection))
}

fn acts(world: &World, w: &Who, key: &str, capacity: Capacity) -> bool {
    let (e, i) = entry_and_inspection(world, key);
    match capacity {
        Capacity::Unit => w.is(Role::InspectedUnit) && w.holds(&e.responsible_unit),
        Capacity::Office => runs(w, &i.running),
        Capacity::Supervisor => w.any(SUPERVISING) && w.holds(&e.supervising_body),
        Capacity::Receiver => w.any(SUPERVISING) && e.receivers.last().is_some_and(|r| w.holds(r)),
        Capacity::LeaderInCharge => w.is(Role::Supervisor) && w.holds(&e.responsible_unit),
        Capacity::FunctionalDepartment => {
            w.is(Role::Supervisor) && w.holds(&e.functional_department)
        }
    }
}

fn reads_entry(world: &World, w: &Who, key: &str) -> bool {
    let (e, i) = entry_and_inspection(world, key);
    w.is(Role::Service)
        || works(w, &i.running)
        || (i.handed
            && ((w.any(BY_TARGET) && w.sees(&i.target))
                || acts(world, w, key, Capacity::Unit)
                || acts(world, w, key, Capacity::Supervisor)
                || acts(world, w, key, Capacity::LeaderInCharge)
                || acts(world, w, key, Capacity::FunctionalDepartment)
                || (w.any(SUPERVISING) && e.receivers.iter().any(|r| w.holds(r)))))
}

fn ledger_step(
    world: &World,
    w: &Who,
    key: &str,
    capacities: &[Capacity],
    then: Outcome,
) -> Outcome {
    if !reads_entry(world, w, key) {
        HIDDEN
    } else if capacities.iter().any(|c| acts(world, w, key, *c)) {
        then
    } else {
        Outcome::Denied
    }
}

fn entries_of<'a>(
    world: &'a World,
    inspection: &'a str,
) -> impl Iterator<Item = &'static str> + 'a {
    world
        .entries
        .iter()
        .filter(move |(_, e)| e.inspection == inspection)
        .map(|(k, _)| *k)
}

// ---------------------------------------------------------------------------
// The rows.
// ---------------------------------------------------------------------------

/// One request aimed at one resource, and what each caller may get.
pub struct Case {
    /// What it aims at, e.g. `rounds/ra/inspections/ia1 (county A, reported)`.
    pub label: String,
    /// The name scope decides on; the twin call replaces it with a name
    /// that does not exist.
    pub name: String,
    pub call: Call,
    pub expect: Arc<dyn Fn(&Who) -> Outcome + Send + Sync>,
}

/// One RPC and its cases.
pub struct Row {
    pub rpc: &'static str,
    pub cases: Vec<Case>,
}

macro_rules! rpc {
    ($package:literal, $service:literal, $method:literal) => {
        concat!("/fiveledger.", $package, ".v1.", $service, "/", $method)
    };
}

/// A unary case: `build` makes the request from the name aimed at,
/// `reply` reduces the response to what the expectations check.
fn unary<Req, Resp>(
    rpc: &'static str,
    label: impl Into<String>,
    name: impl Into<String>,
    build: impl Fn(&str) -> Req + Send + Sync + 'static,
    reply: impl Fn(Resp) -> Reply + Send + Sync + 'static,
    expect: impl Fn(&Who) -> Outcome + Send + Sync + 'static,
) -> Case
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    unary_on(None, rpc, label, name, build, reply, expect)
}

/// [`unary`] on the named `server` (for a service several servers serve).
fn unary_on<Req, Resp>(
    server: Option<&'static str>,
    rpc: &'static str,
    label: impl Into<String>,
    name: impl Into<String>,
    build: impl Fn(&str) -> Req + Send + Sync + 'static,
    reply: impl Fn(Resp) -> Reply + Send + Sync + 'static,
    expect: impl Fn(&Who) -> Outcome + Send + Sync + 'static,
) -> Case
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let build = Arc::new(build);
    let reply = Arc::new(reply);
    let call: Call = Arc::new(move |channels, name, token| {
        let request = build(&name);
        let reply = reply.clone();
        Box::pin(async move {
            call::unary::<Req, Resp>(channels.on(server, rpc), rpc, token, request)
                .await
                .map(|r| reply(r))
        })
    });
    Case {
        label: label.into(),
        name: name.into(),
        call,
        expect: Arc::new(expect),
    }
}

/// A read of one resource by name: served to whoever `reads`, to anyone
/// else exactly as a name that does not exist.
fn read<Req, Resp>(
    rpc: &'static str,
    label: impl Into<String>,
    name: impl Into<String>,
    build: impl Fn(&str) -> Req + Send + Sync + 'static,
    reads: impl Fn(&Who) -> bool + Send + Sync + 'static,
) -> Case
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    unary(rpc, label, name, build, nothing::<Resp>, move |who| {
        if reads(who) { Outcome::Ok } else { HIDDEN }
    })
}

fn nothing<T>(_: T) -> Reply {
    Reply::new()
}

fn names_of<T>(items: impl IntoIterator<Item = T>, name: impl Fn(T) -> String) -> Reply {
    items.into_iter().map(name).collect()
}

fn figure(what: &str, n: impl std::fmt::Display) -> String {
    format!("{what}={n}")
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// Every row, against the fixture's world.
pub fn rows(world: &Arc<World>) -> Vec<Row> {
    let mut rows = Vec::new();
    rows.extend(rounds_rows(world));
    rows.extend(issues_rows(world));
    rows.extend(ledgers_rows(world));
    rows.extend(access_log_rows());
    rows.extend(back_tracking_and_assessment_rows());
    rows.extend(hand_offs::rows(world));
    rows.extend(joint_supervision_rows(world));
    rows.extend(look_back_rows(world));
    rows
}

/// Joint supervisions (ledgers, 联合督查): a commission that sees county A's
/// handed-over entry and A's organisation department creates one with the
/// department taking part; one below A finds the department unknown; to any
/// other caller the entry is unknown. None exists by name.
fn joint_supervision_rows(world: &Arc<World>) -> Vec<Row> {
    let e = &world.entries["pa2-handed"];
    let target = world.inspection_of(e.inspection).target.clone();
    let participant_path = body(paths::A, "zzb");
    let participant = org_name(&participant_path);
    vec![
        Row {
            rpc: rpc!(
                "ledgers",
                "JointSupervisionService",
                "CreateJointSupervision"
            ),
            cases: vec![unary(
                rpc!(
                    "ledgers",
                    "JointSupervisionService",
                    "CreateJointSupervision"
                ),
                "county A's handed-over entry, A's organisation department taking part",
                e.name.clone(),
                move |name| ledgers::CreateJointSupervisionRequest {
                    joint_supervision: Some(ledgers::JointSupervision {
                        title: "整改情况联合督查".into(),
                        participants: vec![participant.clone()],
                        entries: vec![name.into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                nothing::<ledgers::JointSupervision>,
                move |who| {
                    if !who.sees(&target) {
                        HIDDEN
                    } else if !who.sees(&participant_path) {
                        // A body outside the caller's level: as unknown.
                        Outcome::Fails(Code::NotFound, "NOT_FOUND")
                    } else {
                        Outcome::Performs
                    }
                },
            )],
        },
        Row {
            rpc: rpc!("ledgers", "JointSupervisionService", "GetJointSupervision"),
            cases: vec![unary(
                rpc!("ledgers", "JointSupervisionService", "GetJointSupervision"),
                "a joint supervision never created",
                "jointSupervisions/jnone",
                |name| ledgers::GetJointSupervisionRequest { name: name.into() },
                nothing::<ledgers::JointSupervision>,
                |_| HIDDEN,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "JointSupervisionService", "PostJointFinding"),
            cases: vec![unary(
                rpc!("ledgers", "JointSupervisionService", "PostJointFinding"),
                "a joint supervision never created",
                "jointSupervisions/jnone",
                |name| ledgers::PostJointFindingRequest {
                    name: name.into(),
                    entry: "entries/enone".into(),
                    finding: "督查发现".into(),
                    ..Default::default()
                },
                nothing::<ledgers::JointSupervision>,
                |_| HIDDEN,
            )],
        },
    ]
}

/// Look-back campaigns (ledgers, 回头看): the world holds no record, so
/// every name is unknown and every round's lists are empty; a spot check of
/// county A's handed-over entry passes every scope check for the office
/// running its round and its supervising body and is then refused for the
/// entry's state (only written-off entries are checked).
fn look_back_rows(world: &Arc<World>) -> Vec<Row> {
    let none = |_: &Who| HIDDEN;
    let nothing_listed = |_: &Who| listed(Vec::<String>::new());
    let handed = world.entries["pa2-handed"].name.clone();
    let round = world
        .inspection_of(world.entries["pa2-handed"].inspection)
        .name
        .split("/inspections/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let w = world.clone();
    vec![
        Row {
            rpc: rpc!("ledgers", "LookBackService", "RequestSelfCheckReport"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "RequestSelfCheckReport"),
                "an inspection that does not exist",
                "rounds/rnone/inspections/inone",
                |name| ledgers::RequestSelfCheckReportRequest {
                    self_check_report: Some(ledgers::SelfCheckReport {
                        inspection: name.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                nothing::<ledgers::SelfCheckReport>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "SubmitSelfCheckReport"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "SubmitSelfCheckReport"),
                "a report never asked for",
                "selfCheckReports/snone",
                |name| ledgers::SubmitSelfCheckReportRequest {
                    name: name.into(),
                    summary: "自查情况".into(),
                    ..Default::default()
                },
                nothing::<ledgers::SelfCheckReport>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "AcceptSelfCheckReport"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "AcceptSelfCheckReport"),
                "a report never asked for",
                "selfCheckReports/snone",
                |name| ledgers::AcceptSelfCheckReportRequest {
                    name: name.into(),
                    ..Default::default()
                },
                nothing::<ledgers::SelfCheckReport>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "ReturnSelfCheckReport"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "ReturnSelfCheckReport"),
                "a report never asked for",
                "selfCheckReports/snone",
                |name| ledgers::ReturnSelfCheckReportRequest {
                    name: name.into(),
                    reason: "台账不完整".into(),
                    ..Default::default()
                },
                nothing::<ledgers::SelfCheckReport>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "GetSelfCheckReport"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "GetSelfCheckReport"),
                "a report never asked for",
                "selfCheckReports/snone",
                |name| ledgers::GetSelfCheckReportRequest { name: name.into() },
                nothing::<ledgers::SelfCheckReport>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "ListKeyProblemCandidates"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "ListKeyProblemCandidates"),
                "a round that does not exist (no entries)",
                String::new(),
                |_| ledgers::ListKeyProblemCandidatesRequest {
                    round: "rounds/rnone".into(),
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ledgers::ListKeyProblemCandidatesResponse| names_of(r.candidates, |c| c.entry),
                nothing_listed,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "CreateKeyProblem"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "CreateKeyProblem"),
                "an entry that does not exist",
                "entries/enone",
                |name| ledgers::CreateKeyProblemRequest {
                    key_problem: Some(ledgers::KeyProblem {
                        entry: name.into(),
                        note: "整改不到位".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                nothing::<ledgers::KeyProblem>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "ListKeyProblems"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "ListKeyProblems"),
                "county A's round (none listed)",
                String::new(),
                {
                    let round = round.clone();
                    move |_| ledgers::ListKeyProblemsRequest {
                        round: round.clone(),
                        page_size: 1000,
                        ..Default::default()
                    }
                },
                |r: ledgers::ListKeyProblemsResponse| names_of(r.key_problems, |k| k.name),
                nothing_listed,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "CreateSupervisionSuggestion"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "CreateSupervisionSuggestion"),
                "an inspection that does not exist",
                "rounds/rnone/inspections/inone",
                |name| ledgers::CreateSupervisionSuggestionRequest {
                    supervision_suggestion: Some(ledgers::SupervisionSuggestion {
                        inspection: name.into(),
                        suggestion: "督导意见".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                nothing::<ledgers::SupervisionSuggestion>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "ReplyToSupervisionSuggestion"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "ReplyToSupervisionSuggestion"),
                "a suggestion never made",
                "supervisionSuggestions/gnone",
                |name| ledgers::ReplyToSupervisionSuggestionRequest {
                    name: name.into(),
                    reply: "已整改".into(),
                    ..Default::default()
                },
                nothing::<ledgers::SupervisionSuggestion>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "GetKeyProblem"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "GetKeyProblem"),
                "a key problem never listed",
                "keyProblems/knone",
                |name| ledgers::GetKeyProblemRequest { name: name.into() },
                nothing::<ledgers::KeyProblem>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "GetSpotCheck"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "GetSpotCheck"),
                "a spot check never made",
                "spotChecks/cnone",
                |name| ledgers::GetSpotCheckRequest { name: name.into() },
                nothing::<ledgers::SpotCheck>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "GetSupervisionSuggestion"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "GetSupervisionSuggestion"),
                "a suggestion never made",
                "supervisionSuggestions/gnone",
                |name| ledgers::GetSupervisionSuggestionRequest { name: name.into() },
                nothing::<ledgers::SupervisionSuggestion>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "CreateSpotCheck"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "CreateSpotCheck"),
                "county A's handed-over entry (not written off)",
                handed,
                |name| ledgers::CreateSpotCheckRequest {
                    spot_check: Some(ledgers::SpotCheck {
                        entry: name.into(),
                        look_back: "rounds/rnone/inspections/inone".into(),
                        result: ledgers::SpotCheckResult::Passed as i32,
                        findings: "整改到位".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                nothing::<ledgers::SpotCheck>,
                move |who| {
                    ledger_step(
                        &w,
                        who,
                        "pa2-handed",
                        &[Capacity::Office, Capacity::Supervisor],
                        Outcome::Fails(Code::FailedPrecondition, "WRONG_STATE"),
                    )
                },
            )],
        },
        Row {
            rpc: rpc!("ledgers", "LookBackService", "ListSpotChecks"),
            cases: vec![unary(
                rpc!("ledgers", "LookBackService", "ListSpotChecks"),
                "county A's round (none checked)",
                String::new(),
                move |_| ledgers::ListSpotChecksRequest {
                    round: round.clone(),
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ledgers::ListSpotChecksResponse| names_of(r.spot_checks, |c| c.name),
                nothing_listed,
            )],
        },
    ]
}

/// Back-tracking (issues) and assessments (ledgers): the world holds none,
/// so offices find nothing by name and list nothing; an assessment of
/// county A is computed by an office above it, refused to its own office
/// (`ASSESSMENT_OF_OWN_LEVEL`), unknown to every other.
fn back_tracking_and_assessment_rows() -> Vec<Row> {
    let none = |_: &Who| HIDDEN;
    let nothing_listed = |_: &Who| listed(Vec::<String>::new());
    vec![
        Row {
            rpc: rpc!("issues", "RecurrenceService", "GetRecurrence"),
            cases: vec![unary(
                rpc!("issues", "RecurrenceService", "GetRecurrence"),
                "a recurrence that was never flagged",
                "recurrences/rnone",
                |name| issues::GetRecurrenceRequest { name: name.into() },
                nothing::<issues::Recurrence>,
                none,
            )],
        },
        Row {
            rpc: rpc!("issues", "RecurrenceService", "ListRecurrences"),
            cases: vec![unary(
                rpc!("issues", "RecurrenceService", "ListRecurrences"),
                "every recurrence (none)",
                String::new(),
                |_| issues::ListRecurrencesRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: issues::ListRecurrencesResponse| names_of(r.recurrences, |r| r.name),
                nothing_listed,
            )],
        },
        Row {
            rpc: rpc!("issues", "RecurrenceService", "DecideRecurrence"),
            cases: vec![unary(
                rpc!("issues", "RecurrenceService", "DecideRecurrence"),
                "a recurrence that was never flagged",
                "recurrences/rnone",
                |name| issues::DecideRecurrenceRequest {
                    name: name.into(),
                    outcome: issues::AccountabilityOutcome::GroupAccountable as i32,
                    note: "应发现未发现".into(),
                    request_id: String::new(),
                },
                nothing::<issues::Recurrence>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "AssessmentService", "ComputeAssessment"),
            cases: vec![unary(
                rpc!("ledgers", "AssessmentService", "ComputeAssessment"),
                "county A, this year",
                paths::A,
                |name| {
                    use chrono::Datelike;
                    ledgers::ComputeAssessmentRequest {
                        organisation_path: name.into(),
                        year: chrono::Utc::now().year(),
                        ..Default::default()
                    }
                },
                nothing::<ledgers::Assessment>,
                |who| {
                    if !who.sees(paths::A) {
                        HIDDEN
                    } else if who.scope == paths::A {
                        Outcome::Refused("ASSESSMENT_OF_OWN_LEVEL")
                    } else {
                        Outcome::Performs
                    }
                },
            )],
        },
        Row {
            rpc: rpc!("ledgers", "AssessmentService", "GetAssessment"),
            cases: vec![unary(
                rpc!("ledgers", "AssessmentService", "GetAssessment"),
                "an assessment never computed",
                "assessments/anone",
                |name| ledgers::GetAssessmentRequest { name: name.into() },
                nothing::<ledgers::Assessment>,
                none,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "AssessmentService", "ListAssessments"),
            cases: vec![unary(
                rpc!("ledgers", "AssessmentService", "ListAssessments"),
                "every assessment (none yet)",
                String::new(),
                |_| ledgers::ListAssessmentsRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ledgers::ListAssessmentsResponse| names_of(r.assessments, |a| a.name),
                nothing_listed,
            )],
        },
        Row {
            rpc: rpc!("ledgers", "AssessmentService", "VerifyAssessment"),
            cases: vec![unary(
                rpc!("ledgers", "AssessmentService", "VerifyAssessment"),
                "an assessment never computed",
                "assessments/anone",
                |name| ledgers::VerifyAssessmentRequest { name: name.into() },
                nothing::<ledgers::VerifyAssessmentResponse>,
                none,
            )],
        },
    ]
}

/// The access log, on each server that keeps one: read and verified by
/// the discipline commission only (the gate refuses every other role).
/// What a commission lists depends on the reads the matrix itself makes,
/// so the list case asks for a reader who read nothing; which records a
/// commission sees is `tests/suite/access_log.rs`'s.
fn access_log_rows() -> Vec<Row> {
    use fiveledger_proto::access::*;
    let commission = |who: &Who, then: Outcome| {
        if who.is(Role::DisciplineCommission) {
            then
        } else {
            Outcome::Denied
        }
    };
    let list = rpc!("access", "AccessLogService", "ListAccessRecords");
    let verify = rpc!("access", "AccessLogService", "VerifyAccessLog");
    vec![
        Row {
            rpc: list,
            cases: ["issues", "ledgers"]
                .into_iter()
                .map(|server| {
                    unary_on(
                        Some(server),
                        list,
                        format!("the {server} log, of a reader who read nothing"),
                        String::new(),
                        |_| ListAccessRecordsRequest {
                            filter: "subject = \"nobody\"".into(),
                            ..Default::default()
                        },
                        |r: ListAccessRecordsResponse| names_of(r.records, |r| r.name),
                        move |who| commission(who, listed(Vec::<String>::new())),
                    )
                })
                .collect(),
        },
        Row {
            rpc: verify,
            cases: ["issues", "ledgers"]
                .into_iter()
                .map(|server| {
                    unary_on(
                        Some(server),
                        verify,
                        format!("the {server} log"),
                        String::new(),
                        |_| VerifyAccessLogRequest {},
                        |r: VerifyAccessLogResponse| [figure("valid", r.valid)].into(),
                        move |who| commission(who, listed([figure("valid", true)])),
                    )
                })
                .collect(),
        },
    ]
}

fn rounds_rows(world: &Arc<World>) -> Vec<Row> {
    use rounds::*;
    let w = world.clone();
    let org = |path: &str| w.orgs.iter().find(|o| o.path == path).expect("org");
    let unit = org(paths::UNIT);
    let (unit_name, unit_display, unit_etag) = (
        unit.name.clone(),
        unit.display_name.clone(),
        unit.etag.clone(),
    );
    let all_orgs: Vec<(String, String)> = w
        .orgs
        .iter()
        .map(|o| (o.name.clone(), o.path.clone()))
        .collect();
    let ra = &w.rounds["ra"];
    let ra_name = ra.name.clone();
    let ra_proto = ra.proto.clone();
    let ga = ra.groups[0].clone();
    let member = w.inspectors["member-a"].proto.clone();

    let sees = |path: &str| {
        let path = path.to_owned();
        move |who: &Who| if who.sees(&path) { Outcome::Ok } else { HIDDEN }
    };
    let sees_then = |path: &str, then: Outcome| {
        let path = path.to_owned();
        move |who: &Who| {
            if who.sees(&path) {
                then.clone()
            } else {
                HIDDEN
            }
        }
    };
    let inspection_case = |key: &'static str| {
        let i = &world.inspections[key];
        (i.name.clone(), format!("{} ({})", i.name, describe(i)))
    };

    let mut rows = vec![
        Row {
            rpc: rpc!("rounds", "OrganisationService", "CreateOrganisation"),
            cases: vec![unary(
                rpc!("rounds", "OrganisationService", "CreateOrganisation"),
                "a unit under county A (its id taken)",
                org_name(paths::A),
                |parent| CreateOrganisationRequest {
                    organisation: Some(Organisation {
                        display_name: "ca-u2".into(),
                        kind: OrganisationKind::Enterprise as i32,
                        parent: parent.into(),
                        ..Default::default()
                    }),
                    organisation_id: "ca-u2".into(),
                    request_id: String::new(),
                },
                nothing::<Organisation>,
                sees_then(
                    paths::A,
                    Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS"),
                ),
            )],
        },
        Row {
            rpc: rpc!("rounds", "OrganisationService", "GetOrganisation"),
            cases: [paths::UNIT.to_owned(), body(paths::A, "jw")]
                .into_iter()
                .map(|path| {
                    unary(
                        rpc!("rounds", "OrganisationService", "GetOrganisation"),
                        path.clone(),
                        org_name(&path),
                        |name| GetOrganisationRequest { name: name.into() },
                        nothing::<Organisation>,
                        sees(&path),
                    )
                })
                .collect(),
        },
        Row {
            rpc: rpc!("rounds", "OrganisationService", "BatchGetOrganisations"),
            cases: vec![
                unary(
                    rpc!("rounds", "OrganisationService", "BatchGetOrganisations"),
                    "a unit of county A",
                    unit_name.clone(),
                    |name| BatchGetOrganisationsRequest {
                        names: vec![name.into()],
                        allow_missing: false,
                    },
                    nothing::<BatchGetOrganisationsResponse>,
                    sees(paths::UNIT),
                ),
                {
                    let asked = [
                        paths::UNIT.to_owned(),
                        body(paths::A, "jw"),
                        paths::B_UNIT.into(),
                        paths::CITY.into(),
                    ];
                    let names: Vec<String> = asked.iter().map(|p| org_name(p)).collect();
                    unary(
                        rpc!("rounds", "OrganisationService", "BatchGetOrganisations"),
                        "A, B and city organisations, allowing missing ones",
                        String::new(),
                        move |_| BatchGetOrganisationsRequest {
                            names: names.clone(),
                            allow_missing: true,
                        },
                        |r: BatchGetOrganisationsResponse| names_of(r.organisations, |o| o.name),
                        move |who| {
                            listed(asked.iter().filter(|p| who.sees(p)).map(|p| org_name(p)))
                        },
                    )
                },
            ],
        },
        Row {
            rpc: rpc!("rounds", "OrganisationService", "ListOrganisations"),
            cases: vec![unary(
                rpc!("rounds", "OrganisationService", "ListOrganisations"),
                "every organisation",
                String::new(),
                |_| ListOrganisationsRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ListOrganisationsResponse| names_of(r.organisations, |o| o.name),
                move |who| {
                    listed(
                        all_orgs
                            .iter()
                            .filter(|(_, p)| who.sees(p))
                            .map(|(n, _)| n.clone()),
                    )
                },
            )],
        },
        Row {
            rpc: rpc!("rounds", "OrganisationService", "UpdateOrganisation"),
            cases: vec![unary(
                rpc!("rounds", "OrganisationService", "UpdateOrganisation"),
                "a unit of county A, unchanged",
                unit_name.clone(),
                move |name| UpdateOrganisationRequest {
                    organisation: Some(Organisation {
                        name: name.into(),
                        display_name: unit_display.clone(),
                        etag: unit_etag.clone(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                    request_id: String::new(),
                },
                nothing::<Organisation>,
                sees(paths::UNIT),
            )],
        },
        Row {
            rpc: rpc!("rounds", "InspectorService", "CreateInspector"),
            cases: vec![
                unary(
                    rpc!("rounds", "InspectorService", "CreateInspector"),
                    "an inspector of county A's office (its id taken)",
                    org_name(&body(paths::A, "office")),
                    |home| CreateInspectorRequest {
                        inspector: Some(Inspector {
                            display_name: "MEMBER-A".into(),
                            home_organisation: home.into(),
                            ..Default::default()
                        }),
                        inspector_id: "member-a".into(),
                        request_id: String::new(),
                    },
                    nothing::<Inspector>,
                    sees_then(
                        &body(paths::A, "office"),
                        Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS"),
                    ),
                ),
                {
                    let home = org_name(&body(paths::A, "office"));
                    unary(
                        rpc!("rounds", "InspectorService", "CreateInspector"),
                        "an inspector of county A's office (its id taken) who once served in county B",
                        org_name(paths::B_UNIT),
                        move |post| CreateInspectorRequest {
                            inspector: Some(Inspector {
                                display_name: "MEMBER-A".into(),
                                home_organisation: home.clone(),
                                past_posts: vec![Post {
                                    organisation: post.into(),
                                    start_date: Some(day(-3000)),
                                    end_date: Some(day(-2000)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }),
                            inspector_id: "member-a".into(),
                            request_id: String::new(),
                        },
                        nothing::<Inspector>,
                        |who| {
                            if who.sees(&body(paths::A, "office")) && who.sees(paths::B_UNIT) {
                                Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS")
                            } else {
                                HIDDEN
                            }
                        },
                    )
                },
            ],
        },
        Row {
            rpc: rpc!("rounds", "InspectorService", "GetInspector"),
            cases: vec![unary(
                rpc!("rounds", "InspectorService", "GetInspector"),
                "an inspector of county A",
                member.name.clone(),
                |name| GetInspectorRequest { name: name.into() },
                nothing::<Inspector>,
                sees(&body(paths::A, "office")),
            )],
        },
        Row {
            rpc: rpc!("rounds", "InspectorService", "ListInspectors"),
            cases: vec![{
                let all: Vec<(String, String)> = w
                    .inspectors
                    .values()
                    .map(|i| (i.name.clone(), i.home.clone()))
                    .collect();
                unary(
                    rpc!("rounds", "InspectorService", "ListInspectors"),
                    "every inspector",
                    String::new(),
                    |_| ListInspectorsRequest {
                        page_size: 1000,
                        ..Default::default()
                    },
                    |r: ListInspectorsResponse| names_of(r.inspectors, |i| i.name),
                    move |who| {
                        listed(
                            all.iter()
                                .filter(|(_, h)| who.sees(h))
                                .map(|(n, _)| n.clone()),
                        )
                    },
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "InspectorService", "UpdateInspector"),
            cases: vec![{
                let member = member.clone();
                unary(
                    rpc!("rounds", "InspectorService", "UpdateInspector"),
                    "an inspector of county A, unchanged",
                    member.name.clone(),
                    move |name| UpdateInspectorRequest {
                        inspector: Some(Inspector {
                            name: name.into(),
                            ..member.clone()
                        }),
                        update_mask: mask(&["display_name"]),
                        request_id: String::new(),
                    },
                    nothing::<Inspector>,
                    sees(&body(paths::A, "office")),
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "CreateRound"),
            cases: vec![
                unary(
                    rpc!("rounds", "RoundService", "CreateRound"),
                    "a round run by county A (its id taken)",
                    org_name(paths::A),
                    |organisation| CreateRoundRequest {
                        round: Some(Round {
                            display_name: "ra".into(),
                            term: 12,
                            number: 2,
                            kind: RoundKind::Regular as i32,
                            organisation: organisation.into(),
                            planned_start_date: Some(day(-60)),
                            planned_end_date: Some(day(60)),
                            ..Default::default()
                        }),
                        round_id: "ra".into(),
                        request_id: String::new(),
                    },
                    nothing::<Round>,
                    sees_then(
                        paths::A,
                        Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS"),
                    ),
                ),
                unary(
                    rpc!("rounds", "RoundService", "CreateRound"),
                    "a look-back round run by county A (its id taken) re-checking county B's round",
                    w.rounds["rb"].name.clone(),
                    |earlier| CreateRoundRequest {
                        round: Some(Round {
                            display_name: "ra".into(),
                            term: 12,
                            number: 2,
                            kind: RoundKind::LookBack as i32,
                            look_back_rounds: vec![earlier.into()],
                            organisation: org_name(paths::A),
                            planned_start_date: Some(day(-30)),
                            planned_end_date: Some(day(60)),
                            ..Default::default()
                        }),
                        round_id: "ra".into(),
                        request_id: String::new(),
                    },
                    nothing::<Round>,
                    |who| {
                        if who.sees(paths::A) && who.sees(paths::B) {
                            Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS")
                        } else {
                            HIDDEN
                        }
                    },
                ),
            ],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "GetRound"),
            cases: vec![unary(
                rpc!("rounds", "RoundService", "GetRound"),
                "county A's round",
                ra_name.clone(),
                |name| GetRoundRequest { name: name.into() },
                nothing::<Round>,
                sees(paths::A),
            )],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "ListRounds"),
            cases: vec![{
                let all: Vec<(String, String)> = w
                    .rounds
                    .values()
                    .map(|r| (r.name.clone(), r.running.clone()))
                    .collect();
                unary(
                    rpc!("rounds", "RoundService", "ListRounds"),
                    "every round",
                    String::new(),
                    |_| ListRoundsRequest {
                        page_size: 1000,
                        ..Default::default()
                    },
                    |r: ListRoundsResponse| names_of(r.rounds, |r| r.name),
                    move |who| {
                        listed(
                            all.iter()
                                .filter(|(_, p)| who.sees(p))
                                .map(|(n, _)| n.clone()),
                        )
                    },
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "UpdateRound"),
            cases: vec![{
                let proto = ra_proto.clone();
                unary(
                    rpc!("rounds", "RoundService", "UpdateRound"),
                    "county A's round, unchanged",
                    ra_name.clone(),
                    move |name| UpdateRoundRequest {
                        round: Some(Round {
                            name: name.into(),
                            ..proto.clone()
                        }),
                        update_mask: mask(&["display_name"]),
                        request_id: String::new(),
                    },
                    nothing::<Round>,
                    sees(paths::A),
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "StartRound"),
            cases: vec![unary(
                rpc!("rounds", "RoundService", "StartRound"),
                "county A's round, in progress",
                ra_name.clone(),
                |name| StartRoundRequest {
                    name: name.into(),
                    ..Default::default()
                },
                nothing::<Round>,
                sees_then(
                    paths::A,
                    Outcome::Fails(Code::FailedPrecondition, "WRONG_ROUND_STATE"),
                ),
            )],
        },
        Row {
            rpc: rpc!("rounds", "RoundService", "CloseRound"),
            cases: vec![unary(
                rpc!("rounds", "RoundService", "CloseRound"),
                "county A's round, inspections open",
                ra_name.clone(),
                |name| CloseRoundRequest {
                    name: name.into(),
                    ..Default::default()
                },
                nothing::<Round>,
                sees_then(
                    paths::A,
                    Outcome::Fails(Code::FailedPrecondition, "INSPECTIONS_OPEN"),
                ),
            )],
        },
        Row {
            rpc: rpc!("rounds", "GroupService", "CreateGroup"),
            cases: vec![unary(
                rpc!("rounds", "GroupService", "CreateGroup"),
                "a group of county A's round (its id taken)",
                ra_name.clone(),
                |parent| CreateGroupRequest {
                    parent: parent.into(),
                    group: Some(Group {
                        display_name: "ga".into(),
                        ..Default::default()
                    }),
                    group_id: "ga".into(),
                    request_id: String::new(),
                },
                nothing::<Group>,
                sees_then(
                    paths::A,
                    Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS"),
                ),
            )],
        },
        Row {
            rpc: rpc!("rounds", "GroupService", "GetGroup"),
            cases: vec![unary(
                rpc!("rounds", "GroupService", "GetGroup"),
                "county A's group",
                ga.clone(),
                |name| GetGroupRequest { name: name.into() },
                nothing::<Group>,
                sees(paths::A),
            )],
        },
        Row {
            rpc: rpc!("rounds", "GroupService", "ListGroups"),
            cases: vec![{
                let ga = ga.clone();
                unary(
                    rpc!("rounds", "GroupService", "ListGroups"),
                    "the groups of county A's round",
                    ra_name.clone(),
                    |parent| ListGroupsRequest {
                        parent: parent.into(),
                        page_size: 1000,
                        ..Default::default()
                    },
                    |r: ListGroupsResponse| names_of(r.groups, |g| g.name),
                    move |who| {
                        if who.sees(paths::A) {
                            listed([ga.clone()])
                        } else {
                            HIDDEN
                        }
                    },
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "GroupService", "AddGroupMembers"),
            cases: vec![{
                let member = member.name.clone();
                unary(
                    rpc!("rounds", "GroupService", "AddGroupMembers"),
                    "county A's group, a member it has",
                    ga.clone(),
                    move |group| AddGroupMembersRequest {
                        group: group.into(),
                        members: vec![GroupMember {
                            inspector: member.clone(),
                            role: GroupRole::Member as i32,
                        }],
                        request_id: String::new(),
                    },
                    nothing::<Group>,
                    sees_then(
                        paths::A,
                        Outcome::Fails(Code::FailedPrecondition, "INSPECTOR_IN_OTHER_GROUP"),
                    ),
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "GroupService", "RemoveGroupMembers"),
            cases: vec![{
                let stranger = w.inspectors["leader-b"].name.clone();
                unary(
                    rpc!("rounds", "GroupService", "RemoveGroupMembers"),
                    "county A's group, someone not in it",
                    ga.clone(),
                    move |group| RemoveGroupMembersRequest {
                        group: group.into(),
                        inspectors: vec![stranger.clone()],
                        request_id: String::new(),
                    },
                    nothing::<Group>,
                    sees_then(
                        paths::A,
                        Outcome::Fails(Code::FailedPrecondition, "NOT_A_MEMBER"),
                    ),
                )
            }],
        },
        Row {
            rpc: rpc!("rounds", "InspectionService", "GetInspection"),
            cases: ["ia0", "ia1", "ia2", "ic1", "ic2"]
                .into_iter()
                .map(|key| {
                    let (name, label) = inspection_case(key);
                    let world = world.clone();
                    read::<_, Inspection>(
                        rpc!("rounds", "InspectionService", "GetInspection"),
                        label,
                        name,
                        |name| GetInspectionRequest { name: name.into() },
                        move |who| sees_inspection(who, &world.inspections[key]),
                    )
                })
                .collect(),
        },
        Row {
            rpc: rpc!("rounds", "InspectionService", "BatchGetInspections"),
            cases: ["ia1", "ic2"]
                .into_iter()
                .map(|key| {
                    let (name, label) = inspection_case(key);
                    let world = world.clone();
                    read::<_, BatchGetInspectionsResponse>(
                        rpc!("rounds", "InspectionService", "BatchGetInspections"),
                        label,
                        name,
                        |name| BatchGetInspectionsRequest {
                            names: vec![name.into()],
                        },
                        move |who| sees_inspection(who, &world.inspections[key]),
                    )
                })
                .collect(),
        },
        Row {
            rpc: rpc!("rounds", "InspectionService", "CreateInspection"),
            cases: vec![unary(
                rpc!("rounds", "InspectionService", "CreateInspection"),
                "an inspection of county A's round (its id taken)",
                ra_name.clone(),
                |parent| CreateInspectionRequest {
                    parent: parent.into(),
                    inspection: Some(Inspection {
                        target: org_name(paths::UNIT_2),
                        ..Default::default()
                    }),
                    inspection_id: "ia1".into(),
                    request_id: String::new(),
                },
                nothing::<Inspection>,
                sees_then(
                    paths::A,
                    Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS"),
                ),
            )],
        },
        Row {
            rpc: rpc!("rounds", "InspectionService", "ListInspections"),
            cases: vec![
                {
                    let world = world.clone();
                    unary(
                        rpc!("rounds", "InspectionService", "ListInspections"),
                        "every inspection (rounds/-)",
                        String::new(),
                        |_| ListInspectionsRequest {
                            parent: "rounds/-".into(),
                            page_size: 1000,
                            ..Default::default()
                        },
                        |r: ListInspectionsResponse| names_of(r.inspections, |i| i.name),
                        move |who| {
                            listed(
                                world
                                    .inspections
                                    .values()
                                    .filter(|i| sees_inspection(who, i))
                                    .map(|i| i.name.clone()),
                            )
                        },
                    )
                },
                {
                    let world = world.clone();
                    unary(
                        rpc!("rounds", "InspectionService", "ListInspections"),
                        "the inspections of county A's round",
                        ra_name.clone(),
                        |parent| ListInspectionsRequest {
                            parent: parent.into(),
                            page_size: 1000,
                            ..Default::default()
                        },
                        |r: ListInspectionsResponse| names_of(r.inspections, |i| i.name),
                        move |who| {
                            // The round runs within the caller's subtree, or the
                            // caller's subtree lies within the round's reach.
                            if !(who.sees(paths::A) || in_subtree(&who.scope, paths::A)) {
                                return HIDDEN;
                            }
                            listed(
                                world
                                    .inspections
                                    .values()
                                    .filter(|i| i.running == paths::A && sees_inspection(who, i))
                                    .map(|i| i.name.clone()),
                            )
                        },
                    )
                },
            ],
        },
        Row {
            rpc: rpc!("rounds", "InspectionService", "GetInspectionTimeline"),
            cases: ["ia1", "ic1", "ic2"]
                .into_iter()
                .map(|key| {
                    let (name, label) = inspection_case(key);
                    let world = world.clone();
                    read::<_, InspectionTimeline>(
                        rpc!("rounds", "InspectionService", "GetInspectionTimeline"),
                        label,
                        name,
                        |name| GetInspectionTimelineRequest { name: name.into() },
                        move |who| sees_inspection(who, &world.inspections[key]),
                    )
                })
                .collect(),
        },
    ];

    // The timeline's steps (whether the group's leader may take it), each
    // aimed at county A's inspection and the city's inspection in A, both
    // where the step is refused (the reason for each).
    const PHASE: &str = "WRONG_PHASE";
    type Targets = [(&'static str, &'static str); 2];
    let steps: Vec<(&'static str, bool, Targets)> = vec![
        (
            rpc!("rounds", "InspectionService", "AssignInspectionGroup"),
            false,
            [("ia1", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "RecordBriefing"),
            false,
            [("ia1", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "StartStationing"),
            true,
            [("ia1", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "ReportInspection"),
            true,
            [("ia1", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "NotifyLeadersInCharge"),
            false,
            [("ia2", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "GiveFeedback"),
            false,
            [("ia2", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "StartRectification"),
            false,
            [("ia1", PHASE), ("ic1", PHASE)],
        ),
        (
            rpc!("rounds", "InspectionService", "RecordDoubleReport"),
            false,
            [
                ("ia2", "DOUBLE_REPORT_ALREADY_RECORDED"),
                ("ic1", "DOUBLE_REPORT_ALREADY_RECORDED"),
            ],
        ),
        (
            rpc!("rounds", "InspectionService", "CloseInspection"),
            false,
            [("ia1", PHASE), ("ic1", "DOUBLE_REPORT_MISSING")],
        ),
    ];
    for (rpc, leader_may, targets) in steps {
        let cases = targets
            .into_iter()
            .map(|(key, reason)| {
                let (name, label) = inspection_case(key);
                let group = world.inspections[key].group.clone();
                let running = world.inspections[key].running.clone();
                let world = world.clone();
                let expect = move |who: &Who| {
                    change_inspection(
                        who,
                        &world.inspections[key],
                        leader_may,
                        Outcome::Fails(Code::FailedPrecondition, reason),
                    )
                };
                step_case(rpc, label, name, group, running, expect)
            })
            .collect();
        rows.push(Row { rpc, cases });
    }
    rows.push(Row {
        rpc: rpc!("rounds", "InspectionService", "SweepDoubleReports"),
        cases: vec![unary(
            rpc!("rounds", "InspectionService", "SweepDoubleReports"),
            "every double report in scope",
            String::new(),
            |_| SweepDoubleReportsRequest {},
            |r: SweepDoubleReportsResponse| [figure("notices", r.notices)].into(),
            |_| listed([figure("notices", 0)]),
        )],
    });
    rows.push(Row {
        rpc: rpc!("rounds", "EventService", "WatchEvents"),
        cases: vec![watch_events(rpc!("rounds", "EventService", "WatchEvents"))],
    });
    rows
}

/// A step of an inspection's timeline, with a well-formed request.
fn step_case(
    rpc: &'static str,
    label: String,
    name: String,
    group: String,
    running: String,
    expect: impl Fn(&Who) -> Outcome + Send + Sync + 'static,
) -> Case {
    use rounds::*;
    macro_rules! case {
        ($req:ty, $build:expr) => {
            unary(rpc, label, name, $build, nothing::<Inspection>, expect)
        };
    }
    let part = |to: &str| FeedbackPart {
        date: Some(day(-1)),
        given_by: "巡察组组长".into(),
        recipient: to.into(),
    };
    match rpc.rsplit('/').next().expect("method") {
        "AssignInspectionGroup" => case!(AssignInspectionGroupRequest, move |name: &str| {
            AssignInspectionGroupRequest {
                name: name.into(),
                group: group.clone(),
                request_id: String::new(),
            }
        }),
        "RecordBriefing" => case!(RecordBriefingRequest, move |name: &str| {
            RecordBriefingRequest {
                name: name.into(),
                briefing: Some(Briefing {
                    organisation: org_name(&body(&running, "jw")),
                    date: Some(day(-1)),
                    summary: "巡前情况通报".into(),
                }),
                request_id: String::new(),
            }
        }),
        "StartStationing" => case!(StartStationingRequest, |name: &str| {
            StartStationingRequest {
                name: name.into(),
                start_date: Some(day(-1)),
                end_date: Some(day(10)),
                request_id: String::new(),
            }
        }),
        "ReportInspection" => case!(ReportInspectionRequest, |name: &str| {
            ReportInspectionRequest {
                name: name.into(),
                kind: InspectionReportKind::Comprehensive as i32,
                report: Some(ReportRecord {
                    date: Some(day(-1)),
                    summary: "综合汇报".into(),
                }),
                request_id: String::new(),
            }
        }),
        "NotifyLeadersInCharge" => case!(NotifyLeadersInChargeRequest, |name: &str| {
            let leader = |role: LeaderInChargeRole| LeaderInCharge {
                role: role as i32,
                display_name: "分管领导".into(),
                post: String::new(),
            };
            NotifyLeadersInChargeRequest {
                name: name.into(),
                notice: Some(LeadersInChargeNotice {
                    date: Some(day(-1)),
                    leaders: vec![
                        leader(LeaderInChargeRole::Party),
                        leader(LeaderInChargeRole::Government),
                    ],
                    summary: "巡察情况通报".into(),
                }),
                request_id: String::new(),
            }
        }),
        "GiveFeedback" => case!(GiveFeedbackRequest, move |name: &str| GiveFeedbackRequest {
            name: name.into(),
            feedback: Some(DoubleFeedback {
                individual: Some(part("主要负责人")),
                public: Some(part("领导班子")),
            }),
            request_id: String::new(),
            functional_hand_offs: Vec::new(),
        }),
        "StartRectification" => case!(StartRectificationRequest, |name: &str| {
            StartRectificationRequest {
                name: name.into(),
                start_date: Some(day(-1)),
                request_id: String::new(),
            }
        }),
        "RecordDoubleReport" => case!(RecordDoubleReportRequest, |name: &str| {
            RecordDoubleReportRequest {
                name: name.into(),
                kind: DoubleReportKind::Team as i32,
                report: Some(ReportRecord {
                    date: Some(day(-1)),
                    summary: "班子整改报告".into(),
                }),
                request_id: String::new(),
            }
        }),
        "CloseInspection" => case!(CloseInspectionRequest, |name: &str| {
            CloseInspectionRequest {
                name: name.into(),
                close_date: Some(day(0)),
                note: "整改完成".into(),
                request_id: String::new(),
            }
        }),
        other => panic!("no request for {other}"),
    }
}

/// A watch of a service's events: only the suite's services may.
fn watch_events(rpc: &'static str) -> Case {
    let call: Call = Arc::new(move |channels, _name, token| {
        Box::pin(async move {
            // The three packages' requests are the same message.
            call::server_stream::<rounds::WatchEventsRequest, rounds::WatchEventsResponse>(
                channels.of(rpc),
                rpc,
                token,
                rounds::WatchEventsRequest::default(),
                1,
            )
            .await
            .map(|events| [figure("events", events.len())].into())
        })
    });
    Case {
        label: "the outbox from the start".into(),
        name: String::new(),
        call,
        expect: Arc::new(|_| listed([figure("events", 1)])),
    }
}

fn describe(i: &InspectionFact) -> &'static str {
    match (i.running.as_str(), i.handed, i.name.ends_with("ia0")) {
        (paths::CITY, true, _) => "city round in county A, handed over",
        (paths::CITY, false, _) => "city round in county A, not handed over",
        (paths::A, true, _) => "county A, handed over",
        (paths::A, false, true) => "county A, stationed",
        (paths::A, false, false) if i.name.ends_with("ia3") => "county A, stationed, nothing found",
        (paths::A, false, false) => "county A, reported",
        _ => "county B",
    }
}

/// ListProblems asking what the body at `path` is responsible for.
fn responsible_list(world: &Arc<World>, path: String) -> Case {
    let world = world.clone();
    let name = org_name(&path);
    unary(
        rpc!("issues", "ProblemService", "ListProblems"),
        format!("what {path} is responsible for"),
        String::new(),
        move |_| issues::ListProblemsRequest {
            page_size: 1000,
            filter: format!("responsible = \"{name}\""),
            ..Default::default()
        },
        |r: issues::ListProblemsResponse| names_of(r.problems, |p| p.name),
        move |who| {
            listed(
                world
                    .problems
                    .iter()
                    .filter(|(k, _)| lists_problem(&world, who, k, false, Some(&path)))
                    .map(|(_, p)| p.name.clone()),
            )
        },
    )
}

fn issues_rows(world: &Arc<World>) -> Vec<Row> {
    use issues::*;
    let w = world.clone();
    let inspection = |key: &'static str| w.inspections[key].name.clone();
    let problem_fields = |inspection: &str| Problem {
        inspection: inspection.into(),
        category: "party-leadership".into(),
        severity: fiveledger_proto::types::Severity::Minor as i32,
        title: "矩阵".into(),
        description: "矩阵".into(),
        responsibilities: Some(Responsibilities {
            principal: "主要负责人 张三".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let b_unit = org_name(paths::B_UNIT);
    let b_commission = org_name(&body(paths::B, "jw"));

    let record_case = |key: &'static str, then: Outcome| {
        let world = world.clone();
        move |who: &Who| record(who, &world.inspections[key], then.clone())
    };

    let mut rows = Vec::new();
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "GetProblem"),
        cases: ["pa0", "pa1", "pa2-handed", "pc1-handed", "pc2", "pb1"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                read::<_, Problem>(
                    rpc!("issues", "ProblemService", "GetProblem"),
                    format!(
                        "{key} ({})",
                        describe(w.inspection_of(w.problems[key].inspection))
                    ),
                    w.problems[key].name.clone(),
                    |name| GetProblemRequest { name: name.into() },
                    move |who| reads_problem_key(&world, who, key, true),
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "ListProblems"),
        cases: vec![
            {
                let world = world.clone();
                unary(
                    rpc!("issues", "ProblemService", "ListProblems"),
                    "every problem",
                    String::new(),
                    |_| ListProblemsRequest {
                        page_size: 1000,
                        ..Default::default()
                    },
                    |r: ListProblemsResponse| names_of(r.problems, |p| p.name),
                    move |who| {
                        listed(
                            world
                                .problems
                                .iter()
                                .filter(|(k, _)| lists_problem(&world, who, k, false, None))
                                .map(|(_, p)| p.name.clone()),
                        )
                    },
                )
            },
            {
                let world = world.clone();
                let ia0 = inspection("ia0");
                unary(
                    rpc!("issues", "ProblemService", "ListProblems"),
                    "county A's stationed inspection, by name",
                    String::new(),
                    move |_| ListProblemsRequest {
                        page_size: 1000,
                        filter: format!("inspection = \"{ia0}\""),
                        ..Default::default()
                    },
                    |r: ListProblemsResponse| names_of(r.problems, |p| p.name),
                    move |who| {
                        listed(
                            world
                                .problems
                                .iter()
                                .filter(|(_, p)| p.inspection == "ia0")
                                .filter(|(k, _)| lists_problem(&world, who, k, true, None))
                                .map(|(_, p)| p.name.clone()),
                        )
                    },
                )
            },
            responsible_list(world, body(paths::A, "jw")),
            responsible_list(world, body(paths::CITY, "zzb")),
        ],
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "CreateProblem"),
        cases: vec![
            {
                let f = problem_fields(&inspection("ia1"));
                unary(
                    rpc!("issues", "ProblemService", "CreateProblem"),
                    "county A's reported (frozen) list",
                    inspection("ia1"),
                    move |name| CreateProblemRequest {
                        problem: Some(Problem {
                            inspection: name.into(),
                            ..f.clone()
                        }),
                        ..Default::default()
                    },
                    nothing::<Problem>,
                    record_case("ia1", FROZEN),
                )
            },
            {
                let f = problem_fields(&inspection("ic2"));
                unary(
                    rpc!("issues", "ProblemService", "CreateProblem"),
                    "the city's list in county A (frozen)",
                    inspection("ic2"),
                    move |name| CreateProblemRequest {
                        problem: Some(Problem {
                            inspection: name.into(),
                            ..f.clone()
                        }),
                        ..Default::default()
                    },
                    nothing::<Problem>,
                    record_case("ic2", FROZEN),
                )
            },
            {
                let f = problem_fields(&inspection("ia0"));
                unary(
                    rpc!("issues", "ProblemService", "CreateProblem"),
                    "county A's open list, naming county B's unit responsible",
                    b_unit.clone(),
                    move |unit| CreateProblemRequest {
                        problem: Some(Problem {
                            responsibilities: Some(Responsibilities {
                                main_unit: unit.into(),
                                principal: "主要负责人 张三".into(),
                                ..Default::default()
                            }),
                            ..f.clone()
                        }),
                        ..Default::default()
                    },
                    nothing::<Problem>,
                    record_case("ia0", UNKNOWN_ORGANISATION),
                )
            },
            {
                let f = problem_fields(&inspection("ia0"));
                unary(
                    rpc!("issues", "ProblemService", "CreateProblem"),
                    "county A's open list, naming county B's commission supervising",
                    b_commission.clone(),
                    move |body| CreateProblemRequest {
                        problem: Some(Problem {
                            responsibilities: Some(Responsibilities {
                                supervising_body: body.into(),
                                principal: "主要负责人 张三".into(),
                                ..Default::default()
                            }),
                            ..f.clone()
                        }),
                        ..Default::default()
                    },
                    nothing::<Problem>,
                    record_case("ia0", UNKNOWN_ORGANISATION),
                )
            },
        ],
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "UpdateProblem"),
        cases: vec![
            {
                let p = w.problems["pa1"].proto.clone();
                let world = world.clone();
                unary(
                    rpc!("issues", "ProblemService", "UpdateProblem"),
                    "a problem of county A's frozen list",
                    p.name.clone(),
                    move |name| UpdateProblemRequest {
                        problem: Some(Problem {
                            name: name.into(),
                            title: "改".into(),
                            ..p.clone()
                        }),
                        update_mask: mask(&["title"]),
                        request_id: String::new(),
                    },
                    nothing::<Problem>,
                    move |who| {
                        if !reads_problem_key(&world, who, "pa1", true) {
                            HIDDEN
                        } else {
                            record(who, world.inspection_of("ia1"), FROZEN)
                        }
                    },
                )
            },
            {
                let p = w.problems["pa0"].proto.clone();
                let world = world.clone();
                let name = p.name.clone();
                unary(
                    rpc!("issues", "ProblemService", "UpdateProblem"),
                    "a problem of county A's open list, naming county B's unit",
                    b_unit.clone(),
                    move |unit| UpdateProblemRequest {
                        problem: Some(Problem {
                            name: name.clone(),
                            responsibilities: Some(Responsibilities {
                                main_unit: unit.into(),
                                ..Default::default()
                            }),
                            ..p.clone()
                        }),
                        update_mask: mask(&["responsibilities.main_unit"]),
                        request_id: String::new(),
                    },
                    nothing::<Problem>,
                    move |who| {
                        if !reads_problem_key(&world, who, "pa0", true) {
                            HIDDEN
                        } else {
                            record(who, world.inspection_of("ia0"), UNKNOWN_ORGANISATION)
                        }
                    },
                )
            },
        ],
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "DeleteProblem"),
        cases: ["pa1", "pc2"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                let p = &w.problems[key];
                let inspection = p.inspection;
                unary(
                    rpc!("issues", "ProblemService", "DeleteProblem"),
                    format!("{key} (frozen)"),
                    p.name.clone(),
                    |name| DeleteProblemRequest {
                        name: name.into(),
                        ..Default::default()
                    },
                    nothing::<()>,
                    move |who| {
                        if !reads_problem_key(&world, who, key, true) {
                            HIDDEN
                        } else {
                            record(who, world.inspection_of(inspection), FROZEN)
                        }
                    },
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "ImportProblems"),
        cases: vec![{
            let rpc = rpc!("issues", "ProblemService", "ImportProblems");
            let ia0 = inspection("ia0");
            let row = Problem {
                inspection: String::new(),
                ..problem_fields("")
            };
            let call: Call = Arc::new(move |channels, unit, token| {
                let message = ImportProblemsRequest {
                    inspection: ia0.clone(),
                    problems: vec![Problem {
                        responsibilities: Some(Responsibilities {
                            main_unit: unit,
                            principal: "主要负责人 张三".into(),
                            ..Default::default()
                        }),
                        ..row.clone()
                    }],
                    request_id: String::new(),
                };
                Box::pin(async move {
                    call::client_stream::<ImportProblemsRequest, ImportProblemsResponse>(
                        channels.of(rpc),
                        rpc,
                        token,
                        vec![message],
                    )
                    .await
                    .map(|r| {
                        r.errors
                            .iter()
                            .map(|e| format!("row {} {} {}", e.row, e.field, e.reason))
                            .chain(r.problems.iter().map(|p| p.name.clone()))
                            .collect()
                    })
                })
            });
            let world = world.clone();
            Case {
                label: "county A's open list, a row naming county B's unit".into(),
                name: b_unit.clone(),
                call,
                expect: Arc::new(move |who| {
                    record(
                        who,
                        world.inspection_of("ia0"),
                        listed(["row 1 responsibilities.main_unit UNKNOWN_ORGANISATION"]),
                    )
                }),
            }
        }],
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "GetProblemList"),
        cases: ["ia0", "ia1", "ia2", "ia3", "ic1", "ic2"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                let i = &w.inspections[key];
                unary(
                    rpc!("issues", "ProblemService", "GetProblemList"),
                    format!("{} ({})", i.name, describe(i)),
                    format!("{}/problemList", i.name),
                    |name| GetProblemListRequest { name: name.into() },
                    nothing::<ProblemList>,
                    move |who| {
                        let i = &world.inspections[key];
                        if reads_problem(who, i, &[&i.target], true) {
                            Outcome::Ok
                        } else {
                            HIDDEN
                        }
                    },
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ProblemService", "FreezeProblemList"),
        cases: ["ia1", "ic2"]
            .into_iter()
            .map(|key| {
                unary(
                    rpc!("issues", "ProblemService", "FreezeProblemList"),
                    format!("{key} (frozen already)"),
                    inspection(key),
                    |name| FreezeProblemListRequest {
                        inspection: name.into(),
                        request_id: String::new(),
                    },
                    nothing::<ProblemList>,
                    record_case(key, Outcome::Ok),
                )
            })
            .collect(),
    });
    let category = w.category.clone();
    rows.push(Row {
        rpc: rpc!("issues", "CategoryService", "GetCategory"),
        cases: vec![unary(
            rpc!("issues", "CategoryService", "GetCategory"),
            "a category of the shared catalogue",
            category.name.clone(),
            |name| GetCategoryRequest { name: name.into() },
            nothing::<Category>,
            |_| Outcome::Ok,
        )],
    });
    rows.push(Row {
        rpc: rpc!("issues", "CategoryService", "ListCategories"),
        cases: vec![unary(
            rpc!("issues", "CategoryService", "ListCategories"),
            "the catalogue",
            String::new(),
            |_| ListCategoriesRequest {
                page_size: 1000,
                ..Default::default()
            },
            nothing::<ListCategoriesResponse>,
            |_| Outcome::Ok,
        )],
    });
    // The catalogue is the whole tree's: only a region's or the root's
    // callers change it.
    let catalogue = |then: Outcome| {
        move |who: &Who| {
            if who.scope.contains('/') {
                Outcome::Denied
            } else {
                then.clone()
            }
        }
    };
    rows.push(Row {
        rpc: rpc!("issues", "CategoryService", "CreateCategory"),
        cases: vec![{
            let c = category.clone();
            unary(
                rpc!("issues", "CategoryService", "CreateCategory"),
                "a category (its id taken)",
                String::new(),
                move |_| CreateCategoryRequest {
                    category: Some(c.clone()),
                    category_id: "party-leadership".into(),
                    request_id: String::new(),
                },
                nothing::<Category>,
                catalogue(Outcome::Fails(Code::AlreadyExists, "ALREADY_EXISTS")),
            )
        }],
    });
    rows.push(Row {
        rpc: rpc!("issues", "CategoryService", "UpdateCategory"),
        cases: vec![{
            let c = category.clone();
            unary(
                rpc!("issues", "CategoryService", "UpdateCategory"),
                "a category, unchanged",
                c.name.clone(),
                move |name| UpdateCategoryRequest {
                    category: Some(Category {
                        name: name.into(),
                        ..c.clone()
                    }),
                    update_mask: mask(&["display_name"]),
                    request_id: String::new(),
                },
                nothing::<Category>,
                catalogue(Outcome::Ok),
            )
        }],
    });

    // Clues.
    let new_clue = |inspection: &str, receiving_body: &str| Clue {
        inspection: inspection.into(),
        subject_name: "某干部".into(),
        subject_post: "科长".into(),
        summary: "线索".into(),
        receiving_body: receiving_body.into(),
        ..Default::default()
    };
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "CreateClue"),
        cases: ["ia2", "ic1"]
            .into_iter()
            .map(|key| {
                let name = inspection(key);
                unary(
                    rpc!("issues", "ClueService", "CreateClue"),
                    format!("{name}, for county B's commission"),
                    b_commission.clone(),
                    move |body| CreateClueRequest {
                        clue: Some(new_clue(&name, body)),
                        request_id: String::new(),
                    },
                    nothing::<Clue>,
                    record_case(key, UNKNOWN_ORGANISATION),
                )
            })
            .collect(),
    });
    let clue_label = |key: &str| {
        let c = &w.clues[key];
        format!("{key}: clue of {} held by {}", c.running, c.holder)
    };
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "GetClue"),
        cases: ["ca-reg", "ca-disp", "ca-up", "cc-reg", "cb-reg"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                read::<_, Clue>(
                    rpc!("issues", "ClueService", "GetClue"),
                    clue_label(key),
                    w.clues[key].name.clone(),
                    |name| GetClueRequest { name: name.into() },
                    move |who| reads_clue(&world, who, key),
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "ListClues"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("issues", "ClueService", "ListClues"),
                "every clue",
                String::new(),
                |_| ListCluesRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ListCluesResponse| names_of(r.clues, |c| c.name),
                move |who| {
                    listed(
                        world
                            .clues
                            .iter()
                            .filter(|(k, _)| reads_clue(&world, who, k))
                            .map(|(_, c)| c.name.clone()),
                    )
                },
            )
        }],
    });
    // The holder's steps, each on clues in a state it does not take.
    for (rpc, targets, reason) in [
        (
            rpc!("issues", "ClueService", "DisposeClue"),
            ["ca-disp", "cc-disp"],
            "CLUE_ALREADY_DISPOSED",
        ),
        (
            rpc!("issues", "ClueService", "RecordClueOutcome"),
            ["ca-reg", "cc-reg"],
            "CLUE_NOT_DISPOSED",
        ),
        (
            rpc!("issues", "ClueService", "ReopenClue"),
            ["ca-reg", "ca-up"],
            "CLUE_NOT_DISPOSED",
        ),
    ] {
        let cases = targets
            .into_iter()
            .map(|key| {
                let world = world.clone();
                let expect = move |who: &Who| {
                    clue_step(
                        &world,
                        who,
                        key,
                        false,
                        Outcome::Fails(Code::FailedPrecondition, reason),
                    )
                };
                let name = w.clues[key].name.clone();
                match rpc.rsplit('/').next() {
                    Some("DisposeClue") => unary(
                        rpc,
                        clue_label(key),
                        name,
                        // A signature at a level the decision needs, so
                        // that only who may sign reaches the clue's state.
                        |name| DisposeClueRequest {
                            name: name.into(),
                            disposal: Some(ClueDisposal {
                                method: DisposalMethod::TalkOrLetter as i32,
                                date: Some(day(0)),
                                note: "谈话".into(),
                                ..Default::default()
                            }),
                            level: ClueDecisionLevel::LeaderInCharge as i32,
                            ..Default::default()
                        },
                        nothing::<Clue>,
                        expect,
                    ),
                    Some("RecordClueOutcome") => unary(
                        rpc,
                        clue_label(key),
                        name,
                        |name| RecordClueOutcomeRequest {
                            name: name.into(),
                            outcome: Some(ClueOutcome {
                                kind: ClueOutcomeKind::Cleared as i32,
                                date: Some(day(0)),
                                note: "了结".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        nothing::<Clue>,
                        expect,
                    ),
                    _ => unary(
                        rpc,
                        clue_label(key),
                        name,
                        |name| ReopenClueRequest {
                            name: name.into(),
                            reason: "重新核查".into(),
                            ..Default::default()
                        },
                        nothing::<Clue>,
                        expect,
                    ),
                }
            })
            .collect();
        rows.push(Row { rpc, cases });
    }
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "TransferClue"),
        cases: ["ca-reg", "cc-reg"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                let clue = w.clues[key].name.clone();
                unary(
                    rpc!("issues", "ClueService", "TransferClue"),
                    format!("{}, to county B's commission", clue_label(key)),
                    b_commission.clone(),
                    move |body| TransferClueRequest {
                        name: clue.clone(),
                        receiving_body: body.into(),
                        ..Default::default()
                    },
                    nothing::<Clue>,
                    move |who| clue_step(&world, who, key, true, UNKNOWN_ORGANISATION),
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "AcknowledgeClueTransfer"),
        cases: ["ca-disp", "cc-disp"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                unary(
                    rpc!("issues", "ClueService", "AcknowledgeClueTransfer"),
                    format!("{} (signed for)", clue_label(key)),
                    w.clues[key].name.clone(),
                    |name| AcknowledgeClueTransferRequest {
                        name: name.into(),
                        ..Default::default()
                    },
                    nothing::<Clue>,
                    move |who| {
                        if !reads_clue(&world, who, key) {
                            HIDDEN
                        } else if who.within(&world.clues[key].holder) {
                            Outcome::Fails(
                                Code::FailedPrecondition,
                                "TRANSFER_ALREADY_ACKNOWLEDGED",
                            )
                        } else {
                            Outcome::Denied
                        }
                    },
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "GetClueStatistics"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("issues", "ClueService", "GetClueStatistics"),
                "the caller's clues",
                String::new(),
                |_| GetClueStatisticsRequest::default(),
                |r: GetClueStatisticsResponse| {
                    [figure(
                        "registered",
                        r.rows
                            .iter()
                            .map(|row| row.counts.map_or(0, |c| c.registered))
                            .sum::<i64>(),
                    )]
                    .into()
                },
                move |who| {
                    listed([figure(
                        "registered",
                        world
                            .clues
                            .keys()
                            .filter(|k| reads_clue(&world, who, k))
                            .count(),
                    )])
                },
            )
        }],
    });
    // The clue sweep over the fixture's clues (registered today, all
    // green) notifies nothing: a served call that changes nothing.
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "SweepClueWarnings"),
        cases: vec![unary(
            rpc!("issues", "ClueService", "SweepClueWarnings"),
            "the caller's clues",
            String::new(),
            |_| SweepClueWarningsRequest::default(),
            |r: SweepClueWarningsResponse| [figure("warnings_posted", r.warnings_posted)].into(),
            |_| listed([figure("warnings_posted", 0)]),
        )],
    });
    // This month's reconciliation is refused before anything is looked up
    // (the month is not over), for any body, named or not.
    rows.push(Row {
        rpc: rpc!("issues", "ClueService", "CreateClueReconciliation"),
        cases: vec![unary(
            rpc!("issues", "ClueService", "CreateClueReconciliation"),
            "this month, county B's commission",
            b_commission.clone(),
            |body| {
                use chrono::Datelike;
                let today = chrono::Utc::now().date_naive();
                CreateClueReconciliationRequest {
                    handling_body: body.into(),
                    month: Some(fiveledger_proto::google::r#type::Date {
                        year: today.year(),
                        month: today.month() as i32,
                        day: 0,
                    }),
                    ..Default::default()
                }
            },
            nothing::<ClueReconciliation>,
            |_| Outcome::Fails(Code::FailedPrecondition, "MONTH_NOT_OVER"),
        )],
    });
    for rpc in [
        rpc!("issues", "ClueService", "GetClueReconciliation"),
        rpc!("issues", "ClueService", "VerifyClueReconciliation"),
    ] {
        let name = "clueReconciliations/nowhere-2026-01".to_owned();
        let case = if rpc.ends_with("GetClueReconciliation") {
            unary(
                rpc,
                "an unknown reconciliation",
                name,
                |name| GetClueReconciliationRequest { name: name.into() },
                nothing::<ClueReconciliation>,
                |_| HIDDEN,
            )
        } else {
            unary(
                rpc,
                "an unknown reconciliation",
                name,
                |name| VerifyClueReconciliationRequest { name: name.into() },
                nothing::<VerifyClueReconciliationResponse>,
                |_| HIDDEN,
            )
        };
        rows.push(Row {
            rpc,
            cases: vec![case],
        });
    }
    rows.push(Row {
        rpc: rpc!("issues", "EventService", "WatchEvents"),
        cases: vec![watch_events(rpc!("issues", "EventService", "WatchEvents"))],
    });
    rows
}

fn ledgers_rows(world: &Arc<World>) -> Vec<Row> {
    use ledgers::*;
    let w = world.clone();
    let entry_label = |key: &str| {
        let (e, i) = entry_and_inspection(&w, key);
        format!("{key} ({}, {})", describe(i), e.state.as_str_name())
    };
    let evidence = || {
        vec![fiveledger_proto::types::Evidence {
            document: "材料.pdf".into(),
            sha256: "cd".repeat(32),
        }]
    };

    let mut rows = Vec::new();
    rows.push(Row {
        rpc: rpc!("ledgers", "LedgerService", "GetEntry"),
        cases: ["pa1", "pa2-handed", "pa2-rect", "pc1-handed", "pc2", "pb1"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                read::<_, LedgerEntry>(
                    rpc!("ledgers", "LedgerService", "GetEntry"),
                    entry_label(key),
                    w.entries[key].name.clone(),
                    |name| GetEntryRequest { name: name.into() },
                    move |who| reads_entry(&world, who, key),
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "LedgerService", "ListEntries"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("ledgers", "LedgerService", "ListEntries"),
                "every entry",
                String::new(),
                |_| ListEntriesRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ListEntriesResponse| names_of(r.entries, |e| e.name),
                move |who| {
                    listed(
                        world
                            .entries
                            .iter()
                            .filter(|(k, _)| reads_entry(&world, who, k))
                            .map(|(_, e)| e.name.clone()),
                    )
                },
            )
        }],
    });

    // The steps of the five ledgers, each on county A's and the city's
    // entries in a state the step does not take.
    let step = |key: &'static str, capacities: &'static [Capacity], then: Outcome| {
        let world = world.clone();
        move |who: &Who| ledger_step(&world, who, key, capacities, then.clone())
    };
    let wrong = Outcome::Fails(Code::FailedPrecondition, "WRONG_STATE");
    macro_rules! steps {
        ($method:literal, $targets:expr, $capacities:expr, $then:expr, $build:expr) => {
            rows.push(Row {
                rpc: rpc!("ledgers", "LedgerService", $method),
                cases: $targets
                    .into_iter()
                    .map(|key: &'static str| {
                        unary(
                            rpc!("ledgers", "LedgerService", $method),
                            entry_label(key),
                            w.entries[key].name.clone(),
                            $build,
                            nothing::<LedgerEntry>,
                            step(key, $capacities, $then),
                        )
                    })
                    .collect(),
            });
        };
    }
    const UNIT: &[Capacity] = &[Capacity::Unit];
    const OFFICE: &[Capacity] = &[Capacity::Office];
    const RECEIVER: &[Capacity] = &[Capacity::Receiver];
    const VERIFIER: &[Capacity] = &[Capacity::Office, Capacity::Supervisor];
    const SUPERVISION: &[Capacity] = &[
        Capacity::Supervisor,
        Capacity::Office,
        Capacity::Receiver,
        Capacity::LeaderInCharge,
        Capacity::FunctionalDepartment,
    ];
    steps!(
        "AcknowledgeHandOver",
        ["pa2-written", "pc1-written"],
        UNIT,
        wrong.clone(),
        |name: &str| {
            AcknowledgeHandOverRequest {
                name: name.into(),
                remarks: "签收".into(),
                ..Default::default()
            }
        }
    );
    steps!(
        "SubmitPlan",
        ["pa2-written", "pc1-written"],
        UNIT,
        wrong.clone(),
        |name: &str| SubmitPlanRequest {
            name: name.into(),
            plan: Some(RectificationPlan {
                summary: "方案".into(),
                measures: vec![Measure {
                    id: "m1".into(),
                    kind: MeasureKind::Corrective as i32,
                    description: "整改".into(),
                    owner: "办公室".into(),
                    due_date: Some(day(30)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    );
    let mismatch = Outcome::Fails(Code::FailedPrecondition, "PLAN_VERSION_MISMATCH");
    steps!(
        "ApprovePlan",
        ["pa2-planned", "pc1-planned"],
        OFFICE,
        mismatch.clone(),
        |name: &str| {
            ApprovePlanRequest {
                name: name.into(),
                version: 9,
                remarks: "同意".into(),
                ..Default::default()
            }
        }
    );
    steps!(
        "RejectPlan",
        ["pa2-planned", "pc1-planned"],
        OFFICE,
        mismatch.clone(),
        |name: &str| {
            RejectPlanRequest {
                name: name.into(),
                version: 9,
                reason: "不可行".into(),
                ..Default::default()
            }
        }
    );
    steps!(
        "PostProgress",
        ["pa2-written", "pc1-written"],
        UNIT,
        wrong.clone(),
        move |name: &str| {
            PostProgressRequest {
                name: name.into(),
                description: "进展".into(),
                evidence: evidence(),
                ..Default::default()
            }
        }
    );
    steps!(
        "PostSupervision",
        ["pa2-handed", "pc1-handed"],
        SUPERVISION,
        Outcome::Performs,
        |name: &str| {
            PostSupervisionRequest {
                name: name.into(),
                remarks: "督办".into(),
                ..Default::default()
            }
        }
    );
    // Transfer: to a body in reach (the entry is written off), and to
    // county B's commission, out of reach: exactly as an unknown body.
    {
        let mut cases = Vec::new();
        for key in ["pa2-written", "pc1-written"] {
            let running = w.inspection_of(w.entries[key].inspection).running.clone();
            let receiver = org_name(&body(&running, "zzb"));
            cases.push(unary(
                rpc!("ledgers", "LedgerService", "Transfer"),
                entry_label(key),
                w.entries[key].name.clone(),
                move |name| TransferRequest {
                    name: name.into(),
                    receiving_body: receiver.clone(),
                    matter: "移交".into(),
                    due_date: Some(day(30)),
                    ..Default::default()
                },
                nothing::<LedgerEntry>,
                step(key, OFFICE, wrong.clone()),
            ));
        }
        for key in ["pa2-handed", "pc1-handed"] {
            let entry = w.entries[key].name.clone();
            cases.push(unary(
                rpc!("ledgers", "LedgerService", "Transfer"),
                format!("{}, to county B's commission", entry_label(key)),
                org_name(&body(paths::B, "jw")),
                move |receiver| TransferRequest {
                    name: entry.clone(),
                    receiving_body: receiver.into(),
                    matter: "移交".into(),
                    due_date: Some(day(30)),
                    ..Default::default()
                },
                nothing::<LedgerEntry>,
                step(key, OFFICE, HIDDEN),
            ));
        }
        rows.push(Row {
            rpc: rpc!("ledgers", "LedgerService", "Transfer"),
            cases,
        });
    }
    steps!(
        "AcknowledgeTransfer",
        ["pa2-rect", "pc1-rect"],
        RECEIVER,
        wrong.clone(),
        |name: &str| {
            AcknowledgeTransferRequest {
                name: name.into(),
                remarks: "收到".into(),
                ..Default::default()
            }
        }
    );
    steps!(
        "ReturnTransferResult",
        ["pa2-rect", "pc1-rect"],
        RECEIVER,
        wrong.clone(),
        move |name: &str| {
            ReturnTransferResultRequest {
                name: name.into(),
                result: "结果".into(),
                evidence: evidence(),
                ..Default::default()
            }
        }
    );
    steps!(
        "RequestWriteOff",
        ["pa2-written", "pc1-written"],
        UNIT,
        wrong.clone(),
        move |name: &str| {
            RequestWriteOffRequest {
                name: name.into(),
                closure_statement: "完成".into(),
                evidence: evidence(),
                figures: Some(RectificationFigures::default()),
                ..Default::default()
            }
        }
    );
    steps!(
        "ApproveWriteOff",
        ["pa2-written", "pc1-written"],
        VERIFIER,
        wrong.clone(),
        |name: &str| {
            ApproveWriteOffRequest {
                name: name.into(),
                remarks: "合格".into(),
                ..Default::default()
            }
        }
    );
    steps!(
        "RejectWriteOff",
        ["pa2-written", "pc1-written"],
        VERIFIER,
        wrong.clone(),
        |name: &str| {
            RejectWriteOffRequest {
                name: name.into(),
                reason: "不合格".into(),
                ..Default::default()
            }
        }
    );
    // Reopen: an entry not written off; and a written-off one named with
    // county B's inspection as the look-back: exactly as an unknown one.
    {
        let mut cases = Vec::new();
        let look_back = w.inspections["ib1"].name.clone();
        for key in ["pa2-handed", "pc1-handed"] {
            let look_back = look_back.clone();
            cases.push(unary(
                rpc!("ledgers", "LedgerService", "Reopen"),
                entry_label(key),
                w.entries[key].name.clone(),
                move |name| ReopenRequest {
                    name: name.into(),
                    inspection: look_back.clone(),
                    reason: "回头看".into(),
                    due_date: Some(day(30)),
                    ..Default::default()
                },
                nothing::<LedgerEntry>,
                step(key, OFFICE, wrong.clone()),
            ));
        }
        for key in ["pa2-written", "pc1-written"] {
            let entry = w.entries[key].name.clone();
            cases.push(unary(
                rpc!("ledgers", "LedgerService", "Reopen"),
                format!("{}, by county B's inspection", entry_label(key)),
                look_back.clone(),
                move |inspection| ReopenRequest {
                    name: entry.clone(),
                    inspection: inspection.into(),
                    reason: "回头看".into(),
                    due_date: Some(day(30)),
                    ..Default::default()
                },
                nothing::<LedgerEntry>,
                {
                    // Who sees county B's inspection learns it is no
                    // look-back; anyone else, that it does not exist.
                    let world = world.clone();
                    let b = world.inspections["ib1"].target.clone();
                    move |who: &Who| {
                        let then = if who.sees(&b) || who.sees(paths::B) {
                            Outcome::Fails(Code::FailedPrecondition, "NOT_A_LOOK_BACK")
                        } else {
                            HIDDEN
                        };
                        ledger_step(&world, who, key, OFFICE, then)
                    }
                },
            ));
        }
        rows.push(Row {
            rpc: rpc!("ledgers", "LedgerService", "Reopen"),
            cases,
        });
    }
    // Escalation (约谈): written-off entries take no reply, interview or
    // follow-up.
    steps!(
        "ReplyToNotice",
        ["pa2-written", "pc1-written"],
        UNIT,
        wrong.clone(),
        |name: &str| ReplyToNoticeRequest {
            name: name.into(),
            notice: format!("{name}/postings/1"),
            reply: "已整改".into(),
            ..Default::default()
        }
    );
    steps!(
        "RecordInterview",
        ["pa2-written", "pc1-written"],
        OFFICE,
        wrong.clone(),
        |name: &str| RecordInterviewRequest {
            name: name.into(),
            interview: Some(Interview {
                kind: InterviewKind::PreRectificationTalk as i32,
                interviewers: vec!["巡察办主任".into()],
                interviewees: vec!["党组书记".into()],
                interview_date: Some(day(0)),
                requirements: "抓好整改".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    );
    steps!(
        "RecordInterviewFollowUp",
        ["pa2-written", "pc1-written"],
        &[Capacity::Unit, Capacity::Office, Capacity::Supervisor],
        wrong.clone(),
        |name: &str| RecordInterviewFollowUpRequest {
            name: name.into(),
            interview_id: "i1".into(),
            follow_up: "已落实".into(),
            ..Default::default()
        }
    );
    // The books of one inspection, as the caller may see them.
    let visible_entries = |key: &'static str| {
        let world = world.clone();
        move |who: &Who| {
            entries_of(&world, key)
                .filter(|e| reads_entry(&world, who, e))
                .count()
        }
    };
    rows.push(Row {
        rpc: rpc!("ledgers", "LedgerService", "Reconcile"),
        cases: ["ia1", "ia2", "ic1", "ic2"]
            .into_iter()
            .map(|key| {
                let count = visible_entries(key);
                unary(
                    rpc!("ledgers", "LedgerService", "Reconcile"),
                    format!(
                        "{} ({})",
                        w.inspections[key].name,
                        describe(&w.inspections[key])
                    ),
                    w.inspections[key].name.clone(),
                    |name| ReconcileRequest {
                        inspection: name.into(),
                        ..Default::default()
                    },
                    |r: ReconcileResponse| {
                        [
                            figure("problems", r.problems),
                            figure("reported", r.balance.unwrap_or_default().reported),
                            figure("balanced", r.balanced),
                        ]
                        .into()
                    },
                    move |who| {
                        let n = count(who);
                        listed([
                            figure("problems", n),
                            figure("reported", n),
                            figure("balanced", true),
                        ])
                    },
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "LedgerService", "VerifyJournal"),
        cases: ["ia1", "ia2", "ic1", "ic2"]
            .into_iter()
            .map(|key| {
                let count = visible_entries(key);
                unary(
                    rpc!("ledgers", "LedgerService", "VerifyJournal"),
                    format!(
                        "{} ({})",
                        w.inspections[key].name,
                        describe(&w.inspections[key])
                    ),
                    w.inspections[key].name.clone(),
                    |name| VerifyJournalRequest {
                        inspection: name.into(),
                        ..Default::default()
                    },
                    |r: VerifyJournalResponse| {
                        [figure("entries", r.entries), figure("valid", r.valid)].into()
                    },
                    move |who| listed([figure("entries", count(who)), figure("valid", true)]),
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "WarningService", "RunWarningSweep"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("ledgers", "WarningService", "RunWarningSweep"),
                "everything the caller may sweep (the city's overdue entry unswept)",
                String::new(),
                |_| RunWarningSweepRequest::default(),
                |r: RunWarningSweepResponse| [figure("posted", r.warnings_posted)].into(),
                move |who| {
                    // Sweeping posts warnings: the office of the running level's.
                    if world
                        .unswept
                        .iter()
                        .any(|k| acts(&world, who, k, Capacity::Office))
                    {
                        Outcome::Performs
                    } else {
                        listed([figure("posted", 0)])
                    }
                },
            )
        }],
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "WarningService", "WatchWarnings"),
        cases: vec![{
            let rpc = rpc!("ledgers", "WarningService", "WatchWarnings");
            let call: Call = Arc::new(move |channels, _, token| {
                Box::pin(async move {
                    call::server_stream::<WatchWarningsRequest, WatchWarningsResponse>(
                        channels.of(rpc),
                        rpc,
                        token,
                        WatchWarningsRequest::default(),
                        1000,
                    )
                    .await
                    .map(|warnings| warnings.into_iter().map(|w| w.entry).collect())
                })
            });
            let world = world.clone();
            Case {
                label: "every warning from the start".into(),
                name: String::new(),
                call,
                expect: Arc::new(move |who| {
                    listed(
                        world
                            .warned
                            .iter()
                            .filter(|k| reads_entry(&world, who, k))
                            .map(|k| world.entries[k].name.clone()),
                    )
                }),
            }
        }],
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "StatisticsService", "GetStatistics"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("ledgers", "StatisticsService", "GetStatistics"),
                "the caller's books",
                String::new(),
                |_| GetStatisticsRequest::default(),
                |r: GetStatisticsResponse| {
                    let total = r.total.and_then(|t| t.counts).unwrap_or_default();
                    [
                        figure("found", total.found),
                        figure("clues", total.clues.map_or(0, |c| c.registered)),
                    ]
                    .into()
                },
                move |who| {
                    let found = world
                        .entries
                        .keys()
                        .filter(|k| reads_entry(&world, who, k))
                        .count();
                    let clues = if who.any(&[
                        Role::InspectionOffice,
                        Role::DisciplineCommission,
                        Role::Service,
                    ]) {
                        world
                            .clues
                            .iter()
                            .filter(|(k, c)| reads_clue(&world, who, k) && who.sees(&c.target))
                            .count()
                    } else {
                        0
                    };
                    listed([figure("found", found), figure("clues", clues)])
                },
            )
        }],
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "PublicationService", "Publish"),
        cases: ["ia1", "ia2"]
            .into_iter()
            .map(|key| {
                let world = world.clone();
                unary(
                    rpc!("ledgers", "PublicationService", "Publish"),
                    format!(
                        "{} ({})",
                        w.inspections[key].name,
                        describe(&w.inspections[key])
                    ),
                    w.inspections[key].name.clone(),
                    |name| PublishRequest {
                        inspection: name.into(),
                        ..Default::default()
                    },
                    |r: PublishResponse| [figure("published", r.publications.len())].into(),
                    move |who| {
                        // A publication shows handed-over entries only.
                        let i = &world.inspections[key];
                        if i.handed && entries_of(&world, key).any(|e| reads_entry(&world, who, e))
                        {
                            Outcome::Performs
                        } else {
                            listed([figure("published", 0)])
                        }
                    },
                )
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "PublicationService", "GetPublication"),
        cases: ["pub-a", "pub-c"]
            .into_iter()
            .flat_map(|key| {
                let p = &w.publications[key];
                [PublicationEdition::Public, PublicationEdition::Internal]
                    .into_iter()
                    .map(move |edition| {
                        let target = p.target.clone();
                        unary(
                            rpc!("ledgers", "PublicationService", "GetPublication"),
                            format!("{key} of {} ({})", p.target, edition.as_str_name()),
                            p.name.clone(),
                            move |name| GetPublicationRequest {
                                name: name.into(),
                                edition: edition as i32,
                            },
                            nothing::<Publication>,
                            move |who| match edition {
                                PublicationEdition::Public => Outcome::Ok,
                                _ if who.role == Role::Public => Outcome::Denied,
                                _ if who.sees(&target) => Outcome::Ok,
                                _ => HIDDEN,
                            },
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "PublicationService", "ListPublications"),
        cases: vec![{
            let world = world.clone();
            unary(
                rpc!("ledgers", "PublicationService", "ListPublications"),
                "every publication",
                String::new(),
                |_| ListPublicationsRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                |r: ListPublicationsResponse| names_of(r.publications, |p| p.name),
                move |who| {
                    listed(
                        world
                            .publications
                            .values()
                            .filter(|p| who.sees(&p.target))
                            .map(|p| p.name.clone()),
                    )
                },
            )
        }],
    });
    rows.push(Row {
        rpc: rpc!("ledgers", "EventService", "WatchEvents"),
        cases: vec![watch_events(rpc!("ledgers", "EventService", "WatchEvents"))],
    });
    rows
}

/// A label for an outcome in reports.
pub fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Listed(items) => format!(
            "Listed({})",
            items.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        other => format!("{other:?}"),
    }
}

/// The hand-offs at feedback (移交): their own rows (after `rpc!`).
#[path = "hand_offs.rs"]
mod hand_offs;
