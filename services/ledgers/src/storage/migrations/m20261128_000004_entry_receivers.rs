//! `entry_receivers`: every receiving body of every transfer, so that a
//! body that received an entry keeps seeing it after a later transfer.
//! Keyed by (entry, body); indexed by (body, entry) for the scope query.
//! Filled here from the entries' projections (their transfers).

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut entry_id = ColumnDef::new(Alias::new("entry_id"));
        entry_id.string_len(63).not_null();
        manager
            .create_table(
                Table::create()
                    .table("entry_receivers")
                    .col(entry_id)
                    .col(path_column("body_path", backend))
                    .primary_key(Index::create().col("entry_id").col("body_path"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("entry_receivers_body")
                    .table("entry_receivers")
                    .col("body_path")
                    .col("entry_id")
                    .to_owned(),
            )
            .await?;
        crate::storage::books::fill_receivers(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("filling entry_receivers: {e}")))
    }
}
