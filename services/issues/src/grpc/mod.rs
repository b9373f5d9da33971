//! gRPC handlers: parse the request, run one transaction, map the result.

mod events;

use std::sync::Arc;

use fiveledger_platform::auth::{Role, RoleTable};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use fiveledger_proto::issues::event_service_server::EventServiceServer;
use tokio_util::sync::CancellationToken;

use crate::settings::IssuesSettings;

/// The gRPC services this server exposes.
pub const SERVICES: &[&str] = &["fiveledger.issues.v1.EventService"];

/// Roles each RPC needs (admin may call everything; anything absent is denied).
pub const ROLES: RoleTable = &[(
    "/fiveledger.issues.v1.EventService/WatchEvents",
    &[Role::Service],
)];

/// What every handler holds.
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub settings: Arc<IssuesSettings>,
    pub stop: CancellationToken,
}

pub fn routes(
    db: Db,
    settings: Arc<IssuesSettings>,
    server: &ServerSettings,
    stop: CancellationToken,
) -> tonic::service::Routes {
    let api = Api { db, settings, stop };
    let max = server.limits.max_message_bytes;
    let mut routes = tonic::service::Routes::builder();
    routes.add_service(EventServiceServer::new(api).max_decoding_message_size(max));
    routes.routes()
}
