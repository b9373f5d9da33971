//! Hand-offs gained their result (办理结果): what the receiving body did
//! with one after acknowledging it. Existing hand-offs have none (no date,
//! empty texts) until the body records it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut date = ColumnDef::new("result_date");
        date.date().null();
        let mut by = ColumnDef::new("result_recorded_by");
        by.string_len(256).not_null().default("");
        let mut conclusion = ColumnDef::new("result_conclusion");
        conclusion.text().not_null().default("");
        for mut col in [date, by, conclusion] {
            manager
                .alter_table(
                    Table::alter()
                        .table("hand_offs")
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
