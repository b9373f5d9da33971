//! A real issues server on an ephemeral port with a fresh database, in
//! front of a fake rounds service (inspections, organisations and an event
//! stream) that the test controls.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiveledger_issues::IssuesSettings;
use fiveledger_platform::auth::Role;
use fiveledger_platform::consumer::{self, EventSource};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::server::Running;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv};
use fiveledger_platform::time::Clock;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::category_service_client::CategoryServiceClient;
use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{self, Inspection, InspectionPhase, Organisation, OrganisationKind};
use fiveledger_proto::types::Event;
use fiveledger_proto::types::{Evidence, Severity};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tonic::codegen::http;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_types::StatusExt;

/// Calls the fake answered, by method.
#[derive(Default)]
pub struct Calls {
    pub get_inspection: AtomicUsize,
    pub batch_get_organisations: AtomicUsize,
    pub list_organisations: AtomicUsize,
}

/// The rounds service as the issues service sees it, from maps the test owns.
#[derive(Clone)]
pub struct FakeRounds {
    pub inspections: Arc<Mutex<HashMap<String, Inspection>>>,
    pub organisations: Arc<Mutex<HashMap<String, Organisation>>>,
    pub calls: Arc<Calls>,
    pub db: Db,
    pub stop: CancellationToken,
}

fiveledger_platform::event_service!(FakeRounds, rounds, unscoped);

fn authorised<T>(request: &Request<T>) -> Result<(), Status> {
    if request.metadata().get("authorization").is_none() {
        return Err(Status::unauthenticated("no service token"));
    }
    Ok(())
}

/// The fake answers only the methods the issues service calls, routed by
/// path (so the fake need not follow every RPC the rounds service adds).
impl FakeRounds {
    async fn get_inspection(
        self,
        request: Request<rounds::GetInspectionRequest>,
    ) -> Result<Response<Inspection>, Status> {
        authorised(&request)?;
        self.calls.get_inspection.fetch_add(1, Ordering::SeqCst);
        let name = &request.get_ref().name;
        let found = self.inspections.lock().expect("lock").get(name).cloned();
        found
            .map(Response::new)
            .ok_or_else(|| ApiError::not_found(name).into())
    }

    async fn batch_get_inspections(
        self,
        request: Request<rounds::BatchGetInspectionsRequest>,
    ) -> Result<Response<rounds::BatchGetInspectionsResponse>, Status> {
        authorised(&request)?;
        let map = self.inspections.lock().expect("lock").clone();
        let inspections = request
            .get_ref()
            .names
            .iter()
            .map(|n| map.get(n).cloned().ok_or_else(|| ApiError::not_found(n)))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Response::new(rounds::BatchGetInspectionsResponse {
            inspections,
        }))
    }

    async fn batch_get_organisations(
        self,
        request: Request<rounds::BatchGetOrganisationsRequest>,
    ) -> Result<Response<rounds::BatchGetOrganisationsResponse>, Status> {
        authorised(&request)?;
        self.calls
            .batch_get_organisations
            .fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        // As the rounds service: at most 1000 names, unknown ones refused
        // (naming the first) unless allow_missing.
        if request.names.len() > 1000 {
            return Err(
                ApiError::invalid("names", CommonReason::TooMany, "at most 1000 names").into(),
            );
        }
        let map = self.organisations.lock().expect("lock").clone();
        let organisations = request
            .names
            .iter()
            .filter_map(|n| match map.get(n) {
                Some(o) => Some(Ok(o.clone())),
                None if request.allow_missing => None,
                None => Some(Err(ApiError::not_found(n))),
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Response::new(rounds::BatchGetOrganisationsResponse {
            organisations,
        }))
    }

    async fn get_organisation(
        self,
        request: Request<rounds::GetOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        authorised(&request)?;
        let name = &request.get_ref().name;
        let found = self.organisations.lock().expect("lock").get(name).cloned();
        found
            .map(Response::new)
            .ok_or_else(|| ApiError::not_found(name).into())
    }

    async fn list_organisations(
        self,
        request: Request<rounds::ListOrganisationsRequest>,
    ) -> Result<Response<rounds::ListOrganisationsResponse>, Status> {
        authorised(&request)?;
        self.calls.list_organisations.fetch_add(1, Ordering::SeqCst);
        let terms = fiveledger_platform::aip::filter::parse(&request.get_ref().filter)?;
        let mut orgs: Vec<Organisation> = self
            .organisations
            .lock()
            .expect("lock")
            .values()
            .filter(|o| {
                terms.iter().all(|t| match t.field.as_str() {
                    "parent" => o.parent == t.value,
                    "kind" => o.kind().as_str_name() == t.value,
                    _ => false,
                })
            })
            .cloned()
            .collect();
        orgs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::new(rounds::ListOrganisationsResponse {
            organisations: orgs,
            next_page_token: String::new(),
        }))
    }
}

/// One unary call served by a closure.
struct Unary<F>(Option<F>);

impl<Req, Resp, F, Fut> tonic::server::UnaryService<Req> for Unary<F>
where
    F: FnOnce(Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<'static, Result<Response<Resp>, Status>>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        match self.0.take() {
            Some(f) => Box::pin(f(request)),
            None => Box::pin(async { Err(Status::internal("called twice")) }),
        }
    }
}

async fn unary<Req, Resp, F, Fut>(
    request: http::Request<tonic::body::Body>,
    f: F,
) -> http::Response<tonic::body::Body>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnOnce(Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
    grpc.unary(Unary(Some(f)), request).await
}

/// Which rounds service a [`FakeGrpc`] stands for.
pub trait ServiceName: Send + Sync + 'static {
    const NAME: &'static str;
}
pub struct Inspections;
impl ServiceName for Inspections {
    const NAME: &'static str = "fiveledger.rounds.v1.InspectionService";
}
pub struct Organisations;
impl ServiceName for Organisations {
    const NAME: &'static str = "fiveledger.rounds.v1.OrganisationService";
}

pub struct FakeGrpc<S> {
    fake: FakeRounds,
    _service: std::marker::PhantomData<S>,
}

impl<S> Clone for FakeGrpc<S> {
    fn clone(&self) -> Self {
        Self {
            fake: self.fake.clone(),
            _service: std::marker::PhantomData,
        }
    }
}

impl<S: ServiceName> tonic::server::NamedService for FakeGrpc<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tonic::codegen::Service<http::Request<tonic::body::Body>> for FakeGrpc<S> {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let fake = self.fake.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            Ok(match path.as_str() {
                "/fiveledger.rounds.v1.InspectionService/GetInspection" => {
                    unary(request, move |r| fake.get_inspection(r)).await
                }
                "/fiveledger.rounds.v1.InspectionService/BatchGetInspections" => {
                    unary(request, move |r| fake.batch_get_inspections(r)).await
                }
                "/fiveledger.rounds.v1.OrganisationService/BatchGetOrganisations" => {
                    unary(request, move |r| fake.batch_get_organisations(r)).await
                }
                "/fiveledger.rounds.v1.OrganisationService/GetOrganisation" => {
                    unary(request, move |r| fake.get_organisation(r)).await
                }
                "/fiveledger.rounds.v1.OrganisationService/ListOrganisations" => {
                    unary(request, move |r| fake.list_organisations(r)).await
                }
                _ => Status::unimplemented("not faked").into_http(),
            })
        })
    }
}

/// Just the platform tables, for the fake's outbox.
struct PlatformOnly;

#[async_trait::async_trait]
impl sea_orm_migration::MigratorTrait for PlatformOnly {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        fiveledger_platform::platform_tables::migrations()
    }
}

pub const INSPECTION: &str = "rounds/r12-9/inspections/xingning";
pub const PREPARING: &str = "rounds/r12-9/inspections/qingxiu";

fn org(id: &str, kind: OrganisationKind, parent: &str, path: &str) -> Organisation {
    Organisation {
        name: format!("organisations/{id}"),
        display_name: id.into(),
        kind: kind as i32,
        parent: if parent.is_empty() {
            String::new()
        } else {
            format!("organisations/{parent}")
        },
        path: path.into(),
        ..Default::default()
    }
}

pub fn inspection(name: &str, target: &str, phase: InspectionPhase) -> Inspection {
    Inspection {
        name: name.into(),
        target: format!("organisations/{target}"),
        target_path: format!("guangxi/nanning/{target}"),
        phase: phase as i32,
        round_kind: rounds::RoundKind::Regular as i32,
        round_organisation_path: "guangxi/nanning".into(),
        ..Default::default()
    }
}

impl FakeRounds {
    /// Nanning with two counties, its discipline commission, organisation
    /// department and a transport bureau (no propaganda department), and two
    /// inspections: Xingning stationed, Qingxiu in preparation.
    pub async fn start(env: &TestEnv) -> (Self, std::net::SocketAddr) {
        use OrganisationKind as K;
        let db = Db::connect(
            &env.settings.database,
            &env.settings.data_dir.join("fake-rounds.sqlite"),
        )
        .await
        .expect("fake db");
        db.migrate::<PlatformOnly>().await.expect("migrate");
        let organisations = [
            org("guangxi", K::Region, "", "guangxi"),
            org("nanning", K::City, "guangxi", "guangxi/nanning"),
            org("xingning", K::County, "nanning", "guangxi/nanning/xingning"),
            org("qingxiu", K::County, "nanning", "guangxi/nanning/qingxiu"),
            org(
                "nanning-jw",
                K::DisciplineCommission,
                "nanning",
                "guangxi/nanning/nanning-jw",
            ),
            org(
                "nanning-zzb",
                K::OrganisationDepartment,
                "nanning",
                "guangxi/nanning/nanning-zzb",
            ),
            org(
                "nanning-jtj",
                K::FunctionalDepartment,
                "nanning",
                "guangxi/nanning/nanning-jtj",
            ),
        ]
        .into_iter()
        .map(|o| (o.name.clone(), o))
        .collect();
        let inspections = [
            inspection(INSPECTION, "xingning", InspectionPhase::Stationed),
            inspection(PREPARING, "qingxiu", InspectionPhase::Preparation),
        ]
        .into_iter()
        .map(|i| (i.name.clone(), i))
        .collect();
        let fake = FakeRounds {
            inspections: Arc::new(Mutex::new(inspections)),
            organisations: Arc::new(Mutex::new(organisations)),
            calls: Arc::new(Calls::default()),
            db,
            stop: CancellationToken::new(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Server::builder()
            .add_service(FakeGrpc::<Inspections> {
                fake: fake.clone(),
                _service: std::marker::PhantomData,
            })
            .add_service(FakeGrpc::<Organisations> {
                fake: fake.clone(),
                _service: std::marker::PhantomData,
            })
            .add_service(
                fiveledger_proto::rounds::event_service_server::EventServiceServer::new(
                    fake.clone(),
                ),
            );
        tokio::spawn(router.serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            fake.stop.clone().cancelled_owned(),
        ));
        (fake, addr)
    }

    pub fn set_phase(&self, name: &str, phase: InspectionPhase) {
        if let Some(i) = self.inspections.lock().expect("lock").get_mut(name) {
            i.phase = phase as i32;
        }
    }

    /// Publishes `InspectionReported` for the inspection as it now is.
    pub async fn report(&self, name: &str) {
        self.set_phase(name, InspectionPhase::Reported);
        let inspection = self.inspections.lock().expect("lock").get(name).cloned();
        let txn = self.db.begin().await.expect("begin");
        outbox::append(
            &txn,
            &EventContext {
                actor: "office".into(),
                ..Default::default()
            },
            name,
            &rounds::InspectionReported { inspection },
        )
        .await
        .expect("append");
        self.db.commit(txn).await.expect("commit");
    }

    /// Publishes `FeedbackGiven` for the inspection, fed back on 2026-03-01.
    pub async fn give_feedback(&self, name: &str) {
        self.set_phase(name, InspectionPhase::Rectifying);
        let inspection = self.inspections.lock().expect("lock").get(name).cloned();
        let inspection = inspection.map(|i| Inspection {
            feedback_date: Some(fiveledger_proto::google::r#type::Date {
                year: 2026,
                month: 3,
                day: 1,
            }),
            ..i
        });
        let txn = self.db.begin().await.expect("begin");
        outbox::append(
            &txn,
            &EventContext {
                actor: "office".into(),
                ..Default::default()
            },
            name,
            &rounds::FeedbackGiven { inspection },
        )
        .await
        .expect("append");
        self.db.commit(txn).await.expect("commit");
    }
}

pub struct TestApp {
    pub running: Running,
    pub channel: Channel,
    pub fake: FakeRounds,
    pub env: TestEnv,
    pub fake_env: TestEnv,
}

pub async fn spawn() -> TestApp {
    spawn_with(IssuesSettings::default(), Clock::system()).await
}

/// The issues service with these settings and clock.
pub async fn spawn_with(settings: IssuesSettings, clock: Clock) -> TestApp {
    spawn_in(TestEnv::new("issues"), settings, clock).await
}

/// The issues service on a database the test prepared in `env`.
pub async fn spawn_in(env: TestEnv, settings: IssuesSettings, clock: Clock) -> TestApp {
    let fake_env = TestEnv::new("fakerounds");
    let (fake, addr) = FakeRounds::start(&fake_env).await;
    spawn_with_upstream(
        fake,
        fake_env,
        format!("http://{addr}"),
        env,
        settings,
        clock,
    )
    .await
}

/// The issues service with the rounds service unreachable.
pub async fn spawn_without_rounds() -> TestApp {
    let fake_env = TestEnv::new("fakerounds");
    let (fake, _) = FakeRounds::start(&fake_env).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    spawn_with_upstream(
        fake,
        fake_env,
        format!("http://{closed}"),
        TestEnv::new("issues"),
        IssuesSettings::default(),
        Clock::system(),
    )
    .await
}

async fn spawn_with_upstream(
    fake: FakeRounds,
    fake_env: TestEnv,
    url: String,
    mut env: TestEnv,
    settings: IssuesSettings,
    clock: Clock,
) -> TestApp {
    env.settings.upstream.rounds = url;
    let running = fiveledger_issues::start_with_clock(
        &env.settings,
        settings,
        clock,
        CancellationToken::new(),
    )
    .await
    .expect("issues service starts");
    let channel = Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    TestApp {
        running,
        channel,
        fake,
        env,
        fake_env,
    }
}

pub fn office() -> String {
    testing::token("office-nn", "guangxi/nanning", &[Role::InspectionOffice])
}

pub fn admin() -> String {
    testing::token("admin", "", &[Role::Admin])
}

pub fn discipline() -> String {
    testing::token(
        "jw-1",
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission, Role::Supervisor],
    )
}

/// The three levels of 三级集体研判, in the order they meet: each signs a
/// disposal by default.
pub const LEVELS: [ClueDecisionLevel; 3] = [
    ClueDecisionLevel::HandlingRoom,
    ClueDecisionLevel::LeaderInCharge,
    ClueDecisionLevel::SupervisionMeeting,
];

/// Three distinct people of the body at `org_path`, `{prefix}-1` to
/// `{prefix}-3`, in `roles`: who signs a disposal at the three levels.
pub fn three(prefix: &str, org_path: &str, roles: &[Role]) -> [String; 3] {
    [1, 2, 3].map(|n| testing::token(&format!("{prefix}-{n}"), org_path, roles))
}

/// The city commission's three signers; the first is [`discipline`].
pub fn commission() -> [String; 3] {
    three(
        "jw",
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission, Role::Supervisor],
    )
}

impl TestApp {
    /// A disposal decided as the defaults require (三级集体研判): each of
    /// `signers` signs `request` at its level in turn; until the third the
    /// clue stays registered with the signatures so far. Returns the first
    /// refusal, else the last answer.
    pub async fn decide(
        &self,
        signers: &[String; 3],
        request: DisposeClueRequest,
    ) -> Result<Clue, Status> {
        let mut clue: Option<Clue> = None;
        for (n, (token, level)) in signers.iter().zip(LEVELS).enumerate() {
            let mut signing = DisposeClueRequest {
                level: level as i32,
                ..request.clone()
            };
            if let Some(signed) = &clue {
                assert_eq!(signed.state(), ClueState::Registered, "{n} signatures");
                assert_eq!(signed.disposal_signatures.len(), n);
                if !signing.etag.is_empty() {
                    signing.etag = signed.etag.clone();
                }
            }
            let signed = self
                .clues()
                .dispose_clue(testing::authed(token, signing))
                .await?
                .into_inner();
            clue = Some(signed);
        }
        Ok(clue.expect("three signatures"))
    }

    pub fn problems(&self) -> ProblemServiceClient<Channel> {
        ProblemServiceClient::new(self.channel.clone())
    }
    pub fn clues(&self) -> ClueServiceClient<Channel> {
        ClueServiceClient::new(self.channel.clone())
    }
    pub fn categories(&self) -> CategoryServiceClient<Channel> {
        CategoryServiceClient::new(self.channel.clone())
    }

    pub async fn create(&self, problem: Problem) -> Result<Problem, Status> {
        self.problems()
            .create_problem(testing::authed(
                &office(),
                CreateProblemRequest {
                    problem: Some(problem),
                    ..Default::default()
                },
            ))
            .await
            .map(Response::into_inner)
    }

    /// Every problem matching `filter`, following the pages.
    pub async fn list_all(&self, token: &str, filter: &str, page_size: i32) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .problems()
                .list_problems(testing::authed(
                    token,
                    ListProblemsRequest {
                        page_size,
                        page_token: page_token.clone(),
                        filter: filter.into(),
                        ..Default::default()
                    },
                ))
                .await
                .expect("list")
                .into_inner();
            out.extend(page.problems);
            if page.next_page_token.is_empty() {
                return out;
            }
            page_token = page.next_page_token;
        }
    }

    /// Gives feedback on the inspection and waits until its list is handed
    /// over (the issues service follows the rounds service's events).
    pub async fn hand_over(&self, inspection: &str) {
        self.fake.give_feedback(inspection).await;
        for _ in 0..200 {
            if self.list_state(inspection).await.feedback_date.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{inspection} was not handed over");
    }

    pub async fn list_state(&self, inspection: &str) -> ProblemList {
        self.problems()
            .get_problem_list(testing::authed(
                &office(),
                GetProblemListRequest {
                    name: format!("{inspection}/problemList"),
                },
            ))
            .await
            .expect("problem list")
            .into_inner()
    }

    /// The issues service's own events so far, of the given type.
    pub async fn events(&self, kind: &str) -> Vec<Event> {
        let source = EventSource::Issues(
            consumer::channel(&format!("http://{}", self.running.addr)).expect("channel"),
            testing::observer_credentials(),
        );
        let stream = source
            .watch(
                fiveledger_platform::outbox::Position::START,
                &[kind.to_owned()],
            )
            .await
            .expect("watch");
        let mut out = Vec::new();
        let mut stream = stream.boxed();
        while let Ok(Some(Ok(event))) =
            tokio::time::timeout(Duration::from_millis(300), stream.next()).await
        {
            out.push(event);
        }
        out
    }
}

/// A complete problem of the stationed inspection.
pub fn problem(category: &str, title: &str) -> Problem {
    Problem {
        inspection: INSPECTION.into(),
        category: category.into(),
        severity: Severity::Major as i32,
        title: title.into(),
        description: "详见谈话记录".into(),
        evidence: vec![Evidence {
            document: "座谈记录.pdf".into(),
            sha256: "a".repeat(64),
        }],
        responsibilities: Some(Responsibilities {
            principal: "张书记".into(),
            leader_in_charge: "李副书记".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The `ErrorInfo.metadata[key]` of a status.
pub fn metadata(status: &Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// Subjects of a status's PreconditionFailure.
pub fn violation_subjects(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .precondition_failure()
        .map(|p| p.violations.iter().map(|v| v.subject.clone()).collect())
        .unwrap_or_default()
}

pub fn bad_field(status: &Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}
