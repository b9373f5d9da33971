//! The `entry_departments` table: the functional department (职能部门) of
//! each entry's responsibility list (4), so that a listing finds the
//! entries a department answers for (`books::visible_to`). Kept beside the
//! entry row, as `entry_receivers` is, because older migrations read the
//! entry rows with this release's columns.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entry_departments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub body_path: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
