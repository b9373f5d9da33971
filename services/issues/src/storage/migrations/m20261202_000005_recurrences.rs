//! Back-tracking (倒查): the recurrences flagged between frozen lists of one
//! unit, with their accountability decisions, and which lists the checker
//! has compared (every frozen list from before this step is checked once,
//! as any later one).

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &'static str, len: u32) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string_len(len).not_null();
    c
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("recurrences")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(text("problem", 100))
                    .col(text("inspection", 200))
                    .col(text("target", 100))
                    .col(text("category", 63))
                    .col(ColumnDef::new("report_date").date().not_null())
                    .col(text("earlier_inspection", 200))
                    .col(text("earlier_group", 200))
                    .col(ColumnDef::new("earlier_report_date").date().not_null())
                    .col(text("kind", 64))
                    .col(ColumnDef::new("earlier_problems").text().not_null())
                    .col(text("rule", 63))
                    .col(path_column("round_organisation_path", backend))
                    .col(path_column("earlier_round_organisation_path", backend))
                    .col(text("outcome", 64))
                    .col(ColumnDef::new("note").text().not_null())
                    .col(text("decided_by", 256))
                    .col(
                        ColumnDef::new("decide_time")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One flag per problem and earlier inspection, however often (and
        // on however many replicas) the checker compares the two lists.
        manager
            .create_index(
                Index::create()
                    .name("recurrences_problem_earlier")
                    .table("recurrences")
                    .col("problem")
                    .col("earlier_inspection")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // ListRecurrences walks the id order within the caller's scope (by
        // either round's running organisation) or one filter's equality.
        for (name, cols) in [
            (
                "recurrences_round_organisation_path",
                &["round_organisation_path", "id"][..],
            ),
            (
                "recurrences_earlier_round_organisation_path",
                &["earlier_round_organisation_path", "id"],
            ),
            (
                "recurrences_earlier_inspection",
                &["earlier_inspection", "id"],
            ),
            ("recurrences_target", &["target", "id"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("recurrences");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("recurrence_checks")
                    .col(
                        ColumnDef::new("inspection")
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new("check_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
