//! The double-report sweep reads awaited double reports by phase and due
//! date.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("inspections_phase_double_report_due")
                    .table("inspections")
                    .col("phase")
                    .col("double_report_due_date")
                    .to_owned(),
            )
            .await
    }
}
