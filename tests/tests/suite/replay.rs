//! A retry gets the first answer (AIP-155), whatever happened since and
//! whoever else is down, for every mutation of every service.
//!
//! One table, one row per RPC whose request has a `request_id` (read from
//! the API's descriptor set: a mutation without a row fails the test). Each
//! row is one step of an inspection's life across the suite, called once
//! with a request id; the steps after it change the world (the etag moves
//! on, the workflow advances, the list freezes, a problem is deleted, the
//! entry is written off and reopened, the round closes). Then each service
//! is replayed with the services it calls down: the same request id and
//! request get the first answer byte for byte and write nothing, the same
//! id with another request is `REQUEST_ID_REUSED`, the same person acting
//! for another organisation makes a new request, and a fresh identical call
//! shows that the world did change.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::reason;
use fiveledger::Domains;
use fiveledger_e2e::{EVENT_TIMEOUT, TestSuite, date, found_problem, paths, spawn_suite};
use fiveledger_platform::aip::idempotency;
use fiveledger_platform::auth::Role;
use fiveledger_platform::outbox;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::{self};
use fiveledger_proto::ledgers::{self, LedgerEntry};
use fiveledger_proto::rounds;
use fiveledger_proto::types;
use fiveledger_proto::types::Severity;
use prost::Message;
use prost::bytes::{Buf, BufMut};
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

/// A caller: who, acting for which organisation, in which roles.
#[derive(Clone, Copy, Debug)]
struct Who {
    subject: &'static str,
    organisation: &'static str,
    roles: &'static [Role],
}

impl Who {
    fn token(&self) -> String {
        token(self.subject, self.organisation, self.roles)
    }

    /// The same person acting for another organisation (another county,
    /// or another region for a region's office): another caller.
    fn elsewhere(self) -> Who {
        let organisation = if self.organisation.contains('/') {
            paths::QINGXIU
        } else {
            "guangdong"
        };
        Who {
            organisation,
            ..self
        }
    }
}

const OFFICE: Who = Who {
    subject: "office-nn",
    organisation: paths::CITY,
    roles: &[Role::InspectionOffice],
};
/// The region's office keeps the category catalogue.
const REGION_OFFICE: Who = Who {
    subject: "office-gx",
    organisation: "guangxi",
    roles: &[Role::InspectionOffice],
};
const LEADER: Who = Who {
    subject: "li-leader",
    organisation: paths::CITY,
    roles: &[Role::InspectionGroup],
};
const UNIT: Who = Who {
    subject: "unit-xingning",
    organisation: paths::XINGNING,
    roles: &[Role::InspectedUnit],
};
const COMMISSION: Who = Who {
    subject: "jw-wang",
    organisation: paths::COMMISSION,
    roles: &[Role::DisciplineCommission],
};
const ORG_DEPARTMENT: Who = Who {
    subject: "zzb-liu",
    organisation: paths::ORG_DEPARTMENT,
    roles: &[Role::Supervisor],
};
const PROPAGANDA: Who = Who {
    subject: "xcb-zhao",
    organisation: paths::PROPAGANDA,
    roles: &[Role::Supervisor],
};
/// Xingning's own discipline commission, created in the scenario.
const COUNTY_COMMISSION: Who = Who {
    subject: "xnjw-he",
    organisation: "guangxi/nanning/xingning/xingning-jw",
    roles: &[Role::DisciplineCommission],
};

const R9: &str = "rounds/r9";
const XN: &str = "rounds/r9/inspections/xn";
const G1: &str = "rounds/r9/groups/g1";

/// What the test needs of a mutation: the number of its request's
/// `request_id` field, and whether the request is a stream.
#[derive(Clone, Copy, Debug)]
struct Mutation {
    request_id_field: u32,
    streamed: bool,
}

/// Every RPC of the API whose request has a `request_id`, by path.
fn mutations() -> BTreeMap<String, Mutation> {
    let set = prost_types::FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let messages: BTreeMap<String, &prost_types::DescriptorProto> = set
        .file
        .iter()
        .flat_map(|file| {
            file.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", file.package(), m.name()), m))
        })
        .collect();
    let mut out = BTreeMap::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let request = messages
                    .get(method.input_type())
                    .unwrap_or_else(|| panic!("no message {}", method.input_type()));
                if let Some(field) = request.field.iter().find(|f| f.name() == "request_id") {
                    out.insert(
                        format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                        Mutation {
                            request_id_field: u32::try_from(field.number()).expect("number"),
                            streamed: method.client_streaming(),
                        },
                    );
                }
            }
        }
    }
    out
}

/// Requests and answers as their encoded bytes: any row's request goes
/// through one path, and answers compare byte for byte.
#[derive(Clone, Copy, Debug, Default)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Encoded;
    type Decoder = Encoded;

    fn encoder(&mut self) -> Encoded {
        Encoded
    }
    fn decoder(&mut self) -> Encoded {
        Encoded
    }
}

impl Encoder for Encoded {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Encoded {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// `request` (encoded, its request id left empty) with `request_id` set.
fn with_request_id(mut request: Vec<u8>, mutation: Mutation, request_id: &str) -> Vec<u8> {
    prost::encoding::string::encode(
        mutation.request_id_field,
        &request_id.to_owned(),
        &mut request,
    );
    request
}

/// Calls `rpc` as `who` with an encoded request (a streamed request as a
/// stream of that one message).
async fn call(
    t: &TestSuite,
    rpc: &str,
    mutation: Mutation,
    who: Who,
    request: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let channel = match rpc.split('.').nth(1) {
        Some("rounds") => t.rounds.clone(),
        Some("issues") => t.issues.clone(),
        Some("ledgers") => t.ledgers.clone(),
        _ => panic!("{rpc} belongs to no service of the suite"),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(rpc).expect("a path");
    let answer = if mutation.streamed {
        let stream = futures::stream::iter([request]);
        grpc.client_streaming(authed(&who.token(), stream), path, Encoded)
            .await
    } else {
        grpc.unary(authed(&who.token(), request), path, Encoded)
            .await
    };
    answer.map(tonic::Response::into_inner)
}

/// How a fresh identical call (another request id) fares once the world
/// has changed.
#[derive(Clone, Copy, Debug)]
enum Fresh {
    /// Refused with this code.
    Refused(Code),
    /// Answered, but not with the first answer.
    AnsweredAnew,
}

use Fresh::*;

struct Row {
    rpc: String,
    mutation: Mutation,
    who: Who,
    /// The request as sent, but for its request id.
    request: Vec<u8>,
    request_id: String,
    first: Vec<u8>,
    fresh: Fresh,
}

/// The rows, filled by the scenario in the order of its steps.
struct Table<'t> {
    t: &'t TestSuite,
    mutations: BTreeMap<String, Mutation>,
    rows: Vec<Row>,
}

impl<'t> Table<'t> {
    fn new(t: &'t TestSuite) -> Self {
        Self {
            t,
            mutations: mutations(),
            rows: Vec::new(),
        }
    }

    /// Takes a step of the scenario as the row of `rpc`: called as `who`
    /// with a request id, its answer kept as the first one.
    async fn row<Q: Message, R: Message + Default>(
        &mut self,
        rpc: &str,
        who: Who,
        request: Q,
        fresh: Fresh,
    ) -> R {
        let mutation = *self
            .mutations
            .get(rpc)
            .unwrap_or_else(|| panic!("{rpc} takes no request_id"));
        assert!(
            self.rows.iter().all(|r| r.rpc != rpc),
            "{rpc} has a row already"
        );
        let request = request.encode_to_vec();
        let request_id = format!("replay-{}", rpc.rsplit('/').next().unwrap_or(rpc));
        let sent = with_request_id(request.clone(), mutation, &request_id);
        let first = call(self.t, rpc, mutation, who, sent)
            .await
            .unwrap_or_else(|s| panic!("{rpc} as {}: {s:?}", who.subject));
        let answer = R::decode(first.as_slice()).expect("the answer decodes");
        self.rows.push(Row {
            rpc: rpc.to_owned(),
            mutation,
            who,
            request,
            request_id,
            first,
            fresh,
        });
        answer
    }

    /// The mutations the scenario took no step of.
    fn missing(&self) -> Vec<&str> {
        self.mutations
            .keys()
            .filter(|rpc| self.rows.iter().all(|r| &r.rpc != *rpc))
            .map(String::as_str)
            .collect()
    }

    /// Replays every row of `service` once what its consumers had in hand
    /// is applied; returns what failed.
    async fn replay(&self, service: &str) -> Vec<String> {
        let db = self.t.service_db(service).await;
        settled(&db).await;
        let mut failed = Vec::new();
        let prefix = format!("/fiveledger.{service}.");
        for row in self.rows.iter().filter(|r| r.rpc.starts_with(&prefix)) {
            failed.extend(replay(self.t, row, &db).await);
        }
        failed
    }
}

/// Events in the outbox and request ids remembered: what a replay must
/// leave as it found it.
async fn written(db: &Db) -> (u64, u64) {
    let events = outbox::Entity::find()
        .count(db.reader())
        .await
        .expect("count events");
    let request_ids = idempotency::Entity::find()
        .count(db.reader())
        .await
        .expect("count request ids");
    (events, request_ids)
}

/// Waits until nothing has been written to `db` for a second: what the
/// service's consumers had in hand when their sources went down is applied.
async fn settled(db: &Db) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let mut last = written(db).await;
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "the service never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = written(db).await;
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

fn outcome(result: &Result<Vec<u8>, Status>) -> String {
    match result {
        Ok(_) => "answered".into(),
        Err(s) => format!("{:?} {} ({})", s.code(), reason(s), s.message()),
    }
}

/// The same person acting for another organisation is another caller: the
/// same request id and request are a new request, judged afresh, never
/// answered with the first answer. (Called while every service is up, so
/// that the caller's organisation is known and the call reaches the
/// request id.)
async fn another_caller(t: &TestSuite, row: &Row) -> Option<String> {
    let request = with_request_id(row.request.clone(), row.mutation, &row.request_id);
    let answer = call(t, &row.rpc, row.mutation, row.who.elsewhere(), request).await;
    matches!(&answer, Ok(answer) if *answer == row.first)
        .then(|| format!("{}: another caller got the first answer", row.rpc))
}

/// Replays one row: everything a retry promises. Returns what failed.
async fn replay(t: &TestSuite, row: &Row, db: &Db) -> Vec<String> {
    let mut failed = Vec::new();
    let rpc = &row.rpc;
    let same = |request_id: &str| with_request_id(row.request.clone(), row.mutation, request_id);
    let before = written(db).await;

    let retry = call(t, rpc, row.mutation, row.who, same(&row.request_id)).await;
    match &retry {
        Ok(answer) if *answer == row.first => {}
        Ok(_) => failed.push(format!("{rpc}: a retry got another answer than the first")),
        Err(_) => failed.push(format!("{rpc}: a retry was refused: {}", outcome(&retry))),
    }
    // Another request under the same id (here: nothing but the id, which
    // would fail validation) is refused before anything else is looked at.
    let reused = with_request_id(Vec::new(), row.mutation, &row.request_id);
    let reused = call(t, rpc, row.mutation, row.who, reused).await;
    match &reused {
        Err(s) if s.code() == Code::InvalidArgument && reason(s) == "REQUEST_ID_REUSED" => {}
        _ => failed.push(format!(
            "{rpc}: the request id with another request: {}",
            outcome(&reused)
        )),
    }
    let after = written(db).await;
    if after != before {
        failed.push(format!(
            "{rpc}: the retries wrote (events, request ids) {before:?} → {after:?}"
        ));
    }

    // A fresh identical call shows that the world did change.
    let fresh_id = format!("{}-fresh", row.request_id);
    let fresh = call(t, rpc, row.mutation, row.who, same(&fresh_id)).await;
    let as_expected = match (row.fresh, &fresh) {
        (Refused(code), Err(s)) => s.code() == code,
        (AnsweredAnew, Ok(answer)) => *answer != row.first,
        _ => false,
    };
    if !as_expected {
        failed.push(format!(
            "{rpc}: a fresh call should be {:?}, was {}",
            row.fresh,
            outcome(&fresh)
        ));
    }
    failed
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn today() -> Date {
    fiveledger_platform::time::to_date(chrono::Utc::now().date_naive())
}

/// The month before this one (`day` 0): over.
fn last_month() -> Date {
    use chrono::Datelike;
    let first = chrono::Utc::now()
        .date_naive()
        .with_day(1)
        .expect("a first day");
    let last = first - chrono::Days::new(1);
    Date {
        year: last.year(),
        month: i32::try_from(last.month()).expect("a month"),
        day: 0,
    }
}

fn evidence(document: &str) -> Vec<types::Evidence> {
    vec![types::Evidence {
        document: document.into(),
        sha256: "ab".repeat(32),
    }]
}

fn plan() -> ledgers::RectificationPlan {
    let measure = |id: &str, due: Date| ledgers::Measure {
        id: id.into(),
        kind: ledgers::MeasureKind::Immediate as i32,
        description: format!("整改措施 {id}"),
        owner: "区委办公室".into(),
        due_date: Some(due),
        ..Default::default()
    };
    ledgers::RectificationPlan {
        summary: "整改方案".into(),
        measures: vec![
            measure("m1", date(2027, 1, 15)),
            measure("m2", date(2027, 2, 28)),
        ],
        ..Default::default()
    }
}

/// Periodic sweeps off: only the scenario's calls and their events write.
fn quiet_domains() -> Domains {
    let mut domains = Domains::default();
    domains.rounds.sweep_interval_seconds = 0;
    domains.ledgers.sweep_interval_seconds = 0;
    // The back-tracking check runs often, so a flag is there to decide;
    // once every list is compared it writes nothing.
    domains.issues.recurrence_check_interval_ms = 100;
    domains
}

#[tokio::test]
async fn every_mutation_answers_a_retry_with_its_first_answer() {
    let started = Instant::now();
    let t = spawn_suite(quiet_domains()).await;
    let mut table = Table::new(&t);
    rounds_before_the_report(&t, &mut table).await;
    issues_on_site(&t, &mut table).await;
    report_and_feedback(&t, &mut table).await;
    five_ledgers(&t, &mut table).await;
    closing(&mut table).await;
    let missing = table.missing();
    assert!(missing.is_empty(), "mutations without a row: {missing:?}");
    let scenario = started.elapsed();

    let mut failed = Vec::new();
    for row in &table.rows {
        failed.extend(another_caller(&t, row).await);
    }
    // Each service is replayed with the services it calls down: rounds
    // calls none, issues calls rounds, ledgers calls rounds and issues.
    failed.extend(table.replay("rounds").await);
    t.take_down("rounds").await;
    failed.extend(table.replay("issues").await);
    t.take_down("issues").await;
    failed.extend(table.replay("ledgers").await);
    eprintln!(
        "{} mutations: scenario {scenario:?}, replays {:?}",
        table.rows.len(),
        started.elapsed() - scenario
    );
    for row in &table.rows {
        eprintln!("  {:<60} fresh: {:?}", row.rpc, row.fresh);
    }
    assert!(
        failed.is_empty(),
        "{} failures:\n{}",
        failed.len(),
        failed.join("\n")
    );
    drop(table);
    t.suite.stop().await.expect("stops");
}

/// The directory, the pool, round 9 with its group, and Xingning's
/// inspection stationed. Later steps move every etag on and advance every
/// phase; the round closes at the end.
async fn rounds_before_the_report(t: &TestSuite, table: &mut Table<'_>) {
    t.city().await;
    let county_commission: rounds::Organisation = table
        .row(
            "/fiveledger.rounds.v1.OrganisationService/CreateOrganisation",
            OFFICE,
            rounds::CreateOrganisationRequest {
                organisation: Some(rounds::Organisation {
                    display_name: "兴宁区纪委监委".into(),
                    kind: rounds::OrganisationKind::DisciplineCommission as i32,
                    parent: "organisations/xingning".into(),
                    ..Default::default()
                }),
                organisation_id: "xingning-jw".into(),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    table
        .row::<_, rounds::Organisation>(
            "/fiveledger.rounds.v1.OrganisationService/UpdateOrganisation",
            OFFICE,
            rounds::UpdateOrganisationRequest {
                organisation: Some(rounds::Organisation {
                    name: county_commission.name.clone(),
                    code: "450102-JW".into(),
                    etag: county_commission.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["code"]),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;

    t.inspector("li", LEADER.subject, "nanning-xcban", vec![])
        .await;
    t.inspector("wang", "wang-jw", "nanning-jw", vec![]).await;
    let zhao: rounds::Inspector = table
        .row(
            "/fiveledger.rounds.v1.InspectorService/CreateInspector",
            OFFICE,
            rounds::CreateInspectorRequest {
                inspector: Some(rounds::Inspector {
                    display_name: "ZHAO".into(),
                    subject: "zhao-zzb".into(),
                    home_organisation: "organisations/nanning-zzb".into(),
                    ..Default::default()
                }),
                inspector_id: "zhao".into(),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    table
        .row::<_, rounds::Inspector>(
            "/fiveledger.rounds.v1.InspectorService/UpdateInspector",
            OFFICE,
            rounds::UpdateInspectorRequest {
                inspector: Some(rounds::Inspector {
                    name: zhao.name.clone(),
                    display_name: "赵".into(),
                    etag: zhao.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;

    let round: rounds::Round = table
        .row(
            "/fiveledger.rounds.v1.RoundService/CreateRound",
            OFFICE,
            rounds::CreateRoundRequest {
                round: Some(rounds::Round {
                    display_name: "十二届市委第9轮巡察".into(),
                    term: 12,
                    number: 9,
                    kind: rounds::RoundKind::Regular as i32,
                    organisation: "organisations/nanning".into(),
                    planned_start_date: Some(date(2026, 3, 1)),
                    planned_end_date: Some(date(2026, 6, 30)),
                    ..Default::default()
                }),
                round_id: "r9".into(),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    let round: rounds::Round = table
        .row(
            "/fiveledger.rounds.v1.RoundService/UpdateRound",
            OFFICE,
            rounds::UpdateRoundRequest {
                round: Some(rounds::Round {
                    name: round.name.clone(),
                    display_name: "十二届市委第九轮巡察".into(),
                    etag: round.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    table
        .row::<_, rounds::Round>(
            "/fiveledger.rounds.v1.RoundService/StartRound",
            OFFICE,
            rounds::StartRoundRequest {
                name: round.name.clone(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    table
        .row::<_, rounds::Group>(
            "/fiveledger.rounds.v1.GroupService/CreateGroup",
            OFFICE,
            rounds::CreateGroupRequest {
                parent: R9.into(),
                group: Some(rounds::Group {
                    display_name: "第一巡察组".into(),
                    leader: "inspectors/li".into(),
                    members: vec!["inspectors/wang".into()],
                    ..Default::default()
                }),
                group_id: "g1".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, rounds::Group>(
            "/fiveledger.rounds.v1.GroupService/AddGroupMembers",
            OFFICE,
            rounds::AddGroupMembersRequest {
                group: G1.into(),
                members: vec![rounds::GroupMember {
                    inspector: "inspectors/zhao".into(),
                    role: rounds::GroupRole::Member as i32,
                }],
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, rounds::Group>(
            "/fiveledger.rounds.v1.GroupService/RemoveGroupMembers",
            OFFICE,
            rounds::RemoveGroupMembersRequest {
                group: G1.into(),
                inspectors: vec!["inspectors/zhao".into()],
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/CreateInspection",
            OFFICE,
            rounds::CreateInspectionRequest {
                parent: R9.into(),
                inspection: Some(rounds::Inspection {
                    target: "organisations/xingning".into(),
                    ..Default::default()
                }),
                inspection_id: "xn".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/AssignInspectionGroup",
            OFFICE,
            rounds::AssignInspectionGroupRequest {
                name: XN.into(),
                group: G1.into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    let briefing = |body: &str| rounds::RecordBriefingRequest {
        name: XN.into(),
        briefing: Some(rounds::Briefing {
            organisation: format!("organisations/{body}"),
            date: Some(date(2026, 3, 9)),
            summary: "巡前情况通报".into(),
        }),
        ..Default::default()
    };
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/RecordBriefing",
            OFFICE,
            briefing("nanning-jw"),
            Refused(Code::FailedPrecondition),
        )
        .await;
    t.inspections()
        .record_briefing(authed(&OFFICE.token(), briefing("nanning-zzb")))
        .await
        .expect("the organisation department's briefing");
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/StartStationing",
            LEADER,
            rounds::StartStationingRequest {
                name: XN.into(),
                start_date: Some(date(2026, 3, 10)),
                end_date: Some(date(2026, 5, 10)),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
}

/// The catalogue, the problems found on site, a clue, and the list frozen.
/// The issues service is replayed with the rounds service down.
async fn issues_on_site(t: &TestSuite, table: &mut Table<'_>) {
    let category: issues::Category = table
        .row(
            "/fiveledger.issues.v1.CategoryService/CreateCategory",
            REGION_OFFICE,
            issues::CreateCategoryRequest {
                category: Some(issues::Category {
                    display_name: "农村集体“三资”管理".into(),
                    supervising_body_kind: issues::SupervisingBodyKind::OrganisationDepartment
                        as i32,
                    grassroots: true,
                    ..Default::default()
                }),
                category_id: "rural-collective-assets".into(),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    table
        .row::<_, issues::Category>(
            "/fiveledger.issues.v1.CategoryService/UpdateCategory",
            REGION_OFFICE,
            issues::UpdateCategoryRequest {
                category: Some(issues::Category {
                    name: category.name.clone(),
                    display_name: "农村集体“三资”管理问题".into(),
                    etag: category.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;

    let p1: issues::Problem = table
        .row(
            "/fiveledger.issues.v1.ProblemService/CreateProblem",
            LEADER,
            issues::CreateProblemRequest {
                problem: Some(found_problem(
                    XN,
                    "p1",
                    "party-leadership",
                    Severity::Major,
                    "落实上级决策部署不到位",
                    "",
                    "",
                )),
                problem_id: "p1".into(),
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;
    let p2 = t
        .problem(
            &LEADER.token(),
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
    table
        .row::<_, issues::Problem>(
            "/fiveledger.issues.v1.ProblemService/UpdateProblem",
            LEADER,
            issues::UpdateProblemRequest {
                problem: Some(issues::Problem {
                    name: p1.name.clone(),
                    title: "落实上级重大决策部署不到位".into(),
                    etag: p1.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["title"]),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    table
        .row::<_, ()>(
            "/fiveledger.issues.v1.ProblemService/DeleteProblem",
            LEADER,
            issues::DeleteProblemRequest {
                name: p2.name.clone(),
                etag: p2.etag.clone(),
                ..Default::default()
            },
            Refused(Code::NotFound),
        )
        .await;
    let imported: issues::ImportProblemsResponse = table
        .row(
            "/fiveledger.issues.v1.ProblemService/ImportProblems",
            LEADER,
            issues::ImportProblemsRequest {
                inspection: XN.into(),
                problems: vec![
                    found_problem(
                        "",
                        "i1",
                        "party-building",
                        Severity::Minor,
                        "三会一课制度落实不严格",
                        "",
                        "",
                    ),
                    found_problem(
                        "",
                        "i2",
                        "ideology",
                        Severity::Major,
                        "意识形态阵地管理不严",
                        "",
                        "",
                    ),
                ],
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);

    let clue: issues::Clue = table
        .row(
            "/fiveledger.issues.v1.ClueService/CreateClue",
            LEADER,
            issues::CreateClueRequest {
                clue: Some(issues::Clue {
                    inspection: XN.into(),
                    subject_name: "某某".into(),
                    subject_post: "街道党工委书记".into(),
                    summary: "涉嫌违规收受礼金".into(),
                    source: "来信来访".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;
    let clue: issues::Clue = table
        .row(
            "/fiveledger.issues.v1.ClueService/TransferClue",
            COMMISSION,
            issues::TransferClueRequest {
                name: clue.name.clone(),
                receiving_body: "organisations/xingning-jw".into(),
                etag: clue.etag.clone(),
                ..Default::default()
            },
            Refused(Code::PermissionDenied),
        )
        .await;
    let clue: issues::Clue = table
        .row(
            "/fiveledger.issues.v1.ClueService/AcknowledgeClueTransfer",
            COUNTY_COMMISSION,
            issues::AcknowledgeClueTransferRequest {
                name: clue.name.clone(),
                etag: clue.etag.clone(),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    // The county commission decides collectively (三级集体研判): its
    // handling room and its leader in charge sign first; the row is the
    // meeting's signature, the one that disposes of the clue.
    let disposal = || issues::DisposeClueRequest {
        name: clue.name.clone(),
        disposal: Some(issues::ClueDisposal {
            method: issues::DisposalMethod::PreliminaryVerification as i32,
            date: Some(today()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut signed = clue.clone();
    for (subject, level) in [
        ("xnjw-room", issues::ClueDecisionLevel::HandlingRoom),
        ("xnjw-leader", issues::ClueDecisionLevel::LeaderInCharge),
    ] {
        let signer = Who {
            subject,
            ..COUNTY_COMMISSION
        };
        signed = issues::clue_service_client::ClueServiceClient::new(t.issues.clone())
            .dispose_clue(authed(
                &signer.token(),
                issues::DisposeClueRequest {
                    level: level as i32,
                    etag: signed.etag.clone(),
                    ..disposal()
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("{subject} signs: {s:?}"))
            .into_inner();
        assert_eq!(signed.state(), issues::ClueState::Registered, "{subject}");
    }
    let clue: issues::Clue = table
        .row(
            "/fiveledger.issues.v1.ClueService/DisposeClue",
            COUNTY_COMMISSION,
            issues::DisposeClueRequest {
                level: issues::ClueDecisionLevel::SupervisionMeeting as i32,
                etag: signed.etag.clone(),
                ..disposal()
            },
            Refused(Code::Aborted),
        )
        .await;
    assert_eq!(clue.state(), issues::ClueState::Disposed);
    let clue: issues::Clue = table
        .row(
            "/fiveledger.issues.v1.ClueService/RecordClueOutcome",
            COUNTY_COMMISSION,
            issues::RecordClueOutcomeRequest {
                name: clue.name.clone(),
                outcome: Some(issues::ClueOutcome {
                    kind: issues::ClueOutcomeKind::CaseFiled as i32,
                    date: Some(today()),
                    ..Default::default()
                }),
                etag: clue.etag.clone(),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    table
        .row::<_, issues::Clue>(
            "/fiveledger.issues.v1.ClueService/ReopenClue",
            COUNTY_COMMISSION,
            issues::ReopenClueRequest {
                name: clue.name.clone(),
                reason: "发现新情况".into(),
                etag: clue.etag.clone(),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    // Last month is over: the commission reconciles the clues its county
    // commission handled in it (对账销号). A fresh call, replayed with the
    // rounds service down, cannot look the body up.
    table
        .row::<_, issues::ClueReconciliation>(
            "/fiveledger.issues.v1.ClueService/CreateClueReconciliation",
            COMMISSION,
            issues::CreateClueReconciliationRequest {
                handling_body: "organisations/xingning-jw".into(),
                month: Some(last_month()),
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;

    table
        .row::<_, issues::ProblemList>(
            "/fiveledger.issues.v1.ProblemService/FreezeProblemList",
            LEADER,
            issues::FreezeProblemListRequest {
                inspection: XN.into(),
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;
    // p1 and the two imported problems open one entry each.
    t.wait_for_entries(&format!("inspection = \"{XN}\""), 3)
        .await;
}

/// The reports, the double feedback (the entries handed over) and the
/// start of rectification.
async fn report_and_feedback(t: &TestSuite, table: &mut Table<'_>) {
    let report = |kind: rounds::InspectionReportKind, day: Date| rounds::ReportInspectionRequest {
        name: XN.into(),
        kind: kind as i32,
        report: Some(rounds::ReportRecord {
            date: Some(day),
            summary: "向巡察工作领导小组汇报".into(),
        }),
        ..Default::default()
    };
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/ReportInspection",
            LEADER,
            report(rounds::InspectionReportKind::MidTerm, date(2026, 4, 10)),
            Refused(Code::FailedPrecondition),
        )
        .await;
    t.inspections()
        .report_inspection(authed(
            &LEADER.token(),
            report(
                rounds::InspectionReportKind::Comprehensive,
                date(2026, 5, 20),
            ),
        ))
        .await
        .expect("the comprehensive report");
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/NotifyLeadersInCharge",
            OFFICE,
            TestSuite::notify_request(XN, date(2026, 6, 8)).into_inner(),
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/GiveFeedback",
            OFFICE,
            TestSuite::feedback_request(XN, date(2026, 6, 10), date(2026, 6, 12)).into_inner(),
            Refused(Code::FailedPrecondition),
        )
        .await;
    // The commission signs for what was handed to it at feedback (移交).
    table
        .row::<_, rounds::HandOff>(
            "/fiveledger.rounds.v1.HandOffService/AcknowledgeHandOff",
            COMMISSION,
            rounds::AcknowledgeHandOffRequest {
                name: format!("{XN}/handOffs/discipline-commission"),
                note: "已签收".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    // …and records what it did with it, once.
    table
        .row::<_, rounds::HandOff>(
            "/fiveledger.rounds.v1.HandOffService/RecordHandOffResult",
            COMMISSION,
            rounds::RecordHandOffResultRequest {
                name: format!("{XN}/handOffs/discipline-commission"),
                conclusion: "已立案审查".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    t.wait_for_entries(
        &format!("inspection = \"{XN}\" AND state = ENTRY_STATE_HANDED_OVER"),
        3,
    )
    .await;
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/StartRectification",
            OFFICE,
            rounds::StartRectificationRequest {
                name: XN.into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
}

/// p1's entry through the five ledgers: acknowledged, a plan rejected and
/// one approved, progress, a transfer to the organisation department (and
/// on to the propaganda department), a write-off rejected and one approved,
/// reopened by a look-back, published. The ledgers service is replayed with
/// the rounds and issues services down.
async fn five_ledgers(t: &TestSuite, table: &mut Table<'_>) {
    let p1 = "problems/p1";
    let entries = t
        .list_entries(&OFFICE.token(), &format!("problem = \"{p1}\""))
        .await
        .expect("entries");
    let name = entries.first().expect("p1's entry").name.clone();
    let mut ledger = t.ledger();
    const LEDGER: &str = "/fiveledger.ledgers.v1.LedgerService/";
    let rpc = |method: &str| format!("{LEDGER}{method}");

    let acknowledged: LedgerEntry = table
        .row(
            &rpc("AcknowledgeHandOver"),
            UNIT,
            ledgers::AcknowledgeHandOverRequest {
                name: name.clone(),
                remarks: "已签收".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    let entry: LedgerEntry = table
        .row(
            &rpc("SubmitPlan"),
            UNIT,
            ledgers::SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan()),
                etag: acknowledged.etag.clone(),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    table
        .row::<_, LedgerEntry>(
            &rpc("RejectPlan"),
            OFFICE,
            ledgers::RejectPlanRequest {
                name: name.clone(),
                version: 1,
                reason: "措施不够具体".into(),
                etag: entry.etag.clone(),
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    // The office's talk before rectification (整改前谈话), held before the
    // plan is approved, and the unit's follow-up on it.
    let etag = t.entry(&name).await.etag;
    let talked: LedgerEntry = table
        .row(
            &rpc("RecordInterview"),
            OFFICE,
            ledgers::RecordInterviewRequest {
                name: name.clone(),
                interview: Some(ledgers::Interview {
                    kind: ledgers::InterviewKind::PreRectificationTalk as i32,
                    interviewers: vec!["市委巡察办主任".into()],
                    interviewees: vec!["兴宁区委书记".into()],
                    interview_date: Some(today()),
                    requirements: "压实整改主体责任，逐条制定整改措施".into(),
                    ..Default::default()
                }),
                etag,
                ..Default::default()
            },
            Refused(Code::Aborted),
        )
        .await;
    let interview_id = talked.interviews.last().expect("the talk").id.clone();
    table
        .row::<_, LedgerEntry>(
            &rpc("RecordInterviewFollowUp"),
            UNIT,
            ledgers::RecordInterviewFollowUpRequest {
                name: name.clone(),
                interview_id,
                follow_up: "已按谈话要求研究部署整改".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    let resubmitted = ledger
        .submit_plan(authed(
            &UNIT.token(),
            ledgers::SubmitPlanRequest {
                name: name.clone(),
                plan: Some(plan()),
                ..Default::default()
            },
        ))
        .await
        .expect("plan v2")
        .into_inner();
    let version = resubmitted.pending_plan.expect("pending").version;
    table
        .row::<_, LedgerEntry>(
            &rpc("ApprovePlan"),
            OFFICE,
            ledgers::ApprovePlanRequest {
                name: name.clone(),
                version,
                remarks: "同意".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    let progress = |measure: &str, etag: &str| ledgers::PostProgressRequest {
        name: name.clone(),
        measure_id: measure.into(),
        description: "已整改".into(),
        evidence: evidence(&format!("{measure}-整改台账.pdf")),
        measure_done: true,
        etag: etag.into(),
        ..Default::default()
    };
    let etag = t.entry(&name).await.etag;
    table
        .row::<_, LedgerEntry>(
            &rpc("PostProgress"),
            UNIT,
            progress("m1", &etag),
            Refused(Code::Aborted),
        )
        .await;
    ledger
        .post_progress(authed(&UNIT.token(), progress("m2", "")))
        .await
        .expect("progress on m2");

    // To the organisation department (its path asked of the rounds
    // service), which remarks on it as the receiving body, signs for it and
    // returns its result; then on to the propaganda department, so the
    // organisation department no longer holds it.
    let transfer = |body: &str| ledgers::TransferRequest {
        name: name.clone(),
        receiving_body: format!("organisations/{body}"),
        matter: "移交处理".into(),
        due_date: Some(date(2027, 1, 31)),
        ..Default::default()
    };
    table
        .row::<_, LedgerEntry>(
            &rpc("Transfer"),
            OFFICE,
            transfer("nanning-zzb"),
            Refused(Code::Unavailable),
        )
        .await;
    table
        .row::<_, LedgerEntry>(
            &rpc("PostSupervision"),
            ORG_DEPARTMENT,
            ledgers::PostSupervisionRequest {
                name: name.clone(),
                remarks: "已督办".into(),
                ..Default::default()
            },
            Refused(Code::PermissionDenied),
        )
        .await;
    let acknowledge = || ledgers::AcknowledgeTransferRequest {
        name: name.clone(),
        remarks: "已接收".into(),
        ..Default::default()
    };
    let result = || ledgers::ReturnTransferResultRequest {
        name: name.clone(),
        result: "诫勉谈话 1 人".into(),
        evidence: evidence("处理决定.pdf"),
        ..Default::default()
    };
    table
        .row::<_, LedgerEntry>(
            &rpc("AcknowledgeTransfer"),
            ORG_DEPARTMENT,
            acknowledge(),
            Refused(Code::PermissionDenied),
        )
        .await;
    table
        .row::<_, LedgerEntry>(
            &rpc("ReturnTransferResult"),
            ORG_DEPARTMENT,
            result(),
            Refused(Code::PermissionDenied),
        )
        .await;
    ledger
        .transfer(authed(&OFFICE.token(), transfer("nanning-xcb")))
        .await
        .expect("transferred on");
    ledger
        .acknowledge_transfer(authed(&PROPAGANDA.token(), acknowledge()))
        .await
        .expect("acknowledged by the propaganda department");
    ledger
        .return_transfer_result(authed(&PROPAGANDA.token(), result()))
        .await
        .expect("result of the propaganda department");

    let write_off = |closure: &str| ledgers::RequestWriteOffRequest {
        name: name.clone(),
        closure_statement: closure.into(),
        evidence: evidence("整改报告.pdf"),
        figures: Some(ledgers::RectificationFigures {
            funds_recovered_fen: 12_345_600,
            ..Default::default()
        }),
        ..Default::default()
    };
    table
        .row::<_, LedgerEntry>(
            &rpc("RequestWriteOff"),
            UNIT,
            write_off("已整改"),
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, LedgerEntry>(
            &rpc("RejectWriteOff"),
            COMMISSION,
            ledgers::RejectWriteOffRequest {
                name: name.clone(),
                reason: "佐证材料不全".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    ledger
        .request_write_off(authed(&UNIT.token(), write_off("已整改，补充佐证材料")))
        .await
        .expect("write-off requested again");
    let written_off: LedgerEntry = table
        .row(
            &rpc("ApproveWriteOff"),
            COMMISSION,
            ledgers::ApproveWriteOffRequest {
                name: name.clone(),
                remarks: "核查属实，同意销号".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    // A look-back round re-checks round 9 and reopens the entry.
    t.started_round(
        "lb1",
        rounds::RoundKind::LookBack,
        11,
        &[R9],
        (date(2026, 9, 1), date(2026, 12, 31)),
    )
    .await;
    let look_back = t
        .inspection("rounds/lb1", "xn-lb", "xingning", XN)
        .await
        .expect("the look-back inspection");
    // The look-back spot-checks the written-off entry and passes it (its
    // posting unchanged); once reopened, a fresh check finds it no longer
    // written off.
    table
        .row::<_, ledgers::SpotCheck>(
            "/fiveledger.ledgers.v1.LookBackService/CreateSpotCheck",
            OFFICE,
            ledgers::CreateSpotCheckRequest {
                spot_check: Some(ledgers::SpotCheck {
                    entry: name.clone(),
                    look_back: look_back.name.clone(),
                    result: ledgers::SpotCheckResult::Passed as i32,
                    findings: "抽查整改到位".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, LedgerEntry>(
            &rpc("Reopen"),
            OFFICE,
            ledgers::ReopenRequest {
                name: name.clone(),
                inspection: look_back.name.clone(),
                reason: "回头看发现文字整改".into(),
                due_date: Some(date(2027, 3, 1)),
                etag: written_off.etag.clone(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    // Back-tracking (倒查): the look-back inspection finds a problem in
    // Xingning; the checker flags it against round 9's inspection of the
    // same unit, and the city's office, which sent that group, decides on
    // it once.
    t.inspector("zhou", "zhou-leader", "nanning-xcban", vec![])
        .await;
    t.inspector("chen", "chen-jw", "nanning-jw", vec![]).await;
    let group = t
        .group("rounds/lb1", "g2", "zhou", &["chen"])
        .await
        .expect("the look-back group");
    t.assign(&look_back.name, &group.name)
        .await
        .expect("the look-back group assigned");
    t.brief_and_station(
        &look_back.name,
        "zhou-leader",
        date(2026, 9, 10),
        date(2026, 11, 10),
    )
    .await;
    t.problem(
        &OFFICE.token(),
        &look_back.name,
        "lb-p1",
        "party-leadership",
        Severity::Minor,
        "整改后仍存在落实上级决策部署不到位问题",
        "",
        "",
    )
    .await
    .expect("the look-back's problem");
    t.problems()
        .freeze_problem_list(authed(
            &OFFICE.token(),
            issues::FreezeProblemListRequest {
                inspection: look_back.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("the look-back's list frozen");
    let filter = format!("earlier_inspection = \"{XN}\"");
    let recurrence = fiveledger_e2e::eventually("a recurrence flagged", EVENT_TIMEOUT, || {
        let filter = filter.clone();
        async move {
            issues::recurrence_service_client::RecurrenceServiceClient::new(t.issues.clone())
                .list_recurrences(authed(
                    &OFFICE.token(),
                    issues::ListRecurrencesRequest {
                        filter,
                        ..Default::default()
                    },
                ))
                .await
                .ok()?
                .into_inner()
                .recurrences
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(recurrence.inspection, look_back.name, "{recurrence:?}");
    table
        .row::<_, issues::Recurrence>(
            "/fiveledger.issues.v1.RecurrenceService/DecideRecurrence",
            OFFICE,
            issues::DecideRecurrenceRequest {
                name: recurrence.name.clone(),
                outcome: issues::AccountabilityOutcome::NotAccountable as i32,
                note: "问题系巡察后新发生，不予追责".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    // Published twice: a fresh call publishes a third version.
    let publish = || ledgers::PublishRequest {
        inspection: XN.into(),
        ..Default::default()
    };
    table
        .row::<_, ledgers::PublishResponse>(
            "/fiveledger.ledgers.v1.PublicationService/Publish",
            OFFICE,
            publish(),
            AnsweredAnew,
        )
        .await;
    t.publications()
        .publish(authed(&OFFICE.token(), publish()))
        .await
        .expect("published again");

    // An imported problem's entry (still handed over): a measure five days
    // overdue shows yellow, and the sweep sends the unit a written
    // supervision notice (督办通知书), which it answers once.
    let i1 = t
        .list_entries(
            &OFFICE.token(),
            &format!("inspection = \"{XN}\" AND state = ENTRY_STATE_HANDED_OVER"),
        )
        .await
        .expect("entries")
        .first()
        .expect("an imported problem's entry")
        .name
        .clone();
    ledger
        .acknowledge_hand_over(authed(
            &UNIT.token(),
            ledgers::AcknowledgeHandOverRequest {
                name: i1.clone(),
                remarks: "已签收".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("i1 acknowledged");
    let overdue =
        fiveledger_platform::time::to_date(chrono::Utc::now().date_naive() - chrono::Days::new(5));
    ledger
        .submit_plan(authed(
            &UNIT.token(),
            ledgers::SubmitPlanRequest {
                name: i1.clone(),
                plan: Some(ledgers::RectificationPlan {
                    summary: "整改方案".into(),
                    measures: vec![ledgers::Measure {
                        id: "m1".into(),
                        kind: ledgers::MeasureKind::Immediate as i32,
                        description: "整改措施 m1".into(),
                        owner: "区委组织部".into(),
                        due_date: Some(overdue),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("i1's plan");
    ledger
        .approve_plan(authed(
            &OFFICE.token(),
            ledgers::ApprovePlanRequest {
                name: i1.clone(),
                version: 1,
                remarks: "同意".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("i1's plan approved");
    let swept = t
        .warnings()
        .run_warning_sweep(authed(
            &OFFICE.token(),
            ledgers::RunWarningSweepRequest::default(),
        ))
        .await
        .expect("the sweep")
        .into_inner();
    assert!(swept.supervision_notices > 0, "{swept:?}");
    let notice = t
        .entry(&i1)
        .await
        .notices
        .first()
        .expect("a supervision notice on i1's entry")
        .notice
        .clone();
    table
        .row::<_, LedgerEntry>(
            &rpc("ReplyToNotice"),
            UNIT,
            ledgers::ReplyToNoticeRequest {
                name: i1.clone(),
                notice,
                reply: "已完成整改，书面报告办理情况".into(),
                evidence: evidence("办理情况报告.pdf"),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    // The city's office assesses Xingning for this year: a fresh call
    // computes another version.
    table
        .row::<_, ledgers::Assessment>(
            "/fiveledger.ledgers.v1.AssessmentService/ComputeAssessment",
            OFFICE,
            ledgers::ComputeAssessmentRequest {
                organisation_path: paths::XINGNING.into(),
                year: today().year,
                ..Default::default()
            },
            AnsweredAnew,
        )
        .await;

    // The city's commission leads a joint supervision (联合督查) of i1's
    // entry with the organisation department (a fresh call asks rounds for
    // the participant's path: refused while rounds is down), which posts
    // its finding once: a fresh call is refused.
    let joint: ledgers::JointSupervision = table
        .row(
            "/fiveledger.ledgers.v1.JointSupervisionService/CreateJointSupervision",
            COMMISSION,
            ledgers::CreateJointSupervisionRequest {
                joint_supervision: Some(ledgers::JointSupervision {
                    title: "整改情况联合督查".into(),
                    participants: vec!["organisations/nanning-zzb".into()],
                    entries: vec![i1.clone()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            Refused(Code::Unavailable),
        )
        .await;
    table
        .row::<_, ledgers::JointSupervision>(
            "/fiveledger.ledgers.v1.JointSupervisionService/PostJointFinding",
            ORG_DEPARTMENT,
            ledgers::PostJointFindingRequest {
                name: joint.name,
                entry: i1.clone(),
                finding: "整改台账与实际不符".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;

    look_back_campaign(table, &i1).await;
}

/// A look-back (回头看) of Xingning: its self-check report asked for,
/// submitted, returned, submitted again and accepted (then final); a key
/// problem listed on i1's entry (once per entry); a supervision suggestion
/// answered once.
async fn look_back_campaign(table: &mut Table<'_>, i1: &str) {
    let lb = |method: &str| format!("/fiveledger.ledgers.v1.LookBackService/{method}");
    let report: ledgers::SelfCheckReport = table
        .row(
            &lb("RequestSelfCheckReport"),
            OFFICE,
            ledgers::RequestSelfCheckReportRequest {
                self_check_report: Some(ledgers::SelfCheckReport {
                    inspection: XN.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    let submit = ledgers::SubmitSelfCheckReportRequest {
        name: report.name.clone(),
        summary: "逐项自查，形成整改台账".into(),
        ..Default::default()
    };
    table
        .row::<_, ledgers::SelfCheckReport>(
            &lb("SubmitSelfCheckReport"),
            UNIT,
            submit.clone(),
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, ledgers::SelfCheckReport>(
            &lb("ReturnSelfCheckReport"),
            OFFICE,
            ledgers::ReturnSelfCheckReportRequest {
                name: report.name.clone(),
                reason: "台账不完整".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    ledgers::look_back_service_client::LookBackServiceClient::new(table.t.ledgers.clone())
        .submit_self_check_report(authed(
            &UNIT.token(),
            ledgers::SubmitSelfCheckReportRequest {
                request_id: "submitted-again".into(),
                ..submit
            },
        ))
        .await
        .expect("submitted again");
    table
        .row::<_, ledgers::SelfCheckReport>(
            &lb("AcceptSelfCheckReport"),
            OFFICE,
            ledgers::AcceptSelfCheckReportRequest {
                name: report.name.clone(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, ledgers::KeyProblem>(
            &lb("CreateKeyProblem"),
            OFFICE,
            ledgers::CreateKeyProblemRequest {
                key_problem: Some(ledgers::KeyProblem {
                    entry: i1.into(),
                    note: "整改超期".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Refused(Code::AlreadyExists),
        )
        .await;
    let suggestion: ledgers::SupervisionSuggestion = table
        .row(
            &lb("CreateSupervisionSuggestion"),
            OFFICE,
            ledgers::CreateSupervisionSuggestionRequest {
                supervision_suggestion: Some(ledgers::SupervisionSuggestion {
                    inspection: XN.into(),
                    suggestion: "建议逐项销号管理".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            AnsweredAnew,
        )
        .await;
    table
        .row::<_, ledgers::SupervisionSuggestion>(
            &lb("ReplyToSupervisionSuggestion"),
            UNIT,
            ledgers::ReplyToSupervisionSuggestionRequest {
                name: suggestion.name,
                reply: "已制定销号计划".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
}

/// The double report, the inspection closed and round 9 closed.
async fn closing(table: &mut Table<'_>) {
    let double_report = |kind: rounds::DoubleReportKind| rounds::RecordDoubleReportRequest {
        name: XN.into(),
        kind: kind as i32,
        report: Some(rounds::ReportRecord {
            date: Some(date(2026, 8, 10)),
            summary: "整改情况报告".into(),
        }),
        ..Default::default()
    };
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/RecordDoubleReport",
            OFFICE,
            double_report(rounds::DoubleReportKind::Team),
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .t
        .inspections()
        .record_double_report(authed(
            &OFFICE.token(),
            double_report(rounds::DoubleReportKind::Principal),
        ))
        .await
        .expect("the principal's report");
    table
        .row::<_, rounds::Inspection>(
            "/fiveledger.rounds.v1.InspectionService/CloseInspection",
            OFFICE,
            rounds::CloseInspectionRequest {
                name: XN.into(),
                close_date: Some(date(2026, 9, 1)),
                note: "整改到位".into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
    table
        .row::<_, rounds::Round>(
            "/fiveledger.rounds.v1.RoundService/CloseRound",
            OFFICE,
            rounds::CloseRoundRequest {
                name: R9.into(),
                ..Default::default()
            },
            Refused(Code::FailedPrecondition),
        )
        .await;
}

/// The level a body of a level serves is remembered in the service's own
/// database: another instance (a replica, or the same one restarted) answers
/// a retry with its first answer while the rounds service is down, instead
/// of refusing the caller it cannot place as UNAVAILABLE.
#[tokio::test]
async fn a_retry_on_another_instance_is_answered_while_rounds_is_down() {
    use fiveledger_proto::issues::CreateProblemRequest;
    use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
    let t = spawn_suite(Domains::default()).await;
    let inspection = t.stationed_xingning_in_round_nine().await;
    // The city's inspection office names itself: its level is asked of rounds.
    let office = fiveledger_platform::testing::token(
        "office-body",
        paths::OFFICE,
        &[Role::InspectionOffice],
    );
    let request = CreateProblemRequest {
        problem: Some(found_problem(
            &inspection.name,
            "elsewhere",
            "party-leadership",
            fiveledger_proto::types::Severity::Major,
            "换个实例重试",
            "",
            "",
        )),
        request_id: "retry-on-another-instance".into(),
        ..Default::default()
    };
    let first = ProblemServiceClient::new(t.issues.clone())
        .create_problem(fiveledger_platform::testing::authed(
            &office,
            request.clone(),
        ))
        .await
        .expect("first answer")
        .into_inner();
    t.take_down("rounds").await;

    let mut settings = fiveledger::service_settings(
        &t.env.settings,
        "issues",
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    );
    settings.upstream.rounds = format!("http://{}", t.suite.rounds.addr);
    let other = fiveledger_issues::start(
        &settings,
        Default::default(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("another instance starts");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", other.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let again = ProblemServiceClient::new(channel)
        .create_problem(fiveledger_platform::testing::authed(&office, request))
        .await
        .expect("the retry is answered while rounds is down")
        .into_inner();
    assert_eq!(again, first);
    other.stop().await.expect("stops");
}
