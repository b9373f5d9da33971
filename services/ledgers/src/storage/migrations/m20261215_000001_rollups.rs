//! Statistics gained `entry_rollups`, the sums of written-off entries per
//! (round, inspection, target path, category, month opened), so that a
//! round, an inspection or a period reads a few rows, not its entries; and
//! indexes of entries by state and each scope, for the open entries (read
//! one by one) and a period's edge days. Additive: the rollups are counted
//! from the entries.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

use crate::storage::tallies::Table as Sums;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = super::text_column;
        let mut table = Table::create();
        table
            .table(Sums::Rollups.name())
            .col(text("round", 255))
            .col(text("inspection", 255))
            .col(path_column("target_path", backend))
            .col(text("category", 128))
            // `YYYY-MM`, the UTC month of `create_time_us`.
            .col(text("month", 7));
        super::count_columns(&mut table);
        // The key doubles as the round's index (and the round's inspection's).
        let mut key = Index::create();
        for col in Sums::Rollups.keys() {
            key.col(*col);
        }
        table.primary_key(&mut key);
        manager.create_table(table.to_owned()).await?;
        for (name, table, cols) in [
            (
                "entry_rollups_inspection",
                "entry_rollups",
                &["inspection"][..],
            ),
            ("entry_rollups_month", "entry_rollups", &["month"][..]),
            (
                "entry_rollups_target",
                "entry_rollups",
                &["target_path"][..],
            ),
            // The open entries of a round, an inspection, a period; and a
            // period's written-off entries on its edge days.
            ("entries_state_round", "entries", &["state", "round"][..]),
            (
                "entries_state_inspection",
                "entries",
                &["state", "inspection"][..],
            ),
            (
                "entries_state_create_time",
                "entries",
                &["state", "create_time_us"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        crate::storage::tallies::rebuild_table(manager.get_connection(), Sums::Rollups)
            .await
            .map_err(|e| DbErr::Migration(format!("counting the rollups: {e}")))
    }
}
