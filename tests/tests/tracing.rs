//! One call that crosses services is one trace: the W3C trace context is
//! injected by the caller and extracted by the callee.

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::LogSettings;
use fiveledger_platform::telemetry;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::issues::{CreateProblemRequest, Problem, Responsibilities};
use fiveledger_proto::types::Severity;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

fn rpc<'a>(spans: &'a [SpanData], service: &str, method: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| {
            attribute(s, "service").as_deref() == Some(service)
                && attribute(s, "method").is_some_and(|m| m.ends_with(method))
        })
        .unwrap_or_else(|| {
            let seen: Vec<_> = spans
                .iter()
                .map(|s| (attribute(s, "service"), attribute(s, "method")))
                .collect();
            panic!("no {service} span for {method}; spans: {seen:?}")
        })
}

#[tokio::test]
async fn a_call_from_issues_to_rounds_shares_one_trace_id() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _telemetry = telemetry::init_with(
        &LogSettings {
            format: "text".into(),
            filter: "warn".into(), // spans must not depend on the log level
        },
        provider.clone(),
    );
    let t = spawn_suite(Default::default()).await;

    // Issues asks rounds about the inspection (which does not exist).
    let err = ProblemServiceClient::new(t.issues.clone())
        .create_problem(authed(
            &testing::token("e2e", "", &[Role::Admin]),
            CreateProblemRequest {
                problem: Some(Problem {
                    inspection: "rounds/r1/inspections/nowhere".into(),
                    category: "party-leadership".into(),
                    severity: Severity::Major as i32,
                    title: "Decisions taken without collective discussion".into(),
                    responsibilities: Some(Responsibilities {
                        principal: "Principal".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("no such inspection");

    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    let issues = rpc(&spans, "issues", "/CreateProblem");
    let rounds = rpc(&spans, "rounds", "/GetInspection");
    assert_eq!(
        issues.span_context.trace_id(),
        rounds.span_context.trace_id()
    );
    assert_eq!(
        rounds.parent_span_id,
        issues.span_context.span_id(),
        "rounds' span is a child of issues'"
    );
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    t.suite.stop().await.expect("stops");
}
