//! The `inspection_groups` and `group_members` tables and their queries.

use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::{exists_or_internal, is_unique_violation};
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{Group, GroupRole};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::domain::avoidance::IN_OTHER_GROUP;
use crate::domain::inspection::{GROUPS, group_name_of};
use crate::domain::{inspector, round};

/// One group of a round.
pub mod group {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub round_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub revision: i64,
        pub create_time: chrono::DateTime<chrono::Utc>,
        pub update_time: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One person in one group; the key (round, inspector) allows one group
/// per person per round.
pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub round_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub inspector_id: String,
        pub group_id: String,
        /// `GroupRole` by its proto name.
        pub role: String,
        pub create_time: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub fn to_proto(g: &group::Model, members: &[member::Model]) -> Group {
    let mut out = Group {
        name: group_name_of(&g.round_id, &g.id),
        display_name: g.display_name.clone(),
        etag: etag(g.revision),
        create_time: Some(to_timestamp(g.create_time)),
        update_time: Some(to_timestamp(g.update_time)),
        ..Default::default()
    };
    for m in members.iter().filter(|m| m.group_id == g.id) {
        let name = inspector::name_of(&m.inspector_id);
        match GroupRole::from_str_name(&m.role).unwrap_or_default() {
            GroupRole::Leader => out.leader = name,
            GroupRole::Deputy => out.deputies.push(name),
            _ => out.members.push(name),
        }
    }
    out
}

/// The group as the API shows it, with its members (one query).
pub async fn with_members(conn: &impl ConnectionTrait, g: &group::Model) -> ApiResult<Group> {
    let members = members_of(conn, &g.round_id, std::slice::from_ref(&g.id)).await?;
    Ok(to_proto(g, &members))
}

/// Inserts a new, unstaffed group (ALREADY_EXISTS when its id is taken).
pub async fn insert(
    conn: &impl ConnectionTrait,
    round_id: &str,
    id: &str,
    display_name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<group::Model> {
    group::ActiveModel::from(group::Model {
        round_id: round_id.to_owned(),
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        revision: 1,
        create_time: now,
        update_time: now,
    })
    .reset_all()
    .insert(conn)
    .await
    .map_err(exists_or_internal(|| group_name_of(round_id, id)))
}

/// Adds people to a group in their roles, in one statement; one already
/// staffed in the round (a concurrent staffing that won the race) is
/// FAILED_PRECONDITION.
pub async fn add_members(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_id: &str,
    additions: &[(String, GroupRole)],
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    if additions.is_empty() {
        return Ok(());
    }
    let rows = additions.iter().map(|(id, role)| {
        member::ActiveModel::from(member::Model {
            round_id: round_id.to_owned(),
            inspector_id: id.clone(),
            group_id: group_id.to_owned(),
            role: role.as_str_name().to_owned(),
            create_time: now,
        })
        .reset_all()
    });
    member::Entity::insert_many(rows)
        .exec(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::precondition(
                    IN_OTHER_GROUP,
                    "a person may be in one group of a round only",
                )
            } else {
                e.into()
            }
        })?;
    Ok(())
}

/// Removes people from a group.
pub async fn remove_members(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_id: &str,
    inspector_ids: &[String],
) -> ApiResult<()> {
    member::Entity::delete_many()
        .filter(member::Column::RoundId.eq(round_id))
        .filter(member::Column::GroupId.eq(group_id))
        .filter(member::Column::InspectorId.is_in(inspector_ids.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn find(
    conn: &impl ConnectionTrait,
    round_id: &str,
    id: &str,
) -> ApiResult<Option<group::Model>> {
    Ok(
        group::Entity::find_by_id((round_id.to_owned(), id.to_owned()))
            .one(conn)
            .await?,
    )
}

/// A group of a round the caller may see, with its round; NOT_FOUND
/// otherwise.
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<(super::rounds::Model, group::Model)> {
    let (round_id, group_id) = names::parse_nested(field, name, round::COLLECTION, GROUPS)?;
    let round = super::rounds::visible(conn, caller, field, &round::name_of(round_id))
        .await
        .map_err(|_| ApiError::not_found(name))?;
    let group = find(conn, round_id, group_id)
        .await?
        .ok_or_else(|| ApiError::not_found(name))?;
    Ok((round, group))
}

/// Whether the person whose token subject is `subject` leads the group
/// (the leader's inspector record names that subject).
pub async fn led_by(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_id: &str,
    subject: &str,
) -> ApiResult<bool> {
    use super::inspectors;
    if subject.is_empty() {
        return Ok(false);
    }
    let leader = sea_orm::sea_query::Query::select()
        .column(member::Column::InspectorId)
        .from(member::Entity)
        .and_where(member::Column::RoundId.eq(round_id))
        .and_where(member::Column::GroupId.eq(group_id))
        .and_where(member::Column::Role.eq(GroupRole::Leader.as_str_name()))
        .to_owned();
    let found: Option<String> = inspectors::Entity::find()
        .select_only()
        .column(inspectors::Column::Id)
        .filter(inspectors::Column::Id.in_subquery(leader))
        .filter(inspectors::Column::Subject.eq(subject))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// The members of some groups of a round, in one query.
pub async fn members_of(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_ids: &[String],
) -> ApiResult<Vec<member::Model>> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(member::Entity::find()
        .filter(member::Column::RoundId.eq(round_id))
        .filter(member::Column::GroupId.is_in(group_ids.iter().cloned()))
        .order_by_asc(member::Column::InspectorId)
        .all(conn)
        .await?)
}

/// The token subjects of a group's members (those whose inspector record
/// names one), in one query.
pub async fn member_subjects(
    conn: &impl ConnectionTrait,
    round_id: &str,
    group_id: &str,
) -> ApiResult<Vec<String>> {
    use super::inspectors;
    let members = sea_orm::sea_query::Query::select()
        .column(member::Column::InspectorId)
        .from(member::Entity)
        .and_where(member::Column::RoundId.eq(round_id))
        .and_where(member::Column::GroupId.eq(group_id))
        .to_owned();
    Ok(inspectors::Entity::find()
        .select_only()
        .column(inspectors::Column::Subject)
        .filter(inspectors::Column::Id.in_subquery(members))
        .filter(inspectors::Column::Subject.ne(""))
        .order_by_asc(inspectors::Column::Subject)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Which of these people are already staffed somewhere in the round.
pub async fn staffed_in_round(
    conn: &impl ConnectionTrait,
    round_id: &str,
    inspector_ids: &[String],
) -> ApiResult<Vec<member::Model>> {
    if inspector_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(member::Entity::find()
        .filter(member::Column::RoundId.eq(round_id))
        .filter(member::Column::InspectorId.is_in(inspector_ids.iter().cloned()))
        .all(conn)
        .await?)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    round_id: &str,
    after: Option<String>,
    limit: u64,
) -> ApiResult<Vec<group::Model>> {
    let mut select = group::Entity::find().filter(group::Column::RoundId.eq(round_id));
    if let Some(after) = after {
        select = select.filter(group::Column::Id.gt(after));
    }
    Ok(select
        .order_by_asc(group::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Takes the group's row for this transaction and bumps its revision (its
/// staffing or assignments are about to change). Done before the members
/// are read, so concurrent staffing and assignments of one group queue here
/// and each sees the others' committed changes, instead of one of them
/// failing on a stale revision or slipping past the avoidance checks.
pub async fn lock(
    conn: &impl ConnectionTrait,
    round_id: &str,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<group::Model> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    group::Entity::update_many()
        .col_expr(
            group::Column::Revision,
            Expr::col(group::Column::Revision).add(1),
        )
        .col_expr(group::Column::UpdateTime, Expr::value(now))
        .filter(group::Column::RoundId.eq(round_id.to_owned()))
        .filter(group::Column::Id.eq(id.to_owned()))
        .exec(conn)
        .await?;
    find(conn, round_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(group_name_of(round_id, id)))
}
