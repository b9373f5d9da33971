//! ImportProblems: a whole list streamed in, checked row by row, written
//! in one transaction or not at all.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::replay_first;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::*;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::problems::frozen_fast;
use super::{Api, context};
use crate::domain::problem as domain;
use crate::domain::problem_list::{Change, check_editable};
use crate::domain::scope;
use crate::storage::problem_lists;
use crate::storage::problems as store;

pub(super) async fn import_problems(
    api: &Api,
    request: Request<Streaming<ImportProblemsRequest>>,
) -> Result<Response<ImportProblemsResponse>, Status> {
    let caller = Caller::of(&request)?;
    let mut stream = request.into_inner();
    let max_rows = api.settings.max_import_rows;
    // The whole import, as one message: its idempotency hash covers every
    // row. Only the bounded read comes before the replay; validation after.
    let mut all = ImportProblemsRequest::default();
    let mut first = true;
    while let Some(message) = stream.next().await {
        let message = message?;
        if first {
            all.inspection = message.inspection.clone();
            all.request_id = message.request_id.clone();
            first = false;
        } else if !message.inspection.is_empty() && message.inspection != all.inspection {
            return Err(ApiError::invalid(
                "inspection",
                ErrorReason::InspectionChanged,
                "every message of one import must name the same inspection",
            )
            .into());
        }
        all.problems.extend(message.problems);
        if all.problems.len() > max_rows {
            return Err(ApiError::invalid(
                "problems",
                ErrorReason::TooManyRows,
                format!("one import takes at most {max_rows} rows"),
            )
            .into());
        }
    }
    let key = RequestKey::new(&caller, "ImportProblems", &all.request_id, &all)?;
    replay_first!(&api.db, key);
    if first {
        return Err(ApiError::required("inspection").into());
    }
    domain::parse_inspection("inspection", &all.inspection)?;
    if all.problems.is_empty() {
        return Err(ApiError::required("problems").into());
    }

    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let mut row_numbers = Vec::new();
    let row_error = |row: usize, err: ApiError| match err {
        ApiError::InvalidArgument {
            field,
            reason,
            description,
        } => ImportRowError {
            row: row as i32,
            field,
            reason: reason.to_owned(),
            description,
        },
        other => ImportRowError {
            row: row as i32,
            field: String::new(),
            reason: other.reason().to_owned(),
            description: other.to_string(),
        },
    };
    for (i, problem) in all.problems.iter().enumerate() {
        let row = i + 1;
        if !problem.inspection.is_empty() && problem.inspection != all.inspection {
            errors.push(row_error(
                row,
                ApiError::invalid(
                    "inspection",
                    ErrorReason::InspectionMismatch,
                    format!(
                        "the row names {}, the import {}",
                        problem.inspection, all.inspection
                    ),
                ),
            ));
            continue;
        }
        match domain::parse_new("", problem) {
            Ok(p) => {
                parsed.push(p);
                row_numbers.push(row);
            }
            Err(e) => errors.push(row_error(row, e)),
        }
    }
    let inspection = api.rounds.inspection(&caller, &all.inspection).await?;
    scope::may_record(&caller, &inspection)?;
    frozen_fast(
        problem_lists::find(api.db.reader(), &all.inspection)
            .await?
            .as_ref(),
    )?;
    let resolved = api.resolve(&inspection, &parsed).await?;
    let now = api.clock.now();
    let actor = caller.actor();
    let mut rows = Vec::with_capacity(parsed.len());
    for ((content, responsibilities), row) in parsed.into_iter().zip(row_numbers) {
        match resolved.row(
            "",
            names::generate_id('p'),
            &inspection,
            content,
            responsibilities,
            &actor,
            now,
        ) {
            Ok(model) => rows.push(model),
            Err(e) => errors.push(row_error(row, e)),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Ok(Response::new(ImportProblemsResponse {
            problems: Vec::new(),
            errors,
        }));
    }
    let ctx = context(&caller, &all.request_id).about(&inspection.round_organisation_path);
    let response = mutate(&api.db, key, move |txn| {
        Box::pin(async move {
            let list = problem_lists::lock(txn, &inspection, now).await?;
            check_editable(
                &inspection.name,
                list.state(),
                inspection.phase(),
                Change::Content,
            )?;
            store::insert_all(txn, &rows).await?;
            let problems: Vec<Problem> = rows.iter().map(store::Model::to_proto).collect();
            crate::problem_events::append_imported(txn, &ctx, &inspection.name, &problems).await?;
            Ok(ImportProblemsResponse {
                problems,
                errors: Vec::new(),
            })
        })
    })
    .await?;
    Ok(Response::new(response))
}
