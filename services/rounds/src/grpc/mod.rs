//! gRPC handlers: parse the request, run one transaction, map the result.

mod events;
mod filters;
mod groups;
mod handoffs;
mod inspections;
mod inspectors;
mod organisations;
mod rounds;
mod scope;

/// The handlers' request parsing that needs no storage (driven by the fuzz
/// targets in fuzz/).
pub mod parsing {
    pub use super::groups::{parse_additions, parse_staff};
    pub use super::inspectors::ALL_FIELDS as INSPECTOR_FIELDS;
    pub use super::rounds::parse_patch as parse_round_patch;
    pub use crate::domain::inspection::{parse_feedback_part, parse_report, required_date};
}

use std::sync::Arc;

use fiveledger_platform::auth::{Role, RoleTable};
use fiveledger_platform::service_identity::{EventReaders, ServiceCalls};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::Clock;
use fiveledger_proto::rounds::event_service_server::EventServiceServer;
use fiveledger_proto::rounds::group_service_server::GroupServiceServer;
use fiveledger_proto::rounds::hand_off_service_server::HandOffServiceServer;
use fiveledger_proto::rounds::inspection_service_server::InspectionServiceServer;
use fiveledger_proto::rounds::inspector_service_server::InspectorServiceServer;
use fiveledger_proto::rounds::organisation_service_server::OrganisationServiceServer;
use fiveledger_proto::rounds::round_service_server::RoundServiceServer;
use tokio_util::sync::CancellationToken;

use crate::settings::RoundsSettings;

/// The gRPC services this server exposes.
pub const SERVICES: &[&str] = &[
    "fiveledger.rounds.v1.OrganisationService",
    "fiveledger.rounds.v1.InspectorService",
    "fiveledger.rounds.v1.RoundService",
    "fiveledger.rounds.v1.GroupService",
    "fiveledger.rounds.v1.InspectionService",
    "fiveledger.rounds.v1.HandOffService",
    "fiveledger.rounds.v1.EventService",
];

/// Everyone who works inside the suite may read the directory.
const READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::InspectedUnit,
    Role::Supervisor,
    Role::DisciplineCommission,
    Role::Viewer,
];
const OFFICE: &[Role] = &[Role::InspectionOffice];
/// Steps a group's leader may take on site (checked against the group in
/// the handler); the office running the round may take them too.
const OFFICE_OR_LEADER: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup];
/// Who works with rounds, groups and the talent pool (not inspected units).
const STAFF_READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::Supervisor,
    Role::DisciplineCommission,
    Role::Viewer,
];

/// Who reads hand-offs: the receiving bodies and who follows them.
const HAND_OFF_READERS: &[Role] = &[
    Role::DisciplineCommission,
    Role::Supervisor,
    Role::InspectionOffice,
    Role::Viewer,
];

/// Roles each RPC needs (admin may call everything; anything absent is denied).
pub const ROLES: RoleTable = &[
    (
        "/fiveledger.rounds.v1.OrganisationService/CreateOrganisation",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.OrganisationService/GetOrganisation",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.OrganisationService/BatchGetOrganisations",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.OrganisationService/ListOrganisations",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.OrganisationService/UpdateOrganisation",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectorService/CreateInspector",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectorService/GetInspector",
        STAFF_READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectorService/ListInspectors",
        STAFF_READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectorService/UpdateInspector",
        OFFICE,
    ),
    ("/fiveledger.rounds.v1.RoundService/CreateRound", OFFICE),
    ("/fiveledger.rounds.v1.RoundService/GetRound", READERS),
    ("/fiveledger.rounds.v1.RoundService/ListRounds", READERS),
    ("/fiveledger.rounds.v1.RoundService/UpdateRound", OFFICE),
    ("/fiveledger.rounds.v1.RoundService/StartRound", OFFICE),
    ("/fiveledger.rounds.v1.RoundService/CloseRound", OFFICE),
    ("/fiveledger.rounds.v1.GroupService/CreateGroup", OFFICE),
    ("/fiveledger.rounds.v1.GroupService/GetGroup", STAFF_READERS),
    (
        "/fiveledger.rounds.v1.GroupService/ListGroups",
        STAFF_READERS,
    ),
    ("/fiveledger.rounds.v1.GroupService/AddGroupMembers", OFFICE),
    (
        "/fiveledger.rounds.v1.GroupService/RemoveGroupMembers",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/GetInspection",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/BatchGetInspections",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/ListInspections",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/GetInspectionTimeline",
        READERS,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/CreateInspection",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/AssignInspectionGroup",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/RecordBriefing",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/StartStationing",
        OFFICE_OR_LEADER,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/ReportInspection",
        OFFICE_OR_LEADER,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/NotifyLeadersInCharge",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/GiveFeedback",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/StartRectification",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/RecordDoubleReport",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/CloseInspection",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.InspectionService/SweepDoubleReports",
        OFFICE,
    ),
    (
        "/fiveledger.rounds.v1.HandOffService/ListHandOffs",
        HAND_OFF_READERS,
    ),
    (
        "/fiveledger.rounds.v1.HandOffService/AcknowledgeHandOff",
        crate::domain::hand_off::RECEIVER_ROLES,
    ),
    (
        "/fiveledger.rounds.v1.HandOffService/RecordHandOffResult",
        crate::domain::hand_off::RECEIVER_ROLES,
    ),
    ("/fiveledger.rounds.v1.HandOffService/SweepHandOffs", OFFICE),
    (
        "/fiveledger.rounds.v1.EventService/WatchEvents",
        &[Role::Admin],
    ),
];

/// What each peer service may call here with its own identity: the
/// inspections it files problems and entries under, the directory it
/// resolves bodies and levels in, and the events it follows.
pub const SERVICE_CALLS: ServiceCalls = &[
    (
        "issues",
        &[
            "/fiveledger.rounds.v1.InspectionService/GetInspection",
            // Back-tracking (倒查) compares a unit's inspections in batches.
            "/fiveledger.rounds.v1.InspectionService/BatchGetInspections",
            "/fiveledger.rounds.v1.OrganisationService/GetOrganisation",
            "/fiveledger.rounds.v1.OrganisationService/BatchGetOrganisations",
            "/fiveledger.rounds.v1.OrganisationService/ListOrganisations",
            "/fiveledger.rounds.v1.EventService/WatchEvents",
        ],
    ),
    (
        "ledgers",
        &[
            "/fiveledger.rounds.v1.InspectionService/GetInspection",
            "/fiveledger.rounds.v1.OrganisationService/GetOrganisation",
            "/fiveledger.rounds.v1.OrganisationService/BatchGetOrganisations",
            "/fiveledger.rounds.v1.EventService/WatchEvents",
        ],
    ),
];
/// The events each peer may stream: issues freezes lists when an
/// inspection reports and opens them at feedback; the ledger hands entries
/// over at feedback.
pub const EVENT_READERS: EventReaders = &[
    ("issues", &["InspectionReported", "FeedbackGiven"]),
    ("ledgers", &["FeedbackGiven"]),
];

/// What every handler holds.
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub settings: Arc<RoundsSettings>,
    pub stop: CancellationToken,
    /// Where "today" comes from (overdue, colours, the sweep).
    pub clock: Clock,
    /// Asked at feedback whether there are ideology problems to hand off.
    pub issues: crate::upstream::Issues,
    /// Organisations read by id outside a write.
    pub organisations: Arc<crate::storage::organisations::Reads>,
}

pub fn routes(api: Api, server: &ServerSettings) -> tonic::service::Routes {
    let max = server.limits.max_message_bytes;
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(OrganisationServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(InspectorServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(RoundServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(GroupServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(InspectionServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(HandOffServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(EventServiceServer::new(api).max_decoding_message_size(max));
    routes.routes()
}
