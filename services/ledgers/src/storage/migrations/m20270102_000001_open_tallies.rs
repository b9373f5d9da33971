//! Statistics of a whole subtree colour the open entries from sums kept
//! per (unit, round, category, day opened, due dates, ladder): `entry_open_tallies`, kept by
//! triggers on `entries` (see `storage::open_tallies`). Additive: a new
//! table, counted from the entries, and triggers that keep it whichever
//! binary writes.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

use crate::storage::open_tallies::{self, TABLE};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = super::text_column;
        let int = |name: &'static str| {
            let mut c = ColumnDef::new(Alias::new(name));
            c.integer().not_null();
            c
        };
        let mut table = Table::create();
        table
            .table(TABLE)
            .col(path_column("target_path", backend))
            .col(text("round", 255))
            .col(text("category", 128))
            .col(text("opened", 10))
            .col(text("due_date", 10))
            .col(text("original_due_date", 10))
            .col(int("yellows"))
            .col(int("colour_floor"))
            .col(int("early"));
        super::count_columns(&mut table);
        // The key, led by the unit: a subtree is one range of it.
        let mut key = Index::create();
        for (col, _) in open_tallies::keys("entries", backend) {
            key.col(col);
        }
        table.primary_key(&mut key);
        manager.create_table(table.to_owned()).await?;
        // A period's days, across the tree.
        manager
            .create_index(
                Index::create()
                    .name("entry_open_tallies_opened")
                    .table(TABLE)
                    .col("opened")
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in open_tallies::triggers(backend) {
            db.execute_unprepared(&sql).await?;
        }
        open_tallies::rebuild(db)
            .await
            .map_err(|e| DbErr::Migration(format!("counting the open tallies: {e}")))
    }
}
