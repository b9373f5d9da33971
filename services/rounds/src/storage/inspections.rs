//! The `inspections` and `inspection_steps` tables and their queries.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::colour::{Colour, api_colour};
use fiveledger_platform::deadline::WarningSettings;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::{
    execute_together, exists_or_internal, update_if_revision_statement, within_subtree,
};
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::*;
use prost::Message;
use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseTransaction;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    Condition, DbBackend, PaginatorTrait, QueryOrder, QuerySelect, QueryTrait, Statement,
    TryIntoModel,
};

use crate::domain::inspection::{
    COLLECTION, Change, Event, Rule, Step, Timeline, apply, double_report_due,
    double_report_overdue, expect_phase, group_name_of, name_of,
};
use crate::domain::{organisation, round};
use crate::settings::RoundsSettings;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub target_id: String,
    pub target_path: String,
    pub group_id: Option<String>,
    /// `InspectionPhase` by its proto name.
    pub phase: String,
    /// `RoundKind` by its proto name (copied from the round: immutable).
    pub round_kind: String,
    pub round_organisation_path: String,
    /// Name of the inspection this one looks back at, or empty.
    pub look_back_of: String,
    pub feedback_date: Option<NaiveDate>,
    pub double_report_due_date: Option<NaiveDate>,
    /// Encoded `Inspection` holding only the timeline records (briefings,
    /// stationing, reports, feedback, double report, closure).
    pub records: Vec<u8>,
    pub revision: i64,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether the caller may see (read) the inspection: its target or the
    /// organisation running its round lies in the caller's subtree.
    pub fn seen_by(&self, caller: &Caller) -> bool {
        caller.can_see(&self.target_path) || caller.can_see(&self.round_organisation_path)
    }

    /// Whether the caller's subtree holds the organisation running the
    /// inspection's round: only then may an office change it. Seeing the
    /// target alone (a county office in a city's round) is for reading.
    pub fn run_by(&self, caller: &Caller) -> bool {
        caller.can_see(&self.round_organisation_path)
    }

    /// Refusal of a change to an inspection the caller may only read.
    pub fn out_of_scope(&self) -> ApiError {
        ApiError::denied(
            CommonReason::RoundOutOfScope,
            format!(
                "{} belongs to {}, run by {}: only that organisation's inspection office (or one above it) may change it",
                self.name(),
                round::name_of(&self.round_id),
                self.round_organisation_path
            ),
        )
    }

    pub fn name(&self) -> String {
        name_of(&self.round_id, &self.id)
    }

    /// Where the inspection's timeline stands, for a step on it (`name` as
    /// the request named it).
    pub fn timeline(&self, name: &str) -> ApiResult<Timeline> {
        Ok(Timeline {
            name: name.to_owned(),
            phase: self.phase(),
            group_assigned: self.group_id.is_some(),
            feedback_date: self.feedback_date,
            records: self.records()?,
        })
    }

    pub fn phase(&self) -> InspectionPhase {
        InspectionPhase::from_str_name(&self.phase).unwrap_or_default()
    }

    pub fn round_kind(&self) -> RoundKind {
        RoundKind::from_str_name(&self.round_kind).unwrap_or_default()
    }

    /// The timeline records.
    pub fn records(&self) -> ApiResult<Inspection> {
        Inspection::decode(self.records.as_slice()).map_err(ApiError::internal)
    }

    /// The full resource; `today` and the thresholds decide whether the
    /// double report is overdue and its colour, `look_backs` are the later
    /// inspections that re-check it.
    pub fn to_proto(
        &self,
        today: NaiveDate,
        warnings: &WarningSettings,
        look_backs: Vec<String>,
    ) -> ApiResult<Inspection> {
        let mut out = self.records()?;
        out.name = self.name();
        out.target = organisation::name_of(&self.target_id);
        out.target_path = self.target_path.clone();
        out.group = self
            .group_id
            .as_deref()
            .map(|g| group_name_of(&self.round_id, g))
            .unwrap_or_default();
        out.phase = self.phase() as i32;
        out.round_kind = self.round_kind() as i32;
        out.round_organisation_path = self.round_organisation_path.clone();
        out.look_back_of = self.look_back_of.clone();
        out.feedback_date = self.feedback_date.map(to_date);
        out.double_report_due_date = self.double_report_due_date.map(to_date);
        out.etag = etag(self.revision);
        out.create_time = Some(to_timestamp(self.create_time));
        out.update_time = Some(to_timestamp(self.update_time));
        out.look_backs = look_backs;
        if let Some(report) = out.double_report.as_mut() {
            let received = |r: &Option<fiveledger_proto::rounds::ReportRecord>| {
                r.as_ref()
                    .and_then(|r| r.date.as_ref())
                    .and_then(|d| fiveledger_platform::time::from_date("", d).ok())
            };
            let (team, principal) = (
                received(&report.team_report),
                received(&report.principal_report),
            );
            report.overdue =
                double_report_overdue(today, self.double_report_due_date, team, principal);
            report.set_colour(api_colour(double_report_colour(
                today,
                warnings,
                self.double_report_due_date,
                team.is_some() && principal.is_some(),
            )));
        } else if self.double_report_due_date.is_some() {
            let due = self.double_report_due_date;
            out.double_report = Some(fiveledger_proto::rounds::DoubleReport {
                overdue: double_report_overdue(today, due, None, None),
                colour: api_colour(double_report_colour(today, warnings, due, false)) as i32,
                ..Default::default()
            });
        }
        Ok(out)
    }
}

/// The four-colour warning of a double report: by the calendar while a
/// part is missing, none once both are in (or before feedback set a date).
pub fn double_report_colour(
    today: NaiveDate,
    warnings: &WarningSettings,
    due: Option<NaiveDate>,
    complete: bool,
) -> Colour {
    match due {
        Some(due) if !complete => warnings.rule().calendar(due, today),
        _ => Colour::Unspecified,
    }
}

/// Encodes the timeline records of `inspection` for storage (the other
/// fields live in columns).
pub fn encode_records(inspection: &Inspection) -> Vec<u8> {
    let mut records = Inspection {
        briefings: inspection.briefings.clone(),
        stationing: inspection.stationing,
        mid_term_report: inspection.mid_term_report.clone(),
        comprehensive_report: inspection.comprehensive_report.clone(),
        feedback: inspection.feedback.clone(),
        leaders_in_charge_notice: inspection.leaders_in_charge_notice.clone(),
        rectification_start_date: inspection.rectification_start_date,
        double_report: inspection.double_report.clone(),
        close_date: inspection.close_date,
        closing_note: inspection.closing_note.clone(),
        ..Default::default()
    };
    // Computed at read time, never stored.
    if let Some(report) = records.double_report.as_mut() {
        report.overdue = false;
    }
    records.encode_to_vec()
}

pub async fn find(
    conn: &impl ConnectionTrait,
    round_id: &str,
    id: &str,
) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id((round_id.to_owned(), id.to_owned()))
        .one(conn)
        .await?)
}

/// The inspection `name` if the caller may see it; NOT_FOUND otherwise.
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let (round_id, id) = names::parse_nested(field, name, round::COLLECTION, COLLECTION)?;
    super::seen(find(conn, round_id, id).await?, name, |row| {
        row.seen_by(caller)
    })
}

/// Who may change an inspection they can see: an inspection office whose
/// subtree holds the organisation running the round; for the on-site
/// steps (`leader_may`) also the leader of the inspection's group.
async fn authorise_change(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    current: &Model,
    leader_may: bool,
) -> ApiResult<()> {
    let office = caller.has_role(Role::InspectionOffice);
    if office && current.run_by(caller) {
        return Ok(());
    }
    if leader_may
        && let Some(group_id) = &current.group_id
        && super::groups::led_by(conn, &current.round_id, group_id, &caller.subject).await?
    {
        return Ok(());
    }
    if office {
        return Err(current.out_of_scope());
    }
    Err(ApiError::denied(
        ErrorReason::NotGroupLeader,
        format!(
            "only the leader of the group assigned to {} or the inspection office running its round may take this step",
            current.name()
        ),
    ))
}

/// The inspection `name` and its round, for a step under `rule`: NOT_FOUND
/// unless the caller may see it, PERMISSION_DENIED unless they may take
/// it, FAILED_PRECONDITION (`WRONG_PHASE`) unless it is in a phase the
/// rule allows.
pub async fn changeable(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    name: &str,
    rule: &Rule,
) -> ApiResult<(Model, super::rounds::Model)> {
    let current = visible(conn, caller, "name", name).await?;
    authorise_change(conn, caller, &current, rule.leader_may).await?;
    expect_phase(name, current.phase(), rule.allowed, rule.method)?;
    let round = super::rounds::find(conn, &current.round_id)
        .await?
        .ok_or_else(|| ApiError::not_found(name))?;
    Ok((current, round))
}

/// Several inspections by (round, id), in one query.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    keys: &[(String, String)],
) -> ApiResult<Vec<Model>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut any = Condition::any();
    for (round_id, id) in keys {
        any = any.add(
            Condition::all()
                .add(Column::RoundId.eq(round_id.clone()))
                .add(Column::Id.eq(id.clone())),
        );
    }
    Ok(Entity::find().filter(any).all(conn).await?)
}

/// The later look-backs of each of `names`: (looked-at name, look-back name).
pub async fn look_backs_of(
    conn: &impl ConnectionTrait,
    names: &[String],
) -> ApiResult<Vec<(String, String)>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .filter(Column::LookBackOf.is_in(names.iter().cloned()))
        .order_by_asc(Column::RoundId)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.look_back_of.clone(), r.name()))
        .collect())
}

/// Converts rows, filling `look_backs` with one query for all of them.
pub async fn to_protos(
    conn: &impl ConnectionTrait,
    rows: &[Model],
    today: NaiveDate,
    warnings: &WarningSettings,
) -> ApiResult<Vec<Inspection>> {
    let names: Vec<String> = rows.iter().map(Model::name).collect();
    let links = look_backs_of(conn, &names).await?;
    rows.iter()
        .zip(&names)
        .map(|(row, name)| {
            let later = links
                .iter()
                .filter(|(of, _)| of == name)
                .map(|(_, by)| by.clone())
                .collect();
            row.to_proto(today, warnings, later)
        })
        .collect()
}

/// One row as the full resource (with its look-backs).
pub async fn one(
    conn: &impl ConnectionTrait,
    row: &Model,
    today: NaiveDate,
    warnings: &WarningSettings,
) -> ApiResult<Inspection> {
    Ok(to_protos(conn, std::slice::from_ref(row), today, warnings)
        .await?
        .remove(0))
}

/// The inspections assigned to a group.
pub async fn of_group(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_id: &str,
) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::RoundId.eq(round_id))
        .filter(Column::GroupId.eq(group_id))
        .all(conn)
        .await?)
}

/// How many inspections of a round are not closed yet.
pub async fn count_open(conn: &impl ConnectionTrait, round_id: &str) -> ApiResult<u64> {
    Ok(Entity::find()
        .filter(Column::RoundId.eq(round_id))
        .filter(Column::Phase.ne(InspectionPhase::Closed.as_str_name()))
        .count(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Caller's scope: the target or the running organisation within it.
    pub scope: String,
    pub round_id: Option<String>,
    pub group_id: Option<String>,
    pub phase: Option<InspectionPhase>,
    pub target_id: Option<String>,
    pub ancestor_path: Option<String>,
    pub look_back_of: Option<String>,
    /// Keyset: (round, id) of the last row returned.
    pub after: Option<(String, String)>,
    pub limit: u64,
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find().filter(
        Condition::any()
            .add(within_subtree(Column::TargetPath, &q.scope))
            .add(within_subtree(Column::RoundOrganisationPath, &q.scope)),
    );
    if let Some(round) = &q.round_id {
        select = select.filter(Column::RoundId.eq(round.clone()));
    }
    if let Some(group) = &q.group_id {
        select = select.filter(Column::GroupId.eq(group.clone()));
    }
    if let Some(phase) = q.phase {
        select = select.filter(Column::Phase.eq(phase.as_str_name()));
    }
    if let Some(target) = &q.target_id {
        select = select.filter(Column::TargetId.eq(target.clone()));
    }
    if let Some(path) = &q.ancestor_path {
        select = select.filter(within_subtree(Column::TargetPath, path));
    }
    if let Some(of) = &q.look_back_of {
        select = select.filter(Column::LookBackOf.eq(of.clone()));
    }
    if let Some((round, id)) = &q.after {
        select = select.filter(
            Condition::any()
                .add(Expr::col(Column::RoundId).gt(round.clone()))
                .add(
                    Expr::col(Column::RoundId)
                        .eq(round.clone())
                        .and(Expr::col(Column::Id).gt(id.clone())),
                ),
        );
    }
    Ok(select
        .order_by_asc(Column::RoundId)
        .order_by_asc(Column::Id)
        .limit(q.limit)
        .all(conn)
        .await?)
}

/// A new inspection of `target` in `round`, checked.
pub struct New<'a> {
    pub id: String,
    pub round: &'a super::rounds::Model,
    pub target: &'a super::organisations::Model,
    pub group_id: Option<String>,
    /// The name of the inspection it looks back at, or empty.
    pub look_back_of: String,
}

/// Adds a new inspection (in preparation, with no records yet): the row,
/// its first timeline step and its event. ALREADY_EXISTS when its id, or
/// its target in its round, is taken.
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    now: DateTime<Utc>,
    warnings: &WarningSettings,
    new: New<'_>,
    target: &str,
) -> ApiResult<Inspection> {
    let row = Model {
        round_id: new.round.id.clone(),
        id: new.id,
        target_id: new.target.id.clone(),
        target_path: new.target.path.clone(),
        group_id: new.group_id,
        phase: InspectionPhase::Preparation.as_str_name().to_owned(),
        round_kind: new.round.kind.clone(),
        round_organisation_path: new.round.organisation_path.clone(),
        look_back_of: new.look_back_of,
        feedback_date: None,
        double_report_due_date: None,
        records: encode_records(&Inspection::default()),
        revision: 1,
        create_time: now,
        update_time: now,
    };
    let taken = format!(
        "{} (or an inspection of {target} in this round)",
        name_of(&row.round_id, &row.id)
    );
    let row = ActiveModel::from(row)
        .reset_all()
        .insert(txn)
        .await
        .map_err(exists_or_internal(|| taken))?;
    record_step(
        txn,
        &row,
        "CreateInspection",
        ctx,
        format!("{target} added to the round"),
        now,
    )
    .await?;
    let inspection = one(txn, &row, now.date_naive(), warnings).await?;
    append_event(txn, ctx, Event::Created, &inspection).await?;
    Ok(inspection)
}

/// Takes `step` on `current` (`name` as the request named it): the phase
/// machine (`domain::inspection::apply`) decides what it changes, then the
/// change is written with its timeline step and its event, all in `txn`.
/// A refused step writes nothing. Returns the inspection after it.
pub async fn take_step(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    current: &Model,
    name: &str,
    step: Step,
) -> ApiResult<Inspection> {
    let method = step.rule().method;
    let change = apply(current.timeline(name)?, step)?;
    write_step(txn, ctx, settings, now, method, current, change).await
}

/// Writes a step: the row (if still at its revision), the timeline step,
/// the event, sent together (one call to SQLite's driver). Returns the
/// inspection after it.
async fn write_step(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    step: &str,
    current: &Model,
    change: Change,
) -> ApiResult<Inspection> {
    // What both databases keep of a time (PostgreSQL's microseconds), so the
    // row answered is the row stored, without reading it back.
    let now = now.trunc_subsecs(6);
    let mut model: ActiveModel = current.clone().into();
    model.phase = Set(change.phase.as_str_name().to_owned());
    model.records = Set(encode_records(&change.records));
    if let Some(group_id) = change.group_id {
        model.group_id = Set(Some(group_id));
    }
    if let Some(date) = change.feedback_date {
        model.feedback_date = Set(Some(date));
        model.double_report_due_date =
            Set(Some(double_report_due(date, settings.double_report_days)));
    }
    model.revision = Set(current.revision + 1);
    model.update_time = Set(now);
    let updated = model.clone().try_into_model().map_err(ApiError::internal)?;
    let inspection = one(txn, &updated, now.date_naive(), &settings.warnings).await?;
    let backend = txn.get_database_backend();
    let statements = vec![
        update_if_revision_statement(backend, model, Column::Revision, current.revision)?,
        step_statement(backend, &updated, step, ctx, change.description, now),
        event_statement(backend, ctx, change.event, &inspection)?,
    ];
    let expected = statements.len() as u64;
    // The row moved on since it was read (its step and event, written
    // too, are undone with the mutation's savepoint by the error).
    if execute_together(txn, statements).await? != expected {
        return Err(ApiError::Aborted {
            resource: updated.name(),
        });
    }
    Ok(inspection)
}

/// Appends the event of a step.
async fn append_event(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    event: Event,
    inspection: &Inspection,
) -> ApiResult<()> {
    let statement = event_statement(txn.get_database_backend(), ctx, event, inspection)?;
    txn.execute_raw(statement).await?;
    Ok(())
}

/// The statement appending the event of a step.
fn event_statement(
    backend: DbBackend,
    ctx: &EventContext,
    event: Event,
    inspection: &Inspection,
) -> ApiResult<Statement> {
    let subject = inspection.name.as_str();
    let ctx = &ctx.about(&inspection.round_organisation_path);
    let i = Some(inspection.clone());
    // Each event is its own message type: one generic call per arm.
    macro_rules! statement {
        ($message:expr) => {
            outbox::append_statement(backend, ctx, subject, &$message)
        };
    }
    match event {
        Event::Created => statement!(InspectionCreated { inspection: i }),
        Event::GroupAssigned => statement!(InspectionGroupAssigned { inspection: i }),
        Event::BriefingRecorded => statement!(InspectionBriefingRecorded { inspection: i }),
        Event::Stationed => statement!(InspectionStationed { inspection: i }),
        Event::MidTermReported => statement!(InspectionMidTermReported { inspection: i }),
        Event::Reported => statement!(InspectionReported { inspection: i }),
        Event::LeadersInChargeNotified => statement!(LeadersInChargeNotified { inspection: i }),
        Event::FeedbackGiven => statement!(FeedbackGiven { inspection: i }),
        Event::RectificationStarted => statement!(RectificationStarted { inspection: i }),
        Event::DoubleReportRecorded(kind) => statement!(DoubleReportRecorded {
            inspection: i,
            kind: kind as i32,
        }),
        Event::Closed => statement!(InspectionClosed { inspection: i }),
    }
}

/// Writes `model` only if the row is still at `revision`.
pub async fn update_if_revision(
    conn: &impl ConnectionTrait,
    model: ActiveModel,
    revision: i64,
) -> ApiResult<Model> {
    let round_id = model.round_id.try_as_ref().cloned().unwrap_or_default();
    let id = model.id.try_as_ref().cloned().unwrap_or_default();
    fiveledger_platform::storage::update_if_revision(
        conn,
        model,
        Column::Revision,
        revision,
        || name_of(&round_id, &id),
    )
    .await?;
    find(conn, &round_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(name_of(&round_id, &id)))
}

/// One recorded step of an inspection's timeline (全程留痕).
pub mod step {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_steps")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub round_id: String,
        pub inspection_id: String,
        pub step: String,
        pub phase: String,
        pub actor: String,
        pub request_id: String,
        pub description: String,
        pub create_time: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Appends a step to the timeline, taken by `ctx`'s actor for its request.
pub async fn record_step(
    conn: &impl ConnectionTrait,
    inspection: &Model,
    step: &str,
    ctx: &EventContext,
    description: String,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let backend = conn.get_database_backend();
    let statement = step_statement(backend, inspection, step, ctx, description, now);
    conn.execute_raw(statement).await?;
    Ok(())
}

/// [`record_step`]'s statement: it inserts one row (nothing read back).
pub(super) fn step_statement(
    backend: DbBackend,
    inspection: &Model,
    step: &str,
    ctx: &EventContext,
    description: String,
    now: DateTime<Utc>,
) -> Statement {
    step::Entity::insert(step::ActiveModel {
        round_id: Set(inspection.round_id.clone()),
        inspection_id: Set(inspection.id.clone()),
        step: Set(step.to_owned()),
        phase: Set(inspection.phase.clone()),
        actor: Set(ctx.actor.clone()),
        request_id: Set(ctx.request_id.clone()),
        description: Set(description),
        create_time: Set(now),
        ..Default::default()
    })
    .build(backend)
}

pub async fn steps(
    conn: &impl ConnectionTrait,
    round_id: &str,
    id: &str,
) -> ApiResult<Vec<TimelineStep>> {
    let rows = step::Entity::find()
        .filter(step::Column::RoundId.eq(round_id))
        .filter(step::Column::InspectionId.eq(id))
        .order_by_asc(step::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| TimelineStep {
            step: s.step,
            phase: InspectionPhase::from_str_name(&s.phase).unwrap_or_default() as i32,
            actor: s.actor,
            request_id: s.request_id,
            description: s.description,
            create_time: Some(to_timestamp(s.create_time)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_double_report_is_coloured_until_both_parts_are_in() {
        let t = WarningSettings::default();
        let due = NaiveDate::from_ymd_opt(2026, 8, 1).expect("date");
        let on = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        let colour = |today, complete| double_report_colour(today, &t, Some(due), complete);
        assert_eq!(colour(on(7, 1), false), Colour::Green);
        assert_eq!(colour(on(7, 25), false), Colour::Blue);
        assert_eq!(colour(on(8, 2), false), Colour::Yellow);
        assert_eq!(colour(on(9, 1), false), Colour::Red);
        assert_eq!(colour(on(9, 1), true), Colour::Unspecified);
        assert_eq!(
            double_report_colour(on(9, 1), &t, None, false),
            Colour::Unspecified
        );
    }
}
