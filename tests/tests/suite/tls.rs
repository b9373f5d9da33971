//! Mutual TLS: every service port refuses a client without a certificate of
//! the suite's CA (and plaintext); the services reach each other over it
//! (a problem recorded in issues is checked with rounds, frozen, and posted
//! by ledgers from issues' events); a service's certificate carries only
//! that service's rights; renewed certificates are taken without a restart;
//! probes get health on a plaintext port.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fiveledger_e2e::{
    EVENT_TIMEOUT, TestSuite, eventually, spawn_tls_suite, tls_channel, tls_dir, tokens,
};
use fiveledger_platform::testing::{authed, service_token};
use fiveledger_platform::tls::{CLIENT, ensure_local_certificates};
use fiveledger_proto::{issues, rounds, types};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const XN: &str = "rounds/r9/inspections/xn";

/// A TLS client that checks the server against the CA but has no
/// certificate of its own.
fn channel_without_certificate(dir: &Path, addr: SocketAddr) -> Channel {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.crt")).expect("ca") {
        roots.add(ca.expect("pem")).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let config = Arc::new(config);
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("url")
        .connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
            let config = config.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
}

async fn health(channel: Channel, service: &str) -> Result<i32, tonic::Status> {
    let mut client = HealthClient::new(channel);
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        client.check(HealthCheckRequest {
            service: service.into(),
        }),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("no answer"))??;
    Ok(answer.into_inner().status)
}

fn ports(t: &TestSuite) -> [(&'static str, SocketAddr); 3] {
    [
        ("rounds", t.suite.rounds.addr),
        ("issues", t.suite.issues.addr),
        ("ledgers", t.suite.ledgers.addr),
    ]
}

#[tokio::test]
async fn every_port_refuses_clients_without_a_certificate_and_the_services_talk_over_mtls() {
    let t = spawn_tls_suite(Default::default()).await;
    let dir = tls_dir(&t.env);

    for (name, addr) in ports(&t) {
        // Plaintext HTTP/2 gets no answer from a TLS port.
        let plain = Channel::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect_lazy();
        assert!(
            health(plain, "").await.is_err(),
            "{name}: plaintext answered"
        );
        // TLS without a client certificate is refused in the handshake.
        let anonymous = channel_without_certificate(&dir, addr);
        assert!(
            health(anonymous, "").await.is_err(),
            "{name}: a client without a certificate was answered"
        );
        // With one, health (and so reflection, and grpcurl) works.
        assert_eq!(
            health(tls_channel(&dir, CLIENT, addr), name)
                .await
                .expect("health"),
            ServingStatus::Serving as i32,
            "{name}"
        );
    }

    // A certificate of another CA is refused as well.
    let stranger = tempfile::tempdir().expect("dir");
    ensure_local_certificates(stranger.path(), &[CLIENT]).expect("certs");
    std::fs::copy(dir.join("ca.crt"), stranger.path().join("ca.crt")).expect("trust ours");
    for (name, addr) in ports(&t) {
        assert!(
            health(tls_channel(stranger.path(), CLIENT, addr), "")
                .await
                .is_err(),
            "{name}: a certificate of a foreign CA was accepted"
        );
    }

    // Probes: plaintext health on the probe port, and nothing else there.
    for running in [&t.suite.rounds, &t.suite.issues, &t.suite.ledgers] {
        let probe = running.probe_addr.expect("a probe port");
        let channel = Channel::from_shared(format!("http://{probe}"))
            .expect("url")
            .connect_lazy();
        assert_eq!(
            health(channel.clone(), "").await.expect("probe"),
            ServingStatus::Serving as i32
        );
        let status = rounds::organisation_service_client::OrganisationServiceClient::new(channel)
            .get_organisation(authed(
                &tokens::admin(),
                rounds::GetOrganisationRequest {
                    name: "organisations/guangxi".into(),
                },
            ))
            .await
            .expect_err("only health on the probe port");
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    }

    // The workflow across the three services, every hop over mutual TLS:
    // issues checks the inspection with rounds, ledgers follows issues'
    // events and posts the frozen list.
    let c = &t.clients;
    c.two_stationed_inspections("r9", 9).await;
    let problem = c
        .problem(
            &tokens::office(),
            XN,
            "p1",
            "party-leadership",
            types::Severity::Major,
            "问题 p1",
            "",
            "",
        )
        .await
        .expect("a problem recorded, its inspection checked with rounds");
    c.problems()
        .freeze_problem_list(authed(
            &tokens::office(),
            issues::FreezeProblemListRequest {
                inspection: XN.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze");
    let entries = c
        .wait_for_entries(&format!("inspection = \"{XN}\""), 1)
        .await;
    assert_eq!(entries[0].problem, problem.name);

    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn a_service_certificate_carries_only_that_services_rights() {
    let t = spawn_tls_suite(Default::default()).await;
    let dir = tls_dir(&t.env);
    let rounds_addr = t.suite.rounds.addr;
    let get = |channel: Channel, token: String| async move {
        rounds::organisation_service_client::OrganisationServiceClient::new(channel)
            .get_organisation(authed(
                &token,
                rounds::GetOrganisationRequest {
                    name: "organisations/nowhere".into(),
                },
            ))
            .await
            .map(drop)
    };
    // issues may read organisations from rounds: with its own certificate
    // and its own token the call reaches the handler (NOT_FOUND here).
    let status = get(
        tls_channel(&dir, "issues", rounds_addr),
        service_token("issues"),
    )
    .await
    .expect_err("no such organisation");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // ledgers' token on issues' certificate, issues' token on ledgers' or
    // on a person's certificate: refused, whatever the token grants.
    for (certificate, token) in [
        ("issues", "ledgers"),
        ("ledgers", "issues"),
        (CLIENT, "issues"),
    ] {
        let status = get(
            tls_channel(&dir, certificate, rounds_addr),
            service_token(token),
        )
        .await
        .expect_err("refused");
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{certificate}/{token}: {status:?}"
        );
        assert!(
            status.message().contains("certificate"),
            "{certificate}/{token}: {status:?}"
        );
    }
    // A service's certificate with its own token still gets only what that
    // service may call: issues may not create organisations.
    let status = rounds::organisation_service_client::OrganisationServiceClient::new(tls_channel(
        &dir,
        "issues",
        rounds_addr,
    ))
    .create_organisation(authed(
        &service_token("issues"),
        rounds::CreateOrganisationRequest::default(),
    ))
    .await
    .expect_err("not issues' to do");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn renewed_certificates_are_taken_without_a_restart() {
    let t = spawn_tls_suite(Default::default()).await;
    let dir = tls_dir(&t.env);
    let old = tempfile::tempdir().expect("dir");
    for file in ["ca.crt", "client.crt", "client.key"] {
        std::fs::copy(dir.join(file), old.path().join(file)).expect("keep the old ones");
    }

    // A new CA and new certificates for everyone, written where the
    // services read them (as cert-manager renews a Secret).
    for entry in std::fs::read_dir(&dir).expect("dir") {
        std::fs::remove_file(entry.expect("entry").path()).expect("rm");
    }
    ensure_local_certificates(&dir, &["rounds", "issues", "ledgers", CLIENT]).expect("renew");

    for (name, addr) in ports(&t) {
        eventually(
            &format!("{name} serves the new certificate"),
            EVENT_TIMEOUT,
            || {
                let channel = tls_channel(&dir, CLIENT, addr);
                async move { health(channel, "").await.ok() }
            },
        )
        .await;
        assert!(
            health(tls_channel(old.path(), CLIENT, addr), "")
                .await
                .is_err(),
            "{name}: still trusts the old CA"
        );
    }
    // The services still reach each other (connections they hold stay up;
    // each new one is made with the renewed certificates).
    let c = fiveledger_e2e::Clients {
        rounds: tls_channel(&dir, CLIENT, t.suite.rounds.addr),
        issues: tls_channel(&dir, CLIENT, t.suite.issues.addr),
        ledgers: tls_channel(&dir, CLIENT, t.suite.ledgers.addr),
    };
    c.two_stationed_inspections("r9", 9).await;
    c.problem(
        &tokens::office(),
        XN,
        "p1",
        "party-leadership",
        types::Severity::Major,
        "问题 p1",
        "",
        "",
    )
    .await
    .expect("issues reaches rounds with its renewed certificate");

    t.suite.stop().await.expect("stops");
}
