//! Reads of one row by its id, coalesced under load: group commit's
//! counterpart for the hottest reads.
//!
//! A read goes to the database at once while fewer reads of its kind are
//! in flight than the machine has cores (within the readers' pool), so a
//! lone read costs what it did. Beyond that it waits, and the reads that
//! waited meanwhile go together, as one `id IN (…)` statement, when one in
//! flight ends. Each statement is a round trip (PostgreSQL) or a hand-off
//! to the driver's thread (SQLite), and their cost, not the row's, is most
//! of a read's: under load one statement serves many.
//!
//! What a read answers is the row as it was when its statement ran, which
//! began after the read was asked for: a waiting read never gets a row
//! older than its request. Nothing is cached.
//!
//! A read cancelled while its statement runs still ends its turn: the
//! reads waiting behind it are served (the turn is handed on when it is
//! dropped). The reads waiting are bounded by the requests a server takes
//! at once (`limits`): each is one of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult, DATABASE};
use crate::readers::Readers;

/// At most this many ids in one statement (a power of two: see [`padded`]).
const MAX_IDS: usize = 64;

/// Coalesced reads by id of entity `E`.
pub struct PointReads<E: EntityTrait> {
    reader: Readers,
    /// The id column, a text primary key.
    id: E::Column,
    /// A row's id, as read.
    id_of: fn(&E::Model) -> &str,
    /// Statements in flight at most ([`in_flight`]).
    max: usize,
    state: Mutex<State<E::Model>>,
    /// Statements run, for the tests.
    statements: AtomicU64,
}

type Answer<M> = oneshot::Sender<ApiResult<Option<M>>>;

struct State<M> {
    in_flight: usize,
    waiting: Vec<(String, Answer<M>)>,
}

impl<E> PointReads<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + 'static,
{
    /// Reads of `E` by `id` (its text primary key) through `db`'s readers.
    pub fn new(db: &crate::storage::Db, id: E::Column, id_of: fn(&E::Model) -> &str) -> Arc<Self> {
        Arc::new(Self {
            reader: db.reader().clone(),
            id,
            id_of,
            max: in_flight(db.reader().state().max as usize),
            state: Mutex::new(State {
                in_flight: 0,
                waiting: Vec::new(),
            }),
            statements: AtomicU64::new(0),
        })
    }

    /// The row with this id, if any.
    pub async fn get(self: &Arc<Self>, id: &str) -> ApiResult<Option<E::Model>> {
        let waiting = {
            let mut state = self.state.lock().expect("point reads");
            if state.in_flight < self.max {
                state.in_flight += 1;
                None
            } else {
                let (answer, answered) = oneshot::channel();
                state.waiting.push((id.to_owned(), answer));
                Some(answered)
            }
        };
        match waiting {
            Some(answered) => answered.await.unwrap_or_else(|_| {
                Err(ApiError::Unavailable {
                    service: DATABASE.to_owned(),
                    cause: "the read was dropped as the server stopped".to_owned(),
                })
            }),
            None => {
                let _turn = Turn(self.clone());
                Ok(self.fetch(&[id.to_owned()]).await?.pop())
            }
        }
    }

    /// The rows with these ids (distinct, at most [`MAX_IDS`]).
    async fn fetch(&self, ids: &[String]) -> Result<Vec<E::Model>, sea_orm::DbErr> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let query = E::find();
        let query = match ids {
            [id] => query.filter(self.id.eq(id.as_str())),
            _ => query.filter(self.id.is_in(padded(ids))),
        };
        query.all(&self.reader).await
    }

    /// Serves the reads that waited, a statement at a time, then frees
    /// the turn it holds.
    async fn serve(self: Arc<Self>, batch: Vec<(String, Answer<E::Model>)>) {
        let _turn = Turn(self.clone());
        let mut ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        match self.fetch(&ids).await {
            Ok(rows) => {
                let by_id: std::collections::HashMap<&str, &E::Model> =
                    rows.iter().map(|row| ((self.id_of)(row), row)).collect();
                for (id, answer) in batch {
                    let row = by_id.get(id.as_str()).map(|row| (*row).clone());
                    // A reader that went away no longer waits for its row.
                    let _ = answer.send(Ok(row));
                }
            }
            Err(err) => {
                for (_, answer) in batch {
                    let _ = answer.send(Err(ApiError::of_shared_db_error(&err)));
                }
            }
        }
    }
}

/// A statement's turn: when it ends (or is cancelled), the reads that
/// waited meanwhile get it, or it is freed.
struct Turn<E>(Arc<PointReads<E>>)
where
    E: EntityTrait,
    E::Model: Send + Sync + 'static;

impl<E> Drop for Turn<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + 'static,
{
    fn drop(&mut self) {
        let batch = {
            let mut state = self.0.state.lock().expect("point reads");
            if state.waiting.is_empty() {
                state.in_flight -= 1;
                return;
            }
            let take = state.waiting.len().min(MAX_IDS);
            state.waiting.drain(..take).collect::<Vec<_>>()
        };
        // The turn passes to the batch: `in_flight` stays as it is.
        tokio::spawn(self.0.clone().serve(batch));
    }
}

/// Statements of one kind in flight at most: one per core, within the
/// readers' pool (`readers`). More would not be served sooner: on the
/// 2-core development machine, with GetOrganisation at 16 and 64 in flight,
/// two at a time (the reads beyond them coalesced) answered 35–85 % more
/// reads on PostgreSQL and 20–30 % more on SQLite than the pool's ten.
fn in_flight(readers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    readers.clamp(1, cores)
}

/// `ids` lengthened to a power of two by repeating the last, so that a
/// handful of statement texts (`IN (?)`, `IN (?, ?)`, `IN (?, ?, ?, ?)`,
/// …) serve every batch from the statement cache.
fn padded(ids: &[String]) -> Vec<String> {
    let mut padded = ids.to_vec();
    if let Some(last) = ids.last() {
        padded.resize(ids.len().next_power_of_two(), last.clone());
    }
    padded
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::FutureExt;
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::storage::Db;

    mod row {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "pr_rows")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub n: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// Databases (SQLite, and PostgreSQL when the tests have one) whose
    /// readers' pool holds `readers`, with rows `r00`…`r59`, `n` = the number.
    async fn databases(readers: u32) -> Vec<(Db, tempfile::TempDir)> {
        let dbs = crate::group_commit::tests::databases_with(|s| s.max_connections = readers).await;
        for (db, _) in &dbs {
            db.writer()
                .execute_unprepared("CREATE TABLE pr_rows (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
                .await
                .expect("table");
            let values: Vec<String> = (0..60).map(|i| format!("('r{i:02}', {i})")).collect();
            db.writer()
                .execute_unprepared(&format!("INSERT INTO pr_rows VALUES {}", values.join(", ")))
                .await
                .expect("rows");
        }
        dbs
    }

    fn reads(db: &Db) -> Arc<PointReads<row::Entity>> {
        PointReads::new(db, row::Column::Id, |r: &row::Model| &r.id)
    }

    #[tokio::test]
    async fn reads_beyond_the_pool_go_together_and_each_gets_its_own_row() {
        for (db, _dir) in databases(2).await {
            let reads = reads(&db);
            let asked: Vec<usize> = (0..300).map(|i| (i * 7) % 80).collect();
            let answers = futures::future::join_all(asked.iter().map(|&i| {
                let reads = reads.clone();
                tokio::spawn(async move { reads.get(&format!("r{i:02}")).await })
            }));
            let answers = tokio::time::timeout(Duration::from_secs(30), answers)
                .await
                .expect("every read was answered");
            for (i, answer) in asked.iter().zip(answers) {
                let row = answer.expect("task").expect("read");
                match row {
                    Some(row) => {
                        assert!(*i < 60, "r{i:02} does not exist, yet it was read");
                        assert_eq!((row.id, row.n), (format!("r{i:02}"), *i as i64));
                    }
                    None => assert!(*i >= 60, "r{i:02} exists and was not read"),
                }
            }
            let statements = reads.statements.load(Ordering::Relaxed);
            assert!(
                statements < 300 / 8,
                "{statements} statements for 300 reads on {:?}",
                db.backend()
            );
            // All turns ended: a lone read goes at once again.
            assert_eq!(reads.state.lock().expect("state").in_flight, 0);
            let lone = reads.get("r07").await.expect("read").expect("row");
            assert_eq!(lone.n, 7);
        }
    }

    #[tokio::test]
    async fn a_read_dropped_mid_statement_hands_its_turn_to_the_reads_waiting() {
        for (db, _dir) in databases(1).await {
            let reads = reads(&db);
            // The first takes the one turn and is dropped while its
            // statement runs; the second waited behind it.
            let mut first = Box::pin(reads.get("r01"));
            assert!(
                (&mut first).now_or_never().is_none(),
                "the read is still running"
            );
            let mut second = Box::pin(reads.get("r02"));
            assert!(
                (&mut second).now_or_never().is_none(),
                "the second read waits"
            );
            assert_eq!(reads.state.lock().expect("state").waiting.len(), 1);
            drop(first);
            let row = tokio::time::timeout(Duration::from_secs(5), second)
                .await
                .expect("the waiting read was served")
                .expect("read")
                .expect("row");
            assert_eq!((row.id.as_str(), row.n), ("r02", 2));
            tokio::time::timeout(Duration::from_secs(5), async {
                while reads.state.lock().expect("state").in_flight > 0 {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the turn was freed");
            assert!(reads.get("r03").await.expect("read").is_some());
        }
    }

    #[test]
    fn batches_are_padded_to_a_power_of_two_with_the_last_id() {
        let ids = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(padded(&ids(1)), ids(1));
        assert_eq!(padded(&ids(2)), ids(2));
        assert_eq!(padded(&ids(3)), ["0", "1", "2", "2"]);
        assert_eq!(padded(&ids(5)).len(), 8);
        assert_eq!(padded(&ids(64)), ids(64));
        assert!(padded(&[]).is_empty());
    }
}
