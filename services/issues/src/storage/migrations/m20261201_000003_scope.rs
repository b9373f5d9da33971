//! What the scope rules need to know without asking the rounds service on
//! every read: when a list was handed over at feedback, which level runs a
//! clue's round, and the level managing a clue's cadre. Clues registered
//! before this migration know no running level: only their holder and
//! root-scoped callers see them until an office re-registers them.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .alter_table(
                Table::alter()
                    .table("problem_lists")
                    .add_column(ColumnDef::new("feedback_date").date().null())
                    .to_owned(),
            )
            .await?;
        for column in [
            path_column("round_organisation_path", backend)
                .default("")
                .to_owned(),
            ColumnDef::new("subject_managed_by")
                .string_len(100)
                .not_null()
                .default("")
                .to_owned(),
            path_column("subject_managed_by_path", backend)
                .default("")
                .to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table("clues").add_column(column).to_owned())
                .await?;
        }
        // Lists are read by the level running their round.
        manager
            .create_index(
                Index::create()
                    .name("problem_lists_round_organisation_path")
                    .table("problem_lists")
                    .col("round_organisation_path")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clues_round_organisation_path")
                    .table("clues")
                    .col("round_organisation_path")
                    .to_owned(),
            )
            .await
    }
}
