//! Inspectors, rounds, groups, inspections and their timeline steps.

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

fn time(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("inspectors")
                    .col(id("id").primary_key())
                    .col(text("display_name", 800))
                    .col(text("subject", 256))
                    .col(id("home_organisation_id"))
                    .col(path_column("home_path", backend))
                    // JSON: [{organisation_id, path, start, end}]; read whole
                    // with the inspector, never queried into.
                    .col(ColumnDef::new("past_posts").text().not_null())
                    // JSON: [{organisation_id, path}].
                    .col(ColumnDef::new("relations").text().not_null())
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "inspectors",
            "inspectors_home",
            &["home_path", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "inspectors",
            "inspectors_subject",
            &["subject"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("rounds")
                    .col(id("id").primary_key())
                    .col(text("display_name", 800))
                    .col(ColumnDef::new("term").integer().not_null())
                    .col(ColumnDef::new("number").integer().not_null())
                    .col(text("kind", 64))
                    .col(text("theme", 800))
                    // JSON list of round ids.
                    .col(ColumnDef::new("look_back_rounds").text().not_null())
                    .col(id("organisation_id"))
                    .col(path_column("organisation_path", backend))
                    .col(ColumnDef::new("cross_county").boolean().not_null())
                    .col(ColumnDef::new("year").integer().not_null())
                    .col(ColumnDef::new("planned_start_date").date().not_null())
                    .col(ColumnDef::new("planned_end_date").date().not_null())
                    .col(text("state", 64))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "rounds",
            "rounds_org_term_number",
            &["organisation_id", "term", "number"],
            true,
        )
        .await?;
        index(
            manager,
            "rounds",
            "rounds_path",
            &["organisation_path", "id"],
            false,
        )
        .await?;
        index(manager, "rounds", "rounds_kind", &["kind", "id"], false).await?;
        index(manager, "rounds", "rounds_state", &["state", "id"], false).await?;
        index(manager, "rounds", "rounds_year", &["year", "id"], false).await?;

        manager
            .create_table(
                Table::create()
                    .table("inspection_groups")
                    .col(id("round_id"))
                    .col(id("id"))
                    .col(text("display_name", 800))
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .primary_key(Index::create().col("round_id").col("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("group_members")
                    // The key makes "one group per person per round" a
                    // constraint, not just a check.
                    .col(id("round_id"))
                    .col(id("inspector_id"))
                    .col(id("group_id"))
                    .col(text("role", 64))
                    .col(time("create_time"))
                    .primary_key(Index::create().col("round_id").col("inspector_id"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "group_members",
            "group_members_group",
            &["round_id", "group_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("inspections")
                    .col(id("round_id"))
                    .col(id("id"))
                    .col(id("target_id"))
                    .col(path_column("target_path", backend))
                    .col(ColumnDef::new("group_id").string_len(63).null())
                    .col(text("phase", 64))
                    .col(text("round_kind", 64))
                    .col(path_column("round_organisation_path", backend))
                    .col(text("look_back_of", 200))
                    .col(ColumnDef::new("feedback_date").date().null())
                    .col(ColumnDef::new("double_report_due_date").date().null())
                    // Encoded `Inspection` holding only the timeline records.
                    .col(ColumnDef::new("records").blob().not_null())
                    .col(ColumnDef::new("revision").big_integer().not_null())
                    .col(time("create_time"))
                    .col(time("update_time"))
                    .primary_key(Index::create().col("round_id").col("id"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "inspections",
            "inspections_round_target",
            &["round_id", "target_id"],
            true,
        )
        .await?;
        index(
            manager,
            "inspections",
            "inspections_group",
            &["round_id", "group_id", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "inspections",
            "inspections_phase",
            &["phase", "round_id", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "inspections",
            "inspections_target_path",
            &["target_path", "round_id", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "inspections",
            "inspections_look_back_of",
            &["look_back_of"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("inspection_steps")
                    .col(
                        ColumnDef::new("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(id("round_id"))
                    .col(id("inspection_id"))
                    .col(text("step", 64))
                    .col(text("phase", 64))
                    .col(text("actor", 256))
                    .col(text("request_id", 128))
                    .col(ColumnDef::new("description").text().not_null())
                    .col(time("create_time"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "inspection_steps",
            "inspection_steps_inspection",
            &["round_id", "inspection_id", "id"],
            false,
        )
        .await?;
        Ok(())
    }
}
