//! gRPC handlers: parse the request, run one transaction, map the result.

mod events;
mod organisations;

use std::sync::Arc;

use fiveledger_platform::auth::{Role, RoleTable};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use fiveledger_proto::rounds::event_service_server::EventServiceServer;
use fiveledger_proto::rounds::organisation_service_server::OrganisationServiceServer;
use tokio_util::sync::CancellationToken;

use crate::settings::RoundsSettings;

/// The gRPC services this server exposes.
pub const SERVICES: &[&str] = &[
    "fiveledger.rounds.v1.OrganisationService",
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
    Role::Service,
];
const OFFICE: &[Role] = &[Role::InspectionOffice];

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
        "/fiveledger.rounds.v1.EventService/WatchEvents",
        &[Role::Service],
    ),
];

/// What every handler holds.
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub settings: Arc<RoundsSettings>,
    pub stop: CancellationToken,
}

pub fn routes(
    db: Db,
    settings: Arc<RoundsSettings>,
    server: &ServerSettings,
    stop: CancellationToken,
) -> tonic::service::Routes {
    let api = Api { db, settings, stop };
    let max = server.limits.max_message_bytes;
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(OrganisationServiceServer::new(api.clone()).max_decoding_message_size(max))
        .add_service(EventServiceServer::new(api).max_decoding_message_size(max));
    routes.routes()
}
