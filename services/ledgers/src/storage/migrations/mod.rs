//! Migrations, in order, each marked expand (binaries of the release
//! before still serve the schema) or contract (they no longer do): see
//! `fiveledger_platform::schema_compat` and the README's "Upgrades and
//! rollbacks". A contract step ships only in a release after the one
//! that stopped needing what it removes.

use fiveledger_platform::schema_compat::{self, Schema, Step};
use sea_orm_migration::prelude::*;

mod m20261128_000001_ledger;
mod m20261128_000002_supervision;
mod m20261128_000003_step_dates_and_tallies;
mod m20261128_000004_entry_receivers;
mod m20261201_000005_round_organisation;
mod m20261210_000001_replay_plan_versions_and_ladders;
mod m20261211_000001_list_indexes;
mod m20261215_000001_rollups;
mod m20261216_000001_assessments;
mod m20261220_000001_notice_replies_and_interviews;
mod m20261230_000001_functional_departments;
mod m20261230_000002_joint_supervisions;
mod m20261231_000001_statistics_covering;
mod m20270101_000001_look_back_campaigns;
mod m20270102_000001_open_tallies;

pub struct Migrator;

impl Schema for Migrator {
    /// Raise with every migration added (the count of the steps below).
    const VERSION: i64 = 21;

    fn steps() -> Vec<Step> {
        vec![
            Step::expand(fiveledger_platform::platform_tables::Migration),
            Step::expand(m20261128_000001_ledger::Migration),
            Step::expand(m20261128_000002_supervision::Migration),
            Step::expand(m20261128_000003_step_dates_and_tallies::Migration),
            Step::expand(m20261128_000004_entry_receivers::Migration),
            Step::expand(m20261201_000005_round_organisation::Migration),
            Step::expand(m20261210_000001_replay_plan_versions_and_ladders::Migration),
            // The levels of the bodies callers name (learnt from rounds).
            Step::expand(fiveledger_platform::levels::Migration),
            Step::expand(fiveledger_platform::platform_tables::OutboxOrganisation),
            // The access log of confidential reads.
            Step::expand(fiveledger_platform::access_log::Migration),
            // ListEntries by due date served by an index in that order.
            Step::expand(m20261211_000001_list_indexes::Migration),
            // Statistics of a round, an inspection or a period from sums.
            Step::expand(m20261215_000001_rollups::Migration),
            // Events ordered by transaction on PostgreSQL: writers do not queue.
            Step::expand(fiveledger_platform::platform_tables::OutboxTransactions),
            // Binaries from before schema versions cannot read them.
            Step::contract(fiveledger_platform::schema_compat::Migration),
            // Assessments of lower levels' inspection work (巡察工作考核评价).
            Step::expand(m20261216_000001_assessments::Migration),
            // Notices' reply items and the day an item turned red (约谈).
            Step::expand(m20261220_000001_notice_replies_and_interviews::Migration),
            // Responsibility list (4): the functional department sees its entries.
            Step::expand(m20261230_000001_functional_departments::Migration),
            // Joint supervisions (联合督查) and their findings.
            Step::expand(m20261230_000002_joint_supervisions::Migration),
            // Statistics read open entries and rollups from covering indexes.
            Step::expand(m20261231_000001_statistics_covering::Migration),
            // Look-back campaigns (回头看): reports, key problems, suggestions, spot checks.
            Step::expand(m20270101_000001_look_back_campaigns::Migration),
            // Statistics of a subtree colour its open entries from sums.
            Step::expand(m20270102_000001_open_tallies::Migration),
        ]
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        schema_compat::migrations::<Self>()
    }
}

/// A required text column of at most `len` characters.
fn text_column(name: &'static str, len: u32) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string_len(len).not_null();
    c
}

/// The counted columns of a table of sums (`tallies::COUNTS`), zero at first.
fn count_columns(table: &mut TableCreateStatement) {
    for name in crate::storage::tallies::COUNTS {
        table.col(
            ColumnDef::new(Alias::new(name))
                .big_integer()
                .not_null()
                .default(0),
        );
    }
}
