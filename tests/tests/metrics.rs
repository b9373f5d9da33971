//! The Prometheus endpoint: per-RPC counters by status code and latency
//! histograms, and made-up paths folded into one label.

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::metrics;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::ListOrganisationsRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    body
}

#[tokio::test]
async fn rpcs_are_counted_by_method_and_code() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    metrics::serve(addr).expect("metrics endpoint");
    let t = spawn_suite(Default::default()).await;
    let mut orgs = OrganisationServiceClient::new(t.rounds.clone());
    let token = testing::token("m", "", &[fiveledger_platform::auth::Role::Admin]);
    orgs.list_organisations(authed(&token, ListOrganisationsRequest::default()))
        .await
        .expect("list");
    orgs.list_organisations(ListOrganisationsRequest::default())
        .await
        .expect_err("no token");

    let body = scrape(addr).await;
    let method = "/fiveledger.rounds.v1.OrganisationService/ListOrganisations";
    assert!(
        body.contains(&format!(
            "grpc_server_handled_total{{service=\"rounds\",method=\"{method}\",code=\"Ok\"}} 1"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "grpc_server_handled_total{{service=\"rounds\",method=\"{method}\",code=\"Unauthenticated\"}} 1"
        )),
        "{body}"
    );
    assert!(
        body.contains("grpc_server_handling_seconds_bucket{service=\"rounds\""),
        "{body}"
    );
    t.suite.stop().await.expect("stops");
}
