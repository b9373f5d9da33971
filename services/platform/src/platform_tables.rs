//! The migration that creates the tables every service has: the outbox, the
//! consumers' cursors, the idempotency records and the leases replicas take
//! turns with.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("outbox_events")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("event_type").string_len(128).not_null())
                    .col(ColumnDef::new("subject").string_len(512).not_null())
                    .col(ColumnDef::new("payload").blob().not_null())
                    .col(ColumnDef::new("actor").string_len(256).not_null())
                    .col(ColumnDef::new("request_id").string_len(128).not_null())
                    .col(ColumnDef::new("traceparent").string_len(128).not_null())
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("event_cursors")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("consumer")
                            .string_len(128)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("position").big_integer().not_null())
                    .col(
                        ColumnDef::new("update_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("leases")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("name")
                            .string_len(128)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("holder").string_len(128).not_null())
                    .col(
                        ColumnDef::new("expires_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_records")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("subject").string_len(256).not_null())
                    .col(ColumnDef::new("method").string_len(256).not_null())
                    .col(ColumnDef::new("request_id").string_len(128).not_null())
                    .col(ColumnDef::new("request_hash").string_len(64).not_null())
                    .col(ColumnDef::new("response").blob().not_null())
                    .col(
                        ColumnDef::new("create_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_records_key")
                    .table("idempotency_records")
                    .col("subject")
                    .col("method")
                    .col("request_id")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_records_age")
                    .table("idempotency_records")
                    .col("create_time")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}

/// Every migration of the platform tables, in order: for a database that
/// holds only them (a test's stand-in for another service).
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(Migration),
        Box::new(OutboxOrganisation),
        Box::new(OutboxTransactions),
    ]
}

/// The migrator of a database that holds only the platform tables.
pub struct PlatformOnly;

#[async_trait::async_trait]
impl MigratorTrait for PlatformOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

/// Each event remembers the organisation it concerns (the level running
/// its round, or the organisation itself for the directory), so that a
/// stream can be given one organisation's subtree.
pub struct OutboxOrganisation;

impl MigrationName for OutboxOrganisation {
    fn name(&self) -> &str {
        "m20261201_000001_outbox_organisation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OutboxOrganisation {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("outbox_events")
                    .add_column(
                        ColumnDef::new("organisation_path")
                            .string_len(512)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_events_by_organisation")
                    .table("outbox_events")
                    .col("organisation_path")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}

/// Each event records the transaction that wrote it, so that PostgreSQL
/// writers need not queue behind one another to keep the stream in commit
/// order (see [`crate::outbox`]); a consumer's position records it too. Additive:
/// events already stored get 0 and are served first, in id order, as
/// before. On PostgreSQL the column then defaults to the writer's
/// transaction id (a replica still running the previous version writes it
/// too), and an index on `(txid, id)` serves the streams.
pub struct OutboxTransactions;

impl MigrationName for OutboxTransactions {
    fn name(&self) -> &str {
        "m20261220_000001_outbox_transactions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OutboxTransactions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["outbox_events", "event_cursors"] {
            // A constant default: PostgreSQL adds the column without
            // rewriting the table.
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new("txid").big_integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE outbox_events ALTER COLUMN txid SET DEFAULT ({})",
                crate::outbox::CURRENT_TXID
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_events_by_transaction")
                    .table("outbox_events")
                    .col("txid")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}
