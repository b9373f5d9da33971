//! Statistics over the entries projection: one GROUP BY over indexed
//! columns (scope by target subtree, round or inspection), never the
//! journal. Rows come back per (key, colour) and are folded by the caller;
//! the colour is the shared rule's SQL (`entries::colour`), a `Colour::code`.

use chrono::NaiveDate;
use fiveledger_platform::ApiResult;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::within_subtree;
use fiveledger_proto::ledgers::EntryState;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};

use super::books;
use super::entries::{self, Column as C};
use super::open_tallies;
use super::tallies::{self, Months};
use crate::domain::warning::Thresholds;

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The entries not written off (every other state), as SQL with the state
/// written out (not a bound value), so that SQLite and PostgreSQL both see
/// that the partial indexes over them (`entries_open_*`, whose predicate
/// is this text) apply.
pub const OPEN: &str = "state <> 'ENTRY_STATE_WRITTEN_OFF'";

/// The entries not yet handed over, as [`OPEN`] is written.
pub const NOT_HANDED_OVER: &str = "state = 'ENTRY_STATE_OPEN'";

/// Every column a statistics read of entries touches (the figures, the
/// colour's inputs, the scopes and `books::visible_to`): the partial
/// indexes over the open entries, and the index of all by opening instant
/// (a period's edge days), hold them all, so a read never visits the rows.
pub const COVERING: [&str; 23] = [
    "state",
    "target_path",
    "round",
    "inspection",
    "create_time_us",
    "category",
    "due_date",
    "yellow_count",
    "colour_floor",
    "original_due_date",
    "first_written_off_date",
    "reopen_count",
    "transfer_count",
    "fixed_on_the_spot",
    "funds_recovered_fen",
    "losses_recovered_fen",
    "people_held_accountable",
    "people_disciplined",
    "rules_established",
    "round_organisation_path",
    "responsible_unit_path",
    "supervising_body_path",
    "id",
];

/// Which entries a statistic counts, of those the caller sees.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Targets within this subtree.
    pub subtree: Option<String>,
    /// Of this round (its resource name).
    pub round: Option<String>,
    /// Of this inspection (its resource name).
    pub inspection: Option<String>,
    /// Opened at or after this instant (microseconds).
    pub created_from_us: Option<i64>,
    /// Opened before this instant (microseconds).
    pub created_until_us: Option<i64>,
    /// Which entries by state.
    pub states: States,
}

/// Which entries a scope counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum States {
    #[default]
    All,
    /// Not written off (their colour depends on the day).
    Open,
    /// Not yet handed over (`open_tallies` counts the others not written
    /// off).
    NotHandedOver,
    WrittenOff,
}

/// The SELECT of [`groups`] (for plans and tests).
pub fn groups_select(
    caller: &Caller,
    scope: &Scope,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> sea_orm::Select<entries::Entity> {
    select_where(scope.condition(caller), key, today, t)
}

impl Scope {
    fn condition(&self, caller: &Caller) -> Condition {
        let mut c = Condition::all().add(books::visible_to(caller));
        if let Some(path) = &self.subtree {
            c = c.add(within_subtree(C::TargetPath, path));
            if !path.is_empty() {
                // The same subtree as one range (it holds the subtree and
                // paths beside it, such as `path-x`, which the term above
                // refuses), so that an index of the open entries answers:
                // SQLite reads an OR by index only through full indexes.
                c = c.add(C::TargetPath.gte(path.clone()));
                c = c.add(C::TargetPath.lt(format!("{path}0")));
            }
        }
        if let Some(round) = &self.round {
            c = c.add(C::Round.eq(round.clone()));
        }
        if let Some(inspection) = &self.inspection {
            c = c.add(C::Inspection.eq(inspection.clone()));
        }
        if let Some(from) = self.created_from_us {
            c = c.add(C::CreateTimeUs.gte(from));
        }
        if let Some(until) = self.created_until_us {
            c = c.add(C::CreateTimeUs.lt(until));
        }
        match self.states {
            States::All => {}
            States::Open => c = c.add(Expr::cust(OPEN)),
            States::WrittenOff => c = c.add(C::State.eq(EntryState::WrittenOff.as_str_name())),
            // Written out, so that the index led by the state applies.
            States::NotHandedOver => c = c.add(Expr::cust(NOT_HANDED_OVER)),
        }
        c
    }
}

/// Which column the rows are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyColumn {
    None,
    TargetPath,
    Round,
    Category,
}

/// One (key, colour) group's sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromQueryResult)]
pub struct Group {
    pub key: String,
    pub colour: i32,
    pub found: i64,
    pub fixed_on_the_spot: i64,
    pub handed_over: i64,
    pub transferred: i64,
    pub written_off: i64,
    pub reopened: i64,
    pub due_so_far: i64,
    pub written_off_on_time: i64,
    pub funds_recovered_fen: i64,
    pub losses_recovered_fen: i64,
    pub people_held_accountable: i64,
    pub people_disciplined: i64,
    pub rules_established: i64,
}

/// The (key, colour) groups of the entries in `scope` that `caller` sees,
/// coloured as on `today`.
pub async fn groups(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    scope: &Scope,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Vec<Group>> {
    groups_where(conn, scope.condition(caller), key, today, t).await
}

/// [`groups`] for a caller who sees exactly the entries of the subtree
/// `seen` (see `tally_scope`), from maintained figures: the written-off
/// entries from the tallies or rollups (a period's whole months; its edge
/// days, if any, entry by entry); the open ones, whose colour depends on
/// the day, of a subtree and period from `open_tallies` (coloured per row
/// of sums) and the few not handed over entry by entry, of a round or an
/// inspection entry by entry; each read by an index of its scope.
pub async fn maintained_groups(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    seen: &str,
    scope: &Scope,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Vec<Group>> {
    let scope = Scope {
        subtree: Some(seen.to_owned()),
        ..scope.clone()
    };
    let period = scope.created_from_us.is_some() || scope.created_until_us.is_some();
    let months = period.then(|| Months::split(scope.created_from_us, scope.created_until_us));
    let mut out = Vec::new();
    if !months.as_ref().is_some_and(Months::is_empty) {
        let filter = tallies::Filter {
            subtree: seen.to_owned(),
            round: scope.round.clone(),
            inspection: scope.inspection.clone(),
            months: months.as_ref().map(|m| (m.from.clone(), m.until.clone())),
        };
        out = tallies::groups(conn, &filter, key).await?;
    }
    for (from, until) in months.map(|m| m.edges).unwrap_or_default() {
        let edge = Scope {
            created_from_us: from,
            created_until_us: until,
            states: States::WrittenOff,
            ..scope.clone()
        };
        out.extend(groups(conn, caller, &edge, key, today, t).await?);
    }
    if let Some(filter) = open_tallies::Filter::of(seen, &scope) {
        out.extend(open_tallies::groups(conn, &filter, key, today, t).await?);
        let not_handed_over = Scope {
            states: States::NotHandedOver,
            ..scope
        };
        out.extend(groups(conn, caller, &not_handed_over, key, today, t).await?);
    } else {
        let open = Scope {
            states: States::Open,
            ..scope
        };
        out.extend(groups(conn, caller, &open, key, today, t).await?);
    }
    Ok(out)
}

/// Adds the figures of `g` to `into` (its key and colour stay).
pub fn add_group(into: &mut Group, g: &Group) {
    into.found += g.found;
    into.fixed_on_the_spot += g.fixed_on_the_spot;
    into.handed_over += g.handed_over;
    into.transferred += g.transferred;
    into.written_off += g.written_off;
    into.reopened += g.reopened;
    into.due_so_far += g.due_so_far;
    into.written_off_on_time += g.written_off_on_time;
    into.funds_recovered_fen += g.funds_recovered_fen;
    into.losses_recovered_fen += g.losses_recovered_fen;
    into.people_held_accountable += g.people_held_accountable;
    into.people_disciplined += g.people_disciplined;
    into.rules_established += g.rules_established;
}

/// [`groups`] of the entries matching `filter`.
pub(super) async fn groups_where(
    conn: &impl ConnectionTrait,
    filter: Condition,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Vec<Group>> {
    let select = select_where(filter, key, today, t);
    Ok(select.into_model::<Group>().all(conn).await?)
}

/// The SELECT of [`groups_where`].
fn select_where(
    filter: Condition,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> sea_orm::Select<entries::Entity> {
    let colour = entries::colour(today, t);
    let today = day(today);
    let written_off = EntryState::WrittenOff.as_str_name();
    let sum = |e: String| Expr::cust(format!("CAST(SUM({e}) AS BIGINT)"));
    let flag = |c: String| sum(format!("CASE WHEN {c} THEN 1 ELSE 0 END"));
    let mut select = entries::Entity::find().select_only();
    let key_col = match key {
        KeyColumn::None => None,
        KeyColumn::TargetPath => Some(C::TargetPath),
        KeyColumn::Round => Some(C::Round),
        KeyColumn::Category => Some(C::Category),
    };
    select = match key_col {
        Some(col) => select.column_as(col, "key"),
        None => select.column_as(Expr::cust("''"), "key"),
    };
    let on_time = "first_written_off_date <> '' AND first_written_off_date <= original_due_date";
    let select = select
        .column_as(colour.clone(), "colour")
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "found")
        .column_as(sum("fixed_on_the_spot".into()), "fixed_on_the_spot")
        .column_as(flag("original_due_date <> ''".into()), "handed_over")
        .column_as(flag("transfer_count > 0".into()), "transferred")
        .column_as(flag(format!("state = '{written_off}'")), "written_off")
        .column_as(flag("reopen_count > 0".into()), "reopened")
        .column_as(
            flag(format!(
                "original_due_date <> '' AND (original_due_date < '{today}' OR ({on_time}))"
            )),
            "due_so_far",
        )
        .column_as(
            flag(format!("{on_time} AND reopen_count = 0")),
            "written_off_on_time",
        )
        .column_as(sum("funds_recovered_fen".into()), "funds_recovered_fen")
        .column_as(sum("losses_recovered_fen".into()), "losses_recovered_fen")
        .column_as(
            sum("people_held_accountable".into()),
            "people_held_accountable",
        )
        .column_as(sum("people_disciplined".into()), "people_disciplined")
        .column_as(sum("rules_established".into()), "rules_established")
        .filter(filter)
        // The colour first: no index is in that order, so the planner
        // picks the one that reads fewest rows, not one in the key's order.
        .group_by(colour);
    match key_col {
        Some(col) => select.group_by(col),
        None => select,
    }
}
