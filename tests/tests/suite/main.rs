//! The one-command suite: three services, each serving, reachable with the
//! same token, each owning its own database.
//!
//! All end-to-end tests but those that install process-wide telemetry
//! (tracing.rs, event_trace.rs, metrics.rs: a global subscriber or meter
//! per process) link into this one binary: one link instead of twenty, and
//! about 2 GB less in target/ (CI once died of a full disk in the linker).
//! Run one file's tests by its module: `cargo test -p fiveledger-e2e --test suite lifecycle::`.

mod access_log;
mod backup;
mod big_lists;
mod bounds;
mod chaos;
mod cli;
mod common;
mod cross_service;
mod deadlines;
mod deploy;
mod exported_workbook;
mod group_commit;
mod identity_provider;
mod ledger_history;
mod lifecycle;
mod matrix;
mod office_sheets;
mod outbox_order;
mod public_sheet;
mod replay;
mod replicas;
mod request_ids;
mod server;
mod service_identity;
mod tls;
mod transient_faults;

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{ListOrganisationsRequest, Organisation, OrganisationKind};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test]
async fn every_service_of_the_suite_is_serving() {
    let t = spawn_suite(Default::default()).await;
    for (channel, short, service) in [
        (
            &t.rounds,
            "rounds",
            "fiveledger.rounds.v1.OrganisationService",
        ),
        (&t.issues, "issues", "fiveledger.issues.v1.EventService"),
        (&t.ledgers, "ledgers", "fiveledger.ledgers.v1.EventService"),
    ] {
        for name in ["", short, service] {
            let status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: name.into(),
                })
                .await
                .expect("health")
                .into_inner()
                .status;
            assert_eq!(status, ServingStatus::Serving as i32, "{service} {name:?}");
        }
    }
    t.suite.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn the_suite_accepts_tokens_signed_with_its_key() {
    let t = spawn_suite(Default::default()).await;
    let token = testing::token("e2e", "", &[Role::Admin]);
    let mut orgs = OrganisationServiceClient::new(t.rounds.clone());
    orgs.create_organisation(authed(
        &token,
        fiveledger_proto::rounds::CreateOrganisationRequest {
            organisation: Some(Organisation {
                display_name: "广西".into(),
                kind: OrganisationKind::Region as i32,
                ..Default::default()
            }),
            organisation_id: "guangxi".into(),
            request_id: String::new(),
        },
    ))
    .await
    .expect("create");
    let listed = orgs
        .list_organisations(authed(&token, ListOrganisationsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.organisations.len(), 1);
}

/// Runs only when asked (`--ignored postgres_suite`), and then insists on a
/// reachable PostgreSQL, so a CI run cannot silently fall back to SQLite.
#[tokio::test]
#[ignore = "PostgreSQL suite skipped: set FIVELEDGER_TEST_DATABASE_URL=postgres://… (see README; CI does)"]
async fn postgres_suite() {
    let url = testing::postgres_url()
        .expect("FIVELEDGER_TEST_DATABASE_URL must be set for the PostgreSQL suite");
    let db = sea_orm::Database::connect(url)
        .await
        .expect("PostgreSQL is reachable");
    assert_eq!(db.get_database_backend(), sea_orm::DbBackend::Postgres);
    assert_eq!(testing::backend(), "postgres");
}
