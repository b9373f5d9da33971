//! gRPC handlers: parse the request, run one transaction, map the result.

mod assessments;
mod events;
pub(crate) mod filters;
mod interviews;
mod joint_supervisions;
mod ledger;
mod look_back;
mod publications;
mod reconcile;
mod statistics;
mod steps;
mod warnings;

/// The handlers' request parsing that needs no storage (driven by the fuzz
/// targets in fuzz/).
pub mod parsing {
    pub use super::filters::list_filter;
    pub use super::interviews::parse_notice;
    pub use super::optional_path;
    pub use super::steps::{backdate, parse_date_text};
}

use std::sync::Arc;

use fiveledger_platform::ApiResult;
use fiveledger_platform::access_log::{self, AccessLog};
use fiveledger_platform::aip::names::parse_path;
use fiveledger_platform::auth::{Role, RoleTable};
use fiveledger_platform::service_identity::{EventReaders, ServiceCalls};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::Clock;
use fiveledger_proto::ledgers::assessment_service_server::AssessmentServiceServer;
use fiveledger_proto::ledgers::event_service_server::EventServiceServer;
use fiveledger_proto::ledgers::joint_supervision_service_server::JointSupervisionServiceServer;
use fiveledger_proto::ledgers::ledger_service_server::LedgerServiceServer;
use fiveledger_proto::ledgers::look_back_service_server::LookBackServiceServer;
use fiveledger_proto::ledgers::publication_service_server::PublicationServiceServer;
use fiveledger_proto::ledgers::statistics_service_server::StatisticsServiceServer;
use fiveledger_proto::ledgers::warning_service_server::WarningServiceServer;
use tokio_util::sync::CancellationToken;

use crate::settings::LedgersSettings;
use crate::upstream::{Issues, Rounds};

/// The gRPC services this server exposes.
pub const SERVICES: &[&str] = &[
    "fiveledger.ledgers.v1.LedgerService",
    "fiveledger.ledgers.v1.WarningService",
    "fiveledger.ledgers.v1.StatisticsService",
    "fiveledger.ledgers.v1.PublicationService",
    "fiveledger.ledgers.v1.EventService",
    "fiveledger.ledgers.v1.AssessmentService",
    "fiveledger.ledgers.v1.JointSupervisionService",
    "fiveledger.ledgers.v1.LookBackService",
    access_log::SERVICE,
];

/// Who may see clue figures (the issues service's clue holders).
const CLUE_HOLDERS: &[Role] = &[Role::InspectionOffice, Role::DisciplineCommission];

/// Everyone inside the suite who reads entries (scope narrows what they see).
const READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::InspectedUnit,
    Role::Supervisor,
    Role::DisciplineCommission,
    Role::Viewer,
];
const UNIT: &[Role] = &[Role::InspectedUnit];
const OFFICE: &[Role] = &[Role::InspectionOffice];
const SUPERVISORS: &[Role] = &[
    Role::InspectionOffice,
    Role::Supervisor,
    Role::DisciplineCommission,
];
const RECEIVERS: &[Role] = &[Role::Supervisor, Role::DisciplineCommission];
const VERIFIERS: &[Role] = &[
    Role::InspectionOffice,
    Role::Supervisor,
    Role::DisciplineCommission,
];
const AUDITORS: &[Role] = &[Role::InspectionOffice];
/// Who records an interview's follow-up: the unit, the office, the bodies.
const FOLLOWERS: &[Role] = &[
    Role::InspectedUnit,
    Role::InspectionOffice,
    Role::Supervisor,
    Role::DisciplineCommission,
];
/// Who leads a joint supervision (联合督查): the discipline commission.
const COMMISSION: &[Role] = &[Role::DisciplineCommission];
/// Who reads one and posts its findings (scope and participation in the
/// handler): the commission, the departments, the office.
const JOINT: &[Role] = &[
    Role::InspectionOffice,
    Role::Supervisor,
    Role::DisciplineCommission,
];
/// Who reads look-back records (回头看; scope in `domain::scope`): the
/// offices and supervising bodies of the round's level, and the inspected
/// organisation for its own reports and suggestions.
const LOOK_BACK_READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectedUnit,
    Role::Supervisor,
    Role::DisciplineCommission,
];
/// Readers plus the public, who may read only public editions.
const PUBLICATION_READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::InspectedUnit,
    Role::Supervisor,
    Role::DisciplineCommission,
    Role::Viewer,
    Role::Public,
];

/// `/fiveledger.ledgers.v1.<service>/<method>`.
macro_rules! rpc {
    ($service:literal, $method:literal) => {
        concat!("/fiveledger.ledgers.v1.", $service, "/", $method)
    };
}

/// Roles each RPC needs (admin may call everything; anything absent is denied).
/// Who may act on which entry is then decided by scope (`domain::scope`).
pub const ROLES: RoleTable = &[
    (rpc!("LedgerService", "GetEntry"), READERS),
    (rpc!("LedgerService", "ListEntries"), READERS),
    (rpc!("LedgerService", "AcknowledgeHandOver"), UNIT),
    (rpc!("LedgerService", "SubmitPlan"), UNIT),
    (rpc!("LedgerService", "ApprovePlan"), OFFICE),
    (rpc!("LedgerService", "RejectPlan"), OFFICE),
    (rpc!("LedgerService", "PostProgress"), UNIT),
    (rpc!("LedgerService", "PostSupervision"), SUPERVISORS),
    (rpc!("LedgerService", "Transfer"), OFFICE),
    (rpc!("LedgerService", "AcknowledgeTransfer"), RECEIVERS),
    (rpc!("LedgerService", "ReturnTransferResult"), RECEIVERS),
    (rpc!("LedgerService", "RequestWriteOff"), UNIT),
    (rpc!("LedgerService", "ApproveWriteOff"), VERIFIERS),
    (rpc!("LedgerService", "RejectWriteOff"), VERIFIERS),
    (rpc!("LedgerService", "Reopen"), OFFICE),
    (rpc!("LedgerService", "ReplyToNotice"), UNIT),
    (rpc!("LedgerService", "RecordInterview"), SUPERVISORS),
    (rpc!("LedgerService", "RecordInterviewFollowUp"), FOLLOWERS),
    (rpc!("LedgerService", "Reconcile"), AUDITORS),
    (rpc!("LedgerService", "VerifyJournal"), AUDITORS),
    (rpc!("WarningService", "RunWarningSweep"), OFFICE),
    (rpc!("WarningService", "WatchWarnings"), READERS),
    (rpc!("StatisticsService", "GetStatistics"), READERS),
    (rpc!("PublicationService", "Publish"), OFFICE),
    // The only RPC the public role may call (and only for PUBLIC editions).
    (
        rpc!("PublicationService", "GetPublication"),
        PUBLICATION_READERS,
    ),
    (rpc!("PublicationService", "ListPublications"), READERS),
    // Assessments of lower levels' work: offices (scope in the handler).
    (rpc!("AssessmentService", "ComputeAssessment"), OFFICE),
    (rpc!("AssessmentService", "GetAssessment"), OFFICE),
    (rpc!("AssessmentService", "ListAssessments"), OFFICE),
    (rpc!("AssessmentService", "VerifyAssessment"), OFFICE),
    // Joint supervisions: led by a commission, joined by bodies of its level.
    (
        rpc!("JointSupervisionService", "CreateJointSupervision"),
        COMMISSION,
    ),
    (
        rpc!("JointSupervisionService", "GetJointSupervision"),
        JOINT,
    ),
    (rpc!("JointSupervisionService", "PostJointFinding"), JOINT),
    // Look-back campaigns (回头看): the office asks, compiles and suggests;
    // the inspected organisation submits and replies; the office or the
    // supervising body spot-checks.
    (rpc!("LookBackService", "RequestSelfCheckReport"), OFFICE),
    (rpc!("LookBackService", "SubmitSelfCheckReport"), UNIT),
    (rpc!("LookBackService", "AcceptSelfCheckReport"), OFFICE),
    (rpc!("LookBackService", "ReturnSelfCheckReport"), OFFICE),
    (
        rpc!("LookBackService", "GetSelfCheckReport"),
        LOOK_BACK_READERS,
    ),
    (rpc!("LookBackService", "ListKeyProblemCandidates"), OFFICE),
    (rpc!("LookBackService", "CreateKeyProblem"), OFFICE),
    (rpc!("LookBackService", "ListKeyProblems"), SUPERVISORS),
    (rpc!("LookBackService", "GetKeyProblem"), LOOK_BACK_READERS),
    (
        rpc!("LookBackService", "CreateSupervisionSuggestion"),
        OFFICE,
    ),
    (
        rpc!("LookBackService", "ReplyToSupervisionSuggestion"),
        UNIT,
    ),
    (
        rpc!("LookBackService", "GetSupervisionSuggestion"),
        LOOK_BACK_READERS,
    ),
    (rpc!("LookBackService", "CreateSpotCheck"), SUPERVISORS),
    (rpc!("LookBackService", "ListSpotChecks"), SUPERVISORS),
    (rpc!("LookBackService", "GetSpotCheck"), LOOK_BACK_READERS),
    (rpc!("EventService", "WatchEvents"), &[Role::Admin]),
    (access_log::LIST, access_log::READERS),
    (access_log::VERIFY, access_log::READERS),
];

/// No service calls the ledger: it is the end of the pipeline.
pub const SERVICE_CALLS: ServiceCalls = &[];
/// Nor does any service follow its events.
pub const EVENT_READERS: EventReaders = &[];

/// What every handler holds.
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub settings: Arc<LedgersSettings>,
    /// The issues service (problems, clue figures).
    pub issues: Issues,
    /// The rounds service (inspections, the organisation directory).
    pub rounds: Rounds,
    pub stop: CancellationToken,
    /// The clock colours, postings and sweeps go by (fixed in tests).
    pub clock: Clock,
    /// Where reads of statistics with clue figures are recorded.
    pub access: AccessLog,
}

pub fn routes(api: Api, server: &ServerSettings) -> tonic::service::Routes {
    let max = server.limits.max_message_bytes;
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(LedgerServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(WarningServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(StatisticsServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(PublicationServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(AssessmentServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(JointSupervisionServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(LookBackServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(access_log::service(api.db.clone(), api.access.clone(), max))
        .add_service(EventServiceServer::new(api).max_decoding_message_size(max));
    routes.routes()
}

/// An optional organisation subtree; empty means no narrowing.
pub fn optional_path(field: &str, path: &str) -> ApiResult<Option<String>> {
    if path.is_empty() {
        Ok(None)
    } else {
        parse_path(field, path).map(Some)
    }
}

/// The W3C `traceparent` of a request, recorded on its postings and events.
fn traceparent<T>(request: &tonic::Request<T>) -> String {
    request
        .metadata()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_default()
        .to_owned()
}
