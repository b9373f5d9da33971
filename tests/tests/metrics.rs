//! The Prometheus endpoint and the OTLP export (an in-memory exporter here):
//! per-RPC counters by status code and latency histograms labelled as
//! go-grpc-prometheus labels them, on the server and the client side, the
//! process's, pools' and build's figures, help on every metric, and the
//! consumer gauges, the same in both.

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::consumer::{self, EventSource};
use fiveledger_platform::metrics;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::testing::{CopyToOutbox, TestEnv, consumer_db, copied};
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{
    CreateOrganisationRequest, ListOrganisationsRequest, Organisation, OrganisationKind,
};
use std::time::Duration;

use futures::StreamExt;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The first scrape (within 10 s) whose body holds `line`.
async fn scrape_until(addr: std::net::SocketAddr, what: &str, line: &str) -> String {
    fiveledger_e2e::eventually(what, Duration::from_secs(10), || async {
        let body = scrape(addr).await;
        body.contains(line).then_some(body)
    })
    .await
}

/// The value of the sample `name` (with its labels and a space) in `body`.
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// A handler that refuses every event.
struct Refuses;

impl consumer::EventHandler for Refuses {
    fn handle<'t>(
        &'t self,
        _: &'t sea_orm::DatabaseTransaction,
        event: &'t fiveledger_proto::types::Event,
    ) -> futures::future::BoxFuture<'t, fiveledger_platform::ApiResult<()>> {
        let err = fiveledger_platform::ApiError::internal(anyhow::anyhow!(
            "cannot apply {}",
            event.cursor
        ));
        Box::pin(async move { Err(err) })
    }
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    body
}

#[tokio::test]
async fn rpcs_are_counted_by_method_and_code() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    let _metrics =
        metrics::install_with(Some(addr), Some(provider.clone())).expect("metrics installed");
    let t = spawn_suite(Default::default()).await;
    let mut orgs = OrganisationServiceClient::new(t.rounds.clone());
    let token = testing::token("m", "", &[fiveledger_platform::auth::Role::Admin]);
    orgs.list_organisations(authed(&token, ListOrganisationsRequest::default()))
        .await
        .expect("list");
    orgs.list_organisations(ListOrganisationsRequest::default())
        .await
        .expect_err("no token");

    // Labelled as go-grpc-prometheus labels them. A call is counted when
    // its trailers leave the server, which may be a moment after the
    // client has its answer.
    let labels = r#"grpc_service="fiveledger.rounds.v1.OrganisationService",grpc_method="ListOrganisations",grpc_type="unary""#;
    let ok_line = format!("grpc_server_handled_total{{{labels},grpc_code=\"OK\"}} 1");
    let body = fiveledger_e2e::eventually("the call counted", Duration::from_secs(5), || async {
        let body = scrape(addr).await;
        body.contains(&ok_line).then_some(body)
    })
    .await;
    for line in [
        format!("grpc_server_handled_total{{{labels},grpc_code=\"Unauthenticated\"}} 1"),
        format!("grpc_server_started_total{{{labels}}} 2"),
        format!("grpc_server_handling_seconds_bucket{{{labels},le=\"0.001\"}}"),
    ] {
        assert!(body.contains(&line), "{line} in {body}");
    }

    // Issues asks rounds for an inspection that does not exist: the call
    // is counted on issues' client side and on rounds' server side.
    ProblemServiceClient::new(t.issues.clone())
        .create_problem(authed(
            &token,
            fiveledger_e2e::create_problem_in("rounds/r1/inspections/nowhere"),
        ))
        .await
        .expect_err("no such inspection");
    let get = r#"grpc_service="fiveledger.rounds.v1.InspectionService",grpc_method="GetInspection",grpc_type="unary""#;
    let client_line = format!("grpc_client_handled_total{{{get},grpc_code=\"NotFound\"}} 1");
    let body = fiveledger_e2e::eventually(
        "the client call counted",
        Duration::from_secs(5),
        || async {
            let body = scrape(addr).await;
            body.contains(&client_line).then_some(body)
        },
    )
    .await;
    for line in [
        format!("grpc_client_started_total{{{get}}} 1"),
        format!("grpc_client_handling_seconds_count{{{get}}} 1"),
        format!("grpc_server_handled_total{{{get},grpc_code=\"NotFound\"}} 1"),
    ] {
        assert!(body.contains(&line), "{line} in {body}");
    }

    // What the process, the pools and the build are; every metric with
    // its help. The samplers run on timers of their own, each service's
    // outbox read after its pools (a query that may wait for a
    // connection), so wait until every sampler has reported once, and the
    // process once it had used CPU (its first reading, at start, may come
    // before the first clock tick of CPU time).
    let cpu = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let body = fiveledger_e2e::eventually(
        "the process and the outboxes sampled",
        Duration::from_secs(15),
        || async {
            let body = scrape(addr).await;
            let sampled = body.contains("process_resident_memory_bytes ")
                && cpu(&body).is_some_and(|seconds| seconds > 0.0)
                && ["rounds", "issues", "ledgers"].iter().all(|service| {
                    body.contains(&format!(
                        "fiveledger_outbox_events{{service=\"{service}\"}}"
                    ))
                });
            sampled.then_some(body)
        },
    )
    .await;
    let value = |name: &str| metric(&body, name);
    assert!(value("process_resident_memory_bytes ") > 1e6);
    assert!(value("process_open_fds ") > 3.0);
    assert!(value("process_cpu_seconds_total ") > 0.0);
    let started = value("process_start_time_seconds ");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(started > now - 3600.0 && started <= now + 1.0, "{started}");
    let version = env!("CARGO_PKG_VERSION");
    for service in ["rounds", "issues", "ledgers"] {
        assert!(
            body.contains(&format!(
                "fiveledger_build_info{{service=\"{service}\",version=\"{version}\"}} 1"
            )),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "fiveledger_outbox_events{{service=\"{service}\"}}"
            )),
            "{body}"
        );
    }
    for pool in ["writer", "reader"] {
        for state in ["in_use", "idle", "max"] {
            let line = format!(
                "fiveledger_db_connections{{service=\"rounds\",pool=\"{pool}\",state=\"{state}\"}}"
            );
            assert!(body.contains(&line), "{line} in {body}");
        }
        assert!(
            value(&format!(
                "fiveledger_db_connections{{service=\"rounds\",pool=\"{pool}\",state=\"max\"}}"
            )) >= 1.0
        );
    }
    for name in fiveledger_platform::metric_help::described() {
        if body.contains(&format!("\n{name}")) {
            assert!(
                body.contains(&format!("# HELP {name} ")),
                "{name} has no help: {body}"
            );
        }
    }
    assert!(
        body.contains(
            "# HELP grpc_server_handled_total Total number of RPCs completed on the server"
        )
    );
    assert!(body.contains("# HELP process_resident_memory_bytes "));
    assert!(body.contains("# HELP fiveledger_build_info "));

    // Events waiting per consumer: every streamed event carries the
    // producer's head, and a consumer reports head - position.
    for (id, kind, parent) in [
        ("guangxi", OrganisationKind::Region, ""),
        ("nanning", OrganisationKind::City, "organisations/guangxi"),
        ("liuzhou", OrganisationKind::City, "organisations/guangxi"),
    ] {
        orgs.create_organisation(authed(
            &token,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: id.into(),
                    kind: kind as i32,
                    parent: parent.into(),
                    ..Default::default()
                }),
                organisation_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create");
    }
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", t.suite.rounds.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    let (first, head) = source
        .watch_with_head(fiveledger_platform::outbox::Position::START, &[])
        .await
        .expect("watch")
        .next()
        .await
        .expect("an event")
        .expect("ok");
    let first_at: fiveledger_platform::outbox::Position = first.cursor.parse().expect("cursor");
    assert_eq!(
        (first_at.id, head.id, first_at.behind(head)),
        (1, 3, 2),
        "the first of three events sees the head"
    );

    // The events wait before their consumer starts: a queue the source's
    // head cannot show (its read ends at them), which their delay shows.
    let written = std::time::Instant::now();
    let env = TestEnv::new("metrics");
    let db = consumer_db(&env).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = written.elapsed().as_secs_f64();
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        db.clone(),
        "copy".into(),
        source,
        vec![],
        CopyToOutbox,
        stop.clone(),
    ));
    for _ in 0..200 {
        if copied(&db).await == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(copied(&db).await, 3);
    let body = scrape_until(
        addr,
        "the delays recorded",
        "fiveledger_consumer_delay_seconds_count{consumer=\"copy\"} 3",
    )
    .await;
    assert!(
        body.contains("fiveledger_consumer_position{consumer=\"copy\"} 3"),
        "{body}"
    );
    assert!(
        body.contains("fiveledger_consumer_events_waiting{consumer=\"copy\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("fiveledger_consumer_stalled{consumer=\"copy\"} 0"),
        "{body}"
    );
    let lag = metric(&body, "fiveledger_consumer_lag_seconds{consumer=\"copy\"} ");
    assert!(
        lag >= waited && lag < 60.0,
        "lag {lag} s, waited {waited} s"
    );
    assert_eq!(
        metric(
            &body,
            "fiveledger_consumer_delay_seconds_bucket{consumer=\"copy\",le=\"0.25\"} "
        ),
        0.0,
        "every event waited at least {waited} s: {body}"
    );

    // A consumer that cannot apply its first event says so: stalled, and
    // each failure counted.
    let stuck_env = TestEnv::new("metrics_stuck");
    let stuck_db = consumer_db(&stuck_env).await;
    let stuck_stop = CancellationToken::new();
    let stuck = tokio::spawn(consumer::run(
        stuck_db,
        "stuck".into(),
        EventSource::Rounds(
            consumer::channel(&format!("http://{}", t.suite.rounds.addr)).expect("channel"),
            testing::observer_credentials(),
        ),
        vec![],
        Refuses,
        stuck_stop.clone(),
    ));
    let body = scrape_until(
        addr,
        "the stall reported",
        "fiveledger_consumer_stalled{consumer=\"stuck\"} 1",
    )
    .await;
    assert!(
        body.contains(
            "fiveledger_consumer_failures_total{consumer=\"stuck\",source=\"rounds\",kind=\"permanent\"}"
        ),
        "{body}"
    );
    stuck_stop.cancel();
    stuck.await.expect("stops");

    // The same figures went out over OTLP.
    provider.force_flush().expect("flush");
    let exported = exporter.get_finished_metrics().expect("exported");
    let mut handled_ok = 0;
    let mut waiting = None;
    for scope in exported.iter().flat_map(|r| r.scope_metrics()) {
        for metric in scope.metrics() {
            match (metric.name(), metric.data()) {
                ("grpc_server_handled_total", AggregatedMetrics::U64(MetricData::Sum(sum))) => {
                    for point in sum.data_points() {
                        let attrs: Vec<_> = point
                            .attributes()
                            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                            .collect();
                        if attrs.contains(&("grpc_method".into(), "ListOrganisations".into()))
                            && attrs.contains(&("grpc_code".into(), "OK".into()))
                        {
                            handled_ok = point.value();
                        }
                    }
                }
                (
                    "fiveledger_consumer_events_waiting",
                    AggregatedMetrics::F64(MetricData::Gauge(gauge)),
                ) => {
                    waiting = gauge.data_points().last().map(|p| p.value());
                }
                _ => {}
            }
        }
    }
    assert_eq!(handled_ok, 1, "OTLP: {exported:?}");
    assert_eq!(waiting, Some(0.0), "OTLP: {exported:?}");

    stop.cancel();
    task.await.expect("consumer stops");
    t.suite.stop().await.expect("stops");
}
