//! Tokens from the organisation's identity provider: the provider's keys come
//! from its JWKS (found by OpenID Connect discovery or configured directly),
//! cached and refreshed, so keys rotate without a restart: a token signed by
//! a new key triggers a refresh (at most one per `min_refresh_seconds`), and a
//! key the provider removed stops verifying at the next refresh. Claim names
//! differ between providers; which claim holds the subject, the organisation
//! and the roles, and how the provider's role names map to ours, is
//! configuration.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::auth::{Caller, Claims, Role, TokenVerifier, check_claims};
use crate::error::ApiError;
use crate::verified_tokens::{VerifiedTokens, in_time};

/// Algorithms a provider's keys may use; anything else is refused.
const ALLOWED: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256];
/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Most keys kept from one key set.
const MAX_KEYS: usize = 64;

/// Which claims carry what we need.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ClaimNames {
    /// The caller's id.
    pub subject: String,
    /// The organisation path (a dotted path reaches into an object, e.g.
    /// `fiveledger.org`).
    pub organisation: String,
    /// The roles: an array of strings, or one string separated by spaces or
    /// commas (a dotted path too, e.g. `realm_access.roles`).
    pub roles: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            organisation: "org".into(),
            roles: "roles".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OidcSettings {
    /// The provider's issuer URL (`iss`); its keys are found through
    /// `<issuer>/.well-known/openid-configuration` unless `jwks_url` is set.
    /// Empty: no provider (the local suite's own key only).
    pub issuer: String,
    /// The key set's URL, when the provider has no discovery document.
    pub jwks_url: String,
    /// The expected `aud`, if the provider sets one for this API.
    pub audience: String,
    pub claims: ClaimNames,
    /// The provider's role names and ours (`xcb-staff = "inspection_office"`);
    /// a name missing here is taken as ours if it is one.
    pub role_names: BTreeMap<String, String>,
    /// How often the key set is fetched again.
    pub refresh_seconds: u64,
    /// An unknown `kid` fetches the key set at most this often.
    pub min_refresh_seconds: u64,
    /// Longest wait for the provider.
    pub fetch_timeout_seconds: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            jwks_url: String::new(),
            audience: String::new(),
            claims: ClaimNames::default(),
            role_names: BTreeMap::new(),
            refresh_seconds: 300,
            min_refresh_seconds: 10,
            fetch_timeout_seconds: 5,
        }
    }
}

impl OidcSettings {
    pub fn enabled(&self) -> bool {
        !self.issuer.is_empty()
    }
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    /// The keys kept from the last key set, as the provider wrote them: a
    /// fetch that changes them forgets the tokens verified by the old ones.
    fingerprint: String,
    /// When a fetch was last tried (None: never).
    tried: Option<Instant>,
}

/// Verifies the provider's tokens against its current keys.
pub struct Jwks {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// One fetch at a time; the others wait for its result.
    fetching: Mutex<()>,
    max_lifetime: chrono::Duration,
    /// Tokens whose signature was found good, each with the `generation`
    /// of the keys it was checked by: remembered only while those keys are
    /// the current ones, so a key the provider removed stops verifying at
    /// the next refresh, as it did before tokens were remembered.
    verified: VerifiedTokens<u64>,
    /// Counts the key sets that changed the keys.
    generation: AtomicU64,
}

impl Jwks {
    pub fn new(
        settings: OidcSettings,
        max_lifetime: chrono::Duration,
    ) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(settings.enabled(), "no identity provider configured");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.fetch_timeout_seconds.max(1)))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Arc::new(Self {
            settings,
            http,
            keys: RwLock::new(Keys {
                by_kid: HashMap::new(),
                fingerprint: String::new(),
                tried: None,
            }),
            fetching: Mutex::new(()),
            max_lifetime,
            verified: VerifiedTokens::new(crate::auth::MAX_VERIFIED_PEOPLE),
            generation: AtomicU64::new(0),
        }))
    }

    /// Reads a JSON document of at most [`MAX_DOCUMENT_BYTES`].
    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let mut response = self.http.get(url).send().await?.error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            anyhow::ensure!(
                body.len() + chunk.len() <= MAX_DOCUMENT_BYTES,
                "{url} is larger than {MAX_DOCUMENT_BYTES} bytes"
            );
            body.extend_from_slice(&chunk);
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn jwks_url(&self) -> anyhow::Result<String> {
        if !self.settings.jwks_url.is_empty() {
            return Ok(self.settings.jwks_url.clone());
        }
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.fetch(&url).await?;
        anyhow::ensure!(
            discovery.issuer.trim_end_matches('/') == self.settings.issuer.trim_end_matches('/'),
            "the discovery document names issuer {}, not {}",
            discovery.issuer,
            self.settings.issuer
        );
        Ok(discovery.jwks_uri)
    }

    /// Fetches the key set now; keys no longer in it are forgotten.
    pub async fn refresh(&self) -> anyhow::Result<usize> {
        let _one = self.fetching.lock().await;
        self.keys.write().await.tried = Some(Instant::now());
        let set: JwkSet = self.fetch(&self.jwks_url().await?).await?;
        let mut by_kid = HashMap::new();
        let mut fingerprint = String::new();
        for jwk in set.keys.iter().take(MAX_KEYS) {
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, algorithm_of(jwk)) else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    by_kid.insert(kid.clone(), (key, alg));
                    fingerprint.push_str(&serde_json::to_string(jwk)?);
                }
                Err(err) => tracing::warn!(%kid, error = %err, "skipping an unreadable key"),
            }
        }
        let n = by_kid.len();
        let mut keys = self.keys.write().await;
        keys.by_kid = by_kid;
        if keys.fingerprint != fingerprint {
            keys.fingerprint = fingerprint;
            // After the keys change: a verification that read the old
            // generation remembers its token under it, never under this one.
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.verified.forget_all();
        }
        Ok(n)
    }

    /// The key `kid`: cached, else after a refresh (if none happened lately).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), ApiError> {
        let stale = {
            let keys = self.keys.read().await;
            if let Some(found) = keys.by_kid.get(kid) {
                return Ok(found.clone());
            }
            keys.tried.is_none_or(|t| {
                t.elapsed() >= Duration::from_secs(self.settings.min_refresh_seconds)
            })
        };
        if stale && let Err(err) = self.refresh().await {
            tracing::warn!(error = %err, "fetching the identity provider's keys failed");
            return Err(ApiError::Unavailable {
                service: "identity provider".into(),
                cause: err.to_string(),
            });
        }
        self.keys
            .read()
            .await
            .by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated(format!("invalid token: unknown key {kid}")))
    }

    /// Fetches the key set every `refresh_seconds` until `stop`.
    pub async fn refresh_periodically(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut every =
            tokio::time::interval(Duration::from_secs(self.settings.refresh_seconds.max(1)));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {
                    if let Err(err) = self.refresh().await {
                        tracing::warn!(error = %err, "refreshing the identity provider's keys failed; keeping the last ones");
                    }
                }
            }
        }
    }

    /// Our claims from the provider's, by the configured names.
    fn map_claims(&self, raw: &serde_json::Value) -> Result<Claims, ApiError> {
        let names = &self.settings.claims;
        let text = |path: &str| {
            lookup(raw, path)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let number = |name: &str| raw.get(name).and_then(serde_json::Value::as_i64);
        let roles = match lookup(raw, &names.roles) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => s
                .split([' ', ','])
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let roles = roles
            .into_iter()
            .take(32)
            .map(|r| self.settings.role_names.get(&r).cloned().unwrap_or(r))
            .collect();
        Ok(Claims {
            sub: text(&names.subject).unwrap_or_default(),
            org: text(&names.organisation),
            roles,
            iss: text("iss").unwrap_or_default(),
            iat: number("iat")
                .ok_or_else(|| ApiError::Unauthenticated("invalid token: no `iat`".into()))?,
            nbf: number("nbf"),
            exp: number("exp").unwrap_or_default(),
        })
    }
}

/// The algorithm a key is for: its `alg`, or (some providers leave it out)
/// what its type and curve allow; None for a key we do not accept.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    match (jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(p))
            if p.curve == EllipticCurve::P256 =>
        {
            Some(Algorithm::ES256)
        }
        (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

/// The value at a dotted path of a JSON object (`a.b.c`), or at the literal
/// key when it holds dots itself (some providers name claims by URL).
fn lookup<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = value.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(value, |v, key| v.get(key))
}

impl TokenVerifier for Jwks {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, ApiError>> {
        Box::pin(async move {
            let invalid = |why: String| ApiError::Unauthenticated(format!("invalid token: {why}"));
            let now = chrono::Utc::now().timestamp();
            // Read before the key: a refresh in between leaves this token
            // remembered under the keys it replaced.
            let generation = self.generation.load(Ordering::SeqCst);
            if let Some((claims, checked_by)) = self.verified.get(token)
                && checked_by == generation
            {
                in_time(&claims, now)?;
                return check_claims(claims, now, self.max_lifetime);
            }
            let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(e.to_string()))?;
            if !ALLOWED.contains(&header.alg) {
                return Err(invalid(format!("{:?} is not accepted", header.alg)));
            }
            let kid = header.kid.ok_or_else(|| invalid("no `kid`".into()))?;
            let (key, alg) = self.key(&kid).await?;
            if alg != header.alg {
                return Err(invalid(format!("key {kid} is not for {:?}", header.alg)));
            }
            let mut validation =
                crate::auth::validation(alg, &self.settings.issuer, &["exp", "iss", "iat"]);
            if self.settings.audience.is_empty() {
                validation.validate_aud = false;
            } else {
                validation.set_audience(&[self.settings.audience.as_str()]);
            }
            let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
                .map_err(|e| invalid(e.to_string()))?;
            let claims = self.map_claims(&data.claims)?;
            self.verified.remember(token, &claims, generation, now);
            check_claims(claims, now, self.max_lifetime)
        })
    }
}

/// Accepts tokens of any of several verifiers, chosen by the token's
/// header: a service's own key ([`crate::service_identity`]) when its `kid`
/// names a service, else by algorithm the local suite's HS256 key or the
/// provider's keys. Only a service key makes a service: a person's token
/// (local or provider) claiming the `service` role is refused.
pub struct Verifiers {
    pub local: Option<Arc<dyn TokenVerifier>>,
    pub provider: Option<Arc<dyn TokenVerifier>>,
    pub services: Option<Arc<dyn TokenVerifier>>,
}

impl TokenVerifier for Verifiers {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, ApiError>> {
        Box::pin(async move {
            let header = jsonwebtoken::decode_header(token)
                .map_err(|e| ApiError::Unauthenticated(format!("invalid token: {e}")))?;
            if crate::service_identity::ServicePeers::claims_a_service(&header) {
                return match &self.services {
                    Some(v) => v.verify(token).await,
                    None => Err(ApiError::Unauthenticated(
                        "invalid token: no service may call this one".into(),
                    )),
                };
            }
            let verifier = if header.alg == Algorithm::HS256 {
                &self.local
            } else {
                &self.provider
            };
            let caller = match verifier {
                Some(v) => v.verify(token).await?,
                None => {
                    return Err(ApiError::Unauthenticated(format!(
                        "invalid token: {:?} tokens are not accepted here",
                        header.alg
                    )));
                }
            };
            if caller.roles.contains(&Role::Service) {
                return Err(ApiError::Unauthenticated(
                    "invalid token: the service role is held only by a token signed with a service's own key"
                        .into(),
                ));
            }
            Ok(caller)
        })
    }
}
