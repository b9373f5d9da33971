//! Staffing checks shared by groups and inspections: a closed round is
//! not restaffed, a person is in one group of a round, a group has one
//! leader, and nobody staffs a group whose targets they must avoid (the
//! rules in `domain::avoidance`, the reads here).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::Violation;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::{GroupRole, RoundState};
use sea_orm::DatabaseTransaction;

use crate::domain::avoidance::{self, Person, Target};
use crate::domain::inspection::{GROUPS, group_name_of};
use crate::domain::round as round_domain;
use crate::domain::{inspector, organisation};
use crate::storage::{groups, inspections, inspectors, organisations, rounds};

/// Refuses staffing changes to a closed round.
pub fn expect_open_round(round: &rounds::Model) -> ApiResult<()> {
    if round.state() == RoundState::Closed {
        return Err(ApiError::precondition_with(
            ErrorReason::WrongRoundState,
            format!(
                "{} is in ROUND_STATE_CLOSED",
                round_domain::name_of(&round.id)
            ),
            vec![Violation {
                kind: "ROUND_STATE".into(),
                subject: round_domain::name_of(&round.id),
                description: "ROUND_STATE_CLOSED".into(),
            }],
        ));
    }
    Ok(())
}

/// Checks avoidance of `people` against `targets` (organisation id, path)
/// in a round: at most one query (the counties on the paths).
pub async fn check_avoidance(
    txn: &DatabaseTransaction,
    round: &rounds::Model,
    people: &[inspectors::Model],
    targets: &[(String, String)],
) -> ApiResult<()> {
    if people.is_empty() || targets.is_empty() {
        return Ok(());
    }
    let regional = round_domain::regional_avoidance(round.kind(), round.cross_county);
    let counties = if regional {
        let mut paths: Vec<&str> = people
            .iter()
            .flat_map(|p| [p.home_path.as_str(), p.native_place_path.as_str()])
            .filter(|path| !path.is_empty())
            .collect();
        paths.extend(targets.iter().map(|(_, path)| path.as_str()));
        organisations::counties_on(txn, &paths).await?
    } else {
        HashSet::new()
    };
    let posts = people
        .iter()
        .map(inspectors::Model::posts)
        .collect::<ApiResult<Vec<_>>>()?;
    let relations = people
        .iter()
        .map(inspectors::Model::relations)
        .collect::<ApiResult<Vec<_>>>()?;
    let persons: Vec<Person<'_>> = people
        .iter()
        .enumerate()
        .map(|(i, p)| Person {
            name: inspector::name_of(&p.id),
            home_path: &p.home_path,
            native_place_path: &p.native_place_path,
            posts: &posts[i],
            relations: &relations[i],
        })
        .collect();
    let targets: Vec<Target<'_>> = targets
        .iter()
        .map(|(id, path)| Target {
            name: organisation::name_of(id),
            path,
        })
        .collect();
    let violations = avoidance::violations(&persons, &targets, regional, &counties);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(avoidance::refuse(violations))
    }
}

/// Adds people to a group: visible inspectors, not yet staffed in the
/// round, one leader at most, none avoiding the group's targets. Returns
/// the names added.
pub async fn staff(
    txn: &DatabaseTransaction,
    caller: &Caller,
    round: &rounds::Model,
    group_id: &str,
    additions: &[(String, GroupRole)],
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let ids: Vec<String> = additions.iter().map(|(id, _)| id.clone()).collect();
    let people = inspectors::find_many(txn, &ids).await?;
    for id in &ids {
        if !people
            .iter()
            .any(|p| &p.id == id && caller.can_see(&p.home_path))
        {
            return Err(ApiError::not_found(inspector::name_of(id)));
        }
    }
    let staffed = groups::staffed_in_round(txn, &round.id, &ids).await?;
    if !staffed.is_empty() {
        let violations = staffed
            .iter()
            .map(|m| Violation {
                kind: avoidance::IN_OTHER_GROUP.as_str_name().into(),
                subject: inspector::name_of(&m.inspector_id),
                description: format!(
                    "{} is already in {}",
                    inspector::name_of(&m.inspector_id),
                    group_name_of(&m.round_id, &m.group_id)
                ),
            })
            .collect();
        return Err(ApiError::precondition_with(
            avoidance::IN_OTHER_GROUP,
            "a person may be in one group of a round only",
            violations,
        ));
    }
    let adds_leader = additions.iter().any(|(_, r)| *r == GroupRole::Leader);
    if adds_leader {
        let current = groups::members_of(txn, &round.id, &[group_id.to_owned()]).await?;
        if let Some(leader) = current
            .iter()
            .find(|m| m.role == GroupRole::Leader.as_str_name())
        {
            return Err(ApiError::precondition(
                ErrorReason::LeaderAlreadySet,
                format!(
                    "{} already has a leader ({}); remove them first",
                    group_name_of(&round.id, group_id),
                    inspector::name_of(&leader.inspector_id)
                ),
            ));
        }
    }
    let targets: Vec<(String, String)> = inspections::of_group(txn, &round.id, group_id)
        .await?
        .into_iter()
        .map(|i| (i.target_id, i.target_path))
        .collect();
    check_avoidance(txn, round, &people, &targets).await?;
    groups::add_members(txn, &round.id, group_id, additions, now).await?;
    Ok(ids.iter().map(|id| inspector::name_of(id)).collect())
}

/// The group of `round` named `group`, with its members checked against
/// `target` for avoidance.
pub async fn assignable_group(
    txn: &DatabaseTransaction,
    caller: &Caller,
    round: &rounds::Model,
    field: &str,
    group: &str,
    target: (&str, &str),
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let (round_id, _) = names::parse_nested(field, group, "rounds", GROUPS)?;
    if round_id != round.id {
        return Err(ApiError::invalid(
            field,
            ErrorReason::GroupOfAnotherRound,
            format!(
                "{group} is not a group of {}",
                round_domain::name_of(&round.id)
            ),
        ));
    }
    let (_, g) = groups::visible(txn, caller, field, group).await?;
    let g = groups::lock(txn, &round.id, &g.id, now).await?;
    let members = groups::members_of(txn, &round.id, std::slice::from_ref(&g.id)).await?;
    let ids: Vec<String> = members.iter().map(|m| m.inspector_id.clone()).collect();
    let people = inspectors::find_many(txn, &ids).await?;
    check_avoidance(
        txn,
        round,
        &people,
        &[(target.0.to_owned(), target.1.to_owned())],
    )
    .await?;
    Ok(g.id)
}
