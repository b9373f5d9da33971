//! Every call a service makes of another: its client span (OpenTelemetry
//! RPC conventions; the callee's server span is its child, since the trace
//! context is injected while it is current) and the go-grpc-prometheus
//! client metrics (`grpc_client_started_total`, `grpc_client_handled_total`,
//! `grpc_client_handling_seconds`).

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

use crate::auth::ServiceCredentials;
use crate::grpc_names;
use crate::status_body::{self, CallEnd, StatusBody};

/// A channel to another service that adds this one's credentials to every
/// call, and traces and measures it.
pub type Authed = Traced<InterceptedService<Channel, ServiceCredentials>>;

/// Calls `peer` (the other service's short name, e.g. `rounds`: the host
/// of its address in the manifests) over `channel` with `credentials`.
pub fn authed(channel: Channel, credentials: ServiceCredentials, peer: &'static str) -> Authed {
    Traced {
        inner: InterceptedService::new(channel, credentials),
        peer,
    }
}

#[derive(Clone)]
pub struct Traced<S> {
    inner: S,
    peer: &'static str,
}

impl<S, B, R> tower::Service<http::Request<B>> for Traced<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
    B: Send + 'static,
    R: http_body::Body + Unpin,
{
    type Response = http::Response<StatusBody<R, Call>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let (service, method) = grpc_names::split(path).unwrap_or(("unknown", "unknown"));
        let (service, method) = (service.to_owned(), method.to_owned());
        let kind = grpc_names::kind(path);
        let span = crate::telemetry::client_span(self.peer, &service, &method);
        metrics::counter!("grpc_client_started_total", "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_type" => kind)
            .increment(1);
        let call = Call {
            service,
            method,
            kind,
            span: span.clone(),
            start: Instant::now(),
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // The credentials' interceptor runs in `call`: it injects the trace
        // context of the span current then, this one.
        let future = span.in_scope(|| inner.call(request));
        Box::pin(
            async move {
                let response = match future.await {
                    Ok(response) => response,
                    Err(err) => {
                        call.end(Code::Unavailable, &err.to_string());
                        return Err(err);
                    }
                };
                Ok(status_body::watch(response, call))
            }
            .instrument(span),
        )
    }
}

/// One call being made.
pub struct Call {
    service: String,
    method: String,
    kind: &'static str,
    span: tracing::Span,
    start: Instant,
}

impl CallEnd for Call {
    fn end(self, code: Code, message: &str) {
        metrics::counter!("grpc_client_handled_total", "grpc_service" => self.service.clone(), "grpc_method" => self.method.clone(), "grpc_type" => self.kind, "grpc_code" => grpc_names::code_name(code))
            .increment(1);
        metrics::histogram!("grpc_client_handling_seconds", "grpc_service" => self.service, "grpc_method" => self.method, "grpc_type" => self.kind)
            .record(self.start.elapsed().as_secs_f64());
        // For the caller every answer but OK is a failed call.
        crate::telemetry::end_rpc_span(&self.span, code, message, code != Code::Ok);
    }
}
