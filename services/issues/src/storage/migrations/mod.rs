//! Migrations, applied in order at start.

use sea_orm_migration::prelude::*;

mod m20261128_000001_issues;
mod m20261128_000002_clue_transfers;
mod m20261201_000003_scope;
mod m20261202_000004_list_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(fiveledger_platform::platform_tables::Migration),
            Box::new(m20261128_000001_issues::Migration),
            Box::new(m20261128_000002_clue_transfers::Migration),
            Box::new(m20261201_000003_scope::Migration),
            // The levels of the bodies callers name (learnt from rounds).
            Box::new(fiveledger_platform::levels::Migration),
            Box::new(fiveledger_platform::platform_tables::OutboxOrganisation),
            // The access log of confidential reads.
            Box::new(fiveledger_platform::access_log::Migration),
            // Every ListProblems filter served by an index in the list's order.
            Box::new(m20261202_000004_list_indexes::Migration),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Box::new(fiveledger_platform::platform_tables::OutboxTransactions),
        ]
    }
}
