//! The transactional outbox: events are written in the same transaction as
//! the change they describe, and served in commit order by `WatchEvents`.
//!
//! Commit order equals id order because, on PostgreSQL, a transaction takes
//! a transaction-level advisory lock just before it writes its first event
//! and keeps it until it commits; a reader can therefore never see event
//! n+1 before event n. (SQLite has a single writer anyway.) The lock is held
//! only from the event write to the commit, the tail of the transaction.

use std::time::Duration;

use prost::Message;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::Set, DatabaseTransaction, DbBackend, QueryOrder, QuerySelect, Statement,
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use fiveledger_proto::types::Event;

use crate::error::{ApiError, ApiResult};
use crate::storage::Db;
use crate::time::to_timestamp;

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_type: String,
    pub subject: String,
    /// The payload as an encoded `google.protobuf.Any`.
    pub payload: Vec<u8>,
    pub actor: String,
    pub request_id: String,
    pub traceparent: String,
    pub create_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Advisory lock key serialising event writers ("fl-outbx").
const OUTBOX_LOCK_KEY: i64 = 0x666c_2d6f_7574_6278;

/// Who and what caused an event: recorded with it.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    pub actor: String,
    pub request_id: String,
    pub traceparent: String,
}

/// Appends an event to the outbox inside `txn`.
pub async fn append<M: prost::Name>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    subject: &str,
    payload: &M,
) -> ApiResult<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({OUTBOX_LOCK_KEY})"),
        ))
        .await?;
    }
    let any = prost_types::Any::from_msg(payload).map_err(ApiError::internal)?;
    ActiveModel {
        event_type: Set(M::NAME.to_owned()),
        subject: Set(subject.to_owned()),
        payload: Set(any.encode_to_vec()),
        actor: Set(ctx.actor.clone()),
        request_id: Set(ctx.request_id.clone()),
        traceparent: Set(if ctx.traceparent.is_empty() {
            crate::telemetry::current_traceparent()
        } else {
            ctx.traceparent.clone()
        }),
        create_time: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Parses a cursor: empty is the start, otherwise an event id.
pub fn parse_cursor(cursor: &str) -> ApiResult<i64> {
    if cursor.is_empty() {
        return Ok(0);
    }
    cursor
        .parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "after_cursor",
                "INVALID_CURSOR",
                "after_cursor is not a cursor this service returned",
            )
        })
}

fn to_event(row: Model) -> Result<Event, Status> {
    let payload = prost_types::Any::decode(row.payload.as_slice())
        .map_err(|e| Status::from(ApiError::internal(e)))?;
    Ok(Event {
        cursor: row.id.to_string(),
        r#type: row.event_type,
        subject: row.subject,
        payload: Some(payload),
        create_time: Some(to_timestamp(row.create_time)),
        actor: row.actor,
        request_id: row.request_id,
        traceparent: row.traceparent,
    })
}

/// Events read per query.
const BATCH: u64 = 256;
/// How often a follower looks for events committed by another replica.
const POLL: Duration = Duration::from_millis(500);

/// Most event types one `WatchEvents` call may name (the suite has a few
/// dozen), and the longest name (the column's width).
pub const MAX_WATCHED_TYPES: usize = 64;
pub const MAX_TYPE_LEN: usize = 128;

/// Bounds the types a watcher names, before any is used.
pub fn check_types(types: &[String]) -> ApiResult<()> {
    crate::aip::names::at_most("types", types.len(), MAX_WATCHED_TYPES)?;
    match types.iter().position(|t| t.len() > MAX_TYPE_LEN) {
        Some(i) => Err(ApiError::invalid(
            format!("types[{i}]"),
            "TOO_LONG",
            format!("an event type is at most {MAX_TYPE_LEN} bytes"),
        )),
        None => Ok(()),
    }
}

/// Streams the events after `after` (of the given types, or all), then
/// follows new ones until the client goes away or the server stops.
pub fn watch(
    db: Db,
    after: i64,
    types: Vec<String>,
    stop: CancellationToken,
) -> impl futures::Stream<Item = Result<Event, Status>> + Send {
    use futures::StreamExt;
    watch_with_head(db, after, types, stop).map(|item| item.map(|(event, _)| event))
}

/// [`watch`], each event with the id of the newest event committed when it
/// was read (the head), so a consumer can tell how far behind it is.
pub fn watch_with_head(
    db: Db,
    after: i64,
    types: Vec<String>,
    stop: CancellationToken,
) -> ReceiverStream<Result<(Event, i64), Status>> {
    let (tx, rx) = tokio::sync::mpsc::channel(BATCH as usize);
    tokio::spawn(async move {
        let mut cursor = after;
        loop {
            // Subscribe before reading so that a commit between the read and
            // the wait is not missed.
            let committed = db.committed().notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            let mut query = Entity::find().filter(Column::Id.gt(cursor));
            if !types.is_empty() {
                query = query.filter(Column::EventType.is_in(types.clone()));
            }
            let rows = match query
                .order_by_asc(Column::Id)
                .limit(BATCH)
                .all(db.reader())
                .await
            {
                Ok(rows) => rows,
                Err(err) => {
                    let _ = tx.send(Err(ApiError::from(err).into())).await;
                    return;
                }
            };
            let full = rows.len() as u64 == BATCH;
            let head = if full {
                match head_id(&db, &types).await {
                    Ok(head) => head,
                    Err(err) => {
                        let _ = tx.send(Err(err.into())).await;
                        return;
                    }
                }
            } else {
                // A short batch of all types read everything committed.
                rows.last().map(|r| r.id).unwrap_or(cursor)
            };
            for row in rows {
                cursor = row.id;
                let head = head.max(row.id);
                if tx.send(to_event(row).map(|e| (e, head))).await.is_err() {
                    return; // the client went away
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tx.closed() => return,
                _ = &mut committed => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
    ReceiverStream::new(rx)
}

/// The id of the newest event of `types` (all when empty; 0 when none).
async fn head_id(db: &Db, types: &[String]) -> ApiResult<i64> {
    let mut query = Entity::find();
    if !types.is_empty() {
        query = query.filter(Column::EventType.is_in(types.to_vec()));
    }
    Ok(query
        .select_only()
        .column_as(Column::Id.max(), "head")
        .into_tuple::<Option<i64>>()
        .one(db.reader())
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Implements a package's generated `EventService` (the `WatchEvents`
/// stream over this service's outbox) for a type with `db: Db` and
/// `stop: CancellationToken` fields. Every service's event API is this one.
#[macro_export]
macro_rules! event_service {
    ($api:ty, $pkg:ident) => {
        #[tonic::async_trait]
        impl fiveledger_proto::$pkg::event_service_server::EventService for $api {
            type WatchEventsStream = std::pin::Pin<
                Box<
                    dyn futures::Stream<
                            Item = Result<
                                fiveledger_proto::$pkg::WatchEventsResponse,
                                tonic::Status,
                            >,
                        > + Send,
                >,
            >;

            async fn watch_events(
                &self,
                request: tonic::Request<fiveledger_proto::$pkg::WatchEventsRequest>,
            ) -> Result<tonic::Response<Self::WatchEventsStream>, tonic::Status> {
                use futures::StreamExt;
                let request = request.into_inner();
                $crate::outbox::check_types(&request.types)?;
                let after = $crate::outbox::parse_cursor(&request.after_cursor)?;
                let stream = $crate::outbox::watch_with_head(
                    self.db.clone(),
                    after,
                    request.types,
                    self.stop.clone(),
                )
                .map(|event| {
                    event.map(
                        |(event, head)| fiveledger_proto::$pkg::WatchEventsResponse {
                            event: Some(event),
                            head_cursor: head.to_string(),
                        },
                    )
                });
                Ok(tonic::Response::new(Box::pin(stream)))
            }
        }
    };
}
