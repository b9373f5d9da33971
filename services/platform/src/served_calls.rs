//! Every call a service serves: its server span (OpenTelemetry RPC
//! conventions, a child of the caller's trace), the go-grpc-prometheus
//! metrics (`grpc_server_started_total`, `grpc_server_handled_total`,
//! `grpc_server_handling_seconds`) and one request log line when it ends.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use tonic::Code;

use crate::grpc_names;
use crate::rpc_call::{RpcCall, Side};
use crate::status_body::{CallEnd, CallStart, Watched};

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
    type Service = Watched<S, ServedCalls>;
    fn layer(&self, inner: S) -> Self::Service {
        Watched::new(inner, self.clone())
    }
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

impl CallStart for ServedCalls {
    type Call = Call;

    fn start<B>(&self, request: &mut http::Request<B>) -> (Call, tracing::Span) {
        let path = request.uri().path();
        let (service, method) = self.names(path);
        let span =
            crate::telemetry::server_span(self.service, &service, &method, request.headers());
        let rpc = RpcCall::start(Side::Server, path, service, method, span.clone());
        let caller = CallerSlot::default();
        request.extensions_mut().insert(caller.clone());
        (Call { rpc, caller }, span)
    }
}

/// One call being served.
pub struct Call {
    rpc: RpcCall,
    caller: CallerSlot,
}

impl CallEnd for Call {
    fn end(self, code: Code, message: &str) {
        let elapsed = self.rpc.end(code, message);
        let caller = self.caller.0.get().map(String::as_str).unwrap_or("");
        let method = format!("{}/{}", self.rpc.service, self.rpc.method);
        let code = grpc_names::code_name(code);
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let _in_call = self.rpc.span.enter();
        // Probes ask health every few seconds: their lines are for debugging.
        if self.rpc.service == "grpc.health.v1.Health" {
            tracing::debug!(%method, code, duration_ms, caller, "request");
        } else {
            tracing::info!(%method, code, duration_ms, caller, "request");
        }
    }
}
