//! The organisation directory.

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
                    .table("organisations")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(ColumnDef::new("display_name").string_len(800).not_null())
                    .col(ColumnDef::new("kind").string_len(64).not_null())
                    .col(ColumnDef::new("parent_id").string_len(63).null())
                    .col(path_column("path", backend))
                    .col(ColumnDef::new("code").string_len(256).not_null())
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
                    .to_owned(),
            )
            .await?;
        // Subtree scans are ranges on the path.
        for (name, cols, unique) in [
            ("organisations_path", &["path"][..], true),
            ("organisations_parent", &["parent_id", "id"][..], false),
            ("organisations_kind", &["kind", "id"][..], false),
            (
                "organisations_display_name",
                &["display_name", "id"][..],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("organisations");
            for col in cols {
                index.col(*col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
