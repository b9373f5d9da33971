//! Lookups shared by the handlers: a resource the caller may see, or
//! NOT_FOUND (never saying which), and the event context of a call.

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::{Caller, in_subtree};
use fiveledger_platform::outbox::EventContext;
use fiveledger_platform::{ApiError, ApiResult};
use sea_orm::ConnectionTrait;

use crate::domain::{inspection, round};
use crate::storage::{groups, inspections, rounds};

pub fn context(caller: &Caller, request_id: &str) -> EventContext {
    EventContext {
        actor: caller.actor(),
        request_id: request_id.to_owned(),
        traceparent: String::new(),
        ..Default::default()
    }
}

/// A round whose running organisation is within the caller's subtree.
pub async fn round(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<rounds::Model> {
    let id = names::parse(field, name, round::COLLECTION)?;
    match rounds::find(conn, id).await? {
        Some(r) if caller.can_see(&r.organisation_path) => Ok(r),
        _ => Err(ApiError::not_found(name)),
    }
}

/// A group of a round the caller may see.
pub async fn group(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<(rounds::Model, groups::group::Model)> {
    let (round_id, group_id) =
        names::parse_nested(field, name, round::COLLECTION, inspection::GROUPS)?;
    let round = round(conn, caller, field, &round::name_of(round_id))
        .await
        .map_err(|_| ApiError::not_found(name))?;
    let group = groups::find(conn, round_id, group_id)
        .await?
        .ok_or_else(|| ApiError::not_found(name))?;
    Ok((round, group))
}

/// Whether the caller may see (read) an inspection: its target or the
/// organisation running its round lies in the caller's subtree.
pub fn sees_inspection(caller: &Caller, row: &inspections::Model) -> bool {
    caller.can_see(&row.target_path) || caller.can_see(&row.round_organisation_path)
}

/// Whether the caller's subtree holds the organisation running the
/// inspection's round: only then may an office change it. Seeing the
/// target alone (a county office in a city's round) is for reading.
pub fn runs_round(caller: &Caller, row: &inspections::Model) -> bool {
    caller.can_see(&row.round_organisation_path)
}

/// Refusal of a change to an inspection the caller may only read.
pub fn round_out_of_scope(row: &inspections::Model) -> ApiError {
    ApiError::denied(
        "ROUND_OUT_OF_SCOPE",
        format!(
            "{} belongs to {}, run by {}: only that organisation's inspection office (or one above it) may change it",
            row.name(),
            round::name_of(&row.round_id),
            row.round_organisation_path
        ),
    )
}

/// Whether a list under a round could hold anything for the caller: the
/// round exists and its running organisation's subtree overlaps the
/// caller's (it runs within the caller's subtree, or its targets may lie
/// in the caller's subtree). Otherwise the list is NOT_FOUND, not empty.
pub async fn round_listable(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    round_id: &str,
) -> ApiResult<()> {
    match rounds::find(conn, round_id).await? {
        Some(r)
            if caller.can_see(&r.organisation_path)
                || in_subtree(&caller.scope_path, &r.organisation_path) =>
        {
            Ok(())
        }
        _ => Err(ApiError::not_found(round::name_of(round_id))),
    }
}

pub async fn inspection(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<inspections::Model> {
    let (round_id, id) =
        names::parse_nested(field, name, round::COLLECTION, inspection::COLLECTION)?;
    match inspections::find(conn, round_id, id).await? {
        Some(row) if sees_inspection(caller, &row) => Ok(row),
        _ => Err(ApiError::not_found(name)),
    }
}
