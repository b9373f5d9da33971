//! GroupService: staffing inspection groups, with avoidance enforced.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::group_service_server::GroupService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::scope::context;
use crate::domain::{inspector, parse_enum};
use crate::staffing::{expect_open_round, staff};
use crate::storage::groups as store;
use crate::storage::rounds;

/// Most people one request may add.
const MAX_STAFF: usize = 100;
pub const MAX_DISPLAY_NAME: usize = 200;

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
                ErrorReason::DuplicateMember,
                format!("{name} is listed twice"),
            ));
        }
        out.push((id.to_owned(), role));
    }
    if out.iter().filter(|(_, r)| *r == GroupRole::Leader).count() > 1 {
        return Err(ApiError::invalid(
            "members",
            ErrorReason::OneLeader,
            "a group has one leader",
        ));
    }
    if out.len() > MAX_STAFF {
        return Err(ApiError::invalid(
            "members",
            CommonReason::TooMany,
            format!("at most {MAX_STAFF} people per request"),
        ));
    }
    Ok(out)
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
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let round = rounds::visible(txn, &caller, "parent", &request.parent).await?;
                expect_open_round(&round)?;
                let id = id.unwrap_or_else(|| names::generate_id('g'));
                let model = store::insert(txn, &round.id, &id, g.display_name.trim(), now).await?;
                staff(txn, &caller, &round, &id, &additions, now).await?;
                let group = store::with_members(txn, &model).await?;
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
        Ok(Response::new(
            store::with_members(self.db.reader(), &g).await?,
        ))
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
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let (round, g) = store::visible(txn, &caller, "group", &request.group).await?;
                expect_open_round(&round)?;
                let g = store::lock(txn, &round.id, &g.id, now).await?;
                let added = staff(txn, &caller, &round, &g.id, &additions, now).await?;
                let group = store::with_members(txn, &g).await?;
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
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let (round, g) = store::visible(txn, &caller, "group", &request.group).await?;
                expect_open_round(&round)?;
                let g = store::lock(txn, &round.id, &g.id, now).await?;
                let current =
                    store::members_of(txn, &round.id, std::slice::from_ref(&g.id)).await?;
                for id in &ids {
                    if !current.iter().any(|m| &m.inspector_id == id) {
                        return Err(ApiError::precondition(
                            ErrorReason::NotAMember,
                            format!("{} is not in {}", inspector::name_of(id), request.group),
                        ));
                    }
                }
                store::remove_members(txn, &round.id, &g.id, &ids).await?;
                let group = store::with_members(txn, &g).await?;
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
