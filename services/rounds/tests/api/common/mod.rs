//! Starts a real rounds server on an ephemeral port with a fresh database.
#![allow(dead_code)]

mod fake_issues;
pub use fake_issues::FakeIssues;

use fiveledger_platform::auth::Role;
use fiveledger_platform::outbox;
use fiveledger_platform::server::Running;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv};
use fiveledger_platform::time::Clock;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use fiveledger_rounds::RoundsSettings;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub struct TestApp {
    pub running: Running,
    pub channel: Channel,
    pub env: TestEnv,
    /// The service's clock, pinned to [`today`]; tests move it.
    pub clock: Clock,
    /// The issues service as the rounds service asks it at feedback.
    pub issues: FakeIssues,
}

/// The day every test server's clock starts on, so due dates, overdue and
/// colours never depend on the day the tests run.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date")
}

/// Noon (UTC) of `day`: what the pinned clock reads on that day.
pub fn noon(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.and_hms_opt(12, 0, 0).expect("noon").and_utc()
}

pub async fn spawn() -> TestApp {
    spawn_with(RoundsSettings::default()).await
}

pub async fn spawn_with(settings: RoundsSettings) -> TestApp {
    spawn_in(settings, false).await
}

/// The rounds service with the issues service unreachable.
pub async fn spawn_without_issues() -> TestApp {
    spawn_in(RoundsSettings::default(), true).await
}

async fn spawn_in(settings: RoundsSettings, issues_down: bool) -> TestApp {
    let mut env = TestEnv::new("rounds");
    let (issues, issues_url) = FakeIssues::start().await;
    env.settings.upstream.issues = if issues_down {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", closed.local_addr().expect("addr"))
    } else {
        issues_url
    };
    let clock = Clock::fixed(noon(today()));
    let running = fiveledger_rounds::start_with_clock(
        &env.settings,
        settings,
        clock.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("rounds service starts");
    let channel = Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    TestApp {
        running,
        channel,
        env,
        clock,
        issues,
    }
}

/// A token for the whole tree with the given roles.
pub fn admin() -> String {
    testing::token("admin", "", &[Role::Admin])
}

pub fn office(org_path: &str) -> String {
    testing::token(
        &format!("office-{org_path}"),
        org_path,
        &[Role::InspectionOffice],
    )
}

impl TestApp {
    /// The service's own database, to see what a call wrote (or did not).
    pub async fn db(&self) -> Db {
        Db::connect(
            &self.env.settings.database,
            &self.env.settings.data_dir.join("rounds.sqlite"),
        )
        .await
        .expect("the service's database")
    }

    pub fn organisations(&self) -> OrganisationServiceClient<Channel> {
        OrganisationServiceClient::new(self.channel.clone())
    }

    /// Creates an organisation and returns it.
    pub async fn org(
        &self,
        token: &str,
        id: &str,
        kind: OrganisationKind,
        parent: &str,
        display_name: &str,
    ) -> Organisation {
        self.organisations()
            .create_organisation(testing::authed(
                token,
                CreateOrganisationRequest {
                    organisation: Some(Organisation {
                        display_name: display_name.into(),
                        kind: kind as i32,
                        parent: parent.into(),
                        ..Default::default()
                    }),
                    organisation_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("creating {id}: {s:?}"))
            .into_inner()
    }

    /// Guangxi ⊃ Nanning ⊃ {Xingning, Qingxiu}, with Nanning's discipline commission.
    pub async fn small_tree(&self) {
        let t = admin();
        self.org(
            &t,
            "guangxi",
            OrganisationKind::Region,
            "",
            "广西壮族自治区",
        )
        .await;
        self.org(
            &t,
            "nanning",
            OrganisationKind::City,
            "organisations/guangxi",
            "南宁市",
        )
        .await;
        self.org(
            &t,
            "xingning",
            OrganisationKind::County,
            "organisations/nanning",
            "兴宁区",
        )
        .await;
        self.org(
            &t,
            "qingxiu",
            OrganisationKind::County,
            "organisations/nanning",
            "青秀区",
        )
        .await;
        self.org(
            &t,
            "nanning-jw",
            OrganisationKind::DisciplineCommission,
            "organisations/nanning",
            "南宁市纪委监委",
        )
        .await;
    }
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The field named by a status's `BadRequest`.
pub fn bad_field(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

/// How many events the service has appended to its outbox.
pub async fn outbox_len(db: &Db) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    outbox::Entity::find()
        .count(db.reader())
        .await
        .expect("outbox count")
}
