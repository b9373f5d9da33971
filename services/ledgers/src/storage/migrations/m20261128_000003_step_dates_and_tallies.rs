//! Entries gained `last_step_date` (the day of the latest step, which a step
//! recorded after the fact may not precede) and statistics gained the
//! `entry_tallies` sums of written-off entries with an index of open entries
//! by state: replay every journal, then count the tallies from the rebuilt
//! projections.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let count = |name: &'static str| {
            let mut c = ColumnDef::new(Alias::new(name));
            c.big_integer().not_null().default(0);
            c
        };
        let mut table = Table::create();
        table
            .table("entry_tallies")
            .col(path_column("target_path", backend))
            .col(ColumnDef::new("category").string_len(128).not_null());
        for name in [
            "found",
            "fixed_on_the_spot",
            "handed_over",
            "transferred",
            "reopened",
            "written_off_on_time",
            "funds_recovered_fen",
            "losses_recovered_fen",
            "people_held_accountable",
            "people_disciplined",
            "rules_established",
        ] {
            table.col(count(name));
        }
        // The key doubles as the subtree index (paths sort by prefix).
        table.primary_key(Index::create().col("target_path").col("category"));
        manager.create_table(table.to_owned()).await?;
        // Statistics read open entries by state within a subtree.
        manager
            .create_index(
                Index::create()
                    .name("entries_state_target")
                    .table("entries")
                    .col("state")
                    .col("target_path")
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        let failed =
            |e: fiveledger_platform::ApiError| DbErr::Migration(format!("rebuilding: {e}"));
        crate::storage::books::rebuild_all(conn)
            .await
            .map_err(failed)?;
        // The rollups come with their own migration, later.
        crate::storage::tallies::rebuild_table(conn, crate::storage::tallies::Table::Tallies)
            .await
            .map_err(failed)
    }
}
