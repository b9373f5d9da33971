//! The `categories` table: the catalogue and its routing rules.

use std::collections::HashMap;

use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::time::to_timestamp;
use fiveledger_proto::issues::{Category, SupervisingBodyKind};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::category::name_of;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub display_name: String,
    /// `SupervisingBodyKind` by its proto name.
    pub supervising_body_kind: String,
    pub grassroots: bool,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn kind(&self) -> SupervisingBodyKind {
        SupervisingBodyKind::from_str_name(&self.supervising_body_kind).unwrap_or_default()
    }

    pub fn to_proto(&self) -> Category {
        Category {
            name: name_of(&self.id),
            display_name: self.display_name.clone(),
            supervising_body_kind: self.kind() as i32,
            grassroots: self.grassroots,
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// Writes a new category; one whose id is taken is ALREADY_EXISTS.
pub async fn insert(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let id = model.id.clone();
    ActiveModel::from(model).insert(conn).await.map_err(
        fiveledger_platform::storage::exists_or_internal(|| name_of(&id)),
    )
}

/// What an update changes (a field left `None` stays).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub display_name: Option<String>,
    pub supervising_body_kind: Option<SupervisingBodyKind>,
    pub grassroots: Option<bool>,
}

/// Applies `changes` to `current` only if its row is still at
/// `current.revision` (else ABORTED), and returns the row written.
pub async fn update_if_revision(
    conn: &impl ConnectionTrait,
    current: Model,
    changes: Changes,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Model> {
    let revision = current.revision;
    let mut updated = current;
    if let Some(display_name) = changes.display_name {
        updated.display_name = display_name;
    }
    if let Some(kind) = changes.supervising_body_kind {
        updated.supervising_body_kind = kind.as_str_name().to_owned();
    }
    if let Some(grassroots) = changes.grassroots {
        updated.grassroots = grassroots;
    }
    updated.revision = revision + 1;
    updated.update_time = now;
    let active: ActiveModel = updated.clone().into();
    fiveledger_platform::storage::update_if_revision(
        conn,
        active.reset_all(),
        Column::Revision,
        revision,
        || name_of(&updated.id),
    )
    .await?;
    Ok(updated)
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// The categories with these ids, by id (one query).
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = String>,
) -> ApiResult<HashMap<String, Model>> {
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    after: Option<String>,
    limit: u64,
) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find();
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    Ok(select
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
