//! The access log of confidential reads: who read what, when, under which
//! token (a digest), in one hash chain per service database, like the
//! ledger's journal. Handlers [`AccessLog::record`] a read after serving it;
//! a background writer appends the records in batches (every few ms or N
//! records, in one transaction), so a read never waits on the log's write.
//! Appends serialise on the chain's head row (locked on PostgreSQL; SQLite
//! has one writer), so replicas sharing a database never fork the chain.
//! `AccessLogService` lists the records and verifies the chain for the
//! discipline commission, within its subtree.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiveledger_proto::access::ErrorReason as AccessReason;
use fiveledger_proto::access::access_log_service_server::{
    AccessLogService, AccessLogServiceServer,
};
use fiveledger_proto::access::*;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, Condition, DatabaseTransaction, QueryOrder, QuerySelect};
use sea_orm_migration::prelude::{
    ColumnDef, DeriveMigrationName, Index, MigrationTrait, SchemaManager, Table,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use crate::aip::filter::{self, Op};
use crate::aip::page::PageRequest;
use crate::auth::{Caller, Role};
use crate::error::CommonReason;
use crate::error::{ApiError, ApiResult};
use crate::group_commit::Step;
use crate::storage::{Db, within_subtree};

/// Full name of the gRPC service.
pub const SERVICE: &str = "fiveledger.access.v1.AccessLogService";
/// Path of its list RPC (for role tables).
pub const LIST: &str = "/fiveledger.access.v1.AccessLogService/ListAccessRecords";
/// Path of its verify RPC (for role tables).
pub const VERIFY: &str = "/fiveledger.access.v1.AccessLogService/VerifyAccessLog";
/// Who reads and verifies the log: the discipline commission (and admin).
pub const READERS: &[Role] = &[Role::DisciplineCommission];

/// Most resource names one record keeps.
pub const MAX_RESOURCES: usize = 100;
/// Longest query text one record keeps (bytes).
pub const MAX_QUERY: usize = 1024;
/// Version tag mixed into every hash.
const DOMAIN_TAG: &[u8] = b"fiveledger.access.record.v1";
/// Records verified per round trip.
const VERIFY_BATCH: u64 = 1000;

/// The `[access_log]` settings every service shares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AccessLogSettings {
    /// Record confidential reads (turn off only to measure what it costs).
    pub enabled: bool,
    /// Longest a record waits before its batch is written (ms).
    pub flush_ms: u64,
    /// Most records written in one transaction.
    pub max_batch: usize,
    /// Records waiting to be written before reads wait for the writer.
    pub queue: usize,
}

impl Default for AccessLogSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_ms: 5,
            max_batch: 256,
            queue: 10_000,
        }
    }
}

/// One record as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub read_time_us: i64,
    pub subject: String,
    pub org_path: String,
    pub scope_path: String,
    /// Roles, comma-separated, sorted.
    pub roles: String,
    pub method: String,
    /// Resource names, one a line.
    pub resources: String,
    pub resource_count: i64,
    pub query: String,
    pub token_digest: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The chain's head: the last record's seq and hash (one row, id 1).
pub mod head {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_log_head")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub seq: i64,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Hex SHA-256 of a record's canonical encoding: every field
/// length-prefixed (u64 big-endian), integers as 8 bytes big-endian.
pub fn hash(r: &Model) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(DOMAIN_TAG);
    field(&r.seq.to_be_bytes());
    field(&r.read_time_us.to_be_bytes());
    for text in [
        &r.subject,
        &r.org_path,
        &r.scope_path,
        &r.roles,
        &r.method,
        &r.resources,
    ] {
        field(text.as_bytes());
    }
    field(&r.resource_count.to_be_bytes());
    for text in [&r.query, &r.token_digest, &r.prev_hash] {
        field(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The tables of the log (every service that keeps one has them).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = |name: &'static str, len: u32| {
            let mut col = ColumnDef::new(name);
            col.string_len(len).not_null();
            col
        };
        manager
            .create_table(
                Table::create()
                    .table("access_records")
                    .if_not_exists()
                    .col(ColumnDef::new("seq").big_integer().not_null().primary_key())
                    .col(ColumnDef::new("read_time_us").big_integer().not_null())
                    .col(text("subject", 256))
                    .col(crate::storage::path_column("org_path", backend))
                    .col(crate::storage::path_column("scope_path", backend))
                    .col(text("roles", 256))
                    .col(text("method", 256))
                    .col(ColumnDef::new("resources").text().not_null())
                    .col(ColumnDef::new("resource_count").big_integer().not_null())
                    .col(ColumnDef::new("query").text().not_null())
                    .col(text("token_digest", 64))
                    .col(text("prev_hash", 64))
                    .col(text("hash", 64))
                    .to_owned(),
            )
            .await?;
        // The listing: by reader (subject) and by subtree, in chain order;
        // and by time.
        let indexes: [(&str, &[&str]); 3] = [
            ("access_records_subject", &["subject", "seq"]),
            ("access_records_scope", &["scope_path", "seq"]),
            ("access_records_time", &["read_time_us"]),
        ];
        for (name, cols) in indexes {
            let mut index = Index::create();
            index.name(name).table("access_records").if_not_exists();
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("access_log_head")
                    .if_not_exists()
                    .col(ColumnDef::new("id").integer().not_null().primary_key())
                    .col(ColumnDef::new("seq").big_integer().not_null())
                    .col(text("hash", 64))
                    .to_owned(),
            )
            .await?;
        head::Entity::insert(head::ActiveModel {
            id: Set(1),
            seq: Set(0),
            hash: Set(String::new()),
        })
        .on_conflict(OnConflict::column(head::Column::Id).do_nothing().to_owned())
        .exec_without_returning(manager.get_connection())
        .await?;
        Ok(())
    }
}

/// Who reads: the verified caller and a digest of its token, taken from a
/// request before its body is.
#[derive(Debug, Clone)]
pub struct Reader {
    pub caller: Caller,
    pub token_digest: String,
}

impl Reader {
    pub fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        let caller = Caller::of(request)?;
        let token = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let token = token.strip_prefix(b"Bearer ").unwrap_or(token);
        Ok(Self {
            caller,
            token_digest: hex::encode(Sha256::digest(token)),
        })
    }
}

/// What was read: the RPC, the names of the resources, the query.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub method: &'static str,
    pub resources: Vec<String>,
    pub query: String,
}

impl Access {
    pub fn new(method: &'static str) -> Self {
        Self {
            method,
            ..Default::default()
        }
    }

    pub fn resources(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.resources = names.into_iter().collect();
        self
    }

    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }
}

/// The scope of a statistics request, as a record keeps it.
pub fn statistics_query(
    organisation_path: &str,
    round: &str,
    inspection: &str,
    period: (
        Option<&fiveledger_proto::google::r#type::Date>,
        Option<&fiveledger_proto::google::r#type::Date>,
    ),
    group_by: &str,
) -> String {
    let day = |d: Option<&fiveledger_proto::google::r#type::Date>| {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    format!(
        "organisation_path={organisation_path:?} round={round:?} inspection={inspection:?} period={}..{} group_by={group_by}",
        day(period.0),
        day(period.1)
    )
}

enum Message {
    Record(Box<Model>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

struct Writer {
    close: tokio_util::sync::CancellationToken,
    task: JoinHandle<()>,
}

/// The handle handlers record reads through (cheap to clone).
#[derive(Clone)]
pub struct AccessLog {
    tx: Option<mpsc::Sender<Message>>,
    writer: Arc<Mutex<Option<Writer>>>,
}

impl AccessLog {
    /// Starts the background writer (unless the log is off).
    pub fn start(db: Db, settings: &AccessLogSettings) -> Self {
        if !settings.enabled {
            return Self::off();
        }
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let close = tokio_util::sync::CancellationToken::new();
        let flush = Duration::from_millis(settings.flush_ms.max(1));
        let max = settings.max_batch.clamp(1, 1000);
        let task = tokio::spawn(run(db, rx, flush, max, close.clone()));
        Self {
            tx: Some(tx),
            writer: Arc::new(Mutex::new(Some(Writer { close, task }))),
        }
    }

    /// A log that records nothing.
    pub fn off() -> Self {
        Self {
            tx: None,
            writer: Arc::new(Mutex::new(None)),
        }
    }

    /// Queues the record of a read that was served. Returns at once unless
    /// the writer is `queue` records behind.
    pub async fn record(&self, reader: &Reader, access: Access) {
        let Some(tx) = &self.tx else { return };
        let caller = &reader.caller;
        let mut roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
        roles.sort_unstable();
        let count = access.resources.len() as i64;
        let mut resources = access.resources;
        resources.truncate(MAX_RESOURCES);
        let record = Model {
            seq: 0,
            read_time_us: chrono::Utc::now().timestamp_micros(),
            subject: caller.subject.clone(),
            org_path: caller.org_path.clone(),
            scope_path: caller.scope_path.clone(),
            roles: roles.join(","),
            method: access.method.to_owned(),
            resources: resources.join("\n"),
            resource_count: count,
            query: truncate(access.query, MAX_QUERY),
            token_digest: reader.token_digest.clone(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        if tx.send(Message::Record(Box::new(record))).await.is_err() {
            tracing::error!(
                method = access.method,
                "access log closed; a read went unrecorded"
            );
        }
    }

    /// Waits until every record queued before the call is written.
    pub async fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes what is queued and stops the writer (graceful shutdown, after
    /// the server stopped taking calls).
    pub async fn close(&self) {
        let writer = self.writer.lock().map(|mut w| w.take()).unwrap_or(None);
        if let Some(writer) = writer {
            writer.close.cancel();
            let _ = writer.task.await;
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The writer: waits for a record, gathers more for up to `flush` (or
/// until `max`, or a flush request), writes them in one transaction.
async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Message>,
    flush: Duration,
    max: usize,
    close: tokio_util::sync::CancellationToken,
) {
    let mut batch: Vec<Model> = Vec::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let take = |m: Message, batch: &mut Vec<Model>, waiting: &mut Vec<oneshot::Sender<()>>| match m
    {
        Message::Record(r) => batch.push(*r),
        Message::Flush(done) => waiting.push(done),
    };
    loop {
        let first = tokio::select! {
            biased;
            m = rx.recv() => m,
            _ = close.cancelled() => None,
        };
        let Some(first) = first else { break };
        take(first, &mut batch, &mut waiting);
        let deadline = tokio::time::Instant::now() + flush;
        while batch.len() < max && waiting.is_empty() && !close.is_cancelled() {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => take(m, &mut batch, &mut waiting),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
                _ = close.cancelled() => break,
            }
        }
        write(&db, &mut batch, false).await;
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
    // Closing: whatever is still queued is written before the database goes.
    rx.close();
    while let Some(m) = rx.recv().await {
        take(m, &mut batch, &mut waiting);
    }
    write(&db, &mut batch, true).await;
    for done in waiting.drain(..) {
        let _ = done.send(());
    }
}

/// Appends `batch` (emptying it), retrying transient failures; a record
/// that cannot be written after the retries is reported in the logs.
async fn write(db: &Db, batch: &mut Vec<Model>, closing: bool) {
    if batch.is_empty() {
        return;
    }
    let tries = if closing { 10 } else { 20 };
    for attempt in 1..=tries {
        match append(db, batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(err) => {
                tracing::warn!(%err, attempt, records = batch.len(), "writing the access log");
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
        }
    }
    tracing::error!(
        records = batch.len(),
        "access records could not be written and are lost"
    );
    batch.clear();
}

/// Rows one INSERT carries (well under either database's parameter limit).
const INSERT_CHUNK: usize = 200;

/// Chains and inserts `batch` after the head, in one transaction that holds
/// the head row (PostgreSQL: `FOR UPDATE`; SQLite: the single writer).
pub async fn append(db: &Db, batch: &[Model]) -> ApiResult<()> {
    db.transaction(async |txn| {
        let head = lock_head(txn).await?;
        let (mut seq, mut prev) = (head.seq, head.hash);
        let rows: Vec<Model> = batch
            .iter()
            .map(|r| {
                seq += 1;
                let mut row = Model {
                    seq,
                    prev_hash: std::mem::take(&mut prev),
                    ..r.clone()
                };
                row.hash = hash(&row);
                prev = row.hash.clone();
                row
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            Entity::insert_many(chunk.iter().cloned().map(ActiveModel::from))
                .exec_without_returning(txn)
                .await?;
        }
        head::Entity::update(head::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(1),
            seq: Set(seq),
            hash: Set(prev),
        })
        .exec(txn)
        .await?;
        Ok(Step::Commit(()))
    })
    .await
}

/// Takes the head row's write lock before reading it: a write first, so
/// that on SQLite the transaction waits for the lock (busy timeout) instead
/// of failing to upgrade a read snapshot another writer made stale; on
/// PostgreSQL the row lock queues the other replicas until commit.
async fn lock_head(txn: &DatabaseTransaction) -> ApiResult<head::Model> {
    head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::col(head::Column::Seq))
        .filter(head::Column::Id.eq(1))
        .exec(txn)
        .await?;
    head::Entity::find_by_id(1)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the access log has no head row")))
}

fn name_of(seq: i64) -> String {
    format!("accessRecords/{seq}")
}

impl Model {
    pub fn to_proto(&self) -> AccessRecord {
        let micros = self.read_time_us;
        AccessRecord {
            name: name_of(self.seq),
            seq: self.seq,
            read_time: Some(prost_types::Timestamp {
                seconds: micros.div_euclid(1_000_000),
                nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
            }),
            subject: self.subject.clone(),
            organisation_path: self.org_path.clone(),
            scope_path: self.scope_path.clone(),
            roles: split(&self.roles, ','),
            method: self.method.clone(),
            resources: split(&self.resources, '\n'),
            resource_count: self.resource_count,
            query: self.query.clone(),
            token_digest: self.token_digest.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

fn split(text: &str, by: char) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(by).map(str::to_owned).collect()
    }
}

/// Whether the caller may read the log at all.
fn check_reader(caller: &Caller) -> ApiResult<()> {
    if caller.has_any(READERS) {
        Ok(())
    } else {
        Err(ApiError::denied(
            AccessReason::NotDisciplineCommission,
            "only the discipline commission reads the access log",
        ))
    }
}

fn bad_filter(description: impl Into<String>) -> ApiError {
    ApiError::invalid("filter", CommonReason::InvalidFilter, description)
}

/// `cond` AND `by`.
fn narrow(cond: &mut Condition, by: sea_orm::sea_query::Expr) {
    *cond = std::mem::replace(cond, Condition::all()).add(by);
}

/// `ListAccessRecords`' filter: `fiveledger.access.v1.ListAccessRecordsRequest.filter`.
const FILTER: filter::Schema<Condition> = filter::Schema(&[
    filter::Field {
        name: "subject",
        ops: filter::EQ,
        apply: |cond, _, v| {
            narrow(cond, Column::Subject.eq(v));
            Ok(())
        },
    },
    filter::Field {
        name: "method",
        ops: filter::EQ,
        apply: |cond, _, v| {
            narrow(cond, Column::Method.eq(v));
            Ok(())
        },
    },
    filter::Field {
        name: "scope_path",
        ops: filter::EQ,
        apply: |cond, _, v| {
            let path = crate::aip::names::parse_path("filter", &v)?;
            narrow(cond, within_subtree(Column::ScopePath, &path));
            Ok(())
        },
    },
    filter::Field {
        name: "read_time",
        ops: &[Op::Lt, Op::Le, Op::Gt, Op::Ge],
        apply: |cond, op, v| {
            let at = chrono::DateTime::parse_from_rfc3339(&v)
                .map_err(|_| bad_filter(format!("read_time wants an RFC 3339 time, not {v}")))?
                .timestamp_micros();
            let col = Column::ReadTimeUs;
            narrow(
                cond,
                match op {
                    Op::Lt => col.lt(at),
                    Op::Le => col.lte(at),
                    Op::Gt => col.gt(at),
                    _ => col.gte(at),
                },
            );
            Ok(())
        },
    },
]);

/// The records a page of `ListAccessRecords` selects.
pub fn list_condition(caller: &Caller, filter_text: &str) -> ApiResult<Condition> {
    let mut cond = Condition::all().add(within_subtree(Column::ScopePath, &caller.scope_path));
    FILTER.apply(filter_text, &mut cond)?;
    Ok(cond)
}

/// Recomputes the whole chain (a link depends on the record before it),
/// counting and judging only the records in the caller's subtree; a
/// truncated tail is told only to a caller who sees the whole tree.
pub async fn verify(
    conn: &impl ConnectionTrait,
    caller: &Caller,
) -> ApiResult<VerifyAccessLogResponse> {
    let mut out = VerifyAccessLogResponse {
        valid: true,
        ..Default::default()
    };
    let head = head::Entity::find_by_id(1)
        .one(conn)
        .await?
        .unwrap_or(head::Model {
            id: 1,
            seq: 0,
            hash: String::new(),
        });
    let (mut expected, mut prev) = (1_i64, String::new());
    loop {
        let rows = Entity::find()
            .filter(Column::Seq.gte(expected))
            .order_by_asc(Column::Seq)
            .limit(VERIFY_BATCH)
            .all(conn)
            .await?;
        let full = rows.len() as u64 >= VERIFY_BATCH;
        for row in &rows {
            let mine = caller.can_see(&row.scope_path);
            out.records += i64::from(mine);
            let fault = if row.seq != expected {
                Some((
                    "MISSING",
                    format!("record {expected} is missing; the next is {}", row.seq),
                ))
            } else if hash(row) != row.hash {
                Some((
                    "ALTERED",
                    "the record's content does not match its hash".into(),
                ))
            } else if row.prev_hash != prev {
                Some((
                    "CHAIN_BROKEN",
                    "the record does not chain to the one before it".into(),
                ))
            } else {
                None
            };
            if let Some((kind, description)) = fault
                && mine
                && out.first_fault.is_none()
            {
                out.first_fault = Some(AccessLogFault {
                    record: name_of(row.seq),
                    kind: kind.into(),
                    description,
                });
            }
            expected = row.seq + 1;
            prev = row.hash.clone();
        }
        if !full {
            break;
        }
    }
    let last = expected - 1;
    if caller.is_root() && out.first_fault.is_none() && (last != head.seq || prev != head.hash) {
        out.first_fault = Some(AccessLogFault {
            record: name_of(head.seq),
            kind: "TRUNCATED".into(),
            description: format!(
                "the head names record {} but the chain ends at {last}",
                head.seq
            ),
        });
    }
    out.valid = out.first_fault.is_none();
    Ok(out)
}

/// The gRPC service over one database's log.
#[derive(Clone)]
pub struct Api {
    db: Db,
    log: AccessLog,
}

/// The service to add to a server's routes.
pub fn service(db: Db, log: AccessLog, max_message_bytes: usize) -> AccessLogServiceServer<Api> {
    AccessLogServiceServer::new(Api { db, log }).max_decoding_message_size(max_message_bytes)
}

#[tonic::async_trait]
impl AccessLogService for Api {
    async fn list_access_records(
        &self,
        request: Request<ListAccessRecordsRequest>,
    ) -> Result<Response<ListAccessRecordsResponse>, Status> {
        let caller = Caller::of(&request)?;
        check_reader(&caller)?;
        let r = request.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token, &[&r.filter, &caller.key()])?;
        let mut cond = list_condition(&caller, &r.filter)?;
        if let Some(after) = page.after_i64(0)? {
            cond = cond.add(Column::Seq.gt(after));
        }
        // What this replica has read so far is listed.
        self.log.flush().await;
        let rows = Entity::find()
            .filter(cond)
            .order_by_asc(Column::Seq)
            .limit(page.limit())
            .all(self.db.reader())
            .await
            .map_err(ApiError::from)?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.seq.into()]);
        Ok(Response::new(ListAccessRecordsResponse {
            records: rows.iter().map(Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn verify_access_log(
        &self,
        request: Request<VerifyAccessLogRequest>,
    ) -> Result<Response<VerifyAccessLogResponse>, Status> {
        let caller = Caller::of(&request)?;
        check_reader(&caller)?;
        self.log.flush().await;
        Ok(Response::new(verify(self.db.reader(), &caller).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_accepts_exactly_the_fields_its_request_documents() {
        let comment =
            filter::field_comment("fiveledger.access.v1.ListAccessRecordsRequest", "filter")
                .expect("documented");
        assert_eq!(filter::documented_fields(&comment), FILTER.names());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = Model {
            seq: 1,
            read_time_us: 5,
            subject: "s".into(),
            org_path: "o".into(),
            scope_path: "o".into(),
            roles: "r".into(),
            method: "m".into(),
            resources: "a\nb".into(),
            resource_count: 2,
            query: "q".into(),
            token_digest: "t".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let h = hash(&base);
        let variants = [
            Model {
                seq: 2,
                ..base.clone()
            },
            Model {
                subject: "x".into(),
                ..base.clone()
            },
            Model {
                resources: "a".into(),
                ..base.clone()
            },
            Model {
                resource_count: 3,
                ..base.clone()
            },
            Model {
                token_digest: "u".into(),
                ..base.clone()
            },
            Model {
                prev_hash: "p".into(),
                ..base.clone()
            },
            // Moving a byte between adjacent fields is not the same record.
            Model {
                subject: "so".into(),
                org_path: String::new(),
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(hash(&v), h, "{v:?}");
        }
        // The stored hash itself is not hashed.
        assert_eq!(
            hash(&Model {
                hash: "z".into(),
                ..base.clone()
            }),
            h
        );
    }

    #[test]
    fn long_queries_are_cut_on_a_character() {
        let q = "纪".repeat(MAX_QUERY);
        let cut = truncate(q, MAX_QUERY);
        assert!(cut.len() <= MAX_QUERY && cut.len() > MAX_QUERY - 3);
    }
}
