//! The `inspectors` table (the talent pool) and its queries.

use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{Inspector, Post};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::inspector::{COLLECTION, StoredPost, StoredRelation, name_of};
use crate::domain::organisation;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspectors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub display_name: String,
    pub subject: String,
    pub home_organisation_id: String,
    pub home_path: String,
    /// 籍贯; empty when none is recorded.
    pub native_place_id: String,
    pub native_place_path: String,
    /// JSON list of [`StoredPost`].
    pub past_posts: String,
    /// JSON list of [`StoredRelation`].
    pub relations: String,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub fn encode<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

impl Model {
    pub fn posts(&self) -> ApiResult<Vec<StoredPost>> {
        serde_json::from_str(&self.past_posts).map_err(ApiError::internal)
    }

    pub fn relations(&self) -> ApiResult<Vec<StoredRelation>> {
        serde_json::from_str(&self.relations).map_err(ApiError::internal)
    }

    pub fn to_proto(&self) -> ApiResult<Inspector> {
        Ok(Inspector {
            name: name_of(&self.id),
            display_name: self.display_name.clone(),
            subject: self.subject.clone(),
            home_organisation: organisation::name_of(&self.home_organisation_id),
            home_organisation_path: self.home_path.clone(),
            native_place: if self.native_place_id.is_empty() {
                String::new()
            } else {
                organisation::name_of(&self.native_place_id)
            },
            native_place_path: self.native_place_path.clone(),
            past_posts: self
                .posts()?
                .into_iter()
                .map(|p| Post {
                    organisation: organisation::name_of(&p.organisation_id),
                    organisation_path: p.path,
                    start_date: Some(to_date(p.start)),
                    end_date: p.end.map(to_date),
                })
                .collect(),
            related_organisations: self
                .relations()?
                .into_iter()
                .map(|r| organisation::name_of(&r.organisation_id))
                .collect(),
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        })
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// The inspector `name` if the caller may see them (their home lies in
/// the caller's subtree); NOT_FOUND otherwise.
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let id = names::parse(field, name, COLLECTION)?;
    super::seen(find(conn, id).await?, name, |p| {
        caller.can_see(&p.home_path)
    })
}

pub async fn find_many(conn: &impl ConnectionTrait, ids: &[String]) -> ApiResult<Vec<Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub scope: String,
    pub within: Option<String>,
    pub subject: Option<String>,
    pub display_name_eq: Option<String>,
    pub display_name_contains: Option<String>,
    pub after: Option<String>,
    pub limit: u64,
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(within_subtree(Column::HomePath, &q.scope));
    if let Some(path) = &q.within {
        select = select.filter(within_subtree(Column::HomePath, path));
    }
    if let Some(subject) = &q.subject {
        select = select.filter(Column::Subject.eq(subject.clone()));
    }
    if let Some(name) = &q.display_name_eq {
        select = select.filter(Column::DisplayName.eq(name.clone()));
    }
    if let Some(part) = &q.display_name_contains {
        select = select.filter(Column::DisplayName.contains(part.clone()));
    }
    if let Some(after) = &q.after {
        select = select.filter(Column::Id.gt(after.clone()));
    }
    Ok(select
        .order_by_asc(Column::Id)
        .limit(q.limit)
        .all(conn)
        .await?)
}

/// Inserts a new inspector (ALREADY_EXISTS when the id is taken).
pub async fn insert(conn: &impl ConnectionTrait, row: Model) -> ApiResult<Model> {
    let id = row.id.clone();
    super::insert_row(conn, ActiveModel::from(row), || name_of(&id)).await
}

/// Writes `next` over `current` if the row is still at `current`'s
/// revision, with the next revision (and `next`'s update time).
pub async fn save(conn: &impl ConnectionTrait, current: &Model, next: Model) -> ApiResult<Model> {
    let name = name_of(&current.id);
    let revision = (Column::Revision, current.revision);
    super::save_row(conn, ActiveModel::from(next), revision, &name).await?;
    super::seen(find(conn, &current.id).await?, &name, |_| true)
}
