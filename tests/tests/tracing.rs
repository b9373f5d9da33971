//! Spans as tracing tools read them (OpenTelemetry RPC conventions): each
//! call served is a server span named `package.Service/Method` with the
//! `rpc.*` attributes and its status code, in error only for the codes that
//! say the server failed; each call to another service is a client span
//! (in error on any code but OK) whose child is the callee's server span,
//! all in one trace; slow statements are `db` spans of the call.

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::LogSettings;
use fiveledger_platform::telemetry;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::CreateProblemRequest;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::rounds::ListOrganisationsRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status, TraceId};
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

/// The one span named `name` of `kind` in `trace` (any trace when `None`).
fn span<'a>(
    spans: &'a [SpanData],
    name: &str,
    kind: SpanKind,
    trace: Option<TraceId>,
) -> &'a SpanData {
    let found: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == kind)
        .filter(|s| trace.is_none_or(|t| s.span_context.trace_id() == t))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span {name}; spans: {:?}",
        spans
            .iter()
            .map(|s| (&s.name, &s.span_kind))
            .collect::<Vec<_>>()
    );
    found[0]
}

/// The spans finished so far, once `ready` holds of them: a server span
/// ends when its response body is done, which can be just after the
/// client has its answer.
async fn spans_when(
    provider: &SdkTracerProvider,
    exporter: &InMemorySpanExporter,
    ready: impl Fn(&[SpanData]) -> bool,
) -> Vec<SpanData> {
    fiveledger_e2e::eventually(
        "the spans of the calls",
        std::time::Duration::from_secs(10),
        || async {
            let _ = provider.force_flush();
            let spans = exporter.get_finished_spans().expect("spans");
            ready(&spans).then_some(spans)
        },
    )
    .await
}

fn has_server_span(spans: &[SpanData], name: &str) -> bool {
    spans
        .iter()
        .any(|s| s.name == name && s.span_kind == SpanKind::Server)
}

/// The RPC attributes every span of a call of `service`/`method` has.
fn assert_rpc(span: &SpanData, service: &str, method: &str, code: i32) {
    assert_eq!(attribute(span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attribute(span, "rpc.service").as_deref(), Some(service));
    assert_eq!(attribute(span, "rpc.method").as_deref(), Some(method));
    assert_eq!(
        attribute(span, "rpc.grpc.status_code"),
        Some(code.to_string()),
        "{span:?}"
    );
}

fn create_problem() -> tonic::Request<CreateProblemRequest> {
    authed(
        &testing::token("e2e", "", &[Role::Admin]),
        fiveledger_e2e::create_problem_in("rounds/r1/inspections/nowhere"),
    )
}

// One test: the tracer is installed once per process.
#[tokio::test]
async fn rpc_spans_follow_the_opentelemetry_conventions() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _telemetry = telemetry::init_with(
        &LogSettings {
            format: "text".into(),
            filter: "error".into(), // spans must not depend on the log level
            // Every statement is slow: each becomes a span.
            slow_statement_ms: 0,
        },
        provider.clone(),
    );
    let t = spawn_suite(Default::default()).await;

    // An OK call: a server span named after its method, status unset.
    OrganisationServiceClient::new(t.rounds.clone())
        .list_organisations(authed(
            &testing::token("e2e", "", &[Role::Admin]),
            ListOrganisationsRequest::default(),
        ))
        .await
        .expect("list");
    let spans = spans_when(&provider, &exporter, |s| {
        has_server_span(
            s,
            "fiveledger.rounds.v1.OrganisationService/ListOrganisations",
        )
    })
    .await;
    let listed = span(
        &spans,
        "fiveledger.rounds.v1.OrganisationService/ListOrganisations",
        SpanKind::Server,
        None,
    );
    assert_rpc(
        listed,
        "fiveledger.rounds.v1.OrganisationService",
        "ListOrganisations",
        0,
    );
    assert_eq!(listed.status, Status::Unset);
    // Its statements are database spans within it, their text without values.
    let statements: Vec<&SpanData> = spans
        .iter()
        .filter(|s| {
            s.parent_span_id == listed.span_context.span_id() && attribute(s, "db.system").is_some()
        })
        .collect();
    assert!(!statements.is_empty(), "no db span in {listed:?}");
    let system = match testing::backend() {
        "postgres" => "postgresql",
        other => other,
    };
    for statement in statements {
        assert_eq!(statement.span_kind, SpanKind::Client);
        assert_eq!(attribute(statement, "db.system").as_deref(), Some(system));
        assert!(
            attribute(statement, "db.query.text").is_some_and(|q| !q.is_empty()),
            "{statement:?}"
        );
    }

    // Issues asks rounds about the inspection, which does not exist: one
    // trace of the issues server span, its client span and rounds' server
    // span. NOT_FOUND fails the client's call, not either server.
    let err = ProblemServiceClient::new(t.issues.clone())
        .create_problem(create_problem())
        .await
        .expect_err("no such inspection");
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let spans = spans_when(&provider, &exporter, |s| {
        has_server_span(s, "fiveledger.rounds.v1.InspectionService/GetInspection")
    })
    .await;
    let issues = span(
        &spans,
        "fiveledger.issues.v1.ProblemService/CreateProblem",
        SpanKind::Server,
        None,
    );
    let trace = Some(issues.span_context.trace_id());
    let get = "fiveledger.rounds.v1.InspectionService/GetInspection";
    let client = span(&spans, get, SpanKind::Client, trace);
    let rounds = span(&spans, get, SpanKind::Server, trace);
    assert_rpc(
        issues,
        "fiveledger.issues.v1.ProblemService",
        "CreateProblem",
        5,
    );
    assert_rpc(
        client,
        "fiveledger.rounds.v1.InspectionService",
        "GetInspection",
        5,
    );
    assert_rpc(
        rounds,
        "fiveledger.rounds.v1.InspectionService",
        "GetInspection",
        5,
    );
    assert_eq!(client.parent_span_id, issues.span_context.span_id());
    assert_eq!(
        rounds.parent_span_id,
        client.span_context.span_id(),
        "rounds' span is a child of issues' client span"
    );
    assert_eq!(
        attribute(client, "server.address").as_deref(),
        Some("rounds")
    );
    assert_eq!(issues.status, Status::Unset, "NOT_FOUND is no server error");
    assert_eq!(rounds.status, Status::Unset, "NOT_FOUND is no server error");
    assert!(
        matches!(&client.status, Status::Error { .. }),
        "a client's call fails on any code but OK: {:?}",
        client.status
    );
    assert_eq!(attribute(issues, "service").as_deref(), Some("issues"));

    // Rounds stops: issues answers UNAVAILABLE, an error of its server.
    t.suite.rounds.stop_token().cancel();
    let err = fiveledger_e2e::eventually(
        "issues finds rounds unavailable",
        std::time::Duration::from_secs(10),
        || async {
            let err = ProblemServiceClient::new(t.issues.clone())
                .create_problem(create_problem())
                .await
                .expect_err("rounds is stopping");
            (err.code() == tonic::Code::Unavailable).then_some(err)
        },
    )
    .await;
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    let failed: Vec<&SpanData> = spans
        .iter()
        .filter(|s| {
            s.span_kind == SpanKind::Server
                && s.name == "fiveledger.issues.v1.ProblemService/CreateProblem"
                && attribute(s, "rpc.grpc.status_code").as_deref() == Some("14")
        })
        .collect();
    let failed = failed.last().expect("an UNAVAILABLE CreateProblem span");
    match &failed.status {
        Status::Error { description } => assert_eq!(description, err.message()),
        other => panic!("UNAVAILABLE is a server error: {other:?}"),
    }
    let client = span(
        &spans,
        get,
        SpanKind::Client,
        Some(failed.span_context.trace_id()),
    );
    assert!(matches!(&client.status, Status::Error { .. }), "{client:?}");
    t.suite.stop().await.expect("stops");
}
