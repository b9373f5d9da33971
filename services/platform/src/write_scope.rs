//! What a running write gathers for its end: the event types it appends
//! (announced to the event streams once its transaction ends, see
//! [`crate::commits`]) and the statements it holds back, sent together as
//! it returns.
//!
//! A write's events, its idempotency record's answer and lines of a
//! journal are rows nothing in the write reads back. Each sent alone cost
//! a round trip to the database (on SQLite a hand-off to the driver's
//! thread); held ([`hold`]) and sent together once the mutation has
//! returned ([`Gathered::send_held`], by `storage::execute_together`),
//! they cost one call to SQLite's driver (on PostgreSQL still one round
//! trip each). They are sent before the mutation's savepoint or
//! transaction is kept, so a failure among them undoes the mutation like
//! any error of its own; a mutation that fails or asks for a rollback
//! never sends them. A part of a write with a savepoint of its own sends
//! its held rows before that savepoint is kept ([`in_savepoint`]).

use std::cell::RefCell;

use sea_orm::{ConnectionTrait, DbErr, Statement};

use crate::commits::Types;
use crate::error::{ApiError, ApiResult};

/// What one write gathered as it ran.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// The event types it appended.
    pub(crate) types: Types,
    /// Statements held for its end, in the order they were held.
    held: Vec<Statement>,
}

impl Gathered {
    /// Sends the held statements together. Each changes exactly one row
    /// ([`hold`]); fewer rows changed is an internal error, and the caller
    /// undoes the write.
    pub(crate) async fn send_held(&mut self, conn: &impl ConnectionTrait) -> ApiResult<()> {
        let held = std::mem::take(&mut self.held);
        let sent = held.len() as u64;
        if sent == 0 {
            return Ok(());
        }
        let changed = crate::storage::execute_together(conn, held).await?;
        if changed != sent {
            return Err(ApiError::internal(anyhow::anyhow!(
                "the {sent} statements a write held for its end changed {changed} rows"
            )));
        }
        Ok(())
    }
}

tokio::task_local! {
    static GATHERED: RefCell<Gathered>;
}

/// Runs `write` (a mutation, in the task that runs it) and returns what it
/// returned with what it gathered: the caller sends the held statements
/// ([`Gathered::send_held`]) before it keeps the write's changes.
pub(crate) async fn gathering<F: Future>(write: F) -> (F::Output, Gathered) {
    let gathering = GATHERED.scope(RefCell::new(Gathered::default()), write);
    tokio::pin!(gathering);
    let output = (&mut gathering).await;
    let gathered = gathering
        .as_mut()
        .take_value()
        .map(RefCell::into_inner)
        .unwrap_or_default();
    (output, gathered)
}

/// Notes that the running write appends an event of `event_type`. Outside
/// [`gathering`] it notes nothing: such a transaction ends as
/// [`crate::commits::Wrote::Anything`].
pub(crate) fn wrote(event_type: &'static str) {
    let _ = GATHERED.try_with(|g| g.borrow_mut().types.insert(event_type));
}

/// Holds `statement`, which changes exactly one row that the write does
/// not read back, to be sent with the write's other held statements when
/// its mutation returns; outside [`gathering`] (a transaction begun by
/// `Db::begin`) it is sent now. `conn` must be the write's transaction.
pub async fn hold(conn: &impl ConnectionTrait, statement: Statement) -> Result<(), DbErr> {
    let mut statement = Some(statement);
    let _ = GATHERED.try_with(|g| g.borrow_mut().held.extend(statement.take()));
    if let Some(statement) = statement {
        conn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Runs `part` of the running write in a savepoint of its own (`txn.
/// begin()` inside a mutation, which the caller keeps or rolls back): the
/// statements it holds are sent on `savepoint` as it succeeds, before the
/// caller keeps the savepoint, and never sent when it fails, as the
/// savepoint's own changes are undone; the event types it appended join
/// the write's.
pub async fn in_savepoint<T>(
    savepoint: &impl ConnectionTrait,
    part: impl Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let (done, mut gathered) = gathering(part).await;
    let value = done?;
    gathered.send_held(savepoint).await?;
    let _ = GATHERED.try_with(|g| g.borrow_mut().types.extend(gathered.types));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_gathers_the_types_it_appends_and_nothing_outside_is_noted() {
        let (answer, gathered) = gathering(async {
            wrote("B");
            tokio::task::yield_now().await;
            wrote("A");
            wrote("B");
            7
        })
        .await;
        assert_eq!(answer, 7);
        assert_eq!(
            gathered.types.into_iter().collect::<Vec<_>>(),
            vec!["A", "B"]
        );
        // Outside a gathering there is nowhere to note it, and no panic.
        wrote("C");
        let ((), gathered) = gathering(async {}).await;
        assert!(gathered.types.is_empty(), "each write gathers its own");
    }
}
