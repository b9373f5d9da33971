//! Metrics: per RPC served and per call made to another service the
//! counters and latency histogram of go-grpc-prometheus (`grpc_server_*`,
//! `grpc_client_*`, labelled `grpc_service`, `grpc_method`, `grpc_type`,
//! `grpc_code`), the process's figures, the database pool and the gauges
//! the services set (consumers, outbox, ledger figures), each with its
//! `# HELP`. Recorded through the `metrics` facade and exported to
//! Prometheus, scraped from a separate port (`metrics_listen`), and over
//! OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (both at once when both
//! are configured).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::PrometheusBuilder;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;

/// Latency buckets of `grpc_server_handling_seconds` and
/// `grpc_client_handling_seconds`, in seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of an event's delay from its source to a consumer: from a
/// healthy pipeline's hundredths of a second to a backlog's minutes.
const DELAY_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
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
                metrics_exporter_prometheus::Matcher::Suffix("_handling_seconds".into()),
                &LATENCY_BUCKETS,
            )?
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(
                    "fiveledger_consumer_delay_seconds".into(),
                ),
                &DELAY_BUCKETS,
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
        crate::metric_help::describe();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async {
                let mut every = tokio::time::interval(crate::process_metrics::SAMPLE_EVERY);
                loop {
                    every.tick().await;
                    crate::process_metrics::record();
                }
            });
        }
    }
    Ok(MetricsGuard { provider })
}

/// `fiveledger_build_info{service, version}` at 1: which build a service
/// runs (`git_commit` too when `FIVELEDGER_GIT_COMMIT` was set at build time).
pub fn record_build_info(service: &'static str) {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("FIVELEDGER_GIT_COMMIT") {
        Some(commit) => metrics::gauge!("fiveledger_build_info", "service" => service, "version" => version, "git_commit" => commit).set(1.0),
        None => metrics::gauge!("fiveledger_build_info", "service" => service, "version" => version).set(1.0),
    }
}

/// The `metrics` facade recorded into OpenTelemetry instruments (no
/// maintained bridge supports opentelemetry 0.33). One handle per key, so a
/// gauge's increments add up however often `gauge!` is called.
struct OtelRecorder {
    meter: Meter,
    /// Each metric's HELP text, given to its instrument.
    descriptions: Mutex<HashMap<String, String>>,
    counters: Mutex<HashMap<Key, Arc<OtelCounter>>>,
    gauges: Mutex<HashMap<Key, Arc<OtelGauge>>>,
    histograms: Mutex<HashMap<Key, Arc<OtelHistogram>>>,
}

impl OtelRecorder {
    fn new(meter: Meter) -> Self {
        Self {
            meter,
            descriptions: Mutex::default(),
            counters: Mutex::default(),
            gauges: Mutex::default(),
            histograms: Mutex::default(),
        }
    }
}

impl OtelRecorder {
    fn describe(&self, name: KeyName, help: SharedString) {
        self.descriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.as_str().to_owned(), help.into_owned());
    }

    fn description(&self, key: &Key) -> String {
        self.descriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key.name())
            .cloned()
            .unwrap_or_default()
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
    // Units are not carried over: our names say them.
    fn describe_counter(&self, name: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(name, help);
    }
    fn describe_gauge(&self, name: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(name, help);
    }
    fn describe_histogram(&self, name: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(name, help);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(handle(&self.counters, key, || OtelCounter {
            counter: self
                .meter
                .u64_counter(key.name().to_owned())
                .with_description(self.description(key))
                .build(),
            attributes: attributes(key),
            total: AtomicU64::new(0),
        }))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(handle(&self.gauges, key, || OtelGauge {
            gauge: self
                .meter
                .f64_gauge(key.name().to_owned())
                .with_description(self.description(key))
                .build(),
            attributes: attributes(key),
            value: AtomicU64::new(0f64.to_bits()),
        }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(handle(&self.histograms, key, || {
            let mut builder = self
                .meter
                .f64_histogram(key.name().to_owned())
                .with_description(self.description(key));
            if key.name().ends_with("_handling_seconds") {
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
