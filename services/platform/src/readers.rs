//! The connections a service reads through.
//!
//! On SQLite the service holds its reader connections itself instead of
//! leaving them to sqlx's pool. sqlx tests each connection handed back to
//! its pool with a ping (sqlx-core 0.9, `Floating::return_to_pool`), and a
//! SQLite connection is a thread of this process: every read made two
//! round trips to that thread, the query and the ping, and the connection
//! sat out of the pool until the second came back. Here a connection goes
//! back as it is. One whose statement was cut short (its request cancelled
//! mid-read) is closed instead, which is what the ping was there to catch.
//!
//! On PostgreSQL reads share the one pool with writes (see [`crate::storage`]).

use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult, Timeouts};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;

use crate::storage::{PoolState, count_statement};

/// The handle every storage read goes through ([`crate::storage::Db::reader`]).
#[derive(Clone)]
pub enum Readers {
    /// SQLite: connections this process holds (see the module's comment).
    Sqlite(managed::Pool<Opener>),
    /// PostgreSQL: sea-orm's pool, shared with the writers.
    Pooled(DatabaseConnection),
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(pool) => f.debug_tuple("Sqlite").field(&pool.status()).finish(),
            Self::Pooled(db) => f.debug_tuple("Pooled").field(db).finish(),
        }
    }
}

/// Opens SQLite reader connections.
pub struct Opener(SqliteConnectOptions);

/// A reader connection, and whether it is unfit for another read: set
/// while a statement runs, and left set when the statement was cut short or
/// the connection itself failed.
pub struct Held {
    conn: SqliteConnection,
    unfit: bool,
}

impl Held {
    /// Runs `read` on the connection, leaving it fit unless the read was cut
    /// short or failed for a reason other than SQLite refusing the
    /// statement (the driver's thread gone, say), which the ping on return
    /// used to catch.
    async fn run<T>(
        &mut self,
        read: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        self.unfit = true;
        let result = read(&mut self.conn).await;
        self.unfit = result
            .as_ref()
            .is_err_and(|err| !matches!(err, sqlx::Error::Database(_)));
        result
    }
}

impl managed::Manager for Opener {
    type Type = Held;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Held, sqlx::Error> {
        let conn = SqliteConnection::connect_with(&self.0).await?;
        Ok(Held { conn, unfit: false })
    }

    async fn recycle(&self, held: &mut Held, _: &Metrics) -> RecycleResult<sqlx::Error> {
        if held.unfit {
            // The driver's thread may still be stepping a statement, or
            // hold rows nobody will read, or be gone: this one is closed.
            return Err(RecycleError::message(
                "its last read was cut short or failed",
            ));
        }
        Ok(())
    }
}

/// How long a read waits for a connection, as sqlx's pool did.
const WAIT: Duration = Duration::from_secs(30);

impl Readers {
    /// Up to `max` SQLite connections opened with `options`, on demand.
    pub fn sqlite(options: SqliteConnectOptions, max: usize) -> anyhow::Result<Self> {
        let pool = managed::Pool::builder(Opener(options))
            .max_size(max.max(1))
            .timeouts(Timeouts {
                wait: Some(WAIT),
                create: Some(WAIT),
                recycle: None,
            })
            .runtime(Runtime::Tokio1)
            .build()?;
        Ok(Self::Sqlite(pool))
    }

    /// Closes SQLite connections unused for `idle` (sqlx's pool did the
    /// same by its `idle_timeout`).
    pub fn close_idle(&self, idle: Duration) {
        if let Self::Sqlite(pool) = self {
            pool.retain(|_, metrics| metrics.last_used() < idle);
        }
    }

    pub(crate) fn state(&self) -> Option<PoolState> {
        match self {
            Self::Sqlite(pool) => {
                let status = pool.status();
                Some(PoolState {
                    name: "reader",
                    open: u32::try_from(status.size).unwrap_or(u32::MAX),
                    idle: u32::try_from(status.available).unwrap_or(u32::MAX),
                    max: u32::try_from(status.max_size).unwrap_or(u32::MAX),
                })
            }
            Self::Pooled(_) => None,
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close(),
            Self::Pooled(db) => {
                let _ = db.close_by_ref().await;
            }
        }
    }

    /// Runs `read` on a held connection, counting the statement (see
    /// [`count_statement`]).
    async fn on_held<T, F>(
        pool: &managed::Pool<Opener>,
        mut stmt: Statement,
        read: F,
    ) -> Result<T, DbErr>
    where
        F: AsyncFnOnce(
            &mut SqliteConnection,
            sqlx::query::Query<'_, sqlx::Sqlite, SqlxValues>,
        ) -> Result<T, sqlx::Error>,
    {
        let mut held = pool.get().await.map_err(unavailable)?;
        // The values move to the query; the count and the slow-statement
        // log need only the text.
        let values = stmt.values.take().unwrap_or(sea_orm::Values(Vec::new()));
        let query = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values));
        let started = Instant::now();
        let result = held.run(async |conn| read(conn, query).await).await;
        count_statement(&stmt, started.elapsed(), result.is_err());
        result.map_err(|err| DbErr::Query(RuntimeErr::SqlxError(err.into())))
    }
}

fn unavailable(err: PoolError<sqlx::Error>) -> DbErr {
    match err {
        PoolError::Backend(err) => DbErr::Conn(RuntimeErr::SqlxError(err.into())),
        PoolError::Timeout(_) => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        PoolError::Closed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::Internal(other.to_string())),
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Readers {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Sqlite(_) => DbBackend::Sqlite,
            Self::Pooled(db) => db.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Sqlite(pool) => {
                Self::on_held(pool, stmt, async |conn, query| {
                    query.execute(conn).await.map(ExecResult::from)
                })
                .await
            }
            Self::Pooled(db) => db.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Sqlite(pool) => {
                let mut held = pool.get().await.map_err(unavailable)?;
                held.run(async |conn| sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await)
                    .await
                    .map(ExecResult::from)
                    .map_err(|err| DbErr::Exec(RuntimeErr::SqlxError(err.into())))
            }
            Self::Pooled(db) => db.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Sqlite(pool) => {
                Self::on_held(pool, stmt, async |conn, query| {
                    query
                        .fetch_optional(conn)
                        .await
                        .map(|row| row.map(QueryResult::from))
                })
                .await
            }
            Self::Pooled(db) => db.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Sqlite(pool) => {
                Self::on_held(pool, stmt, async |conn, query| {
                    query
                        .fetch_all(conn)
                        .await
                        .map(|rows| rows.into_iter().map(QueryResult::from).collect())
                })
                .await
            }
            Self::Pooled(db) => db.query_all_raw(stmt).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::Readers;

    /// A read that takes seconds on SQLite: it counts to fifty million.
    const LONG_READ: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                             WHERE i < 50000000) SELECT count(*) FROM n";

    fn readers(dir: &tempfile::TempDir, max: usize) -> Readers {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("r.sqlite"))
            .create_if_missing(true);
        Readers::sqlite(options, max).expect("readers")
    }

    /// When each of the pool's connections was opened.
    fn opened(readers: &Readers) -> Vec<Instant> {
        let Readers::Sqlite(pool) = readers else {
            unreachable!("SQLite readers")
        };
        let mut opened = Vec::new();
        pool.retain(|_, metrics| {
            opened.push(metrics.created);
            true
        });
        opened
    }

    #[tokio::test]
    async fn a_connection_goes_back_as_it_is_and_one_cut_short_is_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let readers = readers(&dir, 1);
        let one = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
        let row = readers.query_one_raw(one.clone()).await.expect("read");
        let value: i64 = row.expect("a row").try_get_by_index(0).expect("value");
        assert_eq!(value, 1);
        let first = opened(&readers);
        assert_eq!(first.len(), 1, "one connection open");

        // Handed back as it is: the next read gets the same connection.
        readers.query_all_raw(one.clone()).await.expect("read");
        assert_eq!(opened(&readers), first, "the connection is reused");

        // A read cut short (its request went away) leaves the driver's
        // thread stepping a statement for seconds: that connection must not
        // serve another read.
        let long = Statement::from_string(DbBackend::Sqlite, LONG_READ);
        let cut = tokio::time::timeout(Duration::from_millis(50), readers.query_one_raw(long));
        assert!(cut.await.is_err(), "the long read was cut short");
        readers.query_one_raw(one).await.expect("read after");
        let after = opened(&readers);
        assert_eq!(after.len(), 1, "one connection open");
        assert!(
            after[0] > first[0],
            "the connection whose read was cut short was closed, another opened"
        );
    }

    #[tokio::test]
    async fn idle_connections_are_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let readers = readers(&dir, 4);
        let one = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
        let reads = (0..4).map(|_| readers.query_one_raw(one.clone()));
        futures::future::try_join_all(reads).await.expect("reads");
        assert!(!opened(&readers).is_empty());
        readers.close_idle(Duration::from_secs(60));
        assert!(!opened(&readers).is_empty(), "in use a moment ago: kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
        readers.close_idle(Duration::from_millis(10));
        assert!(opened(&readers).is_empty(), "unused for longer: closed");
        let state = readers.state().expect("SQLite readers report their pool");
        assert_eq!((state.open, state.max), (0, 4));
    }

    #[tokio::test]
    async fn a_failed_read_is_an_error_and_its_connection_serves_the_next() {
        let dir = tempfile::tempdir().expect("temp dir");
        let readers = readers(&dir, 1);
        let bad = Statement::from_string(DbBackend::Sqlite, "SELECT * FROM no_such_table");
        let err = readers.query_all_raw(bad).await.expect_err("no table");
        assert!(err.to_string().contains("no_such_table"), "{err}");
        let first = opened(&readers);
        let one = Statement::from_sql_and_values(DbBackend::Sqlite, "SELECT ?", [7i64.into()]);
        let row = readers
            .query_one_raw(one)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.try_get_by_index::<i64>(0).expect("value"), 7);
        assert_eq!(
            opened(&readers),
            first,
            "an error does not close the connection"
        );
    }
}
