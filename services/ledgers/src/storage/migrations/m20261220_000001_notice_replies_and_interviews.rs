//! A supervision notice now opens a reply item of its own (a missing reply
//! colours), and a deadline remembers the day it turned red (interviews
//! escalate from it): replay every journal to rebuild the projections.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::storage::books::rebuild_all(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("rebuilding: {e}")))
    }
}
