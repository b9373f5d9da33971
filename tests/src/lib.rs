//! Helpers for the end-to-end tests: the whole suite on ephemeral ports with
//! fresh databases, and clients for each service.

use fiveledger::{Domains, Layout, Suite};
use fiveledger_platform::testing::TestEnv;
use tonic::transport::Channel;

/// A running suite and channels to its services (the scenario steps of
/// [`Clients`] are called on it directly).
pub struct TestSuite {
    pub suite: Suite,
    pub clients: Clients,
    pub env: TestEnv,
}

/// Channels to the three services, wherever they run (in this process, or
/// as separate processes a test starts and kills), and the scenario steps.
#[derive(Clone)]
pub struct Clients {
    pub rounds: Channel,
    pub issues: Channel,
    pub ledgers: Channel,
}

impl std::ops::Deref for TestSuite {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.clients
    }
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

impl Clients {
    /// Plaintext channels to a suite running in this process.
    pub async fn of(suite: &Suite) -> Self {
        Self {
            rounds: connect(suite.rounds.addr).await,
            issues: connect(suite.issues.addr).await,
            ledgers: connect(suite.ledgers.addr).await,
        }
    }
}

/// Starts rounds, issues and ledgers like `cargo run` does, but on ports
/// chosen by the OS and on a fresh database (SQLite files in a temp folder,
/// or fresh PostgreSQL schemas when `FIVELEDGER_TEST_DATABASE_URL` is set).
pub async fn spawn_suite(domains: Domains) -> TestSuite {
    spawn_suite_with(domains, |_| {}).await
}

/// [`spawn_suite`] with the server settings changed by `configure` first.
pub async fn spawn_suite_with(
    domains: Domains,
    configure: impl FnOnce(&mut fiveledger_platform::settings::ServerSettings),
) -> TestSuite {
    let mut env = TestEnv::new("suite");
    configure(&mut env.settings);
    let layout = Layout {
        ports: [0, 0, 0],
        ..Layout::default()
    };
    let suite = fiveledger::start(&env.settings, domains, layout)
        .await
        .expect("the suite starts");
    TestSuite {
        clients: Clients::of(&suite).await,
        suite,
        env,
    }
}

/// [`spawn_suite_with`] with mutual TLS on: the suite's local CA and
/// certificates in `<data_dir>/tls`, a plaintext probe port per service
/// (ephemeral), certificates read again every second, and clients
/// presenting the `client` certificate.
pub async fn spawn_tls_suite(domains: Domains) -> TestSuite {
    spawn_tls_suite_with(domains, |_| {}).await
}

/// [`spawn_tls_suite`] with the server settings changed by `configure` first.
pub async fn spawn_tls_suite_with(
    domains: Domains,
    configure: impl FnOnce(&mut fiveledger_platform::settings::ServerSettings),
) -> TestSuite {
    let mut env = TestEnv::new("tls");
    configure(&mut env.settings);
    env.settings.tls.enabled = true;
    env.settings.tls.reload_seconds = 1;
    env.settings.tls.probe_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let layout = Layout {
        ports: [0, 0, 0],
        ..Layout::default()
    };
    let suite = fiveledger::start(&env.settings, domains, layout)
        .await
        .expect("the suite starts with TLS");
    let dir = tls_dir(&env);
    let client = fiveledger_platform::tls::CLIENT;
    TestSuite {
        clients: Clients {
            rounds: tls_channel(&dir, client, suite.rounds.addr),
            issues: tls_channel(&dir, client, suite.issues.addr),
            ledgers: tls_channel(&dir, client, suite.ledgers.addr),
        },
        suite,
        env,
    }
}

/// Where [`spawn_tls_suite`]'s certificates are.
pub fn tls_dir(env: &TestEnv) -> std::path::PathBuf {
    env.settings.data_dir.join("tls")
}

/// A lazily connecting channel to `addr` over mutual TLS, presenting
/// `identity`'s certificate (`<identity>.crt`, `.key`, and `ca.crt` in `dir`).
pub fn tls_channel(dir: &std::path::Path, identity: &str, addr: std::net::SocketAddr) -> Channel {
    let settings = fiveledger_platform::tls::TlsSettings {
        dir: Some(dir.to_owned()),
        ..Default::default()
    };
    fiveledger_platform::tls::ClientTls::load(settings.files(identity, dir))
        .expect("client certificate")
        .channel(tonic::transport::Endpoint::from_shared(format!("https://{addr}")).expect("url"))
}

// ---------------------------------------------------------------------------
// The cast and the steps of the end-to-end scenarios: a city with its
// counties and bodies, people of the talent pool, and one call per step
// of the workflow, each as the caller who would take it in real life.
// ---------------------------------------------------------------------------

use std::time::Duration;

use fiveledger_platform::auth::Role;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
use fiveledger_proto::ledgers::publication_service_client::PublicationServiceClient;
use fiveledger_proto::ledgers::statistics_service_client::StatisticsServiceClient;
use fiveledger_proto::ledgers::warning_service_client::WarningServiceClient;
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::inspector_service_client::InspectorServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::round_service_client::RoundServiceClient;
use fiveledger_proto::{issues, ledgers, rounds, types};

/// Organisation paths of the fixture city.
pub mod paths {
    pub const CITY: &str = "guangxi/nanning";
    pub const XINGNING: &str = "guangxi/nanning/xingning";
    pub const QINGXIU: &str = "guangxi/nanning/qingxiu";
    pub const COMMISSION: &str = "guangxi/nanning/nanning-jw";
    pub const ORG_DEPARTMENT: &str = "guangxi/nanning/nanning-zzb";
    pub const PROPAGANDA: &str = "guangxi/nanning/nanning-xcb";
    pub const OFFICE: &str = "guangxi/nanning/nanning-xcban";
    pub const EDUCATION: &str = "guangxi/nanning/nanning-edu";
}

/// Tokens of the people in the scenarios.
pub mod tokens {
    use super::*;

    /// The operator (whole tree).
    pub fn admin() -> String {
        token("admin", "", &[Role::Admin])
    }
    /// The city's inspection office (巡察办), acting over the whole city.
    pub fn office() -> String {
        token("office-nn", paths::CITY, &[Role::InspectionOffice])
    }
    /// An inspection group member acting as `subject` (a leader is
    /// recognised by the inspector's subject).
    pub fn group_member(subject: &str) -> String {
        token(subject, paths::CITY, &[Role::InspectionGroup])
    }
    /// The inspected unit of a county.
    pub fn unit(county_path: &str) -> String {
        token(
            &format!("unit-{}", county_path.rsplit('/').next().unwrap_or("x")),
            county_path,
            &[Role::InspectedUnit],
        )
    }
    /// The city's discipline commission (纪委监委).
    pub fn commission() -> String {
        token("jw-wang", paths::COMMISSION, &[Role::DisciplineCommission])
    }
    /// The city's organisation department (组织部), a supervising body.
    pub fn org_department() -> String {
        token("zzb-liu", paths::ORG_DEPARTMENT, &[Role::Supervisor])
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// A rectification plan of one corrective measure `m1`.
pub fn one_measure_plan(
    summary: &str,
    description: &str,
    owner: &str,
    due: Option<Date>,
) -> ledgers::RectificationPlan {
    ledgers::RectificationPlan {
        summary: summary.into(),
        measures: vec![ledgers::Measure {
            id: "m1".into(),
            kind: ledgers::MeasureKind::Corrective as i32,
            description: description.into(),
            owner: owner.into(),
            due_date: due,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A problem as a group finds it, with the unit's principal and the leader
/// in charge (responsibilities (1) and (2)); (3) left to routing unless
/// `supervising_body` names one; (4) when `functional_department` is given.
pub fn found_problem(
    inspection: &str,
    id: &str,
    category: &str,
    severity: types::Severity,
    title: &str,
    supervising_body: &str,
    functional_department: &str,
) -> issues::Problem {
    issues::Problem {
        inspection: inspection.into(),
        category: category.into(),
        severity: severity as i32,
        title: title.into(),
        description: format!("{title}：巡察组查实。"),
        evidence: vec![types::Evidence {
            document: format!("{id}-谈话记录.pdf"),
            sha256: "cd".repeat(32),
        }],
        responsibilities: Some(issues::Responsibilities {
            principal: "区委书记 张三".into(),
            leader_in_charge: "分管副区长 李四".into(),
            supervising_body: supervising_body.into(),
            functional_department: functional_department.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// CreateProblem of a problem in `inspection`: issues first asks the
/// rounds service about the inspection (the tests of cross-service calls).
pub fn create_problem_in(inspection: &str) -> issues::CreateProblemRequest {
    issues::CreateProblemRequest {
        problem: Some(found_problem(
            inspection,
            "p1",
            "party-leadership",
            types::Severity::Major,
            "Decisions taken without collective discussion",
            "",
            "",
        )),
        ..Default::default()
    }
}

/// Polls every 50 ms until `check` yields, or panics after `timeout`
/// naming `what` (events flow between services asynchronously).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long the scenarios wait for an event to cross the services.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

impl Clients {
    pub fn organisations(&self) -> OrganisationServiceClient<Channel> {
        OrganisationServiceClient::new(self.rounds.clone())
    }
    pub fn inspectors(&self) -> InspectorServiceClient<Channel> {
        InspectorServiceClient::new(self.rounds.clone())
    }
    pub fn round_service(&self) -> RoundServiceClient<Channel> {
        RoundServiceClient::new(self.rounds.clone())
    }
    pub fn groups(&self) -> GroupServiceClient<Channel> {
        GroupServiceClient::new(self.rounds.clone())
    }
    pub fn inspections(&self) -> InspectionServiceClient<Channel> {
        InspectionServiceClient::new(self.rounds.clone())
    }
    pub fn problems(&self) -> ProblemServiceClient<Channel> {
        ProblemServiceClient::new(self.issues.clone())
    }
    pub fn ledger(&self) -> LedgerServiceClient<Channel> {
        LedgerServiceClient::new(self.ledgers.clone())
    }
    pub fn warnings(&self) -> WarningServiceClient<Channel> {
        WarningServiceClient::new(self.ledgers.clone())
    }
    pub fn statistics(&self) -> StatisticsServiceClient<Channel> {
        StatisticsServiceClient::new(self.ledgers.clone())
    }
    pub fn publications(&self) -> PublicationServiceClient<Channel> {
        PublicationServiceClient::new(self.ledgers.clone())
    }

    /// Creates one organisation as the operator.
    pub async fn organisation(
        &self,
        id: &str,
        kind: rounds::OrganisationKind,
        parent: &str,
        display_name: &str,
    ) -> rounds::Organisation {
        self.organisations()
            .create_organisation(authed(
                &tokens::admin(),
                rounds::CreateOrganisationRequest {
                    organisation: Some(rounds::Organisation {
                        display_name: display_name.into(),
                        kind: kind as i32,
                        parent: if parent.is_empty() {
                            String::new()
                        } else {
                            format!("organisations/{parent}")
                        },
                        ..Default::default()
                    }),
                    organisation_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("creating organisation {id}: {s:?}"))
            .into_inner()
    }

    /// Guangxi ⊃ Nanning ⊃ {Xingning, Qingxiu} with the city's discipline
    /// commission, organisation and propaganda departments, inspection
    /// office and education bureau (a functional department).
    pub async fn city(&self) {
        use rounds::OrganisationKind as K;
        for (id, kind, parent, display) in [
            ("guangxi", K::Region, "", "广西壮族自治区"),
            ("nanning", K::City, "guangxi", "南宁市"),
            ("xingning", K::County, "nanning", "兴宁区"),
            ("qingxiu", K::County, "nanning", "青秀区"),
            (
                "nanning-jw",
                K::DisciplineCommission,
                "nanning",
                "南宁市纪委监委",
            ),
            (
                "nanning-zzb",
                K::OrganisationDepartment,
                "nanning",
                "南宁市委组织部",
            ),
            (
                "nanning-xcb",
                K::PropagandaDepartment,
                "nanning",
                "南宁市委宣传部",
            ),
            (
                "nanning-xcban",
                K::InspectionOffice,
                "nanning",
                "南宁市委巡察办",
            ),
            (
                "nanning-edu",
                K::FunctionalDepartment,
                "nanning",
                "南宁市教育局",
            ),
        ] {
            self.organisation(id, kind, parent, display).await;
        }
    }

    /// Adds a person to the talent pool (home organisation by id).
    pub async fn inspector(
        &self,
        id: &str,
        subject: &str,
        home: &str,
        past_posts: Vec<rounds::Post>,
    ) -> rounds::Inspector {
        self.inspectors()
            .create_inspector(authed(
                &tokens::office(),
                rounds::CreateInspectorRequest {
                    inspector: Some(rounds::Inspector {
                        display_name: id.to_uppercase(),
                        subject: subject.into(),
                        home_organisation: format!("organisations/{home}"),
                        past_posts,
                        ..Default::default()
                    }),
                    inspector_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("creating inspector {id}: {s:?}"))
            .into_inner()
    }

    /// Creates a round run by the city and starts it.
    pub async fn started_round(
        &self,
        id: &str,
        kind: rounds::RoundKind,
        number: i32,
        look_back_rounds: &[&str],
        planned: (Date, Date),
    ) -> rounds::Round {
        let mut client = self.round_service();
        let round = client
            .create_round(authed(
                &tokens::office(),
                rounds::CreateRoundRequest {
                    round: Some(rounds::Round {
                        display_name: format!("十二届市委第{number}轮巡察"),
                        term: 12,
                        number,
                        kind: kind as i32,
                        look_back_rounds: look_back_rounds.iter().map(|r| r.to_string()).collect(),
                        organisation: "organisations/nanning".into(),
                        planned_start_date: Some(planned.0),
                        planned_end_date: Some(planned.1),
                        ..Default::default()
                    }),
                    round_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("creating round {id}: {s:?}"))
            .into_inner();
        client
            .start_round(authed(
                &tokens::office(),
                rounds::StartRoundRequest {
                    name: round.name.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("starting round {id}: {s:?}"))
            .into_inner()
    }

    /// Round 9 run by the city with Xingning's inspection
    /// (`rounds/r9/inspections/xn`, group g1 led by li with wang) stationed,
    /// so that problems can be found there.
    pub async fn stationed_xingning_in_round_nine(&self) -> rounds::Inspection {
        self.city().await;
        self.inspector("li", "li-leader", "nanning-xcban", vec![])
            .await;
        self.inspector("wang", "wang-jw", "nanning-jw", vec![])
            .await;
        self.started_round(
            "r9",
            rounds::RoundKind::Regular,
            9,
            &[],
            (date(2026, 3, 1), date(2026, 6, 30)),
        )
        .await;
        let g = self
            .group("rounds/r9", "g1", "li", &["wang"])
            .await
            .expect("group");
        let i = self
            .inspection("rounds/r9", "xn", "xingning", "")
            .await
            .expect("inspection");
        self.assign(&i.name, &g.name).await.expect("assign");
        let stationed = self
            .brief_and_station(&i.name, "li-leader", date(2026, 3, 10), date(2026, 5, 10))
            .await;
        assert_eq!(stationed.phase, rounds::InspectionPhase::Stationed as i32);
        stationed
    }

    /// Round `round_id` (number `number`, regular, run by the city) with
    /// two stationed inspections: Xingning `xn` (group g1, leader li, with
    /// wang) and Qingxiu `qx` (group g2, leader sun, with zhao).
    pub async fn two_stationed_inspections(&self, round_id: &str, number: i32) {
        self.city().await;
        for (id, subject, org) in [
            ("li", "li-leader", "nanning-xcban"),
            ("wang", "wang-jw", "nanning-jw"),
            ("sun", "sun-leader", "nanning-xcban"),
            ("zhao", "zhao-zzb", "nanning-zzb"),
        ] {
            self.inspector(id, subject, org, vec![]).await;
        }
        self.started_round(
            round_id,
            rounds::RoundKind::Regular,
            number,
            &[],
            (date(2026, 3, 1), date(2026, 6, 30)),
        )
        .await;
        let round = format!("rounds/{round_id}");
        for (id, target, group, leader, member, subject) in [
            ("xn", "xingning", "g1", "li", "wang", "li-leader"),
            ("qx", "qingxiu", "g2", "sun", "zhao", "sun-leader"),
        ] {
            let g = self
                .group(&round, group, leader, &[member])
                .await
                .expect("group");
            let i = self
                .inspection(&round, id, target, "")
                .await
                .expect("inspection");
            self.assign(&i.name, &g.name).await.expect("assign");
            let stationed = self
                .brief_and_station(&i.name, subject, date(2026, 3, 10), date(2026, 5, 10))
                .await;
            assert_eq!(stationed.phase, rounds::InspectionPhase::Stationed as i32);
        }
    }

    /// Creates a group of a round: `leader` and `members` are inspector ids.
    pub async fn group(
        &self,
        round: &str,
        id: &str,
        leader: &str,
        members: &[&str],
    ) -> Result<rounds::Group, tonic::Status> {
        self.groups()
            .create_group(authed(
                &tokens::office(),
                rounds::CreateGroupRequest {
                    parent: round.into(),
                    group: Some(rounds::Group {
                        display_name: format!("第{id}巡察组"),
                        leader: format!("inspectors/{leader}"),
                        members: members.iter().map(|m| format!("inspectors/{m}")).collect(),
                        ..Default::default()
                    }),
                    group_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Creates an inspection of `target` (an organisation id) in `round`,
    /// without a group yet.
    pub async fn inspection(
        &self,
        round: &str,
        id: &str,
        target: &str,
        look_back_of: &str,
    ) -> Result<rounds::Inspection, tonic::Status> {
        self.inspections()
            .create_inspection(authed(
                &tokens::office(),
                rounds::CreateInspectionRequest {
                    parent: round.into(),
                    inspection: Some(rounds::Inspection {
                        target: format!("organisations/{target}"),
                        look_back_of: look_back_of.into(),
                        ..Default::default()
                    }),
                    inspection_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn assign(
        &self,
        inspection: &str,
        group: &str,
    ) -> Result<rounds::Inspection, tonic::Status> {
        self.inspections()
            .assign_inspection_group(authed(
                &tokens::office(),
                rounds::AssignInspectionGroupRequest {
                    name: inspection.into(),
                    group: group.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The inspection as the office sees it.
    pub async fn get_inspection(&self, name: &str) -> rounds::Inspection {
        self.inspections()
            .get_inspection(authed(
                &tokens::office(),
                rounds::GetInspectionRequest { name: name.into() },
            ))
            .await
            .unwrap_or_else(|s| panic!("getting {name}: {s:?}"))
            .into_inner()
    }

    /// Records the briefings of the discipline commission and the
    /// organisation department (巡前), then the group's leader (`leader`,
    /// a subject) stations the group from `start` to `end`.
    pub async fn brief_and_station(
        &self,
        inspection: &str,
        leader: &str,
        start: Date,
        end: Date,
    ) -> rounds::Inspection {
        let mut client = self.inspections();
        let briefing_date = Date {
            day: 1.max(start.day - 1),
            ..start
        };
        for body in ["nanning-jw", "nanning-zzb"] {
            client
                .record_briefing(authed(
                    &tokens::office(),
                    rounds::RecordBriefingRequest {
                        name: inspection.into(),
                        briefing: Some(rounds::Briefing {
                            organisation: format!("organisations/{body}"),
                            date: Some(briefing_date),
                            summary: "巡前情况通报".into(),
                        }),
                        request_id: String::new(),
                    },
                ))
                .await
                .unwrap_or_else(|s| panic!("briefing by {body}: {s:?}"));
        }
        client
            .start_stationing(authed(
                &tokens::group_member(leader),
                rounds::StartStationingRequest {
                    name: inspection.into(),
                    start_date: Some(start),
                    end_date: Some(end),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("stationing {inspection}: {s:?}"))
            .into_inner()
    }

    /// The leader's mid-term and comprehensive reports (巡中 → 综合汇报):
    /// the inspection is reported and the rounds service says so.
    pub async fn report(
        &self,
        inspection: &str,
        leader: &str,
        mid_term: Date,
        comprehensive: Date,
    ) -> rounds::Inspection {
        let mut client = self.inspections();
        let mut last = None;
        for (kind, day) in [
            (rounds::InspectionReportKind::MidTerm, mid_term),
            (rounds::InspectionReportKind::Comprehensive, comprehensive),
        ] {
            last = Some(
                client
                    .report_inspection(authed(
                        &tokens::group_member(leader),
                        rounds::ReportInspectionRequest {
                            name: inspection.into(),
                            kind: kind as i32,
                            report: Some(rounds::ReportRecord {
                                date: Some(day),
                                summary: "向巡察工作领导小组汇报".into(),
                            }),
                            request_id: String::new(),
                        },
                    ))
                    .await
                    .unwrap_or_else(|s| panic!("{kind:?} report of {inspection}: {s:?}"))
                    .into_inner(),
            );
        }
        last.expect("two reports")
    }

    /// Gives the double feedback (双反馈) on `day` and waits until the
    /// issues service has handed the list over: from then on the unit and
    /// the supervising bodies see its problems and entries.
    pub async fn give_feedback(&self, inspection: &str, day: Date) -> rounds::Inspection {
        self.notify_leaders_in_charge(inspection, day).await;
        let given = self
            .inspections()
            .give_feedback(Self::feedback_request(inspection, day, day))
            .await
            .unwrap_or_else(|s| panic!("feedback on {inspection}: {s:?}"))
            .into_inner();
        let name = format!("{inspection}/problemList");
        eventually("the list handed over", Duration::from_secs(10), || {
            let name = name.clone();
            async move {
                self.problems()
                    .get_problem_list(authed(
                        &tokens::office(),
                        issues::GetProblemListRequest { name },
                    ))
                    .await
                    .ok()
                    .filter(|l| l.get_ref().feedback_date.is_some())
            }
        })
        .await;
        given
    }

    /// Notifies the party and government leaders in charge of the unit
    /// (分管领导通报) on `day`, as feedback needs.
    pub async fn notify_leaders_in_charge(
        &self,
        inspection: &str,
        day: Date,
    ) -> rounds::Inspection {
        self.inspections()
            .notify_leaders_in_charge(Self::notify_request(inspection, day))
            .await
            .unwrap_or_else(|s| panic!("notice on {inspection}: {s:?}"))
            .into_inner()
    }

    /// The office's notice to the leaders in charge (分管领导通报) on `day`.
    pub fn notify_request(
        inspection: &str,
        day: Date,
    ) -> tonic::Request<rounds::NotifyLeadersInChargeRequest> {
        let leader = |role: rounds::LeaderInChargeRole, name: &str| rounds::LeaderInCharge {
            role: role as i32,
            display_name: name.into(),
            post: String::new(),
        };
        authed(
            &tokens::office(),
            rounds::NotifyLeadersInChargeRequest {
                name: inspection.into(),
                notice: Some(rounds::LeadersInChargeNotice {
                    date: Some(day),
                    leaders: vec![
                        leader(rounds::LeaderInChargeRole::Party, "市委常委"),
                        leader(rounds::LeaderInChargeRole::Government, "副市长"),
                    ],
                    summary: "巡察情况通报".into(),
                }),
                request_id: String::new(),
            },
        )
    }

    /// The request of the double feedback (双反馈) by the office.
    pub fn feedback_request(
        inspection: &str,
        individual: Date,
        public: Date,
    ) -> tonic::Request<rounds::GiveFeedbackRequest> {
        let part = |d: Date, to: &str| rounds::FeedbackPart {
            date: Some(d),
            given_by: "巡察组组长".into(),
            recipient: to.into(),
        };
        authed(
            &tokens::office(),
            rounds::GiveFeedbackRequest {
                name: inspection.into(),
                feedback: Some(rounds::DoubleFeedback {
                    individual: Some(part(individual, "主要负责人")),
                    public: Some(part(public, "领导班子")),
                }),
                request_id: String::new(),
                functional_hand_offs: Vec::new(),
            },
        )
    }

    /// Records a problem found by the group ([`found_problem`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn problem(
        &self,
        as_token: &str,
        inspection: &str,
        id: &str,
        category: &str,
        severity: types::Severity,
        title: &str,
        supervising_body: &str,
        functional_department: &str,
    ) -> Result<issues::Problem, tonic::Status> {
        self.problems()
            .create_problem(authed(
                as_token,
                issues::CreateProblemRequest {
                    problem: Some(found_problem(
                        inspection,
                        id,
                        category,
                        severity,
                        title,
                        supervising_body,
                        functional_department,
                    )),
                    problem_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Every problem `filter` selects, as `as_token` sees them.
    pub async fn list_problems(
        &self,
        as_token: &str,
        filter: &str,
    ) -> Result<Vec<issues::Problem>, tonic::Status> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .problems()
                .list_problems(authed(
                    as_token,
                    issues::ListProblemsRequest {
                        page_size: 100,
                        page_token: page_token.clone(),
                        filter: filter.into(),
                        order_by: String::new(),
                    },
                ))
                .await?
                .into_inner();
            out.extend(page.problems);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = page.next_page_token;
        }
    }

    /// Every ledger entry `filter` selects, as `as_token` sees them.
    pub async fn list_entries(
        &self,
        as_token: &str,
        filter: &str,
    ) -> Result<Vec<ledgers::LedgerEntry>, tonic::Status> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .ledger()
                .list_entries(authed(
                    as_token,
                    ledgers::ListEntriesRequest {
                        page_size: 100,
                        page_token: page_token.clone(),
                        filter: filter.into(),
                        order_by: String::new(),
                    },
                ))
                .await?
                .into_inner();
            out.extend(page.entries);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = page.next_page_token;
        }
    }

    /// Polls ListEntries (as the operator) until `filter` selects `n`
    /// entries: they are posted by the ledger's consumers, not by a call.
    pub async fn wait_for_entries(&self, filter: &str, n: usize) -> Vec<ledgers::LedgerEntry> {
        eventually(
            &format!("{n} ledger entries matching {filter:?}"),
            EVENT_TIMEOUT,
            || async {
                let entries = self
                    .list_entries(&tokens::admin(), filter)
                    .await
                    .expect("list entries");
                (entries.len() >= n).then_some(entries)
            },
        )
        .await
    }

    /// One entry with its whole history, as the operator sees it.
    /// VerifyJournal over the whole tree, as the operator.
    pub async fn verify_journal(&self) -> ledgers::VerifyJournalResponse {
        self.ledger()
            .verify_journal(authed(
                &tokens::admin(),
                ledgers::VerifyJournalRequest::default(),
            ))
            .await
            .unwrap_or_else(|s| panic!("verifying the journal: {s:?}"))
            .into_inner()
    }

    /// Reconcile of a round, as the operator.
    pub async fn reconcile_round(&self, round: &str) -> ledgers::ReconcileResponse {
        self.ledger()
            .reconcile(authed(
                &tokens::admin(),
                ledgers::ReconcileRequest {
                    round: round.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("reconciling {round}: {s:?}"))
            .into_inner()
    }

    pub async fn entry(&self, name: &str) -> ledgers::LedgerEntry {
        self.ledger()
            .get_entry(authed(
                &tokens::admin(),
                ledgers::GetEntryRequest { name: name.into() },
            ))
            .await
            .unwrap_or_else(|s| panic!("getting {name}: {s:?}"))
            .into_inner()
    }
}

impl TestSuite {
    /// [`Clients::notify_request`].
    pub fn notify_request(
        inspection: &str,
        day: Date,
    ) -> tonic::Request<rounds::NotifyLeadersInChargeRequest> {
        Clients::notify_request(inspection, day)
    }

    /// [`Clients::feedback_request`].
    pub fn feedback_request(
        inspection: &str,
        individual: Date,
        public: Date,
    ) -> tonic::Request<rounds::GiveFeedbackRequest> {
        Clients::feedback_request(inspection, individual, public)
    }

    /// Takes one service (`rounds`, `issues` or `ledgers`) down as its
    /// callers see a crashed one: it stops serving and its port refuses
    /// connections, while the others keep running (and retrying).
    pub async fn take_down(&self, service: &str) {
        let running = match service {
            "rounds" => &self.suite.rounds,
            "issues" => &self.suite.issues,
            "ledgers" => &self.suite.ledgers,
            other => panic!("no service {other} in the suite"),
        };
        running.stop_token().cancel();
        let addr = running.addr;
        eventually(
            &format!("the {service} port to refuse connections"),
            EVENT_TIMEOUT,
            || async move {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .is_err()
                    .then_some(())
            },
        )
        .await;
    }

    /// A direct connection to the ledgers service's own database, for tests
    /// that play an operator damaging the books.
    pub async fn ledgers_db(&self) -> Db {
        self.service_db("ledgers").await
    }

    /// A direct connection to one service's own database (`rounds`,
    /// `issues` or `ledgers`), for tests that play older data or damage.
    pub async fn service_db(&self, service: &str) -> Db {
        let settings = fiveledger::service_settings(
            &self.env.settings,
            service,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        );
        Db::connect(
            &settings.database,
            &settings.data_dir.join(format!("{service}.sqlite")),
        )
        .await
        .unwrap_or_else(|e| panic!("the {service} database: {e:?}"))
    }
}
