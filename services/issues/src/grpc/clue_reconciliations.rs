//! Monthly clue reconciliations (对账销号): made once from the clue
//! journal, read, and verified by counting the journal again.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::{Api, CLUE_HOLDERS};
use crate::domain::clue_reconciliation::{self as domain, COLLECTION, Month};
use crate::domain::problem::ORGANISATIONS;
use crate::storage::clue_journal;
use crate::storage::clue_reconciliations as store;

/// The stored reconciliation `name` names, if the caller may see it (it
/// sees the handling body); otherwise exactly as if there were none.
async fn find_visible(api: &Api, caller: &Caller, name: &str) -> ApiResult<store::Model> {
    let id = names::parse("name", name, COLLECTION)?;
    let found = store::find(api.db.reader(), id).await?;
    match found {
        Some(r) if caller.has_any(CLUE_HOLDERS) && caller.can_see(&r.handling_body_path) => Ok(r),
        _ => Err(ApiError::not_found(name)),
    }
}

pub(super) async fn create(
    api: &Api,
    request: Request<CreateClueReconciliationRequest>,
) -> Result<Response<ClueReconciliation>, Status> {
    let caller = Caller::of(&request)?;
    let request = request.into_inner();
    let key = RequestKey::new(
        &caller,
        "CreateClueReconciliation",
        &request.request_id,
        &request,
    )?;
    replay_first!(&api.db, key);
    let body_id = names::parse("handling_body", &request.handling_body, ORGANISATIONS)?;
    let month = Month::parse("month", request.month.as_ref())?;
    let id = domain::id_of(body_id, &month);
    let now = api.clock.now();
    if month.last >= now.date_naive() {
        return Err(ApiError::precondition(
            ErrorReason::MonthNotOver,
            format!(
                "{} is not over; its reconciliation is made from {}",
                month.key(),
                month.last.succ_opt().unwrap_or(month.last)
            ),
        )
        .into());
    }
    // The body, if the caller's subtree holds it; else as unknown.
    let (found, _unknown) = api
        .rounds
        .organisations_by_name([request.handling_body.clone()])
        .await?;
    let body = found
        .get(&request.handling_body)
        .filter(|o| caller.can_see(&o.path))
        .cloned()
        .ok_or_else(|| ApiError::not_found(request.handling_body.clone()))?;
    let made_by = caller.actor();
    let made = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let position = clue_journal::head(txn).await?;
            let lines = clue_journal::lines_of_body(txn, &body.name, position).await?;
            let figures = domain::figures(&body.name, &month, &lines);
            let model = store::insert(
                txn,
                store::Model {
                    id,
                    handling_body: body.name.clone(),
                    handling_body_path: body.path.clone(),
                    month: month.key(),
                    journal_position: position,
                    figures: prost::Message::encode_to_vec(&figures),
                    made_by,
                    create_time: now,
                },
            )
            .await?;
            model.to_proto()
        })
    })
    .await?;
    Ok(Response::new(made))
}

pub(super) async fn get(
    api: &Api,
    request: Request<GetClueReconciliationRequest>,
) -> Result<Response<ClueReconciliation>, Status> {
    let caller = Caller::of(&request)?;
    let found = find_visible(api, &caller, &request.get_ref().name).await?;
    Ok(Response::new(found.to_proto()?))
}

pub(super) async fn verify(
    api: &Api,
    request: Request<VerifyClueReconciliationRequest>,
) -> Result<Response<VerifyClueReconciliationResponse>, Status> {
    let caller = Caller::of(&request)?;
    let found = find_visible(api, &caller, &request.get_ref().name).await?;
    let month = Month::from_key(&found.month)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad month {}", found.month)))?;
    let lines = clue_journal::lines_of_body(
        api.db.reader(),
        &found.handling_body,
        found.journal_position,
    )
    .await?;
    let recomputed = domain::figures(&found.handling_body, &month, &lines);
    let stored = found.figures()?;
    Ok(Response::new(VerifyClueReconciliationResponse {
        reconciliation: Some(found.to_proto()?),
        matches: recomputed == stored,
        recomputed: Some(recomputed),
    }))
}
