//! The books: entries (a projection of their postings), the append-only
//! postings, and the feedback dates seen from the rounds service.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &'static str, len: u32) -> ColumnDef {
    let mut col = ColumnDef::new(Alias::new(name));
    col.string_len(len).not_null();
    col
}

fn big(name: &'static str) -> ColumnDef {
    let mut col = ColumnDef::new(Alias::new(name));
    col.big_integer().not_null();
    col
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("entries")
                    .col(text("id", 63).primary_key())
                    .col(text("problem", 255))
                    .col(text("inspection", 255))
                    .col(text("round", 255))
                    .col(path_column("target_path", backend))
                    // Added by 000005 to databases created before it; here
                    // so that the data migrations in between (which replay
                    // journals through today's model) find it.
                    .col(
                        path_column("round_organisation_path", backend)
                            .default("")
                            .to_owned(),
                    )
                    .col(path_column("responsible_unit_path", backend))
                    .col(path_column("supervising_body_path", backend))
                    .col(path_column("receiving_body_path", backend))
                    .col(text("category", 128))
                    .col(ColumnDef::new("severity").integer().not_null())
                    .col(text("state", 64))
                    // ISO dates (YYYY-MM-DD) compare as text; "" when unset.
                    .col(text("due_date", 10))
                    .col(text("original_due_date", 10))
                    .col(big("posting_count"))
                    .col(text("journal_head", 64))
                    // The encoded `LedgerEntry` its postings derive.
                    .col(ColumnDef::new("snapshot").blob().not_null())
                    .col(big("create_time_us"))
                    .col(big("update_time_us"))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            // One entry per problem, whatever the consumers do.
            ("entries_problem", &["problem"][..], true),
            ("entries_inspection", &["inspection", "id"][..], false),
            ("entries_round", &["round", "id"][..], false),
            ("entries_state", &["state", "id"][..], false),
            ("entries_category", &["category", "id"][..], false),
            ("entries_due", &["due_date", "id"][..], false),
            ("entries_target", &["target_path", "id"][..], false),
            (
                "entries_responsible",
                &["responsible_unit_path", "id"][..],
                false,
            ),
            (
                "entries_supervising",
                &["supervising_body_path", "id"][..],
                false,
            ),
            (
                "entries_receiving",
                &["receiving_body_path", "id"][..],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("entries");
            for col in cols {
                index.col(*col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("postings")
                    .col(text("entry_id", 63))
                    .col(big("seq"))
                    .col(text("kind", 64))
                    .col(ColumnDef::new("payload").blob().not_null())
                    .col(text("actor", 256))
                    .col(text("request_id", 160))
                    .col(text("traceparent", 128))
                    .col(big("create_time_us"))
                    .col(text("prev_hash", 64))
                    .col(text("hash", 64))
                    // (entry, seq) is the key: two writers can never fork a chain.
                    .primary_key(Index::create().col("entry_id").col("seq"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("feedbacks")
                    .col(text("inspection", 255).primary_key())
                    .col(text("feedback_date", 10))
                    .col(big("create_time_us"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
