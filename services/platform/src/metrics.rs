//! Metrics: per RPC a request counter by status code and a latency
//! histogram, plus gauges the services set (consumer positions, ledger
//! figures). Recorded through the `metrics` facade and exported to
//! Prometheus, scraped from a separate port (`metrics_listen`), and over
//! OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (both at once when both
//! are configured).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::PrometheusBuilder;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;

/// Latency buckets of `grpc_server_handling_seconds`, in seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Keeps the OTLP metrics pipeline alive; flushes it when dropped.
#[derive(Default)]
pub struct MetricsGuard {
    provider: Option<SdkMeterProvider>,
}

impl Drop for MetricsGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the process's metrics exporters: the Prometheus scrape endpoint
/// (`GET /metrics`) on `listen` when set, OTLP when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without either, nothing is kept.
pub fn install(listen: Option<SocketAddr>, service: &str) -> anyhow::Result<MetricsGuard> {
    let provider = if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()?;
        Some(
            SdkMeterProvider::builder()
                .with_periodic_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service.to_owned())
                        .build(),
                )
                .build(),
        )
    } else {
        None
    };
    install_with(listen, provider)
}

/// [`install`] with a chosen meter provider (tests pass an in-memory one).
pub fn install_with(
    listen: Option<SocketAddr>,
    provider: Option<SdkMeterProvider>,
) -> anyhow::Result<MetricsGuard> {
    let mut fanout = metrics_util::layers::FanoutBuilder::default();
    let mut any = false;
    if let Some(listen) = listen {
        let (recorder, exporter) = PrometheusBuilder::new()
            .with_http_listener(listen)
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("grpc_server_handling_seconds".into()),
                &LATENCY_BUCKETS,
            )?
            .build()?;
        tokio::spawn(async move {
            if let Err(err) = exporter.await {
                tracing::error!(error = ?err, "the metrics endpoint stopped");
            }
        });
        fanout = fanout.add_recorder(recorder);
        any = true;
    }
    if let Some(provider) = &provider {
        fanout = fanout.add_recorder(OtelRecorder::new(provider.meter("fiveledger")));
        any = true;
    }
    if any {
        metrics::set_global_recorder(fanout.build())
            .map_err(|e| anyhow::anyhow!("metrics already installed: {e}"))?;
    }
    Ok(MetricsGuard { provider })
}

/// The `metrics` facade recorded into OpenTelemetry instruments (no
/// maintained bridge supports opentelemetry 0.33). One handle per key, so a
/// gauge's increments add up however often `gauge!` is called.
struct OtelRecorder {
    meter: Meter,
    counters: Mutex<HashMap<Key, Arc<OtelCounter>>>,
    gauges: Mutex<HashMap<Key, Arc<OtelGauge>>>,
    histograms: Mutex<HashMap<Key, Arc<OtelHistogram>>>,
}

impl OtelRecorder {
    fn new(meter: Meter) -> Self {
        Self {
            meter,
            counters: Mutex::default(),
            gauges: Mutex::default(),
            histograms: Mutex::default(),
        }
    }
}

fn attributes(key: &Key) -> Vec<KeyValue> {
    key.labels()
        .map(|l| KeyValue::new(l.key().to_owned(), l.value().to_owned()))
        .collect()
}

fn handle<T>(map: &Mutex<HashMap<Key, Arc<T>>>, key: &Key, make: impl FnOnce() -> T) -> Arc<T> {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key.clone())
        .or_insert_with(|| Arc::new(make()))
        .clone()
}

struct OtelCounter {
    counter: opentelemetry::metrics::Counter<u64>,
    attributes: Vec<KeyValue>,
    total: AtomicU64,
}

impl CounterFn for OtelCounter {
    fn increment(&self, value: u64) {
        self.total.fetch_add(value, Ordering::Relaxed);
        self.counter.add(value, &self.attributes);
    }
    fn absolute(&self, value: u64) {
        let before = self.total.fetch_max(value, Ordering::Relaxed);
        if value > before {
            self.counter.add(value - before, &self.attributes);
        }
    }
}

struct OtelGauge {
    gauge: opentelemetry::metrics::Gauge<f64>,
    attributes: Vec<KeyValue>,
    /// The current value's bits (increments need it).
    value: AtomicU64,
}

impl OtelGauge {
    fn update(&self, change: impl Fn(f64) -> f64) {
        let mut current = self.value.load(Ordering::Relaxed);
        loop {
            let next = change(f64::from_bits(current));
            match self.value.compare_exchange_weak(
                current,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return self.gauge.record(next, &self.attributes),
                Err(actual) => current = actual,
            }
        }
    }
}

impl GaugeFn for OtelGauge {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }
    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }
    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

struct OtelHistogram {
    histogram: opentelemetry::metrics::Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl HistogramFn for OtelHistogram {
    fn record(&self, value: f64) {
        self.histogram.record(value, &self.attributes);
    }
}

impl Recorder for OtelRecorder {
    // Descriptions and units are not carried over: our names say both.
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(handle(&self.counters, key, || OtelCounter {
            counter: self.meter.u64_counter(key.name().to_owned()).build(),
            attributes: attributes(key),
            total: AtomicU64::new(0),
        }))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(handle(&self.gauges, key, || OtelGauge {
            gauge: self.meter.f64_gauge(key.name().to_owned()).build(),
            attributes: attributes(key),
            value: AtomicU64::new(0f64.to_bits()),
        }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(handle(&self.histograms, key, || {
            let mut builder = self.meter.f64_histogram(key.name().to_owned());
            if key.name() == "grpc_server_handling_seconds" {
                builder = builder
                    .with_unit("s")
                    .with_boundaries(LATENCY_BUCKETS.to_vec());
            }
            OtelHistogram {
                histogram: builder.build(),
                attributes: attributes(key),
            }
        }))
    }
}

/// Counts and times every RPC of a service. Methods are labelled by path
/// only when the service has them (its role table, health, reflection), so a
/// client sending made-up paths cannot grow the label set.
#[derive(Clone)]
pub struct RpcMetrics {
    service: &'static str,
    known: Arc<HashSet<&'static str>>,
}

impl RpcMetrics {
    pub fn new(service: &'static str, roles: crate::auth::RoleTable) -> Self {
        Self {
            service,
            known: Arc::new(roles.iter().map(|(path, _)| *path).collect()),
        }
    }

    fn label(&self, path: &str) -> String {
        let public =
            path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.");
        if public || self.known.contains(path) {
            path.to_owned()
        } else {
            "unknown".to_owned()
        }
    }
}

impl<S> tower::Layer<S> for RpcMetrics {
    type Service = Measured<S>;
    fn layer(&self, inner: S) -> Measured<S> {
        Measured {
            metrics: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Measured<S> {
    metrics: RpcMetrics,
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Measured<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: http_body::Body + Unpin,
{
    type Response = http::Response<MeasuredBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = Call {
            service: self.metrics.service,
            method: self.metrics.label(request.uri().path()),
            start: Instant::now(),
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            // A refusal comes back trailers-only, its status in the headers:
            // counted now. Otherwise the status follows the body, in the
            // trailers (a stream may still fail): counted when they pass.
            let call = match status_of(response.headers()) {
                Some(code) => {
                    call.record(&code);
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|inner| MeasuredBody { inner, call }))
        })
    }
}

/// One call being measured.
struct Call {
    service: &'static str,
    method: String,
    start: Instant,
}

impl Call {
    fn record(self, code: &str) {
        metrics::counter!("grpc_server_handled_total", "service" => self.service, "method" => self.method.clone(), "code" => code.to_owned())
            .increment(1);
        metrics::histogram!("grpc_server_handling_seconds", "service" => self.service, "method" => self.method)
            .record(self.start.elapsed().as_secs_f64());
    }
}

/// The `grpc-status` of headers or trailers, as a code name (`NotFound`).
fn status_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(|c| format!("{:?}", tonic::Code::from(c)))
}

/// A response body that counts its call when the trailers pass (or, if the
/// client goes away first, as `Cancelled`).
pub struct MeasuredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B: http_body::Body + Unpin> http_body::Body for MeasuredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|t| status_of(t).unwrap_or_else(|| "Unknown".to_owned())),
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => Some("Unknown".to_owned()),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(call) = self.call.take()
        {
            call.record(&code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeasuredBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.record("Cancelled");
        }
    }
}
