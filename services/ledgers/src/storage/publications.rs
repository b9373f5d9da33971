//! The `publications` table: immutable versions of the double publication
//! (双公开), one row per (target, version) holding both editions.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub target: String,
    pub target_path: String,
    pub version: i32,
    /// Name of the previous version, "" for the first.
    pub previous: String,
    /// Encoded `Publication`, public edition.
    pub public_edition: Vec<u8>,
    /// Encoded `Publication`, internal edition.
    pub internal_edition: Vec<u8>,
    pub create_time_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
