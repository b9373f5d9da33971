//! The transactional outbox: events are written in the same transaction as
//! the change they describe, and served in commit order by `WatchEvents`.
//!
//! An event's position is `(txid, id)`: the id of the transaction that wrote
//! it and its own id. On SQLite there is one writer, so id order is commit
//! order and `txid` is always 0. On PostgreSQL writers run side by side: the
//! column defaults to `pg_current_xact_id()` (the top-level transaction's id,
//! with its epoch: it never wraps; stored as a bigint), and a stream serves
//! the events of transactions below a horizon that no writer still running
//! lies under, in `(txid, id)` order (see [`crate::outbox_writers`]: the
//! horizon waits only for this outbox's writers, never for the rest of the
//! cluster). What a stream serves is final; an event it has not served
//! belongs to a transaction at or above the horizon, so it sorts after
//! everything served and a cursor never skips it. A transaction's events are
//! consecutive and in the order written, and a transaction that committed
//! before another began comes first.
//!
//! A cursor is the position spelt `txid.id`, or plain `id` when `txid` is 0
//! (SQLite, and events written before transaction ids were recorded: the
//! migration gives them 0, so they come first, in id order, as before).
//! A plain decimal cursor a client kept from earlier names event `id`
//! wherever it sorts: on PostgreSQL the stream looks up its transaction.

use std::time::Duration;

use prost::Message;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, DatabaseTransaction, DbBackend, QueryOrder, QuerySelect, QueryTrait,
    Statement,
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use fiveledger_proto::types::Event;

use crate::error::CommonReason;
use crate::error::{ApiError, ApiResult};
use crate::outbox_writers::Horizon;
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
    /// The writing transaction's id on PostgreSQL (see the module's doc);
    /// 0 on SQLite and for events written before it was recorded.
    pub txid: i64,
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
/// and length, and the head cursor (tag, length, at most 39 bytes).
const RESPONSE_OVERHEAD: usize = 1 + 4 + 1 + 1 + 39;

/// The size of `event` as served in a `WatchEventsResponse`, once it has
/// a cursor (counted at its longest).
fn served_size(event: &Event) -> usize {
    let event = Event {
        cursor: Position::LONGEST.to_string(),
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
/// reference what it sends), so it never reaches the outbox. `txn` must be
/// begun by [`Db::begin`] or [`Db::write`]: on PostgreSQL they make it one
/// of the outbox's writers before it writes anything, which the streams'
/// order relies on (see [`crate::outbox_writers`]). In a request's write
/// (`Db::write`, `Db::transaction`) the row is held and sent with the
/// write's other held rows when its mutation returns
/// ([`crate::write_scope::hold`]): nothing reads an event back in the
/// transaction that appends it.
pub async fn append<M: prost::Name>(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    subject: &str,
    payload: &M,
) -> ApiResult<()> {
    let statement = append_statement(txn.get_database_backend(), ctx, subject, payload)?;
    crate::write_scope::hold(txn, statement).await?;
    Ok(())
}

/// [`append`]'s statement, for a write path that sends it with its own
/// (`storage::execute_together`), in a transaction begun as [`append`]
/// says. It inserts exactly one row.
pub fn append_statement<M: prost::Name>(
    backend: DbBackend,
    ctx: &EventContext,
    subject: &str,
    payload: &M,
) -> ApiResult<Statement> {
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
    crate::write_scope::wrote(M::NAME);
    // `txid` is left to the column's default: the writer's transaction id
    // on PostgreSQL, 0 on SQLite. Nothing is read back (no RETURNING): the
    // row, payload and all, would cross from the driver for nothing.
    Ok(Entity::insert(ActiveModel {
        event_type: Set(M::NAME.to_owned()),
        subject: Set(subject.to_owned()),
        payload: Set(any.encode_to_vec()),
        actor: Set(ctx.actor.clone()),
        request_id: Set(ctx.request_id.clone()),
        traceparent: Set(traceparent),
        create_time: Set(create_time),
        organisation_path: Set(ctx.organisation_path.clone()),
        ..Default::default()
    })
    .build(backend))
}

/// Appends one event per part of `items` (see [`parts`]): `make` builds
/// the event of a part from its items, its number (from 1) and the number
/// of parts. The parts are consecutive in the outbox (written in one
/// transaction) and each stays within
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

/// Where an event sorts in the outbox (see the module's doc): the writing
/// transaction's id (0 on SQLite and for events from before the ids were
/// recorded), then the event's id. Spelt as a cursor by `Display`/`FromStr`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub txid: i64,
    pub id: i64,
}

impl Position {
    /// Before every event: the empty cursor.
    pub const START: Position = Position { txid: 0, id: 0 };
    /// The position whose cursor is the longest.
    pub const LONGEST: Position = Position {
        txid: i64::MAX,
        id: i64::MAX,
    };

    fn of(row: &Model) -> Self {
        Self {
            txid: row.txid,
            id: row.id,
        }
    }

    /// About how many events lie after `self` up to `head`: the ids between
    /// them, at least 1 when `head` is ahead (on PostgreSQL ids are taken
    /// in write order, not commit order, so this is an estimate).
    pub fn behind(self, head: Position) -> i64 {
        if head <= self {
            0
        } else {
            head.id.saturating_sub(self.id).max(1)
        }
    }

    /// The cursor to resume after this position: empty at the start.
    pub fn cursor(self) -> String {
        if self == Self::START {
            String::new()
        } else {
            self.to_string()
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.txid {
            0 => write!(f, "{}", self.id),
            txid => write!(f, "{txid}.{}", self.id),
        }
    }
}

impl std::str::FromStr for Position {
    type Err = ApiError;

    /// Empty is the start; otherwise `id` or `txid.id` as [`Position`]
    /// spells them (a `txid` of 0 is spelt without it).
    fn from_str(cursor: &str) -> ApiResult<Self> {
        let number = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse::<i64>().ok())
                .flatten()
        };
        let position = match cursor.split_once('.') {
            _ if cursor.is_empty() => Some(Self::START),
            None => number(cursor).map(|id| Self { txid: 0, id }),
            Some((txid, id)) => number(txid)
                .filter(|t| *t > 0)
                .zip(number(id))
                .map(|(txid, id)| Self { txid, id }),
        };
        position.ok_or_else(|| {
            ApiError::invalid(
                "after_cursor",
                CommonReason::InvalidCursor,
                "after_cursor is not a cursor this service returned",
            )
        })
    }
}

/// Parses a cursor: empty is the start, otherwise an event's position.
pub fn parse_cursor(cursor: &str) -> ApiResult<Position> {
    cursor.parse()
}

/// The writing transaction's id, as a bigint: the `txid` column's default
/// on PostgreSQL (a subtransaction gets its top-level transaction's id).
pub(crate) const CURRENT_TXID: &str = "pg_current_xact_id()::text::bigint";

/// Where a stream may read up to: on PostgreSQL below the transaction id
/// under which every writer has ended (read again before each query); on
/// SQLite everything visible is final.
async fn horizon(db: &Db) -> ApiResult<Option<Horizon>> {
    Ok(match db.backend() {
        DbBackend::Postgres => Some(crate::outbox_writers::horizon(db.reader()).await?),
        _ => None,
    })
}

/// The events that are final below `horizon` (see [`horizon`]).
fn finished(horizon: Option<i64>) -> sea_orm::Select<Entity> {
    match horizon {
        Some(horizon) => Entity::find().filter(Column::Txid.lt(horizon)),
        None => Entity::find(),
    }
}

/// Orders `query` by position, ascending or descending. SQLite's `txid` is
/// always 0, so id order is position order there (and its id index serves).
fn by_position(
    query: sea_orm::Select<Entity>,
    backend: DbBackend,
    order: sea_orm::Order,
) -> sea_orm::Select<Entity> {
    let query = match backend {
        DbBackend::Postgres => query.order_by(Column::Txid, order.clone()),
        _ => query,
    };
    query.order_by(Column::Id, order)
}

/// The final events after `after`, in position order.
fn after(backend: DbBackend, horizon: Option<i64>, after: Position) -> sea_orm::Select<Entity> {
    use sea_orm::sea_query::ExprTrait;
    let query = finished(horizon);
    let query = match backend {
        DbBackend::Postgres => query.filter(
            Expr::tuple([Expr::col(Column::Txid), Expr::col(Column::Id)])
                .gt(Expr::tuple([Expr::val(after.txid), Expr::val(after.id)])),
        ),
        _ => query.filter(Column::Id.gt(after.id)),
    };
    by_position(query, backend, sea_orm::Order::Asc)
}

/// Where a cursor points: a plain id kept from before transaction ids were
/// recorded names that event wherever it sorts, so on PostgreSQL its
/// transaction is looked up (an id no longer stored stays before every
/// event that has one).
async fn resolve(db: &Db, position: Position) -> ApiResult<Position> {
    if db.backend() != DbBackend::Postgres || position.txid != 0 || position.id == 0 {
        return Ok(position);
    }
    let txid = Entity::find_by_id(position.id)
        .select_only()
        .column(Column::Txid)
        .into_tuple::<i64>()
        .one(db.reader())
        .await?;
    Ok(Position {
        txid: txid.unwrap_or(0),
        ..position
    })
}

fn to_event(row: Model) -> Result<Event, Status> {
    let payload = prost_types::Any::decode(row.payload.as_slice())
        .map_err(|e| Status::from(ApiError::internal(e)))?;
    Ok(Event {
        cursor: Position::of(&row).to_string(),
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
/// How often a follower looks for events committed by another replica (its
/// own replica's writes wake it as they end).
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
    after: Position,
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

/// [`watch`], each event with the position of the newest event committed
/// when it was read (the head), so a consumer can tell how far behind it is.
pub fn watch_with_head(
    db: Db,
    after: Position,
    selection: Selection,
    stop: CancellationToken,
) -> ReceiverStream<Result<(Event, Position), Status>> {
    following(db, after, selection, stop, POLL)
}

/// [`watch_with_head`], looking for other replicas' events every `poll`.
fn following(
    db: Db,
    after: Position,
    selection: Selection,
    stop: CancellationToken,
    poll: Duration,
) -> ReceiverStream<Result<(Event, Position), Status>> {
    let (tx, rx) = tokio::sync::mpsc::channel(BATCH as usize);
    tokio::spawn(async move {
        let backend = db.backend();
        let mut cursor = match resolve(&db, after).await {
            Ok(cursor) => cursor,
            Err(err) => {
                let _ = tx.send(Err(err.into())).await;
                return;
            }
        };
        loop {
            // Taken before reading: a write that ends after this is
            // waited for below, whether it ends before the read or after.
            let seen = db.commits().now();
            let read = async {
                let horizon = horizon(&db).await?;
                let below = horizon.map(|h| h.below);
                let settled = settled(&db, below).await?;
                let rows = selection
                    .apply(self::after(backend, below, cursor))
                    .limit(BATCH)
                    .all(db.reader())
                    .await?;
                let held_back = horizon.is_some_and(|h| h.held_back);
                ApiResult::Ok((below, held_back, settled, rows))
            };
            let (below, held_back, settled, rows) = match read.await {
                Ok(read) => read,
                Err(err) => {
                    let _ = tx.send(Err(err.into())).await;
                    return;
                }
            };
            let full = rows.len() as u64 == BATCH;
            let head = if full {
                match head(&db, &selection, below).await {
                    Ok(head) => head,
                    Err(err) => {
                        let _ = tx.send(Err(err.into())).await;
                        return;
                    }
                }
            } else {
                // A short batch read everything final that it selects.
                rows.last().map(Position::of).unwrap_or(cursor)
            };
            for row in rows {
                cursor = Position::of(&row);
                let head = head.max(cursor);
                if tx.send(to_event(row).map(|e| (e, head))).await.is_err() {
                    return; // the client went away
                }
            }
            if full {
                continue;
            }
            // A short read looked at every event up to `settled`, selected
            // or not: the next starts past them. From the last event
            // selected, a stream of rare types would read every later
            // event again after each commit.
            cursor = cursor.max(settled);
            // The next read waits for a write of the selected types to end.
            // A writer still running that held the horizon back may hold
            // back events of them that committed after it, and its end
            // releases them whatever it wrote: then any end will do.
            let waited_for: &[String] = if held_back { &[] } else { &selection.types };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tx.closed() => return,
                _ = db.commits().until_written(seen, waited_for) => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    });
    ReceiverStream::new(rx)
}

/// The last position a read that begins after this call finds final,
/// selected or not: on PostgreSQL everything below `horizon`; on SQLite the
/// newest event visible now (one writer at a time, and ids never reused:
/// an event not yet committed has a larger id than every committed one).
async fn settled(db: &Db, horizon: Option<i64>) -> ApiResult<Position> {
    Ok(match horizon {
        Some(horizon) if horizon > 0 => Position {
            txid: horizon - 1,
            id: i64::MAX,
        },
        Some(_) => Position::START,
        None => Position {
            txid: 0,
            id: written(db).await?,
        },
    })
}

/// How many events the service has written (the newest event's id, 0 when
/// empty), for the outbox metric.
pub async fn written(db: &Db) -> ApiResult<i64> {
    Ok(Entity::find()
        .select_only()
        .column_as(Column::Id.max(), "head")
        .into_tuple::<Option<i64>>()
        .one(db.reader())
        .await?
        .flatten()
        .unwrap_or(0))
}

/// The position of the newest event below `horizon` that `selection`
/// selects (the start when none).
async fn head(db: &Db, selection: &Selection, horizon: Option<i64>) -> ApiResult<Position> {
    let backend = db.backend();
    let newest = by_position(
        selection.apply(finished(horizon)),
        backend,
        sea_orm::Order::Desc,
    );
    Ok(newest
        .select_only()
        .columns([Column::Txid, Column::Id])
        .into_tuple::<(i64, i64)>()
        .one(db.reader())
        .await?
        .map(|(txid, id)| Position { txid, id })
        .unwrap_or_default())
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
        let longest = Position::LONGEST.to_string();
        let response_at_most = fiveledger_proto::rounds::WatchEventsResponse {
            event: Some(Event {
                cursor: longest.clone(),
                ..event.clone()
            }),
            head_cursor: longest,
        }
        .encoded_len();
        assert!(served_size(&event) >= response_at_most);
    }

    #[test]
    fn cursors_spell_positions_and_plain_ids_stay_valid() {
        let p = |txid, id| Position { txid, id };
        for position in [Position::START, p(0, 7), p(812, 7), Position::LONGEST] {
            assert_eq!(parse_cursor(&position.to_string()).ok(), Some(position));
        }
        assert_eq!(Position::START.cursor(), "");
        assert_eq!(parse_cursor("").ok(), Some(Position::START));
        // A cursor from before transaction ids: a plain event id.
        assert_eq!(p(0, 42).to_string(), "42");
        assert_eq!(p(9, 42).to_string(), "9.42");
        for bad in ["x", "-1", "0.5", "1.", ".1", "1.2.3", "+1", "1.-2", " 1"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
        // Positions sort by transaction, then id; plain ids come first.
        assert!(p(0, 99) < p(5, 1) && p(5, 1) < p(5, 2) && p(5, 2) < p(6, 0));
        assert_eq!(p(5, 3).behind(p(5, 3)), 0);
        assert_eq!(p(5, 3).behind(p(6, 10)), 7);
        assert_eq!(p(5, 30).behind(p(6, 10)), 1, "ahead by position, not by id");
        assert_eq!(p(6, 10).behind(p(5, 30)), 0);
    }

    /// Outbox databases (SQLite, and PostgreSQL when the tests have one),
    /// with group commit and without.
    async fn outboxes() -> Vec<(Db, tempfile::TempDir)> {
        let mut dbs = Vec::new();
        for group_commit in [true, false] {
            for (db, dir) in
                crate::group_commit::tests::databases_with(|s| s.group_commit = group_commit).await
            {
                db.migrate::<crate::platform_tables::PlatformOnly>()
                    .await
                    .expect("platform tables");
                dbs.push((db, dir));
            }
        }
        dbs
    }

    /// A rare event (a `Timestamp`) or a common one (an `Any`) about `subject`.
    async fn append_one(txn: &DatabaseTransaction, subject: &str, rare: bool) {
        let ctx = EventContext::default();
        if rare {
            append(txn, &ctx, subject, &prost_types::Timestamp::default()).await
        } else {
            append(txn, &ctx, subject, &prost_types::Any::default()).await
        }
        .expect("append");
    }

    async fn write_one(db: &Db, subject: &str, rare: bool) {
        let subject = subject.to_owned();
        db.write(Box::new(move |txn| {
            Box::pin(async move {
                append_one(txn, &subject, rare).await;
                Ok(crate::group_commit::Step::Commit(()))
            })
        }))
        .await
        .expect("write");
    }

    /// A stream of the rare type that never polls: only a write's end
    /// wakes it.
    fn rare_stream(
        db: &Db,
        stop: &CancellationToken,
    ) -> ReceiverStream<Result<(Event, Position), Status>> {
        let rare = Selection::types(vec![
            <prost_types::Timestamp as prost::Name>::NAME.to_owned(),
        ]);
        following(
            db.clone(),
            Position::START,
            rare,
            stop.clone(),
            Duration::from_secs(3600),
        )
    }

    async fn next_subject(
        stream: &mut ReceiverStream<Result<(Event, Position), Status>>,
        within: Duration,
    ) -> Option<String> {
        use futures::StreamExt;
        let next = tokio::time::timeout(within, stream.next()).await.ok()?;
        Some(next.expect("an event").expect("served").0.subject)
    }

    /// A stream of one type is woken by the writes that append it, in a
    /// batch, in a transaction of their own or begun by hand, however many
    /// writes of other types ended before.
    #[tokio::test]
    async fn a_stream_of_some_types_is_woken_by_the_writes_of_them() {
        for (db, _dir) in outboxes().await {
            let stop = CancellationToken::new();
            let mut rare = rare_stream(&db, &stop);
            for i in 0..20 {
                write_one(&db, &format!("common{i}"), false).await;
            }
            write_one(&db, "rare0", true).await;
            let at_once = Duration::from_secs(5);
            assert_eq!(
                next_subject(&mut rare, at_once).await.as_deref(),
                Some("rare0")
            );
            let txn = db.begin().await.expect("begin");
            append_one(&txn, "rare1", true).await;
            db.commit(txn).await.expect("commit");
            assert_eq!(
                next_subject(&mut rare, at_once).await.as_deref(),
                Some("rare1")
            );
            stop.cancel();
        }
    }

    /// On PostgreSQL, a rare event committed while an older writer runs is
    /// held back by it; that writer's end releases the event, though it
    /// wrote nothing the stream selects.
    #[tokio::test]
    async fn a_stream_held_back_by_a_writer_reads_again_when_it_ends() {
        for (db, _dir) in outboxes().await {
            if db.backend() != DbBackend::Postgres {
                continue;
            }
            let stop = CancellationToken::new();
            let mut rare = rare_stream(&db, &stop);
            let older = db.begin().await.expect("begin");
            older
                .execute_unprepared("SELECT pg_current_xact_id()")
                .await
                .expect("a transaction id");
            write_one(&db, "rare", true).await;
            assert_eq!(
                next_subject(&mut rare, Duration::from_millis(300)).await,
                None,
                "served past a writer still running"
            );
            db.rollback(older).await.expect("rollback");
            assert_eq!(
                next_subject(&mut rare, Duration::from_secs(5))
                    .await
                    .as_deref(),
                Some("rare"),
                "not served once the writer holding it back ended"
            );
            stop.cancel();
        }
    }
}
