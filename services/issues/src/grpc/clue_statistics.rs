//! GetClueStatistics: clue figures of the clues the caller holds, counted
//! in one grouped query.

use fiveledger_platform::ApiError;
use fiveledger_platform::access_log::{Access, Reader, statistics_query};
use fiveledger_platform::aip::names;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::Period;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::{Api, CLUE_HOLDERS};
use crate::domain::problem::parse_inspection;
use crate::storage::clues as store;

pub(super) async fn get_clue_statistics(
    api: &Api,
    request: Request<GetClueStatisticsRequest>,
) -> Result<Response<GetClueStatisticsResponse>, Status> {
    let reader = Reader::of(&request)?;
    let caller = &reader.caller;
    if !caller.has_any(CLUE_HOLDERS) {
        return Err(ApiError::PermissionDenied(
            "clues are held only by the inspection office and the discipline commission".into(),
        )
        .into());
    }
    let r = request.into_inner();
    // The clues the caller sees (as in ListClues), narrowed by the
    // request's target subtree.
    let mut query = store::TallyQuery::default();
    if !r.organisation_path.is_empty() {
        query.target_subtree = Some(names::parse_path(
            "organisation_path",
            &r.organisation_path,
        )?);
    }
    if !r.round.is_empty() {
        names::parse("round", &r.round, "rounds")?;
        query.round = Some(r.round.clone());
    }
    if !r.inspection.is_empty() {
        parse_inspection("inspection", &r.inspection)?;
        query.inspection = Some(r.inspection.clone());
    }
    let period = Period::parse(r.period_start.as_ref(), r.period_end.as_ref())?;
    query.from = period.from_time();
    query.until = period.until_time();
    query.group_by = match ClueGrouping::try_from(r.group_by) {
        Ok(ClueGrouping::Unspecified) => store::TallyGrouping::None,
        Ok(ClueGrouping::TargetPath) => store::TallyGrouping::TargetPath,
        Ok(ClueGrouping::Round) => store::TallyGrouping::Round,
        Err(_) => {
            return Err(ApiError::invalid(
                "group_by",
                CommonReason::UnknownEnumValue,
                format!("unknown grouping {}", r.group_by),
            )
            .into());
        }
    };
    query.colour = Some((api.clock.today(), api.settings.warnings.rule()));
    let rows = store::tally(api.db.reader(), caller, &query).await?;
    api.access
        .record(
            &reader,
            Access::new(CLUE!("GetClueStatistics")).query(statistics_query(
                &r.organisation_path,
                &r.round,
                &r.inspection,
                (r.period_start.as_ref(), r.period_end.as_ref()),
                ClueGrouping::try_from(r.group_by)
                    .unwrap_or_default()
                    .as_str_name(),
            )),
        )
        .await;
    Ok(Response::new(GetClueStatisticsResponse {
        rows: rows
            .iter()
            .filter(|t| t.registered > 0)
            .map(store::Tally::to_proto)
            .collect(),
    }))
}
