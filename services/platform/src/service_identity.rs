//! Service identities: each service signs the tokens it calls others with
//! by its own ES256 key, and every service verifies them by the public keys
//! of its peers. No service holds another's key, and the suite's shared
//! HS256 key (or an identity provider) cannot make a service token: the
//! `service` role is only ever held by a token signed with a service key.
//!
//! What a service may then call is decided per service, not per role: each
//! service names, for every peer, the RPCs it may call and the event types
//! it may stream ([`ServiceCalls`], [`EventReaders`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use crate::auth::{
    Caller, Claims, ROOT_ORG, Role, TokenVerifier, check_claims, invalid_token, validation,
};
use crate::error::ApiError;
use crate::verified_tokens::{VerifiedTokens, in_time};

/// The subject of a service's tokens: `service:<name>`.
pub const SUBJECT_PREFIX: &str = "service:";
/// How long a service token lives, and how long one is reused.
const TOKEN_TTL: Duration = Duration::from_secs(300);
const TOKEN_REUSE: Duration = Duration::from_secs(60);
/// Most peers' keys read, and the largest key file: bounds before parsing.
const MAX_PEERS: usize = 64;
const MAX_KEY_FILE: u64 = 16 * 1024;

/// For each peer service (by name), the full method paths it may call here.
pub type ServiceCalls = &'static [(&'static str, &'static [&'static str])];
/// For each peer service (by name), the event types it may stream from here.
pub type EventReaders = &'static [(&'static str, &'static [&'static str])];

/// The service a verified caller is, if it is one.
pub fn service_name(caller: &Caller) -> Option<&str> {
    if caller.roles.contains(&Role::Service) {
        caller.subject.strip_prefix(SUBJECT_PREFIX)
    } else {
        None
    }
}

/// What `table` lets service `name` have (nothing for a service not in it).
pub fn granted(
    table: &'static [(&'static str, &'static [&'static str])],
    name: &str,
) -> &'static [&'static str] {
    table
        .iter()
        .find(|(peer, _)| *peer == name)
        .map(|(_, granted)| *granted)
        .unwrap_or(&[])
}

/// Where a service's private key and its peers' public keys live.
pub fn key_file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.key"))
}

fn public_file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.pub"))
}

/// Creates a key pair for each of `services` in `dir` that has none yet:
/// `<name>.key` (PKCS#8 PEM, readable by its owner only) and `<name>.pub`
/// (SPKI PEM). For the local suite and tests; a deployment provisions them.
pub fn ensure_keys(dir: &Path, services: &[&str]) -> anyhow::Result<()> {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    std::fs::create_dir_all(dir)?;
    for service in services {
        let private = key_file(dir, service);
        if private.exists() {
            continue;
        }
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF)?;
        let public = secret.public_key().to_public_key_pem(LineEnding::LF)?;
        std::fs::write(public_file(dir, service), public)?;
        crate::files::write_private(&private, pem.as_bytes())?;
    }
    Ok(())
}

fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    crate::files::read_bounded(path, MAX_KEY_FILE)
}

/// This service's own signing key.
pub struct ServiceKey {
    name: String,
    issuer: String,
    encoding: EncodingKey,
    /// The token last minted and when: reused for a while, so a call does
    /// not pay for an ECDSA signature.
    current: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServiceKey {
    /// Loads service `name`'s key from `file` (PKCS#8 PEM, P-256).
    pub fn load(name: &str, file: &Path, issuer: &str) -> anyhow::Result<Self> {
        use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let pem = String::from_utf8(read_bounded(file)?)?;
        let der = p256::SecretKey::from_pkcs8_pem(&pem)
            .and_then(|key| key.to_pkcs8_der())
            .map_err(|e| anyhow::anyhow!("{} is not a P-256 private key: {e}", file.display()))?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            encoding,
            current: Mutex::new(None),
        })
    }

    /// A new key held in memory only (tests, and tools that make their own).
    pub fn generate(name: &str, issuer: &str) -> anyhow::Result<Self> {
        use p256::pkcs8::EncodePrivateKey;
        let der = p256::SecretKey::random(&mut rand_core::OsRng).to_pkcs8_der()?;
        Ok(Self {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            current: Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A token naming this service, signed by its key.
    pub fn token(&self) -> String {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, at)) = current.as_ref()
            && at.elapsed() < TOKEN_REUSE
        {
            return token.clone();
        }
        let token = self.mint(TOKEN_TTL);
        *current = Some((token.clone(), Instant::now()));
        token
    }

    /// A fresh token living `ttl`.
    pub fn mint(&self, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: format!("{SUBJECT_PREFIX}{}", self.name),
            org: Some(ROOT_ORG.to_owned()),
            roles: vec![Role::Service.as_str().to_owned()],
            iss: self.issuer.clone(),
            iat: now,
            nbf: None,
            exp: now + ttl.as_secs() as i64,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(format!("{SUBJECT_PREFIX}{}", self.name));
        // Signing with a key that loaded cannot fail.
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_default()
    }
}

/// Verifies service tokens by the public keys of the peers in a folder
/// (`<name>.pub`, SPKI PEM): the `kid` names the service, and the subject
/// must be that same service.
pub struct ServicePeers {
    keys: HashMap<String, DecodingKey>,
    issuer: String,
    max_lifetime: chrono::Duration,
    /// Tokens whose signature was found good, with the service each names
    /// (a peer sends one token for `TOKEN_REUSE`).
    verified: VerifiedTokens<String>,
}

/// Most tokens [`ServicePeers`] remembers as verified.
const MAX_VERIFIED: usize = 4 * MAX_PEERS;

impl ServicePeers {
    pub fn load(dir: &Path, issuer: &str, max_lifetime: chrono::Duration) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("reading service keys in {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pub"))
            else {
                continue;
            };
            anyhow::ensure!(
                keys.len() < MAX_PEERS,
                "more than {MAX_PEERS} service keys in {}",
                dir.display()
            );
            let key = public_key(&path)?;
            keys.insert(name.to_owned(), key);
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            max_lifetime,
            verified: VerifiedTokens::new(MAX_VERIFIED),
        })
    }

    /// True when `token`'s header names a service key (so this verifier,
    /// and no other, must judge it).
    pub fn claims_a_service(header: &Header) -> bool {
        header
            .kid
            .as_deref()
            .is_some_and(|kid| kid.starts_with(SUBJECT_PREFIX))
    }

    fn verify_token(&self, token: &str) -> Result<Caller, ApiError> {
        self.verify_token_at(token, chrono::Utc::now().timestamp())
    }

    /// Verifies `token` as of `now` (seconds since the epoch): its
    /// signature once, its claims each time.
    fn verify_token_at(&self, token: &str, now: i64) -> Result<Caller, ApiError> {
        let (claims, name) = match self.verified.get(token) {
            Some(verified) => verified,
            None => {
                let (name, claims) = self.verify_signature(token)?;
                self.verified.remember(token, &claims, name.clone(), now);
                (claims, name)
            }
        };
        judge(&name, claims, now, self.max_lifetime)
    }

    /// The service `token` names and its claims, once its signature is
    /// found to be that service's.
    fn verify_signature(&self, token: &str) -> Result<(String, Claims), ApiError> {
        let invalid = invalid_token;
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(e.to_string()))?;
        let name = header
            .kid
            .as_deref()
            .and_then(|kid| kid.strip_prefix(SUBJECT_PREFIX))
            .ok_or_else(|| invalid("a service token names its service as `kid`".into()))?;
        let key = self
            .keys
            .get(name)
            .ok_or_else(|| invalid("no such service".into()))?;
        let validation = validation(
            Algorithm::ES256,
            &self.issuer,
            &["exp", "iss", "sub", "iat"],
        );
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| invalid(e.to_string()))?;
        Ok((name.to_owned(), data.claims))
    }
}

/// Judges the claims of a token signed by service `name` at `now`: in
/// time, and naming that service, the whole tree and the service role only.
fn judge(
    name: &str,
    claims: Claims,
    now: i64,
    max_lifetime: chrono::Duration,
) -> Result<Caller, ApiError> {
    in_time(&claims, now)?;
    let caller = check_claims(claims, now, max_lifetime)?;
    if caller.subject != format!("{SUBJECT_PREFIX}{name}")
        || caller.roles != [Role::Service]
        || !caller.org_path.is_empty()
    {
        return Err(invalid_token(
            "a service token names its own service, the whole tree and the service role only",
        ));
    }
    Ok(caller)
}

/// Reads a P-256 public key (SPKI PEM) as a verifying key.
fn public_key(path: &Path) -> anyhow::Result<DecodingKey> {
    use base64::Engine;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::DecodePublicKey;
    let pem = String::from_utf8(read_bounded(path)?)?;
    let key = p256::PublicKey::from_public_key_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not a P-256 public key: {e}", path.display()))?;
    let point = key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        anyhow::bail!("{} holds the point at infinity", path.display());
    };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(DecodingKey::from_ec_components(&b64(x), &b64(y))?)
}

impl TokenVerifier for ServicePeers {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, ApiError>> {
        Box::pin(std::future::ready(self.verify_token(token)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::LEEWAY_SECONDS;

    fn keys(services: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        ensure_keys(dir.path(), services).expect("keys");
        dir
    }

    #[test]
    fn a_service_token_verifies_only_under_its_own_key() {
        let dir = keys(&["issues", "ledgers"]);
        let peers = ServicePeers::load(dir.path(), "fiveledger", chrono::Duration::hours(1))
            .expect("peers");
        let issues =
            ServiceKey::load("issues", &key_file(dir.path(), "issues"), "fiveledger").expect("key");
        let caller = peers.verify_token(&issues.token()).expect("valid");
        assert_eq!(caller.subject, "service:issues");
        assert_eq!(service_name(&caller), Some("issues"));
        assert_eq!(issues.token(), issues.token(), "reused while fresh");

        // The issues key cannot speak for ledgers: a token naming ledgers
        // as its kid but signed by issues fails its signature.
        let forged = {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("service:ledgers".into());
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                sub: "service:ledgers".into(),
                org: Some(ROOT_ORG.into()),
                roles: vec!["service".into()],
                iss: "fiveledger".into(),
                iat: now,
                nbf: None,
                exp: now + 60,
            };
            jsonwebtoken::encode(&header, &claims, &issues.encoding).expect("signs")
        };
        assert!(peers.verify_token(&forged).is_err());

        // A service nobody provisioned is unknown; another issuer refused.
        let other = keys(&["stranger"]);
        let stranger = ServiceKey::load(
            "stranger",
            &key_file(other.path(), "stranger"),
            "fiveledger",
        )
        .expect("key");
        assert!(peers.verify_token(&stranger.token()).is_err());
        let elsewhere =
            ServiceKey::load("issues", &key_file(dir.path(), "issues"), "elsewhere").expect("key");
        assert!(peers.verify_token(&elsewhere.token()).is_err());
    }

    /// The issues service's key, and peers that know it.
    fn issues_and_its_peers() -> (tempfile::TempDir, ServicePeers, ServiceKey) {
        let dir = keys(&["issues"]);
        let peers = ServicePeers::load(dir.path(), "fiveledger", chrono::Duration::hours(1))
            .expect("peers");
        let issues =
            ServiceKey::load("issues", &key_file(dir.path(), "issues"), "fiveledger").expect("key");
        (dir, peers, issues)
    }

    #[test]
    fn a_remembered_token_is_still_judged_by_the_clock_and_only_its_exact_text_is_remembered() {
        let (_dir, peers, issues) = issues_and_its_peers();
        let token = issues.mint(Duration::from_secs(120));
        let now = chrono::Utc::now().timestamp();
        let caller = peers.verify_token_at(&token, now).expect("valid");
        assert_eq!(caller.subject, "service:issues");
        assert_eq!(peers.verified.len(), 1, "its signature is remembered");
        assert_eq!(
            peers
                .verify_token_at(&token, now + 60)
                .expect("still valid")
                .subject,
            "service:issues"
        );

        // Past its exp and the leeway, the remembered token is refused.
        let late = now + 120 + LEEWAY_SECONDS as i64 + 2;
        let err = peers.verify_token_at(&token, late).expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
        // Issued in the future as seen from an earlier clock: refused too.
        let early = now - LEEWAY_SECONDS as i64 - 2;
        assert!(peers.verify_token_at(&token, early).is_err());

        // The same claims under another signature are checked afresh and
        // refused: a remembered token stands only for its exact text.
        let (head, signature) = token.rsplit_once('.').expect("three parts");
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}.{flipped}{}", &signature[1..]);
        assert!(peers.verify_token_at(&tampered, now).is_err());
        assert_eq!(peers.verified.len(), 1, "a refused token is not remembered");
    }

    #[test]
    fn remembered_tokens_are_bounded_and_the_expired_go_first() {
        let (_dir, peers, issues) = issues_and_its_peers();
        let now = chrono::Utc::now().timestamp();
        // Distinct tokens: each lives a second longer than the one before.
        let tokens: Vec<String> = (0..=MAX_VERIFIED as u64)
            .map(|i| issues.mint(Duration::from_secs(60 + i)))
            .collect();
        for token in &tokens[..MAX_VERIFIED] {
            peers.verify_token_at(token, now).expect("valid");
        }
        assert_eq!(peers.verified.len(), MAX_VERIFIED);
        // Later, when the first tokens have expired: they make room.
        let later = now + 60 + LEEWAY_SECONDS as i64 + 10;
        peers
            .verify_token_at(&tokens[MAX_VERIFIED], later)
            .expect("valid");
        let remembered = peers.verified.len();
        assert!(remembered <= MAX_VERIFIED, "{remembered}");
        assert!(
            remembered < MAX_VERIFIED - 5,
            "the expired were dropped: {remembered}"
        );
    }

    #[test]
    fn keys_are_created_once_and_the_private_one_is_private() {
        let dir = keys(&["rounds"]);
        let before = std::fs::read(key_file(dir.path(), "rounds")).expect("key");
        ensure_keys(dir.path(), &["rounds"]).expect("again");
        assert_eq!(
            std::fs::read(key_file(dir.path(), "rounds")).expect("key"),
            before
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(dir.path(), "rounds"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }

    #[test]
    fn tables_grant_only_what_they_name() {
        const CALLS: ServiceCalls = &[("issues", &["/a/B"])];
        assert_eq!(granted(CALLS, "issues"), &["/a/B"]);
        assert!(granted(CALLS, "ledgers").is_empty());
    }
}
