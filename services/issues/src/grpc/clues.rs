//! ClueService: clues about cadres, their disposal and outcome. Only clue
//! holders (the inspection office, the discipline commission, services) see
//! them; to anyone else a clue does not exist.

use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::filter::{self, Op};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::{exists_or_internal, within_subtree};
use fiveledger_platform::time::Period;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::clue_service_server::ClueService;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{InspectionPhase, OrganisationKind};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseTransaction};
use tonic::{Request, Response, Status};

use super::{Api, CLUE_HOLDERS, context};
use crate::domain::clue::{self as domain, COLLECTION, NewClue};
use crate::domain::problem::{ORGANISATIONS, parse_inspection, round_of};
use crate::storage::clues::{self as store, ListQuery};

/// Reads a clue the caller may hold and see, or NOT_FOUND (never its data).
async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    name: &str,
) -> ApiResult<store::Model> {
    let id = names::parse("name", name, COLLECTION)?;
    if !caller.has_any(CLUE_HOLDERS) {
        return Err(ApiError::not_found(name));
    }
    match store::find(conn, id).await? {
        Some(c) if c.visible_to(caller) => Ok(c),
        _ => Err(ApiError::not_found(name)),
    }
}

/// Writes a changed clue (revision checked) and its event.
async fn save<M: prost::Name>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    mut clue: store::Model,
    event: impl FnOnce(Clue) -> M,
) -> ApiResult<Clue> {
    let revision = clue.revision;
    clue.revision += 1;
    clue.update_time = chrono::Utc::now();
    let clue = store::update_if_revision(txn, clue, revision).await?;
    let proto = clue.to_proto();
    outbox::append(txn, ctx, &proto.name, &event(proto.clone())).await?;
    Ok(proto)
}

#[tonic::async_trait]
impl ClueService for Api {
    async fn create_clue(
        &self,
        request: Request<CreateClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let new = NewClue::parse(request.clue.as_ref())?;
        let id = if request.clue_id.is_empty() {
            names::generate_id('c')
        } else {
            names::validate_id("clue_id", &request.clue_id)?;
            request.clue_id.clone()
        };
        let key = RequestKey::new(&caller, "CreateClue", &request.request_id, &request)?;
        let inspection = self.rounds.inspection(&caller, &new.inspection).await?;
        if matches!(
            inspection.phase(),
            InspectionPhase::Preparation | InspectionPhase::Unspecified
        ) {
            return Err(ApiError::precondition(
                "INSPECTION_NOT_STATIONED",
                format!(
                    "{} is in phase {}; clues are registered once the group is stationed",
                    inspection.name,
                    inspection.phase().as_str_name()
                ),
            )
            .into());
        }
        // The receiving body: the one named, else the discipline commission
        // of the level running the round.
        let receiving = match &new.receiving_body {
            Some(name) => {
                let (found, _unknown) = self.rounds.organisations_by_name([name.clone()]).await?;
                found.get(name).cloned().ok_or_else(|| {
                    ApiError::invalid(
                        "clue.receiving_body",
                        "UNKNOWN_ORGANISATION",
                        format!("{name} is not in the organisation directory"),
                    )
                })?
            }
            None => self
                .rounds
                .attached(
                    &inspection.round_organisation_path,
                    OrganisationKind::DisciplineCommission,
                )
                .await?
                .ok_or_else(|| {
                    ApiError::invalid(
                        "clue.receiving_body",
                        "NO_DEFAULT_RECEIVING_BODY",
                        "no discipline commission is attached to the level running the round; name clue.receiving_body",
                    )
                })?,
        };
        let ctx = context(&caller, &request.request_id);
        let actor = caller.actor();
        let created = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let now = chrono::Utc::now();
                let model = store::ActiveModel {
                    id: Set(id.clone()),
                    inspection: Set(inspection.name.clone()),
                    round: Set(round_of(&inspection.name)),
                    target: Set(inspection.target.clone()),
                    target_path: Set(inspection.target_path.clone()),
                    subject_name: Set(new.subject_name),
                    subject_post: Set(new.subject_post),
                    summary: Set(new.summary),
                    source: Set(new.source),
                    receiving_body: Set(receiving.name.clone()),
                    receiving_body_path: Set(receiving.path.clone()),
                    state: Set(ClueState::Registered.as_str_name().to_owned()),
                    disposal_method: Set(String::new()),
                    disposal_date: Set(None),
                    disposal_note: Set(String::new()),
                    disposal_by: Set(String::new()),
                    outcome_kind: Set(String::new()),
                    outcome_date: Set(None),
                    outcome_note: Set(String::new()),
                    outcome_by: Set(String::new()),
                    reopen_count: Set(0),
                    registered_by: Set(actor),
                    revision: Set(1),
                    create_time: Set(now),
                    update_time: Set(now),
                }
                .insert(txn)
                .await
                .map_err(exists_or_internal(|| domain::name_of(&id)))?;
                let clue = model.to_proto();
                outbox::append(
                    txn,
                    &ctx,
                    &clue.name,
                    &ClueRegistered {
                        clue: Some(clue.clone()),
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
        let caller = Caller::of(&request)?;
        let clue = visible(self.db.reader(), &caller, &request.get_ref().name).await?;
        Ok(Response::new(clue.to_proto()))
    }

    async fn get_clue_statistics(
        &self,
        request: Request<GetClueStatisticsRequest>,
    ) -> Result<Response<GetClueStatisticsResponse>, Status> {
        use sea_orm::{ColumnTrait, Condition};
        let caller = Caller::of(&request)?;
        if !caller.has_any(CLUE_HOLDERS) {
            return Err(ApiError::PermissionDenied(
                "clues are held only by the inspection office and the discipline commission".into(),
            )
            .into());
        }
        let r = request.into_inner();
        // The clues the caller holds (by target or receiving body, as in
        // ListClues), narrowed by the request's target subtree.
        let mut filter = Condition::all().add(
            Condition::any()
                .add(within_subtree(store::Column::TargetPath, &caller.org_path))
                .add(within_subtree(
                    store::Column::ReceivingBodyPath,
                    &caller.org_path,
                )),
        );
        if !r.organisation_path.is_empty() {
            let path = names::parse_path("organisation_path", &r.organisation_path)?;
            filter = filter.add(within_subtree(store::Column::TargetPath, &path));
        }
        if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            filter = filter.add(store::Column::Round.eq(r.round.clone()));
        }
        if !r.inspection.is_empty() {
            parse_inspection("inspection", &r.inspection)?;
            filter = filter.add(store::Column::Inspection.eq(r.inspection.clone()));
        }
        let period = Period::parse(r.period_start.as_ref(), r.period_end.as_ref())?;
        if let Some(from) = period.from_time() {
            filter = filter.add(store::Column::CreateTime.gte(from));
        }
        if let Some(until) = period.until_time() {
            filter = filter.add(store::Column::CreateTime.lt(until));
        }
        let key = match ClueGrouping::try_from(r.group_by) {
            Ok(ClueGrouping::Unspecified) => None,
            Ok(ClueGrouping::TargetPath) => Some(store::Column::TargetPath),
            Ok(ClueGrouping::Round) => Some(store::Column::Round),
            Err(_) => {
                return Err(ApiError::invalid(
                    "group_by",
                    "UNKNOWN_GROUPING",
                    format!("unknown grouping {}", r.group_by),
                )
                .into());
            }
        };
        let rows = store::tally(self.db.reader(), filter, key).await?;
        Ok(Response::new(GetClueStatisticsResponse {
            rows: rows
                .iter()
                .filter(|t| t.registered > 0)
                .map(store::Tally::to_proto)
                .collect(),
        }))
    }

    async fn list_clues(
        &self,
        request: Request<ListCluesRequest>,
    ) -> Result<Response<ListCluesResponse>, Status> {
        let caller = Caller::of(&request)?;
        if !caller.has_any(CLUE_HOLDERS) {
            return Err(ApiError::PermissionDenied(
                "clues are held only by the inspection office and the discipline commission".into(),
            )
            .into());
        }
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.org_path],
        )?;
        let mut query = ListQuery {
            scope: caller.org_path.clone(),
            limit: page.limit(),
            after: page.after_str(0)?.map(str::to_owned),
            ..Default::default()
        };
        let bad = |d: String| ApiError::invalid("filter", "INVALID_FILTER", d);
        for term in filter::parse(&request.filter)? {
            let value = term.expect_op(&[Op::Eq])?.to_owned();
            match term.field.as_str() {
                "inspection" => {
                    parse_inspection("filter", &value)?;
                    query.inspection = Some(value);
                }
                "round" => {
                    names::parse("filter", &value, "rounds")?;
                    query.round = Some(value);
                }
                "state" => {
                    query.state = Some(
                        ClueState::from_str_name(&value)
                            .filter(|s| *s != ClueState::Unspecified)
                            .ok_or_else(|| bad(format!("unknown state {value}")))?,
                    )
                }
                "disposal_method" => {
                    query.disposal_method = Some(
                        DisposalMethod::from_str_name(&value)
                            .filter(|s| *s != DisposalMethod::Unspecified)
                            .ok_or_else(|| bad(format!("unknown disposal method {value}")))?,
                    )
                }
                "receiving_body" => {
                    names::parse("filter", &value, ORGANISATIONS)?;
                    query.receiving_body = Some(value);
                }
                "target_subtree" => query.target_subtree = Some(value),
                other => {
                    return Err(bad(format!(
                        "unknown field {other}; use inspection, round, state, disposal_method, receiving_body or target_subtree"
                    ))
                    .into());
                }
            }
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListCluesResponse {
            clues: rows.iter().map(store::Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn dispose_clue(
        &self,
        request: Request<DisposeClueRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let disposal = request
            .disposal
            .clone()
            .ok_or_else(|| ApiError::required("disposal"))?;
        let method = domain::parse_method("disposal.method", disposal.method)?;
        let (date, note) =
            domain::parse_decision("disposal", disposal.date.as_ref(), &disposal.note)?;
        let key = RequestKey::new(&caller, "DisposeClue", &request.request_id, &request)?;
        let ctx = context(&caller, &request.request_id);
        let clue = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let mut clue = visible(txn, &caller, &request.name).await?;
                etag::check(&request.name, &request.etag, clue.revision)?;
                domain::check_dispose(&request.name, clue.state())?;
                clue.state = ClueState::Disposed.as_str_name().to_owned();
                clue.disposal_method = method.as_str_name().to_owned();
                clue.disposal_date = Some(date);
                clue.disposal_note = note;
                clue.disposal_by = caller.actor();
                save(txn, &ctx, clue, |c| ClueDisposed { clue: Some(c) }).await
            })
        })
        .await?;
        Ok(Response::new(clue))
    }

    async fn record_clue_outcome(
        &self,
        request: Request<RecordClueOutcomeRequest>,
    ) -> Result<Response<Clue>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let outcome = request
            .outcome
            .clone()
            .ok_or_else(|| ApiError::required("outcome"))?;
        let kind = domain::parse_outcome_kind("outcome.kind", outcome.kind)?;
        let (date, note) = domain::parse_decision("outcome", outcome.date.as_ref(), &outcome.note)?;
        let key = RequestKey::new(&caller, "RecordClueOutcome", &request.request_id, &request)?;
        let ctx = context(&caller, &request.request_id);
        let clue = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let mut clue = visible(txn, &caller, &request.name).await?;
                etag::check(&request.name, &request.etag, clue.revision)?;
                domain::check_outcome(&request.name, clue.state())?;
                if clue.disposal_date.is_some_and(|d| date < d) {
                    return Err(ApiError::invalid(
                        "outcome.date",
                        "DATE_BEFORE_DISPOSAL",
                        "the outcome cannot precede the disposal",
                    ));
                }
                clue.state = ClueState::Concluded.as_str_name().to_owned();
                clue.outcome_kind = kind.as_str_name().to_owned();
                clue.outcome_date = Some(date);
                clue.outcome_note = note;
                clue.outcome_by = caller.actor();
                save(txn, &ctx, clue, |c| ClueOutcomeRecorded { clue: Some(c) }).await
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
        validate_text("reason", &request.reason, true, domain::MAX_NOTE)?;
        let key = RequestKey::new(&caller, "ReopenClue", &request.request_id, &request)?;
        let ctx = context(&caller, &request.request_id);
        let clue = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let mut clue = visible(txn, &caller, &request.name).await?;
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
                let reason = request.reason.trim().to_owned();
                save(txn, &ctx, clue, |c| ClueReopened {
                    clue: Some(c),
                    reason,
                })
                .await
            })
        })
        .await?;
        Ok(Response::new(clue))
    }
}
