//! The `clue_transfers` table: every hand-over of a clue, numbered from 1
//! per clue (registration is 1). The clue's `receiving_body` mirrors the
//! last one, so scope and filters stay on the `clues` row.

use std::collections::HashMap;

use fiveledger_platform::ApiResult;
use fiveledger_platform::time::to_date;
use fiveledger_proto::issues::ClueTransfer;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clue_transfers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clue_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    pub receiving_body: String,
    pub receiving_body_path: String,
    pub transfer_date: chrono::NaiveDate,
    pub due_date: chrono::NaiveDate,
    pub acknowledge_date: Option<chrono::NaiveDate>,
    pub acknowledged_by: String,
    pub result_date: Option<chrono::NaiveDate>,
    pub transferred_by: String,
    pub create_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// `current`: whether this is the clue's last transfer (only that one
    /// can be overdue).
    pub fn to_proto(&self, current: bool, today: chrono::NaiveDate) -> ClueTransfer {
        ClueTransfer {
            receiving_body: self.receiving_body.clone(),
            receiving_body_path: self.receiving_body_path.clone(),
            transfer_date: Some(to_date(self.transfer_date)),
            due_date: Some(to_date(self.due_date)),
            acknowledge_date: self.acknowledge_date.map(to_date),
            acknowledged_by: self.acknowledged_by.clone(),
            result_date: self.result_date.map(to_date),
            transferred_by: self.transferred_by.clone(),
            overdue: current && self.result_date.is_none() && today > self.due_date,
        }
    }

    /// A day of this transfer's life, never before it began (records
    /// entered after the fact may carry earlier dates).
    pub fn not_before_transfer(&self, day: chrono::NaiveDate) -> chrono::NaiveDate {
        day.max(self.transfer_date)
    }
}

/// The transfers of one clue, oldest first.
pub async fn of_clue(conn: &impl ConnectionTrait, clue_id: &str) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::ClueId.eq(clue_id.to_owned()))
        .order_by_asc(Column::Seq)
        .all(conn)
        .await?)
}

/// The transfers of several clues in one query, by clue id, oldest first.
pub async fn of_clues(
    conn: &impl ConnectionTrait,
    clue_ids: impl IntoIterator<Item = String>,
) -> ApiResult<HashMap<String, Vec<Model>>> {
    let ids: Vec<String> = clue_ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = Entity::find()
        .filter(Column::ClueId.is_in(ids))
        .order_by_asc(Column::ClueId)
        .order_by_asc(Column::Seq)
        .all(conn)
        .await?;
    Ok(super::by_clue(rows, |r| r.clue_id.as_str()))
}

pub async fn insert(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let active: ActiveModel = model.into();
    Ok(active.insert(conn).await?)
}

/// Writes the changed dates of a transfer (the clue's revision check,
/// made in the same transaction, guards against lost updates).
pub async fn update(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let active = ActiveModel {
        clue_id: Set(model.clue_id.clone()),
        seq: Set(model.seq),
        acknowledge_date: Set(model.acknowledge_date),
        acknowledged_by: Set(model.acknowledged_by.clone()),
        result_date: Set(model.result_date),
        ..Default::default()
    };
    active.update(conn).await?;
    Ok(model)
}
