//! Entries gained `last_step_date` (the day of the latest step, which a step
//! recorded after the fact may not precede): replay every journal so that
//! existing projections carry it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::storage::books::rebuild_all(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("rebuilding entries: {e}")))
    }
}
