//! Event consumers: follow another service's `WatchEvents` stream and apply
//! each event exactly once.
//!
//! The consumer's position lives in its own database (`event_cursors`: the
//! source's [`Position`], `txid` and `position` for its id), and is advanced
//! in the same transaction as the event's effect, with
//! `UPDATE … SET (txid, position) = p WHERE (txid, position) < p`: a
//! replayed or concurrently consumed event finds the position already there
//! and is skipped, so a restart or a second replica never doubles an effect
//! or loses one. A position stored before `txid` existed has a `txid` of 0:
//! its cursor is the plain event id the source still takes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, Condition, DatabaseTransaction, TransactionTrait};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use fiveledger_proto::types::Event;
use fiveledger_proto::{issues, ledgers, rounds};

use crate::auth::ServiceCredentials;
use crate::error::{ApiError, ApiResult};
use crate::group_commit::Step;
use crate::lease::Lease;
use crate::outbox::{Position, parse_cursor};
use crate::storage::Db;

/// A consumer's position in one source's outbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer: String,
    /// The id of the last event applied.
    pub position: i64,
    pub update_time: chrono::DateTime<chrono::Utc>,
    /// The transaction id of the last event applied (0 on SQLite sources).
    pub txid: i64,
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
type EventsWithHead = futures::stream::BoxStream<'static, Result<(Event, Position), tonic::Status>>;

impl EventSource {
    /// The service the events come from.
    pub fn name(&self) -> &'static str {
        match self {
            EventSource::Rounds(..) => "rounds",
            EventSource::Issues(..) => "issues",
            EventSource::Ledgers(..) => "ledgers",
        }
    }

    /// Opens the stream after `after` (only `types`, or all).
    pub async fn watch(&self, after: Position, types: &[String]) -> Result<Events, tonic::Status> {
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
        after: Position,
        types: &[String],
    ) -> Result<EventsWithHead, tonic::Status> {
        let after_cursor = after.cursor();
        let types = types.to_vec();
        macro_rules! open {
            ($pkg:ident, $channel:expr, $creds:expr) => {{
                let mut client = $pkg::event_service_client::EventServiceClient::new(
                    crate::client_calls::authed($channel.clone(), $creds.clone(), self.name()),
                )
                .max_decoding_message_size(crate::outbox::STREAM_MESSAGE_LIMIT);
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
                            let head = parse_cursor(&m.head_cursor).unwrap_or_default();
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
    Ok(endpoint(url)?.connect_lazy())
}

/// The endpoint [`channel`] connects to (plaintext, or over TLS by
/// [`crate::server::Outbound::channel`]).
pub fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30)))
}

/// The stored position of `consumer` (the start when it has never run).
pub async fn position(db: &Db, consumer: &str) -> ApiResult<Position> {
    Ok(Entity::find_by_id(consumer.to_owned())
        .one(db.reader())
        .await?
        .map(|m| Position {
            txid: m.txid,
            id: m.position,
        })
        .unwrap_or_default())
}

/// Applies one event: advances the position and runs the handler in one
/// transaction. Returns false when the event was already applied.
pub async fn apply(
    db: &Db,
    consumer: &str,
    event: &Event,
    handler: &Arc<dyn EventHandler>,
) -> ApiResult<bool> {
    let applied = apply_all(db, consumer, Arc::from([event.clone()]), handler).await?;
    match applied.failed {
        Some((_, err)) => Err(err),
        None => Ok(applied.applied == 1),
    }
}

/// Most events one write applies: those that had arrived when the consumer
/// took the first.
const MAX_EVENTS_PER_WRITE: usize = 64;

/// What became of events applied together.
#[derive(Debug)]
pub struct Applied {
    /// Events whose effect this write made (the others had been applied).
    pub applied: usize,
    /// The event that failed and why: those before it committed, it and
    /// those after it changed nothing.
    pub failed: Option<(usize, ApiError)>,
}

/// Applies `events` in order in one write ([`Db::write`]: with group commit
/// the event joins the batch of requests being written, rather than
/// waiting for the writer on its own), each advancing the position and
/// running the handler in a savepoint of its own.
pub async fn apply_all(
    db: &Db,
    consumer: &str,
    events: Arc<[Event]>,
    handler: &Arc<dyn EventHandler>,
) -> ApiResult<Applied> {
    let (name, handler, written) = (consumer.to_owned(), handler.clone(), events.clone());
    let applied = db
        .write(Box::new(move |txn| {
            Box::pin(async move {
                let (consumer, events, handler) = (name.as_str(), &written[..], &*handler);
                // Make sure the row exists; each event then claims itself
                // by moving the position past it.
                Entity::insert(ActiveModel {
                    consumer: Set(consumer.to_owned()),
                    position: Set(0),
                    update_time: Set(chrono::Utc::now()),
                    txid: Set(0),
                })
                .on_conflict(OnConflict::column(Column::Consumer).do_nothing().to_owned())
                .try_insert()
                .exec(txn)
                .await?;
                // One event needs no savepoint but the write's own.
                if let [event] = events {
                    return apply_one(txn, consumer, event, handler)
                        .await
                        .map(|claimed| Step::Commit(Applied::counted(usize::from(claimed))));
                }
                let mut applied = 0;
                for (i, event) in events.iter().enumerate() {
                    let savepoint = txn.begin().await?;
                    let applying = apply_one(&savepoint, consumer, event, handler);
                    match crate::write_scope::in_savepoint(&savepoint, applying).await {
                        Ok(claimed) => {
                            savepoint.commit().await?;
                            applied += usize::from(claimed);
                        }
                        Err(err) => {
                            savepoint.rollback().await?;
                            return Ok(Step::Commit(Applied {
                                applied,
                                failed: Some((i, err)),
                            }));
                        }
                    }
                }
                Ok(Step::Commit(Applied::counted(applied)))
            })
        }))
        .await?;
    let committed = &events[..applied.committed(events.len())];
    if let Some(last) = committed.last() {
        metrics::gauge!("fiveledger_consumer_position", "consumer" => consumer.to_owned())
            .set(parse_cursor(&last.cursor)?.id as f64);
    }
    record_delays(consumer, committed);
    Ok(applied)
}

impl Applied {
    fn counted(applied: usize) -> Self {
        Self {
            applied,
            failed: None,
        }
    }

    /// How many of the `n` events given stand committed (applied now or
    /// before): all of them, or those before the one that failed.
    pub fn committed(&self, n: usize) -> usize {
        self.failed.as_ref().map_or(n, |(i, _)| *i)
    }
}

/// Claims `event` for `consumer` and runs the handler, in its span.
/// Returns false when the event was already applied.
async fn apply_one(
    txn: &DatabaseTransaction,
    consumer: &str,
    event: &Event,
    handler: &dyn EventHandler,
) -> ApiResult<bool> {
    let span = crate::telemetry::event_span(consumer, &event.r#type, &event.traceparent);
    async {
        let position = parse_cursor(&event.cursor)?;
        let before = Condition::any().add(Column::Txid.lt(position.txid)).add(
            Condition::all()
                .add(Column::Txid.eq(position.txid))
                .add(Column::Position.lt(position.id)),
        );
        let claimed = Entity::update_many()
            .col_expr(Column::Txid, Expr::value(position.txid))
            .col_expr(Column::Position, Expr::value(position.id))
            .col_expr(Column::UpdateTime, Expr::value(chrono::Utc::now()))
            .filter(Column::Consumer.eq(consumer))
            .filter(before)
            .exec(txn)
            .await?
            .rows_affected
            == 1;
        if claimed {
            handler.handle(txn, event).await?;
        }
        Ok(claimed)
    }
    .instrument(span)
    .await
}

/// One event consumer of a service: which source and event types it
/// follows, and what it does with each event.
pub struct Consumer {
    /// Its name: the key of its cursor and lease, the label of its metrics
    /// and its name in the health service.
    pub name: String,
    pub source: EventSource,
    /// Only these event types; empty for all.
    pub types: Vec<String>,
    pub handler: Box<dyn EventHandler>,
}

impl EventHandler for Box<dyn EventHandler> {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        (**self).handle(txn, event)
    }
}

/// How a consumer shares its work with replicas and reports trouble.
#[derive(Clone)]
pub struct RunOptions {
    /// How long its lease lasts: a replica that dies is replaced within it.
    pub lease: Duration,
    /// How often the holder renews the lease (and a standby polls it).
    pub renew: Duration,
    /// Where it says whether it is applying events (`SERVING`) or stuck
    /// (`NOT_SERVING`), under its own name; the server's health service.
    pub health: Option<tonic_health::server::HealthReporter>,
}

impl Default for RunOptions {
    fn default() -> Self {
        let settings = crate::settings::ConsumerSettings::default();
        Self {
            lease: Duration::from_millis(settings.lease_ms),
            renew: Duration::from_millis(settings.renew_ms),
            health: None,
        }
    }
}

/// Follows `source` until `stop`, applying every event with `handler`,
/// with the default lease and no health reporting (see [`run_with`]).
pub async fn run(
    db: Db,
    consumer: String,
    source: EventSource,
    types: Vec<String>,
    handler: impl EventHandler,
    stop: CancellationToken,
) {
    let consumer = Consumer {
        name: consumer,
        source,
        types,
        handler: Box::new(handler),
    };
    run_with(db, consumer, RunOptions::default(), stop).await
}

/// First wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Failures in a row (of a transient kind) after which the consumer counts
/// as stalled; any other failure stalls it at once.
const STALL_AFTER: u32 = 3;

/// Follows `consumer.source` until `stop`, applying every event. Errors
/// (the source down, a handler failing) are retried with back-off from the
/// stored position; nothing is skipped. A consumer that keeps failing says
/// so: an error log naming it, its source and the cursor it is stuck
/// after, the `fiveledger_consumer_stalled` gauge at 1, and `NOT_SERVING`
/// under its name in the health service, until an event applies again.
/// Replicas sharing the database take turns through a lease named after
/// the consumer.
pub async fn run_with(db: Db, consumer: Consumer, options: RunOptions, stop: CancellationToken) {
    let Consumer {
        name,
        source,
        types,
        handler,
    } = consumer;
    let handler: Arc<dyn EventHandler> = Arc::from(handler);
    let lease = Lease::with_renewal(
        db.clone(),
        &format!("consumer:{name}"),
        options.lease,
        options.renew,
    );
    let mut trouble = Trouble::new(&name, source.name(), options.health.clone()).await;
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
                let wait = trouble.failed(None, &err).await;
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
        }
        let mut failing_event = None;
        let result: ApiResult<()> = async {
            let after = position(&db, &name).await?;
            trouble.at(after);
            // What has arrived when the consumer takes an event is applied
            // with it, in one write.
            let mut events = source
                .watch_with_head(after, &types)
                .await
                .map_err(|s| crate::error::from_upstream(source.name(), &name, s))?
                .ready_chunks(MAX_EVENTS_PER_WRITE);
            let mut renew = tokio::time::interval(lease.renew_every());
            renew.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = renew.tick() => {
                        if !lease.acquire().await? {
                            tracing::info!(consumer = %name, "lost the consumer lease");
                            return Ok(());
                        }
                        // Connected and not failing for a renewal period.
                        trouble.recovered().await;
                    }
                    next = events.next() => {
                        let Some(arrived) = next else { return Ok(()) };
                        // The events before a broken stream's error are applied first.
                        let mut batch: Vec<Event> = Vec::with_capacity(arrived.len());
                        let mut broken = None;
                        let mut head = Position::default();
                        for item in arrived {
                            match item {
                                Ok((event, h)) => {
                                    head = h;
                                    batch.push(event);
                                }
                                Err(status) => {
                                    broken = Some(status);
                                    break;
                                }
                            }
                        }
                        let batch: Arc<[Event]> = batch.into();
                        if let Some(first) = batch.first() {
                            failing_event = Some(first.cursor.clone());
                            let applied = apply_all(&db, &name, batch.clone(), &handler).await?;
                            if let Some(last) = batch[..applied.committed(batch.len())].last() {
                                let position = parse_cursor(&last.cursor)?;
                                trouble.at(position);
                                metrics::gauge!("fiveledger_consumer_events_waiting", "consumer" => name.clone())
                                    .set(position.behind(head) as f64);
                                trouble.recovered().await;
                            }
                            if let Some((i, err)) = applied.failed {
                                failing_event = Some(batch[i].cursor.clone());
                                return Err(err);
                            }
                            failing_event = None;
                        }
                        if let Some(status) = broken {
                            return Err(crate::error::from_upstream(source.name(), &name, status));
                        }
                    }
                }
            }
        }
        .await;
        let wait = match result {
            Ok(()) => FIRST_BACKOFF,
            Err(err) => trouble.failed(failing_event, &err).await,
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    let _ = lease.release().await;
    if let Some(health) = &options.health {
        health
            .set_service_status(&name, tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// How long each of `committed` (in order) waited between its write at the
/// source and its commit here: each one into the delay histogram, the
/// oldest as the lag. Measured on the events themselves, so a queue shows
/// wherever it forms (the source's stream, the network, this writer),
/// which the source's head cursor alone cannot see.
fn record_delays(consumer: &str, committed: &[Event]) {
    let now = chrono::Utc::now();
    let histogram =
        metrics::histogram!("fiveledger_consumer_delay_seconds", "consumer" => consumer.to_owned());
    for event in committed {
        histogram.record(delay_seconds(event, now));
    }
    if let Some(oldest) = committed.first() {
        metrics::gauge!("fiveledger_consumer_lag_seconds", "consumer" => consumer.to_owned())
            .set(delay_seconds(oldest, now));
    }
}

/// Seconds from `event`'s write to `now` (0 for a clock behind the source's).
fn delay_seconds(event: &Event, now: chrono::DateTime<chrono::Utc>) -> f64 {
    event
        .create_time
        .as_ref()
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .and_then(|written| (now - written).num_microseconds())
        .map_or(0.0, |us| us.max(0) as f64 / 1e6)
}

/// A consumer's run of failures: how long to back off, and whether it is
/// stalled (reported by log, metric and health).
struct Trouble {
    consumer: String,
    source: &'static str,
    health: Option<tonic_health::server::HealthReporter>,
    /// The stored position: the consumer is stuck after this event.
    position: Position,
    failures: u32,
    backoff: Duration,
    stalled: bool,
}

impl Trouble {
    async fn new(
        consumer: &str,
        source: &'static str,
        health: Option<tonic_health::server::HealthReporter>,
    ) -> Self {
        let trouble = Self {
            consumer: consumer.to_owned(),
            source,
            health,
            position: Position::START,
            failures: 0,
            backoff: FIRST_BACKOFF,
            stalled: false,
        };
        trouble.report(false).await;
        trouble
    }

    fn at(&mut self, position: Position) {
        self.position = position;
    }

    /// Records a failure (of the event at `event`, when one was being
    /// applied) and returns how long to wait before the next try.
    async fn failed(&mut self, event: Option<String>, err: &ApiError) -> Duration {
        let transient = err.is_transient();
        self.failures += 1;
        metrics::counter!(
            "fiveledger_consumer_failures_total",
            "consumer" => self.consumer.clone(),
            "source" => self.source,
            "kind" => if transient { "transient" } else { "permanent" }
        )
        .increment(1);
        let event = event.unwrap_or_default();
        let (consumer, source, cursor, failures) = (
            &self.consumer,
            self.source,
            self.position.to_string(),
            self.failures,
        );
        let wait = self.backoff;
        if transient && failures < STALL_AFTER {
            tracing::warn!(%consumer, %source, %cursor, %event, failures, retry_in = ?wait, error = %err, "event consumer: source or database unavailable; retrying");
        } else {
            // The cause in full: this is what an operator must act on.
            tracing::error!(%consumer, %source, %cursor, %event, failures, retry_in = ?wait, error = ?err, "event consumer cannot apply the events after its cursor; retrying with back-off");
            if !self.stalled {
                self.stalled = true;
                self.report(true).await;
            }
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }

    /// The consumer applies events (or waits for them) again.
    async fn recovered(&mut self) {
        self.failures = 0;
        self.backoff = FIRST_BACKOFF;
        if self.stalled {
            self.stalled = false;
            tracing::info!(consumer = %self.consumer, source = self.source, cursor = %self.position, "event consumer applies events again");
            self.report(false).await;
        }
    }

    async fn report(&self, stalled: bool) {
        metrics::gauge!("fiveledger_consumer_stalled", "consumer" => self.consumer.clone())
            .set(if stalled { 1.0 } else { 0.0 });
        if let Some(health) = &self.health {
            let status = if stalled {
                tonic_health::ServingStatus::NotServing
            } else {
                tonic_health::ServingStatus::Serving
            };
            health.set_service_status(&self.consumer, status).await;
        }
    }
}
