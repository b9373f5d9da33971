//! LedgerService: reading the books and taking the five steps (the step
//! machinery is in `steps.rs`; Reconcile and VerifyJournal in `reconcile.rs`).
//! Every step is one posting appended in one transaction; a refused step
//! writes nothing.

use fiveledger_platform::access_log::{Access, Reader};
use fiveledger_platform::aip::idempotency::RequestKey;
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
use fiveledger_platform::auth::{Caller, within_reach};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::ledger_service_server::LedgerService;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::RoundKind;
use tonic::{Request, Response, Status};

use super::filters::list_filter;
use super::steps::{check_office, recorded_requester, visible_row};
use super::{Api, traceparent};
use crate::domain::entry::{self as domain, next_plan_version, next_transfer_id, text};
use crate::domain::scope::Capacity;
use crate::storage::books;

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
            terms: list_filter(&request.filter)?,
            today: self.clock.now().date_naive(),
            thresholds: self.settings.thresholds(),
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
        let rows = books::list(self.db.reader(), caller, &query).await?;
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
                CommonReason::RequiredField,
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
            &[
                Capacity::Supervisor,
                Capacity::Office,
                Capacity::Receiver,
                Capacity::LeaderInCharge,
                Capacity::FunctionalDepartment,
            ],
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
            None => self.rounds.organisation_path(&r.receiving_body).await?,
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
        let requested_by = recorded_requester(&caller, &r)?;
        self.step(caller, trace, &r, key, &[Capacity::Unit], move |_, _day| {
            Ok(Detail::WriteOffRequested(WriteOff {
                closure_statement,
                evidence,
                figures: Some(figures),
                requested_by,
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
        self.check_look_back(&caller, &current, &r.inspection)
            .await?;
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

    async fn reply_to_notice(
        &self,
        request: Request<ReplyToNoticeRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        self.reply_to_notice_step(request).await
    }

    async fn record_interview(
        &self,
        request: Request<RecordInterviewRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        self.record_interview_step(request).await
    }

    async fn record_interview_follow_up(
        &self,
        request: Request<RecordInterviewFollowUpRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        self.record_interview_follow_up_step(request).await
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
        Ok(Response::new(
            super::reconcile::verify_journal(self, &caller, request.get_ref()).await?,
        ))
    }
}

impl Api {
    /// Refuses a look-back inspection (`inspection`) that is not in a
    /// look-back round or re-checks neither the entry's inspection nor its
    /// target; one the caller may not see is as one that does not exist.
    pub(super) async fn check_look_back(
        &self,
        caller: &Caller,
        entry: &LedgerEntry,
        inspection: &str,
    ) -> ApiResult<()> {
        let found = self.rounds.inspection(caller, inspection).await?;
        if found.round_kind != RoundKind::LookBack as i32 {
            return Err(ApiError::precondition(
                ErrorReason::NotALookBack,
                format!("{inspection} is not in a look-back round"),
            ));
        }
        if found.look_back_of != entry.inspection && found.target_path != entry.target_path {
            return Err(ApiError::precondition(
                ErrorReason::LookBackMismatch,
                format!(
                    "{inspection} re-checks neither {} nor its target",
                    entry.inspection
                ),
            ));
        }
        Ok(())
    }
}
