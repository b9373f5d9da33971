//! Every call a service makes of another: its client span (OpenTelemetry
//! RPC conventions; the callee's server span is its child, since the trace
//! context is injected while it is current) and the go-grpc-prometheus
//! client metrics (`grpc_client_started_total`, `grpc_client_handled_total`,
//! `grpc_client_handling_seconds`).

use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::auth::ServiceCredentials;
use crate::grpc_names;
use crate::rpc_call::{RpcCall, Side};
use crate::status_body::{CallEnd, CallStart, Watched};

/// A channel to another service that adds this one's credentials to every
/// call, and traces and measures it.
pub type Authed = Watched<InterceptedService<Channel, ServiceCredentials>, Calling>;

/// Calls `peer` (the other service's short name, e.g. `rounds`: the host
/// of its address in the manifests) over `channel` with `credentials`.
pub fn authed(channel: Channel, credentials: ServiceCredentials, peer: &'static str) -> Authed {
    // The credentials' interceptor runs when the call starts, in its span:
    // it injects this span's trace context.
    Watched::new(
        InterceptedService::new(channel, credentials),
        Calling { peer },
    )
}

/// Starts each call to `peer` (its short name).
#[derive(Clone)]
pub struct Calling {
    peer: &'static str,
}

impl CallStart for Calling {
    type Call = Call;

    fn start<B>(&self, request: &mut http::Request<B>) -> (Call, tracing::Span) {
        let path = request.uri().path();
        let (service, method) = grpc_names::split(path).unwrap_or(("unknown", "unknown"));
        let span = crate::telemetry::client_span(self.peer, service, method);
        let call = RpcCall::start(
            Side::Client,
            path,
            service.to_owned(),
            method.to_owned(),
            span.clone(),
        );
        (Call(call), span)
    }
}

/// One call being made.
pub struct Call(RpcCall);

impl CallEnd for Call {
    fn end(self, code: Code, message: &str) {
        self.0.end(code, message);
    }
}
