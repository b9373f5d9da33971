//! The `clue_journal` table: one line per clue step, appended in the
//! step's transaction and never changed. The monthly reconciliations are
//! counted from it (`domain::clue_reconciliation`).

use fiveledger_platform::ApiResult;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::NotSet, QueryOrder, QuerySelect, QueryTrait};

use crate::domain::clue_reconciliation::{Line, LineKind};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clue_journal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub clue_id: String,
    /// `LineKind` by name.
    pub kind: String,
    /// The body holding the clue at the step (for a transfer, the new one).
    pub receiving_body: String,
    pub receiving_body_path: String,
    /// For a transfer, the body that held it before ("" on registration).
    pub from_body: String,
    /// The day the step is dated.
    pub day: chrono::NaiveDate,
    /// The way, outcome or notice kind, by proto name.
    pub detail: String,
    pub actor: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A line to append: what happened to which clue, held by whom, when.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub kind: LineKind,
    pub clue_id: &'a str,
    pub receiving_body: &'a str,
    pub receiving_body_path: &'a str,
    pub from_body: &'a str,
    pub day: chrono::NaiveDate,
    pub detail: &'a str,
    pub actor: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Appends a line for `step`.
pub async fn append(conn: &impl ConnectionTrait, step: Step<'_>) -> ApiResult<()> {
    let line = ActiveModel {
        id: NotSet,
        clue_id: sea_orm::Set(step.clue_id.to_owned()),
        kind: sea_orm::Set(step.kind.as_str().to_owned()),
        receiving_body: sea_orm::Set(step.receiving_body.to_owned()),
        receiving_body_path: sea_orm::Set(step.receiving_body_path.to_owned()),
        from_body: sea_orm::Set(step.from_body.to_owned()),
        day: sea_orm::Set(step.day),
        detail: sea_orm::Set(step.detail.to_owned()),
        actor: sea_orm::Set(step.actor.to_owned()),
        recorded_at: sea_orm::Set(step.at),
    };
    // Nothing in the step reads its line back: it goes with the step's
    // events when the step's mutation returns.
    let insert = Entity::insert(line).build(conn.get_database_backend());
    fiveledger_platform::write_scope::hold(conn, insert).await?;
    Ok(())
}

/// Appends the line of a step on `clue` (as saved and shown): what, the
/// day it is dated and its detail; `from_body` is the body a transfer took
/// it from.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &str,
    clue: &fiveledger_proto::issues::Clue,
    (kind, day, detail): (LineKind, chrono::NaiveDate, &str),
    from_body: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    append(
        conn,
        Step {
            kind,
            clue_id: clue
                .name
                .strip_prefix("clues/")
                .unwrap_or(clue.name.as_str()),
            receiving_body: &clue.receiving_body,
            receiving_body_path: &clue.receiving_body_path,
            from_body,
            day,
            detail,
            actor,
            at,
        },
    )
    .await
}

/// The journal's last line: where a count made now reads up to. On
/// PostgreSQL the table is first locked against writers (SHARE mode waits
/// for the transactions writing lines to end), so every line up to it is
/// committed; on SQLite lines are numbered by the one writer in order.
pub async fn head(conn: &impl ConnectionTrait) -> ApiResult<i64> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("LOCK TABLE clue_journal IN SHARE MODE")
            .await?;
    }
    let max: Option<Option<i64>> = Entity::find()
        .select_only()
        .column_as(Column::Id.max(), "max")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// Most lines one reconciliation reads.
pub const MAX_LINES: u64 = 200_000;

/// Every line up to `position` of the clues that ever reached or left
/// `body`, in journal order.
pub async fn lines_of_body(
    conn: &impl ConnectionTrait,
    body: &str,
    position: i64,
) -> ApiResult<Vec<Line>> {
    use sea_orm::sea_query::Query;
    let clues = Query::select()
        .column(Column::ClueId)
        .from(Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(Column::ReceivingBody.eq(body.to_owned()))
                .add(Column::FromBody.eq(body.to_owned())),
        )
        .and_where(Column::Id.lte(position))
        .to_owned();
    let rows = Entity::find()
        .filter(Column::ClueId.in_subquery(clues))
        .filter(Column::Id.lte(position))
        .order_by_asc(Column::Id)
        .limit(MAX_LINES + 1)
        .all(conn)
        .await?;
    if rows.len() as u64 > MAX_LINES {
        return Err(fiveledger_platform::ApiError::internal(anyhow::anyhow!(
            "more than {MAX_LINES} journal lines for {body}"
        )));
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Line {
                kind: LineKind::parse(&r.kind)?,
                clue_id: r.clue_id,
                receiving_body: r.receiving_body,
                from_body: r.from_body,
                day: r.day,
                detail: r.detail,
            })
        })
        .collect())
}
