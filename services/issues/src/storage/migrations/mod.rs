//! Migrations, in order, each marked expand (binaries of the release
//! before still serve the schema) or contract (they no longer do): see
//! `fiveledger_platform::schema_compat` and the README's "Upgrades and
//! rollbacks". A contract step ships only in a release after the one
//! that stopped needing what it removes.

use fiveledger_platform::schema_compat::{self, Schema, Step};
use sea_orm_migration::prelude::*;

mod m20261128_000001_issues;
mod m20261128_000002_clue_transfers;
mod m20261201_000003_scope;
mod m20261202_000004_list_indexes;
mod m20261202_000005_clue_supervision;
mod m20261202_000005_recurrences;
pub(crate) mod m20261203_000006_problem_list_facts;
pub(crate) mod m20261204_000007_create_time_scope;

pub struct Migrator;

impl Schema for Migrator {
    /// Raise with every migration added (the count of the steps below).
    const VERSION: i64 = 14;

    fn steps() -> Vec<Step> {
        vec![
            Step::expand(fiveledger_platform::platform_tables::Migration),
            Step::expand(m20261128_000001_issues::Migration),
            Step::expand(m20261128_000002_clue_transfers::Migration),
            Step::expand(m20261201_000003_scope::Migration),
            // The levels of the bodies callers name (learnt from rounds).
            Step::expand(fiveledger_platform::levels::Migration),
            Step::expand(fiveledger_platform::platform_tables::OutboxOrganisation),
            // The access log of confidential reads.
            Step::expand(fiveledger_platform::access_log::Migration),
            // Every ListProblems filter served by an index in the list's order.
            Step::expand(m20261202_000004_list_indexes::Migration),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Step::expand(fiveledger_platform::platform_tables::OutboxTransactions),
            // Binaries from before schema versions cannot read them.
            Step::contract(fiveledger_platform::schema_compat::Migration),
            // Back-tracking (倒查): recurrences and the lists checked for them.
            Step::expand(m20261202_000005_recurrences::Migration),
            // Clue time limits and warnings, signatures, journal and
            // monthly reconciliations.
            Step::expand(m20261202_000005_clue_supervision::Migration),
            // A problem's list state, hand-over and running level on its
            // row (kept by triggers), so ListProblems checks no list per row.
            Step::expand(m20261203_000006_problem_list_facts::Migration),
            // The creation-time index carries what a walk checks, so that a
            // broad subtree is walked in creation order on the index alone.
            Step::expand(m20261204_000007_create_time_scope::Migration),
        ]
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        schema_compat::migrations::<Self>()
    }
}
