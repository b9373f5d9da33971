//! Assessments of lower levels' inspection work (巡察工作考核评价): one
//! immutable row per computed version.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut table = Table::create();
        table
            .table("assessments")
            .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
            .col(path_column("organisation_path", backend))
            .col(ColumnDef::new("year").integer().not_null())
            .col(ColumnDef::new("version").integer().not_null())
            .col(ColumnDef::new("cutoff_us").big_integer().not_null())
            .col(ColumnDef::new("as_of").date().not_null());
        for col in [
            "weight_on_time",
            "weight_completion",
            "weight_overdue",
            "weight_reopened",
        ] {
            table.col(ColumnDef::new(Alias::new(col)).integer().not_null());
        }
        for col in [
            "found",
            "written_off",
            "due_so_far",
            "written_off_on_time",
            "overdue",
            "reopened",
        ] {
            table.col(ColumnDef::new(Alias::new(col)).big_integer().not_null());
        }
        table
            .col(ColumnDef::new("score_hundredths").integer().not_null())
            .col(ColumnDef::new("computed_by").string_len(256).not_null())
            .col(ColumnDef::new("create_time_us").big_integer().not_null());
        manager.create_table(table.to_owned()).await?;
        // One row per version of an organisation's year.
        manager
            .create_index(
                Index::create()
                    .name("assessments_organisation_year_version")
                    .table("assessments")
                    .col("organisation_path")
                    .col("year")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // ListAssessments: the caller's subtree (or one organisation) in id order.
        manager
            .create_index(
                Index::create()
                    .name("assessments_organisation_id")
                    .table("assessments")
                    .col("organisation_path")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
