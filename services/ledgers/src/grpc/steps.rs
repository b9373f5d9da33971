//! What the LedgerService's steps share: the step request, one posting per
//! step in one idempotent transaction, the scope and capacity checks, and the
//! parsing of dates and list filters.

use chrono::NaiveDate;
use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use tonic::{Response, Status};

use super::Api;
use crate::domain::entry::{self as domain, name_of};
use crate::domain::scope::{Capacity, EntryPaths, acts_as, can_see, received};
use crate::domain::warning;
use crate::storage::books::{self, Signature};
use crate::storage::entries;

/// What every step request carries besides its own fields.
pub(super) trait StepRequest: prost::Message {
    fn entry(&self) -> &str;
    /// The etag last read; empty when the step takes none.
    fn etag(&self) -> &str;
    fn request_id(&self) -> &str;
    /// The day the step took place, when recorded after the fact.
    fn effective_date(&self) -> Option<Date>;
}

macro_rules! step_request {
    ($($request:ty),* $(,)?) => {$(
        impl StepRequest for $request {
            fn entry(&self) -> &str {
                &self.name
            }
            fn etag(&self) -> &str {
                &self.etag
            }
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn effective_date(&self) -> Option<Date> {
                self.effective_date
            }
        }
    )*};
}

step_request!(
    AcknowledgeHandOverRequest,
    SubmitPlanRequest,
    ApprovePlanRequest,
    RejectPlanRequest,
    PostProgressRequest,
    TransferRequest,
    AcknowledgeTransferRequest,
    ReturnTransferResultRequest,
    RequestWriteOffRequest,
    ApproveWriteOffRequest,
    RejectWriteOffRequest,
    ReopenRequest,
    ReplyToNoticeRequest,
    RecordInterviewRequest,
    RecordInterviewFollowUpRequest,
);

/// A supervisor's remark checks no etag.
impl StepRequest for PostSupervisionRequest {
    fn entry(&self) -> &str {
        &self.name
    }
    fn etag(&self) -> &str {
        ""
    }
    fn request_id(&self) -> &str {
        &self.request_id
    }
    fn effective_date(&self) -> Option<Date> {
        self.effective_date
    }
}

impl Api {
    /// Runs a step: scope and capacity checks, the etag, then one posting,
    /// all in one idempotent transaction. `build` makes the posting's detail
    /// from the entry as it stands and the day the step takes effect.
    /// `capacities`: any of these may take the step.
    pub(super) async fn step<R, F>(
        &self,
        caller: Caller,
        traceparent: String,
        raw: &R,
        key: Option<RequestKey>,
        capacities: &'static [Capacity],
        build: F,
    ) -> Result<Response<LedgerEntry>, Status>
    where
        R: StepRequest,
        F: FnOnce(&LedgerEntry, Date) -> ApiResult<Detail> + Send + 'static,
    {
        let id = domain::parse_name("name", raw.entry())?.to_owned();
        let now = self.clock.now();
        let today = now.date_naive();
        let backdated = backdate(raw.effective_date().as_ref(), today)?;
        let day = to_date(backdated.unwrap_or(today));
        let window = self.settings.backfill_days;
        let etag_given = raw.etag().to_owned();
        let signature = Signature {
            effective_date: backdated.map(to_date),
            recorded_after_the_fact: backdated.is_some(),
            ..Signature::taken_now(
                caller.actor(),
                raw.request_id(),
                traceparent,
                now.timestamp_micros(),
            )
        };
        let api = self.clone();
        let entry = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible_row(books::lock(txn, &id).await?, &caller, &id)?;
                let current = books::decode_snapshot(&row)?;
                check_capacity_on(
                    &caller,
                    &EntryPaths::of(&current),
                    &name_of(&id),
                    capacities,
                )?;
                if let Some(day) = backdated {
                    recorded_after_the_fact(&caller, &current, capacities, day, today, window)?;
                }
                etag::check(&name_of(&id), &etag_given, row.posting_count)?;
                let detail = build(&current, day)?;
                let (mut entry, _) =
                    books::append(txn, Some(&row), &id, detail, &signature).await?;
                // Painted before it is stored: a retry gets the colours of
                // the first answer.
                api.paint(&mut entry);
                Ok(entry)
            })
        })
        .await?;
        Ok(Response::new(entry))
    }

    /// Fills the colours computed on read (by the service clock).
    pub(super) fn paint(&self, entry: &mut LedgerEntry) {
        warning::paint(
            entry,
            self.clock.now().date_naive(),
            &self.settings.thresholds(),
        );
    }

    /// Reads an entry the caller can see (outside a transaction).
    pub(super) async fn read_visible(&self, caller: &Caller, name: &str) -> ApiResult<LedgerEntry> {
        let id = domain::parse_name("name", name)?;
        let row = visible_row(books::find(self.db.reader(), id).await?, caller, id)?;
        books::decode_snapshot(&row)
    }
}

pub(super) fn visible_row(
    row: Option<entries::Model>,
    caller: &Caller,
    id: &str,
) -> ApiResult<entries::Model> {
    let Some(row) = row else {
        return Err(ApiError::not_found(name_of(id)));
    };
    // The row names only the latest receiver and no functional department;
    // earlier receivers and the department are in the snapshot (read only
    // when there were several transfers, or for a supervisor).
    let visible = can_see(caller, &row.paths())
        || ((row.transfer_count > 1 || caller.has_role(Role::Supervisor)) && {
            let entry = books::decode_snapshot(&row)?;
            can_see(caller, &EntryPaths::of(&entry))
                || received(
                    caller,
                    entry
                        .transfers
                        .iter()
                        .map(|t| t.receiving_body_path.as_str()),
                )
        });
    if visible {
        Ok(row)
    } else {
        Err(ApiError::not_found(name_of(id)))
    }
}

/// The day of a step recorded after the fact (补录), never a day still
/// ahead. None for a step of today. Who may give one, and how far back, is
/// judged on the entry ([`recorded_after_the_fact`]).
pub fn backdate(effective_date: Option<&Date>, today: NaiveDate) -> ApiResult<Option<NaiveDate>> {
    backdate_in("effective_date", effective_date, today)
}

/// [`backdate`] of the request field `field`.
pub fn backdate_in(
    field: &str,
    effective_date: Option<&Date>,
    today: NaiveDate,
) -> ApiResult<Option<NaiveDate>> {
    let Some(d) = effective_date else {
        return Ok(None);
    };
    let day = from_date(field, d)?;
    if day > today {
        return Err(ApiError::invalid(
            field,
            ErrorReason::InTheFuture,
            format!("{field} {day} is after today ({today})"),
        ));
    }
    Ok((day < today).then_some(day))
}

/// The capacities that record their own steps after the fact: the office,
/// the responsible unit and the receiving body (an administrator records
/// any step).
const RECORD_OWN_STEPS: [Capacity; 3] = [Capacity::Office, Capacity::Unit, Capacity::Receiver];

/// Refuses a caller who takes the step, but not in a capacity that may
/// date it back: only its own step, as the office, the responsible unit or
/// the receiving body, or an administrator.
fn may_record_after_the_fact(
    caller: &Caller,
    paths: &EntryPaths<'_>,
    capacities: &[Capacity],
) -> ApiResult<()> {
    let own = capacities
        .iter()
        .filter(|c| RECORD_OWN_STEPS.contains(c))
        .any(|c| acts_as(caller, paths, *c));
    if own || caller.has_role(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "only the office, the responsible unit or the receiving body may record its own step after the fact (effective_date)".into(),
        ))
    }
}

/// A step on `entry` (taken in one of `capacities`) dated back to `day`:
/// the caller's own step, at most `window` days back, and not before the
/// entry's last step (the journal stays in order of days).
pub(super) fn recorded_after_the_fact(
    caller: &Caller,
    entry: &LedgerEntry,
    capacities: &[Capacity],
    day: NaiveDate,
    today: NaiveDate,
    window: u32,
) -> ApiResult<()> {
    may_record_after_the_fact(caller, &EntryPaths::of(entry), capacities)?;
    within_window(day, today, window)?;
    in_order(entry, day)
}

/// A step recorded after the fact is dated at most `window` days back.
fn within_window(day: NaiveDate, today: NaiveDate, window: u32) -> ApiResult<()> {
    let earliest = today - chrono::Days::new(u64::from(window));
    if day < earliest {
        return Err(ApiError::precondition(
            ErrorReason::BeyondBackfillWindow,
            format!(
                "effective_date {day} is more than {window} days back (the earliest is {earliest})"
            ),
        ));
    }
    Ok(())
}

/// Who asked on paper for a write-off recorded after the fact (补录):
/// only an administrator may name one, and only with `effective_date`.
/// Empty when the caller asks.
pub(super) fn recorded_requester(caller: &Caller, r: &RequestWriteOffRequest) -> ApiResult<String> {
    if r.requested_by.is_empty() {
        return Ok(String::new());
    }
    let requested_by = domain::text_short("requested_by", &r.requested_by)?;
    if !caller.has_role(Role::Admin) {
        return Err(ApiError::PermissionDenied(
            "only an administrator may record who asked for a write-off (requested_by)".into(),
        ));
    }
    if r.effective_date.is_none() {
        return Err(ApiError::invalid(
            "effective_date",
            CommonReason::RequiredField,
            "requested_by records a write-off after the fact: effective_date is required with it",
        ));
    }
    Ok(requested_by)
}

/// A step recorded after the fact keeps the journal in order of days.
fn in_order(entry: &LedgerEntry, day: NaiveDate) -> ApiResult<()> {
    match domain::date_of(entry.last_step_date.as_ref()) {
        Some(last) if day < last => Err(ApiError::precondition(
            ErrorReason::StepBeforeLast,
            format!(
                "effective_date {day} is before the last step of {} ({last})",
                entry.name
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses a caller who sees `entry` but is not the office over it, before
/// a step looks at anything the request names.
pub(super) fn check_office(caller: &Caller, entry: &LedgerEntry) -> ApiResult<()> {
    check_capacity_on(
        caller,
        &EntryPaths::of(entry),
        &entry.name,
        &[Capacity::Office],
    )
}

/// Refuses a caller who may see the entry `name` but takes the step in
/// none of the `allowed` capacities.
pub(super) fn check_capacity_on(
    caller: &Caller,
    paths: &EntryPaths<'_>,
    name: &str,
    allowed: &[Capacity],
) -> ApiResult<()> {
    if allowed.iter().any(|c| acts_as(caller, paths, *c)) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "only {} may take this step on {name}",
            allowed
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(" or "),
        )))
    }
}

impl Api {
    /// Today by the service clock.
    pub(super) fn today(&self) -> fiveledger_proto::google::r#type::Date {
        to_date(self.clock.now().date_naive())
    }
}

pub fn parse_date_text(field: &str, value: &str) -> ApiResult<String> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| {
            ApiError::invalid(
                field,
                CommonReason::InvalidFilter,
                format!("{value} is not a date YYYY-MM-DD"),
            )
        })
}
