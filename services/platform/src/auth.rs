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
use crate::verified_tokens::{VerifiedTokens, in_time};

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

/// The `org` claim of a token scoped to the whole tree: a root scope is
/// always written out, never implied by a missing or empty claim.
pub const ROOT_ORG: &str = "/";
/// Longest `sub` we accept.
pub const MAX_SUBJECT_LEN: usize = 256;
/// Longest `org` path we accept.
pub const MAX_ORG_LEN: usize = 512;
/// Clock skew tolerated on `nbf`, `iat` and `exp` (seconds).
pub const LEEWAY_SECONDS: u64 = 60;

/// The claims of our tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who: a person's or a service's id. Required, non-empty.
    pub sub: String,
    /// Organisation path of the caller (`guangxi/nanning`, or the body of a
    /// level such as `guangxi/nanning/nanning-office`); [`ROOT_ORG`] for the
    /// whole tree. Required.
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    pub iat: i64,
    /// Not before (checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// The verified caller, available to every handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    /// The organisation the token names (a level, a body of a level, or a
    /// unit); empty for the whole tree. Bodies are judged by this path: the
    /// supervising or receiving body a caller acts for, the unit it is.
    pub org_path: String,
    /// The subtree the caller works in: for the body of a level (its
    /// inspection office, discipline commission, organisation or propaganda
    /// department) the level it serves, otherwise `org_path`. Set by the
    /// [`Gate`] from the organisation directory ([`Levels`]).
    pub scope_path: String,
    pub roles: Vec<Role>,
}

impl Caller {
    /// A caller whose scope is its own organisation (before the level of a
    /// body is known, or where it is the same).
    pub fn new(subject: &str, org_path: &str, roles: &[Role]) -> Self {
        Self {
            subject: subject.to_owned(),
            org_path: org_path.to_owned(),
            scope_path: org_path.to_owned(),
            roles: roles.to_vec(),
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }

    /// True when `path` lies in the subtree the caller works in.
    pub fn can_see(&self, path: &str) -> bool {
        in_subtree(path, &self.scope_path)
    }

    /// True when `path` is the caller's own organisation or lies under it
    /// (the body it acts for, or the unit it is).
    pub fn is_or_holds(&self, path: &str) -> bool {
        in_subtree(path, &self.org_path)
    }

    /// True when the caller's scope is the whole tree.
    pub fn is_root(&self) -> bool {
        self.scope_path.is_empty()
    }

    /// Who the caller is, as one key: subject, organisation and roles. Two
    /// tokens of one subject for different organisations or roles are two
    /// callers (request ids, rate limits).
    pub fn key(&self) -> String {
        let mut roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        roles.sort_unstable();
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.subject,
            self.org_path,
            roles.join(",")
        )
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

/// Verifies bearer tokens: the local suite's HS256 key ([`Hs256`]), an
/// identity provider's keys ([`crate::oidc::Jwks`]), or either
/// ([`crate::oidc::Verifiers`]).
pub trait TokenVerifier: Send + Sync + 'static {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, ApiError>>;
}

/// Signs and verifies HS256 tokens with one shared key.
#[derive(Clone)]
pub struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    max_lifetime: chrono::Duration,
    /// Tokens whose signature was found good (shared by clones: one key).
    verified: Arc<VerifiedTokens<()>>,
}

/// Most people's tokens a verifier remembers as verified: a few MiB at
/// most (a token is well under a KiB).
pub(crate) const MAX_VERIFIED_PEOPLE: usize = 4096;

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
            max_lifetime: chrono::Duration::seconds(AuthSettings::default().max_lifetime_seconds),
            verified: Arc::new(VerifiedTokens::new(MAX_VERIFIED_PEOPLE)),
        })
    }

    /// Refuses tokens living longer than `max` (from `iat` to `exp`).
    pub fn with_max_lifetime(mut self, max: chrono::Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// The longest lifetime a token may have.
    pub fn max_lifetime(&self) -> chrono::Duration {
        self.max_lifetime
    }

    /// Builds the signer from settings: `secret`, else the key in
    /// `secret_file`. With `create_in` set and no key configured, a random
    /// key is created in that folder (local suite only).
    pub fn from_settings(
        settings: &AuthSettings,
        create_in: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let max = chrono::Duration::seconds(settings.max_lifetime_seconds);
        if !settings.secret.is_empty() {
            return Ok(
                Self::new(settings.secret.as_bytes(), &settings.issuer)?.with_max_lifetime(max)
            );
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
        Ok(Self::new(secret.trim().as_bytes(), &settings.issuer)?.with_max_lifetime(max))
    }

    /// Mints a token valid for `ttl`; an empty `org_path` is the whole tree
    /// (written as [`ROOT_ORG`]).
    pub fn mint(
        &self,
        subject: &str,
        org_path: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> String {
        self.sign(&self.claims(subject, org_path, roles, ttl))
    }

    fn claims(
        &self,
        subject: &str,
        org_path: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: subject.to_owned(),
            org: Some(if org_path.is_empty() {
                ROOT_ORG.to_owned()
            } else {
                org_path.to_owned()
            }),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iss: self.issuer.clone(),
            iat: now,
            nbf: None,
            exp: now + ttl.num_seconds(),
        }
    }

    /// As [`Hs256::mint`], with the person's display name in the standard
    /// OpenID Connect `name` claim (empty: none). The services do not read
    /// it; the CLI shows it as who made an export.
    pub fn mint_named(
        &self,
        subject: &str,
        name: &str,
        org_path: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> String {
        let claims = self.claims(subject, org_path, roles, ttl);
        let Ok(serde_json::Value::Object(mut claims)) = serde_json::to_value(&claims) else {
            return self.sign(&claims);
        };
        if !name.is_empty() {
            claims.insert("name".into(), name.into());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    /// Signs any claims (tests use it for tokens `mint` would not make).
    pub fn sign(&self, claims: &Claims) -> String {
        // Encoding HS256 with a valid key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }
}

pub(crate) fn invalid_token(why: impl std::fmt::Display) -> ApiError {
    ApiError::Unauthenticated(format!("invalid token: {why}"))
}

/// How every verifier checks a token's signature algorithm, issuer, spec
/// claims (`required`), `nbf` and clock skew; what the signature cannot
/// tell is [`check_claims`]'s.
pub(crate) fn validation(alg: Algorithm, issuer: &str, required: &[&str]) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(required);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECONDS;
    validation
}

/// Checks what the signature cannot: a subject, an organisation (the root
/// only when written out), an issue time not ahead and a bounded lifetime.
/// Fails closed: a claim missing or out of bounds refuses the token.
pub fn check_claims(
    claims: Claims,
    now: i64,
    max_lifetime: chrono::Duration,
) -> Result<Caller, ApiError> {
    let sub = claims.sub.trim();
    if sub.is_empty() {
        return Err(invalid_token("`sub` is empty"));
    }
    if sub.len() > MAX_SUBJECT_LEN || sub.chars().any(char::is_control) {
        return Err(invalid_token(format!(
            "`sub` must be at most {MAX_SUBJECT_LEN} bytes of printable text"
        )));
    }
    let leeway = LEEWAY_SECONDS as i64;
    if claims.iat > now + leeway {
        return Err(invalid_token("`iat` is in the future"));
    }
    if claims.exp - claims.iat > max_lifetime.num_seconds() {
        return Err(invalid_token(format!(
            "the token lives longer than the {} s allowed",
            max_lifetime.num_seconds()
        )));
    }
    let org_path = match claims.org.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(invalid_token(format!(
                "`org` is missing: name the caller's organisation path, or `{ROOT_ORG}` for the whole tree"
            )));
        }
        Some(ROOT_ORG) => String::new(),
        Some(path) => {
            if path.len() > MAX_ORG_LEN || crate::aip::names::parse_path("org", path).is_err() {
                return Err(invalid_token(
                    "`org` must be an organisation path like guangxi/nanning",
                ));
            }
            path.to_owned()
        }
    };
    let roles: Vec<Role> = claims
        .roles
        .iter()
        .filter_map(|r| serde_json::from_value(serde_json::Value::String(r.clone())).ok())
        .collect();
    Ok(Caller::new(sub, &org_path, &roles))
}

impl TokenVerifier for Hs256 {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, ApiError>> {
        Box::pin(std::future::ready(self.verify_token(token)))
    }
}

impl Hs256 {
    /// Verifies one of our own tokens: its signature once
    /// ([`crate::verified_tokens`]), its claims each time.
    pub fn verify_token(&self, token: &str) -> Result<Caller, ApiError> {
        self.verify_token_at(token, chrono::Utc::now().timestamp())
    }

    fn verify_token_at(&self, token: &str, now: i64) -> Result<Caller, ApiError> {
        let claims = match self.verified.get(token) {
            Some((claims, ())) => {
                in_time(&claims, now)?;
                claims
            }
            None => {
                let validation = validation(
                    Algorithm::HS256,
                    &self.issuer,
                    &["exp", "iss", "sub", "iat"],
                );
                let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
                    .map_err(invalid_token)?;
                self.verified.remember(token, &data.claims, (), now);
                data.claims
            }
        };
        check_claims(claims, now, self.max_lifetime)
    }
}

/// Which organisations are bodies of a level (纪委监委, 组织部, 宣传部,
/// 巡察办): a token naming one acts for the level it serves. Rounds answers
/// from its own directory; the other services ask rounds and remember.
pub trait Levels: Send + Sync + 'static {
    /// The path of the level `org_path` serves when it is such a body,
    /// else `org_path` itself (a level, a unit, or a name nobody knows).
    fn level_of<'a>(&'a self, org_path: &'a str) -> BoxFuture<'a, Result<String, ApiError>>;
}

/// Whether an organisation of this kind is a body serving its level (its
/// scope is the level's subtree), rather than a unit in its own right.
pub fn serves_level(kind: fiveledger_proto::rounds::OrganisationKind) -> bool {
    use fiveledger_proto::rounds::OrganisationKind as K;
    matches!(
        kind,
        K::DisciplineCommission
            | K::OrganisationDepartment
            | K::PropagandaDepartment
            | K::InspectionOffice
    )
}

/// Whether an organisation a step names (a supervising or receiving body,
/// a functional department) is one the work on `target` in a round run by
/// `level` may reach: a body of the running level itself, or anything in
/// the target's own subtree. Never a sibling's, never a level above.
pub fn within_reach(path: &str, level: &str, target: &str) -> bool {
    (!level.is_empty() && parent_path(path) == level)
        || (!target.is_empty() && in_subtree(path, target))
}

/// The level a body at `path` serves: its parent.
pub fn parent_path(path: &str) -> &str {
    path.rsplit_once('/')
        .map(|(parent, _)| parent)
        .unwrap_or("")
}

/// Roles a body of a level holds when it acts for that level; an inspected
/// unit, the public, services and administrators are judged as they are.
const LEVEL_ROLES: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::DisciplineCommission,
    Role::Supervisor,
    Role::Viewer,
];

impl Caller {
    /// Whether the caller's scope depends on what its organisation is.
    fn needs_level(&self) -> bool {
        !self.org_path.is_empty() && self.roles.iter().any(|r| LEVEL_ROLES.contains(r))
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
    levels: Option<Arc<dyn Levels>>,
    limits: Option<crate::limits::CallerLimits>,
    service_calls: crate::service_identity::ServiceCalls,
}

impl Gate {
    /// A gate by `tables` for people; services may call nothing until
    /// [`Gate::with_service_calls`] names what.
    pub fn new(verifier: Arc<dyn TokenVerifier>, tables: &[RoleTable]) -> Self {
        let table = tables.iter().flat_map(|t| t.iter().copied()).collect();
        Self {
            verifier,
            table: Arc::new(table),
            ready: Arc::new(AtomicBool::new(false)),
            levels: None,
            limits: None,
            service_calls: &[],
        }
    }

    /// The RPCs each peer service may call here (its role alone grants none).
    pub fn with_service_calls(mut self, calls: crate::service_identity::ServiceCalls) -> Self {
        self.service_calls = calls;
        self
    }

    /// Limits each caller's rate and requests in flight.
    pub fn with_limits(mut self, limits: crate::limits::CallerLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Resolves the level a body of a level acts for (see [`Caller::scope_path`]).
    /// Without it every caller's scope is the organisation its token names.
    pub fn with_levels(mut self, levels: Arc<dyn Levels>) -> Self {
        self.levels = Some(levels);
        self
    }

    /// The caller with its scope set to the level its organisation serves.
    async fn scoped(levels: Option<Arc<dyn Levels>>, mut caller: Caller) -> Result<Caller, Status> {
        if let Some(levels) = levels.filter(|_| caller.needs_level()) {
            caller.scope_path = levels.level_of(&caller.org_path).await?;
        }
        Ok(caller)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Decides a call: `Ok(None)` for public paths, `Ok(Some(caller))` for an
    /// authorised one, scoped to the level it acts for. `authorization` is
    /// the request's header, if any; `peer` what TLS said of the connection.
    pub async fn authorize(
        &self,
        path: &str,
        authorization: Option<&str>,
        peer: &crate::tls::Peer,
    ) -> Result<Option<Caller>, Status> {
        if is_public(path) {
            return Ok(None);
        }
        if !self.ready.load(Ordering::SeqCst) {
            return Err(crate::error::not_ready());
        }
        let token = authorization
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Status::from(ApiError::Unauthenticated(
                    "missing `authorization: Bearer <token>` metadata".into(),
                ))
            })?;
        let caller = self.verifier.verify(token.trim()).await?;
        let service = crate::service_identity::service_name(&caller);
        // Over mutual TLS a service is who its certificate says, too: its
        // token is honoured only on a connection with its own certificate.
        // (People's tokens ride any certified connection: a service may ask
        // on a person's behalf, with that person's rights.)
        if let crate::tls::Peer::Certified { service: certified } = peer
            && service.is_some()
            && service != *certified
        {
            return Err(ApiError::PermissionDenied(format!(
                "a token of service {} on a connection whose certificate is {}",
                service.unwrap_or_default(),
                certified.map_or_else(
                    || "no service's".to_owned(),
                    |name| format!("service {name}'s")
                ),
            ))
            .into());
        }
        if let Some(service) = service {
            if !crate::service_identity::granted(self.service_calls, service).contains(&path) {
                return Err(ApiError::PermissionDenied(format!(
                    "{path} is not among the calls service {service} may make here"
                ))
                .into());
            }
            return Ok(Some(caller));
        }
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
        Ok(Some(Gate::scoped(self.levels.clone(), caller).await?))
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
        // The clone is ready only after poll_ready; call the one that was polled.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // tonic enforces the caller's `grpc-timeout` on the handler; we also
        // remember it, so calls the handler makes on its behalf carry what is
        // left of it (see [`ServiceCredentials`]).
        let deadline = grpc_timeout(request.headers().get(GRPC_TIMEOUT))
            .and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
        let gate = self.gate.clone();
        let path = request.uri().path().to_owned();
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let peer = request
            .extensions()
            .get::<crate::tls::Peer>()
            .cloned()
            .unwrap_or_default();
        Box::pin(CALL_DEADLINE.scope(deadline, async move {
            let caller = match gate.authorize(&path, authorization.as_deref(), &peer).await {
                Ok(caller) => caller,
                Err(status) => return Ok(status.into_http()),
            };
            // Held until the handler answers: its place in flight.
            let mut _admitted = None;
            if let Some(caller) = caller {
                if let Some(limits) = &gate.limits {
                    match limits.admit(&caller) {
                        Ok(admitted) => _admitted = Some(admitted),
                        Err(status) => return Ok(status.into_http()),
                    }
                }
                if let Some(slot) = request
                    .extensions()
                    .get::<crate::served_calls::CallerSlot>()
                {
                    slot.set(&caller.subject);
                }
                request.extensions_mut().insert(caller);
            }
            let response = inner.call(request).await?;
            Ok(crate::error::malformed_request_answer(response))
        }))
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

/// True while handling a call whose caller's deadline has passed: what
/// failed on its behalf since failed for want of time, not because a
/// dependency is down.
pub fn call_deadline_passed() -> bool {
    CALL_DEADLINE
        .try_with(|d| *d)
        .ok()
        .flatten()
        .is_some_and(|deadline| deadline <= tokio::time::Instant::now())
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

/// Adds this service's own token (signed by its own key, see
/// [`crate::service_identity`]), the current trace context and what is
/// left of the deadline of the call being handled to every outgoing call.
#[derive(Clone)]
pub struct ServiceCredentials {
    identity: Identity,
}

#[derive(Clone)]
enum Identity {
    /// A service: tokens signed by its own key.
    Key(Arc<crate::service_identity::ServiceKey>),
    /// A fixed bearer token: a tool or test that follows events as a
    /// whole-tree administrator.
    Bearer(String),
}

impl ServiceCredentials {
    pub fn new(key: Arc<crate::service_identity::ServiceKey>) -> Self {
        Self {
            identity: Identity::Key(key),
        }
    }

    /// Calls carrying `token` (not a service's own identity).
    pub fn bearer(token: String) -> Self {
        Self {
            identity: Identity::Bearer(token),
        }
    }
}

impl tonic::service::Interceptor for ServiceCredentials {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let token = match &self.identity {
            Identity::Key(key) => key.token(),
            Identity::Bearer(token) => token.clone(),
        };
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("token is not valid metadata"))?;
        // A call made on a caller's behalf carries that caller's token.
        if !request.metadata().contains_key("authorization") {
            request.metadata_mut().insert("authorization", value);
        }
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
        let caller = signer.verify_token(&token).expect("valid");
        assert_eq!(caller.org_path, "gx/nn");
        assert!(caller.has_role(Role::InspectionOffice));
        assert!(!caller.has_role(Role::Admin));
        let other = Hs256::new(b"another-key-0123456789", "fiveledger").expect("key");
        assert!(other.verify_token(&token).is_err());
        let expired = signer.mint("u1", "", &[], chrono::Duration::minutes(-5));
        assert!(signer.verify_token(&expired).is_err());
    }

    #[test]
    fn a_remembered_token_is_still_judged_each_time_and_only_its_exact_text_is_remembered() {
        let signer = Hs256::new(b"0123456789abcdef0123", "fiveledger").expect("key");
        let token = signer.mint(
            "u1",
            "gx/nn",
            &[Role::Viewer],
            chrono::Duration::seconds(120),
        );
        let now = chrono::Utc::now().timestamp();
        let first = signer.verify_token_at(&token, now).expect("valid");
        assert_eq!(signer.verified.len(), 1, "its signature is remembered");
        // A clone shares what its key verified.
        let again = signer.clone().verify_token_at(&token, now + 60);
        assert_eq!(again.expect("still valid"), first);

        // Past its exp and the leeway the remembered token is refused, and
        // so is one issued ahead of an earlier clock.
        let late = now + 120 + LEEWAY_SECONDS as i64 + 2;
        let err = signer.verify_token_at(&token, late).expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
        let early = now - LEEWAY_SECONDS as i64 - 2;
        let err = signer.verify_token_at(&token, early).expect_err("ahead");
        assert!(err.to_string().contains("`iat` is in the future"), "{err}");

        // A well-signed token whose claims fail is refused every time.
        let unscoped = signer.sign(&claims(None));
        for _ in 0..2 {
            let err = signer.verify_token_at(&unscoped, now).expect_err("no org");
            assert!(err.to_string().contains("`org` is missing"), "{err}");
        }

        // The same claims under another signature are checked afresh.
        let (head, signature) = token.rsplit_once('.').expect("three parts");
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}.{flipped}{}", &signature[1..]);
        assert!(signer.verify_token_at(&tampered, now).is_err());
        assert_eq!(signer.verified.len(), 2, "a forged token is not remembered");
    }

    fn claims(org: Option<&str>) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "u1".into(),
            org: org.map(str::to_owned),
            roles: vec!["viewer".into()],
            iss: "fiveledger".into(),
            iat: now,
            nbf: None,
            exp: now + 600,
        }
    }

    #[test]
    fn identity_claims_fail_closed() {
        let signer = Hs256::new(b"0123456789abcdef0123", "fiveledger").expect("key");
        let verify = |c: &Claims| signer.verify_token(&signer.sign(c));
        let reason = |c: &Claims| verify(c).expect_err("refused").to_string();

        let ok = verify(&claims(Some("gx/nn"))).expect("a scoped token");
        assert_eq!(
            (ok.org_path.as_str(), ok.scope_path.as_str()),
            ("gx/nn", "gx/nn")
        );
        // The whole tree only when written out.
        assert_eq!(verify(&claims(Some(ROOT_ORG))).expect("root").org_path, "");
        assert!(reason(&claims(None)).contains("`org` is missing"));
        assert!(reason(&claims(Some(""))).contains("`org` is missing"));
        assert!(reason(&claims(Some("gx//nn"))).contains("`org` must be"));

        let now = chrono::Utc::now().timestamp();
        let not_yet = Claims {
            nbf: Some(now + 3600),
            ..claims(Some("gx"))
        };
        assert!(
            reason(&not_yet).contains("ImmatureSignature"),
            "{}",
            reason(&not_yet)
        );
        let from_the_future = Claims {
            iat: now + 3600,
            exp: now + 7200,
            ..claims(Some("gx"))
        };
        assert!(reason(&from_the_future).contains("`iat` is in the future"));
        let a_century = Claims {
            exp: now + 100 * 365 * 86_400,
            ..claims(Some("gx"))
        };
        assert!(reason(&a_century).contains("lives longer"));
        for sub in ["", "   ", "a\u{7}b"] {
            let nobody = Claims {
                sub: sub.into(),
                ..claims(Some("gx"))
            };
            assert!(verify(&nobody).is_err(), "{sub:?}");
        }
        let long = Claims {
            sub: "x".repeat(MAX_SUBJECT_LEN + 1),
            ..claims(Some("gx"))
        };
        assert!(reason(&long).contains("`sub`"));
        // Minted tokens say the root scope explicitly.
        let minted = signer.mint("svc", "", &[Role::Service], chrono::Duration::minutes(5));
        assert_eq!(signer.verify_token(&minted).expect("minted").org_path, "");
    }

    #[test]
    fn a_caller_key_is_subject_organisation_and_roles() {
        let a = Caller::new("u", "gx/a", &[Role::Viewer, Role::InspectionOffice]);
        let same = Caller::new("u", "gx/a", &[Role::InspectionOffice, Role::Viewer]);
        assert_eq!(a.key(), same.key());
        assert_ne!(a.key(), Caller::new("u", "gx/b", &a.roles).key());
        assert_ne!(a.key(), Caller::new("u", "gx/a", &[Role::Viewer]).key());
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
        let mut credentials = ServiceCredentials::new(Arc::new(
            crate::service_identity::ServiceKey::generate("issues", "fiveledger").expect("key"),
        ));
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

    #[test]
    fn a_dependency_that_times_out_after_the_callers_deadline_is_no_outage() {
        use crate::error::{ApiError, from_upstream};
        let now = tokio::time::Instant::now();
        let timed_out = || Status::cancelled("Timeout expired");
        // The caller's time ran out: DEADLINE_EXCEEDED, not a retry signal.
        let err = CALL_DEADLINE.sync_scope(Some(now - Duration::from_millis(1)), || {
            from_upstream("rounds", "x", timed_out())
        });
        assert!(matches!(err, ApiError::DeadlineExceeded), "{err:?}");
        assert!(!err.is_transient());
        assert_eq!(Status::from(err).code(), tonic::Code::DeadlineExceeded);
        // With time left, the dependency itself was slow: UNAVAILABLE.
        let err = CALL_DEADLINE.sync_scope(Some(now + Duration::from_secs(5)), || {
            from_upstream("rounds", "x", timed_out())
        });
        assert!(err.is_transient(), "{err:?}");
        // NOT_FOUND keeps its meaning whatever the clock says.
        let err = CALL_DEADLINE.sync_scope(Some(now - Duration::from_millis(1)), || {
            from_upstream("rounds", "x", Status::not_found("x"))
        });
        assert!(matches!(err, ApiError::NotFound { .. }), "{err:?}");
    }
}
