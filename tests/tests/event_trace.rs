//! The trace of a change follows its events: the report in the rounds
//! service, the freeze it causes in the issues service and the postings it
//! causes in the ledger all carry the caller's W3C trace id (each consumer
//! starts its own span linked to the producer's, and records the producer's
//! `traceparent` with what it writes).

use fiveledger_e2e::{date, paths, spawn_suite, tokens};
use fiveledger_platform::settings::LogSettings;
use fiveledger_platform::telemetry;
use fiveledger_platform::testing::authed;
use fiveledger_proto::rounds::{self, RoundKind};
use fiveledger_proto::types::Severity;
use futures::StreamExt;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

const R9: &str = "rounds/r9";
const XN: &str = "rounds/r9/inspections/xn";

/// The W3C trace id of a `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or_default()
}

#[tokio::test]
async fn the_trace_of_a_report_reaches_the_postings_it_causes() {
    // Telemetry as the binary installs it (W3C propagator, a tracer). The
    // RPC spans are `info` spans: under a stricter log filter they do not
    // exist, and neither does the context events would record.
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _telemetry = telemetry::init_with(
        &LogSettings {
            format: "text".into(),
            filter: "info".into(),
            ..Default::default()
        },
        provider.clone(),
    );
    let t = spawn_suite(Default::default()).await;
    t.city().await;
    t.inspector("li", "li-leader", "nanning-xcban", vec![])
        .await;
    t.started_round(
        "r9",
        RoundKind::Regular,
        9,
        &[],
        (date(2026, 3, 1), date(2026, 6, 30)),
    )
    .await;
    let group = t.group(R9, "g1", "li", &[]).await.expect("group");
    t.inspection(R9, "xn", "xingning", "")
        .await
        .expect("inspection");
    t.assign(XN, &group.name).await.expect("assign");
    t.brief_and_station(XN, "li-leader", date(2026, 3, 10), date(2026, 5, 10))
        .await;
    t.problem(
        &tokens::office(),
        XN,
        "p1",
        "party-leadership",
        Severity::Major,
        "问题",
        "",
        "",
    )
    .await
    .expect("problem");
    assert_eq!(paths::XINGNING, "guangxi/nanning/xingning");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut inspections = t.inspections();
    inspections
        .report_inspection(authed(
            &tokens::group_member("li-leader"),
            rounds::ReportInspectionRequest {
                name: XN.into(),
                kind: rounds::InspectionReportKind::MidTerm as i32,
                report: Some(rounds::ReportRecord {
                    date: Some(date(2026, 4, 10)),
                    summary: "中期汇报".into(),
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("mid-term");
    let mut request = authed(
        &tokens::group_member("li-leader"),
        rounds::ReportInspectionRequest {
            name: XN.into(),
            kind: rounds::InspectionReportKind::Comprehensive as i32,
            report: Some(rounds::ReportRecord {
                date: Some(date(2026, 5, 20)),
                summary: "综合汇报".into(),
            }),
            request_id: String::new(),
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-00f067aa0ba902b7-01")
            .parse()
            .expect("ascii"),
    );
    inspections
        .report_inspection(request)
        .await
        .expect("comprehensive");
    let entries = t
        .wait_for_entries(&format!("inspection = \"{XN}\""), 1)
        .await;
    let service =
        fiveledger_platform::testing::token("e2e", "", &[fiveledger_platform::auth::Role::Admin]);
    let mut stream =
        fiveledger_proto::rounds::event_service_client::EventServiceClient::new(t.rounds.clone())
            .watch_events(authed(
                &service,
                rounds::WatchEventsRequest {
                    after_cursor: String::new(),
                    types: vec![],
                },
            ))
            .await
            .expect("watch rounds")
            .into_inner();
    let mut reported = String::new();
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await
    {
        let e = e.event.expect("event");
        if e.r#type.ends_with("InspectionReported") {
            reported = e.traceparent.clone();
        }
    }
    let mut stream =
        fiveledger_proto::issues::event_service_client::EventServiceClient::new(t.issues.clone())
            .watch_events(authed(
                &service,
                fiveledger_proto::issues::WatchEventsRequest {
                    after_cursor: String::new(),
                    types: vec![],
                },
            ))
            .await
            .expect("watch issues")
            .into_inner();
    let mut frozen = String::new();
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await
    {
        let e = e.event.expect("event");
        if e.r#type.ends_with("ProblemListFrozen") {
            frozen = e.traceparent.clone();
        }
    }
    assert_eq!(
        trace_id(&reported),
        trace,
        "InspectionReported: {reported:?}"
    );
    assert_eq!(trace_id(&frozen), trace, "ProblemListFrozen: {frozen:?}");
    let opened = t.entry(&entries[0].name).await;
    // rounds (InspectionReported) → issues (ProblemListFrozen) → ledgers (Open).
    assert_eq!(
        trace_id(&opened.postings[0].traceparent),
        trace,
        "{:?}",
        opened.postings[0]
    );

    // Each consumer applies an event in a span of its own trace, linked to
    // the trace of the change that produced it.
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    for (consumer_event, consumer) in [
        ("InspectionReported", "issues"),
        ("ProblemListFrozen", "ledgers"),
    ] {
        let applied: Vec<_> = spans
            .iter()
            .filter(|s| {
                s.name == "apply_event"
                    && s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "event" && kv.value.as_str().ends_with(consumer_event)
                    })
            })
            .collect();
        assert!(
            !applied.is_empty(),
            "{consumer} applied no {consumer_event}"
        );
        for span in applied {
            assert_ne!(
                span.span_context.trace_id().to_string(),
                trace,
                "{consumer}: a span of its own trace"
            );
            assert!(
                span.links
                    .iter()
                    .any(|link| link.span_context.trace_id().to_string() == trace),
                "{consumer}'s span for {consumer_event} is not linked to the producer's trace: {:?}",
                span.links
            );
        }
    }
    t.suite.stop().await.expect("stops");
}
