//! 四色预警 of double reports (双报告): a missing double report turns blue
//! before its due date, yellow after it and red well after, by the shared
//! thresholds. The sweep records each colour it reaches, once, with its
//! notice: a timeline step of the inspection and a `DoubleReportWarned`
//! event. Its due date never moves, so colours only rise. An office sweeps
//! the inspections of the rounds it (or an organisation under it) runs; the
//! periodic sweep and the root sweep them all.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fiveledger_platform::colour::{api_colour, rule_colour};
use fiveledger_platform::deadline::{self, WarningSettings};
use fiveledger_platform::group_commit::Step;
use fiveledger_platform::lease::run_periodically;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::{Db, within_subtree};
use fiveledger_platform::time::{Clock, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use futures::future::BoxFuture;

use fiveledger_proto::rounds::{DoubleReportWarned, InspectionPhase, SweepDoubleReportsResponse};
use fiveledger_proto::types::{DeadlineKind, WarningDetail};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use crate::settings::RoundsSettings;
use crate::storage::inspections::{self as store, Column as C, encode_records};
use crate::storage::organisations;

/// The item name warnings of a double report carry.
pub const ITEM: &str = "double_report";
/// The actor of the periodic sweep's steps.
pub const SERVICE_ACTOR: &str = "service:rounds";
const BATCH: u64 = 500;

/// Records the new colour of one double report, if it rose since the last
/// notice; None when there is nothing to send. Checked again under the
/// row's revision, so two sweeps never send the same notice twice.
async fn warn_one(
    db: &Db,
    row: &store::Model,
    unit: &str,
    now: DateTime<Utc>,
    t: &WarningSettings,
    ctx: &EventContext,
) -> ApiResult<bool> {
    let today = now.date_naive();
    let mut records = row.records()?;
    let report = records.double_report.get_or_insert_with(Default::default);
    let Some(due) = row.double_report_due_date else {
        return Ok(false);
    };
    let complete = report.team_report.is_some() && report.principal_report.is_some();
    let to = store::double_report_colour(today, t, Some(due), complete);
    let from = rule_colour(report.notified_colour());
    if to <= from {
        return Ok(false);
    }
    report.set_notified_colour(api_colour(to));
    let warning = WarningDetail {
        item: ITEM.to_owned(),
        kind: DeadlineKind::DoubleReport as i32,
        due_date: Some(to_date(due)),
        from_colour: api_colour(from) as i32,
        to_colour: api_colour(to) as i32,
        notice: Some(deadline::notice(
            &format!("{unit}的整改情况报告（双报告）"),
            due,
            from,
            to,
            deadline::Addressees {
                handler: crate::domain::organisation::name_of(&row.target_id),
                unit: crate::domain::organisation::name_of(&row.target_id),
                circular: vec![format!("office:{}", row.round_organisation_path)],
            },
            today,
            t,
        )),
        as_of: Some(to_date(today)),
    };
    let (row, ctx, t) = (row.clone(), ctx.clone(), *t);
    write_notice(db, move |txn| {
        Box::pin(async move {
            let mut model: store::ActiveModel = row.clone().into();
            model.records = Set(encode_records(&records));
            model.revision = Set(row.revision + 1);
            model.update_time = Set(now);
            let updated = store::update_if_revision(txn, model, row.revision).await?;
            let text = warning
                .notice
                .as_ref()
                .map(|n| n.text.clone())
                .unwrap_or_default();
            store::record_step(txn, &updated, "DoubleReportWarning", &ctx, text, now).await?;
            let inspection = store::to_protos(txn, std::slice::from_ref(&updated), today, &t)
                .await?
                .remove(0);
            outbox::append(
                txn,
                &ctx.about(&inspection.round_organisation_path),
                &inspection.name,
                &DoubleReportWarned {
                    inspection: Some(inspection.clone()),
                    warning: Some(warning),
                },
            )
            .await
        })
    })
    .await
}

/// Writes one notice in one write (`Db::write`: it joins the open batch,
/// and runs to its end even when the sweep's caller goes away): true once
/// committed; false, writing nothing, when another sweep got there first
/// (the row moved on from the revision read): its notice stands. Any other
/// failure is returned, nothing written.
pub(crate) async fn write_notice(
    db: &Db,
    f: impl for<'t> FnOnce(&'t sea_orm::DatabaseTransaction) -> BoxFuture<'t, ApiResult<()>>
    + Send
    + 'static,
) -> ApiResult<bool> {
    db.write(Box::new(move |txn| {
        Box::pin(async move {
            match f(txn).await {
                Ok(()) => Ok(Step::Commit(true)),
                Err(ApiError::Aborted { .. }) => Ok(Step::Rollback(false)),
                Err(err) => Err(err),
            }
        })
    }))
    .await
}

/// Sweeps every double report still awaited that is due within the blue
/// window or past due (by index on phase and due date), of the rounds run
/// within `scope` (an organisation path; empty for all), in batches.
pub async fn sweep(
    db: &Db,
    t: &WarningSettings,
    now: DateTime<Utc>,
    scope: &str,
    actor: &str,
) -> ApiResult<SweepDoubleReportsResponse> {
    let today = now.date_naive();
    let horizon = t.rule().horizon(today);
    let ctx = EventContext {
        actor: actor.to_owned(),
        request_id: format!("sweep:{}", today.format("%Y-%m-%d")),
        traceparent: String::new(),
        ..Default::default()
    };
    let mut out = SweepDoubleReportsResponse {
        as_of: Some(to_date(today)),
        ..Default::default()
    };
    let mut after: Option<(String, String)> = None;
    loop {
        let mut query = store::Entity::find()
            .filter(C::Phase.is_in([
                InspectionPhase::FeedbackGiven.as_str_name(),
                InspectionPhase::Rectifying.as_str_name(),
            ]))
            .filter(C::DoubleReportDueDate.lte(horizon))
            // Only who runs the round may change its inspections (seeing
            // the target is for reading), so the sweep follows the round.
            .filter(within_subtree(C::RoundOrganisationPath, scope));
        if let Some((round, id)) = &after {
            query = query.filter(Expr::tuple([Expr::col(C::RoundId), Expr::col(C::Id)]).gt(
                Expr::tuple([Expr::val(round.clone()), Expr::val(id.clone())]),
            ));
        }
        let rows = query
            .order_by_asc(C::RoundId)
            .order_by_asc(C::Id)
            .limit(BATCH)
            .all(db.reader())
            .await?;
        // The targets' names for the notices' text, in one query.
        let targets: Vec<String> = rows.iter().map(|r| r.target_id.clone()).collect();
        let names: HashMap<String, String> = organisations::find_many(db.reader(), &targets)
            .await?
            .into_iter()
            .map(|o| (o.id, o.display_name))
            .collect();
        for row in &rows {
            out.inspections_checked += 1;
            let unit = names
                .get(&row.target_id)
                .map_or("被巡察单位", String::as_str);
            if warn_one(db, row, unit, now, t, &ctx).await? {
                out.notices += 1;
            }
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == BATCH => {
                after = Some((last.round_id.clone(), last.id.clone()));
            }
            _ => return Ok(out),
        }
    }
}

/// The periodic sweep: one replica at a time (a lease), every
/// `sweep_interval_seconds`, until `stop`.
pub async fn run_periodic(
    db: Db,
    settings: std::sync::Arc<RoundsSettings>,
    clock: Clock,
    stop: CancellationToken,
) {
    let interval = Duration::from_secs(Ord::max(settings.sweep_interval_seconds, 1));
    let sweeper = db.clone();
    run_periodically(db, "rounds:double-report-sweep", interval, stop, || {
        let (db, settings, now) = (sweeper.clone(), settings.clone(), clock.now());
        async move {
            match sweep(&db, &settings.warnings, now, "", SERVICE_ACTOR).await {
                Ok(report) if report.notices > 0 => {
                    tracing::info!(?report, "double-report sweep sent notices")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "double-report sweep failed"),
            }
            let hand_offs =
                crate::hand_off_sweep::sweep(&db, &settings.warnings, now, "", SERVICE_ACTOR);
            match hand_offs.await {
                Ok(report) if report.notices > 0 => {
                    tracing::info!(?report, "hand-off sweep sent notices")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "hand-off sweep failed"),
            }
        }
    })
    .await
}
