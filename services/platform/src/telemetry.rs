//! Logs, traces and metrics.
//!
//! - Logs: readable text locally, one JSON object per line in production,
//!   each line carrying the trace id of the RPC it belongs to.
//! - Traces: every RPC is a span; the W3C trace context is extracted from
//!   incoming calls, injected into outgoing ones (see `auth::ServiceCredentials`)
//!   and carried through events (`traceparent` on each outbox row; a consumer's
//!   span links to it). Spans are exported over OTLP when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and dropped otherwise.
//! - Metrics: see [`crate::metrics`].

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::settings::LogSettings;

/// Flushes exported spans when dropped (keep it alive in `main`).
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs logging and tracing for the process (once; later calls only
/// return a guard). Exports over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(settings: &LogSettings, service: &str) -> TelemetryGuard {
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => builder = builder.with_batch_exporter(exporter),
            Err(err) => eprintln!("OTLP export disabled: {err}"),
        }
    }
    init_with(settings, builder.build())
}

/// [`init`] with a chosen tracer provider (tests pass an in-memory exporter).
pub fn init_with(settings: &LogSettings, provider: SdkTracerProvider) -> TelemetryGuard {
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // The log filter decides what is printed, not which spans exist: our
    // spans carry the trace context into calls and events, so they are
    // created whatever the log level.
    let spans = Targets::new()
        .with_target("fiveledger_platform", Level::INFO)
        .with_target("fiveledger_rounds", Level::INFO)
        .with_target("fiveledger_issues", Level::INFO)
        .with_target("fiveledger_ledgers", Level::INFO);
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("fiveledger"))
        .with_filter(spans);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if settings.format == "json" {
        Box::new(json_layer(std::io::stderr).with_filter(filter))
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .compact()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

/// Production logs: one JSON object per line. `spans` lists every span the
/// line was logged in (outermost first), so the `trace_id` of the RPC or
/// event span is on each line logged while handling it, however deep.
fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_writer(writer)
}

/// Reads the trace context from HTTP/2 headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the trace context into gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The span of one incoming RPC, a child of the caller's trace when the call
/// carries a `traceparent`.
pub fn rpc_span(service: &'static str, request: &http::Request<()>) -> tracing::Span {
    let parent =
        global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
    let span = tracing::info_span!(
        "rpc",
        service,
        method = %request.uri().path(),
        otel.kind = "server",
        trace_id = tracing::field::Empty,
    );
    let _ = span.set_parent(parent);
    record_trace_id(&span);
    span
}

fn record_trace_id(span: &tracing::Span) {
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
}

/// Adds the current span's trace context to an outgoing call.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataInjector(metadata)));
}

/// The current span's W3C `traceparent`, recorded with events.
pub fn current_traceparent() -> String {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove("traceparent").unwrap_or_default()
}

/// The span in which a consumer applies an event: a new trace, linked to the
/// trace of the change that produced the event.
pub fn event_span(consumer: &str, event_type: &str, traceparent: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "apply_event",
        consumer,
        event = event_type,
        otel.kind = "consumer",
        trace_id = tracing::field::Empty,
    );
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let producer: Context = global::get_text_map_propagator(|p| p.extract(&carrier));
    let producer = producer.span().span_context().clone();
    if producer.is_valid() {
        span.add_link(producer);
    }
    record_trace_id(&span);
    span
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_logged_inside_an_rpc_carry_its_trace_id() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(move || writer.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let request = http::Request::builder()
                .uri("/fiveledger.rounds.v1.RoundService/GetRound")
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .body(())
                .expect("request");
            let rpc = rpc_span("rounds", &request);
            let _rpc = rpc.enter();
            tracing::info!("in the handler");
            let _inner = tracing::info_span!("storage").entered();
            tracing::warn!(rows = 3, "deeper down");
        });
        let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("UTF-8");
        let logged: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(logged.len(), 2, "{text}");
        for line in &logged {
            let spans = line["spans"].as_array().expect("spans");
            assert_eq!(
                spans[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
                "{line}"
            );
            assert!(line["level"].is_string() && line["timestamp"].is_string());
        }
        assert_eq!(logged[1]["message"], "deeper down");
        assert_eq!(logged[1]["rows"], 3);
    }
}
