//! Joint supervisions (整改情况联合督查) and their findings: each one row
//! holding its proto (the campaign as created), and one row per finding,
//! keyed by (joint supervision, entry) so that an entry has one finding.

use fiveledger_platform::storage::exists_or_internal;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::{ErrorReason, JointFinding, JointSupervision};
use prost::Message;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// The `joint_supervisions` table.
pub mod campaigns {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "joint_supervisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The level the leading commission serves (who reads it).
        pub level_path: String,
        /// The `JointSupervision` as created, without findings.
        pub snapshot: Vec<u8>,
        pub create_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `joint_findings` table.
pub mod findings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "joint_findings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub supervision_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: String,
        /// The `JointFinding`.
        pub snapshot: Vec<u8>,
        pub create_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores a new joint supervision (its findings empty).
pub async fn insert(
    conn: &impl ConnectionTrait,
    id: &str,
    campaign: &JointSupervision,
    create_time_us: i64,
) -> ApiResult<()> {
    campaigns::Entity::insert(campaigns::ActiveModel {
        id: Set(id.to_owned()),
        level_path: Set(campaign.level_path.clone()),
        snapshot: Set(campaign.encode_to_vec()),
        create_time_us: Set(create_time_us),
    })
    .exec_without_returning(conn)
    .await
    .map_err(exists_or_internal(|| campaign.name.clone()))?;
    Ok(())
}

/// A joint supervision with its findings in the order posted.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: &str,
) -> ApiResult<Option<(String, JointSupervision)>> {
    let Some(row) = campaigns::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let mut campaign =
        JointSupervision::decode(row.snapshot.as_slice()).map_err(ApiError::internal)?;
    let rows = findings::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(
            &findings::Column::SupervisionId,
            id,
        ))
        .order_by_asc(findings::Column::CreateTimeUs)
        .order_by_asc(findings::Column::EntryId)
        .all(conn)
        .await?;
    campaign.findings = rows
        .iter()
        .map(|f| JointFinding::decode(f.snapshot.as_slice()).map_err(ApiError::internal))
        .collect::<ApiResult<_>>()?;
    Ok(Some((row.level_path, campaign)))
}

/// Records the finding on `entry_id`; a second one for the entry is
/// refused (also when two are posted at once).
pub async fn insert_finding(
    conn: &impl ConnectionTrait,
    supervision_id: &str,
    entry_id: &str,
    finding: &JointFinding,
    create_time_us: i64,
) -> ApiResult<()> {
    findings::Entity::insert(findings::ActiveModel {
        supervision_id: Set(supervision_id.to_owned()),
        entry_id: Set(entry_id.to_owned()),
        snapshot: Set(finding.encode_to_vec()),
        create_time_us: Set(create_time_us),
    })
    .exec_without_returning(conn)
    .await
    .map_err(|e| {
        if fiveledger_platform::storage::is_unique_violation(&e) {
            already_posted(&finding.entry)
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// FAILED_PRECONDITION `FINDING_ALREADY_POSTED` for `entry`.
pub fn already_posted(entry: &str) -> ApiError {
    ApiError::precondition(
        ErrorReason::FindingAlreadyPosted,
        format!("the joint supervision has posted its finding on {entry} already"),
    )
}
