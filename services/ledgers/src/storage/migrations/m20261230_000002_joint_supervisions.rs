//! Joint supervisions (整改情况联合督查): one row per campaign (its proto)
//! and one per finding, keyed by (campaign, entry): one finding per entry.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("joint_supervisions")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(path_column("level_path", backend))
                    .col(ColumnDef::new("snapshot").blob().not_null())
                    .col(ColumnDef::new("create_time_us").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let mut supervision_id = ColumnDef::new(Alias::new("supervision_id"));
        supervision_id.string_len(63).not_null();
        let mut entry_id = ColumnDef::new(Alias::new("entry_id"));
        entry_id.string_len(63).not_null();
        manager
            .create_table(
                Table::create()
                    .table("joint_findings")
                    .col(supervision_id)
                    .col(entry_id)
                    .col(ColumnDef::new("snapshot").blob().not_null())
                    .col(ColumnDef::new("create_time_us").big_integer().not_null())
                    .primary_key(Index::create().col("supervision_id").col("entry_id"))
                    .to_owned(),
            )
            .await
    }
}
