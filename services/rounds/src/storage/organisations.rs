//! The `organisations` table and its queries.

use std::sync::Arc;

use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::point_reads::PointReads;
use fiveledger_platform::storage::{Db, within_subtree};
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{Organisation, OrganisationKind};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::domain::organisation::{COLLECTION, name_of};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub display_name: String,
    /// `OrganisationKind` by its proto name.
    pub kind: String,
    pub parent_id: Option<String>,
    /// Ids from the root, joined by `/`.
    pub path: String,
    pub code: String,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn kind(&self) -> OrganisationKind {
        OrganisationKind::from_str_name(&self.kind).unwrap_or_default()
    }

    pub fn to_proto(&self) -> Organisation {
        Organisation {
            name: name_of(&self.id),
            display_name: self.display_name.clone(),
            kind: self.kind() as i32,
            parent: self.parent_id.as_deref().map(name_of).unwrap_or_default(),
            path: self.path.clone(),
            code: self.code.clone(),
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Reads of organisations by id, coalesced under load: how the read-only
/// handlers look an organisation up.
pub type Reads = PointReads<Entity>;

pub fn reads(db: &Db) -> Arc<Reads> {
    PointReads::new(db, Column::Id, |o: &Model| &o.id)
}

/// [`visible`] read through `reads`.
pub async fn visible_in(
    reads: &Arc<Reads>,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let id = names::parse(field, name, COLLECTION)?;
    super::seen(reads.get(id).await?, name, |o| caller.can_see(&o.path))
}

/// The organisation `name` (in request field `field`) if the caller may
/// see it; NOT_FOUND otherwise (never saying which).
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let id = names::parse(field, name, COLLECTION)?;
    super::seen(find(conn, id).await?, name, |o| caller.can_see(&o.path))
}

/// The organisations `ids`, looked up in one query, each of which the
/// caller must see: one outside the caller's scope answers exactly as one
/// that does not exist (NOT_FOUND naming the first).
pub async fn all_visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    ids: &[String],
) -> ApiResult<std::collections::HashMap<String, Model>> {
    let found: std::collections::HashMap<String, Model> = find_many(conn, ids)
        .await?
        .into_iter()
        .filter(|o| caller.can_see(&o.path))
        .map(|o| (o.id.clone(), o))
        .collect();
    for id in ids {
        if !found.contains_key(id) {
            return Err(ApiError::not_found(name_of(id)));
        }
    }
    Ok(found)
}

pub async fn find_many(conn: &impl ConnectionTrait, ids: &[String]) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(conn)
        .await?)
}

/// How a list is narrowed and ordered.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Caller's scope: only this subtree.
    pub scope: String,
    pub parent_id: Option<String>,
    pub kind: Option<OrganisationKind>,
    /// Only this subtree (a path).
    pub ancestor_path: Option<String>,
    pub display_name_eq: Option<String>,
    pub display_name_contains: Option<String>,
    pub order: Order,
    pub desc: bool,
    /// Keyset: the (order key, id) of the last row already returned.
    pub after: Option<(String, String)>,
    pub limit: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Id,
    DisplayName,
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(within_subtree(Column::Path, &q.scope));
    if let Some(parent) = &q.parent_id {
        select = select.filter(Column::ParentId.eq(parent.clone()));
    }
    if let Some(kind) = q.kind {
        select = select.filter(Column::Kind.eq(kind.as_str_name()));
    }
    if let Some(ancestor) = &q.ancestor_path {
        select = select.filter(within_subtree(Column::Path, ancestor));
    }
    if let Some(name) = &q.display_name_eq {
        select = select.filter(Column::DisplayName.eq(name.clone()));
    }
    if let Some(part) = &q.display_name_contains {
        select = select.filter(Column::DisplayName.contains(part.clone()));
    }
    let key = match q.order {
        Order::Id => Column::Id,
        Order::DisplayName => Column::DisplayName,
    };
    if let Some((last_key, last_id)) = &q.after {
        let beyond = |col: Column, v: String| {
            if q.desc {
                Expr::col(col).lt(v)
            } else {
                Expr::col(col).gt(v)
            }
        };
        select = select.filter(if q.order == Order::Id {
            Condition::all().add(beyond(Column::Id, last_id.clone()))
        } else {
            Condition::any().add(beyond(key, last_key.clone())).add(
                Expr::col(key)
                    .eq(last_key.clone())
                    .and(beyond(Column::Id, last_id.clone())),
            )
        });
    }
    select = if q.desc {
        select.order_by_desc(key).order_by_desc(Column::Id)
    } else {
        select.order_by_asc(key).order_by_asc(Column::Id)
    };
    Ok(select.limit(q.limit).all(conn).await?)
}

/// Inserts a new organisation (ALREADY_EXISTS when its id is taken).
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

/// The ids among the organisations on `paths` that are counties, in one
/// query (地域回避 compares counties).
pub async fn counties_on(
    conn: &impl ConnectionTrait,
    paths: &[&str],
) -> ApiResult<std::collections::HashSet<String>> {
    let mut ids: Vec<String> = paths
        .iter()
        .flat_map(|p| p.split('/'))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids))
        .filter(Column::Kind.eq(OrganisationKind::County.as_str_name()))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect())
}

/// The level a body of a level serves, read from this service's own
/// directory (the other services ask it over gRPC, `RemoteLevels`).
pub struct LocalLevels {
    db: fiveledger_platform::storage::Db,
    /// Only what was found: a name unknown now may be created any moment.
    known: fiveledger_platform::levels::Remembered,
}

impl LocalLevels {
    pub fn new(db: fiveledger_platform::storage::Db) -> Self {
        Self {
            db,
            known: Default::default(),
        }
    }
}

impl fiveledger_platform::auth::Levels for LocalLevels {
    fn level_of<'a>(
        &'a self,
        path: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<String, ApiError>> {
        use fiveledger_platform::auth::{parent_path, serves_level};
        Box::pin(async move {
            if let Some(level) = self.known.level_of(path) {
                return Ok(level);
            }
            let id = path.rsplit('/').next().unwrap_or(path);
            Ok(match find(self.db.reader(), id).await? {
                Some(org) if org.path == path => {
                    let level = if serves_level(org.kind()) {
                        parent_path(path)
                    } else {
                        path
                    };
                    self.known.remember(path, level, true);
                    level.to_owned()
                }
                _ => path.to_owned(),
            })
        })
    }
}
