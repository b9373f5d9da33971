//! The whole suite in one process: the three services, each on its own port
//! with its own database, talking to each other over real gRPC.

pub mod cli;

use std::net::{IpAddr, SocketAddr};

use fiveledger_platform::auth::Hs256;
use fiveledger_platform::server::{self, Running};
use fiveledger_platform::service_identity;
use fiveledger_platform::settings::{self, CommonArgs, ServerSettings};
use tokio_util::sync::CancellationToken;

/// Ports of the services in the local suite, in start order.
pub const PORTS: [(&str, u16); 3] = [
    (fiveledger_rounds::NAME, fiveledger_rounds::DEFAULT_PORT),
    (fiveledger_issues::NAME, fiveledger_issues::DEFAULT_PORT),
    (fiveledger_ledgers::NAME, fiveledger_ledgers::DEFAULT_PORT),
];

/// The running suite.
pub struct Suite {
    pub rounds: Running,
    pub issues: Running,
    pub ledgers: Running,
    pub stop: CancellationToken,
}

impl Suite {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.ledgers.wait().await?;
        self.issues.wait().await?;
        self.rounds.wait().await
    }
}

/// Where the suite's services listen: `host` with the given ports (0 for
/// ephemeral ones, as tests use).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub host: IpAddr,
    pub ports: [u16; 3],
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            ports: PORTS.map(|(_, p)| p),
        }
    }
}

/// The token signer of the local suite: the configured key, or one created
/// once in the data folder.
pub fn signer(base: &ServerSettings) -> anyhow::Result<Hs256> {
    Hs256::from_settings(&base.auth, Some(&base.data_dir))
}

/// The folder of the suite's service keys, `<name>.key` and `<name>.pub`
/// for each service: the configured one, else one in the data folder
/// (created by [`start`]).
pub fn local_service_keys(base: &ServerSettings) -> std::path::PathBuf {
    base.auth
        .service_keys_dir
        .clone()
        .unwrap_or_else(|| base.data_dir.join("service-keys"))
}

/// A local CA and a certificate for each service and for the CLI
/// (`client`), in `tls.dir` (default `<data_dir>/tls`), where none exist.
pub fn ensure_local_certificates(base: &ServerSettings) -> anyhow::Result<()> {
    let dir = base
        .tls
        .dir
        .clone()
        .unwrap_or_else(|| base.data_dir.join("tls"));
    fiveledger_platform::tls::ensure_local_certificates(
        &dir,
        &[
            fiveledger_rounds::NAME,
            fiveledger_issues::NAME,
            fiveledger_ledgers::NAME,
            fiveledger_platform::tls::CLIENT,
        ],
    )
}

/// The services' own settings sections.
#[derive(Debug, Clone, Default)]
pub struct Domains {
    pub rounds: fiveledger_rounds::RoundsSettings,
    pub issues: fiveledger_issues::IssuesSettings,
    pub ledgers: fiveledger_ledgers::LedgersSettings,
}

/// Every setting the suite's binaries read, for `--help` and the
/// deployment checks: the server's and each service's section.
pub fn settings_docs() -> Vec<settings::SettingsDoc> {
    use settings::SettingsDoc;
    vec![
        SettingsDoc::server(),
        SettingsDoc::section::<fiveledger_rounds::RoundsSettings>(
            fiveledger_rounds::NAME,
            fiveledger_rounds::settings::MEANINGS,
        ),
        SettingsDoc::section::<fiveledger_issues::IssuesSettings>(
            fiveledger_issues::NAME,
            fiveledger_issues::settings::MEANINGS,
        ),
        SettingsDoc::section::<fiveledger_ledgers::LedgersSettings>(
            fiveledger_ledgers::NAME,
            fiveledger_ledgers::settings::MEANINGS,
        ),
    ]
}

/// Loads the shared settings and every service's section (defaults <
/// `--config` file < environment).
pub fn load(args: &CommonArgs) -> anyhow::Result<(ServerSettings, Domains)> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let (base, rounds) = settings::load(fiveledger_rounds::NAME, any, args)?;
    let (_, issues) = settings::load(fiveledger_issues::NAME, any, args)?;
    let (_, ledgers) = settings::load(fiveledger_ledgers::NAME, any, args)?;
    Ok((
        base,
        Domains {
            rounds,
            issues,
            ledgers,
        },
    ))
}

/// Settings of one service in the suite, derived from the shared ones: its
/// own address, its own database (a SQLite file named after it in the data
/// folder, or its own PostgreSQL schema: `<schema>_<name>`, or `<name>`),
/// and the suite's token key.
pub fn service_settings(base: &ServerSettings, name: &str, listen: SocketAddr) -> ServerSettings {
    let mut s = base.clone();
    s.listen = listen;
    if s.auth.secret.is_empty() && s.auth.secret_file.is_none() {
        s.auth.secret_file = Some(s.data_dir.join("token.key"));
    }
    // Each service's own identity: its key in the suite's key folder.
    let keys = local_service_keys(base);
    s.auth.service_key_file = Some(service_identity::key_file(&keys, name));
    s.auth.service_keys_dir = Some(keys);
    // Each service its own probe port: the configured one and the next two
    // (an ephemeral one stays ephemeral).
    if let Some(probe) = s.tls.probe_listen.as_mut().filter(|p| p.port() != 0) {
        let index = PORTS.iter().position(|(n, _)| *n == name).unwrap_or(0) as u16;
        probe.set_port(probe.port().saturating_add(index));
    }
    // Each service's own certificate (one `cert_file` cannot serve three).
    if s.tls.enabled {
        let files = base.tls.files(name, &base.data_dir);
        s.tls.cert_file = Some(files.cert);
        s.tls.key_file = Some(files.key);
        s.tls.ca_file = Some(files.ca);
    }
    if s.database.url.starts_with("postgres") {
        s.database.schema = if s.database.schema.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", s.database.schema)
        };
    } else if s.database.url.starts_with("sqlite") {
        // One file per service: each service owns its data.
        s.database.url = String::new();
    }
    s
}

/// Runs the three services' migrations against their databases (as
/// [`start`] finds them), in start order: `fiveledger migrate`.
pub async fn migrate(
    base: &ServerSettings,
) -> anyhow::Result<Vec<(&'static str, fiveledger_platform::schema_compat::Migrated)>> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let settings = |name| service_settings(base, name, any);
    Ok(vec![
        (
            fiveledger_rounds::NAME,
            fiveledger_rounds::migrate(&settings(fiveledger_rounds::NAME)).await?,
        ),
        (
            fiveledger_issues::NAME,
            fiveledger_issues::migrate(&settings(fiveledger_issues::NAME)).await?,
        ),
        (
            fiveledger_ledgers::NAME,
            fiveledger_ledgers::migrate(&settings(fiveledger_ledgers::NAME)).await?,
        ),
    ])
}

/// Starts rounds, issues and ledgers, in that order (each consumes the
/// events of the ones before it; rounds asks issues at feedback, on the
/// port issues is then started on), and wires their upstream addresses.
pub async fn start(
    base: &ServerSettings,
    domains: Domains,
    layout: Layout,
) -> anyhow::Result<Suite> {
    let stop = CancellationToken::new();
    // Creates the local key and the services' own keys on first use.
    signer(base)?;
    service_identity::ensure_keys(
        &local_service_keys(base),
        &[
            fiveledger_rounds::NAME,
            fiveledger_issues::NAME,
            fiveledger_ledgers::NAME,
        ],
    )?;
    if base.tls.enabled {
        // Files the settings do not name are the local CA's, created here.
        ensure_local_certificates(base)?;
    }
    let scheme = if base.tls.enabled { "https" } else { "http" };
    let url = |addr: SocketAddr| format!("{scheme}://{addr}");
    let at = |i: usize| SocketAddr::new(layout.host, layout.ports[i]);
    let mut shared = base.clone();
    // Rounds asks issues at feedback and issues reads rounds: issues' port
    // is bound before rounds starts, so that each knows the other's
    // address, and held until issues serves on it.
    let issues_at = server::hold(at(1))?;
    shared.upstream.issues = url(issues_at);
    let rounds = fiveledger_rounds::start(
        &service_settings(&shared, fiveledger_rounds::NAME, at(0)),
        domains.rounds,
        stop.child_token(),
    )
    .await?;
    shared.upstream.rounds = url(rounds.addr);
    let issues_settings = service_settings(&shared, fiveledger_issues::NAME, issues_at);
    fiveledger_issues::migrate(&issues_settings).await?;
    let issues =
        fiveledger_issues::start(&issues_settings, domains.issues, stop.child_token()).await?;
    let ledgers = fiveledger_ledgers::start(
        &service_settings(&shared, fiveledger_ledgers::NAME, at(2)),
        domains.ledgers,
        stop.child_token(),
    )
    .await?;
    Ok(Suite {
        rounds,
        issues,
        ledgers,
        stop,
    })
}
