//! The ledgers service: the five-ledger journal, warnings, rates and reconciliation.

pub mod consumers;
pub mod domain;
pub mod grpc;
pub mod settings;
pub mod storage;
pub mod sweep;
pub mod upstream;

use std::sync::Arc;

use fiveledger_platform::access_log::AccessLog;
use fiveledger_platform::consumer::{Consumer, EventSource};
use fiveledger_platform::levels::RemoteLevels;
use fiveledger_platform::server::{self, Running, ServiceSpec, Wiring};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::time::Clock;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

pub use settings::LedgersSettings;

/// Short name: settings section, SQLite file, logs.
pub const NAME: &str = "ledgers";
/// Default port of the service.
pub const DEFAULT_PORT: u16 = 50053;

/// Runs the service's migrations and returns (`fiveledger-ledgers migrate`,
/// `fiveledger migrate`).
pub async fn migrate(
    server_settings: &ServerSettings,
) -> anyhow::Result<fiveledger_platform::schema_compat::Migrated> {
    server::migrate::<storage::Migrator>(NAME, server_settings).await
}

/// Starts the service; returns once it is migrated and SERVING.
pub async fn start(
    server_settings: &ServerSettings,
    settings: LedgersSettings,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    start_with_clock(server_settings, settings, Clock::system(), stop).await
}

/// [`start`] with the clock the service goes by (tests pin and move it).
pub async fn start_with_clock(
    server_settings: &ServerSettings,
    mut settings: LedgersSettings,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    settings.warnings = server_settings.warnings;
    settings.validate()?;
    let spec = ServiceSpec {
        name: NAME,
        grpc_services: grpc::SERVICES,
        roles: grpc::ROLES,
        service_calls: grpc::SERVICE_CALLS,
    };
    let handler_stop = stop.clone();
    let upstream = server_settings.upstream.clone();
    server::launch::<storage::Migrator>(spec, server_settings, stop.clone(), |db, outbound| {
        let credentials = outbound.credentials.clone();
        let issues = outbound.channel(&upstream.issues)?;
        let rounds = outbound.channel(&upstream.rounds)?;
        let settings = Arc::new(settings);
        let issues_api = upstream::Issues::new(issues.clone(), credentials.clone());
        let rounds_api = upstream::Rounds::new(rounds.clone(), credentials.clone());
        let levels = RemoteLevels::new(rounds.clone(), credentials.clone(), db.clone());
        let consumers = vec![
            Consumer {
                name: consumers::PROBLEM_LISTS.into(),
                source: EventSource::Issues(issues.clone(), credentials.clone()),
                types: vec!["ProblemListFrozen".into()],
                handler: Box::new(consumers::OpenEntries {
                    settings: settings.clone(),
                    clock: clock.clone(),
                }),
            },
            Consumer {
                name: consumers::CLUE_WARNINGS.into(),
                source: EventSource::Issues(issues, credentials.clone()),
                types: vec!["ClueWarned".into()],
                handler: Box::new(consumers::NoteClueWarning),
            },
            Consumer {
                name: consumers::FEEDBACK.into(),
                source: EventSource::Rounds(rounds, credentials),
                types: vec!["FeedbackGiven".into()],
                handler: Box::new(consumers::HandOver {
                    settings: settings.clone(),
                    clock: clock.clone(),
                }),
            },
        ];
        let mut background = Vec::new();
        if settings.sweep_interval_seconds > 0 {
            background.push(
                sweep::run_periodic(
                    db.clone(),
                    settings.clone(),
                    clock.clone(),
                    rounds_api.clone(),
                    stop.clone(),
                )
                .boxed(),
            );
        }
        let access = AccessLog::start(db.clone(), &server_settings.access_log);
        let api = grpc::Api {
            db: db.clone(),
            settings,
            issues: issues_api,
            rounds: rounds_api,
            stop: handler_stop,
            clock,
            access: access.clone(),
        };
        Ok(Wiring {
            routes: grpc::routes(api, server_settings),
            background,
            levels: Some(Arc::new(levels)),
            consumers,
            access_log: Some(access),
        })
    })
    .await
}
