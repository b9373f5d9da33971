//! The issues service: problem lists, the four responsibility lists and clues.

pub mod clue_sweep;
pub mod domain;
pub mod feedback;
pub mod freezing;
pub mod grpc;
pub mod problem_events;
pub mod recurrence_check;
pub mod settings;
pub mod storage;
pub mod upstream;

use std::sync::Arc;

use fiveledger_platform::access_log::AccessLog;
use fiveledger_platform::consumer::{Consumer, EventSource};
use fiveledger_platform::levels::RemoteLevels;
use fiveledger_platform::server::{self, Running, ServiceSpec, Wiring};
use fiveledger_platform::settings::ServerSettings;
use fiveledger_platform::time::Clock;
use tokio_util::sync::CancellationToken;

pub use settings::IssuesSettings;

/// Short name: settings section, SQLite file, logs.
pub const NAME: &str = "issues";
/// Default port of the service.
pub const DEFAULT_PORT: u16 = 50052;
/// Name of this service's cursor in the rounds service's events.
pub const REPORTED_CONSUMER: &str = "issues.inspection-reported";
/// Name of this service's cursor on the rounds service's feedback events.
pub const FEEDBACK_CONSUMER: &str = "issues.feedback-given";

/// Runs the service's migrations and returns (`fiveledger-issues migrate`,
/// `fiveledger migrate`).
pub async fn migrate(
    server_settings: &ServerSettings,
) -> anyhow::Result<fiveledger_platform::schema_compat::Migrated> {
    server::migrate::<storage::Migrator>(NAME, server_settings).await
}

/// Starts the service; returns once it is migrated and SERVING.
pub async fn start(
    server_settings: &ServerSettings,
    settings: IssuesSettings,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    start_with_clock(server_settings, settings, Clock::system(), stop).await
}

/// As [`start`], with the clock the domain reads today from (clue transfer
/// dates and due dates); tests pin it.
pub async fn start_with_clock(
    server_settings: &ServerSettings,
    mut settings: IssuesSettings,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    settings.warnings = server_settings.warnings;
    // An unknown decision level is a configuration error, refused at start.
    settings.disposal_levels()?;
    let settings = Arc::new(settings);
    let spec = ServiceSpec {
        name: NAME,
        grpc_services: grpc::SERVICES,
        roles: grpc::ROLES,
        service_calls: grpc::SERVICE_CALLS,
    };
    settings.validate()?;
    let handler_stop = stop.clone();
    let check_stop = stop.clone();
    server::launch::<storage::Migrator>(spec, server_settings, stop, |db, outbound| {
        let credentials = outbound.credentials.clone();
        let channel = outbound.channel(&server_settings.upstream.rounds)?;
        let rounds = upstream::Rounds::new(channel.clone(), credentials.clone());
        let levels = RemoteLevels::new(channel.clone(), credentials.clone(), db.clone());
        // Feedback hands a list over (its problems become readable beyond
        // the office and group): always followed, it is a scope boundary.
        let mut consumers = vec![Consumer {
            name: FEEDBACK_CONSUMER.to_owned(),
            source: EventSource::Rounds(channel.clone(), credentials.clone()),
            types: vec!["FeedbackGiven".to_owned()],
            handler: Box::new(feedback::OnFeedbackGiven {
                clock: clock.clone(),
            }),
        }];
        if settings.follow_rounds_events {
            consumers.push(Consumer {
                name: REPORTED_CONSUMER.to_owned(),
                source: EventSource::Rounds(channel, credentials),
                types: vec!["InspectionReported".to_owned()],
                handler: Box::new(freezing::OnInspectionReported {
                    clock: clock.clone(),
                }),
            });
        }
        let mut background = Vec::new();
        if settings.recurrence_check_interval_ms > 0 {
            // Back-tracking (倒查) of each frozen list against its unit's
            // earlier ones.
            let checker = recurrence_check::Checker {
                db: db.clone(),
                rounds: rounds.clone(),
                clock: clock.clone(),
                window_years: settings.recurrence_window_years,
                rule: Arc::new(domain::recurrence::CategoryAndUnit),
            };
            background.push(Box::pin(checker.run_periodically(
                std::time::Duration::from_millis(settings.recurrence_check_interval_ms),
                check_stop,
            )) as futures::future::BoxFuture<'static, ()>);
        }
        if settings.clue_sweep_interval_seconds > 0 {
            background.push(Box::pin(clue_sweep::run_periodic(
                db.clone(),
                settings.clone(),
                clock.clone(),
                handler_stop.clone(),
            )) as futures::future::BoxFuture<'static, ()>);
        }
        let access = AccessLog::start(db.clone(), &server_settings.access_log);
        Ok(Wiring {
            routes: grpc::routes(
                grpc::Api {
                    db: db.clone(),
                    settings: settings.clone(),
                    stop: handler_stop,
                    rounds,
                    clock: clock.clone(),
                    access: access.clone(),
                },
                server_settings,
            ),
            background,
            consumers,
            levels: Some(Arc::new(levels)),
            access_log: Some(access),
        })
    })
    .await
}
