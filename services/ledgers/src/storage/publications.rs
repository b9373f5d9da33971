//! The `publications` table: immutable versions of the double publication
//! (双公开), one row per (target, version) holding both editions.

use std::collections::HashMap;

use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::{is_unique_violation, within_subtree};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::{PostingKind, posting};
use sea_orm::entity::prelude::*;
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::storage::{books, entries, postings};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub target: String,
    pub target_path: String,
    pub version: i32,
    /// Name of the previous version, "" for the first.
    pub previous: String,
    /// Encoded `Publication`, public edition.
    pub public_edition: Vec<u8>,
    /// Encoded `Publication`, internal edition.
    pub internal_edition: Vec<u8>,
    pub create_time_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Which entries a publication covers.
#[derive(Debug, Clone)]
pub enum Covering {
    Inspection(String),
    Round(String),
    /// Targets within this organisation path.
    Subtree(String),
}

/// The entries `caller` sees that `covering` names and that have been
/// handed over (have a due date), by target then id.
pub async fn publishable(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    covering: &Covering,
) -> ApiResult<Vec<entries::Model>> {
    use entries::Column as C;
    let narrowed = match covering {
        Covering::Inspection(name) => C::Inspection.eq(name.clone()),
        Covering::Round(name) => C::Round.eq(name.clone()),
        Covering::Subtree(path) => within_subtree(C::TargetPath, path),
    };
    Ok(entries::Entity::find()
        .filter(
            Condition::all()
                .add(books::visible_to(caller))
                .add(narrowed),
        )
        .filter(C::OriginalDueDate.ne(""))
        .order_by_asc(C::TargetPath)
        .order_by_asc(C::Id)
        .all(conn)
        .await?)
}

/// The latest `per_entry` progress notes of each entry, newest first, in
/// one query per 500 entries.
pub async fn progress_notes(
    conn: &impl ConnectionTrait,
    ids: &[String],
    per_entry: usize,
) -> ApiResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = postings::Entity::find()
            .filter(postings::Column::EntryId.is_in(chunk.iter().cloned()))
            .filter(postings::Column::Kind.eq(PostingKind::Progress.as_str_name()))
            .order_by_asc(postings::Column::EntryId)
            .order_by_desc(postings::Column::Seq)
            .all(conn)
            .await?;
        for row in rows {
            let notes = out.entry(row.entry_id.clone()).or_default();
            if notes.len() >= per_entry {
                continue;
            }
            if let Some(posting::Detail::Progress(p)) = books::posting_of(&row)?.detail {
                notes.push(p.description);
            }
        }
    }
    Ok(out)
}

/// The latest version for a target, if any.
pub async fn latest(conn: &impl ConnectionTrait, target_path: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find()
        .filter(Column::TargetPath.eq(target_path.to_owned()))
        .order_by_desc(Column::Version)
        .limit(1)
        .one(conn)
        .await?)
}

/// Writes a new version; a concurrent publisher who took the same
/// (target, version) first makes this one ABORTED (`resource` names it).
pub async fn insert(conn: &impl ConnectionTrait, row: Model, resource: &str) -> ApiResult<()> {
    Entity::insert(ActiveModel::from(row))
        .exec_without_returning(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::Aborted {
                    resource: resource.to_owned(),
                }
            } else {
                e.into()
            }
        })?;
    Ok(())
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// One term of a `ListPublications` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationTerm {
    /// Targets within this subtree.
    TargetSubtree(String),
    /// This target (its resource name).
    Target(String),
}

impl PublicationTerm {
    fn condition(&self) -> Condition {
        match self {
            PublicationTerm::TargetSubtree(path) => {
                Condition::all().add(within_subtree(Column::TargetPath, path))
            }
            PublicationTerm::Target(name) => Condition::all().add(Column::Target.eq(name.clone())),
        }
    }
}

/// A page of versions within `scope`, narrowed, by target path then version.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub scope: String,
    pub narrowed: Vec<PublicationTerm>,
    pub after: Option<(String, i32)>,
    pub limit: u64,
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(within_subtree(Column::TargetPath, &q.scope));
    for term in &q.narrowed {
        select = select.filter(term.condition());
    }
    if let Some((path, version)) = &q.after {
        select = select.filter(
            Condition::any()
                .add(Column::TargetPath.gt(path.clone()))
                .add(
                    Condition::all()
                        .add(Column::TargetPath.eq(path.clone()))
                        .add(Column::Version.gt(*version)),
                ),
        );
    }
    Ok(select
        .order_by_asc(Column::TargetPath)
        .order_by_asc(Column::Version)
        .limit(q.limit)
        .all(conn)
        .await?)
}
