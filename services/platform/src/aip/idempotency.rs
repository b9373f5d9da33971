//! Request ids (AIP-155): a mutation retried with the same `request_id` gets
//! the response of the first attempt, whatever happened since (the list
//! froze, the etag moved on, another service is down); the same id with a
//! different request is refused. The record is written in the mutation's
//! own transaction and looked up first ([`first_answer`]), before any
//! validation, precondition or call to another service.

use futures::future::BoxFuture;
use prost::Message;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QueryFilter, QueryTrait};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::CommonReason;
use crate::error::{ApiError, ApiResult};
use crate::group_commit::{Claim, Step};
use crate::storage::Db;

/// Longest request id we accept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Stored outcome of one idempotent request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The caller: a digest of its subject, organisation and roles
    /// ([`Caller::key`]), so one subject's tokens for two organisations
    /// never share a request id.
    pub subject: String,
    pub method: String,
    pub request_id: String,
    pub request_hash: String,
    /// The encoded response; empty while the first attempt is in flight.
    pub response: Vec<u8>,
    pub create_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Identifies one logical request: who, which method, which request id, and
/// a hash of the request itself.
#[derive(Debug, Clone)]
pub struct RequestKey {
    subject: String,
    method: &'static str,
    request_id: String,
    request_hash: String,
}

impl RequestKey {
    /// `None` when the request carries no request id.
    pub fn new(
        caller: &Caller,
        method: &'static str,
        request_id: &str,
        request: &impl Message,
    ) -> ApiResult<Option<Self>> {
        if request_id.is_empty() {
            return Ok(None);
        }
        if request_id.len() > MAX_REQUEST_ID_LEN
            || !request_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ApiError::invalid(
                "request_id",
                CommonReason::InvalidRequestId,
                format!(
                    "request_id must be 1-{MAX_REQUEST_ID_LEN} printable ASCII characters (a UUID is best)"
                ),
            ));
        }
        Ok(Some(Self {
            subject: hex::encode(Sha256::digest(caller.key().as_bytes())),
            method,
            request_id: request_id.to_owned(),
            request_hash: hex::encode(Sha256::digest(request.encode_to_vec())),
        }))
    }

    /// The condition selecting this key's record (by its unique index).
    fn matches(&self) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(Column::Subject.eq(&self.subject))
            .add(Column::Method.eq(self.method))
            .add(Column::RequestId.eq(&self.request_id))
    }

    async fn find(&self, conn: &impl ConnectionTrait) -> ApiResult<Option<Model>> {
        Ok(Entity::find().filter(self.matches()).one(conn).await?)
    }

    /// The stored response of an earlier attempt, if one committed.
    /// Where a duplicate meets the first: the request id as the caller
    /// and method scope it, not the request (a reused id with another
    /// request must find the first too, to be refused).
    fn lane(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one((
            &self.subject,
            self.method,
            &self.request_id,
        ))
    }

    async fn replay<M: Message + Default>(
        &self,
        conn: &impl ConnectionTrait,
    ) -> ApiResult<Option<M>> {
        let Some(record) = self.find(conn).await? else {
            return Ok(None);
        };
        if record.request_hash != self.request_hash {
            return Err(ApiError::invalid(
                "request_id",
                CommonReason::RequestIdReused,
                "request_id was already used for a different request",
            ));
        }
        M::decode(record.response.as_slice())
            .map(Some)
            .map_err(ApiError::internal)
    }
}

/// The answer a committed earlier attempt of this request got, if any: a
/// handler asks this first and returns it as it stands. (The mutation looks
/// again inside its transaction, for a duplicate running concurrently.)
pub async fn first_answer<M: Message + Default>(
    db: &Db,
    key: &Option<RequestKey>,
) -> ApiResult<Option<M>> {
    match key {
        Some(key) => key.replay(db.reader()).await,
        None => Ok(None),
    }
}

/// Returns early from a handler with the first answer of a retried request
/// (`replay_first!(&self.db, key)`, right after the key is made).
#[macro_export]
macro_rules! replay_first {
    ($db:expr, $key:expr) => {
        if let Some(first) = $crate::aip::idempotency::first_answer($db, &$key).await? {
            return Ok(tonic::Response::new(first));
        }
    };
}

/// Runs a mutation in a write transaction ([`Db::write`]: with group
/// commit, a savepoint of a batch), at most once per request key.
///
/// The key is claimed first, inside the transaction: a concurrent duplicate
/// waits on the unique index (or on SQLite's single writer) and, once the
/// first commits, gets its stored response instead of acting again.
pub async fn mutate<M, F>(db: &Db, key: Option<RequestKey>, f: F) -> ApiResult<M>
where
    M: Message + Default + 'static,
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, ApiResult<M>> + Send + 'static,
{
    let claim = key.as_ref().map(|key| Claim {
        lane: key.lane(),
        statement: claim_statement(db.backend(), key),
    });
    db.write_claiming(
        claim,
        Box::new(move |txn, claimed| {
            // Made now, run only if the claim held: a mutation's future does
            // nothing until it is polled.
            let mutation = f(txn);
            Box::pin(async move {
                if let Some(key) = &key
                    && !claimed
                {
                    // Claimed already: by a request committed meanwhile, or
                    // by one earlier in this batch (group commit).
                    let earlier = key.replay(txn).await?.ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("idempotency record vanished"))
                    })?;
                    return Ok(Step::Rollback(earlier));
                }
                let response = mutation.await?;
                if let Some(key) = &key {
                    // The claim's one row, sent with the write's events.
                    let answer = Entity::update_many()
                        .col_expr(Column::Response, response.encode_to_vec().into())
                        .filter(key.matches())
                        .build(txn.get_database_backend());
                    crate::write_scope::hold(txn, answer).await?;
                }
                Ok(Step::Commit(response))
            })
        }),
    )
    .await
}

/// The claim of `key` (its record, the response still empty), in one
/// statement that returns the record's id when it claimed and nothing when
/// a record exists. On PostgreSQL a concurrent claim of the same key waits
/// for that transaction and then sees its record.
fn claim_statement(backend: sea_orm::DbBackend, key: &RequestKey) -> sea_orm::Statement {
    let record = ActiveModel {
        subject: Set(key.subject.clone()),
        method: Set(key.method.to_owned()),
        request_id: Set(key.request_id.clone()),
        request_hash: Set(key.request_hash.clone()),
        response: Set(Vec::new()),
        create_time: Set(chrono::Utc::now()),
        ..Default::default()
    };
    let mut insert = Entity::insert(record)
        .on_conflict(
            OnConflict::columns([Column::Subject, Column::Method, Column::RequestId])
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    insert.returning_col(Column::Id);
    backend.build(&insert)
}

/// How long a request id is remembered: a client retrying later than this
/// is making a new request.
pub const RETENTION: chrono::Duration = chrono::Duration::days(7);
/// Records deleted per transaction when pruning, to keep transactions short.
const PRUNE_BATCH: u64 = 1000;

/// Forgets request ids recorded before `cutoff`; returns how many.
pub async fn prune(db: &Db, cutoff: chrono::DateTime<chrono::Utc>) -> ApiResult<u64> {
    use sea_orm::{QuerySelect, TransactionTrait};
    let mut deleted = 0;
    loop {
        let ids: Vec<i64> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::CreateTime.lt(cutoff))
            .limit(PRUNE_BATCH)
            .into_tuple()
            .all(db.reader())
            .await?;
        if ids.is_empty() {
            return Ok(deleted);
        }
        let txn = db.writer().begin().await?;
        deleted += Entity::delete_many()
            .filter(Column::Id.is_in(ids))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
    }
}

/// Prunes once an hour until `stop` (every replica may; deletes are idempotent).
pub async fn prune_periodically(db: Db, stop: tokio_util::sync::CancellationToken) {
    crate::periodic::every(std::time::Duration::from_secs(3600), stop, || async {
        if let Err(err) = prune(&db, chrono::Utc::now() - RETENTION).await {
            tracing::warn!(error = ?err, "pruning request ids failed; will retry");
        }
    })
    .await
}
