//! The issues service's tables, migrations and queries.

pub mod categories;
pub mod clue_journal;
pub mod clue_reconciliations;
pub mod clue_signatures;
pub mod clue_transfers;
pub mod clues;
#[cfg(test)]
mod list_plans;
pub mod migrations;
pub mod problem_lists;
pub mod problems;
pub mod recurrences;
#[cfg(test)]
pub(crate) mod test_rows;

pub use migrations::Migrator;

/// The transaction a handler's step runs in (`aip::idempotency::mutate`
/// opens it); handlers pass it to the operations here and never query.
pub type Txn = sea_orm::DatabaseTransaction;
/// A connection or transaction the operations here read with.
pub use sea_orm::ConnectionTrait as Conn;

/// Rows of several clues by clue id, in the order read.
pub(crate) fn by_clue<M>(
    rows: Vec<M>,
    clue_id: impl Fn(&M) -> &str,
) -> std::collections::HashMap<String, Vec<M>> {
    let mut out: std::collections::HashMap<String, Vec<M>> = Default::default();
    for row in rows {
        out.entry(clue_id(&row).to_owned()).or_default().push(row);
    }
    out
}

/// Keyset condition "after (key, id)" for a list ordered by `key` then `id`.
pub(crate) fn after<K>(
    key: K,
    id: K,
    last_key: sea_orm::Value,
    last_id: String,
    desc: bool,
) -> sea_orm::Condition
where
    K: sea_orm::sea_query::IntoColumnRef + Copy,
{
    use sea_orm::sea_query::{Expr, ExprTrait};
    let beyond = |col: K, v: sea_orm::Value| {
        if desc {
            Expr::col(col).lt(v)
        } else {
            Expr::col(col).gt(v)
        }
    };
    // The bound on `key` alone is redundant but lets the planner seek the
    // index to the page's start instead of filtering from the first row.
    let bound = if desc {
        Expr::col(key).lte(last_key.clone())
    } else {
        Expr::col(key).gte(last_key.clone())
    };
    sea_orm::Condition::all().add(bound).add(
        sea_orm::Condition::any()
            .add(beyond(key, last_key.clone()))
            .add(Expr::col(key).eq(last_key).and(beyond(id, last_id.into()))),
    )
}
