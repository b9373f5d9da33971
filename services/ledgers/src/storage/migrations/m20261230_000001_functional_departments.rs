//! `entry_departments`: the functional department of each entry's
//! responsibility list (4), so that it sees the entries naming it in a
//! listing (`books::visible_to`). Keyed by (entry, body); indexed by
//! (body, entry) for the scope query. Filled here from the projections.

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
                    .table("entry_departments")
                    .col(entry_id)
                    .col(path_column("body_path", backend))
                    .primary_key(Index::create().col("entry_id").col("body_path"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("entry_departments_body")
                    .table("entry_departments")
                    .col("body_path")
                    .col("entry_id")
                    .to_owned(),
            )
            .await?;
        crate::storage::books::fill_departments(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("filling entry_departments: {e}")))
    }
}
