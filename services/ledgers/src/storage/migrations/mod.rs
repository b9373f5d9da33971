//! Migrations, applied in order at start.

use sea_orm_migration::prelude::*;

mod m20261128_000001_ledger;
mod m20261128_000002_supervision;
mod m20261128_000003_step_dates_and_tallies;
mod m20261128_000004_entry_receivers;
mod m20261201_000005_round_organisation;
mod m20261210_000001_replay_plan_versions_and_ladders;
mod m20261211_000001_list_indexes;
mod m20261215_000001_rollups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(fiveledger_platform::platform_tables::Migration),
            Box::new(m20261128_000001_ledger::Migration),
            Box::new(m20261128_000002_supervision::Migration),
            Box::new(m20261128_000003_step_dates_and_tallies::Migration),
            Box::new(m20261128_000004_entry_receivers::Migration),
            Box::new(m20261201_000005_round_organisation::Migration),
            Box::new(m20261210_000001_replay_plan_versions_and_ladders::Migration),
            // The levels of the bodies callers name (learnt from rounds).
            Box::new(fiveledger_platform::levels::Migration),
            Box::new(fiveledger_platform::platform_tables::OutboxOrganisation),
            // The access log of confidential reads.
            Box::new(fiveledger_platform::access_log::Migration),
            // ListEntries by due date served by an index in that order.
            Box::new(m20261211_000001_list_indexes::Migration),
            // Statistics of a round, an inspection or a period from sums.
            Box::new(m20261215_000001_rollups::Migration),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Box::new(fiveledger_platform::platform_tables::OutboxTransactions),
        ]
    }
}
