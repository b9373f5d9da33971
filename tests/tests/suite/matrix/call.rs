//! How the matrix calls an RPC by its path (unary, client- and
//! server-streaming, with the generated messages) and how it compares two
//! refusals: what a caller can learn from an answer, with the name it
//! asked about taken out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use fiveledger_platform::testing::authed;
use futures::future::BoxFuture;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// What a call returned, reduced to what the expectations check: the names
/// of the resources (or the figures) it showed.
pub type Reply = BTreeSet<String>;

/// The channels of the running suite.
#[derive(Clone)]
pub struct Channels {
    pub rounds: Channel,
    pub issues: Channel,
    pub ledgers: Channel,
}

impl Channels {
    /// The server of the RPC at `path`: `server` when named (a service
    /// several servers serve), else by its package.
    pub fn on(&self, server: Option<&str>, path: &str) -> Channel {
        match server {
            Some("rounds") => self.rounds.clone(),
            Some("issues") => self.issues.clone(),
            Some("ledgers") => self.ledgers.clone(),
            _ => self.of(path),
        }
    }

    /// The server of the RPC at `path`, by its package.
    pub fn of(&self, path: &str) -> Channel {
        if path.starts_with("/fiveledger.rounds.") {
            self.rounds.clone()
        } else if path.starts_with("/fiveledger.issues.") {
            self.issues.clone()
        } else if path.starts_with("/fiveledger.ledgers.") {
            self.ledgers.clone()
        } else {
            panic!("no server for {path}")
        }
    }
}

/// One call of a case: the channels, the name it aims at (the case's own,
/// or its twin that does not exist) and the caller's token.
pub type Call = Arc<
    dyn Fn(Channels, String, String) -> BoxFuture<'static, Result<Reply, Status>> + Send + Sync,
>;

async fn ready(channel: Channel) -> Result<tonic::client::Grpc<Channel>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
    Ok(grpc)
}

fn codec<Req, Resp>() -> tonic_prost::ProstCodec<Req, Resp>
where
    Req: prost::Message + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    tonic_prost::ProstCodec::default()
}

/// Calls the unary RPC at `path` with `request` as the bearer of `token`.
pub async fn unary<Req, Resp>(
    channel: Channel,
    path: &'static str,
    token: String,
    request: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = ready(channel).await?;
    grpc.unary(
        authed(&token, request),
        http::uri::PathAndQuery::from_static(path),
        codec::<Req, Resp>(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Calls the client-streaming RPC at `path` with `messages`.
pub async fn client_stream<Req, Resp>(
    channel: Channel,
    path: &'static str,
    token: String,
    messages: Vec<Req>,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = ready(channel).await?;
    grpc.client_streaming(
        authed(&token, futures::stream::iter(messages)),
        http::uri::PathAndQuery::from_static(path),
        codec::<Req, Resp>(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Calls the server-streaming RPC at `path` and reads what it sends until
/// it has sent `at_most` messages or been quiet for a moment (the streams
/// follow new events for ever).
pub async fn server_stream<Req, Resp>(
    channel: Channel,
    path: &'static str,
    token: String,
    request: Req,
    at_most: usize,
) -> Result<Vec<Resp>, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    const QUIET: Duration = Duration::from_millis(400);
    let mut grpc = ready(channel).await?;
    let mut stream = grpc
        .server_streaming(
            authed(&token, request),
            http::uri::PathAndQuery::from_static(path),
            codec::<Req, Resp>(),
        )
        .await?
        .into_inner();
    let mut out = Vec::new();
    while out.len() < at_most {
        match tokio::time::timeout(QUIET, stream.message()).await {
            Ok(Ok(Some(message))) => out.push(message),
            Ok(Ok(None)) | Err(_) => break,
            Ok(Err(status)) => return Err(status),
        }
    }
    Ok(out)
}

/// What a caller can learn from a refusal, with `name` (the name it asked
/// about) written as `{NAME}`: the code, `ErrorInfo` reason and metadata,
/// the message, the fields and the violations.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub code: Code,
    pub reason: String,
    pub message: String,
    pub metadata: BTreeMap<String, String>,
    pub fields: Vec<(String, String)>,
    pub violations: Vec<(String, String, String)>,
}

impl Answer {
    pub fn of(status: &Status, name: &str) -> Self {
        let hide = |s: &str| {
            if name.is_empty() {
                s.to_owned()
            } else {
                s.replace(name, "{NAME}")
            }
        };
        let details = status.get_error_details();
        let info = details.error_info();
        Self {
            code: status.code(),
            reason: info.map(|i| i.reason.clone()).unwrap_or_default(),
            message: hide(status.message()),
            metadata: info
                .map(|i| {
                    i.metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), hide(v)))
                        .collect()
                })
                .unwrap_or_default(),
            fields: details
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| (v.field.clone(), hide(&v.description)))
                        .collect()
                })
                .unwrap_or_default(),
            violations: details
                .precondition_failure()
                .map(|p| {
                    p.violations
                        .iter()
                        .map(|v| (v.r#type.clone(), hide(&v.subject), hide(&v.description)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A name of the same shape as `name` that names nothing: its last id
/// (the inspection's, for a problem list) prefixed with `zz-`.
pub fn twin_of(name: &str) -> String {
    let mut parts: Vec<String> = name.split('/').map(str::to_owned).collect();
    let last = parts
        .iter()
        .rposition(|p| p != "problemList")
        .expect("a name");
    parts[last] = format!("zz-{}", parts[last]);
    parts.join("/")
}
