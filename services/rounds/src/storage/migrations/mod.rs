//! Migrations, applied in order at start.

use sea_orm_migration::prelude::*;

mod m20261128_000001_organisations;
mod m20261128_000002_rounds;
mod m20261128_000003_double_report_sweep;
mod m20261128_000004_list_indexes;
mod m20261210_000001_native_place;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(fiveledger_platform::platform_tables::Migration),
            Box::new(m20261128_000001_organisations::Migration),
            Box::new(m20261128_000002_rounds::Migration),
            Box::new(m20261128_000003_double_report_sweep::Migration),
            Box::new(m20261128_000004_list_indexes::Migration),
            Box::new(m20261210_000001_native_place::Migration),
            Box::new(fiveledger_platform::platform_tables::OutboxOrganisation),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Box::new(fiveledger_platform::platform_tables::OutboxTransactions),
        ]
    }
}
