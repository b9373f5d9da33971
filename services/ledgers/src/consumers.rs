//! Following the other services: a frozen problem list opens one entry per
//! problem (报告报账); feedback given hands the inspection's entries over
//! (反馈交账). Each event is applied exactly once (the platform consumer
//! advances its cursor in the same transaction), and opening is keyed by
//! problem as well, so a problem re-sent in another event is not posted twice.
//! A long list comes in several `ProblemListFrozen` parts (consecutive
//! events): each part is applied on its own, in its own transaction.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use fiveledger_platform::aip::names;
use fiveledger_platform::consumer::EventHandler;
use fiveledger_platform::outbox;
use fiveledger_platform::time::{Clock, day_or_event_day, from_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{ClueWarned, Problem, ProblemListFrozen};
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::FeedbackGiven;
use fiveledger_proto::types::Event;
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Statement,
};

use crate::settings::LedgersSettings;
use crate::storage::books::{self, Signature};
use crate::storage::{entries, feedbacks};

/// Consumer names (their cursors live in `event_cursors`).
pub const PROBLEM_LISTS: &str = "ledgers.problem-lists";
pub const FEEDBACK: &str = "ledgers.feedback";
pub const CLUE_WARNINGS: &str = "ledgers.clue-warnings";

/// The actor of postings made by the consumers.
pub const SERVICE_ACTOR: &str = "service:ledgers";

/// The consumers' signature of the postings `event` causes, made now by
/// `clock`.
fn signature(source: &str, event: &Event, clock: &Clock) -> Signature {
    Signature {
        actor: SERVICE_ACTOR.to_owned(),
        request_id: format!("event:{source}:{}", event.cursor),
        traceparent: event.traceparent.clone(),
        at_us: clock.now().timestamp_micros(),
        effective_date: None,
        recorded_after_the_fact: false,
    }
}

/// Decodes an event's payload; an undecodable one is logged and skipped
/// (retrying it forever would stop every later event).
fn payload<M: prost::Name + Default>(event: &Event) -> Option<M> {
    match event.payload.as_ref().map(|any| any.to_msg::<M>()) {
        Some(Ok(message)) => Some(message),
        other => {
            tracing::warn!(cursor = %event.cursor, r#type = %event.r#type, error = ?other.map(|r| r.err()), "skipping an event whose payload cannot be read");
            None
        }
    }
}

/// Opens entries from `ProblemListFrozen` (one part of a list).
pub struct OpenEntries {
    pub settings: Arc<LedgersSettings>,
    pub clock: Clock,
}

impl EventHandler for OpenEntries {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        Box::pin(async move {
            let Some(list) = payload::<ProblemListFrozen>(event) else {
                return Ok(());
            };
            let signature = signature("issues", event, &self.clock);
            open_entries(txn, &list, &signature, &self.settings).await
        })
    }
}

fn open_detail(list: &ProblemListFrozen, p: &Problem) -> OpenDetail {
    let r = p.responsibilities.clone().unwrap_or_default();
    OpenDetail {
        problem: p.name.clone(),
        inspection: if p.inspection.is_empty() {
            list.inspection.clone()
        } else {
            p.inspection.clone()
        },
        round: p.round.clone(),
        target: p.target.clone(),
        target_path: p.target_path.clone(),
        round_organisation_path: list.round_organisation_path.clone(),
        category: p.category.clone(),
        severity: p.severity,
        title: p.title.clone(),
        fixed_on_the_spot: p.fixed_on_the_spot.is_some(),
        responsibility: Some(Responsibility {
            responsible_unit: r.main_unit,
            responsible_unit_path: r.main_unit_path,
            principal: r.principal,
            leader_in_charge: r.leader_in_charge,
            supervising_body: r.supervising_body,
            supervising_body_path: r.supervising_body_path,
            functional_department: r.functional_department,
            functional_department_path: r.functional_department_path,
        }),
    }
}

/// Advisory lock namespace for one inspection's hand-over ("fl-ledg").
const INSPECTION_LOCK: i32 = 0x666c_6c65;

/// Serialises the two consumers on one inspection (PostgreSQL; SQLite has
/// one writer): otherwise an entry opened while the feedback is being
/// applied would see no feedback yet and be missed by the hand-over.
async fn lock_inspection(txn: &DatabaseTransaction, inspection: &str) -> ApiResult<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [INSPECTION_LOCK.into(), inspection.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The day postings signed with `signature` are made (a clock's time is
/// always in range).
fn today_of(signature: &Signature) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(signature.at_us)
        .unwrap_or_default()
        .date_naive()
}

/// The day an entry of `list` opens (报告报账): the inspection's report
/// date, so that the journal's day order starts there rather than on the
/// day this event was consumed. None (today) without one; a date still
/// ahead or unreadable is logged and taken as today, never refused (the
/// event would block every later one).
fn opening_date(list: &ProblemListFrozen, today: NaiveDate) -> Option<NaiveDate> {
    let d = list.report_date.as_ref()?;
    match from_date("report_date", d) {
        Ok(day) if day < today => Some(day),
        Ok(day) if day > today => {
            tracing::warn!(inspection = %list.inspection, report_date = %day, %today, "report date is after today; opening the entries today");
            None
        }
        Ok(_) => None,
        Err(_) => {
            tracing::warn!(inspection = %list.inspection, report_date = ?d, "report date is not a calendar date; opening the entries today");
            None
        }
    }
}

pub async fn open_entries(
    txn: &DatabaseTransaction,
    list: &ProblemListFrozen,
    signature: &Signature,
    settings: &LedgersSettings,
) -> ApiResult<()> {
    lock_inspection(txn, &list.inspection).await?;
    let opening = Signature {
        effective_date: opening_date(list, today_of(signature)).map(to_date),
        ..signature.clone()
    };
    let names: Vec<String> = list.problems.iter().map(|p| p.name.clone()).collect();
    let mut posted: HashSet<String> = books::problems_with_entries(txn, &names)
        .await?
        .into_iter()
        .collect();
    let feedback = feedbacks::Entity::find_by_id(list.inspection.clone())
        .one(txn)
        .await?
        .and_then(|f| NaiveDate::parse_from_str(&f.feedback_date, "%Y-%m-%d").ok());
    for problem in &list.problems {
        if names::parse("problem", &problem.name, "problems").is_err() {
            tracing::warn!(problem = %problem.name, "skipping a problem with a malformed name");
            continue;
        }
        if !posted.insert(problem.name.clone()) {
            continue;
        }
        let id = names::generate_id('e');
        books::append(
            txn,
            None,
            &id,
            Detail::Open(open_detail(list, problem)),
            &opening,
        )
        .await?;
        // Feedback came first (events of two services are not ordered).
        if let Some(date) = feedback {
            let row = books::find(txn, &id)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("entry {id} vanished")))?;
            hand_over_one(txn, &row, date, signature, settings).await?;
        }
    }
    Ok(())
}

/// Hands entries over on `FeedbackGiven`.
pub struct HandOver {
    pub settings: Arc<LedgersSettings>,
    pub clock: Clock,
}

impl EventHandler for HandOver {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        Box::pin(async move {
            let Some(inspection) = payload::<FeedbackGiven>(event).and_then(|f| f.inspection)
            else {
                return Ok(());
            };
            // Without a feedback date the event's own date stands in.
            let date = day_or_event_day(inspection.feedback_date.as_ref(), event);
            hand_over(
                txn,
                &inspection.name,
                date,
                &signature("rounds", event, &self.clock),
                &self.settings,
            )
            .await
        })
    }
}

pub async fn hand_over(
    txn: &DatabaseTransaction,
    inspection: &str,
    feedback_date: NaiveDate,
    signature: &Signature,
    settings: &LedgersSettings,
) -> ApiResult<()> {
    lock_inspection(txn, inspection).await?;
    feedbacks::Entity::insert(feedbacks::ActiveModel {
        inspection: Set(inspection.to_owned()),
        feedback_date: Set(feedback_date.format("%Y-%m-%d").to_string()),
        create_time_us: Set(signature.at_us),
    })
    .on_conflict(
        OnConflict::column(feedbacks::Column::Inspection)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec(txn)
    .await?;
    let open = books::of_inspection_in_state(txn, inspection, EntryState::Open).await?;
    for row in &open {
        hand_over_one(txn, row, feedback_date, signature, settings).await?;
    }
    Ok(())
}

async fn hand_over_one(
    txn: &DatabaseTransaction,
    row: &entries::Model,
    feedback_date: NaiveDate,
    signature: &Signature,
    settings: &LedgersSettings,
) -> ApiResult<()> {
    let days = settings.due_days.for_severity(row.severity);
    let due = feedback_date + chrono::Days::new(u64::from(days));
    // The hand-over takes effect on the feedback date (反馈交账), unless that
    // is still ahead. It follows an opening on the report date in day
    // order: the rounds service refuses feedback dated before the report.
    let today = today_of(signature);
    let signature = Signature {
        effective_date: (feedback_date < today).then(|| to_date(feedback_date)),
        ..signature.clone()
    };
    books::append(
        txn,
        Some(row),
        &row.id,
        Detail::HandOver(HandOverDetail {
            feedback_date: Some(to_date(feedback_date)),
            due_date: Some(to_date(due)),
        }),
        &signature,
    )
    .await?;
    Ok(())
}

/// Notes each `ClueWarned` of the issues service in the ledger's outbox
/// (`ClueWarningNoted`, about the clue's running level), so that
/// WatchWarnings streams clue colours with the books' own, resumable by one
/// cursor. Only what scope needs and the notice are kept.
pub struct NoteClueWarning;

impl EventHandler for NoteClueWarning {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        Box::pin(async move {
            let Some(warned) = payload::<ClueWarned>(event) else {
                return Ok(());
            };
            let clue = warned.clue.unwrap_or_default();
            let noted = ClueWarningNoted {
                clue: clue.name.clone(),
                target_path: clue.target_path,
                receiving_body_path: clue.receiving_body_path,
                round_organisation_path: event.organisation_path.clone(),
                warning: warned.warning,
            };
            let ctx = outbox::EventContext {
                actor: SERVICE_ACTOR.to_owned(),
                request_id: format!("event:issues:{}", event.cursor),
                traceparent: event.traceparent.clone(),
                organisation_path: event.organisation_path.clone(),
            };
            outbox::append(txn, &ctx, &clue.name, &noted).await
        })
    }
}
