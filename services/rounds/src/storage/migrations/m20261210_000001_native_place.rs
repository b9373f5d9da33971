//! Inspectors gained their native place (籍贯), which regional avoidance
//! (地域回避) counts as their own county too. Existing people have none
//! recorded (empty) until an update names it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut id = ColumnDef::new("native_place_id");
        id.string_len(63).not_null().default("");
        let mut path = fiveledger_platform::storage::path_column("native_place_path", backend);
        path.default("");
        for mut col in [id, path] {
            manager
                .alter_table(
                    Table::alter()
                        .table("inspectors")
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
