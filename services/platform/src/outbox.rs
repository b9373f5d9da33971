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

use crate::error::CommonReason;
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
    /// The organisation the event concerns ("" for the whole tree).
    pub organisation_path: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Largest message a `WatchEvents` stream delivers to a consumer: the
/// default limit of gRPC clients (tonic, grpc-go, grpcurl) on a message
/// they receive. Our consumers set it explicitly.
pub const STREAM_MESSAGE_LIMIT: usize = 4 * 1024 * 1024;

/// Largest event the outbox takes, measured as `WatchEvents` serves it
/// (payload, envelope and head cursor). An event that could not be
/// delivered would be retried for ever and hold up every event after it,
/// so [`append`] refuses it and the producer's transaction fails instead.
/// A quarter below the stream's limit leaves room for envelope growth.
pub const MAX_EVENT_BYTES: usize = 3 * 1024 * 1024;

const _: () = assert!(MAX_EVENT_BYTES < STREAM_MESSAGE_LIMIT);

/// Bytes a `WatchEventsResponse` adds around its event: the event's tag
/// and length, and the head cursor (tag, length, up to 19 digits).
const RESPONSE_OVERHEAD: usize = 1 + 4 + 1 + 1 + 19;

/// The size of `event` as served in a `WatchEventsResponse`, once it has
/// a cursor (counted at its longest).
fn served_size(event: &Event) -> usize {
    let event = Event {
        cursor: i64::MAX.to_string(),
        ..event.clone()
    };
    event.encoded_len() + RESPONSE_OVERHEAD
}

/// Splits `items` into consecutive parts of at most `max_bytes` encoded
/// bytes and `max_items` items each, for an event that would otherwise
/// carry a list of any length (one event per part). An item larger than
/// `max_bytes` on its own still gets a part: the caller sizes `max_bytes`
/// so that its largest legal item fits [`MAX_EVENT_BYTES`].
pub fn parts<T: Message>(items: &[T], max_bytes: usize, max_items: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let size = listed_size(item);
        if i > start && (bytes + size > max_bytes || i - start >= max_items) {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// The bytes `item` takes in a repeated field: tag, length, body.
fn listed_size<T: Message>(item: &T) -> usize {
    let len = item.encoded_len();
    1 + prost::length_delimiter_len(len) + len
}

/// Advisory lock key serialising event writers ("fl-outbx").
const OUTBOX_LOCK_KEY: i64 = 0x666c_2d6f_7574_6278;

/// Who and what caused an event: recorded with it.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    pub actor: String,
    pub request_id: String,
    pub traceparent: String,
    /// The organisation the events concern: the level running the round
    /// (inspections, problems, clues, entries), or the organisation itself
    /// (the directory). A stream scoped to an organisation carries the
    /// events of its subtree; "" reaches only whole-tree watchers.
    pub organisation_path: String,
}

impl EventContext {
    /// This context for events about `organisation_path`.
    pub fn about(&self, organisation_path: &str) -> Self {
        Self {
            organisation_path: organisation_path.to_owned(),
            ..self.clone()
        }
    }
}

/// Appends an event to the outbox inside `txn`. An event larger than
/// [`MAX_EVENT_BYTES`] is an internal error (a producer must split or
/// reference what it sends), so it never reaches the outbox.
pub async fn append<M: prost::Name>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    subject: &str,
    payload: &M,
) -> ApiResult<()> {
    let any = prost_types::Any::from_msg(payload).map_err(ApiError::internal)?;
    let traceparent = if ctx.traceparent.is_empty() {
        crate::telemetry::current_traceparent()
    } else {
        ctx.traceparent.clone()
    };
    let create_time = chrono::Utc::now();
    let size = served_size(&Event {
        cursor: String::new(),
        r#type: M::NAME.to_owned(),
        subject: subject.to_owned(),
        payload: Some(any.clone()),
        create_time: Some(to_timestamp(create_time)),
        actor: ctx.actor.clone(),
        request_id: ctx.request_id.clone(),
        traceparent: traceparent.clone(),
        organisation_path: ctx.organisation_path.clone(),
    });
    if size > MAX_EVENT_BYTES {
        return Err(ApiError::internal(anyhow::anyhow!(
            "event {} about {subject} would be {size} bytes on the stream, over the {MAX_EVENT_BYTES} bytes an event may have",
            M::NAME
        )));
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({OUTBOX_LOCK_KEY})"),
        ))
        .await?;
    }
    ActiveModel {
        event_type: Set(M::NAME.to_owned()),
        subject: Set(subject.to_owned()),
        payload: Set(any.encode_to_vec()),
        actor: Set(ctx.actor.clone()),
        request_id: Set(ctx.request_id.clone()),
        traceparent: Set(traceparent),
        create_time: Set(create_time),
        organisation_path: Set(ctx.organisation_path.clone()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Appends one event per part of `items` (see [`parts`]): `make` builds
/// the event of a part from its items, its number (from 1) and the number
/// of parts. The parts are consecutive in the outbox (written in one
/// transaction, under the writers' lock) and each stays within
/// [`MAX_EVENT_BYTES`]. Returns the number of parts.
pub async fn append_parts<T, M>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    subject: &str,
    items: &[T],
    (max_bytes, max_items): (usize, usize),
    make: impl Fn(&[T], i32, i32) -> M,
) -> ApiResult<usize>
where
    T: Message,
    M: prost::Name,
{
    let split = parts(items, max_bytes, max_items);
    let count = i32::try_from(split.len()).map_err(ApiError::internal)?;
    for (part, chunk) in (1..).zip(&split) {
        append(txn, ctx, subject, &make(chunk, part, count)).await?;
    }
    Ok(split.len())
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
                CommonReason::InvalidCursor,
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
        organisation_path: row.organisation_path,
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
            CommonReason::TooLong,
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
    watch_with_head(db, after, Selection::types(types), stop)
        .map(|item| item.map(|(event, _)| event))
}

/// Which events a stream carries: of these types (all when empty), about
/// this organisation's subtree (all when `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub types: Vec<String>,
    pub within: Option<String>,
}

impl Selection {
    pub fn types(types: Vec<String>) -> Self {
        Self {
            types,
            within: None,
        }
    }

    fn apply(&self, mut query: sea_orm::Select<Entity>) -> sea_orm::Select<Entity> {
        if !self.types.is_empty() {
            query = query.filter(Column::EventType.is_in(self.types.clone()));
        }
        if let Some(root) = &self.within {
            // Organisation paths are AIP ids joined by `/`: no LIKE wildcards.
            query = query.filter(
                sea_orm::Condition::any()
                    .add(Column::OrganisationPath.eq(root.as_str()))
                    .add(Column::OrganisationPath.like(format!("{root}/%"))),
            );
        }
        query
    }
}

/// [`watch`], each event with the id of the newest event committed when it
/// was read (the head), so a consumer can tell how far behind it is.
pub fn watch_with_head(
    db: Db,
    after: i64,
    selection: Selection,
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
            let query = selection.apply(Entity::find().filter(Column::Id.gt(cursor)));
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
                match head_id(&db, &selection).await {
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

/// The cursor of the newest event of the outbox (0 when empty): how many
/// events the service has written.
pub async fn head(db: &Db) -> ApiResult<i64> {
    head_id(db, &Selection::default()).await
}

/// The id of the newest event `selection` selects (0 when none).
async fn head_id(db: &Db, selection: &Selection) -> ApiResult<i64> {
    Ok(selection
        .apply(Entity::find())
        .select_only()
        .column_as(Column::Id.max(), "head")
        .into_tuple::<Option<i64>>()
        .one(db.reader())
        .await?
        .flatten()
        .unwrap_or(0))
}

/// What `caller` may stream of what it asks for (`asked`, all types when
/// empty): a service only the event types `readers` grants it (asking for
/// another is refused, naming it), of every organisation; a person (an
/// administrator or an inspection office, as the gate allows) every type,
/// of the subtree it works in.
pub fn selection_for(
    caller: &crate::auth::Caller,
    readers: crate::service_identity::EventReaders,
    asked: Vec<String>,
) -> ApiResult<Selection> {
    let Some(service) = crate::service_identity::service_name(caller) else {
        return Ok(Selection {
            types: asked,
            within: (!caller.is_root()).then(|| caller.scope_path.clone()),
        });
    };
    let granted = crate::service_identity::granted(readers, service);
    if granted.is_empty() {
        return Err(ApiError::PermissionDenied(format!(
            "service {service} may stream no event of this service"
        )));
    }
    if asked.is_empty() {
        return Ok(Selection::types(
            granted.iter().map(|t| (*t).to_owned()).collect(),
        ));
    }
    match asked.iter().position(|t| !granted.contains(&t.as_str())) {
        Some(i) => Err(ApiError::denied(
            CommonReason::EventTypeNotGranted,
            format!(
                "types[{i}]: service {service} may not stream {} events",
                asked[i]
            ),
        )),
        None => Ok(Selection::types(asked)),
    }
}

/// Implements a package's generated `EventService` (the `WatchEvents`
/// stream over this service's outbox) for a type with `db: Db` and
/// `stop: CancellationToken` fields, streaming to each peer service only
/// the event types `readers` grants it. Every service's event API is this one.
#[macro_export]
macro_rules! event_service {
    // A test's stand-in for a service, behind no gate: streams what is asked.
    ($api:ty, $pkg:ident, unscoped) => {
        $crate::event_service!(@impl $api, $pkg, |_request, types| {
            Ok::<_, tonic::Status>($crate::outbox::Selection::types(types))
        });
    };
    ($api:ty, $pkg:ident, $readers:expr) => {
        $crate::event_service!(@impl $api, $pkg, |request, types| {
            let caller = $crate::auth::Caller::of(request)?;
            Ok::<_, tonic::Status>($crate::outbox::selection_for(&caller, $readers, types)?)
        });
    };
    (@impl $api:ty, $pkg:ident, $readable:expr) => {
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
                $crate::outbox::check_types(&request.get_ref().types)?;
                let selection = ($readable)(&request, request.get_ref().types.clone())?;
                let request = request.into_inner();
                let after = $crate::outbox::parse_cursor(&request.after_cursor)?;
                let stream = $crate::outbox::watch_with_head(
                    self.db.clone(),
                    after,
                    selection,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_respect_both_bounds_and_keep_order() {
        let items: Vec<String> = (0..10).map(|i| "x".repeat(i * 10)).collect();
        let split = parts(&items, 100, 3);
        assert_eq!(split.concat(), items);
        for part in &split {
            assert!(part.len() <= 3);
            let bytes: usize = part.iter().map(listed_size).sum();
            assert!(part.len() == 1 || bytes <= 100, "{part:?}");
        }
        // An item over the budget alone is a part of its own.
        let big = vec!["y".repeat(500), "z".into()];
        assert_eq!(parts(&big, 100, 10).len(), 2);
        assert!(parts::<String>(&[], 100, 10).is_empty());
    }

    #[test]
    fn the_served_size_counts_the_longest_cursor_and_the_head() {
        let event = Event {
            payload: Some(prost_types::Any {
                type_url: "t".into(),
                value: vec![0; 1000],
            }),
            ..Default::default()
        };
        let response_at_most = fiveledger_proto::rounds::WatchEventsResponse {
            event: Some(Event {
                cursor: i64::MAX.to_string(),
                ..event.clone()
            }),
            head_cursor: i64::MAX.to_string(),
        }
        .encoded_len();
        assert!(served_size(&event) >= response_at_most);
    }
}
