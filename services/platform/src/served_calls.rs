//! Every call a service serves: its server span (OpenTelemetry RPC
//! conventions, a child of the caller's trace), the go-grpc-prometheus
//! metrics (`grpc_server_started_total`, `grpc_server_handled_total`,
//! `grpc_server_handling_seconds`) and one request log line when it ends.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tonic::Code;
use tracing::Instrument;

use crate::grpc_names;
use crate::status_body::{self, CallEnd, StatusBody};

/// Measures and traces every RPC of a service. Methods are named by path
/// only when the service has them (its role table, health, reflection), so
/// a client sending made-up paths cannot grow the label set.
#[derive(Clone)]
pub struct ServedCalls {
    service: &'static str,
    known: Arc<HashSet<&'static str>>,
}

impl ServedCalls {
    pub fn new(service: &'static str, roles: crate::auth::RoleTable) -> Self {
        Self {
            service,
            known: Arc::new(roles.iter().map(|(path, _)| *path).collect()),
        }
    }

    /// The gRPC service and method of `path`, or `unknown` for both.
    fn names(&self, path: &str) -> (String, String) {
        let public =
            path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.");
        match grpc_names::split(path) {
            Some((service, method)) if public || self.known.contains(path) => {
                (service.to_owned(), method.to_owned())
            }
            _ => ("unknown".to_owned(), "unknown".to_owned()),
        }
    }
}

impl<S> tower::Layer<S> for ServedCalls {
    type Service = Served<S>;
    fn layer(&self, inner: S) -> Served<S> {
        Served {
            calls: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Served<S> {
    calls: ServedCalls,
    inner: S,
}

/// Who made the call, filled in by the gate once it knows (read by the
/// request log line).
#[derive(Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<String>>);

impl CallerSlot {
    pub fn set(&self, subject: &str) {
        let _ = self.0.set(subject.to_owned());
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for Served<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: http_body::Body + Unpin,
{
    type Response = http::Response<StatusBody<R, Call>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let (service, method) = self.calls.names(path);
        let kind = grpc_names::kind(path);
        let span =
            crate::telemetry::server_span(self.calls.service, &service, &method, request.headers());
        metrics::counter!("grpc_server_started_total", "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_type" => kind)
            .increment(1);
        let caller = CallerSlot::default();
        request.extensions_mut().insert(caller.clone());
        let call = Call {
            service,
            method,
            kind,
            caller,
            span: span.clone(),
            start: Instant::now(),
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(
            async move {
                let response = inner.call(request).await?;
                Ok(status_body::watch(response, call))
            }
            .instrument(span),
        )
    }
}

/// One call being served.
pub struct Call {
    service: String,
    method: String,
    kind: &'static str,
    caller: CallerSlot,
    /// Kept open until the call ends (a stream's last trailer).
    span: tracing::Span,
    start: Instant,
}

impl CallEnd for Call {
    fn end(self, code: Code, message: &str) {
        let elapsed = self.start.elapsed();
        let code_name = grpc_names::code_name(code);
        metrics::counter!("grpc_server_handled_total", "grpc_service" => self.service.clone(), "grpc_method" => self.method.clone(), "grpc_type" => self.kind, "grpc_code" => code_name)
            .increment(1);
        metrics::histogram!("grpc_server_handling_seconds", "grpc_service" => self.service.clone(), "grpc_method" => self.method.clone(), "grpc_type" => self.kind)
            .record(elapsed.as_secs_f64());
        crate::telemetry::end_rpc_span(&self.span, code, message, grpc_names::server_error(code));
        let caller = self.caller.0.get().map(String::as_str).unwrap_or("");
        let method = format!("{}/{}", self.service, self.method);
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let _in_call = self.span.enter();
        // Probes ask health every few seconds: their lines are for debugging.
        if self.service == "grpc.health.v1.Health" {
            tracing::debug!(%method, code = code_name, duration_ms, caller, "request");
        } else {
            tracing::info!(%method, code = code_name, duration_ms, caller, "request");
        }
    }
}
