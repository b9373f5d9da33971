//! Supervision: figures and the colour ladder on the entries projection
//! (statistics and the sweep read them by index, never the journal), and
//! the publications table. Existing entries are rebuilt from their postings.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let int = |name: &'static str| {
            let mut c = ColumnDef::new(Alias::new(name));
            c.integer().not_null().default(0);
            c
        };
        let big = |name: &'static str| {
            let mut c = ColumnDef::new(Alias::new(name));
            c.big_integer().not_null().default(0);
            c
        };
        let date = |name: &'static str| {
            let mut c = ColumnDef::new(Alias::new(name));
            c.string_len(10).not_null().default("");
            c
        };
        // One column per statement: SQLite adds one at a time.
        for col in [
            int("fixed_on_the_spot"),
            int("transfer_count"),
            int("reopen_count"),
            date("first_written_off_date"),
            big("funds_recovered_fen"),
            big("losses_recovered_fen"),
            big("people_held_accountable"),
            big("people_disciplined"),
            big("rules_established"),
            int("colour_floor"),
            int("yellow_count"),
            date("next_due_date"),
            int("attention"),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table("entries")
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        for (name, cols) in [
            // The sweep's work: open items due soon, or already warned.
            ("entries_next_due", &["next_due_date", "id"][..]),
            ("entries_attention", &["attention", "id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("entries");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("publications")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(ColumnDef::new("target").string_len(255).not_null())
                    .col(path_column("target_path", backend))
                    .col(ColumnDef::new("version").integer().not_null())
                    .col(ColumnDef::new("previous").string_len(255).not_null())
                    // Encoded `Publication`s, one per edition, each complete.
                    .col(ColumnDef::new("public_edition").blob().not_null())
                    .col(ColumnDef::new("internal_edition").blob().not_null())
                    .col(ColumnDef::new("create_time_us").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("publications_target_version")
                    .table("publications")
                    .col("target_path")
                    .col("version")
                    // Two publishers racing get one version each, never the same.
                    .unique()
                    .to_owned(),
            )
            .await?;
        crate::storage::books::rebuild_all(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("rebuilding entries: {e}")))?;
        Ok(())
    }
}
