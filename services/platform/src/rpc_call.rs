//! One gRPC call, served or made, measured as go-grpc-prometheus measures
//! it (`grpc_{server,client}_started_total`, `…_handled_total`,
//! `…_handling_seconds`) and its span ended with its status.

use std::time::{Duration, Instant};

use tonic::Code;

use crate::grpc_names;

/// Which end of the call this process is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

impl Side {
    fn names(self) -> [&'static str; 3] {
        match self {
            Side::Server => [
                "grpc_server_started_total",
                "grpc_server_handled_total",
                "grpc_server_handling_seconds",
            ],
            Side::Client => [
                "grpc_client_started_total",
                "grpc_client_handled_total",
                "grpc_client_handling_seconds",
            ],
        }
    }
}

/// A call under way.
pub struct RpcCall {
    side: Side,
    pub service: String,
    pub method: String,
    kind: &'static str,
    /// Kept open until the call ends (a stream's last trailer).
    pub span: tracing::Span,
    start: Instant,
}

impl RpcCall {
    /// Counts the call of `path` (named `service`/`method`) as started.
    pub fn start(
        side: Side,
        path: &str,
        service: String,
        method: String,
        span: tracing::Span,
    ) -> Self {
        let kind = grpc_names::kind(path);
        metrics::counter!(side.names()[0], "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_type" => kind)
            .increment(1);
        Self {
            side,
            service,
            method,
            kind,
            span,
            start: Instant::now(),
        }
    }

    /// Counts and times the call as answered `code`, and ends its span: in
    /// error for a client on any code but OK, for a server only on the
    /// codes that say it failed. Returns how long it took.
    pub fn end(&self, code: Code, message: &str) -> Duration {
        let elapsed = self.start.elapsed();
        let [_, handled, seconds] = self.side.names();
        metrics::counter!(handled, "grpc_service" => self.service.clone(), "grpc_method" => self.method.clone(), "grpc_type" => self.kind, "grpc_code" => grpc_names::code_name(code))
            .increment(1);
        metrics::histogram!(seconds, "grpc_service" => self.service.clone(), "grpc_method" => self.method.clone(), "grpc_type" => self.kind)
            .record(elapsed.as_secs_f64());
        let failed = match self.side {
            Side::Server => grpc_names::server_error(code),
            Side::Client => code != Code::Ok,
        };
        crate::telemetry::end_rpc_span(&self.span, code, message, failed);
        elapsed
    }
}
