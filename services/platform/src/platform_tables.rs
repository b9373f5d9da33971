//! The migration that creates the tables every service has: the outbox, the
//! consumers' cursors and the idempotency records.

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
                    .col(ColumnDef::new("id").big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new("event_type").string_len(128).not_null())
                    .col(ColumnDef::new("subject").string_len(512).not_null())
                    .col(ColumnDef::new("payload").blob().not_null())
                    .col(ColumnDef::new("actor").string_len(256).not_null())
                    .col(ColumnDef::new("request_id").string_len(128).not_null())
                    .col(ColumnDef::new("traceparent").string_len(128).not_null())
                    .col(ColumnDef::new("create_time").timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("event_cursors")
                    .if_not_exists()
                    .col(ColumnDef::new("consumer").string_len(128).not_null().primary_key())
                    .col(ColumnDef::new("position").big_integer().not_null())
                    .col(ColumnDef::new("update_time").timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_records")
                    .if_not_exists()
                    .col(ColumnDef::new("id").big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new("subject").string_len(256).not_null())
                    .col(ColumnDef::new("method").string_len(256).not_null())
                    .col(ColumnDef::new("request_id").string_len(128).not_null())
                    .col(ColumnDef::new("request_hash").string_len(64).not_null())
                    .col(ColumnDef::new("response").blob().not_null())
                    .col(ColumnDef::new("create_time").timestamp_with_time_zone().not_null())
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
