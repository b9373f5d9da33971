//! The `problems` table and its queries, including the four responsibility
//! lists ("all problems where organisation X holds responsibility N").

use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::subtree::Subtree;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{FixedOnTheSpot, Problem, Responsibilities};
use fiveledger_proto::types::{Evidence, Severity};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, FromQueryResult, QueryOrder, QuerySelect, QueryTrait};

use crate::domain::problem::{NEEDED_TO_FREEZE, name_of};
use crate::domain::scope::{self, ListFacts};
use fiveledger_platform::auth::Caller;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "problems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub inspection: String,
    pub round: String,
    pub target: String,
    pub target_path: String,
    pub category: String,
    /// The severity as `severity_text` writes it.
    pub severity: String,
    pub title: String,
    pub description: String,
    /// JSON array of `{document, sha256}`.
    pub evidence: String,
    pub fixed_date: Option<chrono::NaiveDate>,
    pub fixed_action: String,
    pub main_unit: String,
    pub main_unit_path: String,
    pub principal: String,
    pub leader_in_charge: String,
    pub supervising_body: String,
    pub supervising_body_path: String,
    pub supervising_body_routed: bool,
    pub functional_department: String,
    pub functional_department_path: String,
    pub recorded_by: String,
    pub frozen: bool,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The stored text of a severity: its name from when the issues service
/// had its own enum (`PROBLEM_SEVERITY_MAJOR`), so rows read the same
/// whichever release wrote them.
pub fn severity_text(severity: Severity) -> String {
    format!("PROBLEM_{}", severity.as_str_name())
}

fn severity_from_text(text: &str) -> Severity {
    text.strip_prefix("PROBLEM_")
        .and_then(Severity::from_str_name)
        .unwrap_or_default()
}

pub fn evidence_to_json(evidence: &[Evidence]) -> String {
    serde_json::Value::Array(
        evidence
            .iter()
            .map(|e| serde_json::json!({"document": e.document, "sha256": e.sha256}))
            .collect(),
    )
    .to_string()
}

fn evidence_from_json(json: &str) -> Vec<Evidence> {
    let values: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    values
        .iter()
        .map(|v| Evidence {
            document: v["document"].as_str().unwrap_or_default().to_owned(),
            sha256: v["sha256"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

impl Model {
    pub fn name(&self) -> String {
        name_of(&self.id)
    }

    pub fn severity(&self) -> Severity {
        severity_from_text(&self.severity)
    }

    pub fn to_proto(&self) -> Problem {
        Problem {
            name: self.name(),
            inspection: self.inspection.clone(),
            round: self.round.clone(),
            target: self.target.clone(),
            target_path: self.target_path.clone(),
            category: self.category.clone(),
            severity: self.severity() as i32,
            title: self.title.clone(),
            description: self.description.clone(),
            evidence: evidence_from_json(&self.evidence),
            fixed_on_the_spot: self.fixed_date.map(|d| FixedOnTheSpot {
                date: Some(to_date(d)),
                action: self.fixed_action.clone(),
            }),
            responsibilities: Some(Responsibilities {
                main_unit: self.main_unit.clone(),
                main_unit_path: self.main_unit_path.clone(),
                principal: self.principal.clone(),
                leader_in_charge: self.leader_in_charge.clone(),
                supervising_body: self.supervising_body.clone(),
                supervising_body_path: self.supervising_body_path.clone(),
                functional_department: self.functional_department.clone(),
                functional_department_path: self.functional_department_path.clone(),
                supervising_body_routed: self.supervising_body_routed,
            }),
            recorded_by: self.recorded_by.clone(),
            frozen: self.frozen,
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }

    /// Whether the caller may read the problem, on a list with `list`'s
    /// facts ([`scope::sees_problem`]); `member`: of the inspection's group.
    pub fn visible_to(&self, caller: &Caller, list: ListFacts<'_>, member: bool) -> bool {
        scope::sees_problem(
            caller,
            &[
                &self.target_path,
                &self.main_unit_path,
                &self.supervising_body_path,
                &self.functional_department_path,
            ],
            list,
            member,
        )
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Every problem of an inspection, by id.
pub async fn of_inspection(conn: &impl ConnectionTrait, inspection: &str) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::Inspection.eq(inspection))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

pub async fn count_of_inspection(conn: &impl ConnectionTrait, inspection: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::Inspection.eq(inspection))
        .count(conn)
        .await?)
}

/// Problems of the inspection lacking responsibility (1) or (3): the SQL
/// counterpart of `domain::problem::missing_responsibilities`.
pub async fn count_incomplete(conn: &impl ConnectionTrait, inspection: &str) -> ApiResult<u64> {
    use sea_orm::{Condition, PaginatorTrait};
    Ok(Entity::find()
        .filter(Column::Inspection.eq(inspection))
        .filter(
            Condition::any()
                .add(Column::MainUnit.eq(""))
                .add(Column::Principal.eq(""))
                .add(Column::SupervisingBody.eq("")),
        )
        .count(conn)
        .await?)
}

/// Rows per INSERT: well under the bind-parameter limits of both backends.
/// How many problems of a list lack each responsibility needed to freeze
/// (in the order of [`NEEDED_TO_FREEZE`]), how many lack any, and how many
/// there are.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromQueryResult)]
pub struct Completeness {
    pub problems: i64,
    pub incomplete: i64,
    pub main_unit: i64,
    pub principal: i64,
    pub supervising_body: i64,
}

impl Completeness {
    /// Each missing responsibility with its count, as [`NEEDED_TO_FREEZE`] names them.
    pub fn missing(&self) -> Vec<(&'static str, i64)> {
        NEEDED_TO_FREEZE
            .into_iter()
            .zip([self.main_unit, self.principal, self.supervising_body])
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// [`Completeness`] of one inspection's list, in one aggregate query.
pub async fn completeness(
    conn: &impl ConnectionTrait,
    inspection: &str,
) -> ApiResult<Completeness> {
    let count = |c: &str| {
        Expr::cust(format!(
            "CAST(COALESCE(SUM(CASE WHEN {c} THEN 1 ELSE 0 END), 0) AS BIGINT)"
        ))
    };
    Ok(Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "problems")
        .column_as(
            count("main_unit = '' OR principal = '' OR supervising_body = ''"),
            "incomplete",
        )
        .column_as(count("main_unit = ''"), "main_unit")
        .column_as(count("principal = ''"), "principal")
        .column_as(count("supervising_body = ''"), "supervising_body")
        .filter(Column::Inspection.eq(inspection))
        .into_model::<Completeness>()
        .one(conn)
        .await?
        .unwrap_or_default())
}

const INSERT_CHUNK: usize = 200;

/// Inserts one new problem; one whose id is taken is ALREADY_EXISTS.
pub async fn insert(conn: &impl ConnectionTrait, row: &Model) -> ApiResult<()> {
    Entity::insert(ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await
        .map_err(fiveledger_platform::storage::exists_or_internal(|| {
            row.name()
        }))?;
    Ok(())
}

/// Inserts many problems in few statements.
pub async fn insert_all(conn: &impl ConnectionTrait, rows: &[Model]) -> ApiResult<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        Entity::insert_many(chunk.iter().cloned().map(ActiveModel::from))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Marks every problem of an inspection frozen.
pub async fn freeze_all(conn: &impl ConnectionTrait, inspection: &str) -> ApiResult<()> {
    Entity::update_many()
        .col_expr(Column::Frozen, Expr::value(true))
        .filter(Column::Inspection.eq(inspection))
        .exec(conn)
        .await?;
    Ok(())
}

/// Writes `model` only if the row is still at `revision`.
pub async fn update_if_revision(
    conn: &impl ConnectionTrait,
    model: Model,
    revision: i64,
) -> ApiResult<Model> {
    let active: ActiveModel = model.clone().into();
    fiveledger_platform::storage::update_if_revision(
        conn,
        active.reset_all(),
        Column::Revision,
        revision,
        || name_of(&model.id),
    )
    .await?;
    Ok(model)
}

pub async fn delete_if_revision(
    conn: &impl ConnectionTrait,
    id: &str,
    revision: i64,
) -> ApiResult<()> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::Revision.eq(revision))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::Aborted {
            resource: name_of(id),
        });
    }
    Ok(())
}

/// Which responsibility list a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responsibility {
    /// (1) main responsibility: the unit.
    MainUnit,
    /// (2) leader in charge: problems of the unit with a leader named.
    LeaderInCharge,
    /// (3) supervising body.
    SupervisingBody,
    /// (4) functional department.
    FunctionalDepartment,
}

impl Responsibility {
    pub fn from_number(n: &str) -> Option<Self> {
        match n {
            "1" => Some(Self::MainUnit),
            "2" => Some(Self::LeaderInCharge),
            "3" => Some(Self::SupervisingBody),
            "4" => Some(Self::FunctionalDepartment),
            _ => None,
        }
    }

    fn columns(self) -> (Column, Column) {
        match self {
            Self::MainUnit | Self::LeaderInCharge => (Column::MainUnit, Column::MainUnitPath),
            Self::SupervisingBody => (Column::SupervisingBody, Column::SupervisingBodyPath),
            Self::FunctionalDepartment => (
                Column::FunctionalDepartment,
                Column::FunctionalDepartmentPath,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Id,
    CreateTime,
}

/// Where a page of a list ordered by [`Order`] resumes: after this row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Id(String),
    CreateTime(chrono::DateTime<chrono::Utc>, String),
}

/// How a list of problems is narrowed and ordered.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The caller's subtree (the level a body serves).
    pub scope: String,
    /// The caller's own organisation (the unit or body it is).
    pub own: String,
    /// The caller reads by target within `scope` (else within `own`).
    pub by_target: bool,
    /// The caller works rounds (an office or group role): it sees the
    /// lists of rounds run within its subtree before feedback too.
    pub works_rounds: bool,
    /// An inspection whose group the caller is a member of.
    pub member_of: Option<String>,
    /// A service of the suite: sees every problem.
    pub everything: bool,
    pub inspection: Option<String>,
    pub round: Option<String>,
    pub frozen: Option<bool>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    /// Read by its index, or walked when broad ([`Subtree`]).
    pub target_subtree: Option<Subtree>,
    pub responsible: Option<String>,
    /// Which list `responsible` is read in; all of them when `None`.
    pub responsibility: Option<Responsibility>,
    pub leader_in_charge: Option<String>,
    /// The state of the problem's list.
    pub list_state: Option<fiveledger_proto::issues::ProblemListState>,
    pub order: Order,
    pub desc: bool,
    /// Keyset: the (order key, id) of the last row already returned.
    pub after: Option<Cursor>,
    pub limit: u64,
}

/// Problems in a target subtree from which a page is found faster by
/// walking the list in its order than by sorting the subtree
/// (`bench --list-rows 1000000`: a county's 10,000 problems sorted took
/// 14 ms p50 a page, walked in name order 8 ms; a city's office, 11 and
/// 4 ms). Either walk reads in sequence: the table is stored in name
/// order, and the creation-time index carries what a caller's sight checks
/// (`problems_create_time_scope`), so only the rows listed are fetched.
const BROAD: u64 = 4096;

/// A page of the problems `q` asks for, a subtree probed first
/// ([`Subtree::probe`]). On PostgreSQL only by creation time, whose walk
/// there reads the index alone (see [`list_select`]): in name order it
/// reads each problem's row, and measured no faster than PostgreSQL's own
/// sort (`bench --list-rows 1000000`, a county: 12.6–14.3 against 9.1–11.4
/// ms p50; by creation time 8.7–10.3 against 17.9–22.9).
pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut q = q.clone();
    let walks_on_postgres = q.order == Order::CreateTime;
    if let Some(s) = &mut q.target_subtree {
        s.probe(conn, "problems", "target_path", BROAD, walks_on_postgres)
            .await?;
    }
    Ok(list_select(&q, conn.get_database_backend())
        .all(conn)
        .await?)
}

/// What the database keeps of each problem's list on its row, by triggers
/// (the migration `m20261203_000006_problem_list_facts`): read by the list
/// query, so that it checks no list row per problem; never written here.
#[derive(Copy, Clone, sea_orm::DeriveIden)]
enum ListFact {
    /// The list's `ProblemListState` by its proto name.
    #[sea_orm(iden = "list_state")]
    State,
    /// Feedback handed the list over.
    #[sea_orm(iden = "list_handed_over")]
    HandedOver,
    /// The level running the list's round.
    #[sea_orm(iden = "list_round_organisation_path")]
    RoundOrganisationPath,
}

/// The query [`list`] runs: keyset (never OFFSET), each documented filter
/// served by an index whose trailing columns are the order (see the
/// migration `m20261202_000004_list_indexes`), as `backend` plans it.
pub fn list_select(q: &ListQuery, backend: sea_orm::DbBackend) -> sea_orm::Select<Entity> {
    let mut select = Entity::find();
    // Scope, after feedback: the caller sees problems of targets in its
    // subtree and, when it asks for a responsibility list, the problems its
    // own units hold ([`scope::sees_problem`]).
    let mut scope = Condition::any().add(within_subtree(
        Column::TargetPath,
        if q.by_target { &q.scope } else { &q.own },
    ));
    if let Some(responsible) = &q.responsible {
        let lists = match q.responsibility {
            Some(r) => vec![r],
            None => vec![
                Responsibility::MainUnit,
                Responsibility::SupervisingBody,
                Responsibility::FunctionalDepartment,
            ],
        };
        let mut holds = Condition::any();
        for list in lists {
            let (name, path) = list.columns();
            let mut held = Condition::all().add(Expr::col(name).eq(responsible.clone()));
            if list == Responsibility::LeaderInCharge {
                held = held.add(Expr::col(Column::LeaderInCharge).ne(""));
            }
            holds = holds.add(held.clone());
            scope = scope.add(held.add(within_subtree(path, &q.own)));
        }
        select = select.filter(holds);
    }
    if !q.everything {
        let mut visible = Condition::any().add(
            Condition::all()
                .add(scope)
                .add(Expr::col((Entity, ListFact::HandedOver)).eq(true)),
        );
        if q.works_rounds {
            visible = visible.add(within_subtree(
                (Entity, ListFact::RoundOrganisationPath),
                &q.scope,
            ));
        }
        if let Some(inspection) = &q.member_of {
            visible = visible.add(Column::Inspection.eq(inspection.clone()));
        }
        select = select.filter(visible);
    }
    if let Some(v) = &q.inspection {
        select = select.filter(Column::Inspection.eq(v.clone()));
    }
    if let Some(v) = &q.round {
        select = select.filter(Column::Round.eq(v.clone()));
    }
    if let Some(v) = q.frozen {
        select = select.filter(Column::Frozen.eq(v));
    }
    if let Some(v) = &q.category {
        select = select.filter(Column::Category.eq(v.clone()));
    }
    if let Some(v) = q.severity {
        select = select.filter(Column::Severity.eq(severity_text(v)));
    }
    if let Some(s) = &q.target_subtree {
        select = select.filter(s.condition("problems", "target_path"));
    }
    if let Some(v) = &q.leader_in_charge {
        select = select.filter(Column::LeaderInCharge.eq(v.clone()));
    }
    if let Some(state) = q.list_state {
        select = select.filter(Expr::col((Entity, ListFact::State)).eq(state.as_str_name()));
    }
    if let Some(after) = &q.after {
        select = select.filter(match after {
            Cursor::Id(last_id) => Condition::all().add(if q.desc {
                Column::Id.lt(last_id.clone())
            } else {
                Column::Id.gt(last_id.clone())
            }),
            Cursor::CreateTime(last_time, last_id) => super::after(
                Column::CreateTime,
                Column::Id,
                (*last_time).into(),
                last_id.clone(),
                q.desc,
            ),
        });
    }
    // Ordered by id alone when the key is the id: a second `id` term makes
    // SQLite sort each page again.
    let keys: &[&str] = match q.order {
        Order::Id => &["id"],
        Order::CreateTime => &["create_time", "id"],
    };
    // The three responsibility lists at once are read by their indexes and
    // sorted. SQLite plans them blind to the organisation named (the build's
    // planner stability guarantee): it takes a body's average share (a
    // tenth of the table, for a city's commission) for a unit's few rows and
    // walks the whole table in the list's order instead. A unary plus on the
    // order keys leaves it no index to walk.
    let sorted = backend == sea_orm::DbBackend::Sqlite
        && q.responsible.is_some()
        && q.responsibility.is_none();
    let order = if q.desc {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    let column = |k: &str| Expr::col((Entity, sea_orm::sea_query::Alias::new(k)));
    for k in keys {
        let key = if sorted {
            fiveledger_platform::storage::unindexed("problems", k)
        } else {
            column(k)
        };
        select = select.order_by(key, order.clone());
    }
    let select = select.limit(q.limit);
    // A broad subtree's walk checks thousands of problems for a page.
    // PostgreSQL fetches each one's row before it checks what the index
    // scan cannot (SQLite checks the index entry first): 70 ms a page at a
    // million. So the page's ids are found first, by a walk that reads the
    // index alone (every column it checks is on `problems_create_time_scope`;
    // in name order, which [`list`] leaves to PostgreSQL's own plan, the
    // table is read in sequence), and only their rows are read.
    let broad = q.target_subtree.as_ref().is_some_and(|s| s.broad);
    if backend != sea_orm::DbBackend::Postgres || !broad {
        return select;
    }
    let ids = select.select_only().column(Column::Id).into_query();
    let mut page = Entity::find().filter(Column::Id.in_subquery(ids));
    for k in keys {
        page = page.order_by(column(k), order.clone());
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_stored_as_before_the_shared_enum() {
        assert_eq!(severity_text(Severity::Major), "PROBLEM_SEVERITY_MAJOR");
        for s in [Severity::Minor, Severity::Major, Severity::Severe] {
            assert_eq!(severity_from_text(&severity_text(s)), s);
        }
    }
}
