//! Upgrades and rollbacks (expand/contract): this release's binary serves
//! a database the next release expanded (a rollback), the next release's
//! binary migrates a database of this one or refuses it until migrated,
//! and a contracted schema refuses the binaries before it, each with an
//! error naming both versions. The next releases are played by migrators
//! with this release's migrations and one or two more.

use fiveledger_platform::schema_compat::{self, Schema, Step};
use fiveledger_platform::server::Running;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv};
use fiveledger_platform::time::Clock;
use fiveledger_proto::rounds::OrganisationKind;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{CreateOrganisationRequest, GetOrganisationRequest, Organisation};
use fiveledger_rounds::RoundsSettings;
use fiveledger_rounds::storage::Migrator;
use sea_orm_migration::prelude::*;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::common::{admin, noon, today};

const PROBE: &str = "upgrade_probe";

/// The next release's expand step: a table this release does not know.
struct AddProbe;

impl MigrationName for AddProbe {
    fn name(&self) -> &str {
        "m29990101_000001_add_upgrade_probe"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddProbe {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PROBE)
                    .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                    .to_owned(),
            )
            .await
    }
}

/// The release after: a contract step (a table dropped) that the
/// binaries before it may still use.
struct DropProbe;

impl MigrationName for DropProbe {
    fn name(&self) -> &str {
        "m29990201_000001_drop_upgrade_probe"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DropProbe {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PROBE).to_owned())
            .await
    }
}

/// The next release: this one's migrations and one expand step.
struct NextRelease;

impl Schema for NextRelease {
    const VERSION: i64 = Migrator::VERSION + 1;

    fn steps() -> Vec<Step> {
        let mut steps = Migrator::steps();
        steps.push(Step::expand(AddProbe));
        steps
    }
}

#[async_trait::async_trait]
impl MigratorTrait for NextRelease {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        schema_compat::migrations::<Self>()
    }
}

/// The release after the next: it contracts what the next one expanded.
struct Contracting;

impl Schema for Contracting {
    const VERSION: i64 = NextRelease::VERSION + 1;

    fn steps() -> Vec<Step> {
        let mut steps = NextRelease::steps();
        steps.push(Step::contract(DropProbe));
        steps
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Contracting {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        schema_compat::migrations::<Self>()
    }
}

async fn db(env: &TestEnv) -> Db {
    Db::connect(
        &env.settings.database,
        &env.settings.data_dir.join("rounds.sqlite"),
    )
    .await
    .expect("the database")
}

/// Runs `S`'s migrate step, as that release's `fiveledger-rounds migrate`.
async fn migrate_as<S: Schema>(env: &TestEnv) -> schema_compat::Migrated {
    let db = db(env).await;
    let migrated = db.migrate_schema::<S>("rounds").await.expect("migrates");
    db.close().await;
    migrated
}

async fn recorded(env: &TestEnv) -> schema_compat::Recorded {
    let db = db(env).await;
    let recorded = schema_compat::read(db.reader()).await.expect("reads");
    db.close().await;
    recorded.expect("a schema version recorded")
}

/// Starts the rounds service as the binary of schema `S`, migrating at
/// start or not.
async fn serve<S: Schema>(env: &TestEnv, migrate: bool) -> anyhow::Result<Running> {
    let mut settings = env.settings.clone();
    settings.database.migrate = migrate;
    fiveledger_rounds::start_on_schema::<S>(
        &settings,
        RoundsSettings::default(),
        Clock::fixed(noon(today())),
        CancellationToken::new(),
    )
    .await
}

async fn channel(running: &Running) -> Channel {
    Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// A write and a read through the running service.
async fn serves(running: &Running, id: &str) {
    let mut orgs = OrganisationServiceClient::new(channel(running).await);
    let created = orgs
        .create_organisation(testing::authed(
            &admin(),
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: format!("{id} 区"),
                    kind: OrganisationKind::Region as i32,
                    ..Default::default()
                }),
                organisation_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("creating {id}: {s:?}"))
        .into_inner();
    let read = orgs
        .get_organisation(testing::authed(
            &admin(),
            GetOrganisationRequest {
                name: created.name.clone(),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("reading {id}: {s:?}"))
        .into_inner();
    assert_eq!(read.display_name, format!("{id} 区"));
}

async fn exists(running: &Running, id: &str) -> bool {
    OrganisationServiceClient::new(channel(running).await)
        .get_organisation(testing::authed(
            &admin(),
            GetOrganisationRequest {
                name: format!("organisations/{id}"),
            },
        ))
        .await
        .is_ok()
}

fn refused(result: anyhow::Result<Running>) -> String {
    match result {
        Ok(_) => panic!("started against a schema it cannot serve"),
        Err(err) => format!("{err:#}"),
    }
}

#[tokio::test]
async fn this_release_serves_a_schema_the_next_release_expanded() {
    let env = TestEnv::new("rounds");
    let next = migrate_as::<NextRelease>(&env).await;
    assert_eq!(next.after.schema_version, Migrator::VERSION + 1);
    // The next release added no contract step: this binary still serves
    // (the oldest that does is this release's latest contract step's).
    assert_eq!(
        next.after.oldest_compatible,
        schema_compat::oldest_compatible::<Migrator>()
    );
    assert!(next.after.oldest_compatible <= Migrator::VERSION);

    // Rolled back, with the migrations run as a Job (migrate off)…
    let old = serve::<Migrator>(&env, false).await.expect("starts");
    serves(&old, "before-rollback").await;
    old.stop().await.expect("stops");
    // …or at start: it does not try to migrate a newer schema back.
    let old = serve::<Migrator>(&env, true).await.expect("starts");
    serves(&old, "after-rollback").await;
    assert!(exists(&old, "before-rollback").await);
    old.stop().await.expect("stops");
    assert_eq!(
        recorded(&env).await.schema_version,
        NextRelease::VERSION,
        "the older binary left the newer schema's record alone"
    );
    // Rolled forward again, the next release finds what was written.
    let next = serve::<NextRelease>(&env, false).await.expect("starts");
    assert!(exists(&next, "after-rollback").await);
    next.stop().await.expect("stops");
}

#[tokio::test]
async fn the_next_release_migrates_a_schema_of_this_one_or_refuses_it_until_migrated() {
    let env = TestEnv::new("rounds");
    // This release's migrate step, as `fiveledger-rounds migrate` runs it.
    let migrated = fiveledger_rounds::migrate(&env.settings)
        .await
        .expect("migrates");
    assert_eq!(migrated.after.schema_version, Migrator::VERSION);
    let again = fiveledger_rounds::migrate(&env.settings)
        .await
        .expect("migrates again");
    assert_eq!(again.before, Some(again.after), "nothing left to do");
    let current = serve::<Migrator>(&env, false).await.expect("starts");
    serves(&current, "guangxi").await;
    current.stop().await.expect("stops");

    // Not migrated yet: the next release refuses, naming both versions.
    let err = refused(serve::<NextRelease>(&env, false).await);
    assert!(
        err.contains(&format!("at schema version {}", Migrator::VERSION))
            && err.contains(&format!("needs schema version {}", NextRelease::VERSION))
            && err.contains("fiveledger-rounds migrate"),
        "{err}"
    );
    // Migrating at start, it migrates and serves what was there.
    let next = serve::<NextRelease>(&env, true).await.expect("starts");
    assert!(exists(&next, "guangxi").await);
    serves(&next, "nanning").await;
    next.stop().await.expect("stops");
    assert_eq!(recorded(&env).await.schema_version, NextRelease::VERSION);
}

#[tokio::test]
async fn a_contracted_schema_refuses_the_binaries_before_it() {
    let env = TestEnv::new("rounds");
    let contracted = migrate_as::<Contracting>(&env).await;
    assert_eq!(contracted.after.oldest_compatible, Contracting::VERSION);

    for migrate in [false, true] {
        let err = refused(serve::<Migrator>(&env, migrate).await);
        assert!(
            err.contains(&format!(
                "served only by binaries of schema version {} or later",
                Contracting::VERSION
            )) && err.contains(&format!(
                "this binary is of schema version {}",
                Migrator::VERSION
            )),
            "migrate={migrate}: {err}"
        );
    }
    let err = fiveledger_rounds::migrate(&env.settings)
        .await
        .expect_err("the migrate step of this release refuses too");
    assert!(format!("{err:#}").contains("or later"), "{err:#}");
    // The release that contracted it serves.
    let current = serve::<Contracting>(&env, false).await.expect("starts");
    serves(&current, "guangxi").await;
    current.stop().await.expect("stops");
}
