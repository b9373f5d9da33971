//! Statistics over the entries projection: one GROUP BY over indexed
//! columns (scope by target subtree, round or inspection), never the
//! journal. Rows come back per (key, colour) and are folded by the caller.

use chrono::{Days, NaiveDate};
use fiveledger_platform::ApiResult;
use fiveledger_proto::ledgers::EntryState;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};

use super::entries::{self, Column as C};
use crate::domain::warning::Thresholds;

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The entry's colour on `today` as SQL (the same rule as
/// `warning::colour_now` for the entry item; dates are ISO text). Only
/// dates formatted here are spliced in, never caller input.
pub fn colour_sql(today: NaiveDate, t: &Thresholds) -> String {
    let red_cut = day(today - Days::new(u64::from(t.red_days)));
    let blue_cut = day(today + Days::new(u64::from(t.blue_days)));
    let today = day(today);
    let written_off = EntryState::WrittenOff.as_str_name();
    format!(
        "(CASE WHEN due_date = '' OR state = '{written_off}' THEN 0 \
         WHEN due_date < '{red_cut}' THEN 4 \
         WHEN due_date < '{today}' THEN (CASE WHEN yellow_count > 0 THEN 4 ELSE 3 END) \
         WHEN due_date <= '{blue_cut}' THEN (CASE WHEN colour_floor > 2 THEN colour_floor ELSE 2 END) \
         ELSE (CASE WHEN colour_floor > 1 THEN colour_floor ELSE 1 END) END)"
    )
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

pub async fn groups(
    conn: &impl ConnectionTrait,
    filter: Condition,
    key: KeyColumn,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<Vec<Group>> {
    let colour = colour_sql(today, t);
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
        Some(col) => select.column_as(col, "key").group_by(col),
        None => select.column_as(Expr::cust("''"), "key"),
    };
    let on_time = "first_written_off_date <> '' AND first_written_off_date <= original_due_date";
    select = select
        .column_as(Expr::cust(colour.clone()), "colour")
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
        .group_by(Expr::cust(colour));
    Ok(select.into_model::<Group>().all(conn).await?)
}
