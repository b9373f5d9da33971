//! The `hand_offs` table: what an inspection handed to each receiving body
//! at feedback, and the body's acknowledgement.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::auth::{Caller, within_reach};
use fiveledger_platform::colour::{api_colour, rule_colour};
use fiveledger_platform::deadline::WarningSettings;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::{execute_together, exists_or_internal, within_subtree};
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{
    HandOff, HandOffAcknowledged, HandOffAcknowledgement, HandOffItem, HandOffKind, HandOffMade,
    HandOffResult, HandOffResultRecorded, OrganisationKind,
};
use fiveledger_proto::types::WarningColour;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, DatabaseTransaction, QueryOrder, QuerySelect, QueryTrait};

use crate::domain::hand_off::{
    self as domain, FUNCTIONAL, Routing, STANDARD, acknowledgement_due, body_missing,
    check_functional, functional_id, name_of,
};
use crate::domain::organisation;
use crate::settings::RoundsSettings;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hand_offs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub inspection_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub receiver_id: String,
    pub receiver_path: String,
    /// `HandOffKind` by its proto name.
    pub kind: String,
    /// `HandOffItem` proto names, joined by `,`.
    pub items: String,
    pub summary: String,
    pub target_id: String,
    pub round_organisation_path: String,
    pub hand_off_date: NaiveDate,
    pub acknowledgement_due_date: NaiveDate,
    pub acknowledged: bool,
    pub acknowledgement_date: Option<NaiveDate>,
    pub acknowledged_by: String,
    pub acknowledgement_note: String,
    /// The result's date, once the receiving body recorded one.
    pub result_date: Option<NaiveDate>,
    pub result_recorded_by: String,
    pub result_conclusion: String,
    /// `WarningColour` by its proto name: the last colour a notice went out for.
    pub notified_colour: String,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn name(&self) -> String {
        name_of(&self.round_id, &self.inspection_id, &self.id)
    }

    pub fn kind(&self) -> HandOffKind {
        HandOffKind::from_str_name(&self.kind).unwrap_or_default()
    }

    pub fn notified_colour(&self) -> WarningColour {
        WarningColour::from_str_name(&self.notified_colour).unwrap_or_default()
    }

    pub fn seen_by(&self, caller: &Caller) -> bool {
        domain::seen_by(caller, &self.receiver_path, &self.round_organisation_path)
    }

    /// The resource as of `today` (its colour by the shared thresholds).
    pub fn to_proto(&self, today: NaiveDate, warnings: &WarningSettings) -> HandOff {
        let colour = domain::colour(
            today,
            warnings,
            self.acknowledgement_due_date,
            self.acknowledged,
        );
        HandOff {
            name: self.name(),
            receiver: organisation::name_of(&self.receiver_id),
            receiver_path: self.receiver_path.clone(),
            kind: self.kind() as i32,
            items: self
                .items
                .split(',')
                .filter_map(HandOffItem::from_str_name)
                .map(|i| i as i32)
                .collect(),
            summary: self.summary.clone(),
            target: organisation::name_of(&self.target_id),
            round_organisation_path: self.round_organisation_path.clone(),
            hand_off_date: Some(to_date(self.hand_off_date)),
            acknowledgement_due_date: Some(to_date(self.acknowledgement_due_date)),
            acknowledgement: self.acknowledged.then(|| HandOffAcknowledgement {
                date: self.acknowledgement_date.map(to_date),
                acknowledged_by: self.acknowledged_by.clone(),
                note: self.acknowledgement_note.clone(),
            }),
            colour: api_colour(colour) as i32,
            notified_colour: self.notified_colour() as i32,
            result: self.result_date.map(|date| HandOffResult {
                date: Some(to_date(date)),
                recorded_by: self.result_recorded_by.clone(),
                conclusion: self.result_conclusion.clone(),
            }),
            etag: etag(self.revision),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

pub async fn find(
    conn: &impl ConnectionTrait,
    round_id: &str,
    inspection_id: &str,
    id: &str,
) -> ApiResult<Option<Model>> {
    Ok(
        Entity::find_by_id((round_id.to_owned(), inspection_id.to_owned(), id.to_owned()))
            .one(conn)
            .await?,
    )
}

/// The hand-off `name` if the caller may see it; NOT_FOUND otherwise.
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<Model> {
    let (round_id, inspection_id, id) = domain::parse_name(field, name)?;
    super::seen(
        find(conn, round_id, inspection_id, id).await?,
        name,
        |row| row.seen_by(caller),
    )
}

/// The hand-off `name` for its receiving body to act on: NOT_FOUND unless
/// the caller sees it, PERMISSION_DENIED unless it acts for the body,
/// ABORTED when `etag` is stale.
pub async fn received(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    name: &str,
    etag: &str,
) -> ApiResult<Model> {
    let current = visible(conn, caller, "name", name).await?;
    if !domain::receives(caller, &current.receiver_path) {
        return Err(domain::not_the_receiver(
            name,
            &organisation::name_of(&current.receiver_id),
        ));
    }
    fiveledger_platform::aip::etag::check(name, etag, current.revision)?;
    Ok(current)
}

/// How a list is narrowed. The caller's reach: hand-offs to the bodies the
/// organisation `receives` acts for (itself or one above it, when it acts
/// for receiving bodies) or of rounds run within `oversees` (when it is an
/// office or a viewer).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub receives: Option<String>,
    pub oversees: Option<String>,
    /// Of one inspection: (round, inspection).
    pub inspection: Option<(String, String)>,
    pub receiver_id: Option<String>,
    pub kind: Option<HandOffKind>,
    pub acknowledged: Option<bool>,
    /// Keyset: (round, inspection, id) of the last row returned.
    pub after: Option<(String, String, String)>,
    pub limit: u64,
}

impl ListQuery {
    /// The reach of `caller` (see [`domain::seen_by`]).
    pub fn reach_of(caller: &Caller) -> Self {
        Self {
            receives: caller
                .has_any(domain::RECEIVER_ROLES)
                .then(|| caller.org_path.clone()),
            oversees: caller
                .has_any(domain::OVERSEER_ROLES)
                .then(|| caller.scope_path.clone()),
            ..Default::default()
        }
    }
}

pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<Vec<Model>> {
    let mut reach = Condition::any();
    if let Some(org_path) = &q.receives {
        reach = reach.add(Column::ReceiverPath.is_in(domain::bodies_acted_for(org_path)));
    }
    if let Some(path) = &q.oversees {
        reach = reach.add(within_subtree(Column::RoundOrganisationPath, path));
    }
    if q.receives.is_none() && q.oversees.is_none() {
        return Ok(Vec::new());
    }
    let mut select = Entity::find().filter(reach);
    if let Some((round, inspection)) = &q.inspection {
        select = select
            .filter(Column::RoundId.eq(round.clone()))
            .filter(Column::InspectionId.eq(inspection.clone()));
    }
    if let Some(receiver) = &q.receiver_id {
        select = select.filter(Column::ReceiverId.eq(receiver.clone()));
    }
    if let Some(kind) = q.kind {
        select = select.filter(Column::Kind.eq(kind.as_str_name()));
    }
    if let Some(acknowledged) = q.acknowledged {
        select = select.filter(Column::Acknowledged.eq(acknowledged));
    }
    if let Some((round, inspection, id)) = &q.after {
        select = select.filter(
            Expr::tuple([
                Expr::col(Column::RoundId),
                Expr::col(Column::InspectionId),
                Expr::col(Column::Id),
            ])
            .gt(Expr::tuple([
                Expr::val(round.clone()),
                Expr::val(inspection.clone()),
                Expr::val(id.clone()),
            ])),
        );
    }
    Ok(select
        .order_by_asc(Column::RoundId)
        .order_by_asc(Column::InspectionId)
        .order_by_asc(Column::Id)
        .limit(q.limit)
        .all(conn)
        .await?)
}

/// Writes `model` only if the row is still at `revision` (ABORTED
/// otherwise); returns the row after.
pub async fn update_if_revision(
    conn: &impl ConnectionTrait,
    model: ActiveModel,
    revision: i64,
) -> ApiResult<Model> {
    let key = (
        model.round_id.try_as_ref().cloned().unwrap_or_default(),
        model
            .inspection_id
            .try_as_ref()
            .cloned()
            .unwrap_or_default(),
        model.id.try_as_ref().cloned().unwrap_or_default(),
    );
    let name = name_of(&key.0, &key.1, &key.2);
    fiveledger_platform::storage::update_if_revision(
        conn,
        model,
        Column::Revision,
        revision,
        || name.clone(),
    )
    .await?;
    find(conn, &key.0, &key.1, &key.2)
        .await?
        .ok_or_else(|| ApiError::not_found(name_of(&key.0, &key.1, &key.2)))
}

/// The bodies of `kinds` attached to the level `level_id` (its discipline
/// commission, organisation or propaganda department), in one query,
/// ordered by id: a kind's body is the first of that kind.
async fn attached(
    conn: &impl ConnectionTrait,
    level_id: &str,
    kinds: &[OrganisationKind],
) -> ApiResult<Vec<super::organisations::Model>> {
    use super::organisations::{Column as O, Entity as Organisations};
    Ok(Organisations::find()
        .filter(O::ParentId.eq(level_id))
        .filter(O::Kind.is_in(kinds.iter().map(|k| k.as_str_name())))
        .order_by_asc(O::Id)
        .all(conn)
        .await?)
}

/// What the office's feedback says beyond the inspection: the functional
/// departments named (id, summary) and whether the problem list holds
/// ideology problems.
#[derive(Clone, Copy, Debug)]
pub struct Handing<'a> {
    pub functional: &'a [(String, String)],
    pub ideology: bool,
}

/// Makes the hand-offs of a feedback just given (in its transaction):
/// the standard routings to the bodies of the level running the round
/// (FAILED_PRECONDITION `RECEIVING_BODY_MISSING` when the directory lacks
/// one; to the propaganda department only when the problem list holds
/// ideology problems, `handing.ideology`) and one per functional department named (`functional`: id and
/// summary; each must be a functional department within reach of the
/// work, else INVALID_ARGUMENT / NOT_FOUND). Each is a row, a timeline
/// step of the inspection and a `HandOffMade` event.
pub async fn make_at_feedback(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    inspection: &super::inspections::Model,
    level: &super::rounds::Model,
    handing: &Handing<'_>,
) -> ApiResult<Vec<HandOff>> {
    let Handing {
        functional,
        ideology,
    } = *handing;
    let name = inspection.name();
    let handed = inspection
        .feedback_date
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("{name} has no feedback date")))?;
    let mut planned: Vec<(&Routing, String, super::organisations::Model, String)> = Vec::new();
    let standard: Vec<&Routing> = STANDARD.iter().filter(|r| r.hands_off(ideology)).collect();
    let kinds: Vec<OrganisationKind> = standard
        .iter()
        .map(|r| r.body.unwrap_or(OrganisationKind::Unspecified))
        .collect();
    let bodies = attached(txn, &level.organisation_id, &kinds).await?;
    for (routing, kind) in standard.into_iter().zip(kinds) {
        let body = bodies
            .iter()
            .find(|b| b.kind() == kind)
            .ok_or_else(|| body_missing(&name, &level.organisation_path, kind))?;
        planned.push((routing, routing.id.to_owned(), body.clone(), String::new()));
    }
    let ids: Vec<String> = functional.iter().map(|(id, _)| id.clone()).collect();
    let found = super::organisations::find_many(txn, &ids).await?;
    for (i, (id, summary)) in functional.iter().enumerate() {
        let field = format!("functional_hand_offs[{i}].organisation");
        let org_name = organisation::name_of(id);
        let org = found
            .iter()
            .find(|o| &o.id == id)
            .filter(|o| within_reach(&o.path, &level.organisation_path, &inspection.target_path))
            .ok_or_else(|| ApiError::not_found(&org_name))?;
        check_functional(&field, &org_name, org.kind())?;
        planned.push((&FUNCTIONAL, functional_id(id), org.clone(), summary.clone()));
    }
    let due = acknowledgement_due(handed, settings.hand_off_acknowledgement_days);
    // What both databases keep of a time: the hand-offs answered and sent
    // are the rows stored, none read back.
    let now = now.trunc_subsecs(6);
    let backend = txn.get_database_backend();
    let mut made = Vec::with_capacity(planned.len());
    let mut statements = Vec::with_capacity(3 * planned.len());
    for (routing, id, body, summary) in planned {
        let items: Vec<&str> = routing.items.iter().map(|i| i.as_str_name()).collect();
        let row = Model {
            round_id: inspection.round_id.clone(),
            inspection_id: inspection.id.clone(),
            id,
            receiver_id: body.id.clone(),
            receiver_path: body.path.clone(),
            kind: routing.kind.as_str_name().to_owned(),
            items: items.join(","),
            summary,
            target_id: inspection.target_id.clone(),
            round_organisation_path: inspection.round_organisation_path.clone(),
            hand_off_date: handed,
            acknowledgement_due_date: due,
            acknowledged: false,
            acknowledgement_date: None,
            acknowledged_by: String::new(),
            acknowledgement_note: String::new(),
            result_date: None,
            result_recorded_by: String::new(),
            result_conclusion: String::new(),
            notified_colour: WarningColour::Unspecified.as_str_name().to_owned(),
            revision: 1,
            create_time: now,
            update_time: now,
        };
        statements.push(Entity::insert(ActiveModel::from(row.clone()).reset_all()).build(backend));
        statements.push(super::inspections::step_statement(
            backend,
            inspection,
            "HandOff",
            ctx,
            format!(
                "{} handed to {} ({}): {}; to be acknowledged by {due}",
                row.id,
                organisation::name_of(&row.receiver_id),
                routing.kind.as_str_name(),
                items.join(", ")
            ),
            now,
        ));
        let hand_off = row.to_proto(now.date_naive(), &settings.warnings);
        statements.push(outbox::append_statement(
            backend,
            &ctx.about(&row.round_organisation_path),
            &hand_off.name,
            &HandOffMade {
                hand_off: Some(hand_off.clone()),
            },
        )?);
        made.push(hand_off);
    }
    // Each hand-off's row, timeline step and event, all sent together (one
    // call to SQLite's driver); each statement inserts one row.
    let expected = statements.len() as u64;
    let first = made.first().map(|h| h.name.clone()).unwrap_or_default();
    let inserted = execute_together(txn, statements)
        .await
        .map_err(exists_or_internal(|| first))?;
    if inserted != expected {
        return Err(ApiError::internal(anyhow::anyhow!(
            "{name}: {inserted} of the {expected} rows of its hand-offs were written"
        )));
    }
    Ok(made)
}

/// A step the receiving body takes on a hand-off: the timeline step's
/// name, what the body did and on which day, and the event.
struct BodyStep<E> {
    step: &'static str,
    done: &'static str,
    date: NaiveDate,
    event: fn(HandOff) -> E,
}

/// Writes `model` (from `current`, checked by the caller) with its
/// timeline step and event; returns the hand-off after.
async fn take<E: prost::Name>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    current: &Model,
    mut model: ActiveModel,
    step: BodyStep<E>,
) -> ApiResult<HandOff> {
    model.revision = Set(current.revision + 1);
    model.update_time = Set(now);
    let updated = update_if_revision(txn, model, current.revision).await?;
    let inspection = super::inspections::find(txn, &current.round_id, &current.inspection_id)
        .await?
        .ok_or_else(|| ApiError::not_found(current.name()))?;
    super::inspections::record_step(
        txn,
        &inspection,
        step.step,
        ctx,
        format!(
            "{} {} by {} on {}",
            updated.id,
            step.done,
            organisation::name_of(&updated.receiver_id),
            step.date
        ),
        now,
    )
    .await?;
    let hand_off = updated.to_proto(now.date_naive(), &settings.warnings);
    outbox::append(
        txn,
        &ctx.about(&updated.round_organisation_path),
        &hand_off.name,
        &(step.event)(hand_off.clone()),
    )
    .await?;
    Ok(hand_off)
}

/// Records the receiving body's acknowledgement of `current` on `date` by
/// `actor` (checked by the caller), with its timeline step and event.
pub async fn acknowledge(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    current: &Model,
    date: NaiveDate,
    note: String,
) -> ApiResult<HandOff> {
    let mut model: ActiveModel = current.clone().into();
    model.acknowledged = Set(true);
    model.acknowledgement_date = Set(Some(date));
    model.acknowledged_by = Set(ctx.actor.clone());
    model.acknowledgement_note = Set(note);
    let step = BodyStep {
        step: "AcknowledgeHandOff",
        done: "acknowledged",
        date,
        event: |h| HandOffAcknowledged { hand_off: Some(h) },
    };
    take(txn, ctx, settings, now, current, model, step).await
}

/// Records the receiving body's result of `current` (acknowledged, checked
/// by the caller): `conclusion` on `date` by the actor, with its timeline
/// step and event.
pub async fn record_result(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    settings: &RoundsSettings,
    now: DateTime<Utc>,
    current: &Model,
    date: NaiveDate,
    conclusion: String,
) -> ApiResult<HandOff> {
    let mut model: ActiveModel = current.clone().into();
    model.result_date = Set(Some(date));
    model.result_recorded_by = Set(ctx.actor.clone());
    model.result_conclusion = Set(conclusion);
    let step = BodyStep {
        step: "RecordHandOffResult",
        done: "dealt with",
        date,
        event: |h| HandOffResultRecorded { hand_off: Some(h) },
    };
    take(txn, ctx, settings, now, current, model, step).await
}

/// The colour a notice last went out for, as the rule's colour.
pub fn notified(row: &Model) -> fiveledger_platform::colour::Colour {
    rule_colour(row.notified_colour())
}
