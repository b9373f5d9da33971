//! The `clues` table and its queries.

use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::auth::{Caller, Role, parent_path};
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_proto::issues::{
    Clue, ClueDisposal, ClueOutcome, ClueOutcomeKind, ClueState, DisposalMethod,
};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::domain::clue::name_of;
use crate::domain::scope::{self, CLUE_HOLDERS};
use fiveledger_platform::clue_scope::may_hold_clues;

/// The clues a sweep on demand looks at: those `caller` may see, within
/// the organisation subtree `path` (empty for all of them).
pub fn sweep_scope(caller: &Caller, path: &str) -> Condition {
    Condition::all()
        .add(visible(caller))
        .add(within_subtree(Column::TargetPath, path))
}

/// The clues `caller` may see, in SQL: [`scope::sees_clue`].
pub fn visible(caller: &Caller) -> Condition {
    if caller.has_role(Role::Service) {
        return Condition::all();
    }
    if !may_hold_clues(caller) {
        return Condition::all().add(Expr::value(false));
    }
    let holder = if caller.roles.contains(&Role::Admin) {
        Condition::all()
    } else {
        // The receiving body is the caller's organisation or one above it.
        Condition::all().add(Column::ReceivingBodyPath.is_in(with_ancestors(&caller.org_path)))
    };
    if !caller.has_any(CLUE_HOLDERS) {
        // The organisation department: only what it holds.
        return holder;
    }
    Condition::any().add(holder).add(within_subtree(
        Column::RoundOrganisationPath,
        &caller.scope_path,
    ))
}

/// `path` and every organisation above it (at most the tree's depth).
fn with_ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = path;
    while !path.is_empty() {
        out.push(path.to_owned());
        path = parent_path(path);
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clues")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub inspection: String,
    pub round: String,
    pub target: String,
    pub target_path: String,
    pub subject_name: String,
    pub subject_post: String,
    pub summary: String,
    pub source: String,
    pub receiving_body: String,
    pub receiving_body_path: String,
    /// `ClueState` by its proto name.
    pub state: String,
    /// `DisposalMethod` by its proto name; empty until disposed.
    pub disposal_method: String,
    pub disposal_date: Option<chrono::NaiveDate>,
    pub disposal_note: String,
    pub disposal_by: String,
    /// `ClueOutcomeKind` by its proto name; empty until recorded.
    pub outcome_kind: String,
    pub outcome_date: Option<chrono::NaiveDate>,
    pub outcome_note: String,
    pub outcome_by: String,
    pub reopen_count: i32,
    pub registered_by: String,
    /// Path of the organisation running the clue's round ("" for clues
    /// registered before it was kept: seen only by their holder).
    pub round_organisation_path: String,
    /// The level managing the cadre, when above the running level.
    pub subject_managed_by: String,
    pub subject_managed_by_path: String,
    /// The time limit of the clue's current stage as ISO text, "" when it
    /// has none (concluded): see `domain::clue_deadline`.
    pub due_date: String,
    /// The colour last notified (a `Colour` code; 0 for none).
    pub notified_colour: i32,
    /// The ladder's memory: yellows of earlier time limits, the floor and
    /// the peak (colour codes).
    pub yellow_count: i32,
    pub colour_floor: i32,
    pub colour_peak: i32,
    /// Warnings posted so far (numbers the notices).
    pub warning_count: i32,
    /// The day the clue was last reopened (its clock restarts then).
    pub reopen_date: Option<chrono::NaiveDate>,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What showing a clue needs besides its rows: today, the warning
/// thresholds and the signers a disposal needs.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub today: chrono::NaiveDate,
    pub warnings: fiveledger_platform::deadline::WarningSettings,
    pub signers: i32,
}

impl Model {
    /// The clue's warning memory.
    pub fn warned(&self) -> crate::domain::clue_deadline::Warned {
        use fiveledger_platform::colour::Colour;
        crate::domain::clue_deadline::Warned {
            notified: Colour::from_code(self.notified_colour),
            yellows: self.yellow_count,
            floor: Colour::from_code(self.colour_floor),
            peak: Colour::from_code(self.colour_peak),
        }
    }

    /// Keeps `w` as the clue's warning memory.
    pub fn set_warned(&mut self, w: &crate::domain::clue_deadline::Warned) {
        self.notified_colour = w.notified.code();
        self.yellow_count = w.yellows;
        self.colour_floor = w.floor.code();
        self.colour_peak = w.peak.code();
    }

    /// Brings the clue's time limit in line with its state, disposal and
    /// current transfer (the last of `transfers`), moving its warning
    /// memory on when the limit changes (`domain::clue_deadline`).
    pub fn retime(
        &mut self,
        transfers: &[super::clue_transfers::Model],
        settings: &crate::settings::IssuesSettings,
    ) {
        use crate::domain::clue_deadline as deadline;
        let new = transfers.last().and_then(|t| {
            deadline::due(
                self.state(),
                DisposalMethod::from_str_name(&self.disposal_method),
                t.transfer_date,
                t.due_date,
                self.reopen_date,
                settings,
            )
        });
        let mut warned = self.warned();
        deadline::retime(&mut warned, deadline::parse_due(&self.due_date), new);
        self.set_warned(&warned);
        self.due_date = deadline::due_text(new);
    }

    pub fn state(&self) -> ClueState {
        ClueState::from_str_name(&self.state).unwrap_or_default()
    }

    pub fn visible_to(&self, caller: &Caller) -> bool {
        scope::sees_clue(
            caller,
            &self.receiving_body_path,
            &self.round_organisation_path,
        )
    }

    /// The clue as the API shows it, with its `transfers` (oldest first),
    /// the signatures of its current disposal decision, and its overdue and
    /// colour judged as of `view.today`.
    pub fn to_proto(
        &self,
        transfers: &[super::clue_transfers::Model],
        signatures: &[super::clue_signatures::Model],
        view: &View,
    ) -> Clue {
        let today = view.today;
        let last = transfers.len().saturating_sub(1);
        let due = crate::domain::clue_deadline::parse_due(&self.due_date);
        Clue {
            due_date: due.map(to_date),
            colour: fiveledger_platform::colour::api_colour(crate::domain::clue_deadline::shown(
                due,
                &self.warned(),
                today,
                &view.warnings,
            )) as i32,
            disposal_signatures: signatures
                .iter()
                .filter(|s| s.decision == self.reopen_count)
                .map(super::clue_signatures::Model::to_proto)
                .collect(),
            disposal_signatures_required: view.signers,
            name: name_of(&self.id),
            inspection: self.inspection.clone(),
            round: self.round.clone(),
            target: self.target.clone(),
            target_path: self.target_path.clone(),
            subject_name: self.subject_name.clone(),
            subject_post: self.subject_post.clone(),
            summary: self.summary.clone(),
            source: self.source.clone(),
            receiving_body: self.receiving_body.clone(),
            receiving_body_path: self.receiving_body_path.clone(),
            subject_managed_by: self.subject_managed_by.clone(),
            state: self.state() as i32,
            disposal: self.disposal_date.map(|d| ClueDisposal {
                method: DisposalMethod::from_str_name(&self.disposal_method).unwrap_or_default()
                    as i32,
                date: Some(to_date(d)),
                note: self.disposal_note.clone(),
                recorded_by: self.disposal_by.clone(),
            }),
            outcome: self.outcome_date.map(|d| ClueOutcome {
                kind: ClueOutcomeKind::from_str_name(&self.outcome_kind).unwrap_or_default() as i32,
                date: Some(to_date(d)),
                note: self.outcome_note.clone(),
                recorded_by: self.outcome_by.clone(),
            }),
            reopen_count: self.reopen_count,
            registered_by: self.registered_by.clone(),
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            transfers: transfers
                .iter()
                .enumerate()
                .map(|(i, t)| t.to_proto(i == last, today))
                .collect(),
        }
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// The clue `name` names, if `caller` may see it; out of sight looks
/// exactly like not found.
pub async fn find_visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    name: &str,
) -> ApiResult<Model> {
    let id = fiveledger_platform::aip::names::parse("name", name, crate::domain::clue::COLLECTION)?;
    if !may_hold_clues(caller) {
        return Err(fiveledger_platform::ApiError::not_found(name));
    }
    match find(conn, id).await? {
        Some(c) if c.visible_to(caller) => Ok(c),
        _ => Err(fiveledger_platform::ApiError::not_found(name)),
    }
}

/// Writes a new clue; one with its id already there is ALREADY_EXISTS.
pub async fn insert(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let id = model.id.clone();
    ActiveModel::from(model).insert(conn).await.map_err(
        fiveledger_platform::storage::exists_or_internal(|| name_of(&id)),
    )
}

/// Writes a changed clue, its revision and update time moved on, only if
/// the row is still at the revision it was read at.
pub async fn save(
    conn: &impl ConnectionTrait,
    mut clue: Model,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Model> {
    let revision = clue.revision;
    clue.revision += 1;
    clue.update_time = now;
    update_if_revision(conn, clue, revision).await
}

/// Writes `model` (revision already bumped) only if the row is still at
/// `revision`.
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

/// How a list of clues is narrowed (ordered by id).
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// What the caller may see ([`visible`]).
    pub visible: Condition,
    pub inspection: Option<String>,
    pub round: Option<String>,
    pub state: Option<ClueState>,
    pub disposal_method: Option<DisposalMethod>,
    pub receiving_body: Option<String>,
    pub target_subtree: Option<String>,
    pub after: Option<String>,
    pub limit: u64,
}

/// Shows nothing until `visible` is set: a forgotten scope fails closed.
impl Default for ListQuery {
    fn default() -> Self {
        Self {
            visible: Condition::all().add(Expr::value(false)),
            inspection: None,
            round: None,
            state: None,
            disposal_method: None,
            receiving_body: None,
            target_subtree: None,
            after: None,
            limit: 0,
        }
    }
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(q.visible.clone());
    if let Some(v) = &q.inspection {
        select = select.filter(Column::Inspection.eq(v.clone()));
    }
    if let Some(v) = &q.round {
        select = select.filter(Column::Round.eq(v.clone()));
    }
    if let Some(v) = q.state {
        select = select.filter(Column::State.eq(v.as_str_name()));
    }
    if let Some(v) = q.disposal_method {
        select = select.filter(Column::DisposalMethod.eq(v.as_str_name()));
    }
    if let Some(v) = &q.receiving_body {
        select = select.filter(Column::ReceivingBody.eq(v.clone()));
    }
    if let Some(v) = &q.target_subtree {
        select = select.filter(within_subtree(Column::TargetPath, v));
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

/// One group's clue figures (see `ClueCounts`).
#[derive(Debug, Clone, Default, sea_orm::FromQueryResult)]
pub struct Tally {
    pub key: String,
    pub registered: i64,
    pub transferred: i64,
    pub disposed: i64,
    pub talk_or_letter: i64,
    pub preliminary_verification: i64,
    pub hold: i64,
    pub conclude: i64,
    pub with_outcome: i64,
    pub case_filed: i64,
    pub disciplined: i64,
    pub organisational_handling: i64,
    pub cleared: i64,
    pub green: i64,
    pub blue: i64,
    pub yellow: i64,
    pub red: i64,
}

/// Which clues a tally counts (those the caller sees, narrowed) and how
/// they are grouped.
#[derive(Debug, Clone, Default)]
pub struct TallyQuery {
    pub target_subtree: Option<String>,
    pub round: Option<String>,
    pub inspection: Option<String>,
    /// Registered at or after / before.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub group_by: TallyGrouping,
    /// Today and the four-colour rule, to count clues by their colour.
    pub colour: Option<(chrono::NaiveDate, fiveledger_platform::colour::ColourRule)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TallyGrouping {
    #[default]
    None,
    TargetPath,
    Round,
}

/// Clue figures of the clues `caller` sees, narrowed by `q`, over indexed
/// scope columns in one GROUP BY. Only enum names are spliced into the SQL.
pub async fn tally(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    q: &TallyQuery,
) -> ApiResult<Vec<Tally>> {
    use sea_orm::sea_query::Expr;
    let mut filter = Condition::all().add(visible(caller));
    if let Some(path) = &q.target_subtree {
        filter = filter.add(within_subtree(Column::TargetPath, path));
    }
    if let Some(round) = &q.round {
        filter = filter.add(Column::Round.eq(round.clone()));
    }
    if let Some(inspection) = &q.inspection {
        filter = filter.add(Column::Inspection.eq(inspection.clone()));
    }
    if let Some(from) = q.from {
        filter = filter.add(Column::CreateTime.gte(from));
    }
    if let Some(until) = q.until {
        filter = filter.add(Column::CreateTime.lt(until));
    }
    let key = match q.group_by {
        TallyGrouping::None => None,
        TallyGrouping::TargetPath => Some(Column::TargetPath),
        TallyGrouping::Round => Some(Column::Round),
    };
    let count = |c: String| {
        Expr::cust(format!(
            "CAST(COALESCE(SUM(CASE WHEN {c} THEN 1 ELSE 0 END), 0) AS BIGINT)"
        ))
    };
    let method = |m: DisposalMethod| count(format!("disposal_method = '{}'", m.as_str_name()));
    let outcome = |k: ClueOutcomeKind| count(format!("outcome_kind = '{}'", k.as_str_name()));
    let mut select = Entity::find().select_only();
    select = match key {
        Some(col) => select.column_as(col, "key").group_by(col).order_by_asc(col),
        None => select.column_as(Expr::cust("''"), "key"),
    };
    // Clues by the colour they show (the rule's SQL, as a read shows it).
    if let Some((today, rule)) = q.colour {
        use fiveledger_platform::colour::{Colour, ItemColumns};
        use sea_orm::sea_query::{Alias, ExprTrait, Func};
        let colour = rule.sql(
            today,
            &ItemColumns {
                due: Expr::col(Column::DueDate),
                closed: Condition::all().add(Column::State.eq(ClueState::Concluded.as_str_name())),
                yellows: Expr::col(Column::YellowCount),
                floor: Expr::col(Column::ColourFloor),
            },
        );
        for (c, alias) in [
            (Colour::Green, "green"),
            (Colour::Blue, "blue"),
            (Colour::Yellow, "yellow"),
            (Colour::Red, "red"),
        ] {
            let one: Expr = Expr::case(colour.clone().eq(c.sql()), Expr::val(1))
                .finally(Expr::val(0))
                .into();
            let sum: Expr = Func::coalesce([Func::sum(one).into(), Expr::val(0)]).into();
            let counted: Expr = Func::cast_as(sum, Alias::new("BIGINT")).into();
            select = select.column_as(counted, alias);
        }
    } else {
        for alias in ["green", "blue", "yellow", "red"] {
            select = select.column_as(Expr::cust("CAST(0 AS BIGINT)"), alias);
        }
    }
    Ok(select
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "registered")
        // Signed for by a receiving body at least once (primary key lookup).
        .column_as(
            count(
                "EXISTS (SELECT 1 FROM clue_transfers t WHERE t.clue_id = clues.id \
                 AND t.acknowledge_date IS NOT NULL)"
                    .into(),
            ),
            "transferred",
        )
        .column_as(count("disposal_method <> ''".into()), "disposed")
        .column_as(method(DisposalMethod::TalkOrLetter), "talk_or_letter")
        .column_as(
            method(DisposalMethod::PreliminaryVerification),
            "preliminary_verification",
        )
        .column_as(method(DisposalMethod::Hold), "hold")
        .column_as(method(DisposalMethod::Conclude), "conclude")
        .column_as(count("outcome_kind <> ''".into()), "with_outcome")
        .column_as(outcome(ClueOutcomeKind::CaseFiled), "case_filed")
        .column_as(outcome(ClueOutcomeKind::Disciplined), "disciplined")
        .column_as(
            outcome(ClueOutcomeKind::OrganisationalHandling),
            "organisational_handling",
        )
        .column_as(outcome(ClueOutcomeKind::Cleared), "cleared")
        .filter(filter)
        .into_model::<Tally>()
        .all(conn)
        .await?)
}

impl Tally {
    pub fn to_proto(&self) -> fiveledger_proto::issues::ClueStatisticsRow {
        fiveledger_proto::issues::ClueStatisticsRow {
            key: self.key.clone(),
            counts: Some(fiveledger_proto::types::ClueCounts {
                registered: self.registered,
                transferred: self.transferred,
                disposed: self.disposed,
                talk_or_letter: self.talk_or_letter,
                preliminary_verification: self.preliminary_verification,
                hold: self.hold,
                conclude: self.conclude,
                with_outcome: self.with_outcome,
                case_filed: self.case_filed,
                disciplined: self.disciplined,
                organisational_handling: self.organisational_handling,
                cleared: self.cleared,
                green: self.green,
                blue: self.blue,
                yellow: self.yellow,
                red: self.red,
            }),
        }
    }
}
