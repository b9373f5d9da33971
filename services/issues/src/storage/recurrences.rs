//! The `recurrences` table (倒查 flags and their decisions) and
//! `recurrence_checks` (which frozen lists the checker has compared), with
//! the reads the checker makes of problem lists and problems.

use fiveledger_platform::ApiResult;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_proto::issues::{
    AccountabilityOutcome, ProblemListState, Recurrence, RecurrenceDecision, RecurrenceKind,
};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::domain::recurrence::name_of;
use crate::storage::{problem_lists, problems};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recurrences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The later problem's name.
    pub problem: String,
    pub inspection: String,
    pub target: String,
    pub category: String,
    pub report_date: chrono::NaiveDate,
    pub earlier_inspection: String,
    pub earlier_group: String,
    pub earlier_report_date: chrono::NaiveDate,
    /// `RecurrenceKind` by its proto name.
    pub kind: String,
    /// JSON array of the earlier problems' names.
    pub earlier_problems: String,
    pub rule: String,
    pub round_organisation_path: String,
    pub earlier_round_organisation_path: String,
    /// `AccountabilityOutcome` by its proto name; empty until decided.
    pub outcome: String,
    pub note: String,
    pub decided_by: String,
    pub decide_time: Option<chrono::DateTime<chrono::Utc>>,
    pub create_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn name(&self) -> String {
        name_of(&self.id)
    }

    pub fn decided(&self) -> bool {
        !self.outcome.is_empty()
    }

    pub fn to_proto(&self) -> Recurrence {
        Recurrence {
            name: self.name(),
            problem: self.problem.clone(),
            inspection: self.inspection.clone(),
            target: self.target.clone(),
            category: self.category.clone(),
            report_date: Some(to_date(self.report_date)),
            earlier_inspection: self.earlier_inspection.clone(),
            earlier_group: self.earlier_group.clone(),
            earlier_report_date: Some(to_date(self.earlier_report_date)),
            kind: RecurrenceKind::from_str_name(&self.kind).unwrap_or_default() as i32,
            earlier_problems: serde_json::from_str(&self.earlier_problems).unwrap_or_default(),
            rule: self.rule.clone(),
            round_organisation_path: self.round_organisation_path.clone(),
            earlier_round_organisation_path: self.earlier_round_organisation_path.clone(),
            decision: self.decided().then(|| RecurrenceDecision {
                outcome: AccountabilityOutcome::from_str_name(&self.outcome).unwrap_or_default()
                    as i32,
                note: self.note.clone(),
                decided_by: self.decided_by.clone(),
                decide_time: self.decide_time.map(to_timestamp),
            }),
            create_time: Some(to_timestamp(self.create_time)),
        }
    }
}

/// The lists the checker has compared.
pub mod checks {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recurrence_checks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub inspection: String,
        pub check_time: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Stores new flags; a problem already flagged against the same earlier
/// inspection keeps its first flag (and its decision).
pub async fn insert_new(conn: &impl ConnectionTrait, rows: &[Model]) -> ApiResult<()> {
    for chunk in rows.chunks(200) {
        Entity::insert_many(chunk.iter().cloned().map(ActiveModel::from))
            .on_conflict(
                OnConflict::columns([Column::Problem, Column::EarlierInspection])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Frozen lists not yet compared, oldest freeze first.
pub async fn unchecked(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> ApiResult<Vec<problem_lists::Model>> {
    use problem_lists::{Column as L, Entity as Lists};
    Ok(Lists::find()
        .filter(L::State.eq(ProblemListState::Frozen.as_str_name()))
        .filter(
            Condition::all().not().add(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(checks::Entity)
                    .and_where(
                        Expr::col((checks::Entity, checks::Column::Inspection))
                            .equals((Lists, L::Inspection)),
                    )
                    .to_owned(),
            )),
        )
        .order_by_asc(L::FreezeTime)
        .order_by_asc(L::Inspection)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The other frozen lists of `target` (at most `limit`).
pub async fn frozen_of_target(
    conn: &impl ConnectionTrait,
    target: &str,
    except: &str,
    limit: u64,
) -> ApiResult<Vec<problem_lists::Model>> {
    use problem_lists::{Column as L, Entity as Lists};
    Ok(Lists::find()
        .filter(L::Target.eq(target))
        .filter(L::Inspection.ne(except))
        .filter(L::State.eq(ProblemListState::Frozen.as_str_name()))
        .order_by_asc(L::Inspection)
        .limit(limit)
        .all(conn)
        .await?)
}

/// (id, inspection, category) of every problem of `inspections`.
pub async fn problem_categories(
    conn: &impl ConnectionTrait,
    inspections: Vec<String>,
) -> ApiResult<Vec<(String, String, String)>> {
    use problems::{Column as P, Entity as Problems};
    Ok(Problems::find()
        .select_only()
        .columns([P::Id, P::Inspection, P::Category])
        .filter(P::Inspection.is_in(inspections))
        .order_by_asc(P::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Records that `inspection`'s list was compared.
pub async fn mark_checked(
    conn: &impl ConnectionTrait,
    inspection: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    checks::Entity::insert(checks::ActiveModel::from(checks::Model {
        inspection: inspection.to_owned(),
        check_time: now,
    }))
    .on_conflict(
        OnConflict::column(checks::Column::Inspection)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Records the decision unless one is there; false when one was.
pub async fn decide(
    conn: &impl ConnectionTrait,
    id: &str,
    outcome: AccountabilityOutcome,
    note: &str,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<bool> {
    let result = Entity::update_many()
        .col_expr(Column::Outcome, Expr::value(outcome.as_str_name()))
        .col_expr(Column::Note, Expr::value(note))
        .col_expr(Column::DecidedBy, Expr::value(by))
        .col_expr(Column::DecideTime, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Outcome.eq(""))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How a list of recurrences is narrowed (keyset by id).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The caller's subtree; `None`: everything (the suite's services).
    pub scope: Option<String>,
    pub decided: Option<bool>,
    pub kind: Option<RecurrenceKind>,
    pub target: Option<String>,
    pub earlier_inspection: Option<String>,
    pub after: Option<String>,
    pub limit: u64,
}

/// A page: keyset on id (ids are made in time order), each filter an
/// index's leading column (see `m20261202_000005_recurrences`).
pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find();
    if let Some(scope) = &q.scope {
        select = select.filter(
            Condition::any()
                .add(within_subtree(Column::RoundOrganisationPath, scope))
                .add(within_subtree(Column::EarlierRoundOrganisationPath, scope)),
        );
    }
    if let Some(decided) = q.decided {
        select = select.filter(if decided {
            Column::Outcome.ne("")
        } else {
            Column::Outcome.eq("")
        });
    }
    if let Some(kind) = q.kind {
        select = select.filter(Column::Kind.eq(kind.as_str_name()));
    }
    if let Some(target) = &q.target {
        select = select.filter(Column::Target.eq(target.clone()));
    }
    if let Some(earlier) = &q.earlier_inspection {
        select = select.filter(Column::EarlierInspection.eq(earlier.clone()));
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
