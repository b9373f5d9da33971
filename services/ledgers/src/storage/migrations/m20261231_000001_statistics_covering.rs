//! Statistics read their scope's rows from indexes that hold every column
//! the statistics' SQL reads (covering), so that a million entries cost
//! index ranges, not a lookup of the entry's whole row (with its
//! snapshot) per open entry or per rollup row:
//!
//! - the open entries (not written off, a few in a hundred), read one by
//!   one because their colour depends on the day: partial indexes over
//!   them only, one per scope column (target subtree, round, inspection,
//!   opening instant), each carrying the figures, the colour's inputs and
//!   the columns of `books::visible_to`;
//! - every entry by state and opening instant, with the same columns: the edge days
//!   of a period (before its first whole month, after its last), which
//!   the monthly rollups cannot answer, read entry by entry;
//! - the rollups of whole months of a period, and of a round, in that
//!   order, with their sums.
//!
//! The open entries' predicate is `statistics::OPEN`, which the query
//! repeats word for word (so both databases can prove the index applies).
//! Additive: indexes only.

use sea_orm_migration::prelude::*;

use crate::storage::statistics::{COVERING, OPEN};
use crate::storage::tallies::{COUNTS, Table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for (name, first, only) in [
            ("entries_open_target", &["target_path"][..], Some(OPEN)),
            ("entries_open_round", &["round"], Some(OPEN)),
            ("entries_open_inspection", &["inspection"], Some(OPEN)),
            ("entries_open_create_time", &["create_time_us"], Some(OPEN)),
            (
                "entries_create_time_figures",
                &["state", "create_time_us"],
                None,
            ),
        ] {
            let cols = first
                .iter()
                .copied()
                .chain(COVERING.iter().copied().filter(|c| !first.contains(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let only = only.map(|p| format!(" WHERE {p}")).unwrap_or_default();
            conn.execute_unprepared(&format!("CREATE INDEX {name} ON entries ({cols}){only}"))
                .await?;
        }
        let rollups = Table::Rollups.name();
        for (name, keys) in [
            (
                "entry_rollups_month_sums",
                ["month", "target_path", "round", "inspection", "category"],
            ),
            (
                "entry_rollups_round_sums",
                ["round", "inspection", "target_path", "category", "month"],
            ),
        ] {
            let cols = keys
                .iter()
                .chain(COUNTS.iter())
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            conn.execute_unprepared(&format!("CREATE INDEX {name} ON {rollups} ({cols})"))
                .await?;
        }
        Ok(())
    }
}
