//! Entries gained `latest_plan_version` (rejected plan versions count, so a
//! resubmission gets a new version), and a reopening now counts as one
//! yellow on the colour ladder instead of showing yellow before the new due
//! date: replay every journal to rebuild the projections.

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
