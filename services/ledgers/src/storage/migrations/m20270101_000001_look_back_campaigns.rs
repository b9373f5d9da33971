//! Look-back campaigns (整改"回头看"): self-check reports, key problems,
//! supervision suggestions and spot checks, one row each in
//! `look_back_records` (its proto), with the paths that scope it, a key
//! unique per kind (one report per inspection, one key problem per entry)
//! and an index for each list (kind, round, id).

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
                    .table("look_back_records")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(ColumnDef::new("kind").string_len(32).not_null())
                    .col(ColumnDef::new("unique_key").string_len(255).not_null())
                    .col(ColumnDef::new("round").string_len(255).not_null())
                    .col(path_column("round_organisation_path", backend))
                    .col(path_column("unit_path", backend))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(ColumnDef::new("snapshot").blob().not_null())
                    .col(ColumnDef::new("create_time_us").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("look_back_records_kind_unique_key")
                    .table("look_back_records")
                    .col("kind")
                    .col("unique_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("look_back_records_kind_round_id")
                    .table("look_back_records")
                    .col("kind")
                    .col("round")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
