//! Maintained sums of the written-off entries' figures, changed in the
//! transaction of every posting that changes an entry's share. Written-off
//! entries are most of a ledger (the source: 93 %) and their figures no
//! longer depend on the day, so statistics read these sums plus the open
//! entries, never every entry. Two tables:
//!
//! - `entry_tallies`, per (target path, category): a whole subtree;
//! - `entry_rollups`, per (round, inspection, target path, category, month
//!   opened): a round, an inspection, whole months of a period, and any
//!   grouping by round. Its rows are fewer than the entries by the number
//!   an inspection finds of one category in a month.
//!
//! The month is the UTC calendar month of `create_time_us`, the instant a
//! statistics period is compared with (periods start at UTC midnight).

use chrono::{DateTime, Datelike, NaiveDate};
use fiveledger_platform::ApiResult;
use fiveledger_platform::colour::Colour;
use fiveledger_platform::storage::within_subtree;
use fiveledger_proto::ledgers::EntryState;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement, SimpleExpr};
use sea_orm::{Condition, ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::entries;
use super::statistics::{Group, KeyColumn};

/// The counted columns, in the order of [`Share::values`].
pub const COUNTS: [&str; 11] = [
    "found",
    "fixed_on_the_spot",
    "handed_over",
    "transferred",
    "reopened",
    "written_off_on_time",
    "funds_recovered_fen",
    "losses_recovered_fen",
    "people_held_accountable",
    "people_disciplined",
    "rules_established",
];

/// A table of sums, by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `entry_tallies`: (target_path, category).
    Tallies,
    /// `entry_rollups`: (round, inspection, target_path, category, month).
    Rollups,
}

impl Table {
    pub const ALL: [Table; 2] = [Table::Tallies, Table::Rollups];

    pub fn name(self) -> &'static str {
        match self {
            Table::Tallies => "entry_tallies",
            Table::Rollups => "entry_rollups",
        }
    }

    /// The key columns.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Table::Tallies => &["target_path", "category"],
            Table::Rollups => &["round", "inspection", "target_path", "category", "month"],
        }
    }
}

/// `YYYY-MM` of the UTC month holding the instant `us`.
pub fn month_of(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// The first instant (microseconds) of the month `(year, month)`, months
/// past December carried into the next year.
fn month_start_us(year: i32, month0: i64) -> i64 {
    let (y, m) = (
        i64::from(year) + month0.div_euclid(12),
        month0.rem_euclid(12) + 1,
    );
    NaiveDate::from_ymd_opt(y as i32, m as u32, 1)
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_or(i64::MAX, |t| t.timestamp_micros())
}

/// How much of a UTC instant [`utc_text`] writes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Utc {
    /// `YYYY-MM`, as `entry_rollups.month`.
    Month,
    /// `YYYY-MM-DD`, as `entry_open_tallies.opened`.
    Day,
}

/// SQL writing the instant `us` (microseconds, an SQL expression) as the
/// text of its UTC month or day, as [`month_of`] does in Rust.
pub(super) fn utc_text(us: &str, backend: DbBackend, unit: Utc) -> String {
    let (pg, sqlite) = match unit {
        Utc::Month => ("YYYY-MM", "%Y-%m"),
        Utc::Day => ("YYYY-MM-DD", "%Y-%m-%d"),
    };
    match backend {
        DbBackend::Postgres => {
            format!("to_char(to_timestamp({us} / 1000000) AT TIME ZONE 'UTC', '{pg}')")
        }
        _ => format!("strftime('{sqlite}', {us} / 1000000, 'unixepoch')"),
    }
}

/// A statistics period `[from, until)` split into whole months, which the
/// rollups answer, and the edges before and after them, which only the
/// entries can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Months {
    /// Whole months from this one (`YYYY-MM`, inclusive).
    pub from: Option<String>,
    /// Whole months before this one (exclusive).
    pub until: Option<String>,
    /// The instants of the period outside those months, `[from, until)`.
    pub edges: Vec<(Option<i64>, Option<i64>)>,
}

impl Months {
    pub fn split(from_us: Option<i64>, until_us: Option<i64>) -> Months {
        let start_of = |us: i64| {
            let t = DateTime::from_timestamp_micros(us).unwrap_or_default();
            (t.year(), i64::from(t.month0()))
        };
        // The first month starting at or after `from`, the last ending at
        // or before `until`.
        let lo = from_us.map(|us| {
            let (y, m) = start_of(us);
            let start = month_start_us(y, m);
            if start == us { (y, m) } else { (y, m + 1) }
        });
        let hi = until_us.map(start_of);
        let us = |(y, m): (i32, i64)| month_start_us(y, m);
        let text = |(y, m): (i32, i64)| month_of(us((y, m)));
        if let (Some(lo), Some(hi)) = (lo, hi)
            && us(lo) >= us(hi)
        {
            // No whole month inside: the period is one edge.
            return Months {
                from: Some(text(lo)),
                until: Some(text(lo)),
                edges: vec![(from_us, until_us)],
            };
        }
        let mut edges = Vec::new();
        if let (Some(from), Some(lo)) = (from_us, lo)
            && from < us(lo)
        {
            edges.push((Some(from), Some(us(lo))));
        }
        if let (Some(until), Some(hi)) = (until_us, hi)
            && us(hi) < until
        {
            edges.push((Some(us(hi)), Some(until)));
        }
        Months {
            from: lo.map(text),
            until: hi.map(text),
            edges,
        }
    }

    /// True when no whole month is inside.
    pub fn is_empty(&self) -> bool {
        matches!((&self.from, &self.until), (Some(f), Some(u)) if f >= u)
    }
}

/// One entry's share of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Share {
    target_path: String,
    category: String,
    round: String,
    inspection: String,
    month: String,
    values: [i64; 11],
}

impl Share {
    fn keys(&self, table: Table) -> Vec<SimpleExpr> {
        let mut keys: Vec<SimpleExpr> = Vec::new();
        if table == Table::Rollups {
            keys.push(self.round.clone().into());
            keys.push(self.inspection.clone().into());
        }
        keys.push(self.target_path.clone().into());
        keys.push(self.category.clone().into());
        if table == Table::Rollups {
            keys.push(self.month.clone().into());
        }
        keys
    }
}

/// The share of an entry as its projection stands: its figures once
/// written off, none while open (the same rules as the statistics' SQL).
fn share(e: &entries::Model) -> Option<Share> {
    if e.state != EntryState::WrittenOff.as_str_name() {
        return None;
    }
    let on_time = !e.first_written_off_date.is_empty()
        && e.first_written_off_date <= e.original_due_date
        && e.reopen_count == 0;
    Some(Share {
        target_path: e.target_path.clone(),
        category: e.category.clone(),
        round: e.round.clone(),
        inspection: e.inspection.clone(),
        month: month_of(e.create_time_us),
        values: [
            1,
            i64::from(e.fixed_on_the_spot),
            i64::from(!e.original_due_date.is_empty()),
            i64::from(e.transfer_count > 0),
            i64::from(e.reopen_count > 0),
            i64::from(on_time),
            e.funds_recovered_fen,
            e.losses_recovered_fen,
            e.people_held_accountable,
            e.people_disciplined,
            e.rules_established,
        ],
    })
}

/// The statements that move an entry's share from what `before` counted
/// to what `after` counts (none when they agree), for the posting's
/// transaction; each changes exactly one row.
pub fn shift(
    backend: DbBackend,
    before: Option<&entries::Model>,
    after: &entries::Model,
) -> Vec<Statement> {
    let (old, new) = (before.and_then(share), share(after));
    if old == new {
        return Vec::new();
    }
    let mut statements = Vec::new();
    for table in Table::ALL {
        if let Some(old) = &old {
            statements.push(add(backend, table, old, -1));
        }
        if let Some(new) = &new {
            statements.push(add(backend, table, new, 1));
        }
    }
    statements
}

/// Adds `sign` × the share to its row of `table` (made on first use): one
/// upsert, which changes exactly one row.
fn add(backend: DbBackend, table: Table, s: &Share, sign: i64) -> Statement {
    let name = table.name();
    let columns = table
        .keys()
        .iter()
        .chain(COUNTS.iter())
        .map(|c| Alias::new(*c));
    let mut values = s.keys(table);
    values.extend(s.values.iter().map(|v| (sign * v).into()));
    let mut on_conflict = OnConflict::columns(table.keys().iter().map(|c| Alias::new(*c)));
    for col in COUNTS {
        on_conflict.value(
            Alias::new(col),
            Expr::cust(format!("{name}.{col} + excluded.{col}")),
        );
    }
    let insert = Query::insert()
        .into_table(Alias::new(name))
        .columns(columns)
        .values_panic(values)
        .on_conflict(on_conflict)
        .to_owned();
    backend.build(&insert)
}

/// Recounts every row of both tables from the entries (after a projection
/// rebuild or a bulk load).
pub async fn rebuild(conn: &impl ConnectionTrait) -> ApiResult<()> {
    for table in Table::ALL {
        rebuild_table(conn, table).await?;
    }
    Ok(())
}

/// Recounts every row of `table` from the entries.
pub async fn rebuild_table(conn: &impl ConnectionTrait, table: Table) -> ApiResult<()> {
    let name = table.name();
    conn.execute_unprepared(&format!("DELETE FROM {name}"))
        .await?;
    let month = utc_text("create_time_us", conn.get_database_backend(), Utc::Month);
    let keys = table.keys().join(", ");
    let key_values = table
        .keys()
        .iter()
        .map(|k| if *k == "month" { month.as_str() } else { k })
        .collect::<Vec<_>>()
        .join(", ");
    let written_off = EntryState::WrittenOff.as_str_name();
    let on_time = "first_written_off_date <> '' AND first_written_off_date <= original_due_date \
                   AND reopen_count = 0";
    let flag = |c: &str| format!("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)");
    conn.execute_unprepared(&format!(
        "INSERT INTO {name} ({keys}, {}) \
         SELECT {key_values}, COUNT(*), SUM(fixed_on_the_spot), {}, {}, {}, {}, \
         SUM(funds_recovered_fen), SUM(losses_recovered_fen), SUM(people_held_accountable), \
         SUM(people_disciplined), SUM(rules_established) \
         FROM entries WHERE state = '{written_off}' GROUP BY {key_values}",
        COUNTS.join(", "),
        flag("original_due_date <> ''"),
        flag("transfer_count > 0"),
        flag("reopen_count > 0"),
        flag(on_time),
    ))
    .await?;
    Ok(())
}

/// Which written-off entries a read of the sums covers: a subtree, and
/// optionally a round, an inspection and whole months.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub subtree: String,
    pub round: Option<String>,
    pub inspection: Option<String>,
    /// Whole months (`Months::from`, `Months::until`), if not all time.
    pub months: Option<(Option<String>, Option<String>)>,
}

/// The written-off entries' figures that `filter` covers, keyed like
/// `statistics::groups` (colour unspecified: nothing written off has one),
/// from the fewest rows that answer: the tallies for a whole subtree not
/// grouped by round, the rollups otherwise. A written-off entry was handed
/// over and is due so far.
pub async fn groups(
    conn: &impl ConnectionTrait,
    filter: &Filter,
    key: KeyColumn,
) -> ApiResult<Vec<Group>> {
    read_groups(conn, &groups_select(filter, key)).await
}

/// The rows of a SELECT of sums ([`sums_select`]) as groups.
pub(super) async fn read_groups(
    conn: &impl ConnectionTrait,
    select: &SelectStatement,
) -> ApiResult<Vec<Group>> {
    let rows = conn.query_all(select).await?;
    Ok(rows
        .iter()
        .map(|r| Group::from_query_result(r, ""))
        .collect::<Result<_, _>>()?)
}

/// The SELECT of [`groups`].
pub fn groups_select(filter: &Filter, key: KeyColumn) -> sea_orm::sea_query::SelectStatement {
    let narrowed = filter.round.is_some() || filter.inspection.is_some() || filter.months.is_some();
    let table = if narrowed || key == KeyColumn::Round {
        Table::Rollups
    } else {
        Table::Tallies
    };
    let col = |c: &str| Expr::col(Alias::new(c));
    let mut cond = Condition::all().add(within_subtree(Alias::new("target_path"), &filter.subtree));
    if let Some(round) = &filter.round {
        cond = cond.add(col("round").eq(round.clone()));
    }
    if let Some(inspection) = &filter.inspection {
        cond = cond.add(col("inspection").eq(inspection.clone()));
    }
    if let Some((from, until)) = &filter.months {
        if let Some(from) = from {
            cond = cond.add(col("month").gte(from.clone()));
        }
        if let Some(until) = until {
            cond = cond.add(col("month").lt(until.clone()));
        }
    }
    let mut select = sums_select(
        table.name(),
        key,
        Colour::Unspecified.sql(),
        Expr::cust("CAST(SUM(found) AS BIGINT)"),
        Expr::cust("CAST(SUM(handed_over) AS BIGINT)"),
    );
    select
        .cond_where(cond)
        // Rows whose entries were all reopened count nothing.
        .and_having(Expr::cust("SUM(found) > 0"));
    select
}

/// A SELECT of the sums in `table` as the columns of `statistics::Group`,
/// grouped by `key`'s column, with the colour, written-off and due-so-far
/// figures given (the rest are the table's sums of the same names).
pub(super) fn sums_select(
    table: &str,
    key: KeyColumn,
    colour: Expr,
    written_off: Expr,
    due_so_far: Expr,
) -> SelectStatement {
    let col = |c: &str| Expr::col(Alias::new(c));
    let sum = |c: &str| Expr::cust(format!("CAST(SUM({c}) AS BIGINT)"));
    let mut select = Query::select();
    select.from(Alias::new(table));
    let key_col = match key {
        KeyColumn::TargetPath => Some("target_path"),
        KeyColumn::Category => Some("category"),
        KeyColumn::Round => Some("round"),
        KeyColumn::None => None,
    };
    match key_col {
        Some(c) => select.expr_as(col(c), "key").group_by_col(Alias::new(c)),
        None => select.expr_as(Expr::cust("''"), "key"),
    };
    select
        .expr_as(colour, "colour")
        .expr_as(sum("found"), "found")
        .expr_as(sum("fixed_on_the_spot"), "fixed_on_the_spot")
        .expr_as(sum("handed_over"), "handed_over")
        .expr_as(sum("transferred"), "transferred")
        .expr_as(written_off, "written_off")
        .expr_as(sum("reopened"), "reopened")
        .expr_as(due_so_far, "due_so_far")
        .expr_as(sum("written_off_on_time"), "written_off_on_time")
        .expr_as(sum("funds_recovered_fen"), "funds_recovered_fen")
        .expr_as(sum("losses_recovered_fen"), "losses_recovered_fen")
        .expr_as(sum("people_held_accountable"), "people_held_accountable")
        .expr_as(sum("people_disciplined"), "people_disciplined")
        .expr_as(sum("rules_established"), "rules_established");
    select
}

/// What is wrong with the tallies and rollups of the subtree `path`, if
/// anything: they must equal the same sums taken over its written-off
/// entries one by one.
pub async fn check(
    conn: &impl ConnectionTrait,
    path: &str,
    today: chrono::NaiveDate,
    t: &crate::domain::warning::Thresholds,
) -> ApiResult<Option<String>> {
    let written_off = Condition::all()
        .add(sea_orm::ColumnTrait::eq(
            &entries::Column::State,
            EntryState::WrittenOff.as_str_name(),
        ))
        .add(within_subtree(entries::Column::TargetPath, path));
    let counted =
        super::statistics::groups_where(conn, written_off, KeyColumn::Round, today, t).await?;
    let filter = Filter {
        subtree: path.to_owned(),
        ..Default::default()
    };
    let total = |groups: &[Group]| {
        groups.iter().fold(Group::default(), |mut sum, g| {
            super::statistics::add_group(&mut sum, g);
            sum
        })
    };
    let kept_tallies = total(&groups(conn, &filter, KeyColumn::None).await?);
    let mut kept_rollups = groups(conn, &filter, KeyColumn::Round).await?;
    let mut counted = counted;
    kept_rollups.sort_by(|a, b| a.key.cmp(&b.key));
    counted.sort_by(|a, b| a.key.cmp(&b.key));
    let counted_total = total(&counted);
    let place = if path.is_empty() { "everything" } else { path };
    if kept_tallies != counted_total {
        return Ok(Some(format!(
            "the statistics' tallies of {place} differ from its written-off entries: kept {kept_tallies:?}, counted {counted_total:?}"
        )));
    }
    Ok((kept_rollups != counted).then(|| {
        format!(
            "the statistics' rollups of {place} by round differ from its written-off entries: kept {kept_rollups:?}, counted {counted:?}"
        )
    }))
}
