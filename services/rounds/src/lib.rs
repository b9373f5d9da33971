//! The rounds service: the directory of organisations, the talent pool of
//! inspectors, rounds, inspection groups (with avoidance enforced) and
//! inspections with their timeline.

pub mod domain;
pub mod grpc;
pub mod hand_off_sweep;
pub mod settings;
pub mod staffing;
pub mod storage;
pub mod sweep;
pub mod upstream;

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

/// Runs the service's migrations and returns (`fiveledger-rounds migrate`,
/// `fiveledger migrate`).
pub async fn migrate(
    server_settings: &ServerSettings,
) -> anyhow::Result<fiveledger_platform::schema_compat::Migrated> {
    server::migrate::<storage::Migrator>(NAME, server_settings).await
}

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
    settings: RoundsSettings,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    start_on_schema::<storage::Migrator>(server_settings, settings, clock, stop).await
}

/// [`start_with_clock`] with the migrations of `S` in place of this
/// release's: how a test plays the next release's binary (its schema a
/// step further) against databases of this one, and the reverse.
pub async fn start_on_schema<S: fiveledger_platform::schema_compat::Schema>(
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
    let issues_url = server_settings.upstream.issues.clone();
    server::launch::<S>(spec, server_settings, stop, |db, outbound| {
        let issues =
            upstream::Issues::new(outbound.channel(&issues_url)?, outbound.credentials.clone());
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
            issues,
            organisations: storage::organisations::reads(db),
        };
        Ok(Wiring {
            routes: grpc::routes(api, server_settings),
            background,
            levels: Some(Arc::new(storage::organisations::LocalLevels::new(
                db.clone(),
            ))),
            consumers: Vec::new(),
            access_log: None,
        })
    })
    .await
}
