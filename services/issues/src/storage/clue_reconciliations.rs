//! The `clue_reconciliations` table: monthly reconciliations, written once
//! and never changed (no update path exists).

use fiveledger_platform::ApiResult;
use fiveledger_platform::time::to_timestamp;
use fiveledger_proto::issues::{ClueReconciliation, ClueReconciliationFigures};
use prost::Message;
use sea_orm::entity::prelude::*;

use crate::domain::clue_reconciliation::{COLLECTION, Month};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clue_reconciliations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub handling_body: String,
    pub handling_body_path: String,
    /// `yyyy-mm`.
    pub month: String,
    pub journal_position: i64,
    /// An encoded `ClueReconciliationFigures`.
    pub figures: Vec<u8>,
    pub made_by: String,
    pub create_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn figures(&self) -> ApiResult<ClueReconciliationFigures> {
        ClueReconciliationFigures::decode(self.figures.as_slice())
            .map_err(fiveledger_platform::ApiError::internal)
    }

    pub fn to_proto(&self) -> ApiResult<ClueReconciliation> {
        Ok(ClueReconciliation {
            name: format!("{COLLECTION}/{}", self.id),
            handling_body: self.handling_body.clone(),
            handling_body_path: self.handling_body_path.clone(),
            month: Month::from_key(&self.month).map(|m| m.to_proto()),
            figures: Some(self.figures()?),
            journal_position: self.journal_position.to_string(),
            made_by: self.made_by.clone(),
            create_time: Some(to_timestamp(self.create_time)),
        })
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Writes a new reconciliation; one for the same body and month is
/// ALREADY_EXISTS.
pub async fn insert(conn: &impl ConnectionTrait, model: Model) -> ApiResult<Model> {
    let name = format!("{COLLECTION}/{}", model.id);
    ActiveModel::from(model)
        .insert(conn)
        .await
        .map_err(fiveledger_platform::storage::exists_or_internal(|| name))
}
