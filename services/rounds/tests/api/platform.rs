//! The shared plumbing, proved end to end on the rounds server: health,
//! authentication, roles, limits, events and consumers (reflection, the
//! roles tables and the shutdown drain: tests/tests/suite/server.rs).

use crate::common;

use std::time::Duration;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::consumer::{self, EventHandler, EventSource};
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv};
use fiveledger_proto::rounds::*;
use fiveledger_proto::types::Event;
use sea_orm::{DatabaseTransaction, EntityTrait, PaginatorTrait};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test]
async fn health_reports_serving_for_the_server_and_each_service() {
    let app = spawn().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "fiveledger.rounds.v1.OrganisationService",
        "fiveledger.rounds.v1.InspectorService",
        "fiveledger.rounds.v1.RoundService",
        "fiveledger.rounds.v1.GroupService",
        "fiveledger.rounds.v1.InspectionService",
        "fiveledger.rounds.v1.EventService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope.v1.Nothing".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated() {
    let app = spawn().await;
    let err = app
        .organisations()
        .list_organisations(ListOrganisationsRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "UNAUTHENTICATED");

    let forged = fiveledger_platform::auth::Hs256::new(b"not-the-servers-key-at-all", "fiveledger")
        .expect("key")
        .mint("mallory", "", &[Role::Admin], chrono::Duration::minutes(5));
    let err = app
        .organisations()
        .list_organisations(testing::authed(
            &forged,
            ListOrganisationsRequest::default(),
        ))
        .await
        .expect_err("forged token");
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_token_without_the_role_is_denied() {
    let app = spawn().await;
    let viewer = testing::token("v", "", &[Role::Viewer]);
    let err = app
        .organisations()
        .create_organisation(testing::authed(
            &viewer,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "X".into(),
                    kind: OrganisationKind::Region as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("viewer cannot create");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "PERMISSION_DENIED");

    // The public role reads nothing here.
    let public = testing::token("p", "", &[Role::Public]);
    let err = app
        .organisations()
        .list_organisations(testing::authed(
            &public,
            ListOrganisationsRequest::default(),
        ))
        .await
        .expect_err("public cannot list");
    assert_eq!(err.code(), Code::PermissionDenied);

    // Only services may watch events.
    let mut events = fiveledger_proto::rounds::event_service_client::EventServiceClient::new(
        app.channel.clone(),
    );
    let err = events
        .watch_events(testing::authed(
            &office("guangxi"),
            WatchEventsRequest::default(),
        ))
        .await
        .expect_err("an office may not watch raw events");
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let app = spawn().await;
    let err = app
        .organisations()
        .create_organisation(testing::authed(
            &admin(),
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "x".repeat(5 * 1024 * 1024),
                    kind: OrganisationKind::Region as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("too large");
    assert_eq!(err.code(), Code::OutOfRange);
}

/// Copies every event it sees into its own outbox: an effect we can count.
struct CopyEvents;

impl EventHandler for CopyEvents {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> futures::future::BoxFuture<'t, fiveledger_platform::ApiResult<()>> {
        Box::pin(async move {
            let ctx = EventContext {
                actor: "service:test".into(),
                ..Default::default()
            };
            outbox::append(txn, &ctx, &event.subject, &OrganisationCreated::default()).await
        })
    }
}

async fn effects(db: &Db) -> u64 {
    outbox::Entity::find()
        .count(db.reader())
        .await
        .expect("count")
}

async fn wait_for_effects(db: &Db, n: u64) {
    for _ in 0..100 {
        if effects(db).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} effects, saw {}", effects(db).await);
}

#[tokio::test]
async fn each_event_is_applied_once_across_consumer_restarts_and_replays() {
    let app = spawn().await;
    let consumer_env = TestEnv::new("consumer");
    let db = testing::consumer_db(&consumer_env).await;
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", app.running.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    let t = admin();

    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        db.clone(),
        "copy".into(),
        source.clone(),
        vec![],
        CopyEvents,
        stop.clone(),
    ));
    app.org(&t, "guangxi", OrganisationKind::Region, "", "Guangxi")
        .await;
    app.org(
        &t,
        "nanning",
        OrganisationKind::City,
        "organisations/guangxi",
        "Nanning",
    )
    .await;
    wait_for_effects(&db, 2).await;
    stop.cancel();
    task.await.expect("consumer stops");

    // Written while the consumer was down: delivered after the restart.
    app.org(
        &t,
        "liuzhou",
        OrganisationKind::City,
        "organisations/guangxi",
        "Liuzhou",
    )
    .await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        db.clone(),
        "copy".into(),
        source.clone(),
        vec![],
        CopyEvents,
        stop.clone(),
    ));
    wait_for_effects(&db, 3).await;

    // A second consumer on the same database, and a replay from the start,
    // add nothing.
    let stop2 = CancellationToken::new();
    let task2 = tokio::spawn(consumer::run(
        db.clone(),
        "copy".into(),
        source.clone(),
        vec![],
        CopyEvents,
        stop2.clone(),
    ));
    let mut replay = source
        .watch(outbox::Position::START, &[])
        .await
        .expect("watch");
    use futures::StreamExt;
    let first = replay.next().await.expect("event").expect("ok");
    assert!(
        !consumer::apply(&db, "copy", &first, &(std::sync::Arc::new(CopyEvents) as _))
            .await
            .expect("apply")
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(effects(&db).await, 3);
    assert_eq!(
        consumer::position(&db, "copy").await.expect("position").id,
        3
    );
    stop.cancel();
    stop2.cancel();
    task.await.expect("stops");
    task2.await.expect("stops");
}

#[tokio::test]
async fn events_stream_in_order_and_resume_from_a_cursor() {
    let app = spawn().await;
    let (source, all) = small_tree_events(&app).await;
    let subjects: Vec<_> = all.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "organisations/guangxi",
            "organisations/nanning",
            "organisations/xingning",
            "organisations/qingxiu",
            "organisations/nanning-jw"
        ]
    );
    assert!(
        all.iter()
            .all(|e| e.r#type == "OrganisationCreated" && e.actor == "admin")
    );
    let payload: OrganisationCreated = all[1]
        .payload
        .as_ref()
        .expect("payload")
        .to_msg()
        .expect("decode");
    assert_eq!(payload.organisation.expect("org").path, "guangxi/nanning");

    let after: outbox::Position = all[2].cursor.parse().expect("cursor");
    let rest = events_after(&source, after, 2).await;
    assert_eq!(rest[0].subject, "organisations/qingxiu");
}

/// The server's events, and the first five: the small tree's
/// organisations, as created.
async fn small_tree_events(app: &TestApp) -> (EventSource, Vec<Event>) {
    app.small_tree().await;
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", app.running.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    let first = events_after(&source, outbox::Position::START, 5).await;
    (source, first)
}

/// The first `n` events of `source` after `after`.
async fn events_after(source: &EventSource, after: outbox::Position, n: usize) -> Vec<Event> {
    use futures::StreamExt;
    source
        .watch(after, &[])
        .await
        .expect("watch")
        .take(n)
        .map(|e| e.expect("ok"))
        .collect()
        .await
}

/// An event carrying `text` as an organisation's display name.
fn event_of(text: String) -> OrganisationCreated {
    OrganisationCreated {
        organisation: Some(Organisation {
            display_name: text,
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn the_outbox_refuses_an_event_a_stream_could_not_deliver_and_writes_nothing() {
    let env = TestEnv::new("outbox");
    let db = testing::consumer_db(&env).await;
    let ctx = EventContext {
        actor: "admin".into(),
        request_id: "r".repeat(128),
        ..Default::default()
    };
    let subject = "organisations/x";

    // Over the bound: an internal error inside the producer's transaction.
    let txn = db.begin().await.expect("begin");
    let err = outbox::append(
        &txn,
        &ctx,
        subject,
        &event_of("x".repeat(outbox::MAX_EVENT_BYTES)),
    )
    .await
    .expect_err("over the bound");
    assert!(
        matches!(err, fiveledger_platform::ApiError::Internal(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("internal"), "{err}");
    db.commit(txn).await.expect("commit");
    assert_eq!(effects(&db).await, 0, "nothing was written");

    // Just under it: written, and delivered whole over a stream with the
    // standard 4 MiB limit.
    let mut fits = outbox::MAX_EVENT_BYTES - 1024;
    loop {
        let txn = db.begin().await.expect("begin");
        let written = outbox::append(&txn, &ctx, subject, &event_of("y".repeat(fits))).await;
        if written.is_ok() {
            db.commit(txn).await.expect("commit");
            break;
        }
        fits -= 256;
    }
    assert!(
        fits > outbox::MAX_EVENT_BYTES - 2048,
        "the bound is the served size: {fits}"
    );
    use futures::StreamExt;
    let served = outbox::watch_with_head(
        db.clone(),
        outbox::Position::START,
        Default::default(),
        CancellationToken::new(),
    )
    .next()
    .await
    .expect("an event")
    .expect("served");
    let response = WatchEventsResponse {
        event: Some(served.0),
        head_cursor: outbox::Position::LONGEST.to_string(),
    };
    use prost::Message;
    assert!(response.encoded_len() <= outbox::MAX_EVENT_BYTES);
}

/// Fails every event while `failing` is set, counting its attempts.
struct Flaky {
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    attempts: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl EventHandler for Flaky {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> futures::future::BoxFuture<'t, fiveledger_platform::ApiResult<()>> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(fiveledger_platform::ApiError::internal(anyhow::anyhow!(
                    "cannot apply {}",
                    event.cursor
                )));
            }
            CopyEvents.handle(txn, event).await
        })
    }
}

#[tokio::test]
async fn a_consumer_that_cannot_apply_an_event_says_so_backs_off_and_recovers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    let app = spawn().await;
    let env = TestEnv::new("stalled");
    let db = testing::consumer_db(&env).await;
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", app.running.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    // The health service the consumer reports to, served on its own port.
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let health_addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health_service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let health = HealthClient::new(
        tonic::transport::Channel::from_shared(format!("http://{health_addr}"))
            .expect("url")
            .connect_lazy(),
    );
    let status = |mut health: HealthClient<tonic::transport::Channel>| async move {
        health
            .check(HealthCheckRequest {
                service: "copy".into(),
            })
            .await
            .expect("the consumer is known to health")
            .into_inner()
            .status
    };
    let failing = Arc::new(AtomicBool::new(true));
    let attempts = Arc::new(AtomicU32::new(0));
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run_with(
        db.clone(),
        consumer::Consumer {
            name: "copy".into(),
            source,
            types: vec![],
            handler: Box::new(Flaky {
                failing: failing.clone(),
                attempts: attempts.clone(),
            }),
        },
        consumer::RunOptions {
            health: Some(reporter),
            ..Default::default()
        },
        stop.clone(),
    ));
    app.org(&admin(), "guangxi", OrganisationKind::Region, "", "Guangxi")
        .await;

    // It fails, says so (health NOT_SERVING under its name), and waits
    // longer each time instead of retrying in a hot loop.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let tries = attempts.load(Ordering::SeqCst);
    assert!((2..=6).contains(&tries), "{tries} attempts in 2.5 s");
    assert_eq!(
        status(health.clone()).await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        consumer::position(&db, "copy").await.expect("position").id,
        0
    );
    assert_eq!(effects(&db).await, 0);

    // Once the event can be applied, it is, and the consumer serves again.
    failing.store(false, Ordering::SeqCst);
    wait_for_effects_within(&db, 1, Duration::from_secs(8)).await;
    for _ in 0..50 {
        if status(health.clone()).await == ServingStatus::Serving as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(health.clone()).await, ServingStatus::Serving as i32);
    stop.cancel();
    task.await.expect("stops");
}

async fn wait_for_effects_within(db: &Db, n: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while effects(db).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} effects"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies events, but refuses those about one subject, after writing.
struct RefuseSubject(&'static str);

impl EventHandler for RefuseSubject {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> futures::future::BoxFuture<'t, fiveledger_platform::ApiResult<()>> {
        Box::pin(async move {
            CopyEvents.handle(txn, event).await?;
            if event.subject == self.0 {
                return Err(fiveledger_platform::ApiError::internal(anyhow::anyhow!(
                    "cannot apply {}",
                    event.cursor
                )));
            }
            Ok(())
        })
    }
}

/// Events that arrived together are applied in one write, each in its own
/// savepoint: those before a failing one commit, the failing one and those
/// after it change nothing, and the position stops before it; applied
/// again, the committed ones are skipped and the rest applied.
#[tokio::test]
async fn events_applied_together_commit_up_to_the_one_that_fails() {
    use std::sync::Arc;

    let app = spawn().await;
    let (_, events) = small_tree_events(&app).await;
    let env = TestEnv::new("batched");
    let db = testing::consumer_db(&env).await;
    let cursor = |i: usize| outbox::parse_cursor(&events[i].cursor).expect("cursor");
    let events: Arc<[Event]> = events.clone().into();
    let refusing: Arc<dyn EventHandler> = Arc::new(RefuseSubject("organisations/qingxiu"));
    assert_eq!(events[3].subject, "organisations/qingxiu");

    let applied = consumer::apply_all(&db, "copy", events.clone(), &refusing)
        .await
        .expect("the write commits");
    let (failed, err) = applied.failed.expect("the fourth event fails");
    assert_eq!((applied.applied, failed), (3, 3), "{err:?}");
    assert_eq!(
        effects(&db).await,
        3,
        "the failing event's own write undone"
    );
    assert_eq!(
        consumer::position(&db, "copy").await.expect("position"),
        cursor(2)
    );

    // Once it can be applied: the first three are skipped, the rest applied.
    let copying: Arc<dyn EventHandler> = Arc::new(CopyEvents);
    let applied = consumer::apply_all(&db, "copy", events.clone(), &copying)
        .await
        .expect("applied");
    assert!(applied.failed.is_none());
    assert_eq!(applied.applied, 2);
    assert_eq!(effects(&db).await, 5);
    assert_eq!(
        consumer::position(&db, "copy").await.expect("position"),
        cursor(4)
    );
}
