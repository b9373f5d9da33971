//! The `feedbacks` table: inspections whose feedback was given, so that an
//! entry opened after the feedback event is handed over at once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feedbacks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub inspection: String,
    /// `YYYY-MM-DD`.
    pub feedback_date: String,
    pub create_time_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
