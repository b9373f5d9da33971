//! The `problem_lists` table: one row per inspection with problems, holding
//! whether its list is open, reported or frozen. Every change to a list's
//! problems first locks this row, so a freeze and an edit never interleave.

use fiveledger_platform::ApiResult;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_proto::issues::{MissingResponsibility, ProblemList, ProblemListState};
use fiveledger_proto::rounds::Inspection;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};

use crate::domain::problem::round_of;
use crate::domain::problem_list::name_of;
use crate::domain::scope::{ListFacts, sees_problem};
use crate::storage::problems;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "problem_lists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub inspection: String,
    pub round: String,
    pub target: String,
    pub target_path: String,
    pub round_organisation_path: String,
    /// `ProblemListState` by its proto name.
    pub state: String,
    pub revision: i64,
    pub report_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The day feedback handed the list over; None before.
    pub feedback_date: Option<chrono::NaiveDate>,
    pub freeze_time: Option<chrono::DateTime<chrono::Utc>>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn state(&self) -> ProblemListState {
        ProblemListState::from_str_name(&self.state).unwrap_or(ProblemListState::Open)
    }

    pub fn to_proto(&self, problem_count: u64) -> ProblemList {
        ProblemList {
            name: name_of(&self.inspection),
            inspection: self.inspection.clone(),
            state: self.state() as i32,
            problem_count: problem_count as i32,
            report_time: self.report_time.map(to_timestamp),
            freeze_time: self.freeze_time.map(to_timestamp),
            feedback_date: self.feedback_date.map(to_date),
            ..Default::default()
        }
    }

    /// The list with its count and what keeps it from freezing (one query).
    pub async fn describe(&self, conn: &impl ConnectionTrait) -> ApiResult<ProblemList> {
        let completeness = problems::completeness(conn, &self.inspection).await?;
        Ok(ProblemList {
            missing_responsibilities: completeness
                .missing()
                .into_iter()
                .map(|(field, n)| MissingResponsibility {
                    field: field.to_owned(),
                    problem_count: n as i32,
                })
                .collect(),
            incomplete_problem_count: completeness.incomplete as i32,
            ..self.to_proto(completeness.problems as u64)
        })
    }

    /// What the scope rules need to know of the list.
    pub fn facts(&self) -> ListFacts<'_> {
        ListFacts {
            round_organisation_path: &self.round_organisation_path,
            handed_over: self.feedback_date.is_some(),
        }
    }

    /// Whether the caller may read the list (as its target's problems).
    pub fn visible_to(&self, caller: &Caller, member: bool) -> bool {
        sees_problem(caller, &[&self.target_path], self.facts(), member)
    }
}

pub async fn find(conn: &impl ConnectionTrait, inspection: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(inspection.to_owned()).one(conn).await?)
}

/// Of `inspections`, those whose list has not been handed over at feedback
/// (a problem with no list row yet counts as not handed over): one query.
pub async fn before_feedback(
    conn: &impl ConnectionTrait,
    inspections: impl IntoIterator<Item = String>,
) -> ApiResult<std::collections::HashSet<String>> {
    let mut wanted: std::collections::HashSet<String> = inspections.into_iter().collect();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    use sea_orm::QuerySelect;
    let handed: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Inspection)
        .filter(Column::Inspection.is_in(wanted.iter().cloned()))
        .filter(Column::FeedbackDate.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    for inspection in handed {
        wanted.remove(&inspection);
    }
    Ok(wanted)
}

/// Creates the list row if missing (at `now`) and takes its row lock (by
/// bumping its revision) for the rest of the transaction; returns the row
/// as locked.
pub async fn lock(
    conn: &impl ConnectionTrait,
    inspection: &Inspection,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Model> {
    Entity::insert(ActiveModel {
        inspection: Set(inspection.name.clone()),
        round: Set(round_of(&inspection.name)),
        target: Set(inspection.target.clone()),
        target_path: Set(inspection.target_path.clone()),
        round_organisation_path: Set(inspection.round_organisation_path.clone()),
        state: Set(ProblemListState::Open.as_str_name().to_owned()),
        revision: Set(0),
        report_time: Set(None),
        freeze_time: Set(None),
        feedback_date: Set(None),
        update_time: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::Inspection)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec_without_returning(conn)
    .await?;
    Entity::update_many()
        .col_expr(Column::Revision, Expr::col(Column::Revision).add(1))
        .filter(Column::Inspection.eq(inspection.name.clone()))
        .exec(conn)
        .await?;
    find(conn, &inspection.name).await?.ok_or_else(|| {
        fiveledger_platform::ApiError::internal(anyhow::anyhow!("problem list row vanished"))
    })
}

/// Sets the state (and the report and freeze times, `now`) of a locked list.
pub async fn set_state(
    conn: &impl ConnectionTrait,
    list: &Model,
    state: ProblemListState,
    reported: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Model> {
    let mut active: ActiveModel = list.clone().into();
    active.state = Set(state.as_str_name().to_owned());
    if reported && list.report_time.is_none() {
        active.report_time = Set(Some(now));
    }
    if state == ProblemListState::Frozen && list.freeze_time.is_none() {
        active.freeze_time = Set(Some(now));
    }
    active.update_time = Set(now);
    Ok(active.update(conn).await?)
}

/// Records that feedback handed the list of `inspection` over on `date`
/// (creating the row when no problem was recorded yet). Kept on the first
/// date: a replayed event changes nothing.
pub async fn hand_over(
    conn: &impl ConnectionTrait,
    inspection: &Inspection,
    date: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    lock(conn, inspection, now).await?;
    Entity::update_many()
        .col_expr(Column::FeedbackDate, Expr::value(date))
        .filter(Column::Inspection.eq(inspection.name.clone()))
        .filter(Column::FeedbackDate.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
