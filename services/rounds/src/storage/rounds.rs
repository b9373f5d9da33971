//! The `rounds` table and its queries.

use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::{Caller, in_subtree};
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{Round, RoundKind, RoundState};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::organisation;
use crate::domain::round::{COLLECTION, name_of};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rounds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub display_name: String,
    pub term: i32,
    pub number: i32,
    /// `RoundKind` by its proto name.
    pub kind: String,
    pub theme: String,
    /// JSON list of round ids.
    pub look_back_rounds: String,
    pub organisation_id: String,
    pub organisation_path: String,
    pub cross_county: bool,
    /// Year of the planned start (list filter).
    pub year: i32,
    pub planned_start_date: chrono::NaiveDate,
    pub planned_end_date: chrono::NaiveDate,
    /// `RoundState` by its proto name.
    pub state: String,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn kind(&self) -> RoundKind {
        RoundKind::from_str_name(&self.kind).unwrap_or_default()
    }

    pub fn state(&self) -> RoundState {
        RoundState::from_str_name(&self.state).unwrap_or_default()
    }

    pub fn look_back_round_ids(&self) -> ApiResult<Vec<String>> {
        serde_json::from_str(&self.look_back_rounds).map_err(ApiError::internal)
    }

    pub fn to_proto(&self) -> ApiResult<Round> {
        Ok(Round {
            name: name_of(&self.id),
            display_name: self.display_name.clone(),
            term: self.term,
            number: self.number,
            kind: self.kind() as i32,
            theme: self.theme.clone(),
            look_back_rounds: self
                .look_back_round_ids()?
                .iter()
                .map(|id| name_of(id))
                .collect(),
            organisation: organisation::name_of(&self.organisation_id),
            organisation_path: self.organisation_path.clone(),
            cross_county: self.cross_county,
            planned_start_date: Some(to_date(self.planned_start_date)),
            planned_end_date: Some(to_date(self.planned_end_date)),
            state: self.state() as i32,
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        })
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// A round whose running organisation is within the caller's subtree;
/// NOT_FOUND otherwise (never saying which).
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let id = names::parse(field, name, COLLECTION)?;
    super::seen(find(conn, id).await?, name, |r| {
        caller.can_see(&r.organisation_path)
    })
}

/// Whether a list under a round could hold anything for the caller: the
/// round exists and its running organisation's subtree overlaps the
/// caller's (it runs within the caller's subtree, or its targets may lie
/// in the caller's subtree). Otherwise the list is NOT_FOUND, not empty.
pub async fn listable(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    round_id: &str,
) -> ApiResult<()> {
    match find(conn, round_id).await? {
        Some(r)
            if caller.can_see(&r.organisation_path)
                || in_subtree(&caller.scope_path, &r.organisation_path) =>
        {
            Ok(())
        }
        _ => Err(ApiError::not_found(name_of(round_id))),
    }
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
    pub kind: Option<RoundKind>,
    pub state: Option<RoundState>,
    pub year: Option<i32>,
    pub organisation_id: Option<String>,
    pub after: Option<String>,
    pub limit: u64,
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(within_subtree(Column::OrganisationPath, &q.scope));
    if let Some(kind) = q.kind {
        select = select.filter(Column::Kind.eq(kind.as_str_name()));
    }
    if let Some(state) = q.state {
        select = select.filter(Column::State.eq(state.as_str_name()));
    }
    if let Some(year) = q.year {
        select = select.filter(Column::Year.eq(year));
    }
    if let Some(org) = &q.organisation_id {
        select = select.filter(Column::OrganisationId.eq(org.clone()));
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

/// Inserts a new round (ALREADY_EXISTS when its id, or its number in its
/// organisation's term, is taken).
pub async fn insert(conn: &impl ConnectionTrait, row: Model) -> ApiResult<Model> {
    let taken = format!(
        "{} (or round {} of term {} of {})",
        name_of(&row.id),
        row.number,
        row.term,
        organisation::name_of(&row.organisation_id)
    );
    super::insert_row(conn, ActiveModel::from(row), || taken).await
}

/// Writes `next` over `current` if the row is still at `current`'s
/// revision, with the next revision (and `next`'s update time).
pub async fn save(conn: &impl ConnectionTrait, current: &Model, next: Model) -> ApiResult<Model> {
    let name = name_of(&current.id);
    let revision = (Column::Revision, current.revision);
    super::save_row(conn, ActiveModel::from(next), revision, &name).await?;
    super::seen(find(conn, &current.id).await?, &name, |_| true)
}
