//! PostgreSQL's outbox writers in flight: how a stream serves events in
//! commit order while writers run side by side, waiting only for
//! transactions that write events (see [`crate::outbox`] for the order).
//!
//! Every write transaction begun through [`crate::storage::Db`] (one of its
//! own, or a group-commit batch) first takes a *shared* transaction-level
//! advisory lock keyed by this schema's outbox table ([`join`]). Shared
//! locks never conflict, so writers do not wait for one another; the lock
//! only makes the transaction show in `pg_locks` as a writer of this outbox
//! until it ends. It is taken before the transaction's first write, hence
//! before it has a transaction id, which each of its events records.
//!
//! A stream first computes a [`horizon`] in one statement: the first
//! transaction id not yet assigned when the statement began (its snapshot's
//! xmax), lowered to the id of any writer holding the lock that the snapshot
//! saw running. Then, in a later statement, it serves the events below the
//! horizon. Nothing is skipped: a writer with an id below the horizon had
//! its id, so its lock, before the first statement began; it was not
//! holding the lock when `pg_locks` was read (else the horizon would be at
//! most its id), so it had ended, and a PostgreSQL transaction releases its
//! locks only once its commit is visible; the second statement's snapshot
//! therefore sees all its events or, rolled back, none. A writer still to
//! commit has an id at or above the horizon and sorts after everything
//! served.
//!
//! Why this scheme: readers stopping below the snapshot's xmin (the
//! previous attempt) waited for every transaction of the cluster, however
//! unrelated; a table of writers in flight is invisible to readers until
//! the writer commits, too late; taking the lock when the first event is
//! written is too late as well (the transaction may have its id since its
//! first row, and a stream could pass that id before the lock shows).
//! Transactions of other schemas (each outbox table has its own key),
//! sessions that write no events and long analytics are not waited for.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};

/// The first half of the lock's key ("flob"); the second is the outbox
/// table's oid, so services sharing a database by schema do not wait for
/// each other's writers.
const LOCK_CLASS: i32 = 0x666c_6f62;

/// Joins the outbox's writers for the rest of `txn` (PostgreSQL only). Must
/// run before the transaction writes anything; [`crate::storage::Db`] calls
/// it when it begins a write transaction. A schema without an outbox (a
/// test's bare table) takes no lock: the function is strict.
pub(crate) async fn join(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        format!(
            "SELECT pg_advisory_xact_lock_shared({LOCK_CLASS}, to_regclass('outbox_events')::oid::int4)"
        ),
    ))
    .await?;
    Ok(())
}

/// One statement (one snapshot, then the lock table): the xmax of its
/// snapshot, or the smallest id among the running transactions of that
/// snapshot that hold the writers' lock (`{class}`: [`LOCK_CLASS`]); and
/// the xmax itself. As bigints, as `txid` stores them.
const HORIZON: &str = "\
SELECT pg_snapshot_xmax(s)::text::bigint AS xmax, least(
  pg_snapshot_xmax(s)::text::bigint,
  (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
    WHERE xid(x) IN (
      SELECT a.backend_xid FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
      WHERE l.locktype = 'advisory'
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = {class} AND l.objid = to_regclass('outbox_events') AND l.objsubid = 2))
) AS horizon
FROM pg_current_snapshot() AS s";

/// Where a stream may read up to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Horizon {
    /// The transaction id below which every writer of the outbox has
    /// ended, for a query that starts after this was read.
    pub below: i64,
    /// Whether a writer still running lowered it: transactions after that
    /// writer may have committed events a read below it leaves for later,
    /// to be read once that writer ends, whatever it wrote.
    pub held_back: bool,
}

/// The outbox's [`Horizon`] now (see the module's doc).
pub(crate) async fn horizon(db: &impl ConnectionTrait) -> Result<Horizon, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            HORIZON.replace("{class}", &LOCK_CLASS.to_string()),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the outbox's horizon".to_owned()))?;
    let below = row.try_get::<i64>("", "horizon")?;
    Ok(Horizon {
        below,
        held_back: below < row.try_get::<i64>("", "xmax")?,
    })
}
