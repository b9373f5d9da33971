//! DisposeClue as a collective decision (三级集体研判): each call is one
//! signature; the disposal takes effect with the signature that completes
//! the quorum (`domain::clue_decision`).

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::etag;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::clues::{acknowledged, check_holder, current, journal, save};
use super::{Api, context};
use crate::domain::clue as domain;
use crate::domain::clue_decision::{self as decision, Vote};
use crate::domain::clue_reconciliation::LineKind;
use crate::storage::clue_signatures as signatures;
use crate::storage::clue_transfers as transfers;
use crate::storage::clues as store;

pub(super) async fn dispose_clue(
    api: &Api,
    request: Request<DisposeClueRequest>,
) -> Result<Response<Clue>, Status> {
    let caller = Caller::of(&request)?;
    let request = request.into_inner();
    let key = RequestKey::new(&caller, "DisposeClue", &request.request_id, &request)?;
    replay_first!(&api.db, key);
    let disposal = request
        .disposal
        .clone()
        .ok_or_else(|| ApiError::required("disposal"))?;
    let method = domain::parse_method("disposal.method", disposal.method)?;
    let (date, note) = domain::parse_decision("disposal", disposal.date.as_ref(), &disposal.note)?;
    let quorum = api.settings.quorum();
    let level = decision::parse_level(&quorum, request.level)?;
    let ctx = context(&caller, &request.request_id);
    let now = api.clock.now();
    let settings = api.settings.clone();
    let clue = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let mut clue = store::find_visible(txn, &caller, &request.name).await?;
            let ctx = ctx.about(&clue.round_organisation_path);
            check_holder(&caller, &clue, false)?;
            etag::check(&request.name, &request.etag, clue.revision)?;
            domain::check_dispose(&request.name, clue.state())?;
            let earlier = signatures::of_decision(txn, &clue.id, clue.reopen_count).await?;
            let mut votes: Vec<Vote> = earlier.iter().map(signatures::Model::vote).collect();
            let vote = Vote {
                signer: caller.actor(),
                level,
                method,
            };
            decision::check_vote(&request.name, &votes, &vote)?;
            let signature = signatures::insert(
                txn,
                signatures::Model {
                    clue_id: clue.id.clone(),
                    decision: clue.reopen_count,
                    signer: vote.signer.clone(),
                    level: level.as_str_name().to_owned(),
                    method: method.as_str_name().to_owned(),
                    date,
                    note: note.clone(),
                    sign_time: now,
                },
            )
            .await?;
            votes.push(vote);
            let complete = decision::complete(&quorum, &votes);
            // The receiving body signing for a disposal has signed for the
            // clue.
            let mut all = transfers::of_clue(txn, &clue.id).await?;
            let open = current(&request.name, &mut all)?;
            let signs = open.acknowledge_date.is_none()
                && domain::is_receiving_body(&caller, &open.receiving_body_path);
            let signed_on = open.not_before_transfer(date);
            if signs {
                open.acknowledge_date = Some(signed_on);
                open.acknowledged_by = caller.actor();
                transfers::update(txn, open.clone()).await?;
            }
            // The decision is dated by its last signature's date.
            let decided = earlier.iter().map(|s| s.date).fold(date, Ord::max);
            if complete {
                clue.state = ClueState::Disposed.as_str_name().to_owned();
                clue.disposal_method = method.as_str_name().to_owned();
                clue.disposal_date = Some(decided);
                clue.disposal_note = note;
                clue.disposal_by = caller.actor();
            }
            let clue = save(txn, clue, &all, now, &settings).await?;
            let event = ClueDisposalSigned {
                clue: Some(clue.clone()),
                signature: Some(signature.to_proto()),
            };
            outbox::append(txn, &ctx, &clue.name, &event).await?;
            if complete {
                let line = (LineKind::Disposed, decided, method.as_str_name());
                journal(txn, &ctx, &clue, line, "", now).await?;
                let event = ClueDisposed {
                    clue: Some(clue.clone()),
                };
                outbox::append(txn, &ctx, &clue.name, &event).await?;
            }
            if signs {
                let line = (LineKind::Acknowledged, signed_on, "");
                journal(txn, &ctx, &clue, line, "", now).await?;
                acknowledged(txn, &ctx, &clue).await?;
            }
            Ok(clue)
        })
    })
    .await?;
    Ok(Response::new(clue))
}
