//! A bare tonic unary service, the floor under every RPC of ours: the same
//! transport, codec and runtime, answering `GetOrganisation` with a fixed
//! organisation (the message the real service returns), with no gate, no
//! middleware and no database.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use fiveledger_proto::rounds::{GetOrganisationRequest, Organisation};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const PATH: &str = "/bench.Bare/GetOrganisation";

#[derive(Clone)]
struct Bare(Organisation);

impl NamedService for Bare {
    const NAME: &'static str = "bench.Bare";
}

struct Get(Organisation);

impl UnaryService<GetOrganisationRequest> for Get {
    type Response = Organisation;
    type Future = std::future::Ready<Result<tonic::Response<Organisation>, tonic::Status>>;

    fn call(&mut self, _: tonic::Request<GetOrganisationRequest>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(self.0.clone())))
    }
}

impl Service<http::Request<Body>> for Bare {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let organisation = self.0.clone();
        Box::pin(async move {
            if request.uri().path() != PATH {
                return Ok(tonic::Status::unimplemented("bare serves one method").into_http());
            }
            let mut grpc = Grpc::new(ProstCodec::default());
            Ok(grpc.unary(Get(organisation), request).await)
        })
    }
}

/// Serves the bare service on an ephemeral port until the process ends;
/// answers with `organisation`.
pub async fn serve(organisation: Organisation) -> anyhow::Result<Channel> {
    let incoming =
        tonic::transport::server::TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| anyhow::anyhow!("bind: {e}"))?
            // As the suite's own listener (`platform::connection`): without
            // it small answers wait for delayed ACKs (a 40 ms tail).
            .with_nodelay(Some(true));
    let addr = incoming.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(Bare(organisation))
            .serve_with_incoming(incoming),
    );
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// One `GetOrganisation` of the bare service.
pub async fn get(channel: Channel, request: GetOrganisationRequest) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary::<_, Organisation, _>(
        tonic::Request::new(request),
        http::uri::PathAndQuery::from_static(PATH),
        ProstCodec::default(),
    )
    .await
    .map(|_| ())
}
