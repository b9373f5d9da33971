//! Database connections (SQLite by default, PostgreSQL by URL), migrations
//! (see [`crate::schema_compat`]), and the query helpers every service's
//! storage layer shares.
//!
//! SQLite runs in WAL mode with a busy timeout, and every write goes through
//! one dedicated connection: writers queue in the pool instead of failing on
//! `SQLITE_BUSY`, while readers use their own pool and never block writers.
//! Its `synchronous` is a setting (FULL by default: a commit survives a power
//! cut). On PostgreSQL too reads have connections of their own
//! ([`crate::readers`]), writes sea-orm's pool.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
};

use crate::error::ApiResult;
use sea_orm_migration::MigratorTrait;

use crate::commits::{Commits, Wrote};
use crate::group_commit::{Claim, Claiming, GroupCommit, Mutation, Step, unclaimed};
use crate::readers::Readers;
use crate::schema_compat::{Migrated, Recorded, Schema};
use crate::settings::{DatabaseSettings, SqliteSync};
use crate::write_scope::gathering;

/// The two handles a service uses: `writer` for transactions that change
/// data, `reader` for queries.
#[derive(Clone, Debug)]
pub struct Db {
    writer: DatabaseConnection,
    reader: Readers,
    backend: DbBackend,
    /// The ends of write transactions, with the event types each wrote:
    /// event streams wait on them rather than poll.
    commits: Arc<Commits>,
    /// Request writes committed in groups (`database.group_commit`).
    group: Option<Arc<GroupCommit>>,
    /// How long a connection may sit unused before it is closed.
    idle: Duration,
}

impl Db {
    /// Connects by `settings.url`, or to `default_sqlite` when it is empty.
    pub async fn connect(
        settings: &DatabaseSettings,
        default_sqlite: &Path,
    ) -> anyhow::Result<Self> {
        let url = if settings.url.is_empty() {
            if let Some(dir) = default_sqlite.parent() {
                std::fs::create_dir_all(dir)?;
            }
            format!("sqlite://{}?mode=rwc", default_sqlite.display())
        } else {
            settings.url.clone()
        };
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(&url, settings).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(&url, settings).await
        } else {
            anyhow::bail!("database.url must start with sqlite: or postgres://")
        }
    }

    async fn connect_sqlite(url: &str, settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let synchronous = match settings.sqlite_synchronous {
            SqliteSync::Full => SqliteSynchronous::Full,
            SqliteSync::Normal => SqliteSynchronous::Normal,
        };
        let statements = settings.statement_cache;
        let idle = Duration::from_secs(settings.idle_timeout_seconds);
        // Negative: KiB rather than pages.
        let cache = format!("-{}", u64::from(settings.sqlite_cache_mib) * 1024);
        let mmap = (u64::from(settings.sqlite_mmap_mib) * 1024 * 1024).to_string();
        let tune = move |o: SqliteConnectOptions| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .statement_cache_capacity(statements)
                .pragma("cache_size", cache.clone())
                .pragma("mmap_size", mmap.clone())
                // Sorts and temporary indexes stay in memory.
                .pragma("temp_store", "memory")
        };
        let mut options = ConnectOptions::new(url.to_owned());
        let tune_writer = tune.clone();
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(idle)
            // No ping on checkout: a SQLite connection is a thread of
            // this process, and the ping was a round trip to it before
            // every transaction.
            .test_before_acquire(false)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(tune_writer);
        // The writer first: it switches the file to WAL before readers open it.
        let writer = Database::connect(options).await?;
        if !plans_without_bound_values(&writer).await? {
            tracing::warn!(
                "this build's SQLite lacks ENABLE_QPSG (the repository's .cargo/config.toml \
                 sets it): every paged read will be prepared anew each time it runs"
            );
        }
        let readers = tune(url.parse::<SqliteConnectOptions>()?).disable_statement_logging();
        let reader = Readers::sqlite(readers, settings.max_connections as usize)?;
        Ok(Self::new(writer, reader, DbBackend::Sqlite, settings))
    }

    async fn connect_postgres(url: &str, settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let schema = settings.schema.as_str();
        if !schema.is_empty() {
            anyhow::ensure!(
                schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "database.schema may hold only letters, digits and _"
            );
            // CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent
            // twin (replicas starting together): take the migration lock.
            let bootstrap = Database::connect(ConnectOptions::new(url.to_owned())).await?;
            let txn = bootstrap.begin().await?;
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
            txn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await?;
            txn.commit().await?;
            bootstrap.close().await?;
        }
        // The readers have connections of their own (see
        // [`crate::readers`]), the writers sea-orm's pool.
        let (readers, writers) = pool_sizes(settings.max_connections);
        let statements = settings.statement_cache;
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(writers)
            .min_connections(1)
            .idle_timeout(Duration::from_secs(settings.idle_timeout_seconds))
            // A connection is pinged on checkout only after it sat idle: a
            // busy one would otherwise pay a round trip to the server
            // before each query or transaction.
            .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
            .sqlx_logging(false)
            .map_sqlx_postgres_opts(move |o| o.statement_cache_capacity(statements));
        let mut reader_options = url
            .parse::<PgConnectOptions>()?
            .statement_cache_capacity(statements)
            .disable_statement_logging();
        if !schema.is_empty() {
            opts.set_schema_search_path(schema.to_owned());
            // Set at connection start-up; quoted, as sea-orm quotes it for
            // the writers, so the name keeps its case.
            reader_options = reader_options.options([("search_path", format!("\"{schema}\""))]);
        }
        let pool = Database::connect(opts).await?;
        let reader = Readers::postgres(reader_options, readers as usize, PING_AFTER_IDLE)?;
        Ok(Self::new(pool, reader, DbBackend::Postgres, settings))
    }

    fn new(
        mut writer: DatabaseConnection,
        reader: Readers,
        backend: DbBackend,
        settings: &DatabaseSettings,
    ) -> Self {
        writer.set_metric_callback(counted);
        // Each lane holds a connection while its batch is open: at most
        // half the writers' pool, so the consumers keep the rest.
        let lanes = match backend {
            DbBackend::Postgres => settings
                .group_commit_lanes
                .min(pool_sizes(settings.max_connections).1 as usize / 2),
            _ => 1,
        };
        let group = settings.group_commit.then(|| {
            Arc::new(GroupCommit::new(
                lanes,
                settings.group_commit_max_batch,
                settings.write_queue,
            ))
        });
        Self {
            writer,
            reader,
            backend,
            commits: Arc::default(),
            group,
            idle: Duration::from_secs(settings.idle_timeout_seconds),
        }
    }

    pub fn reader(&self) -> &Readers {
        &self.reader
    }

    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Begins a write transaction, which may append events: on PostgreSQL
    /// it first joins the outbox's writers (see [`crate::outbox_writers`]).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_writing(&self.writer).await
    }

    /// Commits and wakes the event streams. Which events the transaction
    /// wrote is not known here, so every stream reads again
    /// ([`Db::transaction`] knows).
    pub async fn commit(&self, txn: DatabaseTransaction) -> Result<(), DbErr> {
        self.end(txn, Wrote::Anything).await
    }

    /// Commits `txn` and announces its end to the event streams, with what
    /// it wrote if it committed (on PostgreSQL a stream may have waited for
    /// this writer to end, however it ended).
    async fn end(&self, txn: DatabaseTransaction, wrote: Wrote) -> Result<(), DbErr> {
        let committed = txn.commit().await;
        self.commits.ended(match committed {
            Ok(()) => wrote,
            Err(_) => Wrote::nothing(),
        });
        committed
    }

    /// Rolls back and wakes the event streams: on PostgreSQL one may have
    /// been waiting for this writer to end.
    pub async fn rollback(&self, txn: DatabaseTransaction) -> Result<(), DbErr> {
        let result = txn.rollback().await;
        self.commits.ended(Wrote::nothing());
        result
    }

    /// Runs a request's mutation in a write transaction and answers once it
    /// is committed: with group commit (the default) in a savepoint of a
    /// batch shared with concurrent requests (see [`crate::group_commit`]),
    /// otherwise in a transaction of its own. An error, or
    /// [`Step::Rollback`], undoes exactly this mutation's changes.
    ///
    /// Once accepted, a write runs to its end in a task of its own, even if
    /// the request that asked for it goes away (its client gone, its
    /// deadline passed): it commits or fails as if still awaited, and a
    /// retry with its request id gets its answer. Cut off halfway, it
    /// would leave the batch's transaction in a state nothing repairs: its
    /// savepoint's work neither kept nor undone, or (while group commit
    /// used sea-orm's nested transactions) the whole batch rolled back by
    /// a nested `begin` dropped before its SAVEPOINT answered, members
    /// already answered included (the test
    /// `writes_cut_off_at_any_moment_lose_no_answered_write`).
    pub async fn write<T: Send + 'static>(&self, f: Mutation<T>) -> ApiResult<T> {
        self.write_claiming(None, unclaimed(f)).await
    }

    /// [`Db::write`] for a request known by its request id, whose
    /// idempotency `claim` runs first (see [`Claim`]): with group commit
    /// every write of one key takes the same lane.
    pub async fn write_claiming<T: Send + 'static>(
        &self,
        claim: Option<Claim>,
        f: Claiming<T>,
    ) -> ApiResult<T> {
        use tracing::Instrument;
        let db = self.clone();
        // In the request's span: its events carry the request's trace.
        let write = async move { db.write_to_the_end(claim, f).await };
        tokio::spawn(write.instrument(tracing::Span::current()))
            .await
            .unwrap_or_else(|err| {
                Err(crate::ApiError::internal(anyhow::anyhow!(
                    "a write did not finish: {err}"
                )))
            })
    }

    async fn write_to_the_end<T: Send>(
        &self,
        claim: Option<Claim>,
        f: Claiming<T>,
    ) -> ApiResult<T> {
        if let Some(group) = &self.group {
            return group
                .write(&self.writer, self.commits.clone(), claim, f)
                .await;
        }
        self.transaction(async |txn| {
            let claimed = match claim {
                Some(claim) => txn.query_one_raw(claim.statement).await?.is_some(),
                None => true,
            };
            f(txn, claimed).await
        })
        .await
    }

    /// Runs `f` in a write transaction of its own, never in a batch (a
    /// service's upkeep: its leases, its access log), and commits it on
    /// [`Step::Commit`]; an error or [`Step::Rollback`] rolls it back. The
    /// event streams learn which event types it wrote.
    pub async fn transaction<T>(
        &self,
        f: impl AsyncFnOnce(&DatabaseTransaction) -> ApiResult<Step<T>>,
    ) -> ApiResult<T> {
        let txn = self.begin().await?;
        let (mut ran, mut gathered) = gathering(f(&txn)).await;
        if let Ok(Step::Commit(_)) = ran
            && let Err(err) = gathered.send_held(&txn).await
        {
            ran = Err(err);
        }
        match ran {
            Ok(Step::Commit(value)) => {
                self.end(txn, Wrote::Types(gathered.types)).await?;
                Ok(value)
            }
            Ok(Step::Rollback(value)) => {
                self.rollback(txn).await?;
                Ok(value)
            }
            Err(err) => {
                self.rollback(txn).await?;
                Err(err)
            }
        }
    }

    /// Batches committed by group commit and the writes they held, since
    /// start (both 0 without group commit).
    pub fn batches(&self) -> (u64, u64) {
        self.group.as_ref().map_or((0, 0), |g| {
            (
                g.batches.load(Ordering::Relaxed),
                g.members.load(Ordering::Relaxed),
            )
        })
    }

    /// Writes waiting for or in a group commit (0 without group commit).
    pub fn write_queue(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.queued())
    }

    /// Each connection pool's name, connections open, idle ones and most
    /// it may open: the `writer` and the `reader`.
    pub fn pools(&self) -> Vec<PoolState> {
        fn state<D: sea_orm::sqlx::Database>(
            name: &'static str,
            pool: &sea_orm::sqlx::Pool<D>,
        ) -> PoolState {
            PoolState {
                name,
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        let writer = match self.backend {
            DbBackend::Sqlite => state("writer", self.writer.get_sqlite_connection_pool()),
            _ => state("writer", self.writer.get_postgres_connection_pool()),
        };
        vec![writer, self.reader.state()]
    }

    pub(crate) fn commits(&self) -> &Commits {
        &self.commits
    }

    /// Runs the service's migrations unless the schema is already at
    /// `S::VERSION` or beyond (see [`crate::schema_compat::migrate`]). On
    /// PostgreSQL a transaction-scoped advisory lock makes replicas (and a
    /// migration Job) that start together take turns.
    pub async fn migrate_schema<S: Schema>(&self, service: &str) -> anyhow::Result<Migrated> {
        match self.backend {
            DbBackend::Postgres => {
                let txn = self.migration_lock().await?;
                let migrated = crate::schema_compat::migrate::<S, _>(service, &txn).await?;
                txn.commit().await?;
                Ok(migrated)
            }
            _ => crate::schema_compat::migrate::<S, _>(service, &self.writer).await,
        }
    }

    /// Runs a migrator's migrations as they are, without a compatibility
    /// record: for tables that stand in for another service's in tests.
    pub async fn migrate<M: MigratorTrait>(&self) -> anyhow::Result<()> {
        match self.backend {
            DbBackend::Postgres => {
                let txn = self.migration_lock().await?;
                M::up(&txn, None).await?;
                txn.commit().await?;
            }
            _ => M::up(&self.writer, None).await?,
        }
        Ok(())
    }

    /// A transaction holding the migration lock (PostgreSQL): a dedicated
    /// transaction pins one connection for it.
    async fn migration_lock(&self) -> Result<DatabaseTransaction, DbErr> {
        let txn = self.writer.begin().await?;
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"),
        ))
        .await?;
        Ok(txn)
    }

    /// Checks, without migrating, that a binary of `S`'s schema version may
    /// serve this database (`database.migrate = false`).
    pub async fn check_schema<S: Schema>(&self, service: &str) -> anyhow::Result<Recorded> {
        let needs = crate::schema_compat::declared_version::<S>()?;
        let recorded = crate::schema_compat::read(&self.reader).await?;
        crate::schema_compat::check(service, needs, recorded)
    }

    pub async fn close(self) {
        let _ = self.writer.close().await;
        self.reader.close().await;
    }

    /// Keeps SQLite's planner statistics current: analyses every table not
    /// analysed yet, or grown or shrunk many times over since it was, each
    /// index read in part (`analysis_limit`), so a run costs milliseconds.
    /// Without statistics SQLite picks among indexes by their shape alone,
    /// and a list filtered by an inspection and a state walked every entry
    /// in that state. PostgreSQL's autovacuum analyses by itself.
    pub async fn optimize(&self) -> Result<(), DbErr> {
        if self.backend != DbBackend::Sqlite {
            return Ok(());
        }
        // 0x10002: analyse where it helps, checking every table, not only
        // those this connection has queried.
        self.writer
            .execute_unprepared("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002")
            .await?;
        Ok(())
    }

    /// The database's upkeep, at start and every `every` until `stop`:
    /// [`Db::optimize`], and reader connections unused for
    /// `database.idle_timeout_seconds` closed.
    pub async fn upkeep_periodically(
        self,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        crate::periodic::every(every, stop, || async {
            if let Err(err) = self.optimize().await {
                tracing::warn!(error = ?err, "analysing the tables failed; will retry");
            }
            self.reader.close_idle(self.idle).await;
        })
        .await
    }
}

/// How often a service runs its database's upkeep
/// ([`Db::upkeep_periodically`]): a table's statistics are redone only once
/// it has grown many times over, so most runs change nothing.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(60);

/// Begins a write transaction on `writer` that may append events (see
/// [`Db::begin`]).
pub(crate) async fn begin_writing(
    writer: &DatabaseConnection,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = writer.begin().await?;
    crate::outbox_writers::join(&txn).await?;
    Ok(txn)
}

/// Statements run by this process on every database handle (BEGIN,
/// COMMIT and savepoints not included): the bench divides it by the
/// requests it made.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

fn counted(info: &sea_orm::metric::Info<'_>) {
    count_statement(info.statement, info.elapsed, info.failed);
}

/// Counts a statement run (sea-orm's metric callback, and
/// [`crate::readers`]), logging it when slow.
pub(crate) fn count_statement(statement: &Statement, elapsed: Duration, failed: bool) {
    STATEMENTS.fetch_add(1, Ordering::Relaxed);
    if crate::telemetry::is_slow(elapsed) {
        let system = match statement.db_backend {
            DbBackend::Postgres => "postgresql",
            DbBackend::Sqlite => "sqlite",
            _ => "other_sql",
        };
        crate::telemetry::slow_statement(system, &statement.sql, elapsed, failed);
    }
}

/// One connection pool's figures (see [`Db::pools`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub name: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Statements run by this process so far (see [`STATEMENTS`]).
pub fn statements_run() -> u64 {
    STATEMENTS.load(Ordering::Relaxed)
}

/// PostgreSQL's pools by `database.max_connections`: (readers, writers).
/// The readers may open as many, the writers half as many: measured, ten
/// readers served GetOrganisation at 64 in flight 10–20 % faster than
/// five, while five writers or ten made no difference to writes (they
/// commit in groups). At least one reader and two writers (a write's
/// transaction and an event consumer's).
fn pool_sizes(max: u32) -> (u32, u32) {
    (max.max(1), (max / 2).max(2))
}

/// How long a PostgreSQL connection may sit idle in the pool before it is
/// pinged on checkout (one lost to a server restart is then found before a
/// query fails on it); a connection in steady use is handed out untested.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Advisory lock key taken while migrating ("fl-migr" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0066_6c2d_6d69_6772;

/// Whether the linked SQLite keeps its query planner stability guarantee
/// (compiled with `SQLITE_ENABLE_QPSG`, which `.cargo/config.toml` asks the
/// bundled build for). Without it SQLite plans with the value bound to a
/// `LIMIT ?` (every page, every `.one()`), so each run of such a cached
/// statement parses and plans it again: a tenth of a read's CPU (#17).
pub async fn plans_without_bound_values(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let options = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await?;
    Ok(options.iter().any(|row| {
        row.try_get_by_index::<String>(0)
            .is_ok_and(|option| option == "ENABLE_QPSG")
    }))
}

/// Condition "`column` is `path` or lies under it", for organisation paths
/// (`guangxi/nanning/xingning`). A range on the column, so a B-tree index
/// serves it; the column must compare bytewise (`COLLATE "C"` on PostgreSQL,
/// see [`path_column`]).
pub fn within_subtree(column: impl sea_orm::sea_query::IntoColumnRef + Clone, path: &str) -> Expr {
    use sea_orm::sea_query::ExprTrait;
    if path.is_empty() {
        return Expr::value(true);
    }
    let low = format!("{path}/");
    // '0' is the byte after '/': every descendant sorts below `path0`.
    let high = format!("{path}0");
    Expr::col(column.clone())
        .eq(path)
        .or(Expr::col(column.clone())
            .gte(low)
            .and(Expr::col(column).lt(high)))
}

/// `"table"."column"` under a unary plus: the same value, but no longer a
/// term SQLite serves by an index (to keep its planner from reading a
/// range, or from walking an index in order). SQLite only: PostgreSQL has
/// no unary plus on text.
pub fn unindexed(table: &str, column: &str) -> Expr {
    Expr::cust(format!("+\"{table}\".\"{column}\""))
}

/// A text column as a term neither backend serves by an index: `+column`
/// on SQLite ([`unindexed`]), `(column || '')` on PostgreSQL (the same
/// text, in the column's collation).
pub fn unindexed_text(backend: DbBackend, table: &str, column: &str) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust(format!("\"{table}\".\"{column}\" || ''")),
        _ => unindexed(table, column),
    }
}

/// Column definition for an organisation path: text compared bytewise.
pub fn path_column(name: &'static str, backend: DbBackend) -> sea_orm::sea_query::ColumnDef {
    let mut col = sea_orm::sea_query::ColumnDef::new(sea_orm::sea_query::Alias::new(name));
    col.string_len(1024).not_null();
    if backend == DbBackend::Postgres {
        col.extra("COLLATE \"C\"");
    }
    col
}

/// Runs `statements`, which return no rows, in order: on SQLite in one
/// round trip to the driver's thread (joined by `;`, sqlx binding each
/// statement's anonymous parameters in turn), on PostgreSQL one by one
/// (its extended protocol takes one statement per message, and a CTE of
/// them would run every part on one snapshot: two upserts of one row would
/// not see each other). One simple-protocol message, the values written
/// in as literals, was measured: a third fewer ledger postings a second,
/// the server parsing and planning each text afresh where it had reused
/// prepared statements. Answers the rows they changed, summed; for a write
/// path's guard that each changed the one row it meant to.
///
/// An error leaves the statements before it done: run them inside a
/// transaction or a savepoint (a mutation's error undoes its savepoint).
pub async fn execute_together(
    conn: &impl ConnectionTrait,
    statements: Vec<Statement>,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Sqlite || statements.len() < 2 {
        let mut changed = 0;
        for statement in statements {
            changed += conn.execute_raw(statement).await?.rows_affected();
        }
        return Ok(changed);
    }
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&statement.sql);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    let joined = Statement::from_sql_and_values(backend, sql, values);
    Ok(conn.execute_raw(joined).await?.rows_affected())
}

/// True when a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Writes `model` to its row only if the row's `revision_column` still
/// holds `revision`: a concurrent update in between is ABORTED (naming
/// `resource`), exactly as a stale etag would be.
pub async fn update_if_revision<A>(
    conn: &impl ConnectionTrait,
    model: A,
    revision_column: <A::Entity as sea_orm::EntityTrait>::Column,
    revision: i64,
    resource: impl FnOnce() -> String,
) -> crate::ApiResult<()>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let update = update_if_revision_statement(
        conn.get_database_backend(),
        model,
        revision_column,
        revision,
    )?;
    if conn.execute_raw(update).await?.rows_affected() != 1 {
        return Err(crate::ApiError::Aborted {
            resource: resource(),
        });
    }
    Ok(())
}

/// [`update_if_revision`]'s statement, for a write path that sends it with
/// its own (`execute_together`): it changes one row, or none when the row
/// has moved on from `revision` (the caller answers ABORTED then).
pub fn update_if_revision_statement<A>(
    backend: DbBackend,
    model: A,
    revision_column: <A::Entity as sea_orm::EntityTrait>::Column,
    revision: i64,
) -> crate::ApiResult<Statement>
where
    A: sea_orm::ActiveModelTrait,
{
    use sea_orm::{
        ColumnTrait, EntityTrait, Iterable, PrimaryKeyToColumn, QueryFilter, QueryTrait,
    };
    let mut update = <A::Entity as EntityTrait>::update_many();
    for key in <<A::Entity as EntityTrait>::PrimaryKey as Iterable>::iter() {
        let column = key.into_column();
        let value = model.get(column).into_value().ok_or_else(|| {
            crate::ApiError::internal(anyhow::anyhow!("update without its primary key"))
        })?;
        update = update.filter(column.eq(value));
    }
    Ok(update
        .set(model)
        .filter(revision_column.eq(revision))
        .build(backend))
}

/// For `map_err` on an insert: a unique-constraint violation means the
/// resource already exists (ALREADY_EXISTS naming it); anything else is an
/// internal error.
pub fn exists_or_internal(
    resource: impl FnOnce() -> String,
) -> impl FnOnce(DbErr) -> crate::ApiError {
    move |err| {
        if is_unique_violation(&err) {
            crate::ApiError::AlreadyExists {
                resource: resource(),
            }
        } else {
            err.into()
        }
    }
}

#[cfg(test)]
mod sqlite_build_tests {
    /// The bundled SQLite is built with the planner stability guarantee
    /// (`.cargo/config.toml`): a statement with `LIMIT ?` stays prepared.
    #[tokio::test]
    async fn the_bundled_sqlite_plans_without_bound_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = super::Db::connect(
            &crate::settings::DatabaseSettings::default(),
            &dir.path().join("t.sqlite"),
        )
        .await
        .expect("database");
        assert!(
            super::plans_without_bound_values(db.reader())
                .await
                .expect("compile options"),
            "SQLite built without ENABLE_QPSG: is LIBSQLITE3_FLAGS from .cargo/config.toml lost?"
        );
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::{
        ConnectionTrait, DbBackend, FromQueryResult, JsonValue, Statement, TransactionTrait,
    };

    use super::{Db, execute_together, is_unique_violation};
    use crate::group_commit::tests::databases_with;

    fn insert(backend: DbBackend, id: i64, note: &str) -> Statement {
        backend.build(
            Query::insert()
                .into_table(Alias::new("gc_rows"))
                .columns([Alias::new("id"), Alias::new("note")])
                .values_panic([id.into(), note.into()]),
        )
    }

    /// Renames row `id` if its note is still `from`.
    fn rename(backend: DbBackend, id: i64, from: &str, to: &str) -> Statement {
        backend.build(
            Query::update()
                .table(Alias::new("gc_rows"))
                .value(Alias::new("note"), to)
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .and_where(Expr::col(Alias::new("note")).eq(from)),
        )
    }

    async fn notes(db: &Db) -> Vec<(i64, String)> {
        let rows = JsonValue::find_by_statement(Statement::from_string(
            db.backend(),
            "SELECT id, note FROM gc_rows ORDER BY id",
        ))
        .all(db.reader())
        .await
        .expect("rows");
        rows.iter()
            .map(|r| (r["id"].as_i64().expect("id"), r["note"].to_string()))
            .collect()
    }

    /// The readers see what the writers wrote, in the same schema (on
    /// PostgreSQL one whose name keeps its case), and the pools are sized
    /// by `database.max_connections`.
    #[tokio::test]
    async fn readers_see_the_writers_schema_and_the_pools_are_sized_by_max_connections() {
        let schema = format!("Readers_Case_{}", uuid::Uuid::new_v4().simple());
        let configure = |s: &mut crate::settings::DatabaseSettings| {
            if !s.url.is_empty() {
                s.schema = schema.clone();
            }
        };
        for (db, _dir) in databases_with(configure).await {
            let backend = db.backend();
            let rows = JsonValue::find_by_statement(Statement::from_string(
                backend,
                "SELECT note FROM gc_rows WHERE id = 1000",
            ))
            .all(db.reader())
            .await
            .expect("read");
            assert_eq!(rows, [serde_json::json!({"note": "there before"})]);
            let pools = db.pools();
            let names: Vec<_> = pools.iter().map(|p| p.name).collect();
            assert_eq!(names, ["writer", "reader"], "{backend:?}");
            let max: Vec<_> = pools.iter().map(|p| p.max).collect();
            match backend {
                DbBackend::Sqlite => assert_eq!(max, [1, 10]),
                _ => assert_eq!(max, [5, 10], "the default 10 readers, half as many writers"),
            }
        }
        assert_eq!(super::pool_sizes(10), (10, 5));
        assert_eq!(super::pool_sizes(5), (5, 2));
        assert_eq!(super::pool_sizes(1), (1, 2), "at least two writers");
    }

    /// A table filled after the last analysis gets statistics for its
    /// index from the next [`Db::optimize`] (SQLite; a no-op on PostgreSQL).
    #[tokio::test]
    async fn optimize_gives_a_grown_table_its_statistics() {
        for (db, _dir) in databases_with(|_| {}).await {
            if db.backend() != DbBackend::Sqlite {
                db.optimize().await.expect("nothing to do");
                continue;
            }
            db.optimize().await.expect("optimize");
            let w = db.writer();
            w.execute_unprepared("CREATE INDEX gc_rows_note ON gc_rows (note)")
                .await
                .expect("index");
            w.execute_unprepared(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
                 INSERT INTO gc_rows SELECT 2000 + i, 'note ' || (i % 50) FROM n",
            )
            .await
            .expect("rows");
            let stat = || async {
                JsonValue::find_by_statement(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT stat FROM sqlite_stat1 WHERE idx = 'gc_rows_note'",
                ))
                .one(db.reader())
                .await
                .ok()
                .flatten()
            };
            assert_eq!(stat().await, None, "no statistics before");
            db.optimize().await.expect("optimize");
            let stat = stat().await.expect("statistics for the new index");
            assert!(
                stat["stat"].as_str().is_some_and(|s| s.starts_with("500")),
                "about 5,000 rows, read in part: {stat}"
            );
        }
    }

    /// Statements of different shapes, sent together, each bind their own
    /// values in order (text that looks like SQL stays text), and the count
    /// is the rows they changed: a guarded update that matched nothing adds
    /// none. A failing statement leaves the ones before it to its
    /// transaction, which undoes them.
    #[tokio::test]
    async fn statements_sent_together_bind_their_own_values_and_count_their_rows() {
        for (db, _dir) in databases_with(|_| {}).await {
            let b = db.backend();
            let txn = db.writer().begin().await.expect("begin");
            let changed = execute_together(
                &txn,
                vec![
                    insert(b, 1, "one"),
                    rename(b, 1000, "there before", "renamed"),
                    insert(b, 2, "two'; DELETE FROM gc_rows; --?"),
                    rename(b, 1, "not its note", "never"),
                ],
            )
            .await
            .expect("together");
            assert_eq!(changed, 3, "{b:?}: two inserts and one rename changed rows");
            txn.commit().await.expect("commit");
            let kept = vec![
                (1, "\"one\"".to_owned()),
                (2, "\"two'; DELETE FROM gc_rows; --?\"".to_owned()),
                (1000, "\"renamed\"".to_owned()),
            ];
            assert_eq!(notes(&db).await, kept, "{b:?}");

            let txn = db.writer().begin().await.expect("begin");
            let err = execute_together(&txn, vec![insert(b, 3, "three"), insert(b, 1, "again")])
                .await
                .expect_err("row 1 exists");
            assert!(is_unique_violation(&err), "{b:?}: {err}");
            txn.rollback().await.expect("rollback");
            assert_eq!(
                notes(&db).await,
                kept,
                "{b:?}: row 3 undone with its transaction"
            );
        }
    }

    /// Values sent together arrive exactly as bound ones do, whatever they
    /// hold: quotes, backslashes, control characters, placeholders and
    /// every byte come back unchanged, and a NULL stays NULL. (Sending
    /// PostgreSQL's as one message of literals was measured slower, see
    /// `execute_together`; were it tried again, this is its test.)
    #[tokio::test]
    async fn values_sent_together_arrive_as_bound_values_do() {
        let text = "it's a \\ back\\slash; $1 ? E'x' --\n\t\r\u{1}\u{7f} 整改 \"q\"";
        let bytes: Vec<u8> = (0..=255).collect();
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-05T23:59:58.123456Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        for (db, _dir) in databases_with(|_| {}).await {
            let b = db.backend();
            let (id, blob, time) = match b {
                DbBackend::Postgres => ("BIGINT", "BYTEA", "TIMESTAMPTZ"),
                _ => ("INTEGER", "BLOB", "TEXT"),
            };
            db.writer()
                .execute_unprepared(&format!(
                    "CREATE TABLE kinds (id {id} PRIMARY KEY, t TEXT, b {blob}, at {time}, flag BOOLEAN, n BIGINT)"
                ))
                .await
                .expect("table");
            let row = |id: i64| {
                b.build(
                    Query::insert()
                        .into_table(Alias::new("kinds"))
                        .columns(["id", "t", "b", "at", "flag", "n"].map(Alias::new))
                        .values_panic([
                            id.into(),
                            text.into(),
                            bytes.clone().into(),
                            at.into(),
                            true.into(),
                            Option::<i64>::None.into(),
                        ]),
                )
            };
            let txn = db.writer().begin().await.expect("begin");
            let changed = execute_together(&txn, vec![row(1), row(3)])
                .await
                .expect("together");
            assert_eq!(changed, 2, "{b:?}");
            txn.execute_raw(row(2)).await.expect("bound");
            txn.commit().await.expect("commit");
            for id in 1..=3i64 {
                let got = db
                    .writer()
                    .query_one_raw(Statement::from_string(
                        b,
                        format!("SELECT t, b, at, flag, n FROM kinds WHERE id = {id}"),
                    ))
                    .await
                    .expect("read")
                    .expect("row");
                let t: String = got.try_get("", "t").expect("t");
                let bs: Vec<u8> = got.try_get("", "b").expect("b");
                let when: chrono::DateTime<chrono::Utc> = got.try_get("", "at").expect("at");
                let flag: bool = got.try_get("", "flag").expect("flag");
                let n: Option<i64> = got.try_get("", "n").expect("n");
                assert_eq!(t, text, "{b:?} row {id}");
                assert_eq!(bs, bytes, "{b:?} row {id}");
                assert_eq!(when, at, "{b:?} row {id}");
                assert!(flag, "{b:?} row {id}");
                assert_eq!(n, None, "{b:?} row {id}");
            }
        }
    }
}
