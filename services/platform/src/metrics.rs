//! Metrics, scraped by Prometheus from a separate port (`metrics_listen`):
//! per RPC a request counter by status code and a latency histogram, plus
//! gauges the services set (consumer positions, ledger figures).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use metrics_exporter_prometheus::PrometheusBuilder;

/// Starts the scrape endpoint (`GET /metrics`) for the whole process.
pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("grpc_server_handling_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )?
        .install()?;
    Ok(())
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
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self.metrics.label(request.uri().path());
        let service = self.metrics.service;
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let start = Instant::now();
        Box::pin(async move {
            let response = inner.call(request).await?;
            // Errors come back trailers-only, with the status in the headers;
            // a successful call sends it in trailers, after the body.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map(|c| format!("{:?}", tonic::Code::from(c)))
                .unwrap_or_else(|| "Ok".to_owned());
            metrics::counter!("grpc_server_handled_total", "service" => service, "method" => method.clone(), "code" => code)
                .increment(1);
            metrics::histogram!("grpc_server_handling_seconds", "service" => service, "method" => method)
                .record(start.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}
