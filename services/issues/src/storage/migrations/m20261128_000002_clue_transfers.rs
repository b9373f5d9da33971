//! Clue transfers (移交): one row per hand-over of a clue, each with its own
//! clock. Existing clues get their registration as their first transfer.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Due days of the backfilled transfers: the setting's default (a
/// migration cannot read the settings).
const BACKFILL_DUE_DAYS: u32 = 30;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("clue_transfers")
                    .col(ColumnDef::new("clue_id").string_len(63).not_null())
                    .col(ColumnDef::new("seq").integer().not_null())
                    .col(ColumnDef::new("receiving_body").string_len(100).not_null())
                    .col(path_column("receiving_body_path", backend))
                    .col(ColumnDef::new("transfer_date").date().not_null())
                    .col(ColumnDef::new("due_date").date().not_null())
                    .col(ColumnDef::new("acknowledge_date").date().null())
                    .col(ColumnDef::new("acknowledged_by").string_len(256).not_null())
                    .col(ColumnDef::new("result_date").date().null())
                    .col(ColumnDef::new("transferred_by").string_len(256).not_null())
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("clue_id").col("seq"))
                    .to_owned(),
            )
            .await?;
        // The registration day and its due date, per backend (the one place
        // the two dialects differ: date arithmetic).
        let (day, due) = match backend {
            DbBackend::Postgres => (
                "CAST((c.create_time AT TIME ZONE 'UTC') AS DATE)".to_owned(),
                format!("(CAST((c.create_time AT TIME ZONE 'UTC') AS DATE) + {BACKFILL_DUE_DAYS})"),
            ),
            _ => (
                "date(c.create_time)".to_owned(),
                format!("date(c.create_time, '+{BACKFILL_DUE_DAYS} days')"),
            ),
        };
        // A recorded disposal was the receiving body signing for the clue;
        // a recorded outcome its result. Neither dated before the transfer.
        let not_before = |col: &str| {
            format!(
                "CASE WHEN c.{col} IS NULL THEN NULL WHEN c.{col} < {day} THEN {day} ELSE c.{col} END"
            )
        };
        let sql = format!(
            "INSERT INTO clue_transfers (clue_id, seq, receiving_body, receiving_body_path, \
             transfer_date, due_date, acknowledge_date, acknowledged_by, result_date, \
             transferred_by, create_time) \
             SELECT c.id, 1, c.receiving_body, c.receiving_body_path, {day}, {due}, {ack}, \
             CASE WHEN c.disposal_date IS NULL THEN '' ELSE c.disposal_by END, {result}, \
             c.registered_by, c.create_time FROM clues c",
            ack = not_before("disposal_date"),
            result = not_before("outcome_date"),
        );
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }
}
