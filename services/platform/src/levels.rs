//! The level a body of a level serves (see [`crate::auth::Levels`]), asked
//! of the rounds service's organisation directory and remembered, in memory
//! and in the service's own database: an organisation's kind and path never
//! change, so an answer stays true, and a replica or a restarted instance
//! knows its callers while the rounds service is down (a retried request is
//! answered, not refused as UNAVAILABLE).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fiveledger_proto::rounds::GetOrganisationRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use futures::future::BoxFuture;
use tonic::transport::Channel;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbErr};
use sea_orm_migration::prelude::{DeriveMigrationName, MigrationTrait, SchemaManager, Table};

use crate::auth::{Levels, ServiceCredentials, parent_path, serves_level};
use crate::error::{ApiError, from_upstream};
use crate::storage::Db;

/// Most organisations remembered; past it the memory starts afresh.
const CAPACITY: usize = 10_000;
/// How long "no such organisation" is believed (it may be created later).
const UNKNOWN_FOR: Duration = Duration::from_secs(60);

/// One organisation whose level the rounds service told us.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisation_levels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub path: String,
    pub level: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The table of remembered levels (every service that asks rounds has it).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("organisation_levels")
                    .if_not_exists()
                    .col(crate::storage::path_column("path", backend).primary_key())
                    .col(crate::storage::path_column("level", backend))
                    .to_owned(),
            )
            .await
    }
}

/// The levels answered so far, in memory: a level for good (an
/// organisation's kind and path never change), "no such organisation" for
/// [`UNKNOWN_FOR`]. Past [`CAPACITY`] names it starts afresh.
#[derive(Default)]
pub struct Remembered(Mutex<HashMap<String, (String, Option<Instant>)>>);

impl Remembered {
    /// The level remembered for `path`, if any.
    pub fn level_of(&self, path: &str) -> Option<String> {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match known.get(path) {
            Some((level, None)) => Some(level.clone()),
            Some((level, Some(until))) if Instant::now() < *until => Some(level.clone()),
            _ => None,
        }
    }

    /// Remembers `level` for `path`: for good when the organisation was
    /// `found` at that path, else for a while.
    pub fn remember(&self, path: &str, level: &str, found: bool) {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= CAPACITY {
            known.clear();
        }
        let until = (!found).then(|| Instant::now() + UNKNOWN_FOR);
        known.insert(path.to_owned(), (level.to_owned(), until));
    }
}

/// [`Levels`] answered by the rounds service.
pub struct RemoteLevels {
    organisations: OrganisationServiceClient<crate::client_calls::Authed>,
    known: Remembered,
    db: Db,
}

impl RemoteLevels {
    pub fn new(rounds: Channel, credentials: ServiceCredentials, db: Db) -> Self {
        Self {
            organisations: OrganisationServiceClient::new(crate::client_calls::authed(
                rounds,
                credentials,
                "rounds",
            )),
            known: Remembered::default(),
            db,
        }
    }

    async fn stored(&self, path: &str) -> Result<Option<String>, ApiError> {
        Ok(Entity::find_by_id(path.to_owned())
            .one(self.db.reader())
            .await?
            .map(|m| m.level))
    }

    async fn store(&self, path: &str, level: &str) -> Result<(), ApiError> {
        Entity::insert(ActiveModel {
            path: Set(path.to_owned()),
            level: Set(level.to_owned()),
        })
        .on_conflict(OnConflict::column(Column::Path).do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(self.db.writer())
        .await?;
        Ok(())
    }
}

impl Levels for RemoteLevels {
    fn level_of<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            if let Some(level) = self.known.level_of(path) {
                return Ok(level);
            }
            if let Some(level) = self.stored(path).await? {
                self.known.remember(path, &level, true);
                return Ok(level);
            }
            let name = format!("organisations/{}", path.rsplit('/').next().unwrap_or(path));
            let answer = self
                .organisations
                .clone()
                .get_organisation(GetOrganisationRequest { name: name.clone() })
                .await;
            let (level, found) = match answer {
                Ok(org) => {
                    let org = org.into_inner();
                    if org.path == path && serves_level(org.kind()) {
                        (parent_path(path).to_owned(), true)
                    } else {
                        (path.to_owned(), org.path == path)
                    }
                }
                Err(status) if status.code() == tonic::Code::NotFound => (path.to_owned(), false),
                Err(status) => return Err(from_upstream("rounds", &name, status)),
            };
            if found {
                self.store(path, &level).await?;
            }
            self.known.remember(path, &level, found);
            Ok(level)
        })
    }
}
