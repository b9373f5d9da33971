//! A real ledgers server on an ephemeral port with a fresh database, and a
//! fake upstream (the issues and rounds services) inside the test: an
//! outbox the test appends events to, served by both packages'
//! `WatchEvents`, and `ListProblems` / `GetInspection` / `GetOrganisation`
//! answered from memory.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiveledger_ledgers::LedgersSettings;
use fiveledger_platform::auth::Role;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::server::Running;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv};
use fiveledger_platform::time::Clock;
use fiveledger_proto::issues::{self, ListProblemsRequest, ListProblemsResponse, Problem};
use fiveledger_proto::ledgers::joint_supervision_service_client::JointSupervisionServiceClient;
use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
use fiveledger_proto::ledgers::publication_service_client::PublicationServiceClient;
use fiveledger_proto::ledgers::statistics_service_client::StatisticsServiceClient;
use fiveledger_proto::ledgers::warning_service_client::WarningServiceClient;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{
    self, GetInspectionRequest, GetOrganisationRequest, Inspection, Organisation,
};
use fiveledger_proto::types;
use fiveledger_proto::types::Evidence;
use futures::future::BoxFuture;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// What the fake upstream answers.
#[derive(Default)]
pub struct UpstreamData {
    pub problems: Vec<Problem>,
    pub inspections: HashMap<String, Inspection>,
    pub organisations: HashMap<String, Organisation>,
    pub clues: Vec<issues::Clue>,
}

pub type Shared = Arc<Mutex<UpstreamData>>;

/// Both services' event streams over one outbox (consumers filter by type).
#[derive(Clone)]
pub struct FakeEvents {
    pub db: Db,
    pub stop: CancellationToken,
}

#[derive(Clone)]
pub struct FakeIssuesEvents(FakeEvents);
#[derive(Clone)]
pub struct FakeRoundsEvents(FakeEvents);

mod issues_events {
    pub struct Api {
        pub db: fiveledger_platform::storage::Db,
        pub stop: tokio_util::sync::CancellationToken,
    }
    fiveledger_platform::event_service!(Api, issues, unscoped);
}
mod rounds_events {
    pub struct Api {
        pub db: fiveledger_platform::storage::Db,
        pub stop: tokio_util::sync::CancellationToken,
    }
    fiveledger_platform::event_service!(Api, rounds, unscoped);
}

/// A unary handler from a closure (the fakes answer only the RPCs the
/// ledger calls, whatever else the contracts grow).
struct Unary<F>(F);

impl<Req, Resp, F> tonic::server::UnaryService<Req> for Unary<F>
where
    F: FnMut(Req) -> Result<Resp, Status>,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = futures::future::Ready<Result<tonic::Response<Resp>, Status>>;
    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        futures::future::ready((self.0)(request.into_inner()).map(tonic::Response::new))
    }
}

macro_rules! fake_service {
    ($ty:ident, $name:literal, $($method:literal, $req:ty, $handler:path),+) => {
        #[derive(Clone)]
        pub struct $ty(pub Shared);

        impl tonic::server::NamedService for $ty {
            const NAME: &'static str = $name;
        }

        impl tower::Service<http::Request<tonic::body::Body>> for $ty {
            type Response = http::Response<tonic::body::Body>;
            type Error = Infallible;
            type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

            fn poll_ready(
                &mut self,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Infallible>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
                let data = self.0.clone();
                Box::pin(async move {
                    let path = request.uri().path().to_owned();
                    $(
                        if path == concat!("/", $name, "/", $method) {
                            let mut grpc =
                                tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                            return Ok(grpc
                                .unary(Unary(move |r: $req| $handler(&data, r)), request)
                                .await);
                        }
                    )+
                    Ok(Status::unimplemented("not faked").into_http())
                })
            }
        }
    };
}

fn list_problems(data: &Shared, r: ListProblemsRequest) -> Result<ListProblemsResponse, Status> {
    let data = data.lock().expect("lock");
    let terms = fiveledger_platform::aip::filter::parse(&r.filter).map_err(Status::from)?;
    let matching: Vec<Problem> = data
        .problems
        .iter()
        .filter(|p| {
            terms.iter().all(|t| match t.field.as_str() {
                "inspection" => p.inspection == t.value,
                "round" => p.round == t.value,
                "frozen" => p.frozen == (t.value == "true"),
                "target_subtree" => fiveledger_platform::auth::in_subtree(&p.target_path, &t.value),
                _ => false,
            })
        })
        .cloned()
        .collect();
    // Pages of at most two, so the ledger's paging is exercised.
    let size = (r.page_size.clamp(1, 2)) as usize;
    let start: usize = r.page_token.parse().unwrap_or(0);
    let end = (start + size).min(matching.len());
    Ok(ListProblemsResponse {
        problems: matching[start.min(end)..end].to_vec(),
        next_page_token: if end < matching.len() {
            end.to_string()
        } else {
            String::new()
        },
    })
}

fn get_inspection(data: &Shared, r: GetInspectionRequest) -> Result<Inspection, Status> {
    data.lock()
        .expect("lock")
        .inspections
        .get(&r.name)
        .cloned()
        .ok_or_else(|| Status::not_found(r.name))
}

fn get_organisation(data: &Shared, r: GetOrganisationRequest) -> Result<Organisation, Status> {
    data.lock()
        .expect("lock")
        .organisations
        .get(&r.name)
        .cloned()
        .ok_or_else(|| Status::not_found(r.name))
}

/// As the rounds service with `allow_missing`: the known ones.
fn batch_get_organisations(
    data: &Shared,
    r: rounds::BatchGetOrganisationsRequest,
) -> Result<rounds::BatchGetOrganisationsResponse, Status> {
    let data = data.lock().expect("lock");
    Ok(rounds::BatchGetOrganisationsResponse {
        organisations: r
            .names
            .iter()
            .filter_map(|n| data.organisations.get(n).cloned())
            .collect(),
    })
}

/// Counts the fake's clues as the issues service does (registered,
/// transferred, disposed, with an outcome, by colour), scoped and grouped.
fn clue_statistics(
    data: &Shared,
    r: issues::GetClueStatisticsRequest,
) -> Result<issues::GetClueStatisticsResponse, Status> {
    let data = data.lock().expect("lock");
    let mut rows: std::collections::BTreeMap<String, types::ClueCounts> = Default::default();
    for c in data.clues.iter().filter(|c| {
        fiveledger_platform::auth::in_subtree(&c.target_path, &r.organisation_path)
            && (r.round.is_empty() || c.round == r.round)
            && (r.inspection.is_empty() || c.inspection == r.inspection)
    }) {
        let key = match issues::ClueGrouping::try_from(r.group_by) {
            Ok(issues::ClueGrouping::TargetPath) => c.target_path.clone(),
            Ok(issues::ClueGrouping::Round) => c.round.clone(),
            _ => String::new(),
        };
        let n = rows.entry(key).or_default();
        n.registered += 1;
        n.transferred += i64::from(!c.receiving_body.is_empty());
        n.disposed += i64::from(c.disposal.is_some());
        n.with_outcome += i64::from(c.outcome.is_some());
        match types::WarningColour::try_from(c.colour) {
            Ok(types::WarningColour::Green) => n.green += 1,
            Ok(types::WarningColour::Blue) => n.blue += 1,
            Ok(types::WarningColour::Yellow) => n.yellow += 1,
            Ok(types::WarningColour::Red) => n.red += 1,
            _ => {}
        }
    }
    Ok(issues::GetClueStatisticsResponse {
        rows: rows
            .into_iter()
            .map(|(key, counts)| issues::ClueStatisticsRow {
                key,
                counts: Some(counts),
            })
            .collect(),
    })
}

fake_service!(
    FakeClues,
    "fiveledger.issues.v1.ClueService",
    "GetClueStatistics",
    issues::GetClueStatisticsRequest,
    clue_statistics
);
fake_service!(
    FakeProblems,
    "fiveledger.issues.v1.ProblemService",
    "ListProblems",
    ListProblemsRequest,
    list_problems
);
fake_service!(
    FakeInspections,
    "fiveledger.rounds.v1.InspectionService",
    "GetInspection",
    GetInspectionRequest,
    get_inspection
);
fake_service!(
    FakeOrganisations,
    "fiveledger.rounds.v1.OrganisationService",
    "GetOrganisation",
    GetOrganisationRequest,
    get_organisation,
    "BatchGetOrganisations",
    rounds::BatchGetOrganisationsRequest,
    batch_get_organisations
);

/// Just the platform tables, for the fake upstream's outbox.
struct UpstreamMigrator;

#[async_trait::async_trait]
impl sea_orm_migration::MigratorTrait for UpstreamMigrator {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        fiveledger_platform::platform_tables::migrations()
    }
}

pub struct Upstream {
    pub db: Db,
    pub data: Shared,
    pub url: String,
    pub stop: CancellationToken,
    _env: TestEnv,
}

impl Upstream {
    pub async fn start() -> Self {
        let env = TestEnv::new("upstream");
        let db = Db::connect(
            &env.settings.database,
            &env.settings.data_dir.join("u.sqlite"),
        )
        .await
        .expect("upstream db");
        db.migrate::<UpstreamMigrator>().await.expect("migrate");
        let data: Shared = Arc::default();
        let stop = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = tonic::transport::Server::builder()
            .add_service(issues::event_service_server::EventServiceServer::new(
                issues_events::Api {
                    db: db.clone(),
                    stop: stop.clone(),
                },
            ))
            .add_service(rounds::event_service_server::EventServiceServer::new(
                rounds_events::Api {
                    db: db.clone(),
                    stop: stop.clone(),
                },
            ))
            .add_service(FakeProblems(data.clone()))
            .add_service(FakeClues(data.clone()))
            .add_service(FakeInspections(data.clone()))
            .add_service(FakeOrganisations(data.clone()));
        tokio::spawn(router.serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            stop.clone().cancelled_owned(),
        ));
        Self {
            db,
            data,
            url,
            stop,
            _env: env,
        }
    }

    /// Appends an event to the upstream outbox, as the real service would.
    pub async fn emit<M: prost::Name>(&self, subject: &str, payload: &M) {
        self.emit_about(subject, payload, "").await;
    }

    /// [`Self::emit`] about an organisation (the level running the round).
    pub async fn emit_about<M: prost::Name>(
        &self,
        subject: &str,
        payload: &M,
        organisation_path: &str,
    ) {
        let txn = self.db.begin().await.expect("begin");
        let ctx = EventContext {
            actor: "office-nn".into(),
            request_id: "req-upstream".into(),
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            organisation_path: organisation_path.into(),
        };
        outbox::append(&txn, &ctx, subject, payload)
            .await
            .expect("append");
        self.db.commit(txn).await.expect("commit");
    }

    /// Freezes a problem list: the issues service's data and its event.
    pub async fn freeze(&self, inspection: &str, problems: Vec<Problem>) {
        self.freeze_reported(inspection, problems, None).await;
    }

    /// [`Self::freeze`] with the inspection's report date in the event.
    pub async fn freeze_reported(
        &self,
        inspection: &str,
        problems: Vec<Problem>,
        report_date: Option<fiveledger_proto::google::r#type::Date>,
    ) {
        let problems: Vec<Problem> = problems
            .into_iter()
            .map(|p| Problem { frozen: true, ..p })
            .collect();
        {
            let mut data = self.data.lock().expect("lock");
            for p in &problems {
                data.problems.retain(|q| q.name != p.name);
                data.problems.push(p.clone());
            }
        }
        let problem_count = problems.len() as i32;
        self.emit(
            inspection,
            &issues::ProblemListFrozen {
                inspection: inspection.into(),
                problems,
                report_date,
                // Every fixture round is run by the city.
                round_organisation_path: CITY.into(),
                part: 1,
                part_count: 1,
                problem_count,
            },
        )
        .await;
    }

    pub async fn feedback(&self, inspection: &Inspection) {
        self.emit(
            &inspection.name,
            &rounds::FeedbackGiven {
                inspection: Some(inspection.clone()),
            },
        )
        .await;
    }
}

pub struct TestApp {
    pub running: Running,
    pub channel: Channel,
    pub env: TestEnv,
    pub upstream: Upstream,
}

/// Starts a ledgers server over `env`'s database, following `upstream`.
pub async fn start_ledgers(env: &TestEnv, upstream_url: &str) -> (Running, Channel) {
    start_ledgers_with(
        env,
        upstream_url,
        LedgersSettings::default(),
        Clock::system(),
    )
    .await
}

/// [`start_ledgers`] with chosen settings and clock.
pub async fn start_ledgers_with(
    env: &TestEnv,
    upstream_url: &str,
    ledgers: LedgersSettings,
    clock: Clock,
) -> (Running, Channel) {
    let mut settings = env.settings.clone();
    settings.upstream.issues = upstream_url.to_owned();
    settings.upstream.rounds = upstream_url.to_owned();
    let running =
        fiveledger_ledgers::start_with_clock(&settings, ledgers, clock, CancellationToken::new())
            .await
            .expect("ledgers service starts");
    let channel = Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    (running, channel)
}

/// Settings of the supervision tests: no periodic sweep (the tests sweep).
pub fn manual_sweep() -> LedgersSettings {
    LedgersSettings {
        sweep_interval_seconds: 0,
        ..Default::default()
    }
}

/// A server whose clock the test holds.
pub async fn spawn_with_clock(clock: Clock) -> TestApp {
    spawn_with(manual_sweep(), clock).await
}

/// A server with chosen settings and clock.
pub async fn spawn_with(settings: LedgersSettings, clock: Clock) -> TestApp {
    let upstream = Upstream::start().await;
    let env = TestEnv::new("ledgers");
    let (running, channel) = start_ledgers_with(&env, &upstream.url, settings, clock).await;
    TestApp {
        running,
        channel,
        env,
        upstream,
    }
}

pub async fn spawn() -> TestApp {
    let upstream = Upstream::start().await;
    let env = TestEnv::new("ledgers");
    let (running, channel) = start_ledgers(&env, &upstream.url).await;
    TestApp {
        running,
        channel,
        env,
        upstream,
    }
}

impl TestApp {
    pub fn ledger(&self) -> LedgerServiceClient<Channel> {
        LedgerServiceClient::new(self.channel.clone())
    }
    pub fn warnings(&self) -> WarningServiceClient<Channel> {
        WarningServiceClient::new(self.channel.clone())
    }
    pub fn statistics(&self) -> StatisticsServiceClient<Channel> {
        StatisticsServiceClient::new(self.channel.clone())
    }
    pub fn joint(&self) -> JointSupervisionServiceClient<Channel> {
        JointSupervisionServiceClient::new(self.channel.clone())
    }
    pub fn publications(&self) -> PublicationServiceClient<Channel> {
        PublicationServiceClient::new(self.channel.clone())
    }

    /// A direct connection to the ledger's own database (for tampering).
    pub async fn db(&self) -> Db {
        Db::connect(
            &self.env.settings.database,
            &self.env.settings.data_dir.join("ledgers.sqlite"),
        )
        .await
        .expect("ledger db")
    }

    pub async fn list(&self, token: &str, filter: &str) -> Vec<LedgerEntry> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .ledger()
                .list_entries(testing::authed(
                    token,
                    ListEntriesRequest {
                        page_size: 100,
                        page_token: page_token.clone(),
                        filter: filter.into(),
                        order_by: String::new(),
                    },
                ))
                .await
                .expect("list")
                .into_inner();
            out.extend(page.entries);
            if page.next_page_token.is_empty() {
                return out;
            }
            page_token = page.next_page_token;
        }
    }

    /// Waits until `filter` lists `n` entries.
    pub async fn wait_for(&self, filter: &str, n: usize) -> Vec<LedgerEntry> {
        for _ in 0..200 {
            let entries = self.list(&admin(), filter).await;
            if entries.len() >= n {
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} entries for {filter:?}");
    }

    /// How many events the ledger's outbox holds.
    pub async fn event_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let db = self.db().await;
        outbox::Entity::find()
            .count(db.reader())
            .await
            .expect("count events")
    }

    pub async fn get(&self, name: &str) -> LedgerEntry {
        self.ledger()
            .get_entry(testing::authed(
                &admin(),
                GetEntryRequest { name: name.into() },
            ))
            .await
            .expect("get")
            .into_inner()
    }
}

pub fn admin() -> String {
    testing::token("admin", "", &[Role::Admin])
}
pub fn office() -> String {
    testing::token("office-nn", "guangxi/nanning", &[Role::InspectionOffice])
}
pub fn unit() -> String {
    testing::token(
        "unit-xn",
        "guangxi/nanning/xingning",
        &[Role::InspectedUnit],
    )
}
pub fn other_unit() -> String {
    testing::token("unit-qx", "guangxi/nanning/qingxiu", &[Role::InspectedUnit])
}
/// The discipline commission: the supervising body of the fixtures.
pub fn commission() -> String {
    testing::token(
        "jw-wang",
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission],
    )
}
/// The organisation department: a receiving body by transfer.
pub fn org_department() -> String {
    testing::token(
        "zzb-liu",
        "guangxi/nanning/nanning-zzb",
        &[Role::Supervisor],
    )
}

/// The organisation running every fixture round.
pub const CITY: &str = "guangxi/nanning";
pub const INSPECTION: &str = "rounds/r9/inspections/xn";
pub const LOOK_BACK: &str = "rounds/r12/inspections/xn-lb";
pub const REGULAR: &str = "rounds/r10/inspections/xn2";

/// A problem of Xingning district in round 9, supervised by the Nanning
/// discipline commission.
pub fn problem(id: &str, target: &str) -> Problem {
    Problem {
        name: format!("problems/{id}"),
        inspection: if target == "xingning" {
            INSPECTION.into()
        } else {
            format!("rounds/r9/inspections/{target}")
        },
        round: "rounds/r9".into(),
        target: format!("organisations/{target}"),
        target_path: format!("guangxi/nanning/{target}"),
        category: "party-leadership".into(),
        severity: types::Severity::Major as i32,
        title: format!("问题 {id}"),
        responsibilities: Some(issues::Responsibilities {
            main_unit: format!("organisations/{target}"),
            main_unit_path: format!("guangxi/nanning/{target}"),
            principal: "张三".into(),
            leader_in_charge: "李四".into(),
            supervising_body: "organisations/nanning-jw".into(),
            supervising_body_path: "guangxi/nanning/nanning-jw".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One evidence reference: a document name and a well-formed sha256.
pub fn evidence(doc: &str) -> Vec<Evidence> {
    vec![Evidence {
        document: doc.into(),
        sha256: "ab".repeat(32),
    }]
}

/// The receiving body signs for the open transfer of `name` and returns
/// its `result`; the entry after the result.
pub async fn answer_transfer(
    ledger: &mut LedgerServiceClient<Channel>,
    receiver: &str,
    name: impl Into<String>,
    result: &str,
) -> LedgerEntry {
    let name = name.into();
    ledger
        .acknowledge_transfer(testing::authed(
            receiver,
            AcknowledgeTransferRequest {
                name: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge the transfer");
    ledger
        .return_transfer_result(testing::authed(
            receiver,
            ReturnTransferResultRequest {
                name,
                result: result.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("return the result")
        .into_inner()
}

pub fn date(year: i32, month: i32, day: i32) -> fiveledger_proto::google::r#type::Date {
    fiveledger_proto::google::r#type::Date { year, month, day }
}

/// The inspections and organisations the fake rounds service knows.
pub fn seed_rounds(app: &TestApp) {
    let mut data = app.upstream.data.lock().expect("lock");
    data.inspections.insert(
        INSPECTION.into(),
        Inspection {
            name: INSPECTION.into(),
            target: "organisations/xingning".into(),
            target_path: "guangxi/nanning/xingning".into(),
            round_kind: rounds::RoundKind::Regular as i32,
            feedback_date: Some(date(2026, 6, 1)),
            ..Default::default()
        },
    );
    data.inspections.insert(
        LOOK_BACK.into(),
        Inspection {
            name: LOOK_BACK.into(),
            target: "organisations/xingning".into(),
            target_path: "guangxi/nanning/xingning".into(),
            round_kind: rounds::RoundKind::LookBack as i32,
            look_back_of: INSPECTION.into(),
            ..Default::default()
        },
    );
    data.inspections.insert(
        REGULAR.into(),
        Inspection {
            name: REGULAR.into(),
            target: "organisations/xingning".into(),
            target_path: "guangxi/nanning/xingning".into(),
            round_kind: rounds::RoundKind::Regular as i32,
            ..Default::default()
        },
    );
    for (id, path, display_name) in [
        (
            "nanning-zzb",
            "guangxi/nanning/nanning-zzb",
            "南宁市委组织部",
        ),
        ("xingning", "guangxi/nanning/xingning", "兴宁区"),
        ("qingxiu", "guangxi/nanning/qingxiu", "青秀区"),
    ] {
        data.organisations.insert(
            format!("organisations/{id}"),
            Organisation {
                name: format!("organisations/{id}"),
                path: path.into(),
                display_name: display_name.into(),
                ..Default::default()
            },
        );
    }
}

/// Acknowledges and plans one measure due `due`; the office approves (the
/// entry's due date becomes `due`).
pub async fn planned(app: &TestApp, name: &str, due: (i32, i32, i32)) {
    app.ledger()
        .acknowledge_hand_over(testing::authed(
            &unit(),
            AcknowledgeHandOverRequest {
                name: name.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("ack");
    plan_approved(app, name, due, None, None).await;
}

/// The unit plans one measure due `due` (on `submitted`, or today when
/// None); the office approves (on `approved`; the entry's due date becomes
/// `due`).
pub async fn plan_approved(
    app: &TestApp,
    name: &str,
    due: (i32, i32, i32),
    submitted: Option<fiveledger_proto::google::r#type::Date>,
    approved: Option<fiveledger_proto::google::r#type::Date>,
) {
    let mut ledger = app.ledger();
    ledger
        .submit_plan(testing::authed(
            &unit(),
            SubmitPlanRequest {
                name: name.into(),
                plan: Some(RectificationPlan {
                    summary: "整改方案".into(),
                    measures: vec![Measure {
                        id: "m1".into(),
                        kind: MeasureKind::Corrective as i32,
                        description: "建章立制".into(),
                        owner: "办公室".into(),
                        due_date: Some(date(due.0, due.1, due.2)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                effective_date: submitted,
                ..Default::default()
            },
        ))
        .await
        .expect("plan");
    let entry = ledger
        .approve_plan(testing::authed(
            &office(),
            ApprovePlanRequest {
                name: name.into(),
                version: 1,
                effective_date: approved,
                ..Default::default()
            },
        ))
        .await
        .expect("approve")
        .into_inner();
    assert_eq!(entry.due_date, Some(date(due.0, due.1, due.2)));
}

/// The office (`tokens.0`) transfers `name` to the organisation department
/// (due 1 July 2026), which (`tokens.1`) acknowledges it and returns its
/// result: on `days` (today where None).
pub async fn transfer_answered_on(
    ledger: &mut LedgerServiceClient<Channel>,
    tokens: (&str, &str),
    name: &str,
    days: [Option<fiveledger_proto::google::r#type::Date>; 3],
) -> LedgerEntry {
    let (office, receiver) = tokens;
    ledger
        .transfer(testing::authed(
            office,
            TransferRequest {
                name: name.into(),
                receiving_body: "organisations/nanning-zzb".into(),
                matter: "移交组织部".into(),
                due_date: Some(date(2026, 7, 1)),
                effective_date: days[0],
                ..Default::default()
            },
        ))
        .await
        .expect("transfer");
    ledger
        .acknowledge_transfer(testing::authed(
            receiver,
            AcknowledgeTransferRequest {
                name: name.into(),
                effective_date: days[1],
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge the transfer");
    ledger
        .return_transfer_result(testing::authed(
            receiver,
            ReturnTransferResultRequest {
                name: name.into(),
                result: "谈话提醒".into(),
                effective_date: days[2],
                ..Default::default()
            },
        ))
        .await
        .expect("return the result")
        .into_inner()
}

/// The unit marks `measures` done and asks for the write-off, on `day`
/// (today when None); `texts`: the progress's description, the closure
/// statement and the evidence's document.
pub async fn finish_and_request_on(
    ledger: &mut LedgerServiceClient<Channel>,
    name: &str,
    measures: &[&str],
    texts: (&str, &str, &str),
    day: Option<fiveledger_proto::google::r#type::Date>,
) {
    let (progress, statement, doc) = texts;
    for m in measures {
        ledger
            .post_progress(testing::authed(
                &unit(),
                PostProgressRequest {
                    name: name.into(),
                    measure_id: (*m).into(),
                    description: progress.into(),
                    measure_done: true,
                    effective_date: day,
                    ..Default::default()
                },
            ))
            .await
            .expect("progress");
    }
    ledger
        .request_write_off(testing::authed(
            &unit(),
            RequestWriteOffRequest {
                name: name.into(),
                closure_statement: statement.into(),
                evidence: evidence(doc),
                effective_date: day,
                ..Default::default()
            },
        ))
        .await
        .expect("request write-off");
}

/// The warning postings of an entry, oldest first.
pub async fn warnings(app: &TestApp, name: &str) -> Vec<fiveledger_proto::types::WarningDetail> {
    app.get(name)
        .await
        .postings
        .into_iter()
        .filter_map(|p| match p.detail {
            Some(posting::Detail::Warning(w)) => Some(w),
            _ => None,
        })
        .collect()
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The field named by a status's `BadRequest`.
pub fn bad_field(status: &Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}
