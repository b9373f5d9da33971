//! GetProblemList and FreezeProblemList: the list of an inspection, its
//! state and its freezing.

use fiveledger_platform::ApiError;
use fiveledger_platform::access_log::{Access, Reader};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::replay_first;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::{Api, context};
use crate::domain::problem as domain;
use crate::domain::problem_list;
use crate::domain::scope;
use crate::freezing::{self, Trigger};
use crate::storage::problem_lists;

pub(super) async fn get_problem_list(
    api: &Api,
    request: Request<GetProblemListRequest>,
) -> Result<Response<ProblemList>, Status> {
    let reader = Reader::of(&request)?;
    let caller = &reader.caller;
    let name = &request.get_ref().name;
    let inspection = problem_list::inspection_of(name)?;
    let list = match problem_lists::find(api.db.reader(), inspection).await? {
        Some(list) if list.visible_to(caller, false) => list,
        Some(list) if list.visible_to(caller, api.is_member(caller, inspection).await?) => list,
        Some(_) => return Err(ApiError::not_found(name).into()),
        None => {
            // No problem recorded yet, so no feedback yet: an empty open
            // list to whoever may read the list before feedback, and to
            // anyone else exactly a list that does not exist (whether the
            // inspection does, or has problems yet, is not theirs).
            let found = match api.rounds.inspection(caller, inspection).await {
                Ok(found) => found,
                Err(ApiError::NotFound { .. }) => {
                    return Err(ApiError::not_found(name).into());
                }
                Err(other) => return Err(other.into()),
            };
            let before_feedback = scope::ListFacts {
                round_organisation_path: &found.round_organisation_path,
                handed_over: false,
            };
            let member = scope::is_member(caller, &found);
            if !scope::sees_problem(caller, &[&found.target_path], before_feedback, member) {
                return Err(ApiError::not_found(name).into());
            }
            return Ok(Response::new(ProblemList {
                name: name.clone(),
                inspection: inspection.to_owned(),
                state: ProblemListState::Open as i32,
                ..Default::default()
            }));
        }
    };
    let described = list.describe(api.db.reader()).await?;
    if !list.facts().handed_over {
        api.access
            .record(
                &reader,
                Access::new(PROBLEM!("GetProblemList")).resources([name.clone()]),
            )
            .await;
    }
    Ok(Response::new(described))
}

pub(super) async fn freeze_problem_list(
    api: &Api,
    request: Request<FreezeProblemListRequest>,
) -> Result<Response<ProblemList>, Status> {
    let caller = Caller::of(&request)?;
    let request = request.into_inner();
    let key = RequestKey::new(&caller, "FreezeProblemList", &request.request_id, &request)?;
    replay_first!(&api.db, key);
    domain::parse_inspection("inspection", &request.inspection)?;
    let inspection = api.rounds.inspection(&caller, &request.inspection).await?;
    scope::may_record(&caller, &inspection)?;
    if matches!(
        inspection.phase(),
        fiveledger_proto::rounds::InspectionPhase::Preparation
            | fiveledger_proto::rounds::InspectionPhase::Unspecified
    ) {
        return Err(ApiError::precondition(
            ErrorReason::InspectionNotStationed,
            format!(
                "{} is in phase {}; a list is frozen once the group has been stationed",
                inspection.name,
                inspection.phase().as_str_name()
            ),
        )
        .into());
    }
    let ctx = context(&caller, &request.request_id).about(&inspection.round_organisation_path);
    let now = api.clock.now();
    let list = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let (list, count) =
                freezing::freeze(txn, &inspection, &ctx, Trigger::Request, now).await?;
            Ok(list.to_proto(count))
        })
    })
    .await?;
    Ok(Response::new(list))
}
