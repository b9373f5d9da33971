//! Clue supervision as the source runs it: each clue's time limit and the
//! memory of its four-colour warnings (on the `clues` row, read by the
//! sweep by due date), the signatures of collective disposal decisions
//! (集体研判), the append-only clue journal and the monthly reconciliations
//! (对账销号) counted from it. Clues already registered get their current
//! transfer's due date; clues already disposed get the default time limit of
//! their disposal way from that transfer's date (a migration cannot read
//! the settings); both start without warnings.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Default days per disposal way (the settings' defaults).
const DEFAULT_DAYS: [(&str, u32); 4] = [
    ("DISPOSAL_METHOD_TALK_OR_LETTER", 30),
    ("DISPOSAL_METHOD_PRELIMINARY_VERIFICATION", 90),
    ("DISPOSAL_METHOD_HOLD", 180),
    ("DISPOSAL_METHOD_CONCLUDE", 15),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for column in [
            // ISO date text, "" when the clue has no running limit.
            ColumnDef::new("due_date")
                .string_len(10)
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new("notified_colour")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("yellow_count")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("colour_floor")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("colour_peak")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("warning_count")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("reopen_date").date().null().to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table("clues").add_column(column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("clues_due_date")
                    .table("clues")
                    .col("due_date")
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let last_transfer = |col: &str| {
            format!(
                "(SELECT t.{col} FROM clue_transfers t WHERE t.clue_id = clues.id \
                 ORDER BY t.seq DESC LIMIT 1)"
            )
        };
        let as_text = |expr: String| match backend {
            DbBackend::Postgres => format!("to_char({expr}, 'YYYY-MM-DD')"),
            _ => format!("date({expr})"),
        };
        db.execute_unprepared(&format!(
            "UPDATE clues SET due_date = COALESCE({}, '') WHERE state = 'CLUE_STATE_REGISTERED'",
            as_text(last_transfer("due_date"))
        ))
        .await?;
        for (method, days) in DEFAULT_DAYS {
            let due = match backend {
                DbBackend::Postgres => format!(
                    "to_char({} + {days}, 'YYYY-MM-DD')",
                    last_transfer("transfer_date")
                ),
                _ => format!("date({}, '+{days} days')", last_transfer("transfer_date")),
            };
            db.execute_unprepared(&format!(
                "UPDATE clues SET due_date = COALESCE({due}, '') \
                 WHERE state = 'CLUE_STATE_DISPOSED' AND disposal_method = '{method}'"
            ))
            .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("clue_disposal_signatures")
                    .col(ColumnDef::new("clue_id").string_len(63).not_null())
                    // The clue's reopen count when signed: one decision per
                    // registration or reopening.
                    .col(ColumnDef::new("decision").integer().not_null())
                    .col(ColumnDef::new("signer").string_len(256).not_null())
                    .col(ColumnDef::new("level").string_len(64).not_null())
                    .col(ColumnDef::new("method").string_len(64).not_null())
                    .col(ColumnDef::new("date").date().not_null())
                    .col(ColumnDef::new("note").text().not_null())
                    .col(
                        ColumnDef::new("sign_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("clue_id").col("decision").col("signer"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("clue_journal")
                    .col(
                        ColumnDef::new("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("clue_id").string_len(63).not_null())
                    .col(ColumnDef::new("kind").string_len(32).not_null())
                    .col(ColumnDef::new("receiving_body").string_len(100).not_null())
                    .col(path_column("receiving_body_path", backend))
                    .col(ColumnDef::new("from_body").string_len(100).not_null())
                    .col(ColumnDef::new("day").date().not_null())
                    .col(ColumnDef::new("detail").string_len(64).not_null())
                    .col(ColumnDef::new("actor").string_len(256).not_null())
                    .col(
                        ColumnDef::new("recorded_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("clue_journal_receiving_body", ["receiving_body", "id"]),
            ("clue_journal_from_body", ["from_body", "id"]),
            ("clue_journal_clue", ["clue_id", "id"]),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("clue_journal")
                        .col(cols[0])
                        .col(cols[1])
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("clue_reconciliations")
                    .col(
                        ColumnDef::new("id")
                            .string_len(160)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("handling_body").string_len(100).not_null())
                    .col(path_column("handling_body_path", backend))
                    .col(ColumnDef::new("month").string_len(7).not_null())
                    .col(ColumnDef::new("journal_position").big_integer().not_null())
                    // The figures as an encoded `ClueReconciliationFigures`.
                    .col(ColumnDef::new("figures").blob().not_null())
                    .col(ColumnDef::new("made_by").string_len(256).not_null())
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
