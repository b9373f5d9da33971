//! GroupService: staffing inspection groups, with avoidance enforced.

use std::collections::HashSet;

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::Violation;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::storage::exists_or_internal;
use fiveledger_platform::storage::is_unique_violation;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::group_service_server::GroupService;
use fiveledger_proto::rounds::*;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use tonic::{Request, Response, Status};

use super::Api;
use super::scope::context;
use crate::domain::avoidance::{self, Person, Target};
use crate::domain::inspection::group_name_of;
use crate::domain::round as round_domain;
use crate::domain::{inspector, organisation, parse_enum};
use crate::storage::groups::{self as store, group, member};
use crate::storage::{inspections, inspectors, organisations, rounds};

/// Most people one request may add.
const MAX_STAFF: usize = 100;
pub const MAX_DISPLAY_NAME: usize = 200;

/// Refuses staffing changes to a closed round.
pub fn expect_open_round(round: &rounds::Model) -> ApiResult<()> {
    if round.state() == RoundState::Closed {
        return Err(ApiError::precondition_with(
            "WRONG_ROUND_STATE",
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
async fn staff(
    txn: &DatabaseTransaction,
    caller: &Caller,
    round: &rounds::Model,
    group_id: &str,
    additions: &[(String, GroupRole)],
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
    let staffed = store::staffed_in_round(txn, &round.id, &ids).await?;
    if !staffed.is_empty() {
        let violations = staffed
            .iter()
            .map(|m| Violation {
                kind: avoidance::IN_OTHER_GROUP.into(),
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
        let current = store::members_of(txn, &round.id, &[group_id.to_owned()]).await?;
        if let Some(leader) = current
            .iter()
            .find(|m| m.role == GroupRole::Leader.as_str_name())
        {
            return Err(ApiError::precondition(
                "LEADER_ALREADY_SET",
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
    let now = chrono::Utc::now();
    let rows: Vec<member::ActiveModel> = additions
        .iter()
        .map(|(id, role)| member::ActiveModel {
            round_id: Set(round.id.clone()),
            inspector_id: Set(id.clone()),
            group_id: Set(group_id.to_owned()),
            role: Set(role.as_str_name().to_owned()),
            create_time: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        member::Entity::insert_many(rows)
            .exec(txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    // A concurrent staffing won the race.
                    ApiError::precondition(
                        avoidance::IN_OTHER_GROUP,
                        "a person may be in one group of a round only",
                    )
                } else {
                    e.into()
                }
            })?;
    }
    Ok(ids.iter().map(|id| inspector::name_of(id)).collect())
}

/// The people a new group is staffed with: its leader, deputies and members,
/// bounded before any name is parsed or compared.
pub fn parse_staff(g: &Group) -> ApiResult<Vec<(String, GroupRole)>> {
    names::at_most(
        "group",
        usize::from(!g.leader.is_empty()) + g.deputies.len() + g.members.len(),
        MAX_STAFF,
    )?;
    let leader = (!g.leader.is_empty()).then(|| {
        (
            "group.leader".to_owned(),
            g.leader.clone(),
            GroupRole::Leader as i32,
        )
    });
    parse_additions(
        leader
            .into_iter()
            .chain(g.deputies.iter().enumerate().map(|(i, n)| {
                (
                    format!("group.deputies[{i}]"),
                    n.clone(),
                    GroupRole::Deputy as i32,
                )
            }))
            .chain(g.members.iter().enumerate().map(|(i, n)| {
                (
                    format!("group.members[{i}]"),
                    n.clone(),
                    GroupRole::Member as i32,
                )
            })),
    )
}

/// Parses people to add (already bounded by the caller), refusing
/// duplicates and bad names in one linear pass.
pub fn parse_additions(
    entries: impl Iterator<Item = (String, String, i32)>,
) -> ApiResult<Vec<(String, GroupRole)>> {
    let mut out: Vec<(String, GroupRole)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (field, name, role) in entries {
        let role: GroupRole = parse_enum(&format!("{field}.role"), role)?;
        let id = names::parse(&field, &name, inspector::COLLECTION)?;
        if !seen.insert(id.to_owned()) {
            return Err(ApiError::invalid(
                field,
                "DUPLICATE_MEMBER",
                format!("{name} is listed twice"),
            ));
        }
        out.push((id.to_owned(), role));
    }
    if out.iter().filter(|(_, r)| *r == GroupRole::Leader).count() > 1 {
        return Err(ApiError::invalid(
            "members",
            "ONE_LEADER",
            "a group has one leader",
        ));
    }
    if out.len() > MAX_STAFF {
        return Err(ApiError::invalid(
            "members",
            "TOO_MANY",
            format!("at most {MAX_STAFF} people per request"),
        ));
    }
    Ok(out)
}

async fn group_proto(txn: &impl sea_orm::ConnectionTrait, g: &group::Model) -> ApiResult<Group> {
    let members = store::members_of(txn, &g.round_id, std::slice::from_ref(&g.id)).await?;
    Ok(store::to_proto(g, &members))
}

#[tonic::async_trait]
impl GroupService for Api {
    async fn create_group(
        &self,
        request: Request<CreateGroupRequest>,
    ) -> Result<Response<Group>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateGroup", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let g = request
            .group
            .clone()
            .ok_or_else(|| ApiError::required("group"))?;
        names::validate_text(
            "group.display_name",
            &g.display_name,
            true,
            MAX_DISPLAY_NAME,
        )?;
        let id = if request.group_id.is_empty() {
            None
        } else {
            names::validate_id("group_id", &request.group_id)?;
            Some(request.group_id.clone())
        };
        let additions = parse_staff(&g)?;
        let ctx = context(&caller, &request.request_id);
        let created = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let round = rounds::visible(txn, &caller, "parent", &request.parent).await?;
                expect_open_round(&round)?;
                let id = id.unwrap_or_else(|| names::generate_id('g'));
                let now = chrono::Utc::now();
                let model = group::ActiveModel {
                    round_id: Set(round.id.clone()),
                    id: Set(id.clone()),
                    display_name: Set(g.display_name.trim().to_owned()),
                    revision: Set(1),
                    create_time: Set(now),
                    update_time: Set(now),
                }
                .insert(txn)
                .await
                .map_err(exists_or_internal(|| group_name_of(&round.id, &id)))?;
                staff(txn, &caller, &round, &id, &additions).await?;
                let group = group_proto(txn, &model).await?;
                outbox::append(
                    txn,
                    &ctx.about(&round.organisation_path),
                    &group.name,
                    &GroupCreated {
                        group: Some(group.clone()),
                    },
                )
                .await?;
                Ok(group)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn get_group(
        &self,
        request: Request<GetGroupRequest>,
    ) -> Result<Response<Group>, Status> {
        let caller = Caller::of(&request)?;
        let (_, g) =
            store::visible(self.db.reader(), &caller, "name", &request.get_ref().name).await?;
        Ok(Response::new(group_proto(self.db.reader(), &g).await?))
    }

    async fn list_groups(
        &self,
        request: Request<ListGroupsRequest>,
    ) -> Result<Response<ListGroupsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.parent, &caller.key()],
        )?;
        let round = rounds::visible(self.db.reader(), &caller, "parent", &request.parent).await?;
        let rows = store::list(
            self.db.reader(),
            &round.id,
            page.after_str(0)?.map(str::to_owned),
            page.limit(),
        )
        .await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
        let members = store::members_of(self.db.reader(), &round.id, &ids).await?;
        Ok(Response::new(ListGroupsResponse {
            groups: rows.iter().map(|g| store::to_proto(g, &members)).collect(),
            next_page_token,
        }))
    }

    async fn add_group_members(
        &self,
        request: Request<AddGroupMembersRequest>,
    ) -> Result<Response<Group>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "AddGroupMembers", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        if request.members.is_empty() {
            return Err(ApiError::required("members").into());
        }
        names::at_most("members", request.members.len(), MAX_STAFF)?;
        let additions = parse_additions(request.members.iter().enumerate().map(|(i, m)| {
            (
                format!("members[{i}].inspector"),
                m.inspector.clone(),
                m.role,
            )
        }))?;
        let ctx = context(&caller, &request.request_id);
        let updated = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let (round, g) = store::visible(txn, &caller, "group", &request.group).await?;
                expect_open_round(&round)?;
                let g = store::lock(txn, &round.id, &g.id).await?;
                let added = staff(txn, &caller, &round, &g.id, &additions).await?;
                let group = group_proto(txn, &g).await?;
                outbox::append(
                    txn,
                    &ctx.about(&round.organisation_path),
                    &group.name,
                    &GroupMembersChanged {
                        group: Some(group.clone()),
                        added,
                        removed: Vec::new(),
                    },
                )
                .await?;
                Ok(group)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }

    async fn remove_group_members(
        &self,
        request: Request<RemoveGroupMembersRequest>,
    ) -> Result<Response<Group>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "RemoveGroupMembers", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        if request.inspectors.is_empty() {
            return Err(ApiError::required("inspectors").into());
        }
        names::at_most("inspectors", request.inspectors.len(), MAX_STAFF)?;
        let ids = request
            .inspectors
            .iter()
            .enumerate()
            .map(|(i, n)| {
                names::parse(&format!("inspectors[{i}]"), n, inspector::COLLECTION)
                    .map(str::to_owned)
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let ctx = context(&caller, &request.request_id);
        let updated = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let (round, g) = store::visible(txn, &caller, "group", &request.group).await?;
                expect_open_round(&round)?;
                let g = store::lock(txn, &round.id, &g.id).await?;
                let current =
                    store::members_of(txn, &round.id, std::slice::from_ref(&g.id)).await?;
                for id in &ids {
                    if !current.iter().any(|m| &m.inspector_id == id) {
                        return Err(ApiError::precondition(
                            "NOT_A_MEMBER",
                            format!("{} is not in {}", inspector::name_of(id), request.group),
                        ));
                    }
                }
                member::Entity::delete_many()
                    .filter(member::Column::RoundId.eq(round.id.clone()))
                    .filter(member::Column::GroupId.eq(g.id.clone()))
                    .filter(member::Column::InspectorId.is_in(ids.clone()))
                    .exec(txn)
                    .await?;
                let group = group_proto(txn, &g).await?;
                outbox::append(
                    txn,
                    &ctx.about(&round.organisation_path),
                    &group.name,
                    &GroupMembersChanged {
                        group: Some(group.clone()),
                        added: Vec::new(),
                        removed: request.inspectors.clone(),
                    },
                )
                .await?;
                Ok(group)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }
}
