//! The connections a service reads through.
//!
//! The service holds its reader connections itself instead of leaving them
//! to sqlx's pool. sqlx tests each connection handed back to its pool with
//! a ping (sqlx-core 0.9, `Floating::return_to_pool`): on SQLite a round
//! trip to the connection's thread, on PostgreSQL one to the server (a Sync
//! and its ReadyForQuery), after every read. The connection sat out of the
//! pool until the answer came back. Here a connection goes back as it is.
//! What the ping was there to catch is caught otherwise:
//! - one whose read was cut short (its request cancelled mid-read) or
//!   failed for a reason other than the database refusing the statement
//!   (an I/O error, the driver's thread gone) is closed;
//! - one whose statement the database refused is pinged before it serves
//!   again (PostgreSQL reports a connection it is closing as an error too);
//! - on PostgreSQL one not handed out for [`Opener::ping_after_idle`] is
//!   pinged before it serves (a server restart is found before a read
//!   fails on it), as the writers' pool does.
//!
//! Writes keep sea-orm's pool (see [`crate::storage`]): a transaction pays
//! the ping once, and group commit holds one connection for many writes.

use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult, Timeouts};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, Connection, IntoArguments};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;

use crate::storage::{PoolState, count_statement};

/// The handle every storage read goes through ([`crate::storage::Db::reader`]).
#[derive(Clone)]
pub enum Readers {
    Sqlite(managed::Pool<Opener<SqliteConnection>>),
    Postgres(managed::Pool<Opener<PgConnection>>),
}

/// Evaluates `$body` with `$pool` bound to either backend's pool: the body
/// is typed once per backend.
macro_rules! each_backend {
    ($readers:expr, |$pool:ident| $body:expr) => {
        match $readers {
            Readers::Sqlite($pool) => $body,
            Readers::Postgres($pool) => $body,
        }
    };
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = each_backend!(self, |pool| pool.status());
        f.debug_tuple("Readers").field(&status).finish()
    }
}

/// Opens reader connections.
pub struct Opener<C: Connection> {
    options: C::Options,
    /// A connection not handed out for this long is pinged before it
    /// serves; `None`: never (a SQLite connection is a thread of this
    /// process).
    ping_after_idle: Option<Duration>,
}

/// Whether a reader connection may serve the next read as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fitness {
    Fit,
    /// The database refused its last statement: pinged before it serves.
    Suspect,
    /// Its last read was cut short or failed otherwise: closed. Set while a
    /// statement runs, so a read that never finishes leaves it set.
    Unfit,
}

/// A reader connection and its [`Fitness`].
pub struct Held<C> {
    conn: C,
    fitness: Fitness,
}

impl<C> Held<C> {
    /// Runs `read` on the connection and judges the connection by how it
    /// ended (see [`Fitness`]).
    async fn run<T>(
        &mut self,
        read: impl AsyncFnOnce(&mut C) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        self.fitness = Fitness::Unfit;
        let result = read(&mut self.conn).await;
        self.fitness = match &result {
            Ok(_) => Fitness::Fit,
            Err(sqlx::Error::Database(_)) => Fitness::Suspect,
            Err(_) => Fitness::Unfit,
        };
        result
    }
}

impl<C: Connection> managed::Manager for Opener<C> {
    type Type = Held<C>;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Held<C>, sqlx::Error> {
        let conn = C::connect_with(&self.options).await?;
        Ok(Held {
            conn,
            fitness: Fitness::Fit,
        })
    }

    async fn recycle(&self, held: &mut Held<C>, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        let idle = self
            .ping_after_idle
            .is_some_and(|after| metrics.last_used() >= after);
        match held.fitness {
            // The driver's thread may still be stepping a statement, or
            // hold rows nobody will read, or the link may be gone.
            Fitness::Unfit => {
                return Err(RecycleError::message(
                    "its last read was cut short or failed",
                ));
            }
            Fitness::Fit if !idle => return Ok(()),
            Fitness::Fit | Fitness::Suspect => {}
        }
        held.conn.ping().await.map_err(RecycleError::Backend)?;
        held.fitness = Fitness::Fit;
        Ok(())
    }
}

/// How long a read waits for a connection, as sqlx's pool did.
const WAIT: Duration = Duration::from_secs(30);

/// Up to `max` connections opened by `opener`, on demand.
fn pool<C: Connection>(opener: Opener<C>, max: usize) -> anyhow::Result<managed::Pool<Opener<C>>> {
    Ok(managed::Pool::builder(opener)
        .max_size(max.max(1))
        .timeouts(Timeouts {
            wait: Some(WAIT),
            create: Some(WAIT),
            recycle: Some(WAIT),
        })
        .runtime(Runtime::Tokio1)
        .build()?)
}

impl Readers {
    /// Up to `max` SQLite connections opened with `options`.
    pub fn sqlite(options: SqliteConnectOptions, max: usize) -> anyhow::Result<Self> {
        let opener = Opener {
            options,
            ping_after_idle: None,
        };
        Ok(Self::Sqlite(pool(opener, max)?))
    }

    /// Up to `max` PostgreSQL connections opened with `options`, each
    /// pinged before it serves when not handed out for `ping_after_idle`.
    pub fn postgres(
        options: PgConnectOptions,
        max: usize,
        ping_after_idle: Duration,
    ) -> anyhow::Result<Self> {
        let opener = Opener {
            options,
            ping_after_idle: Some(ping_after_idle),
        };
        Ok(Self::Postgres(pool(opener, max)?))
    }

    /// Closes connections not handed out for `idle` (sqlx's pool did the
    /// same by its `idle_timeout`).
    pub async fn close_idle(&self, idle: Duration) {
        each_backend!(self, |pool| {
            let unused = pool.retain(|_, metrics| metrics.last_used() < idle);
            goodbye(unused.removed).await;
        });
    }

    pub(crate) fn state(&self) -> PoolState {
        let status = each_backend!(self, |pool| pool.status());
        PoolState {
            name: "reader",
            open: u32::try_from(status.size).unwrap_or(u32::MAX),
            idle: u32::try_from(status.available).unwrap_or(u32::MAX),
            max: u32::try_from(status.max_size).unwrap_or(u32::MAX),
        }
    }

    /// Closes the pool: the idle connections at once, each in use when it
    /// comes back.
    pub(crate) async fn close(&self) {
        each_backend!(self, |pool| {
            let idle = pool.retain(|_, _| false);
            pool.close();
            goodbye(idle.removed).await;
        });
    }

    /// Runs `stmt` by `read` on a held connection, counting it (see
    /// [`count_statement`]; the time counted starts once the connection is
    /// held, as sea-orm's own count does).
    async fn on_held<C, T>(
        pool: &managed::Pool<Opener<C>>,
        mut stmt: Statement,
        read: impl AsyncFnOnce(
            &mut C,
            sqlx::query::Query<'_, C::Database, SqlxValues>,
        ) -> Result<T, sqlx::Error>,
    ) -> Result<T, DbErr>
    where
        C: Connection,
        SqlxValues: IntoArguments<C::Database>,
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

/// Closes `connections` as their database expects. A PostgreSQL
/// connection dropped instead ends without its Terminate message and, over
/// TLS, with records unread: the server logs "connection reset by peer"
/// for each. One left unfit is dropped, as when it is found at checkout:
/// closing a SQLite connection waits for the statement its thread may
/// still be stepping.
async fn goodbye<C: Connection>(connections: Vec<Held<C>>) {
    let closing = connections
        .into_iter()
        .filter(|held| held.fitness != Fitness::Unfit)
        .map(|held| held.conn.close());
    for closed in futures::future::join_all(closing).await {
        if let Err(err) = closed {
            tracing::debug!(error = %err, "closing a reader connection failed");
        }
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
            Self::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        each_backend!(self, |pool| Self::on_held(
            pool,
            stmt,
            async |conn, query| { query.execute(conn).await.map(ExecResult::from) }
        )
        .await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let sql = sqlx::AssertSqlSafe(sql);
        let result = each_backend!(self, |pool| {
            let mut held = pool.get().await.map_err(unavailable)?;
            held.run(async |conn| sqlx::raw_sql(sql).execute(conn).await.map(ExecResult::from))
                .await
        });
        result.map_err(|err| DbErr::Exec(RuntimeErr::SqlxError(err.into())))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        each_backend!(self, |pool| Self::on_held(
            pool,
            stmt,
            async |conn, query| {
                query
                    .fetch_optional(conn)
                    .await
                    .map(|row| row.map(QueryResult::from))
            }
        )
        .await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        each_backend!(self, |pool| Self::on_held(
            pool,
            stmt,
            async |conn, query| {
                query
                    .fetch_all(conn)
                    .await
                    .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            }
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::Readers;

    /// Readers on SQLite (in `dir`) and, when the tests run on PostgreSQL,
    /// on its server, each with at most `max` connections; a PostgreSQL
    /// connection unused for `ping_after_idle` is pinged before it serves.
    fn readers(dir: &tempfile::TempDir, max: usize, ping_after_idle: Duration) -> Vec<Readers> {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("r.sqlite"))
            .create_if_missing(true);
        let mut readers = vec![Readers::sqlite(options, max).expect("SQLite readers")];
        if let Some(url) = crate::testing::postgres_url() {
            let options = url.parse().expect("PostgreSQL URL");
            readers.push(Readers::postgres(options, max, ping_after_idle).expect("readers"));
        }
        readers
    }

    /// A read that takes seconds.
    fn long_read(backend: DbBackend) -> Statement {
        let sql = match backend {
            // It counts to fifty million.
            DbBackend::Sqlite => {
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                 WHERE i < 50000000) SELECT count(*) FROM n"
            }
            _ => "SELECT pg_sleep(30)",
        };
        Statement::from_string(backend, sql)
    }

    fn one(readers: &Readers) -> Statement {
        Statement::from_string(readers.get_database_backend(), "SELECT 1")
    }

    /// Starts a long read and gives up on it after 50 ms, as a request
    /// that went away would.
    async fn cut_short(readers: &Readers) {
        let backend = readers.get_database_backend();
        let read = readers.query_one_raw(long_read(backend));
        let cut = tokio::time::timeout(Duration::from_millis(50), read).await;
        assert!(cut.is_err(), "{backend:?}: the long read was cut short");
    }

    /// When each of the pool's connections was opened.
    fn opened(readers: &Readers) -> Vec<Instant> {
        let mut opened = Vec::new();
        each_backend!(readers, |pool| {
            pool.retain(|_, metrics| {
                opened.push(metrics.created);
                true
            });
        });
        opened
    }

    #[tokio::test]
    async fn a_connection_goes_back_as_it_is_and_one_cut_short_is_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        for readers in readers(&dir, 1, Duration::from_secs(60)) {
            let backend = readers.get_database_backend();
            let row = readers.query_one_raw(one(&readers)).await.expect("read");
            let value: i32 = row.expect("a row").try_get_by_index(0).expect("value");
            assert_eq!(value, 1);
            let first = opened(&readers);
            assert_eq!(first.len(), 1, "{backend:?}: one connection open");

            // Handed back as it is: the next read gets the same connection.
            readers.query_all_raw(one(&readers)).await.expect("read");
            assert_eq!(opened(&readers), first, "{backend:?}: reused");

            // A read cut short (its request went away) leaves the
            // connection busy with a statement for seconds: it must not
            // serve another read.
            cut_short(&readers).await;
            let started = Instant::now();
            readers
                .query_one_raw(one(&readers))
                .await
                .expect("read after");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{backend:?}: the next read did not wait for the abandoned one"
            );
            let after = opened(&readers);
            assert_eq!(after.len(), 1, "{backend:?}: one connection open");
            assert!(
                after[0] > first[0],
                "{backend:?}: the connection whose read was cut short was closed"
            );
        }
    }

    #[tokio::test]
    async fn closing_idle_readers_does_not_wait_for_a_read_cut_short() {
        let dir = tempfile::tempdir().expect("temp dir");
        for readers in readers(&dir, 1, Duration::from_secs(60)) {
            let backend = readers.get_database_backend();
            cut_short(&readers).await;
            let started = Instant::now();
            readers.close_idle(Duration::ZERO).await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{backend:?}: the unfit connection was dropped, not closed after its statement"
            );
            assert_eq!(readers.state().open, 0, "{backend:?}");
        }
    }

    #[tokio::test]
    async fn idle_connections_are_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        for readers in readers(&dir, 4, Duration::from_secs(60)) {
            let reads = (0..4).map(|_| readers.query_one_raw(one(&readers)));
            futures::future::try_join_all(reads).await.expect("reads");
            assert!(!opened(&readers).is_empty());
            readers.close_idle(Duration::from_secs(60)).await;
            assert!(!opened(&readers).is_empty(), "in use a moment ago: kept");
            tokio::time::sleep(Duration::from_millis(20)).await;
            readers.close_idle(Duration::from_millis(10)).await;
            assert!(opened(&readers).is_empty(), "unused for longer: closed");
            let state = readers.state();
            assert_eq!((state.name, state.open, state.max), ("reader", 0, 4));
        }
    }

    #[tokio::test]
    async fn a_failed_read_is_an_error_and_its_connection_serves_the_next() {
        let dir = tempfile::tempdir().expect("temp dir");
        for readers in readers(&dir, 1, Duration::from_secs(60)) {
            let backend = readers.get_database_backend();
            let bad = Statement::from_string(backend, "SELECT * FROM no_such_table");
            let err = readers.query_all_raw(bad).await.expect_err("no table");
            assert!(err.to_string().contains("no_such_table"), "{err}");
            let first = opened(&readers);
            let sql = match backend {
                DbBackend::Sqlite => "SELECT ?",
                _ => "SELECT $1::bigint",
            };
            let seven = Statement::from_sql_and_values(backend, sql, [7i64.into()]);
            let row = readers.query_one_raw(seven).await.expect("read");
            let value: i64 = row.expect("row").try_get_by_index(0).expect("value");
            assert_eq!(value, 7);
            assert_eq!(
                opened(&readers),
                first,
                "{backend:?}: an error does not close the connection"
            );
        }
    }

    /// The server's process for the connection a read ran on.
    async fn backend_pid(readers: &Readers) -> Result<i32, sea_orm::DbErr> {
        let pid = Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid()");
        let row = readers.query_one_raw(pid).await?.expect("a row");
        row.try_get_by_index(0)
    }

    /// Ends the server's process `pid`, as a server restart or an
    /// administrator would, from a connection of its own.
    async fn terminate(pid: i32) {
        let url = crate::testing::postgres_url().expect("PostgreSQL");
        let admin = sea_orm::Database::connect(url.as_str())
            .await
            .expect("admin");
        admin
            .execute_unprepared(&format!("SELECT pg_terminate_backend({pid})"))
            .await
            .expect("terminate");
        admin.close().await.expect("close");
    }

    #[tokio::test]
    async fn a_postgres_connection_the_server_closed_is_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ran = false;
        for idle in [Duration::from_millis(10), Duration::from_secs(60)] {
            let readers = readers(&dir, 1, idle).pop().expect("readers");
            if readers.get_database_backend() != DbBackend::Postgres {
                continue;
            }
            ran = true;
            let first = backend_pid(&readers).await.expect("pid");
            terminate(first).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let next = backend_pid(&readers).await;
            if idle < Duration::from_millis(20) {
                // It sat unused longer than `idle`: pinged, found closed
                // and replaced before the read.
                let next = next.expect("read after the ping");
                assert_ne!(next, first, "a new connection");
            } else {
                // In steady use it is not pinged: the read fails, as on the
                // writers' pool, and the connection is not kept.
                assert!(next.is_err(), "the read on a closed connection fails");
            }
            let after = backend_pid(&readers).await.expect("the next read");
            assert_ne!(after, first, "served by a new connection");
        }
        if !ran {
            eprintln!("PostgreSQL part skipped: set FIVELEDGER_TEST_DATABASE_URL");
        }
    }

    /// A session's count of sessions and of those the client abandoned
    /// (went away without a Terminate), for database `name`.
    async fn sessions(admin: &sea_orm::DatabaseConnection, name: &str) -> (i64, i64) {
        let sql = format!(
            "SELECT sessions, sessions_abandoned FROM pg_stat_database WHERE datname = '{name}'"
        );
        let row = admin
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("statistics")
            .expect("the database's row");
        (
            row.try_get_by_index(0).expect("sessions"),
            row.try_get_by_index(1).expect("abandoned"),
        )
    }

    #[tokio::test]
    async fn postgres_connections_are_closed_not_dropped() {
        let Some(url) = crate::testing::postgres_url() else {
            eprintln!("skipped: set FIVELEDGER_TEST_DATABASE_URL");
            return;
        };
        // A database of its own, so only these readers' sessions count.
        let name = "fiveledger_readers_goodbye";
        let admin = sea_orm::Database::connect(url.as_str())
            .await
            .expect("admin");
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await;
        if let Err(err) = created {
            assert!(err.to_string().contains("already exists"), "{err}");
        }
        let before = sessions(&admin, name).await;
        let options: sea_orm::sqlx::postgres::PgConnectOptions = url.parse().expect("URL");
        let readers =
            Readers::postgres(options.database(name), 3, Duration::from_secs(60)).expect("readers");
        let reads = (0..3).map(|_| readers.query_one_raw(long_read_of(Duration::from_millis(50))));
        futures::future::try_join_all(reads).await.expect("reads");
        assert_eq!(readers.state().open, 3, "three connections");
        readers.close_idle(Duration::ZERO).await;
        assert_eq!(readers.state().open, 0);

        // A session's figures reach the statistics when it ends.
        let started = Instant::now();
        let mut after = sessions(&admin, name).await;
        while after.0 < before.0 + 3 && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            after = sessions(&admin, name).await;
        }
        assert_eq!(after.0, before.0 + 3, "the three sessions ended");
        assert_eq!(after.1, before.1, "none abandoned: each said goodbye");
        admin.close().await.expect("close");
    }

    /// A PostgreSQL read that takes `long`, so reads in flight together
    /// each hold a connection.
    fn long_read_of(long: Duration) -> Statement {
        let sql = format!("SELECT pg_sleep({})", long.as_secs_f64());
        Statement::from_string(DbBackend::Postgres, sql)
    }
}
