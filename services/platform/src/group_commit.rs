//! Group commit: the writes of many requests in one database transaction,
//! each in a savepoint of its own, acknowledged together once the one
//! commit is durable.
//!
//! A commit costs a sync of the log (SQLite's WAL at `synchronous=full`,
//! PostgreSQL's WAL): with one transaction per request the disk's sync rate
//! is the write rate. Here a request joins the open batch (or opens one)
//! and runs its mutation inside a savepoint: a failure rolls back to the
//! savepoint, so it refuses only its own request and leaves the others'
//! work in place. A member's savepoint costs one round trip: the previous
//! member's is released in the same one (`RELEASE …; SAVEPOINT …`), and
//! the last member's by the commit; a failure adds its `ROLLBACK TO`. On
//! SQLite a request's idempotency claim travels with them too ([`Claim`]). A
//! savepoint statement that fails leaves the batch's state unknown, so
//! the batch rolls back and every member is answered UNAVAILABLE: none
//! is told its write committed when it did not (PostgreSQL answers the
//! COMMIT of a transaction left aborted as a success, and keeps nothing).
//! The batch commits as soon as no member is running; the requests that
//! arrived meanwhile open the next one. A full batch
//! (`database.group_commit_max_batch`) takes no more members, and the
//! next request waits until it stops running before opening the next: a
//! lane never runs two batches' members at once. Nothing is
//! acknowledged before the commit: if it fails, every member gets the
//! error and none of their changes exist (so a retry with the same
//! `request_id` runs afresh), and a process killed mid-batch loses only
//! unacknowledged requests. A member runs to its end in a task of its own
//! (`Db::write`), whether or not its request still waits: cut off halfway,
//! it would leave its savepoint's work neither kept nor undone (sea-orm's
//! nested transactions, which this module no longer uses, rolled the whole
//! batch back). A mutation that panics is undone like one that failed.
//!
//! On PostgreSQL several batches may fill and commit side by side, each on
//! a connection of its own (`database.group_commit_lanes`, 1 by default;
//! requests take the lanes in turn): a member's statements are round trips
//! to the server, and one lane serialises them all, so it caps the writes
//! at one connection's round trips. Batches of two lanes meet as two
//! replicas' batches would: a row one holds waits for its commit, and a
//! deadlock between them undoes one member's savepoint (answered
//! UNAVAILABLE). Hence one lane by default: the ledger's postings share
//! tallies, and the demo's deadlocked within seconds on four. A request
//! sent again while the first is still running never meets it across
//! lanes: the writes of one request id take one lane, where the second
//! finds the first in its own batch or waits for the previous batch's
//! commit, which waits for nothing. SQLite has one writer: one lane.
//!
//! Members of a batch see each other's uncommitted changes, which is sound
//! because they commit or fail together, and so do their answers: an error
//! is also held back until the batch's outcome is known.
//!
//! The queue is bounded: more than `max_queued` writes waiting or running
//! are refused with RESOURCE_EXHAUSTED (retry with back-off) instead of
//! growing memory. Members run in arrival order (a fair lock).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
};
use tokio::sync::{Notify, Semaphore, watch};

use crate::commits::{Commits, Types, Wrote};
use crate::error::{ApiError, ApiResult, CommonReason, Reason};
use crate::write_scope::gathering;

/// What a mutation asks for its savepoint: keep its changes, or roll them
/// back and still answer (a replayed request, a refusal found late).
pub enum Step<T> {
    Commit(T),
    Rollback(T),
}

/// A mutation run inside a write transaction (or a batch's savepoint). It
/// owns what it uses: it runs in a task of its own (see `Db::write`).
pub type Mutation<T> = Box<
    dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, ApiResult<Step<T>>>
        + Send
        + 'static,
>;

/// A request's write known by its request id (`aip::idempotency`): the
/// lane its key takes, and the claim of its record, a statement that
/// returns a row when it claimed. The claim runs first in the write's
/// savepoint, sent with the savepoint itself on SQLite (one call to the
/// driver instead of two), and the mutation learns whether it claimed.
pub struct Claim {
    pub lane: u64,
    pub statement: Statement,
}

/// A mutation that follows a [`Claim`]: told whether the claim returned a
/// row (true when the write had no claim).
pub type Claiming<T> = Box<
    dyn for<'t> FnOnce(&'t DatabaseTransaction, bool) -> BoxFuture<'t, ApiResult<Step<T>>>
        + Send
        + 'static,
>;

/// `f`, which has no claim, as a [`Claiming`] mutation.
pub(crate) fn unclaimed<T: 'static>(f: Mutation<T>) -> Claiming<T> {
    Box::new(move |txn, _| f(txn))
}

/// The batches of one database.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// Batches that fill and commit side by side, each on a connection of
    /// its own (one on SQLite, whose single writer takes one at a time).
    lanes: Vec<Lane>,
    /// The lane the next request joins (round robin).
    next: AtomicUsize,
    queued: Arc<Semaphore>,
    max_queued: usize,
    max_batch: usize,
    /// Batches committed and members in them, for the bench and metrics.
    pub(crate) batches: AtomicU64,
    pub(crate) members: AtomicU64,
}

/// One lane: at most one batch taking members at a time.
#[derive(Debug, Default)]
struct Lane {
    /// The batch taking members, if any.
    open: Mutex<Option<Arc<Batch>>>,
    /// Woken when a batch opens, for requests that waited for it.
    opened: Notify,
    /// Held by the one request opening a batch.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Batch {
    /// The transaction; each member holds the lock for its turn.
    txn: tokio::sync::Mutex<Option<Open>>,
    state: Mutex<BatchState>,
    /// Woken when the last running member finishes.
    idle: Notify,
    /// Woken when the batch stops taking members (and commits).
    closed: Notify,
    outcome: watch::Sender<Option<Result<(), String>>>,
}

/// A batch's open transaction and its members' savepoints, one at a time,
/// each named `gc`: the statements that open one are then the same text
/// for every member, so SQLite's driver prepares the claim sent with them
/// once (numbered names made each a new statement, which pushed the
/// members' own out of the driver's statement cache).
#[derive(Debug)]
struct Open {
    txn: DatabaseTransaction,
    /// The member before's savepoint, still to be released.
    unreleased: bool,
    /// Why the batch must roll back: a savepoint statement failed.
    broken: Option<String>,
    /// The event types its members appended.
    wrote: Types,
}

impl Open {
    /// Runs `f` in a savepoint of its own; keeps its work on
    /// [`Step::Commit`], undoes it otherwise (an error, a rollback asked
    /// for, a panic). `Err(DbErr)` when a savepoint statement failed: the
    /// batch can no longer be trusted.
    async fn member<T>(
        &mut self,
        claim: Option<Statement>,
        f: Claiming<T>,
    ) -> Result<ApiResult<T>, DbErr> {
        use futures::FutureExt;
        let begin = if std::mem::take(&mut self.unreleased) {
            "RELEASE SAVEPOINT gc; SAVEPOINT gc"
        } else {
            "SAVEPOINT gc"
        };
        let claimed = match claim {
            None => {
                self.txn.execute_unprepared(begin).await?;
                Ok(true)
            }
            // Joined, an error cannot tell the savepoint's from the claim's:
            // the batch is broken either way (the claim never fails alone).
            Some(claim) if self.txn.get_database_backend() == DbBackend::Sqlite => {
                let joined = Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("{begin};\n{}", claim.sql),
                    claim.values.map(|v| v.0).unwrap_or_default(),
                );
                Ok(self.txn.query_one_raw(joined).await?.is_some())
            }
            Some(claim) => {
                self.txn.execute_unprepared(begin).await?;
                self.txn.query_one_raw(claim).await.map(|row| row.is_some())
            }
        };
        // Released (after a rollback, an empty savepoint) with the next
        // member's savepoint, or by the commit.
        self.unreleased = true;
        let txn = &self.txn;
        let (ran, mut gathered) = gathering(
            std::panic::AssertUnwindSafe(async move {
                match claimed {
                    Ok(claimed) => f(txn, claimed).await,
                    Err(err) => Err(err.into()),
                }
            })
            .catch_unwind(),
        )
        .await;
        let answer = match ran {
            Ok(Ok(Step::Commit(value))) => match gathered.send_held(&self.txn).await {
                Ok(()) => {
                    self.wrote.extend(gathered.types);
                    return Ok(Ok(value));
                }
                Err(err) => Err(err),
            },
            Ok(Ok(Step::Rollback(value))) => Ok(value),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(ApiError::internal(anyhow::anyhow!(
                "a write did not finish: its mutation panicked"
            ))),
        };
        self.txn
            .execute_unprepared("ROLLBACK TO SAVEPOINT gc")
            .await?;
        Ok(answer)
    }
}

#[derive(Debug, Default)]
struct BatchState {
    joined: usize,
    running: usize,
    closed: bool,
}

impl Batch {
    /// Joins unless closed or full.
    fn try_join(&self, max: usize) -> bool {
        let mut s = self.state.lock().expect("batch state");
        if s.closed || s.joined >= max {
            return false;
        }
        s.joined += 1;
        s.running += 1;
        true
    }
}

/// Marks a member finished however it ends (an error, a panic, a client
/// that went away mid-mutation): the batch must not wait for it.
struct Running<'a>(&'a Batch);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("batch state");
        s.running -= 1;
        if s.running == 0 {
            self.0.idle.notify_one();
        }
    }
}

/// A lane's opening, held by the request opening a batch. However that
/// request leaves (a batch opened, its begin failed, or its task cut off
/// while it waited for the writer), it lets go and then wakes the requests
/// waiting for the batch: they join it, or one of them opens it. Otherwise
/// they would wait for the next write to come along, maybe for ever.
struct Opening<'a> {
    lock: Option<tokio::sync::MutexGuard<'a, ()>>,
    opened: &'a Notify,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        drop(self.lock.take());
        self.opened.notify_waiters();
    }
}

impl GroupCommit {
    pub(crate) fn new(lanes: usize, max_batch: usize, max_queued: usize) -> Self {
        Self {
            lanes: (0..lanes.max(1)).map(|_| Lane::default()).collect(),
            next: AtomicUsize::new(0),
            queued: Arc::new(Semaphore::new(max_queued.max(1))),
            max_queued: max_queued.max(1),
            max_batch: max_batch.max(1),
            batches: AtomicU64::new(0),
            members: AtomicU64::new(0),
        }
    }

    /// Writes waiting or running now.
    pub(crate) fn queued(&self) -> usize {
        self.max_queued - self.queued.available_permits()
    }

    fn join_open(&self, lane: usize) -> Option<Arc<Batch>> {
        let open = self.lanes[lane].open.lock().expect("open batch");
        open.as_ref()
            .filter(|b| b.try_join(self.max_batch))
            .cloned()
    }

    /// Runs `f` in a savepoint of a batch and answers once the batch
    /// committed (or failed). Each batch's end is announced to `commits`,
    /// with the event types its members wrote.
    /// Writes of one `key` (a request id) take the same lane, the others
    /// the lanes in turn.
    pub(crate) async fn write<T: Send>(
        self: &Arc<Self>,
        writer: &DatabaseConnection,
        commits: Arc<Commits>,
        claim: Option<Claim>,
        f: Claiming<T>,
    ) -> ApiResult<T> {
        let Ok(_queued) = self.queued.clone().try_acquire_owned() else {
            return Err(ApiError::Exhausted {
                reason: CommonReason::WriteQueueFull.as_reason(),
                description: format!(
                    "{} writes are already waiting for this service's database; retry with back-off",
                    self.max_queued
                ),
            });
        };
        let (lane, claim) = match claim {
            Some(Claim { lane, statement }) => (lane as usize % self.lanes.len(), Some(statement)),
            None => (
                self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len(),
                None,
            ),
        };
        let batch = self.join(lane, writer, commits).await?;
        let mut outcome = batch.outcome.subscribe();
        let answer = {
            let _running = Running(&batch);
            let mut slot = batch.txn.lock().await;
            let open = slot
                .as_mut()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a batch committed early")))?;
            match open.member(claim, f).await {
                Ok(answer) => answer,
                Err(err) => {
                    let cause = format!("a savepoint failed: {err}");
                    tracing::error!(%cause, "a batch of writes rolls back");
                    open.broken.get_or_insert(cause);
                    Err(err.into())
                }
            }
        };
        let outcome = outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a batch ended without an outcome")))?
            .clone();
        match outcome {
            Some(Ok(())) => answer,
            Some(Err(cause)) => Err(ApiError::Unavailable {
                service: crate::error::DATABASE.to_owned(),
                cause,
            }),
            None => unreachable!("waited for an outcome"),
        }
    }

    /// The lane's open batch, joined; or a new one, opened by this request.
    async fn join(
        self: &Arc<Self>,
        lane: usize,
        writer: &DatabaseConnection,
        commits: Arc<Commits>,
    ) -> Result<Arc<Batch>, DbErr> {
        loop {
            if let Some(batch) = self.join_open(lane) {
                return Ok(batch);
            }
            let opened = self.lanes[lane].opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            match self.lanes[lane].opening.try_lock() {
                Ok(lock) => {
                    let _opening = Opening {
                        lock: Some(lock),
                        opened: &self.lanes[lane].opened,
                    };
                    if let Some(batch) = self.join_open(lane) {
                        return Ok(batch);
                    }
                    // A full batch first stops running: a lane never runs
                    // two batches' members at once. (On PostgreSQL the next
                    // batch would take another connection, and two batches
                    // of a lane can deadlock on shared rows as two lanes do.)
                    self.until_closed(lane).await;
                    // Waits for the writer connection on SQLite: the
                    // previous batch's commit. Requests arriving meanwhile
                    // wait for this batch, and join it together.
                    let txn = crate::storage::begin_writing(writer).await?;
                    let batch = Arc::new(Batch {
                        txn: tokio::sync::Mutex::new(Some(Open {
                            txn,
                            unreleased: false,
                            broken: None,
                            wrote: Types::new(),
                        })),
                        state: Mutex::new(BatchState {
                            joined: 1,
                            running: 1,
                            closed: false,
                        }),
                        idle: Notify::new(),
                        closed: Notify::new(),
                        outcome: watch::Sender::new(None),
                    });
                    *self.lanes[lane].open.lock().expect("open batch") = Some(batch.clone());
                    tokio::spawn(self.clone().commit_when_idle(lane, batch.clone(), commits));
                    return Ok(batch);
                }
                Err(_) => opened.await,
            }
        }
    }

    /// Returns once the lane's open batch, if any, takes no more members.
    async fn until_closed(&self, lane: usize) {
        let open = self.lanes[lane].open.lock().expect("open batch").clone();
        if let Some(batch) = open {
            let closed = batch.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if !batch.state.lock().expect("batch state").closed {
                closed.await;
            }
        }
    }

    /// Closes `batch` once no member runs, commits it and tells the members.
    async fn commit_when_idle(
        self: Arc<Self>,
        lane: usize,
        batch: Arc<Batch>,
        commits: Arc<Commits>,
    ) {
        loop {
            let idle = batch.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            {
                let mut s = batch.state.lock().expect("batch state");
                if s.running == 0 {
                    s.closed = true;
                    break;
                }
            }
            idle.await;
        }
        batch.closed.notify_waiters();
        {
            let mut open = self.lanes[lane].open.lock().expect("open batch");
            if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch)) {
                *open = None;
            }
        }
        let mut open = batch.txn.lock().await.take();
        let wrote = open.as_mut().map(|o| std::mem::take(&mut o.wrote));
        let result = match open {
            Some(Open {
                txn, broken: None, ..
            }) => txn.commit().await.map_err(|err| err.to_string()),
            Some(Open {
                txn,
                broken: Some(cause),
                ..
            }) => {
                // Whatever the rollback says, nothing of the batch is kept.
                let _ = txn.rollback().await;
                Err(cause)
            }
            None => Err("the batch's transaction was gone".to_owned()),
        };
        if result.is_ok() {
            let members = batch.state.lock().expect("batch state").joined as u64;
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.members.fetch_add(members, Ordering::Relaxed);
        } else {
            tracing::error!(error = ?result, "a batch of writes failed to commit");
        }
        // Either way the batch ended: a stream may have waited for it.
        commits.ended(match (&result, wrote) {
            (Ok(()), Some(wrote)) => Wrote::Types(wrote),
            _ => Wrote::nothing(),
        });
        batch.outcome.send_replace(Some(result));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, DbBackend};

    use super::*;
    use crate::settings::DatabaseSettings;
    use crate::storage::Db;

    /// A fresh database with a table of numbered rows: a SQLite file, and a
    /// PostgreSQL schema when `FIVELEDGER_TEST_DATABASE_URL` names a server.
    async fn databases(write_queue: usize) -> Vec<(Db, tempfile::TempDir)> {
        databases_with(|s| {
            s.write_queue = write_queue;
            s.group_commit_lanes = 4;
        })
        .await
    }

    /// [`databases`] with settings of their own.
    pub(crate) async fn databases_with(
        configure: impl Fn(&mut DatabaseSettings),
    ) -> Vec<(Db, tempfile::TempDir)> {
        let mut settings = vec![DatabaseSettings::default()];
        if let Ok(url) = std::env::var("FIVELEDGER_TEST_DATABASE_URL")
            && !url.is_empty()
        {
            settings.push(DatabaseSettings {
                url,
                schema: format!("t_group_commit_{}", uuid::Uuid::new_v4().simple()),
                ..Default::default()
            });
        }
        let mut out = Vec::new();
        for mut s in settings {
            configure(&mut s);
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Db::connect(&s, &dir.path().join("t.sqlite"))
                .await
                .expect("database");
            db.writer()
                .execute_unprepared(
                    "CREATE TABLE gc_rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",
                )
                .await
                .expect("table");
            db.writer()
                .execute_unprepared("INSERT INTO gc_rows VALUES (1000, 'there before')")
                .await
                .expect("row");
            out.push((db, dir));
        }
        out
    }

    async fn ids(db: &Db) -> Vec<i64> {
        use sea_orm::{FromQueryResult, JsonValue, Statement};
        let rows = JsonValue::find_by_statement(Statement::from_string(
            db.backend(),
            "SELECT id FROM gc_rows WHERE id < 1000 ORDER BY id",
        ))
        .all(db.reader())
        .await
        .expect("rows");
        rows.iter().map(|r| r["id"].as_i64().expect("id")).collect()
    }

    fn insert(i: i64) -> String {
        format!("INSERT INTO gc_rows VALUES ({i}, 'write {i}')")
    }

    /// The write of row `i`.
    fn inserting(i: i64) -> Mutation<()> {
        Box::new(move |txn| {
            Box::pin(async move {
                txn.execute_unprepared(&insert(i)).await?;
                Ok(Step::Commit(()))
            })
        })
    }

    /// The insert of row `i`, which keeps running until `hold` turns true.
    fn held_insert(i: i64, mut hold: tokio::sync::watch::Receiver<bool>) -> Mutation<()> {
        Box::new(move |txn| {
            Box::pin(async move {
                txn.execute_unprepared(&insert(i)).await?;
                let _ = hold.wait_for(|go| *go).await;
                Ok(Step::Commit(()))
            })
        })
    }

    /// A write of row `i` that keeps running until `hold` turns true.
    fn held_write(
        db: &Db,
        i: i64,
        hold: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<ApiResult<()>> {
        let db = db.clone();
        tokio::spawn(async move { db.write(held_insert(i, hold)).await })
    }

    /// `f` written by `db` in a task of its own.
    fn spawned<T: Send + 'static>(
        db: &Db,
        f: Mutation<T>,
    ) -> tokio::task::JoinHandle<ApiResult<T>> {
        let db = db.clone();
        tokio::spawn(async move { db.write(f).await })
    }

    /// [`held_write`] on `group` itself, without `Db::write`'s task of its
    /// own: aborting the returned task cuts the write off where it is.
    fn held_group_write(
        group: &Arc<GroupCommit>,
        db: &Db,
        i: i64,
        hold: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<ApiResult<()>> {
        let (group, writer) = (group.clone(), db.writer().clone());
        tokio::spawn(async move {
            let commits = Arc::new(Commits::default());
            group
                .write(&writer, commits, None, unclaimed(held_insert(i, hold)))
                .await
        })
    }

    /// 64 writes at once, each inserting its row; some then fail: with an
    /// error, with a statement the database refuses (on PostgreSQL that
    /// aborts the transaction: only a savepoint saves the others), or by
    /// asking for a rollback. The others commit, in fewer transactions
    /// than writes; each failed one changed nothing.
    #[tokio::test]
    async fn a_failing_write_undoes_only_itself_and_the_rest_commit_together() {
        for (db, _dir) in databases(4096).await {
            let tasks: Vec<_> = (0..64i64)
                .map(|i| {
                    let db = db.clone();
                    tokio::spawn(async move {
                        db.write(Box::new(move |txn| {
                            Box::pin(async move {
                                txn.execute_unprepared(&insert(i)).await?;
                                match i % 8 {
                                    3 => Err(ApiError::invalid(
                                        "row",
                                        CommonReason::RequiredField,
                                        "refused after writing",
                                    )),
                                    5 => {
                                        txn.execute_unprepared(&insert(1000)).await?;
                                        Ok(Step::Commit(i))
                                    }
                                    7 => Ok(Step::Rollback(i)),
                                    _ => Ok(Step::Commit(i)),
                                }
                            })
                        }))
                        .await
                    })
                })
                .collect();
            let mut answered = Vec::new();
            for (i, task) in (0..).zip(tasks) {
                let answer = task.await.expect("task");
                match i % 8 {
                    3 | 5 => assert!(answer.is_err(), "write {i}: {answer:?}"),
                    _ => assert_eq!(answer.expect("answered"), i),
                }
                answered.push(i);
            }
            let kept: Vec<i64> = (0..64).filter(|i| ![3, 5, 7].contains(&(i % 8))).collect();
            assert_eq!(ids(&db).await, kept, "{:?}", db.backend());
            let (batches, members) = db.batches();
            assert_eq!(members, 64, "every write was in a committed batch");
            assert!(
                batches < 64,
                "{batches} batches for 64 writes: none grouped"
            );
        }
    }

    /// Rows a write holds for its end (`write_scope::hold`: its events, its
    /// idempotency record's answer) are not sent while its mutation runs,
    /// and are sent before its changes are kept, in a batch and in a
    /// transaction of its own alike. A held row the database refuses, or
    /// a held statement that changes no row, undoes only its own write; a
    /// write that asks for a rollback sends none.
    #[tokio::test]
    async fn rows_held_for_a_writes_end_are_sent_before_it_is_kept() {
        use crate::write_scope::hold;
        use sea_orm::Statement;
        let grouped = databases_with(|s| s.group_commit_lanes = 1).await;
        let alone = databases_with(|s| s.group_commit = false).await;
        for (db, _dir) in grouped.into_iter().chain(alone) {
            let tasks: Vec<_> = (0..16i64)
                .map(|i| {
                    spawned(
                        &db,
                        Box::new(move |txn| {
                            Box::pin(async move {
                                let backend = txn.get_database_backend();
                                let held = |sql: String| Statement::from_string(backend, sql);
                                hold(txn, held(insert(i))).await?;
                                let seen = txn
                                    .query_one_raw(held(format!(
                                        "SELECT id FROM gc_rows WHERE id = {i}"
                                    )))
                                    .await?;
                                assert!(seen.is_none(), "row {i} was sent while its write ran");
                                match i % 4 {
                                    1 => hold(txn, held(insert(1000))).await?,
                                    2 => {
                                        let none = "UPDATE gc_rows SET note = 'x' WHERE id = -1";
                                        hold(txn, held(none.to_owned())).await?
                                    }
                                    3 => return Ok(Step::Rollback(i)),
                                    _ => {}
                                }
                                Ok(Step::Commit(i))
                            })
                        }),
                    )
                })
                .collect();
            for (i, task) in (0..).zip(tasks) {
                let answer = task.await.expect("task");
                match i % 4 {
                    1 | 2 => assert!(answer.is_err(), "write {i}: {answer:?}"),
                    _ => assert_eq!(answer.expect("answered"), i),
                }
            }
            let kept: Vec<i64> = (0..16).filter(|i| i % 4 == 0).collect();
            assert_eq!(ids(&db).await, kept, "{:?}", db.backend());
        }
    }

    /// A write whose mutation panics after writing is undone like a failed
    /// one and answered INTERNAL; the others of its batch commit.
    #[tokio::test]
    async fn a_write_that_panics_is_undone_and_the_rest_commit() {
        for (db, _dir) in databases_with(|s| s.group_commit_lanes = 1).await {
            let (release, hold) = tokio::sync::watch::channel(false);
            let first = held_write(&db, 1, hold);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let panics = spawned::<()>(
                &db,
                Box::new(|txn| {
                    Box::pin(async move {
                        txn.execute_unprepared(&insert(2)).await?;
                        panic!("a mutation's bug");
                    })
                }),
            );
            let last = spawned(&db, inserting(3));
            tokio::time::sleep(Duration::from_millis(100)).await;
            release.send_replace(true);
            first.await.expect("task").expect("first committed");
            let refused = panics.await.expect("task").expect_err("it panicked");
            assert_eq!(tonic::Status::from(refused).code(), tonic::Code::Internal);
            last.await.expect("task").expect("last committed");
            assert_eq!(ids(&db).await, vec![1, 3], "{:?}", db.backend());
            assert_eq!(db.batches(), (1, 3), "one batch of three writes");
        }
    }

    /// A savepoint statement that fails leaves the batch's state unknown:
    /// here the second write of a batch releases its own savepoint, so the
    /// rollback to it fails. The batch rolls back and both writes are
    /// answered UNAVAILABLE; the next batch commits. (Committed regardless,
    /// SQLite kept the refused write's row, and PostgreSQL, its transaction
    /// aborted, kept nothing while the first write was answered OK.)
    #[tokio::test]
    async fn a_failed_savepoint_rolls_its_batch_back_and_tells_every_write() {
        for (db, _dir) in databases_with(|s| s.group_commit_lanes = 1).await {
            let (release, hold) = tokio::sync::watch::channel(false);
            let first = held_write(&db, 1, hold);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let breaks = spawned(
                &db,
                Box::new(|txn| {
                    Box::pin(async move {
                        txn.execute_unprepared(&insert(2)).await?;
                        // The batch's second savepoint: this write's own.
                        txn.execute_unprepared("RELEASE SAVEPOINT gc").await?;
                        Err(ApiError::invalid(
                            "row",
                            CommonReason::RequiredField,
                            "refused after writing",
                        ))
                    })
                }),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            release.send_replace(true);
            for (write, task) in [("first", first), ("second", breaks)] {
                let answer = task.await.expect("task").expect_err(write);
                assert_eq!(
                    tonic::Status::from(answer).code(),
                    tonic::Code::Unavailable,
                    "{write} on {:?}",
                    db.backend()
                );
            }
            assert_eq!(ids(&db).await, Vec::<i64>::new(), "{:?}", db.backend());
            db.write(inserting(3)).await.expect("the next batch");
            assert_eq!(ids(&db).await, vec![3], "{:?}", db.backend());
        }
    }

    /// Writes beyond `write_queue` are refused at once, and the queued ones
    /// still commit.
    #[tokio::test]
    async fn a_full_queue_refuses_with_resource_exhausted() {
        for (db, _dir) in databases(2).await {
            let (release, hold) = tokio::sync::watch::channel(false);
            let blocked: Vec<_> = (0..2i64)
                .map(|i| held_write(&db, i, hold.clone()))
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
            let refused = db.write(inserting(9)).await.expect_err("a third write");
            // It passes by itself: a consumer refused so retries, and is
            // not reported stalled at once.
            assert!(refused.is_transient(), "{refused:?}");
            let status = tonic::Status::from(refused);
            assert_eq!(status.code(), tonic::Code::ResourceExhausted);
            release.send_replace(true);
            for task in blocked {
                task.await.expect("task").expect("committed");
            }
            assert_eq!(ids(&db).await, vec![0, 1]);
        }
    }

    /// On PostgreSQL a write commits while another lane's batch is still
    /// running (it would otherwise have joined that batch and waited for
    /// it); on SQLite, one lane, it waits for that batch to commit.
    #[tokio::test]
    async fn postgres_lanes_commit_side_by_side_and_sqlite_queues() {
        for (db, _dir) in databases(4096).await {
            let (release, hold) = tokio::sync::watch::channel(false);
            let held = held_write(&db, 1, hold);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (_released, free) = tokio::sync::watch::channel(true);
            let mut next = held_write(&db, 2, free);
            match db.backend() {
                DbBackend::Postgres => {
                    tokio::time::timeout(Duration::from_secs(10), &mut next)
                        .await
                        .expect("committed beside the held batch")
                        .expect("task")
                        .expect("write");
                    assert_eq!(ids(&db).await, vec![2], "the held write is not committed");
                }
                _ => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    assert!(
                        !next.is_finished(),
                        "SQLite's one lane waits for the held batch"
                    );
                }
            }
            release.send_replace(true);
            held.await.expect("task").expect("held write");
            if !next.is_finished() {
                next.await.expect("task").expect("write");
            }
            assert_eq!(ids(&db).await, vec![1, 2], "{:?}", db.backend());
        }
    }

    /// A write that finds its lane's batch full waits until that batch
    /// stops running: on PostgreSQL it used to open a second batch of the
    /// lane on another connection, running beside the first, and two
    /// batches of one lane deadlocked on the ledger's tallies as two lanes
    /// did (the demo on PostgreSQL with `group_commit_max_batch` 64).
    #[tokio::test]
    async fn a_full_batch_makes_the_next_write_wait_until_it_stops_running() {
        for (db, _dir) in databases_with(|s| {
            s.group_commit_lanes = 1;
            s.group_commit_max_batch = 1;
        })
        .await
        {
            let (release, hold) = tokio::sync::watch::channel(false);
            let held = held_write(&db, 1, hold.clone());
            tokio::time::sleep(Duration::from_millis(100)).await;
            let ran_beside = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let next = {
                let (db, hold, ran_beside) = (db.clone(), hold.clone(), ran_beside.clone());
                tokio::spawn(async move {
                    db.write(Box::new(move |txn| {
                        Box::pin(async move {
                            // Still held: the first batch is running.
                            ran_beside.store(!*hold.borrow(), Ordering::SeqCst);
                            txn.execute_unprepared(&insert(2)).await?;
                            Ok(Step::Commit(()))
                        })
                    }))
                    .await
                })
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                !next.is_finished(),
                "{:?}: the next write did not wait",
                db.backend()
            );
            assert!(ids(&db).await.is_empty(), "{:?}", db.backend());
            release.send_replace(true);
            held.await.expect("task").expect("held write");
            next.await.expect("task").expect("next write");
            assert!(
                !ran_beside.load(Ordering::SeqCst),
                "{:?}: the next write ran beside the full batch",
                db.backend()
            );
            assert_eq!(ids(&db).await, vec![1, 2], "{:?}", db.backend());
        }
    }

    /// Writes waiting for the batch another request is opening go on when
    /// that request goes away before it opened one (cut off while it
    /// waited for a full batch to stop, or its begin failed): one of them
    /// opens the batch, with no further write to set them going.
    /// (`Db::write` no longer lets a request cut its write off; this is
    /// the lane's own guard.)
    #[tokio::test]
    async fn writes_waiting_for_an_opener_that_went_away_still_run() {
        for (db, _dir) in databases(4096).await {
            let group = Arc::new(GroupCommit::new(1, 1, 4096));
            let (release, hold) = tokio::sync::watch::channel(false);
            let (_released, free) = tokio::sync::watch::channel(true);
            let held = held_group_write(&group, &db, 1, hold);
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Finds the batch full, takes the opening and waits for it.
            let opener = held_group_write(&group, &db, 2, free.clone());
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Finds the opening taken and waits for the batch it opens.
            let waiter = held_group_write(&group, &db, 3, free);
            tokio::time::sleep(Duration::from_millis(100)).await;
            opener.abort();
            assert!(opener.await.expect_err("aborted").is_cancelled());
            release.send_replace(true);
            held.await.expect("task").expect("held write");
            tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .unwrap_or_else(|_| panic!("{:?}: the waiting write never ran", db.backend()))
                .expect("task")
                .expect("waiting write");
            assert_eq!(ids(&db).await, vec![1, 3], "{:?}", db.backend());
        }
    }

    /// Requests cut off at every moment of their write (a client gone, a
    /// deadline passed): before their batch opens, while it begins their
    /// savepoint, mid-mutation, while it ends it, while they wait for the
    /// commit. Every write that was answered is in the database, and so is
    /// nothing of one that was refused; the batches keep committing.
    #[tokio::test]
    async fn writes_cut_off_at_any_moment_lose_no_answered_write() {
        for (db, _dir) in databases(4096).await {
            let tasks: Vec<_> = (0..600i64)
                .map(|i| {
                    let db = db.clone();
                    // Spread over the time the 600 take to commit.
                    let cut = Duration::from_micros((i as u64 * 7919) % 300_000);
                    tokio::spawn(async move {
                        let write = db.write(Box::new(move |txn| {
                            Box::pin(async move {
                                txn.execute_unprepared(&insert(i)).await?;
                                if i % 10 == 3 {
                                    return Err(ApiError::invalid(
                                        "row",
                                        CommonReason::RequiredField,
                                        "refused after writing",
                                    ));
                                }
                                Ok(Step::Commit(()))
                            })
                        }));
                        (i, tokio::time::timeout(cut, write).await)
                    })
                })
                .collect();
            let (mut answered, mut refused, mut cut) = (Vec::new(), Vec::new(), 0);
            for task in tasks {
                match task.await.expect("task") {
                    (i, Ok(Ok(()))) => answered.push(i),
                    (i, Ok(Err(err))) => refused.push((i, err)),
                    (_, Err(_)) => cut += 1,
                }
            }
            // One more write commits after them all: the writer is sound.
            db.write(inserting(999))
                .await
                .expect("a write after the cut-off ones");
            let kept = ids(&db).await;
            let missing: Vec<_> = answered.iter().filter(|i| !kept.contains(i)).collect();
            assert!(
                missing.is_empty(),
                "{:?}: answered but not committed: {missing:?} ({} answered, {cut} cut off)",
                db.backend(),
                answered.len()
            );
            for (i, err) in &refused {
                assert!(i % 10 == 3, "{:?}: write {i} failed: {err:?}", db.backend());
                assert!(
                    !kept.contains(i),
                    "{:?}: refused write {i} kept",
                    db.backend()
                );
            }
            assert!(kept.contains(&999), "{:?}", db.backend());
            assert!(
                cut > 0 && !answered.is_empty(),
                "{:?}: {cut} cut off, {} answered: the cuts missed the writes",
                db.backend(),
                answered.len()
            );
        }
    }

    /// A write whose request goes away mid-mutation (its future dropped,
    /// as when the client cancels) runs to its end all the same: committed
    /// when it succeeds, nothing left when it fails; and the writes after
    /// it commit.
    #[tokio::test]
    async fn a_write_whose_request_went_away_runs_to_its_end() {
        // One lane: the last write joins the others' batch, so its answer
        // comes after theirs have ended.
        for (db, _dir) in databases_with(|s| s.group_commit_lanes = 1).await {
            for (i, fails) in [(1, false), (2, true)] {
                let cut_off = tokio::time::timeout(
                    Duration::from_millis(100),
                    db.write(Box::new(move |txn| {
                        Box::pin(async move {
                            txn.execute_unprepared(&insert(i)).await?;
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            if fails {
                                return Err(ApiError::invalid(
                                    "row",
                                    CommonReason::RequiredField,
                                    "refused after writing",
                                ));
                            }
                            Ok(Step::Commit(()))
                        })
                    })),
                )
                .await;
                assert!(cut_off.is_err(), "the request was cut off");
            }
            db.write(inserting(3))
                .await
                .expect("the next write commits");
            assert_eq!(ids(&db).await, vec![1, 3], "{:?}", db.backend());
        }
    }
}
