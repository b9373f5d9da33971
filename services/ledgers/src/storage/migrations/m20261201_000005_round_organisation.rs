//! `entries.round_organisation_path`: the organisation running the entry's
//! round, so that only its inspection office (or one above it) acts as the
//! office on the entry and sees it before hand-over. Entries opened before
//! this migration do not know it: only root-scoped offices act on them.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // Databases created since carry it from 000001 already.
        if !manager
            .has_column("entries", "round_organisation_path")
            .await?
        {
            manager
                .alter_table(
                    Table::alter()
                        .table("entries")
                        .add_column(
                            path_column("round_organisation_path", backend)
                                .default("")
                                .to_owned(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("entries_round_organisation_path")
                    .table("entries")
                    .col("round_organisation_path")
                    .to_owned(),
            )
            .await
    }
}
