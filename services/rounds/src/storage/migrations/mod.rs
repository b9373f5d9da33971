//! Migrations, in order, each marked expand (binaries of the release
//! before still serve the schema) or contract (they no longer do): see
//! `fiveledger_platform::schema_compat` and the README's "Upgrades and
//! rollbacks". A contract step ships only in a release after the one
//! that stopped needing what it removes.

use fiveledger_platform::schema_compat::{self, Schema, Step};
use sea_orm_migration::prelude::*;

mod m20261128_000001_organisations;
mod m20261128_000002_rounds;
mod m20261128_000003_double_report_sweep;
mod m20261128_000004_list_indexes;
mod m20261202_000001_hand_offs;
mod m20261210_000001_native_place;
mod m20261213_000001_hand_off_results;

pub struct Migrator;

impl Schema for Migrator {
    /// Raise with every migration added (the count of the steps below).
    const VERSION: i64 = 11;

    fn steps() -> Vec<Step> {
        vec![
            Step::expand(fiveledger_platform::platform_tables::Migration),
            Step::expand(m20261128_000001_organisations::Migration),
            Step::expand(m20261128_000002_rounds::Migration),
            Step::expand(m20261128_000003_double_report_sweep::Migration),
            Step::expand(m20261128_000004_list_indexes::Migration),
            Step::expand(m20261210_000001_native_place::Migration),
            Step::expand(fiveledger_platform::platform_tables::OutboxOrganisation),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Step::expand(fiveledger_platform::platform_tables::OutboxTransactions),
            // Binaries from before schema versions cannot read them.
            Step::contract(fiveledger_platform::schema_compat::Migration),
            // Hand-offs at feedback (移交) and their acknowledgements.
            Step::expand(m20261202_000001_hand_offs::Migration),
            // What the receiving body did with a hand-off (办理结果).
            Step::expand(m20261213_000001_hand_off_results::Migration),
        ]
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        schema_compat::migrations::<Self>()
    }
}
