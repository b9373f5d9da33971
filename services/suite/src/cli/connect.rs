//! Connections of the admin CLI to the three services, with the caller's
//! bearer token on every call.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use fiveledger_platform::auth::{Hs256, Role};
use fiveledger_proto::issues::category_service_client::CategoryServiceClient;
use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
use fiveledger_proto::ledgers::look_back_service_client::LookBackServiceClient;
use fiveledger_proto::ledgers::publication_service_client::PublicationServiceClient;
use fiveledger_proto::ledgers::statistics_service_client::StatisticsServiceClient;
use fiveledger_proto::ledgers::warning_service_client::WarningServiceClient;
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::inspector_service_client::InspectorServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::round_service_client::RoundServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::failure::{Failed, Failure, fail};

/// Where the services are and who calls them (shared by every subcommand).
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// URL of the rounds service.
    #[arg(
        long,
        env = "FIVELEDGER_ROUNDS_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub rounds: String,
    /// URL of the issues service.
    #[arg(
        long,
        env = "FIVELEDGER_ISSUES_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub issues: String,
    /// URL of the ledgers service.
    #[arg(
        long,
        env = "FIVELEDGER_LEDGERS_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub ledgers: String,
    /// Bearer token; by default an admin token is minted with the local
    /// suite's key (as `fiveledger token` does).
    #[arg(long, env = "FIVELEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Mutual TLS with the `client` certificate, when the settings turn
    /// TLS on (`FIVELEDGER_TLS__*`, as the services read them).
    #[arg(skip)]
    pub tls: Option<fiveledger_platform::tls::ClientTls>,
}

/// Adds `authorization: Bearer …` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// Channels to the three services and the token to call them with.
#[derive(Clone)]
pub struct Services {
    rounds: Channel,
    issues: Channel,
    ledgers: Channel,
    bearer: Bearer,
}

/// Largest message the CLI accepts (an import response holds every row).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

fn endpoint(
    service: &str,
    url: &str,
    tls: Option<&fiveledger_platform::tls::ClientTls>,
) -> anyhow::Result<Channel> {
    // Lazy: an unreachable service is reported by the first call that needs
    // it, naming the service.
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("the {service} URL {url:?} is not valid"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    Ok(match tls {
        Some(tls) => tls.channel(endpoint),
        None => endpoint.connect_lazy(),
    })
}

/// The URLs of the local suite (`fiveledger run`), the defaults.
pub const LOCAL: [&str; 3] = [
    "http://127.0.0.1:50051",
    "http://127.0.0.1:50052",
    "http://127.0.0.1:50053",
];

impl ServiceArgs {
    /// True when every URL is the local suite's.
    pub fn is_local(&self) -> bool {
        [&self.rounds, &self.issues, &self.ledgers]
            .iter()
            .zip(LOCAL)
            .all(|(url, local)| url.trim_end_matches('/') == local)
    }

    /// The arguments with each URL left at its local default taken from the
    /// configured upstreams (`FIVELEDGER_UPSTREAM__ROUNDS` / `__ISSUES` /
    /// `__LEDGERS`), as the services themselves find each other.
    pub fn with_upstreams(
        &self,
        upstream: &fiveledger_platform::settings::UpstreamSettings,
    ) -> Self {
        let pick = |arg: &String, local: &str, configured: &String| {
            if arg.trim_end_matches('/') == local {
                configured.clone()
            } else {
                arg.clone()
            }
        };
        Self {
            rounds: pick(&self.rounds, LOCAL[0], &upstream.rounds),
            issues: pick(&self.issues, LOCAL[1], &upstream.issues),
            ledgers: pick(&self.ledgers, LOCAL[2], &upstream.ledgers),
            token: self.token.clone(),
            tls: self.tls.clone(),
        }
    }

    /// The URLs that are not the local suite's.
    fn remote(&self) -> Vec<&str> {
        [&self.rounds, &self.issues, &self.ledgers]
            .into_iter()
            .zip(LOCAL)
            .filter(|(url, local)| url.trim_end_matches('/') != *local)
            .map(|(url, _)| url.as_str())
            .collect()
    }
}

/// The key that signs the default admin token, if the command may use one:
/// the local suite's (created on first use, as `fiveledger token` does), or
/// a configured key (`FIVELEDGER_AUTH__SECRET` / `__SECRET_FILE`). A remote
/// suite without a token or a configured key is refused, naming what it
/// needs, and no local key is created for it (it could not verify one).
pub fn signer_for(
    args: &ServiceArgs,
    base: &fiveledger_platform::settings::ServerSettings,
) -> anyhow::Result<Option<Hs256>> {
    let configured = !base.auth.secret.is_empty() || base.auth.secret_file.is_some();
    if args.is_local() || configured {
        return Ok(Some(crate::signer(base)?));
    }
    if args.token.is_some() {
        return Ok(None);
    }
    Err(fail(
        Failure::Usage,
        format!(
            "{} is not the local suite, and no token or key was given: pass --token (or set \
             FIVELEDGER_TOKEN) with a token that suite issued, or set FIVELEDGER_AUTH__SECRET \
             (or FIVELEDGER_AUTH__SECRET_FILE) to the key it signs tokens with",
            args.remote().join(", ")
        ),
    ))
}

impl Services {
    /// Connects with `token`, or with an admin token minted by `signer`.
    pub fn connect(args: &ServiceArgs, signer: Option<&Hs256>) -> anyhow::Result<Self> {
        let token = match (&args.token, signer) {
            (Some(token), _) => token.clone(),
            (None, Some(signer)) => admin_token(signer, "local-admin"),
            (None, None) => {
                return Err(fail(
                    Failure::Usage,
                    "no token: pass --token or set FIVELEDGER_TOKEN",
                ));
            }
        };
        Self::with_token(args, &token)
    }

    pub fn with_token(args: &ServiceArgs, token: &str) -> anyhow::Result<Self> {
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .context("the token is not a valid header value")?;
        Ok(Self {
            rounds: endpoint("rounds", &args.rounds, args.tls.as_ref())?,
            issues: endpoint("issues", &args.issues, args.tls.as_ref())?,
            ledgers: endpoint("ledgers", &args.ledgers, args.tls.as_ref())?,
            bearer: Bearer(bearer),
        })
    }

    /// The same channels, calling as someone else.
    pub fn as_caller(&self, token: &str) -> anyhow::Result<Self> {
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .context("the token is not a valid header value")?;
        Ok(Self {
            bearer: Bearer(bearer),
            ..self.clone()
        })
    }

    /// Who the token names (its `sub`), read without verifying it: only
    /// to say who made an export, the services check the token.
    pub fn subject(&self) -> Option<String> {
        self.claim("sub")
    }

    /// Who made an export, as a sheet shows it: the person's name (the
    /// OpenID Connect `name` claim, which identity providers and
    /// `fiveledger token --name` set) with the subject, `张三（zhangsan）`;
    /// the subject alone when the token names no one.
    pub fn exporter(&self) -> String {
        let subject = self.subject().unwrap_or_default();
        match self.claim("name") {
            Some(name) if !name.trim().is_empty() && name != subject => {
                format!("{}（{subject}）", name.trim())
            }
            _ => subject,
        }
    }

    /// A string claim of the token, read without verifying it.
    fn claim(&self, claim: &str) -> Option<String> {
        use base64::Engine as _;
        let token = self.bearer.0.to_str().ok()?.strip_prefix("Bearer ")?;
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        claims[claim].as_str().map(str::to_owned)
    }

    fn authed(&self, channel: &Channel) -> Authed {
        InterceptedService::new(channel.clone(), self.bearer.clone())
    }

    pub fn organisations(&self) -> OrganisationServiceClient<Authed> {
        OrganisationServiceClient::new(self.authed(&self.rounds))
    }
    pub fn inspectors(&self) -> InspectorServiceClient<Authed> {
        InspectorServiceClient::new(self.authed(&self.rounds))
    }
    pub fn rounds(&self) -> RoundServiceClient<Authed> {
        RoundServiceClient::new(self.authed(&self.rounds))
    }
    pub fn groups(&self) -> GroupServiceClient<Authed> {
        GroupServiceClient::new(self.authed(&self.rounds))
    }
    pub fn inspections(&self) -> InspectionServiceClient<Authed> {
        InspectionServiceClient::new(self.authed(&self.rounds))
    }
    pub fn problems(&self) -> ProblemServiceClient<Authed> {
        ProblemServiceClient::new(self.authed(&self.issues))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn categories(&self) -> CategoryServiceClient<Authed> {
        CategoryServiceClient::new(self.authed(&self.issues))
    }
    pub fn clues(&self) -> ClueServiceClient<Authed> {
        ClueServiceClient::new(self.authed(&self.issues))
    }
    pub fn ledger(&self) -> LedgerServiceClient<Authed> {
        LedgerServiceClient::new(self.authed(&self.ledgers)).max_decoding_message_size(MAX_MESSAGE)
    }
    pub fn look_back(&self) -> LookBackServiceClient<Authed> {
        LookBackServiceClient::new(self.authed(&self.ledgers))
            .max_decoding_message_size(MAX_MESSAGE)
    }
    pub fn warnings(&self) -> WarningServiceClient<Authed> {
        WarningServiceClient::new(self.authed(&self.ledgers)).max_decoding_message_size(MAX_MESSAGE)
    }
    pub fn statistics(&self) -> StatisticsServiceClient<Authed> {
        StatisticsServiceClient::new(self.authed(&self.ledgers))
            .max_decoding_message_size(MAX_MESSAGE)
    }
    pub fn publications(&self) -> PublicationServiceClient<Authed> {
        PublicationServiceClient::new(self.authed(&self.ledgers))
            .max_decoding_message_size(MAX_MESSAGE)
    }

    /// One inspection by name, a failure naming it.
    pub async fn inspection(
        &self,
        name: &str,
    ) -> anyhow::Result<fiveledger_proto::rounds::Inspection> {
        self.inspections()
            .get_inspection(fiveledger_proto::rounds::GetInspectionRequest {
                name: name.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| failed(&format!("reading {name}"), s))
    }
}

/// An admin token over the whole tree, valid for twelve hours.
pub fn admin_token(signer: &Hs256, subject: &str) -> String {
    signer.mint(subject, "", &[Role::Admin], chrono::Duration::hours(12))
}

/// Turns a failed call into an error naming what failed, in the service's
/// words (code, message and the ErrorInfo reason when there is one).
pub fn failed(what: &str, status: tonic::Status) -> anyhow::Error {
    let reason = reason_of(&status);
    let code = status.code();
    let message = status.message();
    let text = if code == tonic::Code::Unavailable {
        format!(
            "{what}: the service is unreachable ({message}); is the suite running (`fiveledger run`) and are the URLs right?"
        )
    } else if code == tonic::Code::Unauthenticated {
        format!(
            "{what}: {code:?}: {message}; the suite does not accept the token: pass --token (or \
             FIVELEDGER_TOKEN) with one it issued, or set FIVELEDGER_AUTH__SECRET (or \
             FIVELEDGER_AUTH__SECRET_FILE) to the key it signs tokens with"
        )
    } else {
        match &reason {
            Some(reason) => format!("{what}: {code:?} {reason}: {message}"),
            None => format!("{what}: {code:?}: {message}"),
        }
    };
    Failed {
        kind: Failure::of_status(&status),
        reason,
        message: text,
    }
    .into()
}

/// The `google.rpc.ErrorInfo` reason of a status, if it carries one.
pub fn reason_of(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_details_error_info().map(|info| info.reason)
}
