//! Logs, traces and metrics.
//!
//! - Logs: readable text locally, one JSON object per line in production,
//!   each line carrying at its top level the `trace_id` and `span_id` of
//!   the span it was logged in.
//! - Traces: every RPC served and every call made to another service is a
//!   span named and described by the OpenTelemetry RPC conventions
//!   (`package.Service/Method`, `rpc.*` attributes, error status), and so
//!   is every statement slower than `log.slow_statement_ms`; the W3C trace
//!   context is extracted from incoming calls, injected into outgoing ones
//!   (see `auth::ServiceCredentials`) and carried through events
//!   (`traceparent` on each outbox row; a consumer's span links to it).
//!   Spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//!   and dropped otherwise.
//! - Metrics: see [`crate::metrics`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
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
    init_with_writer(settings, provider, std::io::stderr)
}

/// [`init_with`], the log lines written to `writer` (tests read them).
pub fn init_with_writer<W>(
    settings: &LogSettings,
    provider: SdkTracerProvider,
    writer: W,
) -> TelemetryGuard
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    SLOW_STATEMENT_MS.store(settings.slow_statement_ms, Ordering::Relaxed);
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
        Box::new(json_layer(writer).with_filter(filter))
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .compact()
                .with_writer(writer)
                .with_filter(filter),
        )
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

/// Production logs: one JSON object per line, starting with the `trace_id`
/// and `span_id` of the span it was logged in (when it was logged in one),
/// so log tools join it to its trace. `spans` lists every span the line was
/// logged in (outermost first), with their fields.
fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let json = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true);
    let dispatch = DispatchSlot::default();
    tracing_subscriber::fmt::layer()
        .json()
        .event_format(TraceIds {
            format: json,
            dispatch: dispatch.clone(),
        })
        .with_writer(writer)
        .and_then(dispatch)
}

/// The subscriber the logs are written by, learnt when it is built: the
/// spans' trace context is read through it (while an event is being
/// handled the current one reads as none).
#[derive(Clone, Default)]
struct DispatchSlot(Arc<OnceLock<tracing::dispatcher::WeakDispatch>>);

impl<S: tracing::Subscriber> Layer<S> for DispatchSlot {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.0.set(subscriber.downgrade());
    }
}

/// A JSON event format with the trace and span ids put first.
struct TraceIds<F> {
    format: F,
    dispatch: DispatchSlot,
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.format
            .format_event(ctx, Writer::new(&mut line), event)?;
        // The innermost span that is traced (spans filtered out of the
        // export have no context).
        let dispatch = self.dispatch.0.get().and_then(|weak| weak.upgrade());
        let ids = dispatch.and_then(|dispatch| {
            ctx.event_scope()?.find_map(|span| {
                let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
                let span = cx.span();
                let ids = span.span_context();
                ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
            })
        });
        match (ids, line.strip_prefix('{')) {
            (Some((trace_id, span_id)), Some(rest)) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            _ => writer.write_str(&line),
        }
    }
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

/// The span of one incoming RPC (`service` is this service's short name,
/// `rounds`), a child of the caller's trace when the call carries a
/// `traceparent`.
pub fn server_span(
    service: &'static str,
    grpc_service: &str,
    grpc_method: &str,
    headers: &http::HeaderMap,
) -> tracing::Span {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    let span = rpc_span("server", grpc_service, grpc_method);
    span.record("service", service);
    let _ = span.set_parent(parent);
    record_trace_id(&span);
    span
}

/// The span of one call to another service (`peer`, its short name).
pub fn client_span(peer: &'static str, grpc_service: &str, grpc_method: &str) -> tracing::Span {
    let span = rpc_span("client", grpc_service, grpc_method);
    span.record("server.address", peer);
    span
}

/// A span of a gRPC call of `kind` (`server`, `client`), named
/// `package.Service/Method` with the `rpc.*` attributes of the
/// OpenTelemetry conventions; [`end_rpc_span`] adds the status.
fn rpc_span(kind: &'static str, grpc_service: &str, grpc_method: &str) -> tracing::Span {
    tracing::info_span!(
        "rpc",
        otel.name = %format_args!("{grpc_service}/{grpc_method}"),
        otel.kind = kind,
        rpc.system = "grpc",
        rpc.service = grpc_service,
        rpc.method = grpc_method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        server.address = tracing::field::Empty,
        service = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    )
}

/// Records a call's status on its span: `rpc.grpc.status_code`, and the
/// error status with the message when the call `failed`.
pub fn end_rpc_span(span: &tracing::Span, code: tonic::Code, message: &str, failed: bool) {
    span.record("rpc.grpc.status_code", code as i64);
    if failed {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", message);
    }
}

/// Statements slower than this many milliseconds become spans and log
/// lines (`log.slow_statement_ms`).
static SLOW_STATEMENT_MS: AtomicU64 = AtomicU64::new(100);

/// Whether a statement that took `elapsed` is a slow one.
pub fn is_slow(elapsed: Duration) -> bool {
    elapsed.as_millis() >= u128::from(SLOW_STATEMENT_MS.load(Ordering::Relaxed))
}

/// A slow statement that has just finished: a `db` span (a child of the
/// current one, timed as the statement ran) with `db.system` and
/// `db.query.text` (the statement with its placeholders, never the
/// values), a warning log line and a count.
pub fn slow_statement(system: &'static str, text: &str, elapsed: Duration, failed: bool) {
    metrics::counter!("fiveledger_db_slow_statements_total", "db_system" => system).increment(1);
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    tracing::warn!(
        db.system = system,
        db.query.text = text,
        duration_ms,
        failed,
        "slow statement"
    );
    let end = SystemTime::now();
    let parent = tracing::Span::current().context();
    let operation = text
        .split_whitespace()
        .next()
        .unwrap_or(system)
        .to_uppercase();
    let tracer = global::tracer("fiveledger");
    let mut span = tracer
        .span_builder(operation)
        .with_kind(SpanKind::Client)
        .with_start_time(end.checked_sub(elapsed).unwrap_or(end))
        .with_attributes([
            KeyValue::new("db.system", system),
            KeyValue::new("db.query.text", text.to_owned()),
        ])
        .start_with_context(&tracer, &parent);
    if failed {
        span.set_status(opentelemetry::trace::Status::error("the statement failed"));
    }
    span.end_with_timestamp(end);
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

/// Log lines kept in memory (tests pass it to [`init_with_writer`]).
#[cfg(any(test, feature = "testing"))]
#[derive(Clone, Default)]
pub struct LogLines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(any(test, feature = "testing"))]
impl LogLines {
    /// Every line written so far, each parsed as one JSON object.
    pub fn json(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }
}

#[cfg(any(test, feature = "testing"))]
impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for LogLines {
    type Writer = LogLines;
    fn make_writer(&'w self) -> LogLines {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_logged_inside_an_rpc_carry_its_trace_and_span_ids() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let lines = LogLines::default();
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(lines.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            let request = http::Request::builder()
                .uri("/fiveledger.rounds.v1.RoundService/GetRound")
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .body(())
                .expect("request");
            let rpc = server_span(
                "rounds",
                "fiveledger.rounds.v1.RoundService",
                "GetRound",
                request.headers(),
            );
            let _rpc = rpc.enter();
            tracing::info!("in the handler");
            let _inner = tracing::info_span!("storage").entered();
            tracing::warn!(rows = 3, "deeper down");
        });
        let mut logged = lines.json();
        let text = format!("{logged:?}");
        assert_eq!(logged.len(), 3, "{text}");
        let outside = logged.remove(0);
        assert!(outside.get("trace_id").is_none(), "{outside}");
        for line in &logged {
            let spans = line["spans"].as_array().expect("spans");
            assert_eq!(
                spans[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
                "{line}"
            );
            assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
            assert!(line["level"].is_string() && line["timestamp"].is_string());
        }
        // Each line names the innermost span it was logged in.
        assert_ne!(logged[0]["span_id"], logged[1]["span_id"], "{text}");
        assert_ne!(
            logged[0]["span_id"], "00f067aa0ba902b7",
            "the caller's span is the parent"
        );
        assert_eq!(logged[1]["message"], "deeper down");
        assert_eq!(logged[1]["rows"], 3);
    }
}
