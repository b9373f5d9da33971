//! Mutual TLS against plaintext: the same reads, and the handshake's cost.

use std::sync::Arc;

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::measure::measure;
use crate::{create_organisations, get_organisations, region};

/// The same reads in plaintext (`plain`, the suite measured above) and
/// over mutual TLS (a suite of its own), then a new connection per call.
pub async fn tls(
    plain: &fiveledger_e2e::TestSuite,
    token: &Arc<String>,
    n: usize,
    c: usize,
) -> anyhow::Result<()> {
    let secure = fiveledger_e2e::spawn_tls_suite_with(Default::default(), crate::as_deployed).await;
    region(&secure.rounds, token).await?;
    // The same cities as the plaintext suite's first hundred.
    let cities = n.min(100);
    create_organisations("", &secure.rounds, token, cities, c).await;
    let health = |label: &str, channel: &Channel| {
        let ch = channel.clone();
        measure(label.to_owned(), n, c, move |_| {
            let mut client = HealthClient::new(ch.clone());
            async move {
                client
                    .check(HealthCheckRequest::default())
                    .await
                    .map(|_| ())
            }
        })
    };
    let base = health("health check, plaintext", &plain.rounds).await;
    base.print(None);
    health("health check, mutual TLS", &secure.rounds)
        .await
        .print(Some(&base));
    let plain_get = get_organisations(
        "GetOrganisation, plaintext",
        &plain.rounds,
        token,
        n,
        c,
        cities,
    )
    .await;
    plain_get.print(Some(&base));
    get_organisations(
        "GetOrganisation, mutual TLS",
        &secure.rounds,
        token,
        n,
        c,
        cities,
    )
    .await
    .print(Some(&plain_get));

    // A new connection per call: TCP (+ TLS handshake) + one health check.
    let (plain_addr, tls_addr) = (plain.suite.rounds.addr, secure.suite.rounds.addr);
    let dir = fiveledger_e2e::tls_dir(&secure.env);
    let fresh_plain = measure("new connection + health, plaintext", n / 4, c, move |_| {
        let channel = Channel::from_shared(format!("http://{plain_addr}"))
            .expect("url")
            .connect_lazy();
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    fresh_plain.print(Some(&base));
    measure("new connection + health, mutual TLS", n / 4, c, move |_| {
        let channel = fiveledger_e2e::tls_channel(&dir, fiveledger_platform::tls::CLIENT, tls_addr);
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await
    .print(Some(&fresh_plain));
    secure.suite.stop().await
}
