//! The `assessments` table (immutable, one row per version) and the one
//! read that computes an assessment: the year's entries of the rounds an
//! organisation ran, each journal replayed up to the cutoff by the
//! ledger's own fold (`domain::entry::apply`).

use std::collections::HashMap;

use fiveledger_platform::ApiResult;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::to_date;
use fiveledger_proto::ledgers::{Assessment, LedgerEntry};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::books::{posting_of, timestamp_us};
use super::{entries, postings};
use crate::domain::assessment::{Figures, Weights, name_of, year_start};
use crate::domain::entry::{self as entry_domain, apply};

/// Entries replayed per read.
const PAGE: u64 = 500;

#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assessments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organisation_path: String,
    pub year: i32,
    pub version: i32,
    pub cutoff_us: i64,
    pub as_of: chrono::NaiveDate,
    pub weight_on_time: i32,
    pub weight_completion: i32,
    pub weight_overdue: i32,
    pub weight_reopened: i32,
    pub found: i64,
    pub written_off: i64,
    pub due_so_far: i64,
    pub written_off_on_time: i64,
    pub overdue: i64,
    pub reopened: i64,
    pub score_hundredths: i32,
    pub computed_by: String,
    pub create_time_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn weights(&self) -> Weights {
        Weights {
            on_time: self.weight_on_time,
            completion: self.weight_completion,
            overdue: self.weight_overdue,
            reopened: self.weight_reopened,
        }
    }

    pub fn figures(&self) -> Figures {
        Figures {
            found: self.found,
            written_off: self.written_off,
            due_so_far: self.due_so_far,
            written_off_on_time: self.written_off_on_time,
            overdue: self.overdue,
            reopened: self.reopened,
        }
    }

    /// The same row with other figures and their score.
    pub fn with_figures(&self, f: Figures) -> Self {
        Self {
            found: f.found,
            written_off: f.written_off,
            due_so_far: f.due_so_far,
            written_off_on_time: f.written_off_on_time,
            overdue: f.overdue,
            reopened: f.reopened,
            score_hundredths: f.score_hundredths(self.weights()),
            ..self.clone()
        }
    }

    pub fn to_proto(&self) -> Assessment {
        let figures = self.figures();
        let rates = figures.rates();
        Assessment {
            name: name_of(&self.id),
            organisation_path: self.organisation_path.clone(),
            year: self.year,
            version: self.version,
            cutoff_time: Some(timestamp_us(self.cutoff_us)),
            as_of: Some(to_date(self.as_of)),
            weights: Some(self.weights().to_proto()),
            figures: Some(figures.to_proto()),
            on_time_rate: rates.on_time,
            completion_rate: rates.completion,
            overdue_rate: rates.overdue,
            reopened_rate: rates.reopened,
            score_hundredths: self.score_hundredths,
            computed_by: self.computed_by.clone(),
            create_time: Some(timestamp_us(self.create_time_us)),
        }
    }
}

/// The figures of the entries of rounds run by `path` (or below it) opened
/// in `year` before `cutoff_us`, each as its postings before `cutoff_us`
/// leave it, judged on `as_of`.
pub async fn replay(
    conn: &impl ConnectionTrait,
    path: &str,
    year: i32,
    cutoff_us: i64,
    as_of: chrono::NaiveDate,
) -> ApiResult<Figures> {
    use entries::Column as E;
    let from = year_start(year).timestamp_micros();
    let until = year_start(year + 1).timestamp_micros().min(cutoff_us);
    let mut figures = Figures::default();
    let mut after = String::new();
    loop {
        let ids: Vec<String> = entries::Entity::find()
            .select_only()
            .column(E::Id)
            .filter(within_subtree(E::RoundOrganisationPath, path))
            .filter(E::CreateTimeUs.gte(from))
            .filter(E::CreateTimeUs.lt(until))
            .filter(E::Id.gt(after.clone()))
            .order_by_asc(E::Id)
            .limit(PAGE)
            .into_tuple()
            .all(conn)
            .await?;
        let Some(last) = ids.last().cloned() else {
            return Ok(figures);
        };
        let journal = postings::Entity::find()
            .filter(postings::Column::EntryId.is_in(ids.clone()))
            .filter(postings::Column::CreateTimeUs.lt(cutoff_us))
            .order_by_asc(postings::Column::EntryId)
            .order_by_asc(postings::Column::Seq)
            .all(conn)
            .await?;
        let mut replayed: HashMap<&str, LedgerEntry> = HashMap::with_capacity(ids.len());
        for row in &journal {
            let entry = replayed
                .entry(row.entry_id.as_str())
                .or_insert_with(|| LedgerEntry {
                    name: entry_domain::name_of(&row.entry_id),
                    ..Default::default()
                });
            apply(entry, &posting_of(row)?)?;
        }
        for entry in replayed.values() {
            figures.add(entry, as_of);
        }
        after = last;
    }
}

/// The next version of the assessment of `path` for `year`.
pub async fn next_version(conn: &impl ConnectionTrait, path: &str, year: i32) -> ApiResult<i32> {
    let latest: Option<Option<i32>> = Entity::find()
        .select_only()
        .column_as(Column::Version.max(), "version")
        .filter(Column::OrganisationPath.eq(path))
        .filter(Column::Year.eq(year))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(latest.flatten().unwrap_or(0) + 1)
}

/// Stores a new version (a concurrent one of the same number is
/// ALREADY_EXISTS).
pub async fn insert(conn: &impl ConnectionTrait, row: &Model) -> ApiResult<()> {
    Entity::insert(ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await
        .map_err(fiveledger_platform::storage::exists_or_internal(|| {
            format!(
                "assessment {} {} version {}",
                row.organisation_path, row.year, row.version
            )
        }))?;
    Ok(())
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// How a list of assessments is narrowed (keyset by id).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The caller's subtree.
    pub scope: String,
    pub organisation_path: Option<String>,
    pub year: Option<i32>,
    pub after: Option<String>,
    pub limit: u64,
}

/// A page in id order (ids are made in time order); the scope and the
/// organisation are the index's leading column.
pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(within_subtree(Column::OrganisationPath, &q.scope));
    if let Some(path) = &q.organisation_path {
        select = select.filter(Column::OrganisationPath.eq(path.clone()));
    }
    if let Some(year) = q.year {
        select = select.filter(Column::Year.eq(year));
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
