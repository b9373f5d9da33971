//! LedgerService: reading the books and taking the five steps. Every step is
//! one posting appended in one transaction; a refused step writes nothing.

use chrono::NaiveDate;
use fiveledger_platform::access_log::{Access, Reader};
use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::filter::{self, Op};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, parse_path};
use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
use fiveledger_platform::auth::{Caller, Role, within_reach};
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::replay_first;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::ledger_service_server::LedgerService;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{GetInspectionRequest, GetOrganisationRequest, RoundKind};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition};
use tonic::{Request, Response, Status};

use super::{Api, traceparent};
use crate::domain::entry::{self as domain, name_of, next_plan_version, next_transfer_id, text};
use crate::domain::scope::{Capacity, EntryPaths, acts_as, can_see, received, sees_inspection};
use crate::domain::warning::{self, Thresholds};
use crate::storage::books::{self, Signature};
use crate::storage::entries::{self, Column as C};
use crate::storage::statistics::colour_sql;
use crate::storage::tallies;

/// What every step request carries besides its own fields.
trait StepRequest: prost::Message {
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
    async fn step<R, F>(
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
        let backdated = backdate(&caller, raw.effective_date().as_ref(), now.date_naive())?;
        let day = to_date(backdated.unwrap_or(now.date_naive()));
        let etag_given = raw.etag().to_owned();
        let signature = Signature {
            actor: caller.actor(),
            request_id: raw.request_id().to_owned(),
            traceparent,
            at_us: Some(now.timestamp_micros()),
            effective_date: backdated.map(to_date),
        };
        let api = self.clone();
        let entry = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible_row(books::lock(txn, &id).await?, &caller, &id)?;
                check_capacity(&caller, &row, capacities)?;
                etag::check(&name_of(&id), &etag_given, row.posting_count)?;
                let current = books::decode_snapshot(&row)?;
                if let Some(day) = backdated {
                    in_order(&current, day)?;
                }
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
    async fn read_visible(&self, caller: &Caller, name: &str) -> ApiResult<LedgerEntry> {
        let id = domain::parse_name("name", name)?;
        let row = visible_row(books::find(self.db.reader(), id).await?, caller, id)?;
        books::decode_snapshot(&row)
    }
}

fn visible_row(
    row: Option<entries::Model>,
    caller: &Caller,
    id: &str,
) -> ApiResult<entries::Model> {
    let Some(row) = row else {
        return Err(ApiError::not_found(name_of(id)));
    };
    // The row names only the latest receiver; earlier ones are in the
    // snapshot's transfers (read only when there were several).
    let visible = can_see(caller, &row.paths())
        || (row.transfer_count > 1
            && received(
                caller,
                books::decode_snapshot(&row)?
                    .transfers
                    .iter()
                    .map(|t| t.receiving_body_path.as_str()),
            ));
    if visible {
        Ok(row)
    } else {
        Err(ApiError::not_found(name_of(id)))
    }
}

/// The day of a step recorded after the fact (补录): only administrators
/// may give one, and never a day still ahead. None for a step of today.
pub fn backdate(
    caller: &Caller,
    effective_date: Option<&Date>,
    today: NaiveDate,
) -> ApiResult<Option<NaiveDate>> {
    let Some(d) = effective_date else {
        return Ok(None);
    };
    let day = from_date("effective_date", d)?;
    if !caller.has_role(Role::Admin) {
        return Err(ApiError::PermissionDenied(
            "only an administrator may record a step after the fact (effective_date)".into(),
        ));
    }
    if day > today {
        return Err(ApiError::invalid(
            "effective_date",
            "IN_THE_FUTURE",
            format!("effective_date {day} is after today ({today})"),
        ));
    }
    Ok((day < today).then_some(day))
}

/// A step recorded after the fact keeps the journal in order of days.
fn in_order(entry: &LedgerEntry, day: NaiveDate) -> ApiResult<()> {
    match domain::date_of(entry.last_step_date.as_ref()) {
        Some(last) if day < last => Err(ApiError::precondition(
            "STEP_BEFORE_LAST",
            format!(
                "effective_date {day} is before the last step of {} ({last})",
                entry.name
            ),
        )),
        _ => Ok(()),
    }
}

fn check_capacity(caller: &Caller, row: &entries::Model, allowed: &[Capacity]) -> ApiResult<()> {
    check_capacity_on(caller, &row.paths(), &name_of(&row.id), allowed)
}

/// Refuses a caller who sees `entry` but is not the office over it, before
/// a step looks at anything the request names.
fn check_office(caller: &Caller, entry: &LedgerEntry) -> ApiResult<()> {
    check_capacity_on(
        caller,
        &EntryPaths::of(entry),
        &entry.name,
        &[Capacity::Office],
    )
}

/// Refuses a caller who may see the entry `name` but takes the step in
/// none of the `allowed` capacities.
fn check_capacity_on(
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
                "INVALID_FILTER",
                format!("{value} is not a date YYYY-MM-DD"),
            )
        })
}

/// The conditions of a `ListEntries` filter; `today` and the thresholds
/// judge `colour` (the same rule as on read).
pub fn list_filter(filter: &str, today: NaiveDate, t: &Thresholds) -> ApiResult<Vec<Condition>> {
    let mut out = Vec::new();
    for term in filter::parse(filter)? {
        let eq = |col: C, term: &filter::Comparison| -> ApiResult<Condition> {
            let value = term.expect_op(&[Op::Eq])?;
            Ok(Condition::all().add(Expr::col(col).eq(value.to_owned())))
        };
        let condition = match term.field.as_str() {
            "state" => {
                let value = term.expect_op(&[Op::Eq])?;
                let state = EntryState::from_str_name(value)
                    .filter(|s| *s != EntryState::Unspecified)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            format!("unknown state {value}"),
                        )
                    })?;
                Condition::all().add(C::State.eq(state.as_str_name()))
            }
            "severity" => {
                let value = term.expect_op(&[Op::Eq])?;
                let severity = Severity::from_str_name(value).ok_or_else(|| {
                    ApiError::invalid(
                        "filter",
                        "INVALID_FILTER",
                        format!("unknown severity {value}"),
                    )
                })?;
                Condition::all().add(C::Severity.eq(severity as i32))
            }
            "responsible_subtree" => {
                let path = parse_path("filter", term.expect_op(&[Op::Eq])?)?;
                Condition::all().add(within_subtree(C::ResponsibleUnitPath, &path))
            }
            "target_subtree" => {
                let path = parse_path("filter", term.expect_op(&[Op::Eq])?)?;
                Condition::all().add(within_subtree(C::TargetPath, &path))
            }
            "colour" => {
                let value = term.expect_op(&[Op::Eq])?;
                let colour = WarningColour::from_str_name(value)
                    .filter(|c| *c != WarningColour::Unspecified)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            format!("unknown colour {value}"),
                        )
                    })?;
                Condition::all().add(Expr::cust(format!(
                    "{} = {}",
                    colour_sql(today, t),
                    colour as i32
                )))
            }
            "round" => eq(C::Round, &term)?,
            "inspection" => eq(C::Inspection, &term)?,
            "problem" => eq(C::Problem, &term)?,
            "category" => eq(C::Category, &term)?,
            "due_date" => {
                let value = parse_date_text("filter", &term.value)?;
                let col = Expr::col(C::DueDate);
                // Entries without a due date (not handed over) match no range.
                let set = Expr::col(C::DueDate).ne("");
                let cmp = match term.op {
                    Op::Lt => col.lt(value),
                    Op::Le => col.lte(value),
                    Op::Gt => col.gt(value),
                    Op::Ge => col.gte(value),
                    Op::Eq => col.eq(value),
                    _ => {
                        return Err(ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            "due_date supports =, <, <=, > and >=",
                        ));
                    }
                };
                Condition::all().add(set).add(cmp)
            }
            other => {
                return Err(ApiError::invalid(
                    "filter",
                    "INVALID_FILTER",
                    format!(
                        "unknown field {other}; use state, colour, severity, \
                         responsible_subtree, target_subtree, round, inspection, problem, \
                         category or due_date"
                    ),
                ));
            }
        };
        out.push(condition);
    }
    Ok(out)
}

#[tonic::async_trait]
impl LedgerService for Api {
    async fn get_entry(
        &self,
        request: Request<GetEntryRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let id = domain::parse_name("name", name)?;
        let row = visible_row(books::find(self.db.reader(), id).await?, &caller, id)?;
        let mut entry = books::decode_snapshot(&row)?;
        entry.postings = books::journal(self.db.reader(), id)
            .await?
            .iter()
            .map(books::posting_of)
            .collect::<ApiResult<_>>()?;
        self.paint(&mut entry);
        Ok(Response::new(entry))
    }

    async fn list_entries(
        &self,
        request: Request<ListEntriesRequest>,
    ) -> Result<Response<ListEntriesResponse>, Status> {
        let reader = Reader::of(&request)?;
        let caller = &reader.caller;
        let request = request.into_inner();
        let roles = format!("{:?}", caller.roles);
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &request.order_by, &caller.key(), &roles],
        )?;
        let (order, desc) = parse_order_by(&request.order_by, &["name", "due_date"])?;
        let mut query = books::ListQuery {
            filters: list_filter(
                &request.filter,
                self.clock.now().date_naive(),
                &self.settings.thresholds(),
            )?,
            by_due_date: order == "due_date",
            desc,
            limit: page.limit(),
            ..Default::default()
        };
        if page.after.is_some() {
            let key = page.after_str(0)?.unwrap_or_default().to_owned();
            let id = page.after_str(1)?.unwrap_or_default().to_owned();
            query.after = Some((key, id));
        }
        let rows = books::list(self.db.reader(), books::visible_to(caller), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            let key = if query.by_due_date {
                last.due_date.clone()
            } else {
                last.id.clone()
            };
            vec![key.into(), last.id.clone().into()]
        });
        let entries = rows
            .iter()
            .map(|row| {
                let mut entry = books::decode_snapshot(row)?;
                self.paint(&mut entry);
                Ok(entry)
            })
            .collect::<ApiResult<Vec<LedgerEntry>>>()?;
        // Listing the books is how they are exported (`fiveledger export
        // ledger`): every page is recorded in the access log.
        self.access
            .record(
                &reader,
                Access::new("/fiveledger.ledgers.v1.LedgerService/ListEntries")
                    .resources(entries.iter().map(|e| e.name.clone()))
                    .query(request.filter),
            )
            .await;
        Ok(Response::new(ListEntriesResponse {
            entries,
            next_page_token,
        }))
    }

    async fn acknowledge_hand_over(
        &self,
        request: Request<AcknowledgeHandOverRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "AcknowledgeHandOver", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let remarks = text("remarks", &r.remarks, false)?;
        self.step(caller, trace, &r, key, &[Capacity::Unit], move |_, _day| {
            Ok(Detail::HandOverAcknowledged(AcknowledgementDetail {
                remarks,
            }))
        })
        .await
    }

    async fn submit_plan(
        &self,
        request: Request<SubmitPlanRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "SubmitPlan", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let plan = domain::parse_plan(r.plan.as_ref())?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Unit],
            move |entry, _day| {
                Ok(Detail::PlanSubmitted(RectificationPlan {
                    version: next_plan_version(entry),
                    ..plan
                }))
            },
        )
        .await
    }

    async fn approve_plan(
        &self,
        request: Request<ApprovePlanRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ApprovePlan", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        if r.version <= 0 {
            return Err(ApiError::required("version").into());
        }
        let remarks = text("remarks", &r.remarks, false)?;
        let version = r.version;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office],
            move |_, _day| {
                Ok(Detail::PlanApproved(PlanDecisionDetail {
                    version,
                    remarks,
                }))
            },
        )
        .await
    }

    async fn reject_plan(
        &self,
        request: Request<RejectPlanRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RejectPlan", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        if r.version <= 0 {
            return Err(ApiError::required("version").into());
        }
        let remarks = text("reason", &r.reason, true)?;
        let version = r.version;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office],
            move |_, _day| {
                Ok(Detail::PlanRejected(PlanDecisionDetail {
                    version,
                    remarks,
                }))
            },
        )
        .await
    }

    async fn post_progress(
        &self,
        request: Request<PostProgressRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "PostProgress", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let description = text("description", &r.description, true)?;
        if !r.measure_id.is_empty() {
            names::validate_id("measure_id", &r.measure_id)?;
        } else if r.measure_done {
            return Err(ApiError::invalid(
                "measure_id",
                "REQUIRED_FIELD",
                "measure_id is required when measure_done is set",
            )
            .into());
        }
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        let (measure_id, measure_done) = (r.measure_id.clone(), r.measure_done);
        self.step(caller, trace, &r, key, &[Capacity::Unit], move |_, day| {
            Ok(Detail::Progress(ProgressDetail {
                measure_id,
                description,
                evidence,
                measure_done,
                date: Some(day),
            }))
        })
        .await
    }

    async fn post_supervision(
        &self,
        request: Request<PostSupervisionRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "PostSupervision", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let remarks = text("remarks", &r.remarks, true)?;
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Supervisor, Capacity::Office, Capacity::Receiver],
            move |_, _day| Ok(Detail::Supervision(SupervisionDetail { remarks, evidence })),
        )
        .await
    }

    async fn transfer(
        &self,
        request: Request<TransferRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "Transfer", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse("receiving_body", &r.receiving_body, "organisations")?;
        let matter = text("matter", &r.matter, true)?;
        let due_date = domain::parse_required_date("due_date", r.due_date.as_ref())?;
        // The receiving body's path: known from the responsibility lists, or
        // asked of the rounds service (before the write transaction).
        let current = self.read_visible(&caller, &r.name).await?;
        // Only the office may learn anything of the body it names.
        check_office(&caller, &current)?;
        let resp = current.responsibility.clone().unwrap_or_default();
        let known = [
            (&resp.supervising_body, &resp.supervising_body_path),
            (
                &resp.functional_department,
                &resp.functional_department_path,
            ),
            (&resp.responsible_unit, &resp.responsible_unit_path),
        ]
        .into_iter()
        .find(|(name, path)| **name == r.receiving_body && !path.is_empty())
        .map(|(_, path)| path.clone());
        let path = match known {
            Some(path) => path,
            None => {
                self.upstreams
                    .organisations
                    .clone()
                    .get_organisation(GetOrganisationRequest {
                        name: r.receiving_body.clone(),
                    })
                    .await
                    .map_err(|s| from_upstream("rounds", &r.receiving_body, s))?
                    .into_inner()
                    .path
            }
        };
        // A body of the running level or within the target's subtree, or
        // exactly as if the body did not exist.
        if !within_reach(
            &path,
            &current.round_organisation_path,
            &current.target_path,
        ) {
            return Err(ApiError::not_found(&r.receiving_body).into());
        }
        let receiving_body = r.receiving_body.clone();
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office],
            move |entry, _day| {
                Ok(Detail::Transferred(Transfer {
                    id: next_transfer_id(entry),
                    receiving_body,
                    receiving_body_path: path,
                    matter,
                    due_date: Some(due_date),
                    ..Default::default()
                }))
            },
        )
        .await
    }

    async fn acknowledge_transfer(
        &self,
        request: Request<AcknowledgeTransferRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "AcknowledgeTransfer", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let remarks = text("remarks", &r.remarks, false)?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Receiver],
            move |_, _day| {
                Ok(Detail::TransferAcknowledged(AcknowledgementDetail {
                    remarks,
                }))
            },
        )
        .await
    }

    async fn return_transfer_result(
        &self,
        request: Request<ReturnTransferResultRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ReturnTransferResult", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let result = text("result", &r.result, true)?;
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Receiver],
            move |entry, day| {
                Ok(Detail::TransferResult(TransferResultDetail {
                    transfer_id: entry
                        .transfers
                        .last()
                        .map(|t| t.id.clone())
                        .unwrap_or_default(),
                    result,
                    evidence,
                    date: Some(day),
                }))
            },
        )
        .await
    }

    async fn request_write_off(
        &self,
        request: Request<RequestWriteOffRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RequestWriteOff", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let closure_statement = text("closure_statement", &r.closure_statement, true)?;
        if r.evidence.is_empty() {
            return Err(ApiError::required("evidence").into());
        }
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        let figures = domain::parse_figures(r.figures.as_ref())?;
        self.step(caller, trace, &r, key, &[Capacity::Unit], move |_, _day| {
            Ok(Detail::WriteOffRequested(WriteOff {
                closure_statement,
                evidence,
                figures: Some(figures),
                ..Default::default()
            }))
        })
        .await
    }

    async fn approve_write_off(
        &self,
        request: Request<ApproveWriteOffRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ApproveWriteOff", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let remarks = text("remarks", &r.remarks, false)?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office, Capacity::Supervisor],
            move |_, _day| Ok(Detail::WriteOffApproved(VerificationDetail { remarks })),
        )
        .await
    }

    async fn reject_write_off(
        &self,
        request: Request<RejectWriteOffRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RejectWriteOff", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let remarks = text("reason", &r.reason, true)?;
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office, Capacity::Supervisor],
            move |_, _day| Ok(Detail::WriteOffRejected(VerificationDetail { remarks })),
        )
        .await
    }

    async fn reopen(
        &self,
        request: Request<ReopenRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "Reopen", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
        let reason = text("reason", &r.reason, true)?;
        let due_date = domain::parse_required_date("due_date", r.due_date.as_ref())?;
        let current = self.read_visible(&caller, &r.name).await?;
        // Only the office learns the entry's state or anything of the
        // inspection it names; a wrong state is refused before the rounds
        // service is asked anything.
        check_office(&caller, &current)?;
        domain::require(&current, "reopen", &[EntryState::WrittenOff])?;
        let inspection = self
            .upstreams
            .inspections
            .clone()
            .get_inspection(GetInspectionRequest {
                name: r.inspection.clone(),
            })
            .await
            .map_err(|s| from_upstream("rounds", &r.inspection, s))?
            .into_inner();
        // Asked with the service's credentials: one the caller may not see
        // is as one that does not exist.
        if !sees_inspection(&caller, &inspection) {
            return Err(ApiError::not_found(&r.inspection).into());
        }
        if inspection.round_kind != RoundKind::LookBack as i32 {
            return Err(ApiError::precondition(
                "NOT_A_LOOK_BACK",
                format!("{} is not in a look-back round", r.inspection),
            )
            .into());
        }
        if inspection.look_back_of != current.inspection
            && inspection.target_path != current.target_path
        {
            return Err(ApiError::precondition(
                "LOOK_BACK_MISMATCH",
                format!(
                    "{} re-checks neither {} nor its target",
                    r.inspection, current.inspection
                ),
            )
            .into());
        }
        let look_back = r.inspection.clone();
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Office],
            move |_, _day| {
                Ok(Detail::Reopened(ReopenDetail {
                    inspection: look_back,
                    reason,
                    due_date: Some(due_date),
                }))
            },
        )
        .await
    }

    async fn reconcile(
        &self,
        request: Request<ReconcileRequest>,
    ) -> Result<Response<ReconcileResponse>, Status> {
        let caller = Caller::of(&request)?;
        // The issues service's side is asked on the caller's behalf.
        let on_behalf = request.metadata().get("authorization").cloned();
        Ok(Response::new(
            super::reconcile::reconcile(self, &caller, on_behalf, request.get_ref()).await?,
        ))
    }

    async fn verify_journal(
        &self,
        request: Request<VerifyJournalRequest>,
    ) -> Result<Response<VerifyJournalResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let set = [
            !r.entry.is_empty(),
            !r.inspection.is_empty(),
            !r.round.is_empty(),
            !r.organisation_path.is_empty(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set > 1 {
            return Err(ApiError::invalid(
                "entry",
                "ONE_SCOPE",
                "set at most one of entry, inspection, round and organisation_path",
            )
            .into());
        }
        let mut filter = Condition::all().add(books::visible_to(&caller));
        if !r.entry.is_empty() {
            filter = filter.add(C::Id.eq(domain::parse_name("entry", &r.entry)?));
        } else if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            filter = filter.add(C::Inspection.eq(r.inspection.clone()));
        } else if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            filter = filter.add(C::Round.eq(r.round.clone()));
        } else if !r.organisation_path.is_empty() {
            let path = parse_path("organisation_path", &r.organisation_path)?;
            filter = filter.add(within_subtree(C::TargetPath, &path));
        }
        // The tallies of a whole subtree are checked against its entries.
        let whole = r.entry.is_empty() && r.inspection.is_empty() && r.round.is_empty();
        let path = (!r.organisation_path.is_empty()).then_some(r.organisation_path.as_str());
        // Postings without their entry belong to no scope: only a caller who
        // sees every entry, verifying them all, is told of them.
        let everything = whole
            && path.is_none()
            && super::supervision::tally_scope(&caller, None).is_some_and(|p| p.is_empty());
        let mut out = books::verify(self.db.reader(), filter, everything).await?;
        if let Some(path) = super::supervision::tally_scope(&caller, path).filter(|_| whole) {
            let today = self.clock.now().date_naive();
            let thresholds = self.settings.thresholds();
            if let Some(fault) = tallies::check(self.db.reader(), &path, today, &thresholds).await?
            {
                out.tally_fault = fault;
                out.valid = false;
            }
        }
        Ok(Response::new(out))
    }

    type WatchWarningsStream = super::supervision::WarningStream;

    async fn run_warning_sweep(
        &self,
        request: Request<RunWarningSweepRequest>,
    ) -> Result<Response<RunWarningSweepResponse>, Status> {
        self.run_warning_sweep_rpc(request).await
    }

    async fn watch_warnings(
        &self,
        request: Request<WatchWarningsRequest>,
    ) -> Result<Response<Self::WatchWarningsStream>, Status> {
        self.watch_warnings_rpc(request).await
    }

    async fn get_statistics(
        &self,
        request: Request<GetStatisticsRequest>,
    ) -> Result<Response<GetStatisticsResponse>, Status> {
        self.get_statistics_rpc(request).await
    }

    async fn publish(
        &self,
        request: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        self.publish_rpc(request).await
    }

    async fn get_publication(
        &self,
        request: Request<GetPublicationRequest>,
    ) -> Result<Response<Publication>, Status> {
        self.get_publication_rpc(request).await
    }

    async fn list_publications(
        &self,
        request: Request<ListPublicationsRequest>,
    ) -> Result<Response<ListPublicationsResponse>, Status> {
        self.list_publications_rpc(request).await
    }
}
