//! gRPC handlers: parse the request, run one transaction, map the result.

/// The path of a ProblemService RPC.
macro_rules! PROBLEM {
    ($method:literal) => {
        concat!("/fiveledger.issues.v1.ProblemService/", $method)
    };
}

/// The path of a ClueService RPC.
macro_rules! CLUE {
    ($method:literal) => {
        concat!("/fiveledger.issues.v1.ClueService/", $method)
    };
}

mod categories;
mod clue_disposal;
mod clue_reconciliations;
mod clue_statistics;
mod clue_transfers;
mod clue_warnings;
mod clues;
mod events;
pub(crate) mod filters;
mod problem_import;
mod problem_lists;
mod problem_rows;
mod problems;
mod recurrences;

use std::sync::Arc;

use fiveledger_platform::access_log::{self, AccessLog};
use fiveledger_platform::auth::{Caller, Role, RoleTable};
use fiveledger_platform::outbox::EventContext;
use fiveledger_platform::service_identity::{EventReaders, ServiceCalls};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::Clock;
use fiveledger_proto::issues::category_service_server::CategoryServiceServer;
use fiveledger_proto::issues::clue_service_server::ClueServiceServer;
use fiveledger_proto::issues::event_service_server::EventServiceServer;
use fiveledger_proto::issues::problem_service_server::ProblemServiceServer;
use fiveledger_proto::issues::recurrence_service_server::RecurrenceServiceServer;
use tokio_util::sync::CancellationToken;

use crate::settings::IssuesSettings;
use crate::upstream::Rounds;

/// The gRPC services this server exposes.
pub const SERVICES: &[&str] = &[
    "fiveledger.issues.v1.ProblemService",
    "fiveledger.issues.v1.CategoryService",
    "fiveledger.issues.v1.ClueService",
    "fiveledger.issues.v1.EventService",
    "fiveledger.issues.v1.RecurrenceService",
    access_log::SERVICE,
];

/// Everyone who works inside the suite may read problems (scope still applies).
const READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::InspectedUnit,
    Role::Supervisor,
    Role::DisciplineCommission,
    Role::Viewer,
];
/// Who registers problems: the office and the groups it sends.
const RECORDERS: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup];
const OFFICE: &[Role] = &[Role::InspectionOffice];
/// Who may hold clues (besides services that move them between books).
pub(crate) const CLUE_HOLDERS: &[Role] = &[Role::InspectionOffice, Role::DisciplineCommission];
const DISCIPLINE: &[Role] = &[Role::DisciplineCommission];
/// Who lists clues: their holders, and the organisation department, which
/// holds those handed to it (organisational and personnel discipline).
const CLUE_READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::DisciplineCommission,
    Role::Supervisor,
];
/// Who disposes of a clue, records its outcome, reopens it and signs for
/// it: the body holding it, the discipline commission or the organisation
/// department for its own clues (which body is checked per clue).
const CLUE_DISPOSERS: &[Role] = &[Role::DisciplineCommission, Role::Supervisor];
/// Who signs for a clue handed over (签收): its receiving body.
const CLUE_SIGNERS: &[Role] = &[
    Role::DisciplineCommission,
    Role::InspectionOffice,
    Role::Supervisor,
];
/// Who hands clues over: the receiving body's discipline commission or
/// inspection office (which body is checked per clue).
const CLUE_RECEIVERS: &[Role] = &[Role::DisciplineCommission, Role::InspectionOffice];

/// Roles each RPC needs (admin may call everything; anything absent is denied).
pub const ROLES: RoleTable = &[
    ("/fiveledger.issues.v1.ProblemService/GetProblem", READERS),
    ("/fiveledger.issues.v1.ProblemService/ListProblems", READERS),
    (
        "/fiveledger.issues.v1.ProblemService/CreateProblem",
        RECORDERS,
    ),
    (
        "/fiveledger.issues.v1.ProblemService/UpdateProblem",
        RECORDERS,
    ),
    (
        "/fiveledger.issues.v1.ProblemService/DeleteProblem",
        RECORDERS,
    ),
    (
        "/fiveledger.issues.v1.ProblemService/ImportProblems",
        RECORDERS,
    ),
    (
        "/fiveledger.issues.v1.ProblemService/GetProblemList",
        READERS,
    ),
    (
        "/fiveledger.issues.v1.ProblemService/FreezeProblemList",
        RECORDERS,
    ),
    ("/fiveledger.issues.v1.CategoryService/GetCategory", READERS),
    (
        "/fiveledger.issues.v1.CategoryService/ListCategories",
        READERS,
    ),
    (
        "/fiveledger.issues.v1.CategoryService/CreateCategory",
        OFFICE,
    ),
    (
        "/fiveledger.issues.v1.CategoryService/UpdateCategory",
        OFFICE,
    ),
    ("/fiveledger.issues.v1.ClueService/CreateClue", RECORDERS),
    // Anyone may ask; whoever is not a clue holder is told it does not exist.
    ("/fiveledger.issues.v1.ClueService/GetClue", READERS),
    ("/fiveledger.issues.v1.ClueService/ListClues", CLUE_READERS),
    (
        "/fiveledger.issues.v1.ClueService/GetClueStatistics",
        CLUE_HOLDERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/DisposeClue",
        CLUE_DISPOSERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/RecordClueOutcome",
        CLUE_DISPOSERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/ReopenClue",
        CLUE_DISPOSERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/TransferClue",
        CLUE_RECEIVERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/AcknowledgeClueTransfer",
        CLUE_SIGNERS,
    ),
    // Whoever holds clues sweeps the warnings of those it holds.
    (
        "/fiveledger.issues.v1.ClueService/SweepClueWarnings",
        CLUE_HOLDERS,
    ),
    // The case-supervision office (案件监督管理室) of the commission
    // reconciles with the handling bodies; holders read and verify.
    (
        "/fiveledger.issues.v1.ClueService/CreateClueReconciliation",
        DISCIPLINE,
    ),
    (
        "/fiveledger.issues.v1.ClueService/GetClueReconciliation",
        CLUE_HOLDERS,
    ),
    (
        "/fiveledger.issues.v1.ClueService/VerifyClueReconciliation",
        CLUE_HOLDERS,
    ),
    (
        "/fiveledger.issues.v1.EventService/WatchEvents",
        &[Role::Admin],
    ),
    // Back-tracking (倒查) is the offices' business (scope in the handler).
    (
        "/fiveledger.issues.v1.RecurrenceService/GetRecurrence",
        OFFICE,
    ),
    (
        "/fiveledger.issues.v1.RecurrenceService/ListRecurrences",
        OFFICE,
    ),
    (
        "/fiveledger.issues.v1.RecurrenceService/DecideRecurrence",
        OFFICE,
    ),
    (access_log::LIST, access_log::READERS),
    (access_log::VERIFY, access_log::READERS),
];

/// What each peer service may call here with its own identity: the ledger
/// follows frozen lists; the rounds service asks at feedback whether an
/// inspection's list holds ideology problems. (Statistics and reconciliation read clue figures
/// and problems with the caller's own token, judged by the caller's scope.)
pub const SERVICE_CALLS: ServiceCalls = &[
    (
        "ledgers",
        &["/fiveledger.issues.v1.EventService/WatchEvents"],
    ),
    // At feedback: are there ideology problems to hand to propaganda?
    (
        "rounds",
        &["/fiveledger.issues.v1.ProblemService/ListProblems"],
    ),
];
/// The events each peer may stream: the ledger opens entries from frozen
/// lists and streams clue colour changes in `WatchWarnings`; it reads no
/// other clue event.
pub const EVENT_READERS: EventReaders = &[("ledgers", &["ProblemListFrozen", "ClueWarned"])];

/// What every handler holds.
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub settings: Arc<IssuesSettings>,
    pub stop: CancellationToken,
    pub rounds: Rounds,
    /// Today, for clue transfers.
    pub clock: Clock,
    /// Where confidential reads are recorded.
    pub access: AccessLog,
}

pub(crate) fn context(caller: &Caller, request_id: &str) -> EventContext {
    EventContext {
        actor: caller.actor(),
        request_id: request_id.to_owned(),
        traceparent: String::new(),
        ..Default::default()
    }
}

pub fn routes(api: Api, server: &ServerSettings) -> tonic::service::Routes {
    let max = server.limits.max_message_bytes;
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(ProblemServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(CategoryServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(ClueServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(RecurrenceServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(access_log::service(api.db.clone(), api.access.clone(), max))
        .add_service(EventServiceServer::new(api).max_decoding_message_size(max));
    routes.routes()
}
