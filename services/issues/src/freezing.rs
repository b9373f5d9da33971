//! Freezing an inspection's problem list: the one code path behind both
//! FreezeProblemList and the `InspectionReported` event consumer.

use chrono::{DateTime, Utc};
use fiveledger_platform::consumer::EventHandler;
use fiveledger_platform::error::Violation;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::time::Clock;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::{Problem, ProblemListFrozen, ProblemListState};
use fiveledger_proto::rounds::{Inspection, InspectionReported};
use fiveledger_proto::types::Event;
use futures::future::BoxFuture;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::domain::problem::missing_responsibilities;
use crate::problem_events::EVENT_PART;
use crate::storage::{problem_lists, problems};

/// Most problems a refusal names one by one (the details travel in a header).
const MAX_VIOLATIONS: usize = 50;

/// Who asks for the freeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A caller of FreezeProblemList: incomplete responsibilities refuse it.
    Request,
    /// The rounds service reported the inspection: incomplete
    /// responsibilities leave the list reported-but-not-frozen.
    Reported,
}

/// Freezes the list of `inspection` inside `txn` and returns it. A frozen
/// list is returned unchanged (no second event). Writes `ProblemListFrozen`
/// with every problem in the same transaction, in parts of [`EVENT_PART`].
pub async fn freeze(
    txn: &DatabaseTransaction,
    inspection: &Inspection,
    ctx: &EventContext,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> ApiResult<(problem_lists::Model, u64)> {
    let reported = trigger == Trigger::Reported;
    let list = problem_lists::lock(txn, inspection, now).await?;
    if list.state() == ProblemListState::Frozen {
        let list = if reported && list.report_time.is_none() {
            problem_lists::set_state(txn, &list, ProblemListState::Frozen, true, now).await?
        } else {
            list
        };
        let count = problems::count_of_inspection(txn, &inspection.name).await?;
        return Ok((list, count));
    }
    let rows = problems::of_inspection(txn, &inspection.name).await?;
    let incomplete: Vec<Violation> = rows
        .iter()
        .flat_map(|p| {
            missing_responsibilities(&p.main_unit, &p.principal, &p.supervising_body)
                .into_iter()
                .map(|field| Violation {
                    kind: "RESPONSIBILITY_MISSING".into(),
                    subject: p.name(),
                    description: format!("{} lacks {field}", p.name()),
                })
        })
        .collect();
    if !incomplete.is_empty() {
        if reported {
            let list =
                problem_lists::set_state(txn, &list, ProblemListState::Reported, true, now).await?;
            return Ok((list, rows.len() as u64));
        }
        let mut problems_named: Vec<&str> = incomplete.iter().map(|v| v.subject.as_str()).collect();
        problems_named.dedup();
        let description = format!(
            "{} of the {} problems of {} lack responsibility (1) or (3): {}",
            problems_named.len(),
            rows.len(),
            inspection.name,
            problems_named
                .iter()
                .take(MAX_VIOLATIONS)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(ApiError::precondition_with(
            ErrorReason::ResponsibilitiesIncomplete,
            description,
            incomplete.into_iter().take(MAX_VIOLATIONS).collect(),
        ));
    }
    problems::freeze_all(txn, &inspection.name).await?;
    let list =
        problem_lists::set_state(txn, &list, ProblemListState::Frozen, reported, now).await?;
    let problems: Vec<Problem> = rows
        .iter()
        .map(|p| {
            let mut p = p.to_proto();
            p.frozen = true;
            p
        })
        .collect();
    let problem_count = i32::try_from(problems.len()).map_err(ApiError::internal)?;
    // The ledger opens its entries on the report day, not the day it
    // happens to consume this event.
    let report_date = report_date(inspection);
    outbox::append_parts(
        txn,
        &ctx.about(&inspection.round_organisation_path),
        &inspection.name,
        &problems,
        EVENT_PART,
        |part_problems, part, part_count| ProblemListFrozen {
            inspection: inspection.name.clone(),
            problems: part_problems.to_vec(),
            report_date,
            part,
            part_count,
            problem_count,
            round_organisation_path: inspection.round_organisation_path.clone(),
        },
    )
    .await?;
    Ok((list, rows.len() as u64))
}

/// The date of the inspection's comprehensive report, if it has one.
fn report_date(inspection: &Inspection) -> Option<Date> {
    inspection
        .comprehensive_report
        .as_ref()
        .and_then(|r| r.date)
        .filter(|d| *d != Date::default())
}

/// Consumer of the rounds service's `InspectionReported`: freezes the list
/// (or marks it reported when responsibilities are still incomplete), at
/// the time of `clock`.
pub struct OnInspectionReported {
    pub clock: Clock,
}

impl EventHandler for OnInspectionReported {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        Box::pin(async move {
            let Some(any) = &event.payload else {
                return Ok(());
            };
            let reported =
                InspectionReported::decode(any.value.as_slice()).map_err(ApiError::internal)?;
            let Some(inspection) = reported.inspection else {
                tracing::warn!(cursor = %event.cursor, "InspectionReported without an inspection");
                return Ok(());
            };
            let ctx = EventContext {
                actor: format!("service:{}", crate::NAME),
                request_id: event.request_id.clone(),
                traceparent: event.traceparent.clone(),
                ..Default::default()
            };
            freeze(txn, &inspection, &ctx, Trigger::Reported, self.clock.now()).await?;
            Ok(())
        })
    }
}
