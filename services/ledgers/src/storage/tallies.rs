//! The `entry_tallies` table: the figures of written-off entries summed per
//! (target path, category), changed in the transaction of every posting
//! that changes an entry's share. Written-off entries are most of a ledger
//! (the source: 93 %) and their figures no longer depend on the day, so
//! statistics over a subtree read these sums plus the open entries, never
//! every entry.

use fiveledger_platform::ApiResult;
use fiveledger_platform::colour::Colour;
use fiveledger_platform::storage::within_subtree;
use fiveledger_proto::ledgers::EntryState;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{Condition, ConnectionTrait, QuerySelect};

use super::entries;
use super::statistics::{Group, KeyColumn};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entry_tallies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_path: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub category: String,
    pub found: i64,
    pub fixed_on_the_spot: i64,
    pub handed_over: i64,
    pub transferred: i64,
    pub reopened: i64,
    pub written_off_on_time: i64,
    pub funds_recovered_fen: i64,
    pub losses_recovered_fen: i64,
    pub people_held_accountable: i64,
    pub people_disciplined: i64,
    pub rules_established: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The counted columns, in the order of [`Share::values`].
const COUNTS: [Column; 11] = [
    Column::Found,
    Column::FixedOnTheSpot,
    Column::HandedOver,
    Column::Transferred,
    Column::Reopened,
    Column::WrittenOffOnTime,
    Column::FundsRecoveredFen,
    Column::LossesRecoveredFen,
    Column::PeopleHeldAccountable,
    Column::PeopleDisciplined,
    Column::RulesEstablished,
];

/// One entry's share of a tally row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Share {
    target_path: String,
    category: String,
    values: [i64; 11],
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

/// Moves an entry's share from what `before` counted to what `after`
/// counts (nothing when they agree), inside the posting's transaction.
pub async fn shift(
    conn: &impl ConnectionTrait,
    before: Option<&entries::Model>,
    after: &entries::Model,
) -> ApiResult<()> {
    let (old, new) = (before.and_then(share), share(after));
    if old == new {
        return Ok(());
    }
    if let Some(old) = old {
        add(conn, &old, -1).await?;
    }
    if let Some(new) = new {
        add(conn, &new, 1).await?;
    }
    Ok(())
}

/// Adds `sign` × the share to its row (made on first use): one upsert.
async fn add(conn: &impl ConnectionTrait, s: &Share, sign: i64) -> ApiResult<()> {
    let mut columns = vec![Column::TargetPath, Column::Category];
    columns.extend(COUNTS);
    let mut values: Vec<sea_orm::sea_query::SimpleExpr> =
        vec![s.target_path.clone().into(), s.category.clone().into()];
    values.extend(s.values.iter().map(|v| (sign * v).into()));
    let mut on_conflict = OnConflict::columns([Column::TargetPath, Column::Category]);
    for col in COUNTS {
        let name = col.to_string();
        on_conflict.value(
            col,
            Expr::cust(format!("entry_tallies.{name} + excluded.{name}")),
        );
    }
    let insert = Query::insert()
        .into_table(Entity)
        .columns(columns)
        .values_panic(values)
        .on_conflict(on_conflict)
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Recounts every row from the entries (after a projection rebuild).
pub async fn rebuild(conn: &impl ConnectionTrait) -> ApiResult<()> {
    Entity::delete_many().exec(conn).await?;
    let written_off = EntryState::WrittenOff.as_str_name();
    let on_time = "first_written_off_date <> '' AND first_written_off_date <= original_due_date \
                   AND reopen_count = 0";
    let flag = |c: &str| format!("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)");
    conn.execute_unprepared(&format!(
        "INSERT INTO entry_tallies (target_path, category, found, fixed_on_the_spot, \
         handed_over, transferred, reopened, written_off_on_time, funds_recovered_fen, \
         losses_recovered_fen, people_held_accountable, people_disciplined, rules_established) \
         SELECT target_path, category, COUNT(*), SUM(fixed_on_the_spot), {}, {}, {}, {}, \
         SUM(funds_recovered_fen), SUM(losses_recovered_fen), SUM(people_held_accountable), \
         SUM(people_disciplined), SUM(rules_established) \
         FROM entries WHERE state = '{written_off}' GROUP BY target_path, category",
        flag("original_due_date <> ''"),
        flag("transfer_count > 0"),
        flag("reopen_count > 0"),
        flag(on_time),
    ))
    .await?;
    Ok(())
}

/// The written-off entries' figures within the subtree `path`, keyed like
/// `statistics::groups` (colour unspecified: nothing written off has one).
/// A written-off entry was handed over and is due so far.
pub async fn groups(
    conn: &impl ConnectionTrait,
    path: &str,
    key: KeyColumn,
) -> ApiResult<Vec<Group>> {
    let sum = |c: &str| Expr::cust(format!("CAST(SUM({c}) AS BIGINT)"));
    let mut select = Entity::find().select_only();
    let key_col = match key {
        KeyColumn::TargetPath => Some(Column::TargetPath),
        KeyColumn::Category => Some(Column::Category),
        KeyColumn::None | KeyColumn::Round => None,
    };
    select = match key_col {
        Some(col) => select.column_as(col, "key").group_by(col),
        None => select.column_as(Expr::cust("''"), "key"),
    };
    let rows = select
        .column_as(Colour::Unspecified.sql(), "colour")
        .column_as(sum("found"), "found")
        .column_as(sum("fixed_on_the_spot"), "fixed_on_the_spot")
        .column_as(sum("handed_over"), "handed_over")
        .column_as(sum("transferred"), "transferred")
        .column_as(sum("found"), "written_off")
        .column_as(sum("reopened"), "reopened")
        .column_as(sum("handed_over"), "due_so_far")
        .column_as(sum("written_off_on_time"), "written_off_on_time")
        .column_as(sum("funds_recovered_fen"), "funds_recovered_fen")
        .column_as(sum("losses_recovered_fen"), "losses_recovered_fen")
        .column_as(sum("people_held_accountable"), "people_held_accountable")
        .column_as(sum("people_disciplined"), "people_disciplined")
        .column_as(sum("rules_established"), "rules_established")
        .filter(Condition::all().add(within_subtree(Column::TargetPath, path)))
        // Rows whose entries were all reopened count nothing.
        .having(Expr::cust("SUM(found) > 0"))
        .into_model::<Group>()
        .all(conn)
        .await?;
    Ok(rows)
}

/// What is wrong with the tallies of the subtree `path`, if anything: they
/// must equal the same sums taken over its written-off entries one by one.
pub async fn check(
    conn: &impl ConnectionTrait,
    path: &str,
    today: chrono::NaiveDate,
    t: &crate::domain::warning::Thresholds,
) -> ApiResult<Option<String>> {
    let kept = groups(conn, path, KeyColumn::None).await?;
    let written_off = Condition::all()
        .add(entries::Column::State.eq(EntryState::WrittenOff.as_str_name()))
        .add(within_subtree(entries::Column::TargetPath, path));
    let counted =
        super::statistics::groups_where(conn, written_off, KeyColumn::None, today, t).await?;
    let (kept, counted) = (
        kept.first().cloned().unwrap_or_default(),
        counted.first().cloned().unwrap_or_default(),
    );
    Ok((kept != counted).then(|| {
        format!(
            "the statistics' tallies of {} differ from its written-off entries: kept {:?}, counted {:?}",
            if path.is_empty() { "everything" } else { path },
            kept,
            counted
        )
    }))
}
