//! Hand-offs at feedback (移交) and their acknowledgements: listed by
//! receiving body and by the organisation running the round, each in keyset
//! order, and swept while not acknowledged by due date.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(63).not_null().to_owned()
}

fn text(name: &'static str, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("hand_offs")
                    .col(id("round_id"))
                    .col(id("inspection_id"))
                    .col(text("id", 128))
                    .col(id("receiver_id"))
                    .col(path_column("receiver_path", backend))
                    .col(text("kind", 64))
                    .col(text("items", 1024))
                    .col(ColumnDef::new("summary").text().not_null())
                    .col(id("target_id"))
                    .col(path_column("round_organisation_path", backend))
                    .col(ColumnDef::new("hand_off_date").date().not_null())
                    .col(ColumnDef::new("acknowledgement_due_date").date().not_null())
                    .col(ColumnDef::new("acknowledged").boolean().not_null())
                    .col(ColumnDef::new("acknowledgement_date").date().null())
                    .col(text("acknowledged_by", 256))
                    .col(ColumnDef::new("acknowledgement_note").text().not_null())
                    .col(text("notified_colour", 64))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("update_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col("round_id")
                            .col("inspection_id")
                            .col("id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "hand_offs_receiver",
                &["receiver_id", "round_id", "inspection_id", "id"][..],
            ),
            (
                "hand_offs_receiver_path",
                &["receiver_path", "round_id", "inspection_id", "id"][..],
            ),
            (
                "hand_offs_round_organisation_path",
                &["round_organisation_path", "round_id", "inspection_id", "id"][..],
            ),
            (
                "hand_offs_unacknowledged_due",
                &["acknowledged", "acknowledgement_due_date"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("hand_offs");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
