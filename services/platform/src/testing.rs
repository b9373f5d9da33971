//! Test support: a fresh database per test (a temp-file SQLite, or a fresh
//! PostgreSQL schema when `FIVELEDGER_TEST_DATABASE_URL` is set) and tokens.

use std::net::SocketAddr;

use tempfile::TempDir;

use crate::auth::{Hs256, Role};
use crate::settings::{AuthSettings, DatabaseSettings, ServerSettings};

/// Key every test server and test token share.
pub const TEST_SECRET: &str = "fiveledger-test-secret-0123456789";
/// Set to a `postgres://` URL to run the suites on PostgreSQL.
pub const POSTGRES_ENV: &str = "FIVELEDGER_TEST_DATABASE_URL";

/// The PostgreSQL URL the tests should use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())
}

/// Which database this run of the tests uses.
pub fn backend() -> &'static str {
    if postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A fresh place for one service of one test.
pub struct TestEnv {
    pub settings: ServerSettings,
    _dir: TempDir,
}

impl TestEnv {
    pub fn new(service: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("fiveledger-{service}-"))
            .tempdir()
            .expect("temp dir");
        let database = match postgres_url() {
            Some(url) => DatabaseSettings {
                url,
                schema: format!("t_{service}_{}", uuid::Uuid::new_v4().simple()),
                max_connections: 5,
                ..DatabaseSettings::default()
            },
            None => DatabaseSettings {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("{service}.sqlite")).display()
                ),
                schema: String::new(),
                max_connections: 4,
                ..DatabaseSettings::default()
            },
        };
        let settings = ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_owned(),
            database,
            auth: AuthSettings {
                secret: TEST_SECRET.to_owned(),
                // Each service started here finds its own key there.
                service_keys_dir: Some(service_keys().to_owned()),
                ..AuthSettings::default()
            },
            ..ServerSettings::default()
        };
        Self {
            settings,
            _dir: dir,
        }
    }
}

/// Services whose keys every test process has (a test's own stand-in
/// services call as `test`).
pub const TEST_SERVICES: &[&str] = &["rounds", "issues", "ledgers", "test"];

/// The folder of this test process's service keys, made once.
pub fn service_keys() -> &'static std::path::Path {
    static KEYS: std::sync::OnceLock<TempDir> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("fiveledger-service-keys-")
            .tempdir()
            .expect("temp dir");
        crate::service_identity::ensure_keys(dir.path(), TEST_SERVICES).expect("service keys");
        dir
    })
    .path()
}

/// The key of `service` (one of [`TEST_SERVICES`]), to call as it.
pub fn service_key(service: &str) -> crate::service_identity::ServiceKey {
    crate::service_identity::ServiceKey::load(
        service,
        &crate::service_identity::key_file(service_keys(), service),
        "fiveledger",
    )
    .expect("a test service key")
}

/// A token of `service`, signed by its own key.
pub fn service_token(service: &str) -> String {
    service_key(service).token()
}

/// Credentials calling as `service`.
pub fn service_credentials(service: &str) -> crate::auth::ServiceCredentials {
    crate::auth::ServiceCredentials::new(std::sync::Arc::new(service_key(service)))
}

/// Credentials of a whole-tree administrator following events (as a tool
/// would): every event type of every organisation.
pub fn observer_credentials() -> crate::auth::ServiceCredentials {
    crate::auth::ServiceCredentials::bearer(token("observer", "", &[Role::Admin]))
}

pub fn signer() -> Hs256 {
    Hs256::new(TEST_SECRET.as_bytes(), "fiveledger").expect("test key")
}

/// A token for `subject` in organisation `org_path` with `roles`.
pub fn token(subject: &str, org_path: &str, roles: &[Role]) -> String {
    signer().mint(subject, org_path, roles, chrono::Duration::hours(1))
}

/// Wraps `message` in a request carrying `token`.
pub fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// A transaction left open elsewhere on the test's PostgreSQL server, as a
/// parallel test or a long report would: it has a transaction id and has
/// written a row (in a schema of its own), and stays open until dropped.
/// `None` on SQLite, where no such transaction can exist beside a writer.
pub struct UnrelatedTransaction {
    _txn: sea_orm::DatabaseTransaction,
    _connection: sea_orm::DatabaseConnection,
}

impl UnrelatedTransaction {
    pub async fn open() -> Option<Self> {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let url = postgres_url()?;
        let connection = sea_orm::Database::connect(url.as_str())
            .await
            .expect("a connection of its own");
        let schema = format!("t_unrelated_{}", uuid::Uuid::new_v4().simple());
        connection
            .execute_unprepared(&format!(
                "CREATE SCHEMA {schema}; CREATE TABLE {schema}.report (id bigint)"
            ))
            .await
            .expect("its schema");
        let txn = connection.begin().await.expect("begin");
        txn.execute_unprepared(&format!("INSERT INTO {schema}.report VALUES (1)"))
            .await
            .expect("a write, so it has a transaction id");
        Some(Self {
            _txn: txn,
            _connection: connection,
        })
    }
}

/// A database holding only the platform tables, for a test consumer.
pub async fn consumer_db(env: &TestEnv) -> crate::storage::Db {
    let db = crate::storage::Db::connect(
        &env.settings.database,
        &env.settings.data_dir.join("consumer.sqlite"),
    )
    .await
    .expect("consumer database");
    db.migrate::<crate::platform_tables::PlatformOnly>()
        .await
        .expect("platform tables");
    db
}

/// An event handler whose effect can be counted: it copies each event's
/// subject into the consumer's own outbox, in the consumer's transaction.
pub struct CopyToOutbox;

impl crate::consumer::EventHandler for CopyToOutbox {
    fn handle<'t>(
        &'t self,
        txn: &'t sea_orm::DatabaseTransaction,
        event: &'t fiveledger_proto::types::Event,
    ) -> futures::future::BoxFuture<'t, crate::ApiResult<()>> {
        Box::pin(async move {
            let ctx = crate::outbox::EventContext {
                actor: "service:test".into(),
                ..Default::default()
            };
            let copy = event.payload.clone().unwrap_or_default();
            crate::outbox::append(txn, &ctx, &event.subject, &copy).await
        })
    }
}

/// How many effects [`CopyToOutbox`] has had.
pub async fn copied(db: &crate::storage::Db) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    crate::outbox::Entity::find()
        .count(db.reader())
        .await
        .expect("count")
}

/// SQLite's plan for `query` (the detail of each step of `EXPLAIN QUERY
/// PLAN`), over the schema `M` migrates to in a fresh in-memory database.
pub async fn sqlite_plans<M: sea_orm_migration::MigratorTrait>(
    queries: &[sea_orm::Statement],
) -> Vec<Vec<String>> {
    sqlite_plans_at_scale::<M>(&[], queries).await
}

/// [`sqlite_plans`] as the planner sees a loaded database: with `stats`,
/// rows of `sqlite_stat1` (table, index, stat) as `ANALYZE` wrote them
/// over one. An empty database leaves the planner guessing evenly; the
/// statistics of a skewed one (a value a tenth of the rows share) can turn
/// its choice to walking a whole index.
pub async fn sqlite_plans_at_scale<M: sea_orm_migration::MigratorTrait>(
    stats: &[(&str, &str, &str)],
    queries: &[sea_orm::Statement],
) -> Vec<Vec<String>> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    M::up(&db, None).await.expect("migrations");
    if !stats.is_empty() {
        db.execute_unprepared("ANALYZE")
            .await
            .expect("sqlite_stat1");
        for (table, index, stat) in stats {
            db.execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                [(*table).into(), (*index).into(), (*stat).into()],
            ))
            .await
            .expect("a statistic");
        }
        // Read the statistics again, as a new connection would.
        db.execute_unprepared("ANALYZE sqlite_schema")
            .await
            .expect("statistics loaded");
    }
    let mut plans = Vec::new();
    for query in queries {
        let explain = Statement::from_sql_and_values(
            query.db_backend,
            format!("EXPLAIN QUERY PLAN {}", query.sql),
            query.values.clone().map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await.expect("EXPLAIN");
        plans.push(
            rows.iter()
                .map(|row| row.try_get_by::<String, _>("detail").expect("detail"))
                .collect(),
        );
    }
    plans
}

/// How a plan (of [`sqlite_plans`]) reads one table.
#[derive(Debug, Default)]
pub struct TableReads {
    /// Steps reading every row in storage order (a `SCAN` on no index).
    pub scans: Vec<String>,
    /// Steps walking a whole index in its order (a `SCAN … USING INDEX`):
    /// they stop at the LIMIT, after reading as many rows as the filter
    /// skips.
    pub walks: Vec<String>,
    /// Steps sorting the rows found for the ORDER BY (a temporary B-tree).
    pub sorts: Vec<String>,
}

/// How `plan` reads `table`.
pub fn table_reads(plan: &[String], table: &str) -> TableReads {
    let scan = format!("SCAN {table}");
    let on_table = |step: &&String| step.as_str() == scan || step.starts_with(&format!("{scan} "));
    let pick = |keep: &dyn Fn(&String) -> bool| plan.iter().filter(|s| keep(s)).cloned().collect();
    TableReads {
        scans: pick(&|s| on_table(&s) && !s.contains(" INDEX ")),
        walks: pick(&|s| on_table(&s) && s.contains(" INDEX ")),
        sorts: pick(&|s| s.contains("TEMP B-TREE")),
    }
}
