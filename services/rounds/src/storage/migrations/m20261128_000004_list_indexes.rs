//! Indexes for list filters: inspections by the organisation running their
//! round (the caller's scope in ListInspections) and by target (`target =`),
//! each in keyset order; rounds by organisation (`organisation =`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, cols) in [
            (
                "inspections",
                "inspections_round_organisation_path",
                &["round_organisation_path", "round_id", "id"][..],
            ),
            (
                "inspections",
                "inspections_target",
                &["target_id", "round_id", "id"][..],
            ),
            (
                "rounds",
                "rounds_organisation",
                &["organisation_id", "id"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
