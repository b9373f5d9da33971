//! The `clue_disposal_signatures` table: every signature of a collective
//! disposal decision (集体研判), kept for good. `decision` is the clue's
//! reopen count when signed: one decision per registration or reopening.

use std::collections::HashMap;

use fiveledger_platform::ApiResult;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_proto::issues::{ClueDecisionLevel, ClueDisposalSignature, DisposalMethod};
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use crate::domain::clue_decision::Vote;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clue_disposal_signatures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clue_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub decision: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub signer: String,
    /// `ClueDecisionLevel` by its proto name.
    pub level: String,
    /// `DisposalMethod` by its proto name.
    pub method: String,
    pub date: chrono::NaiveDate,
    pub note: String,
    pub sign_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn level(&self) -> ClueDecisionLevel {
        ClueDecisionLevel::from_str_name(&self.level).unwrap_or_default()
    }

    pub fn method(&self) -> DisposalMethod {
        DisposalMethod::from_str_name(&self.method).unwrap_or_default()
    }

    pub fn vote(&self) -> Vote {
        Vote {
            signer: self.signer.clone(),
            level: self.level(),
            method: self.method(),
        }
    }

    pub fn to_proto(&self) -> ClueDisposalSignature {
        ClueDisposalSignature {
            signer: self.signer.clone(),
            level: self.level() as i32,
            method: self.method() as i32,
            date: Some(to_date(self.date)),
            note: self.note.clone(),
            sign_time: Some(to_timestamp(self.sign_time)),
        }
    }
}

/// The signatures of a clue's decision `decision`, oldest first.
pub async fn of_decision(
    conn: &impl ConnectionTrait,
    clue_id: &str,
    decision: i32,
) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::ClueId.eq(clue_id.to_owned()))
        .filter(Column::Decision.eq(decision))
        .order_by_asc(Column::SignTime)
        .order_by_asc(Column::Signer)
        .all(conn)
        .await?)
}

/// The signatures of several clues in one query, by clue id, oldest first
/// (every decision; showing a clue keeps its current one).
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
        .order_by_asc(Column::SignTime)
        .order_by_asc(Column::Signer)
        .all(conn)
        .await?;
    Ok(super::by_clue(rows, |r| r.clue_id.as_str()))
}

pub async fn insert(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let active: ActiveModel = model.into();
    Ok(active.insert(conn).await?)
}
