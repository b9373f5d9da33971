//! Maintained sums of the open entries' figures per unit, round, category
//! and day opened, keyed also by what their colour and "due so far" on any
//! day depend on: the due dates, whether a yellow was already shown and the
//! colour floor. A statistic of a subtree, over all time or a period of
//! days, colours these rows, not each open entry: at a million entries a
//! whole tree's some 70,000 open entries took 60–200 ms to colour and
//! group one by one. The rows are about as many as the inspections'
//! (unit, category, due date) among them: an inspection posts its problems
//! on one day and hands them over with one or two due dates.
//!
//! Only entries handed over and not written off are counted: an entry not
//! yet handed over is seen by the office running its round (a column not
//! kept here), and those few are read one by one.
//!
//! The database keeps the sums, by triggers on `entries` (every insert,
//! update and delete moves the entry's share in the same transaction), so
//! they hold whichever binary writes: the release before this one during a
//! rollout or after a rollback (an expand step), a bulk import, a
//! projection rebuild. A row whose entries all left is deleted.

use chrono::{DateTime, NaiveDate};
use fiveledger_platform::ApiResult;
use fiveledger_platform::colour::ItemColumns;
use fiveledger_platform::storage::within_subtree;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SelectStatement};
use sea_orm::{Condition, ConnectionTrait, DbBackend};

use super::statistics::{Group, KeyColumn, Scope};
use super::tallies::{COUNTS, Utc, utc_text};
use crate::domain::warning::Thresholds;

pub const TABLE: &str = "entry_open_tallies";

/// The entries counted, as SQL over the row `x` (state names written out,
/// as the partial indexes' predicates are).
pub fn counted(x: &str) -> String {
    format!("{x}.state NOT IN ('ENTRY_STATE_OPEN', 'ENTRY_STATE_WRITTEN_OFF')")
}

/// The key columns, each with its value for the entry row `x`.
pub fn keys(x: &str, backend: DbBackend) -> [(&'static str, String); 9] {
    [
        ("target_path", format!("{x}.target_path")),
        // A unit's open entries are of a round or two: few more rows, and
        // a grouping by round reads these too.
        ("round", format!("{x}.round")),
        ("category", format!("{x}.category")),
        // The UTC day it was opened (a period's days): an inspection's
        // problems are posted together, on one day.
        (
            "opened",
            utc_text(&format!("{x}.create_time_us"), backend, Utc::Day),
        ),
        ("due_date", format!("{x}.due_date")),
        ("original_due_date", format!("{x}.original_due_date")),
        // A second overdue is red (`Ladder::yellows`).
        (
            "yellows",
            format!("CASE WHEN {x}.yellow_count > 0 THEN 1 ELSE 0 END"),
        ),
        ("colour_floor", format!("{x}.colour_floor")),
        // Written off by its original due date once (then reopened).
        ("early", format!("CASE WHEN {} THEN 1 ELSE 0 END", early(x))),
    ]
}

fn early(x: &str) -> String {
    format!(
        "{x}.first_written_off_date <> '' AND {x}.first_written_off_date <= {x}.original_due_date"
    )
}

/// The counted columns (`tallies::COUNTS`), each with the entry row `x`'s
/// share.
pub fn counts(x: &str) -> Vec<(&'static str, String)> {
    let flag = |c: String| format!("CASE WHEN {c} THEN 1 ELSE 0 END");
    let values = [
        "1".to_owned(),
        format!("{x}.fixed_on_the_spot"),
        flag(format!("{x}.original_due_date <> ''")),
        flag(format!("{x}.transfer_count > 0")),
        flag(format!("{x}.reopen_count > 0")),
        flag(format!("{} AND {x}.reopen_count = 0", early(x))),
        format!("{x}.funds_recovered_fen"),
        format!("{x}.losses_recovered_fen"),
        format!("{x}.people_held_accountable"),
        format!("{x}.people_disciplined"),
        format!("{x}.rules_established"),
    ];
    COUNTS.into_iter().zip(values).collect()
}

/// Every column of the table, keys first, as a list for an INSERT.
fn columns() -> String {
    keys("", DbBackend::Sqlite)
        .into_iter()
        .chain(counts(""))
        .map(|(c, _)| c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `entries` a share is computed from: an update that
/// changes none of them moves nothing.
const INPUTS: [&str; 18] = [
    "state",
    "create_time_us",
    "target_path",
    "round",
    "category",
    "due_date",
    "original_due_date",
    "yellow_count",
    "colour_floor",
    "first_written_off_date",
    "fixed_on_the_spot",
    "transfer_count",
    "reopen_count",
    "funds_recovered_fen",
    "losses_recovered_fen",
    "people_held_accountable",
    "people_disciplined",
    "rules_established",
];

/// Adds (`sign` 1) or removes (-1) the share of the entry row `x` (`NEW`
/// or `OLD`), when it is counted: one upsert, then (removing) the row
/// deleted if nothing is left in it.
fn move_share(x: &str, sign: i64, backend: DbBackend) -> Vec<String> {
    let keys = keys(x, backend);
    let counts = counts(x);
    let columns = columns();
    let values = keys
        .iter()
        .map(|(_, v)| v.clone())
        .chain(counts.iter().map(|(_, v)| format!("{sign} * ({v})")))
        .collect::<Vec<_>>()
        .join(", ");
    let key_names = keys.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
    let add = COUNTS
        .iter()
        .map(|c| format!("{c} = {TABLE}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // `INSERT … SELECT … WHERE`: the WHERE also keeps SQLite from reading
    // ON CONFLICT as a join's ON.
    let mut out = vec![format!(
        "INSERT INTO {TABLE} ({columns}) SELECT {values} WHERE {} \
         ON CONFLICT ({key_names}) DO UPDATE SET {add}",
        counted(x)
    )];
    if sign < 0 {
        let same = keys
            .iter()
            .map(|(c, v)| format!("{TABLE}.{c} = {v}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        // Qualified: in PL/pgSQL a bare `found` is its FOUND variable.
        out.push(format!(
            "DELETE FROM {TABLE} WHERE {same} AND {TABLE}.found = 0"
        ));
    }
    out
}

/// The SQL that creates the triggers keeping the sums.
pub fn triggers(backend: DbBackend) -> Vec<String> {
    let (old, new) = (
        move_share("OLD", -1, backend),
        move_share("NEW", 1, backend),
    );
    let changed = |is_not: &str| {
        let row = |x: &str| {
            INPUTS
                .iter()
                .map(|c| format!("{x}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("({}) {is_not} ({})", row("OLD"), row("NEW"))
    };
    let body = |parts: &[&Vec<String>]| {
        parts
            .iter()
            .flat_map(|p| p.iter())
            .map(|s| format!("{s};"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match backend {
        DbBackend::Postgres => vec![
            format!(
                "CREATE FUNCTION entries_open_tallies() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   IF TG_OP <> 'INSERT' THEN {} END IF; \
                   IF TG_OP <> 'DELETE' THEN {} END IF; \
                   RETURN NULL; \
                 END $$",
                body(&[&old]),
                body(&[&new])
            ),
            "CREATE TRIGGER entries_open_tallies AFTER INSERT OR DELETE ON entries \
             FOR EACH ROW EXECUTE FUNCTION entries_open_tallies()"
                .to_owned(),
            format!(
                "CREATE TRIGGER entries_open_tallies_update AFTER UPDATE ON entries \
                 FOR EACH ROW WHEN ({}) EXECUTE FUNCTION entries_open_tallies()",
                changed("IS DISTINCT FROM")
            ),
        ],
        _ => vec![
            format!(
                "CREATE TRIGGER entries_open_tallies_insert AFTER INSERT ON entries \
                 BEGIN {} END",
                body(&[&new])
            ),
            format!(
                "CREATE TRIGGER entries_open_tallies_update AFTER UPDATE ON entries \
                 WHEN {} BEGIN {} END",
                changed("IS NOT"),
                body(&[&old, &new])
            ),
            format!(
                "CREATE TRIGGER entries_open_tallies_delete AFTER DELETE ON entries \
                 BEGIN {} END",
                body(&[&old])
            ),
        ],
    }
}

/// Recounts every row from the entries (the migration's backfill; after a
/// bulk load that went without the triggers).
pub async fn rebuild(conn: &impl ConnectionTrait) -> ApiResult<()> {
    conn.execute_unprepared(&format!("DELETE FROM {TABLE}"))
        .await?;
    let keys = keys("entries", conn.get_database_backend());
    let counts = counts("entries");
    let columns = columns();
    let key_values = keys
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let sums = counts
        .iter()
        .map(|(_, v)| format!("SUM({v})"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute_unprepared(&format!(
        "INSERT INTO {TABLE} ({columns}) SELECT {key_values}, {sums} FROM entries \
         WHERE {} GROUP BY {key_values}",
        counted("entries")
    ))
    .await?;
    Ok(())
}

/// Which counted entries a read of the sums covers: a subtree, and the
/// days they were opened on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub subtree: String,
    /// Opened on this day (`YYYY-MM-DD`) or after.
    pub opened_from: Option<String>,
    /// Opened before this day.
    pub opened_until: Option<String>,
}

impl Filter {
    /// The filter of `scope`'s open entries within the subtree `seen`, when
    /// these sums answer it: a subtree over whole UTC days (as periods
    /// are). Not a round or an inspection: their open entries are few, and
    /// read by indexes of their own.
    pub fn of(seen: &str, scope: &Scope) -> Option<Filter> {
        if scope.round.is_some() || scope.inspection.is_some() {
            return None;
        }
        let day = |us: Option<i64>| -> Option<Option<String>> {
            let Some(us) = us else { return Some(None) };
            (us.rem_euclid(86_400_000_000) == 0).then(|| {
                DateTime::from_timestamp_micros(us).map(|t| t.format("%Y-%m-%d").to_string())
            })
        };
        Some(Filter {
            subtree: seen.to_owned(),
            opened_from: day(scope.created_from_us)?,
            opened_until: day(scope.created_until_us)?,
        })
    }
}

/// The counted entries' figures that `filter` covers, coloured as on
/// `today`, keyed like `statistics::groups`.
pub async fn groups(
    conn: &impl ConnectionTrait,
    filter: &Filter,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Vec<Group>> {
    super::tallies::read_groups(conn, &groups_select(filter, key, today, t)).await
}

/// The SELECT of [`groups`].
pub fn groups_select(
    filter: &Filter,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> SelectStatement {
    let col = |c: &str| Expr::col(Alias::new(c));
    let colour = t.rule().sql(
        today,
        &ItemColumns {
            due: col("due_date"),
            // Nothing counted here is closed.
            closed: Condition::all().add(Expr::cust("1 = 0")),
            yellows: col("yellows"),
            floor: col("colour_floor"),
        },
    );
    let today = today.format("%Y-%m-%d");
    let subtree = filter.subtree.as_str();
    let mut cond = Condition::all().add(within_subtree(Alias::new("target_path"), subtree));
    if !subtree.is_empty() {
        // The subtree as one range too, as `statistics::Scope` writes it.
        cond = cond
            .add(col("target_path").gte(subtree))
            .add(col("target_path").lt(format!("{subtree}0")));
    }
    if let Some(from) = &filter.opened_from {
        cond = cond.add(col("opened").gte(from.clone()));
    }
    if let Some(until) = &filter.opened_until {
        cond = cond.add(col("opened").lt(until.clone()));
    }
    let mut select = super::tallies::sums_select(
        TABLE,
        key,
        colour.clone(),
        Expr::cust("CAST(0 AS BIGINT)"),
        Expr::cust(format!(
            "CAST(SUM(CASE WHEN original_due_date <> '' \
             AND (original_due_date < '{today}' OR early = 1) THEN found ELSE 0 END) AS BIGINT)"
        )),
    );
    select.cond_where(cond).add_group_by([colour]);
    select
}

/// What is wrong with the sums of the subtree `path`, if anything: they
/// must equal the same figures taken over its counted entries one by one.
pub async fn check(
    conn: &impl ConnectionTrait,
    path: &str,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Option<String>> {
    let entries = Condition::all()
        .add(Expr::cust(counted("entries")))
        .add(within_subtree(super::entries::Column::TargetPath, path));
    let sorted = |mut g: Vec<Group>| {
        g.sort_by(|a, b| (&a.key, a.colour).cmp(&(&b.key, b.colour)));
        g
    };
    let counted = sorted(
        super::statistics::groups_where(conn, entries, KeyColumn::TargetPath, today, t).await?,
    );
    let filter = Filter {
        subtree: path.to_owned(),
        ..Default::default()
    };
    let kept = sorted(groups(conn, &filter, KeyColumn::TargetPath, today, t).await?);
    let place = if path.is_empty() { "everything" } else { path };
    Ok((kept != counted).then(|| {
        format!(
            "the statistics' open tallies of {place} differ from its open entries: kept {kept:?}, counted {counted:?}"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_of_days_is_answered_by_its_days_and_a_round_is_not() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("day");
        let period = fiveledger_platform::time::Period {
            start: Some(day(2026, 1, 15)),
            end: Some(day(2026, 2, 10)),
        };
        let scope = Scope {
            created_from_us: period.from_time().map(|t| t.timestamp_micros()),
            created_until_us: period.until_time().map(|t| t.timestamp_micros()),
            ..Default::default()
        };
        assert_eq!(
            Filter::of("gx", &scope),
            Some(Filter {
                subtree: "gx".into(),
                opened_from: Some("2026-01-15".into()),
                // The period's end day is in it.
                opened_until: Some("2026-02-11".into()),
            })
        );
        let mid_day = Scope {
            created_from_us: scope.created_from_us.map(|us| us + 1),
            ..scope.clone()
        };
        assert_eq!(Filter::of("gx", &mid_day), None);
        let round = Scope {
            round: Some("rounds/r1".into()),
            ..Default::default()
        };
        assert_eq!(Filter::of("", &round), None);
        assert_eq!(Filter::of("", &Scope::default()), Some(Filter::default()));
    }
}
