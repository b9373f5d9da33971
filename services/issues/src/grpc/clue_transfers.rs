//! TransferClue and AcknowledgeClueTransfer: a clue handed to another
//! receiving body, and that body signing for it (the chain of custody).

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::clues::{acknowledged, check_holder, current, journal, reachable, save};
use super::{Api, context};
use crate::domain::clue::{self as domain, COLLECTION};
use crate::domain::clue_reconciliation::LineKind;
use crate::domain::problem::ORGANISATIONS;
use crate::domain::scope::Reach;
use crate::storage::clue_transfers as transfers;
use crate::storage::clues as store;

pub(super) async fn transfer_clue(
    api: &Api,
    request: Request<TransferClueRequest>,
) -> Result<Response<Clue>, Status> {
    let caller = Caller::of(&request)?;
    let request = request.into_inner();
    let key = RequestKey::new(&caller, "TransferClue", &request.request_id, &request)?;
    replay_first!(&api.db, key);
    names::parse("name", &request.name, COLLECTION)?;
    if request.receiving_body.is_empty() {
        return Err(ApiError::required("receiving_body").into());
    }
    names::parse("receiving_body", &request.receiving_body, ORGANISATIONS)?;
    // Not found and not shown alike, before troubling the directory.
    let held = store::find_visible(api.db.reader(), &caller, &request.name).await?;
    check_holder(&caller, &held, true)?;
    let (found, _unknown) = api
        .rounds
        .organisations_by_name([request.receiving_body.clone()])
        .await?;
    let body = reachable(
        &found,
        "receiving_body",
        &request.receiving_body,
        Reach::Bodies {
            running: &held.round_organisation_path,
            target: &held.target_path,
            managing_level: &held.subject_managed_by_path,
        },
    )?;
    let ctx = context(&caller, &request.request_id).about(&held.round_organisation_path);
    let now = api.clock.now();
    let today = now.date_naive();
    let due = domain::due_date(today, api.settings.clue_transfer_due_days)?;
    let settings = api.settings.clone();
    let clue = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let mut clue = store::find_visible(txn, &caller, &request.name).await?;
            check_holder(&caller, &clue, true)?;
            etag::check(&request.name, &request.etag, clue.revision)?;
            domain::check_transfer(&request.name, clue.state())?;
            if clue.receiving_body == body.name {
                return Err(ApiError::invalid(
                    "receiving_body",
                    ErrorReason::SameReceivingBody,
                    format!("{} already holds {}", body.name, request.name),
                ));
            }
            let mut all = transfers::of_clue(txn, &clue.id).await?;
            let seq = i32::try_from(all.len() + 1).map_err(ApiError::internal)?;
            all.push(
                transfers::insert(
                    txn,
                    transfers::Model {
                        clue_id: clue.id.clone(),
                        seq,
                        receiving_body: body.name.clone(),
                        receiving_body_path: body.path.clone(),
                        transfer_date: today,
                        due_date: due,
                        acknowledge_date: None,
                        acknowledged_by: String::new(),
                        result_date: None,
                        transferred_by: caller.actor(),
                        create_time: now,
                    },
                )
                .await?,
            );
            let from = std::mem::replace(&mut clue.receiving_body, body.name);
            clue.receiving_body_path = body.path;
            let clue = save(txn, clue, &all, now, &settings).await?;
            journal(
                txn,
                &ctx,
                &clue,
                (LineKind::Transferred, today, ""),
                &from,
                now,
            )
            .await?;
            let event = ClueTransferred {
                clue: Some(clue.clone()),
                transfer: clue.transfers.last().cloned(),
            };
            outbox::append(txn, &ctx, &clue.name, &event).await?;
            Ok(clue)
        })
    })
    .await?;
    Ok(Response::new(clue))
}

pub(super) async fn acknowledge_clue_transfer(
    api: &Api,
    request: Request<AcknowledgeClueTransferRequest>,
) -> Result<Response<Clue>, Status> {
    let caller = Caller::of(&request)?;
    let request = request.into_inner();
    let key = RequestKey::new(
        &caller,
        "AcknowledgeClueTransfer",
        &request.request_id,
        &request,
    )?;
    replay_first!(&api.db, key);
    let ctx = context(&caller, &request.request_id);
    let now = api.clock.now();
    let today = now.date_naive();
    let settings = api.settings.clone();
    let clue = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let clue = store::find_visible(txn, &caller, &request.name).await?;
            let ctx = ctx.about(&clue.round_organisation_path);
            etag::check(&request.name, &request.etag, clue.revision)?;
            let mut all = transfers::of_clue(txn, &clue.id).await?;
            let open = current(&request.name, &mut all)?;
            if !domain::is_receiving_body(&caller, &open.receiving_body_path) {
                return Err(ApiError::PermissionDenied(format!(
                    "only {} signs for {}",
                    open.receiving_body, request.name
                )));
            }
            if open.acknowledge_date.is_some() {
                return Err(ApiError::precondition(
                    CommonReason::TransferAlreadyAcknowledged,
                    format!(
                        "the transfer of {} to {} was acknowledged by {}",
                        request.name, open.receiving_body, open.acknowledged_by
                    ),
                ));
            }
            open.acknowledge_date = Some(open.not_before_transfer(today));
            open.acknowledged_by = caller.actor();
            let day = open.not_before_transfer(today);
            transfers::update(txn, open.clone()).await?;
            let clue = save(txn, clue, &all, now, &settings).await?;
            let line = (LineKind::Acknowledged, day, "");
            journal(txn, &ctx, &clue, line, "", now).await?;
            acknowledged(txn, &ctx, &clue).await?;
            Ok(clue)
        })
    })
    .await?;
    Ok(Response::new(clue))
}
