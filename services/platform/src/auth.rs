//! Authentication and authorisation: bearer JWTs name the caller, their
//! organisation (by path) and their roles; each service declares the roles
//! every RPC needs in one table, and anything not in the table is denied.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::error::ApiError;
use crate::settings::AuthSettings;

/// What a caller may be. Admin may call everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// Operator of the whole installation.
    Admin,
    /// Inspection office (巡视办/巡察办): plans rounds, staffs groups, follows items.
    InspectionOffice,
    /// Member of an inspection group (巡察组).
    InspectionGroup,
    /// Inspected unit (被巡察单位): receives its list, rectifies.
    InspectedUnit,
    /// Supervising body (纪委监委, 组织部, 宣传部, functional departments).
    Supervisor,
    /// Discipline commission (纪委监委): the only holder of clues besides the office.
    DisciplineCommission,
    /// Reads within its scope.
    Viewer,
    /// The public: reads publications only.
    Public,
    /// Another fiveledger service.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::InspectionOffice => "inspection_office",
            Role::InspectionGroup => "inspection_group",
            Role::InspectedUnit => "inspected_unit",
            Role::Supervisor => "supervisor",
            Role::DisciplineCommission => "discipline_commission",
            Role::Viewer => "viewer",
            Role::Public => "public",
            Role::Service => "service",
        }
    }
}

/// The claims of our tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who: a person's or a service's id.
    pub sub: String,
    /// Organisation path of the caller (`guangxi/nanning`); empty for the
    /// whole tree.
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// The verified caller, available to every handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    /// Organisation path; the caller's scope is this subtree.
    pub org_path: String,
    pub roles: Vec<Role>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }

    /// True when `path` is the caller's organisation or lies under it.
    pub fn can_see(&self, path: &str) -> bool {
        in_subtree(path, &self.org_path)
    }

    /// The actor recorded on postings and events.
    pub fn actor(&self) -> String {
        self.subject.clone()
    }

    /// The verified caller of a request (set by the auth layer).
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("no verified caller".into()).into())
    }
}

/// True when `path` equals `root` or is one of its descendants; the empty
/// root is the whole tree.
pub fn in_subtree(path: &str, root: &str) -> bool {
    root.is_empty()
        || path == root
        || (path.len() > root.len()
            && path.starts_with(root)
            && path.as_bytes()[root.len()] == b'/')
}

/// Verifies bearer tokens. HS256 today; RS256/JWKS can implement this too.
pub trait TokenVerifier: Send + Sync + 'static {
    fn verify(&self, token: &str) -> Result<Caller, ApiError>;
}

/// Signs and verifies HS256 tokens with one shared key.
#[derive(Clone)]
pub struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
}

impl std::fmt::Debug for Hs256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hs256")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Shortest key we accept (bytes).
const MIN_KEY_LEN: usize = 16;

impl Hs256 {
    pub fn new(secret: &[u8], issuer: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_KEY_LEN,
            "the token key must be at least {MIN_KEY_LEN} bytes"
        );
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_owned(),
        })
    }

    /// Builds the signer from settings: `secret`, else the key in
    /// `secret_file`. With `create_in` set and no key configured, a random
    /// key is created in that folder (local suite only).
    pub fn from_settings(
        settings: &AuthSettings,
        create_in: Option<&Path>,
    ) -> anyhow::Result<Self> {
        if !settings.secret.is_empty() {
            return Self::new(settings.secret.as_bytes(), &settings.issuer);
        }
        let file = match (&settings.secret_file, create_in) {
            (Some(file), _) => file.clone(),
            (None, Some(dir)) => dir.join("token.key"),
            (None, None) => anyhow::bail!(
                "no token key: set FIVELEDGER_AUTH__SECRET or FIVELEDGER_AUTH__SECRET_FILE"
            ),
        };
        if !file.exists() && create_in.is_some() {
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let key: [u8; 32] = rand::random();
            std::fs::write(&file, hex::encode(key))?;
        }
        let secret = std::fs::read_to_string(&file)
            .map_err(|e| anyhow::anyhow!("reading token key {}: {e}", file.display()))?;
        Self::new(secret.trim().as_bytes(), &settings.issuer)
    }

    /// Mints a token valid for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        org_path: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            org: org_path.to_owned(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + ttl.num_seconds(),
        };
        // Encoding HS256 with a valid key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }
}

impl TokenVerifier for Hs256 {
    fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| ApiError::Unauthenticated(format!("invalid token: {e}")))?;
        let claims = data.claims;
        let roles = claims
            .roles
            .iter()
            .filter_map(|r| serde_json::from_value(serde_json::Value::String(r.clone())).ok())
            .collect();
        Ok(Caller {
            subject: claims.sub,
            org_path: claims.org,
            roles,
        })
    }
}

/// The roles each RPC needs, by full method path
/// (`/fiveledger.rounds.v1.OrganisationService/CreateOrganisation`).
pub type RoleTable = &'static [(&'static str, &'static [Role])];

/// Paths that need no token: health and reflection.
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// The checks run before any handler: readiness, token, role.
#[derive(Clone)]
pub struct Gate {
    verifier: Arc<dyn TokenVerifier>,
    table: Arc<HashMap<&'static str, &'static [Role]>>,
    ready: Arc<AtomicBool>,
}

impl Gate {
    pub fn new(verifier: Arc<dyn TokenVerifier>, tables: &[RoleTable]) -> Self {
        let table = tables.iter().flat_map(|t| t.iter().copied()).collect();
        Self {
            verifier,
            table: Arc::new(table),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Decides a call: `Ok(None)` for public paths, `Ok(Some(caller))` for an
    /// authorised one.
    pub fn authorize(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Caller>, Status> {
        if is_public(path) {
            return Ok(None);
        }
        if !self.ready.load(Ordering::SeqCst) {
            return Err(crate::error::not_ready());
        }
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Status::from(ApiError::Unauthenticated(
                    "missing `authorization: Bearer <token>` metadata".into(),
                ))
            })?;
        let caller = self.verifier.verify(token.trim())?;
        let allowed = self.table.get(path).copied().unwrap_or(&[]);
        if !caller.has_any(allowed) {
            return Err(ApiError::PermissionDenied(format!(
                "{path} needs one of the roles: {}",
                allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
        Ok(Some(caller))
    }
}

impl<S> tower::Layer<S> for Gate {
    type Service = Gated<S>;
    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            gate: self.clone(),
            inner,
        }
    }
}

/// A service behind the [`Gate`].
#[derive(Clone)]
pub struct Gated<S> {
    gate: Gate,
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for Gated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.gate.authorize(request.uri().path(), request.headers()) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    request.extensions_mut().insert(caller);
                }
                // The clone is ready only after poll_ready; call the one that was polled.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                // tonic enforces the caller's `grpc-timeout` on the handler;
                // we also remember it, so calls the handler makes on its
                // behalf carry what is left of it (see [`ServiceCredentials`]).
                let deadline = grpc_timeout(request.headers().get(GRPC_TIMEOUT))
                    .and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
                Box::pin(CALL_DEADLINE.scope(deadline, inner.call(request)))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

const GRPC_TIMEOUT: &str = "grpc-timeout";

tokio::task_local! {
    /// The deadline of the incoming call being handled, if its caller set
    /// one. A task-local scoped around the handler's future (by [`Gated`])
    /// reaches every outgoing call the handler makes, however deep, without
    /// threading the request through the domain code; it is absent from
    /// spawned tasks (event consumers, sweeps), which work for nobody's
    /// deadline and keep the channel's fixed timeout. (The tracing span would
    /// carry it too, but only while spans are recorded, and less plainly.)
    static CALL_DEADLINE: Option<tokio::time::Instant>;
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`).
fn grpc_timeout<V: AsRef<[u8]>>(value: Option<V>) -> Option<Duration> {
    let value = value?;
    let (unit, digits) = value.as_ref().split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Adds this service's own token, the current trace context and what is
/// left of the deadline of the call being handled to every outgoing call.
#[derive(Clone)]
pub struct ServiceCredentials {
    signer: Hs256,
    service: String,
}

impl ServiceCredentials {
    pub fn new(signer: Hs256, service: &str) -> Self {
        Self {
            signer,
            service: service.to_owned(),
        }
    }
}

impl tonic::service::Interceptor for ServiceCredentials {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let token = self.signer.mint(
            &format!("service:{}", self.service),
            "",
            &[Role::Service],
            chrono::Duration::minutes(5),
        );
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", value);
        crate::telemetry::inject_current(request.metadata_mut());
        if let Some(deadline) = CALL_DEADLINE.try_with(|d| *d).ok().flatten() {
            // Fail fast: the caller has given up, so asking would be wasted.
            let left = deadline
                .checked_duration_since(tokio::time::Instant::now())
                .filter(|left| !left.is_zero())
                .ok_or_else(|| {
                    Status::deadline_exceeded("the deadline of the call being handled has passed")
                })?;
            // A shorter timeout the call site set itself still wins.
            let own = grpc_timeout(request.metadata().get(GRPC_TIMEOUT).map(|v| v.as_bytes()));
            if own.is_none_or(|own| left < own) {
                request.set_timeout(left);
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree() {
        assert!(in_subtree("gx/nn", "gx"));
        assert!(in_subtree("gx", "gx"));
        assert!(in_subtree("gx", ""));
        assert!(!in_subtree("gxa/nn", "gx"));
        assert!(!in_subtree("gx", "gx/nn"));
    }

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let signer = Hs256::new(b"0123456789abcdef0123", "fiveledger").expect("key");
        let token = signer.mint(
            "u1",
            "gx/nn",
            &[Role::InspectionOffice],
            chrono::Duration::minutes(1),
        );
        let caller = signer.verify(&token).expect("valid");
        assert_eq!(caller.org_path, "gx/nn");
        assert!(caller.has_role(Role::InspectionOffice));
        assert!(!caller.has_role(Role::Admin));
        let other = Hs256::new(b"another-key-0123456789", "fiveledger").expect("key");
        assert!(other.verify(&token).is_err());
        let expired = signer.mint("u1", "", &[], chrono::Duration::minutes(-5));
        assert!(signer.verify(&expired).is_err());
    }

    #[test]
    fn grpc_timeouts_parse_by_the_spec() {
        let parse = |v: &str| grpc_timeout(Some(v));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(parse("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "m", "123456789m", "5s", "+5m", "1.5S", "5"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    fn outgoing(
        deadline: Option<tokio::time::Instant>,
        own: Option<Duration>,
    ) -> Result<Option<Duration>, Status> {
        let mut credentials = ServiceCredentials::new(
            Hs256::new(b"0123456789abcdef0123", "fiveledger").expect("key"),
            "issues",
        );
        let mut request = tonic::Request::new(());
        if let Some(own) = own {
            request.set_timeout(own);
        }
        let call = || {
            tonic::service::Interceptor::call(&mut credentials, request)
                .map(|r| grpc_timeout(r.metadata().get(GRPC_TIMEOUT).map(|v| v.as_bytes())))
        };
        match deadline {
            Some(deadline) => CALL_DEADLINE.sync_scope(Some(deadline), call),
            None => call(),
        }
    }

    #[test]
    fn outgoing_calls_carry_what_is_left_of_the_incoming_deadline() {
        let now = tokio::time::Instant::now();
        let left = outgoing(Some(now + Duration::from_secs(5)), None)
            .expect("in time")
            .expect("a grpc-timeout");
        assert!(
            left > Duration::from_secs(4) && left < Duration::from_secs(5),
            "{left:?}"
        );

        // The call site's own shorter timeout wins; a longer one is cut.
        let short = Duration::from_millis(100);
        assert_eq!(
            outgoing(Some(now + Duration::from_secs(5)), Some(short)).expect("in time"),
            Some(short)
        );
        let cut = outgoing(
            Some(now + Duration::from_secs(5)),
            Some(Duration::from_secs(60)),
        )
        .expect("in time")
        .expect("a grpc-timeout");
        assert!(cut < Duration::from_secs(5), "{cut:?}");

        // Past the deadline, nothing is sent.
        let status = outgoing(Some(now - Duration::from_millis(1)), None).expect_err("too late");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);

        // Outside a handler (event consumers, sweeps) no deadline is set:
        // the channel's own timeout applies.
        assert_eq!(outgoing(None, None).expect("no deadline"), None);
    }
}
