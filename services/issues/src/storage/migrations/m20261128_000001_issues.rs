//! Categories (seeded with the source's catalogue), problems, problem lists
//! and clues.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;

use crate::domain::category::SEED;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &'static str, len: u32) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string_len(len).not_null();
    c
}

fn time(name: &'static str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone().not_null();
    c
}

fn optional_time(name: &'static str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone().null();
    c
}

pub(super) async fn indexes(
    manager: &SchemaManager<'_>,
    table: &str,
    list: &[(&str, &[&str])],
) -> Result<(), DbErr> {
    for (name, cols) in list {
        let mut index = Index::create();
        index.name(*name).table(Alias::new(table));
        for col in *cols {
            index.col(Alias::new(*col));
        }
        manager.create_index(index.to_owned()).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("categories")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(text("display_name", 400))
                    .col(text("supervising_body_kind", 64))
                    .col(ColumnDef::new("grassroots").boolean().not_null())
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;
        let now = chrono::Utc::now();
        let mut seed = Query::insert();
        seed.into_table("categories").columns([
            "id",
            "display_name",
            "supervising_body_kind",
            "grassroots",
            "revision",
            "create_time",
            "update_time",
        ]);
        for (id, display_name, kind, grassroots) in SEED {
            seed.values_panic([
                (*id).into(),
                (*display_name).into(),
                kind.as_str_name().into(),
                (*grassroots).into(),
                1i64.into(),
                now.into(),
                now.into(),
            ]);
        }
        manager.exec_stmt(seed.to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table("problems")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(text("inspection", 200))
                    .col(text("round", 100))
                    .col(text("target", 100))
                    .col(path_column("target_path", backend))
                    .col(text("category", 63))
                    .col(text("severity", 64))
                    .col(text("title", 800))
                    .col(ColumnDef::new("description").text().not_null())
                    .col(ColumnDef::new("evidence").text().not_null())
                    .col(ColumnDef::new("fixed_date").date().null())
                    .col(ColumnDef::new("fixed_action").text().not_null())
                    .col(text("main_unit", 100))
                    .col(path_column("main_unit_path", backend))
                    .col(text("principal", 256))
                    .col(text("leader_in_charge", 256))
                    .col(text("supervising_body", 100))
                    .col(path_column("supervising_body_path", backend))
                    .col(
                        ColumnDef::new("supervising_body_routed")
                            .boolean()
                            .not_null(),
                    )
                    .col(text("functional_department", 100))
                    .col(path_column("functional_department_path", backend))
                    .col(text("recorded_by", 256))
                    .col(ColumnDef::new("frozen").boolean().not_null())
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;
        // Every filter of ListProblems, and each responsibility list, is a
        // range on one of these.
        indexes(
            manager,
            "problems",
            &[
                ("problems_inspection", &["inspection", "id"]),
                ("problems_round", &["round", "id"]),
                ("problems_target_path", &["target_path", "id"]),
                ("problems_category", &["category", "id"]),
                ("problems_create_time", &["create_time", "id"]),
                ("problems_main_unit", &["main_unit", "id"]),
                ("problems_supervising_body", &["supervising_body", "id"]),
                (
                    "problems_functional_department",
                    &["functional_department", "id"],
                ),
                ("problems_main_unit_path", &["main_unit_path"]),
                ("problems_supervising_body_path", &["supervising_body_path"]),
                (
                    "problems_functional_department_path",
                    &["functional_department_path"],
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("problem_lists")
                    .col(
                        ColumnDef::new("inspection")
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(text("round", 100))
                    .col(text("target", 100))
                    .col(path_column("target_path", backend))
                    .col(path_column("round_organisation_path", backend))
                    .col(text("state", 64))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(optional_time("report_time"))
                    .col(optional_time("freeze_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("clues")
                    .col(ColumnDef::new("id").string_len(63).not_null().primary_key())
                    .col(text("inspection", 200))
                    .col(text("round", 100))
                    .col(text("target", 100))
                    .col(path_column("target_path", backend))
                    .col(text("subject_name", 256))
                    .col(text("subject_post", 512))
                    .col(ColumnDef::new("summary").text().not_null())
                    .col(text("source", 1024))
                    .col(text("receiving_body", 100))
                    .col(path_column("receiving_body_path", backend))
                    .col(text("state", 64))
                    .col(text("disposal_method", 64))
                    .col(ColumnDef::new("disposal_date").date().null())
                    .col(ColumnDef::new("disposal_note").text().not_null())
                    .col(text("disposal_by", 256))
                    .col(text("outcome_kind", 64))
                    .col(ColumnDef::new("outcome_date").date().null())
                    .col(ColumnDef::new("outcome_note").text().not_null())
                    .col(text("outcome_by", 256))
                    .col(ColumnDef::new("reopen_count").integer().not_null())
                    .col(text("registered_by", 256))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;
        indexes(
            manager,
            "clues",
            &[
                ("clues_inspection", &["inspection", "id"]),
                ("clues_round", &["round", "id"]),
                ("clues_target_path", &["target_path", "id"]),
                ("clues_receiving_body", &["receiving_body", "id"]),
                ("clues_receiving_body_path", &["receiving_body_path", "id"]),
            ],
        )
        .await
    }
}
