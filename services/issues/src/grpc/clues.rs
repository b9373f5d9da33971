//! ClueService: clues about cadres, their disposal and outcome. Who sees a
//! clue and where it may go are the rules of `domain::scope`; to anyone else
//! a clue does not exist.

use std::collections::HashMap;

use fiveledger_platform::access_log::{Access, Reader};
use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::clue_service_server::ClueService;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{InspectionPhase, Organisation, OrganisationKind};
use tonic::{Request, Response, Status};

use super::{Api, context};
use crate::domain::clue::{self as domain, NewClue};
use crate::domain::clue_reconciliation::LineKind;
use crate::domain::problem::round_of;
use crate::domain::scope::{self, Reach, unknown_organisation};
use crate::settings::IssuesSettings;
use crate::storage::Txn;
use crate::storage::clue_journal;
use crate::storage::clue_signatures as signatures;
use crate::storage::clue_transfers as transfers;
use crate::storage::clues::{self as store, ListQuery};

/// Writes a changed clue (revision checked; its transfers are already
/// written in the same transaction), its time limit brought in line with
/// it, and returns it as shown.
pub(super) async fn save(
    txn: &Txn,
    mut clue: store::Model,
    transfers: &[transfers::Model],
    now: chrono::DateTime<chrono::Utc>,
    settings: &IssuesSettings,
) -> ApiResult<Clue> {
    clue.retime(transfers, settings);
    let clue = store::save(txn, clue, now).await?;
    let signatures = signatures::of_decision(txn, &clue.id, clue.reopen_count).await?;
    Ok(clue.to_proto(
        transfers,
        &signatures,
        &settings.clue_view(now.date_naive()),
    ))
}

/// Appends the journal line of a step on `clue` (as saved and shown),
/// dated `day`; `from_body` is the body a transfer took it from.
pub(super) async fn journal(
    txn: &Txn,
    ctx: &EventContext,
    clue: &Clue,
    line: (LineKind, chrono::NaiveDate, &str),
    from_body: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    clue_journal::record(txn, &ctx.actor, clue, line, from_body, at).await
}

/// The current (last) transfer of a clue; every clue has one.
pub(super) fn current<'a>(
    name: &str,
    transfers: &'a mut [transfers::Model],
) -> ApiResult<&'a mut transfers::Model> {
    transfers
        .last_mut()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("{name} has no transfer")))
}

/// Appends `ClueTransferAcknowledged` for the current transfer of `clue`.
pub(super) async fn acknowledged(txn: &Txn, ctx: &EventContext, clue: &Clue) -> ApiResult<()> {
    let event = ClueTransferAcknowledged {
        clue: Some(clue.clone()),
        transfer: clue.transfers.last().cloned(),
    };
    outbox::append(txn, ctx, &clue.name, &event).await
}

impl Api {
    /// Where a new clue goes (the body named, else the discipline
    /// commission of the managing level or of the running level) and the
    /// level managing its cadre, in one directory call for both names.
    async fn clue_destination(
        &self,
        running: &str,
        target: &str,
        receiving_body: Option<&str>,
        managed_by: Option<&str>,
    ) -> ApiResult<(Organisation, Option<Organisation>)> {
        let names: Vec<String> = receiving_body
            .into_iter()
            .chain(managed_by)
            .map(str::to_owned)
            .collect();
        let (found, _unknown) = if names.is_empty() {
            Default::default()
        } else {
            self.rounds.organisations_by_name(names).await?
        };
        let managing = match managed_by {
            None => None,
            Some(name) => {
                let org = found
                    .get(name)
                    .filter(|o| is_level(o.kind()))
                    .ok_or_else(|| unknown_organisation("clue.subject_managed_by", name))?;
                scope::check_managing_level("clue.subject_managed_by", &org.path, running)?;
                Some(org.clone())
            }
        };
        let managing_level = managing.as_ref().map_or("", |m| m.path.as_str());
        let receiving = match receiving_body {
            Some(name) => reachable(
                &found,
                "clue.receiving_body",
                name,
                Reach::Bodies {
                    running,
                    target,
                    managing_level,
                },
            )?,
            None => {
                let level = if managing_level.is_empty() {
                    running
                } else {
                    managing_level
                };
                self.rounds
                    .attached(level, OrganisationKind::DisciplineCommission)
                    .await?
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "clue.receiving_body",
                            ErrorReason::NoDefaultReceivingBody,
                            format!("no discipline commission is attached to {level}; name clue.receiving_body"),
                        )
                    })?
            }
        };
        Ok((receiving, managing))
    }
}

/// An administrative level, which manages cadres (干部管理权限).
fn is_level(kind: OrganisationKind) -> bool {
    matches!(
        kind,
        OrganisationKind::Region
            | OrganisationKind::City
            | OrganisationKind::County
            | OrganisationKind::Township
    )
}

/// The organisation `name` from a directory answer, if a clue may go there
/// (`reach`); otherwise exactly as if it were unknown.
pub(super) fn reachable(
    found: &HashMap<String, Organisation>,
    field: &str,
    name: &str,
    reach: Reach<'_>,
) -> ApiResult<Organisation> {
    found
        .get(name)
        .filter(|o| reach.allows(&o.path, o.kind() == OrganisationKind::DisciplineCommission))
        .cloned()
        .ok_or_else(|| unknown_organisation(field, name))
}

/// Refuses a step only the body holding the clue may take.
pub(super) fn check_holder(
    caller: &Caller,
    clue: &store::Model,
    may_office: bool,
) -> ApiResult<()> {
    let office = may_office
        && caller.has_role(Role::InspectionOffice)
        && scope::works_round(caller, &clue.round_organisation_path);
    if scope::holds_clue(caller, &clue.receiving_body_path) || office {
        Ok(())
    } else {
        Err(ApiError::denied(
            ErrorReason::NotTheHolder,
            format!(
                "only {} (which holds {}) may take this step",
                clue.receiving_body,
                domain::name_of(&clue.id)
            ),
        ))
    }
}

#[tonic::async_trait]
impl ClueService for Api {
    async fn create_clue(
        &self,
        request: Request<CreateClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateClue", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let new = NewClue::parse(request.clue.as_ref())?;
        // Always generated: a chosen id that was taken would tell anyone
        // that a clue exists.
        let id = names::generate_id('c');
        let inspection = self.rounds.inspection(&caller, &new.inspection).await?;
        scope::may_record(&caller, &inspection)?;
        if matches!(
            inspection.phase(),
            InspectionPhase::Preparation | InspectionPhase::Unspecified
        ) {
            return Err(ApiError::precondition(
                ErrorReason::InspectionNotStationed,
                format!(
                    "{} is in phase {}; clues are registered once the group is stationed",
                    inspection.name,
                    inspection.phase().as_str_name()
                ),
            )
            .into());
        }
        let running = inspection.round_organisation_path.as_str();
        let (receiving, managing) = self
            .clue_destination(
                running,
                &inspection.target_path,
                new.receiving_body.as_deref(),
                new.subject_managed_by.as_deref(),
            )
            .await?;
        let ctx = context(&caller, &request.request_id).about(&inspection.round_organisation_path);
        let actor = caller.actor();
        // Registration is the first transfer, on the clock's day.
        let now = self.clock.now();
        let today = now.date_naive();
        let due = domain::due_date(today, self.settings.clue_transfer_due_days)?;
        let view = self.settings.clue_view(today);
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let model = store::Model {
                    id: id.clone(),
                    inspection: inspection.name.clone(),
                    round: round_of(&inspection.name),
                    target: inspection.target.clone(),
                    target_path: inspection.target_path.clone(),
                    subject_name: new.subject_name,
                    subject_post: new.subject_post,
                    summary: new.summary,
                    source: new.source,
                    receiving_body: receiving.name.clone(),
                    receiving_body_path: receiving.path.clone(),
                    round_organisation_path: inspection.round_organisation_path.clone(),
                    subject_managed_by: managing
                        .as_ref()
                        .map(|m| m.name.clone())
                        .unwrap_or_default(),
                    subject_managed_by_path: managing
                        .as_ref()
                        .map(|m| m.path.clone())
                        .unwrap_or_default(),
                    state: ClueState::Registered.as_str_name().to_owned(),
                    disposal_method: String::new(),
                    disposal_date: None,
                    disposal_note: String::new(),
                    disposal_by: String::new(),
                    outcome_kind: String::new(),
                    outcome_date: None,
                    outcome_note: String::new(),
                    outcome_by: String::new(),
                    reopen_count: 0,
                    registered_by: actor.clone(),
                    due_date: crate::domain::clue_deadline::due_text(Some(due)),
                    notified_colour: 0,
                    yellow_count: 0,
                    colour_floor: 0,
                    colour_peak: 0,
                    warning_count: 0,
                    reopen_date: None,
                    revision: 1,
                    create_time: now,
                    update_time: now,
                };
                let model = store::insert(txn, model).await?;
                let first = transfers::insert(
                    txn,
                    transfers::Model {
                        clue_id: id.clone(),
                        seq: 1,
                        receiving_body: receiving.name.clone(),
                        receiving_body_path: receiving.path.clone(),
                        transfer_date: today,
                        due_date: due,
                        acknowledge_date: None,
                        acknowledged_by: String::new(),
                        result_date: None,
                        transferred_by: actor,
                        create_time: now,
                    },
                )
                .await?;
                let clue = model.to_proto(std::slice::from_ref(&first), &[], &view);
                journal(
                    txn,
                    &ctx,
                    &clue,
                    (LineKind::Transferred, today, ""),
                    "",
                    now,
                )
                .await?;
                outbox::append(
                    txn,
                    &ctx,
                    &clue.name,
                    &ClueRegistered {
                        clue: Some(clue.clone()),
                    },
                )
                .await?;
                outbox::append(
                    txn,
                    &ctx,
                    &clue.name,
                    &ClueTransferred {
                        clue: Some(clue.clone()),
                        transfer: clue.transfers.first().cloned(),
                    },
                )
                .await?;
                Ok(clue)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn get_clue(&self, request: Request<GetClueRequest>) -> Result<Response<Clue>, Status> {
        let reader = Reader::of(&request)?;
        let clue =
            store::find_visible(self.db.reader(), &reader.caller, &request.get_ref().name).await?;
        let transfers = transfers::of_clue(self.db.reader(), &clue.id).await?;
        let signed = signatures::of_decision(self.db.reader(), &clue.id, clue.reopen_count).await?;
        let clue = clue.to_proto(
            &transfers,
            &signed,
            &self.settings.clue_view(self.clock.today()),
        );
        self.access
            .record(
                &reader,
                Access::new(CLUE!("GetClue")).resources([clue.name.clone()]),
            )
            .await;
        Ok(Response::new(clue))
    }

    async fn get_clue_statistics(
        &self,
        request: Request<GetClueStatisticsRequest>,
    ) -> Result<Response<GetClueStatisticsResponse>, Status> {
        super::clue_statistics::get_clue_statistics(self, request).await
    }

    async fn list_clues(
        &self,
        request: Request<ListCluesRequest>,
    ) -> Result<Response<ListCluesResponse>, Status> {
        let reader = Reader::of(&request)?;
        let caller = &reader.caller;
        if !fiveledger_platform::clue_scope::may_hold_clues(caller) {
            return Err(ApiError::PermissionDenied(
                "clues are held only by the inspection office, the discipline commission and the organisation department".into(),
            )
            .into());
        }
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.key()],
        )?;
        let mut query = ListQuery {
            visible: store::visible(caller),
            limit: page.limit(),
            after: page.after_str(0)?.map(str::to_owned),
            ..Default::default()
        };
        super::filters::CLUES.apply(&request.filter, &mut query)?;
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        // The page's transfers in one query.
        let mut transfers =
            transfers::of_clues(self.db.reader(), rows.iter().map(|c| c.id.clone())).await?;
        let mut signed =
            signatures::of_clues(self.db.reader(), rows.iter().map(|c| c.id.clone())).await?;
        let view = self.settings.clue_view(self.clock.today());
        let clues: Vec<Clue> = rows
            .iter()
            .map(|c| {
                c.to_proto(
                    &transfers.remove(&c.id).unwrap_or_default(),
                    &signed.remove(&c.id).unwrap_or_default(),
                    &view,
                )
            })
            .collect();
        self.access
            .record(
                &reader,
                Access::new(CLUE!("ListClues"))
                    .resources(clues.iter().map(|c| c.name.clone()))
                    .query(request.filter),
            )
            .await;
        Ok(Response::new(ListCluesResponse {
            clues,
            next_page_token,
        }))
    }

    async fn dispose_clue(
        &self,
        request: Request<DisposeClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        super::clue_disposal::dispose_clue(self, request).await
    }

    async fn record_clue_outcome(
        &self,
        request: Request<RecordClueOutcomeRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "RecordClueOutcome", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let outcome = request
            .outcome
            .clone()
            .ok_or_else(|| ApiError::required("outcome"))?;
        let kind = domain::parse_outcome_kind("outcome.kind", outcome.kind)?;
        let (date, note) = domain::parse_decision("outcome", outcome.date.as_ref(), &outcome.note)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let settings = self.settings.clone();
        let clue = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let mut clue = store::find_visible(txn, &caller, &request.name).await?;
                let ctx = ctx.about(&clue.round_organisation_path);
                check_holder(&caller, &clue, false)?;
                etag::check(&request.name, &request.etag, clue.revision)?;
                domain::check_outcome(&request.name, clue.state())?;
                if clue.disposal_date.is_some_and(|d| date < d) {
                    return Err(ApiError::invalid(
                        "outcome.date",
                        ErrorReason::DateBeforeDisposal,
                        "the outcome cannot precede the disposal",
                    ));
                }
                // The outcome is the current transfer's result, posted back.
                let mut all = transfers::of_clue(txn, &clue.id).await?;
                let open = current(&request.name, &mut all)?;
                open.result_date = Some(open.not_before_transfer(date));
                transfers::update(txn, open.clone()).await?;
                clue.state = ClueState::Concluded.as_str_name().to_owned();
                clue.outcome_kind = kind.as_str_name().to_owned();
                clue.outcome_date = Some(date);
                clue.outcome_note = note;
                clue.outcome_by = caller.actor();
                let clue = save(txn, clue, &all, now, &settings).await?;
                let line = (LineKind::Outcome, date, kind.as_str_name());
                journal(txn, &ctx, &clue, line, "", now).await?;
                let event = ClueOutcomeRecorded {
                    clue: Some(clue.clone()),
                };
                outbox::append(txn, &ctx, &clue.name, &event).await?;
                Ok(clue)
            })
        })
        .await?;
        Ok(Response::new(clue))
    }

    async fn reopen_clue(
        &self,
        request: Request<ReopenClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "ReopenClue", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        validate_text("reason", &request.reason, true, domain::MAX_NOTE)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let settings = self.settings.clone();
        let clue = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let mut clue = store::find_visible(txn, &caller, &request.name).await?;
                let ctx = ctx.about(&clue.round_organisation_path);
                check_holder(&caller, &clue, false)?;
                etag::check(&request.name, &request.etag, clue.revision)?;
                domain::check_reopen(&request.name, clue.state())?;
                clue.state = ClueState::Registered.as_str_name().to_owned();
                clue.disposal_method.clear();
                clue.disposal_date = None;
                clue.disposal_note.clear();
                clue.disposal_by.clear();
                clue.outcome_kind.clear();
                clue.outcome_date = None;
                clue.outcome_note.clear();
                clue.outcome_by.clear();
                clue.reopen_count += 1;
                // Its clock starts again today.
                clue.reopen_date = Some(now.date_naive());
                // The outcome is taken back, so is the transfer's result.
                let mut all = transfers::of_clue(txn, &clue.id).await?;
                let open = current(&request.name, &mut all)?;
                if open.result_date.take().is_some() {
                    transfers::update(txn, open.clone()).await?;
                }
                let clue = save(txn, clue, &all, now, &settings).await?;
                let line = (LineKind::Reopened, now.date_naive(), "");
                journal(txn, &ctx, &clue, line, "", now).await?;
                let event = ClueReopened {
                    clue: Some(clue.clone()),
                    reason: request.reason.trim().to_owned(),
                };
                outbox::append(txn, &ctx, &clue.name, &event).await?;
                Ok(clue)
            })
        })
        .await?;
        Ok(Response::new(clue))
    }

    async fn transfer_clue(
        &self,
        request: Request<TransferClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        super::clue_transfers::transfer_clue(self, request).await
    }

    async fn acknowledge_clue_transfer(
        &self,
        request: Request<AcknowledgeClueTransferRequest>,
    ) -> Result<Response<Clue>, Status> {
        super::clue_transfers::acknowledge_clue_transfer(self, request).await
    }

    async fn sweep_clue_warnings(
        &self,
        request: Request<SweepClueWarningsRequest>,
    ) -> Result<Response<SweepClueWarningsResponse>, Status> {
        super::clue_warnings::sweep(self, request).await
    }

    async fn create_clue_reconciliation(
        &self,
        request: Request<CreateClueReconciliationRequest>,
    ) -> Result<Response<ClueReconciliation>, Status> {
        super::clue_reconciliations::create(self, request).await
    }

    async fn get_clue_reconciliation(
        &self,
        request: Request<GetClueReconciliationRequest>,
    ) -> Result<Response<ClueReconciliation>, Status> {
        super::clue_reconciliations::get(self, request).await
    }

    async fn verify_clue_reconciliation(
        &self,
        request: Request<VerifyClueReconciliationRequest>,
    ) -> Result<Response<VerifyClueReconciliationResponse>, Status> {
        super::clue_reconciliations::verify(self, request).await
    }
}
