//! 四色预警 of hand-offs not acknowledged (移交未签收): a hand-off turns
//! blue before its acknowledgement is due, yellow after and red well after,
//! by the shared thresholds, exactly as a double report. The sweep records
//! each colour it reaches, once, with its notice: a timeline step of the
//! inspection and a `HandOffWarned` event, written only if the hand-off is
//! still at the revision read, so two replicas never send one notice twice.
//! Its due date never moves, so colours only rise.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fiveledger_platform::colour::api_colour;
use fiveledger_platform::deadline::{self, WarningSettings};
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::{Db, within_subtree};
use fiveledger_platform::time::to_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{HandOffWarned, SweepHandOffsResponse};
use fiveledger_proto::types::{DeadlineKind, WarningDetail};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::hand_off::{COLLECTION, colour};
use crate::domain::organisation::name_of as org_name;
use crate::storage::hand_offs::{self as store, Column as C, notified};
use crate::storage::{inspections, organisations};

const BATCH: u64 = 500;

/// Records the new colour of one hand-off, if it rose since the last
/// notice; false when there is nothing to send or another sweep sent it.
async fn warn_one(
    db: &Db,
    row: &store::Model,
    names: &HashMap<String, String>,
    now: DateTime<Utc>,
    t: &WarningSettings,
    ctx: &EventContext,
) -> ApiResult<bool> {
    let today = now.date_naive();
    let due = row.acknowledgement_due_date;
    let to = colour(today, t, due, row.acknowledged);
    let from = notified(row);
    if to <= from {
        return Ok(false);
    }
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| org_name(id));
    let receiver = org_name(&row.receiver_id);
    let warning = WarningDetail {
        item: format!("{COLLECTION}/{}", row.id),
        kind: DeadlineKind::HandOffAcknowledgement as i32,
        due_date: Some(to_date(due)),
        from_colour: api_colour(from) as i32,
        to_colour: api_colour(to) as i32,
        notice: Some(deadline::notice(
            &format!(
                "{}巡察移交{}的材料（{}）的签收",
                name_of(&row.target_id),
                name_of(&row.receiver_id),
                row.kind().as_str_name()
            ),
            due,
            from,
            to,
            deadline::Addressees {
                handler: receiver.clone(),
                unit: receiver,
                circular: vec![format!("office:{}", row.round_organisation_path)],
            },
            today,
            t,
        )),
        as_of: Some(to_date(today)),
    };
    let (row, ctx, t) = (row.clone(), ctx.clone(), *t);
    crate::sweep::write_notice(db, move |txn| {
        Box::pin(async move {
            let mut model: store::ActiveModel = row.clone().into();
            model.notified_colour = Set(api_colour(to).as_str_name().to_owned());
            model.revision = Set(row.revision + 1);
            model.update_time = Set(now);
            let updated = store::update_if_revision(txn, model, row.revision).await?;
            let inspection = inspections::find(txn, &row.round_id, &row.inspection_id)
                .await?
                .ok_or_else(|| ApiError::not_found(row.name()))?;
            let text = warning
                .notice
                .as_ref()
                .map(|n| n.text.clone())
                .unwrap_or_default();
            inspections::record_step(txn, &inspection, "HandOffWarning", &ctx, text, now).await?;
            let hand_off = updated.to_proto(today, &t);
            outbox::append(
                txn,
                &ctx.about(&updated.round_organisation_path),
                &hand_off.name,
                &HandOffWarned {
                    hand_off: Some(hand_off.clone()),
                    warning: Some(warning),
                },
            )
            .await
        })
    })
    .await
}

/// Sweeps every hand-off not acknowledged whose acknowledgement is due
/// within the blue window or past due (by index), of the rounds run within
/// `scope` (an organisation path; empty for all), in batches.
pub async fn sweep(
    db: &Db,
    t: &WarningSettings,
    now: DateTime<Utc>,
    scope: &str,
    actor: &str,
) -> ApiResult<SweepHandOffsResponse> {
    let today = now.date_naive();
    let horizon = t.rule().horizon(today);
    let ctx = EventContext {
        actor: actor.to_owned(),
        request_id: format!("sweep:{}", today.format("%Y-%m-%d")),
        traceparent: String::new(),
        ..Default::default()
    };
    let mut out = SweepHandOffsResponse {
        as_of: Some(to_date(today)),
        ..Default::default()
    };
    let mut after: Option<(String, String, String)> = None;
    loop {
        let mut query = store::Entity::find()
            .filter(C::Acknowledged.eq(false))
            .filter(C::AcknowledgementDueDate.lte(horizon))
            .filter(within_subtree(C::RoundOrganisationPath, scope));
        if let Some((round, inspection, id)) = &after {
            query = query.filter(
                Expr::tuple([
                    Expr::col(C::RoundId),
                    Expr::col(C::InspectionId),
                    Expr::col(C::Id),
                ])
                .gt(Expr::tuple([
                    Expr::val(round.clone()),
                    Expr::val(inspection.clone()),
                    Expr::val(id.clone()),
                ])),
            );
        }
        let rows = query
            .order_by_asc(C::RoundId)
            .order_by_asc(C::InspectionId)
            .order_by_asc(C::Id)
            .limit(BATCH)
            .all(db.reader())
            .await?;
        // The units' and bodies' names for the notices' text, in one query.
        let mut ids: Vec<String> = rows
            .iter()
            .flat_map(|r| [r.target_id.clone(), r.receiver_id.clone()])
            .collect();
        ids.sort();
        ids.dedup();
        let names: HashMap<String, String> = organisations::find_many(db.reader(), &ids)
            .await?
            .into_iter()
            .map(|o| (o.id, o.display_name))
            .collect();
        for row in &rows {
            out.hand_offs_checked += 1;
            if warn_one(db, row, &names, now, t, &ctx).await? {
                out.notices += 1;
            }
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == BATCH => {
                after = Some((
                    last.round_id.clone(),
                    last.inspection_id.clone(),
                    last.id.clone(),
                ));
            }
            _ => return Ok(out),
        }
    }
}
