//! Tokens from an organisation's identity provider: a fake provider served
//! over HTTP by the test (OIDC discovery and a JWKS), a real rounds service
//! verifying its ES256 and RS256 tokens, keys rotated without a restart, a
//! removed key refused, and the provider's own claim names mapped by
//! configuration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiveledger_platform::oidc::{ClaimNames, OidcSettings};
use fiveledger_platform::testing::{TestEnv, authed};
use fiveledger_proto::rounds::ListOrganisationsRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tonic::Code;

/// A provider key: its id, algorithm, signing key and public JWK.
struct ProviderKey {
    kid: String,
    alg: Algorithm,
    signing: EncodingKey,
    public: Jwk,
}

impl ProviderKey {
    fn es256(kid: &str) -> Self {
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8");
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    fn rs256(kid: &str) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let secret = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa key");
        let der = secret.to_pkcs1_der().expect("pkcs1");
        Self::new(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_der(der.as_bytes()),
        )
    }

    fn new(kid: &str, alg: Algorithm, signing: EncodingKey) -> Self {
        let mut public = Jwk::from_encoding_key(&signing, alg).expect("public key");
        public.common.key_id = Some(kid.into());
        Self {
            kid: kid.into(),
            alg,
            signing,
            public,
        }
    }

    /// A token in the provider's own shape: its claim names, its role names.
    fn token(&self, issuer: &str, org: &str, groups: &[&str]) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": issuer,
            "aud": "fiveledger-api",
            "preferred_username": "wang.fang",
            "sub": "5f1c0e3a",
            "fiveledger": { "org": org },
            "groups": groups,
            "iat": now,
            "exp": now + 600,
        });
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).expect("sign")
    }
}

/// The fake provider: serves its discovery document and its current key
/// set over plain HTTP/1.1, one request per connection.
struct Provider {
    issuer: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<Mutex<usize>>,
}

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let keys: Arc<Mutex<Vec<Jwk>>> = Arc::default();
        let fetches: Arc<Mutex<usize>> = Arc::default();
        let (served, count, base) = (keys.clone(), fetches.clone(), issuer.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (served, count, base) = (served.clone(), count.clone(), base.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let body = if request.starts_with("GET /.well-known/openid-configuration") {
                        serde_json::json!({ "issuer": base, "jwks_uri": format!("{base}/keys") })
                            .to_string()
                    } else {
                        *count.lock().expect("lock") += 1;
                        let keys = served.lock().expect("lock").clone();
                        serde_json::to_string(&JwkSet { keys }).expect("json")
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self {
            issuer,
            keys,
            fetches,
        }
    }

    fn publish(&self, keys: &[&ProviderKey]) {
        *self.keys.lock().expect("lock") = keys.iter().map(|k| k.public.clone()).collect();
    }
}

#[tokio::test]
async fn provider_tokens_verify_and_keys_rotate_without_a_restart() {
    let provider = Provider::start().await;
    let (a, b, rsa) = (
        ProviderKey::es256("key-a"),
        ProviderKey::es256("key-b"),
        ProviderKey::rs256("key-rsa"),
    );
    provider.publish(&[&a, &rsa]);

    let env = TestEnv::new("rounds");
    let mut settings = env.settings.clone();
    settings.auth.oidc = OidcSettings {
        issuer: provider.issuer.clone(),
        audience: "fiveledger-api".into(),
        claims: ClaimNames {
            subject: "preferred_username".into(),
            organisation: "fiveledger.org".into(),
            roles: "groups".into(),
        },
        role_names: [("xcb-staff".to_owned(), "inspection_office".to_owned())].into(),
        min_refresh_seconds: 0,
        ..Default::default()
    };
    let running = fiveledger_rounds::start(&settings, Default::default(), CancellationToken::new())
        .await
        .expect("rounds starts");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let list = |token: String| {
        let mut client = OrganisationServiceClient::new(channel.clone());
        async move {
            client
                .list_organisations(authed(&token, ListOrganisationsRequest::default()))
                .await
        }
    };

    // ES256 and RS256 tokens of the provider, its claim and role names mapped.
    let of_a = a.token(&provider.issuer, "guangxi", &["xcb-staff"]);
    list(of_a.clone()).await.expect("an ES256 token of key a");
    list(of_a.clone())
        .await
        .expect("the same token again (its signature remembered)");
    list(rsa.token(&provider.issuer, "guangxi", &["viewer"]))
        .await
        .expect("an RS256 token");
    // Its roles are what the mapping says: an unknown group grants nothing.
    let err = list(a.token(&provider.issuer, "guangxi", &["cleaner"]))
        .await
        .expect_err("no role");
    assert_eq!(err.code(), Code::PermissionDenied);
    // Fail closed on the provider's tokens too: no organisation, no entry.
    let err = list(a.token(&provider.issuer, "", &["viewer"]))
        .await
        .expect_err("no organisation");
    assert_eq!(err.code(), Code::Unauthenticated);
    // Another issuer's token signed with a known key is refused.
    let err = list(a.token("http://elsewhere.example", "guangxi", &["viewer"]))
        .await
        .expect_err("another issuer");
    assert_eq!(err.code(), Code::Unauthenticated);

    // The provider rotates: b is added and a is removed. A token of b
    // verifies at once (its unknown kid fetches the keys again), and a
    // token of a is refused from then on.
    let before = *provider.fetches.lock().expect("lock");
    provider.publish(&[&b, &rsa]);
    list(b.token(&provider.issuer, "guangxi", &["viewer"]))
        .await
        .expect("the new key, without a restart");
    assert!(
        *provider.fetches.lock().expect("lock") > before,
        "fetched again"
    );
    let err = list(a.token(&provider.issuer, "guangxi", &["viewer"]))
        .await
        .expect_err("a removed key");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("unknown key"), "{err:?}");
    // So is the token of a verified before the rotation: it was remembered
    // under the keys the provider has since changed.
    let err = list(of_a)
        .await
        .expect_err("a remembered token of a removed key");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("unknown key"), "{err:?}");

    // A token whose key the provider never had costs at most one fetch per
    // `min_refresh_seconds`; an unreadable token none.
    let err = list("not.a.token".into()).await.expect_err("garbage");
    assert_eq!(err.code(), Code::Unauthenticated);
    tokio::time::sleep(Duration::from_millis(10)).await;
    running.stop().await.expect("stops");
}
