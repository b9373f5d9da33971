//! The rounds service: the directory of organisations, the talent pool of
//! inspectors, rounds, inspection groups (with avoidance enforced) and
//! inspections with their timeline.

pub mod domain;
pub mod grpc;
pub mod settings;
pub mod staffing;
pub mod storage;
pub mod sweep;

use std::sync::Arc;

use futures::FutureExt;

use fiveledger_platform::server::{self, Running, ServiceSpec, Wiring};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::time::Clock;
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
    start_with_clock(server_settings, settings, Clock::system(), stop).await
}

/// [`start`] with the clock the service reads today from (overdue double
/// reports, their colours and the sweep); tests pin and move it.
pub async fn start_with_clock(
    server_settings: &ServerSettings,
    mut settings: RoundsSettings,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    settings.warnings = server_settings.warnings;
    let spec = ServiceSpec {
        name: NAME,
        grpc_services: grpc::SERVICES,
        roles: grpc::ROLES,
        service_calls: grpc::SERVICE_CALLS,
    };
    let handler_stop = stop.clone();
    server::launch::<storage::Migrator>(spec, server_settings, stop, |db, _outbound| {
        let settings = Arc::new(settings);
        let mut background = Vec::new();
        if settings.sweep_interval_seconds > 0 {
            background.push(
                sweep::run_periodic(
                    db.clone(),
                    settings.clone(),
                    clock.clone(),
                    handler_stop.clone(),
                )
                .boxed(),
            );
        }
        let api = grpc::Api {
            db: db.clone(),
            settings,
            stop: handler_stop,
            clock,
        };
        Ok(Wiring {
            routes: grpc::routes(api, server_settings),
            background,
            levels: Some(Arc::new(storage::organisations::LocalLevels(db.clone()))),
            consumers: Vec::new(),
            access_log: None,
        })
    })
    .await
}
