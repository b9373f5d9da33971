//! Event consumers: follow another service's `WatchEvents` stream and apply
//! each event exactly once.
//!
//! The consumer's position lives in its own database (`event_cursors`), and
//! is advanced in the same transaction as the event's effect, with
//! `UPDATE … SET position = n WHERE position < n`: a replayed or concurrently
//! consumed event finds the position already there and is skipped, so a
//! restart or a second replica never doubles an effect or loses one.

use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, DatabaseTransaction};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use fiveledger_proto::types::Event;
use fiveledger_proto::{issues, ledgers, rounds};

use crate::auth::ServiceCredentials;
use crate::error::{ApiError, ApiResult};
use crate::lease::Lease;
use crate::outbox::parse_cursor;
use crate::storage::Db;

/// A consumer's position in one source's outbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer: String,
    pub position: i64,
    pub update_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Applies one event's effect inside the consumer's transaction.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>>;
}

/// Where events come from: one of the suite's services.
#[derive(Clone)]
pub enum EventSource {
    Rounds(Channel, ServiceCredentials),
    Issues(Channel, ServiceCredentials),
    Ledgers(Channel, ServiceCredentials),
}

type Events = futures::stream::BoxStream<'static, Result<Event, tonic::Status>>;
type EventsWithHead = futures::stream::BoxStream<'static, Result<(Event, i64), tonic::Status>>;

impl EventSource {
    /// Opens the stream after `after` (only `types`, or all).
    pub async fn watch(&self, after: i64, types: &[String]) -> Result<Events, tonic::Status> {
        Ok(self
            .watch_with_head(after, types)
            .await?
            .map(|item| item.map(|(event, _)| event))
            .boxed())
    }

    /// [`EventSource::watch`], each event with the producer's head cursor
    /// at the time it was read.
    pub async fn watch_with_head(
        &self,
        after: i64,
        types: &[String],
    ) -> Result<EventsWithHead, tonic::Status> {
        let after_cursor = if after == 0 {
            String::new()
        } else {
            after.to_string()
        };
        let types = types.to_vec();
        macro_rules! open {
            ($pkg:ident, $channel:expr, $creds:expr) => {{
                let mut client = $pkg::event_service_client::EventServiceClient::new(
                    InterceptedService::new($channel.clone(), $creds.clone()),
                );
                let stream = client
                    .watch_events($pkg::WatchEventsRequest {
                        after_cursor,
                        types,
                    })
                    .await?
                    .into_inner();
                stream
                    .map(|r| {
                        r.and_then(|m| {
                            let head = m.head_cursor.parse::<i64>().unwrap_or(0);
                            m.event
                                .map(|event| (event, head))
                                .ok_or_else(|| tonic::Status::internal("empty event"))
                        })
                    })
                    .boxed()
            }};
        }
        Ok(match self {
            EventSource::Rounds(c, k) => open!(rounds, c, k),
            EventSource::Issues(c, k) => open!(issues, c, k),
            EventSource::Ledgers(c, k) => open!(ledgers, c, k),
        })
    }
}

/// A lazily connecting channel to another service. Its 30 s timeout bounds
/// calls made for no caller (event consumers, sweeps); a call made while
/// handling a request with a deadline is also cut at that deadline, which
/// [`ServiceCredentials`] sends along as `grpc-timeout`.
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy())
}

/// The stored position of `consumer` (0 when it has never run).
pub async fn position(db: &Db, consumer: &str) -> ApiResult<i64> {
    Ok(Entity::find_by_id(consumer.to_owned())
        .one(db.reader())
        .await?
        .map(|m| m.position)
        .unwrap_or(0))
}

/// Applies one event: advances the position and runs the handler in one
/// transaction. Returns false when the event was already applied.
pub async fn apply(
    db: &Db,
    consumer: &str,
    event: &Event,
    handler: &impl EventHandler,
) -> ApiResult<bool> {
    let span = crate::telemetry::event_span(consumer, &event.r#type, &event.traceparent);
    let applied = apply_in_span(db, consumer, event, handler)
        .instrument(span)
        .await?;
    if applied {
        metrics::gauge!("fiveledger_consumer_position", "consumer" => consumer.to_owned())
            .set(parse_cursor(&event.cursor)? as f64);
    }
    Ok(applied)
}

async fn apply_in_span(
    db: &Db,
    consumer: &str,
    event: &Event,
    handler: &impl EventHandler,
) -> ApiResult<bool> {
    let position = parse_cursor(&event.cursor)?;
    let txn = db.begin().await?;
    // Make sure the row exists, then claim the event by moving past it.
    Entity::insert(ActiveModel {
        consumer: Set(consumer.to_owned()),
        position: Set(0),
        update_time: Set(chrono::Utc::now()),
    })
    .on_conflict(OnConflict::column(Column::Consumer).do_nothing().to_owned())
    .try_insert()
    .exec(&txn)
    .await?;
    let claimed = Entity::update_many()
        .col_expr(Column::Position, Expr::value(position))
        .col_expr(Column::UpdateTime, Expr::value(chrono::Utc::now()))
        .filter(Column::Consumer.eq(consumer))
        .filter(Column::Position.lt(position))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Ok(false);
    }
    handler.handle(&txn, event).await?;
    db.commit(txn).await?;
    Ok(true)
}

/// How long a consumer's lease lasts; a replica that dies is replaced
/// within this time.
pub const LEASE_PERIOD: Duration = Duration::from_secs(10);

/// Follows `source` until `stop`, applying every event with `handler`.
/// Errors (the source down, a handler failing) are logged and retried with
/// backoff from the stored position; nothing is skipped. Replicas sharing
/// the database take turns through a lease named after the consumer.
pub async fn run(
    db: Db,
    consumer: String,
    source: EventSource,
    types: Vec<String>,
    handler: impl EventHandler,
    stop: CancellationToken,
) {
    run_with_lease(db, consumer, source, types, handler, stop, LEASE_PERIOD).await
}

/// [`run`] with a chosen lease period.
pub async fn run_with_lease(
    db: Db,
    consumer: String,
    source: EventSource,
    types: Vec<String>,
    handler: impl EventHandler,
    stop: CancellationToken,
    lease_period: Duration,
) {
    let lease = Lease::new(db.clone(), &format!("consumer:{consumer}"), lease_period);
    let mut backoff = Duration::from_millis(200);
    while !stop.is_cancelled() {
        match lease.acquire().await {
            Ok(true) => {}
            Ok(false) => {
                // Another replica consumes; try again when its lease may lapse.
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(lease.renew_every()) => continue,
                }
            }
            Err(err) => {
                tracing::warn!(%consumer, error = ?err, "could not take the consumer lease; retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        }
        let result: ApiResult<()> = async {
            let after = position(&db, &consumer).await?;
            let mut events = source
                .watch_with_head(after, &types)
                .await
                .map_err(|s| crate::error::from_upstream("event source", &consumer, s))?;
            let mut renew = tokio::time::interval(lease.renew_every());
            renew.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = renew.tick() => {
                        if !lease.acquire().await? {
                            tracing::info!(%consumer, "lost the consumer lease");
                            return Ok(());
                        }
                    }
                    next = events.next() => {
                        let Some(event) = next else { return Ok(()) };
                        let (event, head) = event.map_err(|s| crate::error::from_upstream("event source", &consumer, s))?;
                        apply(&db, &consumer, &event, &handler).await?;
                        let position = parse_cursor(&event.cursor)?;
                        metrics::gauge!("fiveledger_consumer_events_waiting", "consumer" => consumer.clone())
                            .set(head.saturating_sub(position) as f64);
                        backoff = Duration::from_millis(200);
                    }
                }
            }
        }
        .await;
        if let Err(err) = result {
            match &err {
                ApiError::Unavailable { .. } => {
                    tracing::debug!(%consumer, error = %err, "event source unavailable; retrying")
                }
                _ => tracing::warn!(%consumer, error = ?err, "event consumer failed; retrying"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    let _ = lease.release().await;
}
