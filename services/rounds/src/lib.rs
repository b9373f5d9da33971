//! The rounds service: the directory of organisations, and (to come)
//! inspectors, rounds, inspection groups and inspections with their timeline.

pub mod domain;
pub mod grpc;
pub mod settings;
pub mod storage;

use std::sync::Arc;

use fiveledger_platform::auth::Hs256;
use fiveledger_platform::server::{self, Running, ServiceSpec};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::storage::Db;
use tokio_util::sync::CancellationToken;

pub use settings::RoundsSettings;

/// Short name: settings section, SQLite file, logs.
pub const NAME: &str = "rounds";
/// Default port of the service.
pub const DEFAULT_PORT: u16 = 50051;

/// Starts the service; returns once it is migrated and SERVING.
pub async fn start(
    server_settings: &ServerSettings,
    settings: RoundsSettings,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    let verifier = Hs256::from_settings(&server_settings.auth, None)?;
    let db = Db::connect(
        &server_settings.database,
        &server_settings.data_dir.join(format!("{NAME}.sqlite")),
    )
    .await?;
    let routes = grpc::routes(db.clone(), Arc::new(settings), server_settings, stop.clone());
    server::start::<storage::Migrator>(
        ServiceSpec {
            name: NAME,
            grpc_services: grpc::SERVICES,
            roles: grpc::ROLES,
        },
        server_settings,
        Arc::new(verifier),
        db,
        routes,
        Vec::new(),
        stop,
    )
    .await
}
