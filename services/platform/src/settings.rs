//! Typed settings, layered: defaults < optional TOML file < environment
//! (`FIVELEDGER_…`, nested keys split by `__`, e.g. `FIVELEDGER_DATABASE__URL`).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prefix of every environment variable we read.
pub const ENV_PREFIX: &str = "FIVELEDGER_";

/// Command-line options every service binary accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML settings file (layered over the defaults, under the environment).
    #[arg(long, env = "FIVELEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// What a service binary does besides serving (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum ServiceCommand {
    /// Run this service's migrations and exit (before a rollout, e.g. as a
    /// Kubernetes Job; then serve with FIVELEDGER_DATABASE__MIGRATE=false).
    Migrate,
}

/// What the server settings every binary shares mean, by their path
/// (`database.url`). [`SettingsDoc`] lists every setting from the defaults
/// themselves, so `--help` and the deployment test cannot miss one.
const SERVER_MEANINGS: &[(&str, &str)] = &[
    ("listen", "address to serve gRPC on"),
    (
        "data_dir",
        "folder for SQLite files and the local token key",
    ),
    (
        "database.url",
        "sqlite://FILE or postgres://…; empty: SQLite in the data folder",
    ),
    ("database.schema", "PostgreSQL schema (search_path) to use"),
    (
        "database.migrate",
        "run the migrations at start; false: only check the schema version (migrations run before, as `migrate` or a Job)",
    ),
    (
        "database.max_connections",
        "reader connections per service; SQLite has one writer more, PostgreSQL half as many writers (at least two)",
    ),
    (
        "database.sqlite_synchronous",
        "SQLite durability: full (a commit survives a power cut) or normal (survives a crash of the process; a power cut may lose the last commits)",
    ),
    (
        "database.statement_cache",
        "prepared statements kept per connection",
    ),
    (
        "database.idle_timeout_seconds",
        "a connection idle this long is closed (freeing its caches), checked every minute; SQLite's writer stays open",
    ),
    (
        "database.sqlite_cache_mib",
        "SQLite page cache per connection, in MiB",
    ),
    (
        "database.sqlite_mmap_mib",
        "SQLite file bytes read through a memory map, in MiB (0: off)",
    ),
    (
        "database.group_commit",
        "commit concurrent requests' writes together, each in its own savepoint",
    ),
    (
        "database.group_commit_max_batch",
        "most writes one group commit holds",
    ),
    (
        "database.group_commit_lanes",
        "PostgreSQL: group commits filling and committing side by side, each on its own connection (at most half of the writers' connections, a quarter of max_connections; SQLite: 1); more than 1 only where concurrent writes rarely touch the same rows",
    ),
    (
        "database.write_queue",
        "writes waiting or running at once; past it RESOURCE_EXHAUSTED (WRITE_QUEUE_FULL)",
    ),
    ("auth.secret", "HS256 key that signs and verifies tokens"),
    (
        "auth.secret_file",
        "file holding that key (used when SECRET is empty)",
    ),
    ("auth.issuer", "expected `iss` of tokens"),
    (
        "auth.service_key_file",
        "this service's own key (PKCS#8 PEM, P-256), signing its calls to the other services; empty: <service_keys_dir>/<service>.key (the local suite creates them)",
    ),
    (
        "auth.service_keys_dir",
        "folder of the public keys (<service>.pub, PEM) of the services that may call this one",
    ),
    (
        "auth.max_lifetime_seconds",
        "longest lifetime (exp − iat) of a token accepted; longer ones are refused",
    ),
    (
        "auth.oidc.issuer",
        "the identity provider's issuer URL; its keys are found by OIDC discovery (empty: no provider)",
    ),
    (
        "auth.oidc.jwks_url",
        "the provider's key set URL, when it has no discovery document",
    ),
    (
        "auth.oidc.audience",
        "the expected `aud` of the provider's tokens, if any",
    ),
    ("auth.oidc.claims.subject", "claim holding the caller's id"),
    (
        "auth.oidc.claims.organisation",
        "claim holding the organisation path (a dotted path reaches into an object)",
    ),
    (
        "auth.oidc.claims.roles",
        "claim holding the roles (an array, or a string separated by spaces or commas)",
    ),
    (
        "auth.oidc.refresh_seconds",
        "how often the provider's keys are fetched again",
    ),
    (
        "auth.oidc.min_refresh_seconds",
        "a token signed by an unknown key fetches the keys at most this often",
    ),
    (
        "auth.oidc.fetch_timeout_seconds",
        "longest wait for the provider",
    ),
    (
        "tls.enabled",
        "TLS with client certificates (mutual TLS) on the service port and on calls to the other services",
    ),
    (
        "tls.dir",
        "folder of the files below when they are not named (<name>.crt, <name>.key, ca.crt); empty: <data_dir>/tls",
    ),
    (
        "tls.cert_file",
        "this service's certificate chain (PEM; cert-manager's tls.crt)",
    ),
    ("tls.key_file", "its private key (PEM; tls.key)"),
    (
        "tls.ca_file",
        "the CA certificates that peers' certificates must chain to (PEM; ca.crt)",
    ),
    (
        "tls.reload_seconds",
        "how often the files are read again, so renewed certificates are used without a restart; 0: never",
    ),
    (
        "tls.probe_listen",
        "plaintext address serving only the health service, for probes that cannot speak TLS (off when unset)",
    ),
    (
        "log.format",
        "text (readable) or json (one object per line)",
    ),
    ("log.filter", "tracing filter, e.g. info,fiveledger=debug"),
    (
        "log.slow_statement_ms",
        "statements taking longer are traced as database spans and logged at warn",
    ),
    ("limits.max_message_bytes", "largest request accepted"),
    (
        "limits.shutdown_drain_seconds",
        "on SIGTERM, seconds health says NOT_SERVING (and new calls are refused) before the listener closes, so probes and load balancers see it",
    ),
    (
        "limits.shutdown_grace_seconds",
        "then, time given to in-flight calls",
    ),
    (
        "limits.concurrency_per_connection",
        "requests served at once on one connection",
    ),
    (
        "limits.handshake_timeout_seconds",
        "seconds a new connection may take to send its first bytes before it is closed",
    ),
    (
        "limits.max_connection_age_seconds",
        "seconds after which a connection is asked to reconnect (GOAWAY), so idle ones do not live for ever; 0: never",
    ),
    (
        "limits.caller.requests_per_second",
        "sustained requests per second of one caller (subject, organisation and roles); 0: unlimited",
    ),
    (
        "limits.caller.burst",
        "requests one caller may send at once above that rate",
    ),
    (
        "limits.caller.in_flight",
        "requests of one caller handled at once; 0: unlimited",
    ),
    (
        "consumers.lease_ms",
        "event consumers: how long a replica's claim lasts; a replica that dies is replaced within this time",
    ),
    (
        "consumers.renew_ms",
        "how often the holder renews it (less than lease_ms)",
    ),
    ("upstream.rounds", "URL of the rounds service"),
    ("upstream.issues", "URL of the issues service"),
    ("upstream.ledgers", "URL of the ledgers service"),
    (
        "metrics_listen",
        "address of the Prometheus /metrics endpoint (off when unset)",
    ),
    (
        "warnings.blue_days",
        "four-colour warnings: blue this many days before a due date",
    ),
    ("warnings.red_days", "red this many days after it"),
    (
        "warnings.reply_days",
        "days a written supervision notice gives to reply",
    ),
    (
        "access_log.enabled",
        "record confidential reads (off only to measure what the log costs)",
    ),
    (
        "access_log.flush_ms",
        "longest an access record waits before its batch is written",
    ),
    (
        "access_log.max_batch",
        "most access records written in one transaction",
    ),
    (
        "access_log.queue",
        "access records waiting to be written before reads wait for the writer",
    ),
];

/// One group of settings, documented from its defaults: the server
/// settings, or a service's own section (`[rounds]`, `FIVELEDGER_ROUNDS__…`).
pub struct SettingsDoc {
    section: &'static str,
    defaults: serde_json::Value,
    meanings: &'static [(&'static str, &'static str)],
}

/// One setting: its environment variable, its default, what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Path in the TOML file (`database.url`, `rounds.double_report_days`).
    pub path: String,
    /// `FIVELEDGER_DATABASE__URL`.
    pub env: String,
    /// The default as text; empty when unset.
    pub default: String,
    pub meaning: Option<&'static str>,
}

impl SettingsDoc {
    /// The settings every server binary reads.
    pub fn server() -> Self {
        Self {
            section: "",
            defaults: serde_json::to_value(ServerSettings::default()).unwrap_or_default(),
            meanings: SERVER_MEANINGS,
        }
    }

    /// A service's own section, documented by `meanings` (paths under it).
    pub fn section<D: Default + Serialize>(
        section: &'static str,
        meanings: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            section,
            defaults: serde_json::to_value(D::default()).unwrap_or_default(),
            meanings,
        }
    }

    /// Every setting of the group, leaves of the defaults in order.
    pub fn settings(&self) -> Vec<Setting> {
        let mut out = Vec::new();
        let prefix = if self.section.is_empty() {
            Vec::new()
        } else {
            vec![self.section.to_owned()]
        };
        self.flatten(&prefix, &self.defaults, &mut out);
        out
    }

    fn flatten(&self, path: &[String], value: &serde_json::Value, out: &mut Vec<Setting>) {
        if let serde_json::Value::Object(fields) = value {
            for (key, inner) in fields {
                let mut path = path.to_vec();
                path.push(key.clone());
                self.flatten(&path, inner, out);
            }
            return;
        }
        let within = if self.section.is_empty() {
            path.join(".")
        } else {
            path[1..].join(".")
        };
        out.push(Setting {
            path: path.join("."),
            env: format!("{ENV_PREFIX}{}", path.join("__").to_uppercase()),
            default: match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            meaning: self
                .meanings
                .iter()
                .find(|(key, _)| *key == within)
                .map(|(_, meaning)| *meaning),
        });
    }
}

impl SettingsDoc {
    /// Settings without a meaning, and meanings of no setting: both are
    /// mistakes a test should catch.
    pub fn gaps(&self) -> Vec<String> {
        let settings = self.settings();
        let mut gaps: Vec<String> = settings
            .iter()
            .filter(|s| s.meaning.is_none())
            .map(|s| format!("{} has no meaning", s.env))
            .collect();
        let prefix = if self.section.is_empty() {
            String::new()
        } else {
            format!("{}.", self.section)
        };
        for (key, _) in self.meanings {
            if !settings.iter().any(|s| s.path == format!("{prefix}{key}")) {
                gaps.push(format!("{prefix}{key} is not a setting"));
            }
        }
        gaps
    }
}

/// The `--help` text listing every setting of `docs`, with its default.
pub fn help(docs: &[SettingsDoc]) -> String {
    let mut text = String::from(
        "Settings (defaults < --config FILE < environment; FIVELEDGER_CONFIG names the file):\n",
    );
    for setting in docs.iter().flat_map(SettingsDoc::settings) {
        let meaning = setting.meaning.unwrap_or("");
        let default = if setting.default.is_empty() {
            String::new()
        } else {
            format!(" [{}]", setting.default)
        };
        text.push_str(&format!("  {:<44} {meaning}{default}\n", setting.env));
    }
    text.push_str(
        "  OTEL_EXPORTER_OTLP_ENDPOINT                  export traces and metrics over OTLP/gRPC to this collector",
    );
    text
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub limits: LimitSettings,
    /// Event consumers' lease (failover between replicas).
    pub consumers: ConsumerSettings,
    pub upstream: UpstreamSettings,
    /// Where to serve Prometheus metrics (`/metrics`); off when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// Four-colour warning thresholds, shared by every service.
    pub warnings: crate::deadline::WarningSettings,
    /// The access log of confidential reads (services that keep one).
    pub access_log: crate::access_log::AccessLogSettings,
    /// TLS on the listener and mutual TLS to the other services.
    pub tls: crate::tls::TlsSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            log: LogSettings::default(),
            limits: LimitSettings::default(),
            consumers: ConsumerSettings::default(),
            upstream: UpstreamSettings::default(),
            metrics_listen: None,
            warnings: Default::default(),
            access_log: Default::default(),
            tls: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`; empty means a SQLite file named
    /// after the service in the data folder.
    pub url: String,
    /// PostgreSQL schema to work in (created when missing); empty: default.
    pub schema: String,
    /// Run the migrations at start. Off where they run as a step of their
    /// own before a rollout (a Job): then the service only checks that it
    /// can serve the schema (`schema_compat`).
    pub migrate: bool,
    /// Reader connections per service. SQLite has one writer more;
    /// PostgreSQL half as many writers (at least two).
    pub max_connections: u32,
    /// SQLite's `synchronous` in WAL mode: `full` (the default) syncs the
    /// log on every commit, so a commit survives a power cut; `normal`
    /// syncs only at checkpoints: a commit survives the process crashing,
    /// but a power cut may lose the last ones. Ignored on PostgreSQL.
    pub sqlite_synchronous: SqliteSync,
    /// Prepared statements each connection keeps (sqlx's cache): bounds
    /// the memory a connection holds for statements it ran once.
    pub statement_cache: usize,
    /// Seconds a pooled connection may stay idle before it is closed, with
    /// the page and statement caches it holds: after a burst of load the
    /// pool shrinks back instead of keeping every connection it opened.
    pub idle_timeout_seconds: u64,
    /// SQLite's page cache per connection, in MiB (`PRAGMA cache_size`;
    /// SQLite's own default is 2 MiB).
    pub sqlite_cache_mib: u32,
    /// Bytes of the SQLite file read through a memory map rather than
    /// `read` calls, in MiB (`PRAGMA mmap_size`; 0 turns it off).
    pub sqlite_mmap_mib: u32,
    /// Commit concurrent requests' writes together, each in its own
    /// savepoint (`platform::group_commit`): one sync of the log for many
    /// writes instead of one each.
    pub group_commit: bool,
    /// Most writes one group commit holds.
    pub group_commit_max_batch: usize,
    /// PostgreSQL: group commits that fill and commit side by side, each
    /// on a connection of its own (at most half of the writers'
    /// connections, a quarter of `max_connections`).
    /// One by default: batches of two lanes that write the same rows (the
    /// ledger's tallies) deadlock, and one of them is refused. SQLite has
    /// one writer, so one.
    pub group_commit_lanes: usize,
    /// Most writes waiting or running at once; more are refused with
    /// RESOURCE_EXHAUSTED (`WRITE_QUEUE_FULL`) rather than queued without
    /// bound.
    pub write_queue: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            schema: String::new(),
            migrate: true,
            max_connections: 10,
            sqlite_synchronous: SqliteSync::Full,
            statement_cache: 32,
            idle_timeout_seconds: 60,
            sqlite_cache_mib: 16,
            sqlite_mmap_mib: 0,
            group_commit: true,
            group_commit_max_batch: 256,
            group_commit_lanes: 1,
            write_queue: 4096,
        }
    }
}

/// SQLite's `synchronous` setting, the values that make sense in WAL mode.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// Sync the write-ahead log at every commit: durable on power loss.
    Full,
    /// Sync only at checkpoints: durable on a process crash, not on power loss.
    Normal,
}

/// How replicas share an event consumer (see `lease`): the holder renews
/// its claim every `renew_ms`; when it dies another replica takes over once
/// `lease_ms` have passed since the last renewal. A shorter lease fails
/// over sooner but costs a write every `renew_ms` per consumer and lets a
/// holder stalled longer than the lease (a long GC-like pause, a slow
/// database) lose its turn; the events stay exactly-once either way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ConsumerSettings {
    pub lease_ms: u64,
    pub renew_ms: u64,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            lease_ms: 3000,
            renew_ms: 1000,
        }
    }
}

impl ConsumerSettings {
    /// The lease and renewal periods; refused unless 0 < renew < lease.
    pub fn periods(&self) -> anyhow::Result<(std::time::Duration, std::time::Duration)> {
        anyhow::ensure!(
            self.renew_ms > 0 && self.renew_ms < self.lease_ms,
            "consumers.renew_ms ({}) must be above 0 and below consumers.lease_ms ({})",
            self.renew_ms,
            self.lease_ms
        );
        Ok((
            std::time::Duration::from_millis(self.lease_ms),
            std::time::Duration::from_millis(self.renew_ms),
        ))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthSettings {
    pub secret: String,
    pub secret_file: Option<PathBuf>,
    pub issuer: String,
    /// Longest lifetime (`exp` − `iat`) of a token accepted.
    pub max_lifetime_seconds: i64,
    /// The organisation's identity provider, if tokens come from one.
    pub oidc: crate::oidc::OidcSettings,
    /// This service's own signing key (PKCS#8 PEM, P-256): the identity it
    /// calls other services with. The local suite creates one.
    pub service_key_file: Option<PathBuf>,
    /// The folder of the public keys (`<service>.pub`) of the services
    /// that may call this one.
    pub service_keys_dir: Option<PathBuf>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secret: String::new(),
            secret_file: None,
            issuer: "fiveledger".to_owned(),
            max_lifetime_seconds: 24 * 3600,
            oidc: Default::default(),
            service_key_file: None,
            service_keys_dir: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LogSettings {
    /// `text` (readable, local) or `json` (one object per line, production).
    pub format: String,
    pub filter: String,
    /// Statements slower than this are traced (a `db` span) and logged.
    pub slow_statement_ms: u64,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            filter: "info".to_owned(),
            slow_statement_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitSettings {
    pub max_message_bytes: usize,
    /// On SIGTERM: seconds to report NOT_SERVING before closing the listener.
    pub shutdown_drain_seconds: u64,
    pub shutdown_grace_seconds: u64,
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
    /// Seconds a connection may take to send its first bytes (the HTTP/2
    /// preface) before it is closed.
    pub handshake_timeout_seconds: u64,
    /// Seconds after which a connection is asked to go away (GOAWAY) and
    /// reconnect: idle connections do not live for ever (0: never).
    pub max_connection_age_seconds: u64,
    /// Each caller's own limits.
    pub caller: crate::limits::CallerLimitSettings,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            shutdown_drain_seconds: 0,
            shutdown_grace_seconds: 20,
            concurrency_per_connection: 256,
            handshake_timeout_seconds: 10,
            max_connection_age_seconds: 1800,
            caller: Default::default(),
        }
    }
}

/// Where the other services listen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UpstreamSettings {
    pub rounds: String,
    pub issues: String,
    pub ledgers: String,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            rounds: "http://127.0.0.1:50051".to_owned(),
            issues: "http://127.0.0.1:50052".to_owned(),
            ledgers: "http://127.0.0.1:50053".to_owned(),
        }
    }
}

/// Loads the server settings and the service's own section (`[<service>]`
/// in the file, `FIVELEDGER_<SERVICE>__…` in the environment).
pub fn load<D>(
    service: &str,
    default_listen: SocketAddr,
    args: &CommonArgs,
) -> anyhow::Result<(ServerSettings, D)>
where
    D: Default + Serialize + DeserializeOwned,
{
    let mut figment = defaults::<D>(service, default_listen);
    if let Some(file) = &args.config {
        figment = figment.merge(Toml::file_exact(file));
    }
    let figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
    let mut server: ServerSettings = figment.extract()?;
    let domain: D = figment.extract_inner(service)?;
    if let Some(listen) = args.listen {
        server.listen = listen;
    }
    Ok((server, domain))
}

/// Loads the settings as [`load`] does, with `vars` (`FIVELEDGER_…` names)
/// in place of the process environment and no file: how a deployment's
/// environment is checked against what the binary reads.
pub fn load_vars<D>(
    service: &str,
    default_listen: SocketAddr,
    vars: &[(String, String)],
) -> anyhow::Result<(ServerSettings, D)>
where
    D: Default + Serialize + DeserializeOwned,
{
    let mut figment = defaults::<D>(service, default_listen);
    for (name, value) in vars {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            anyhow::bail!("{name} is not a fiveledger setting");
        };
        let key = key.to_lowercase().replace("__", ".");
        let value: figment::value::Value = value
            .parse()
            .map_err(|never| anyhow::anyhow!("{name}: {never:?}"))?;
        figment = figment.merge(Serialized::default(&key, value));
    }
    Ok((figment.extract()?, figment.extract_inner(service)?))
}

/// The bottom layer: the server's defaults (listening on `listen`) and the
/// service's own section under `[<service>]`.
fn defaults<D: Default + Serialize>(service: &str, listen: SocketAddr) -> Figment {
    let server = ServerSettings {
        listen,
        ..ServerSettings::default()
    };
    Figment::from(Serialized::defaults(server)).merge(Serialized::default(service, D::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct Domain {
        double_report_days: u32,
    }

    #[test]
    fn every_server_setting_is_listed_with_its_meaning_and_default() {
        let doc = SettingsDoc::server();
        assert_eq!(doc.gaps(), Vec::<String>::new());
        let settings = doc.settings();
        let grace = settings
            .iter()
            .find(|s| s.env == "FIVELEDGER_LIMITS__SHUTDOWN_GRACE_SECONDS")
            .expect("listed");
        assert_eq!(grace.default, "20");
        assert_eq!(grace.path, "limits.shutdown_grace_seconds");
        let text = help(&[doc]);
        assert!(text.contains("FIVELEDGER_DATABASE__URL"), "{text}");
        assert!(text.contains("FIVELEDGER_METRICS_LISTEN"), "{text}");
    }

    #[test]
    fn variables_load_like_the_environment_and_bad_values_are_refused() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let any = "127.0.0.1:1".parse().expect("addr");
        let (server, domain): (ServerSettings, Domain) = load_vars(
            "rounds",
            any,
            &vars(&[
                ("FIVELEDGER_LISTEN", "0.0.0.0:50051"),
                ("FIVELEDGER_LIMITS__SHUTDOWN_DRAIN_SECONDS", "5"),
                ("FIVELEDGER_ROUNDS__DOUBLE_REPORT_DAYS", "45"),
            ]),
        )
        .expect("loads");
        assert_eq!(server.listen.port(), 50051);
        assert_eq!(server.limits.shutdown_drain_seconds, 5);
        assert_eq!(domain.double_report_days, 45);
        assert!(
            load_vars::<Domain>(
                "rounds",
                any,
                &vars(&[("FIVELEDGER_LIMITS__SHUTDOWN_DRAIN_SECONDS", "soon")])
            )
            .is_err()
        );
        assert!(load_vars::<Domain>("rounds", any, &vars(&[("LISTEN", "x")])).is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API, not ours
    fn file_overrides_defaults_and_environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "data_dir = \"/srv\"\n[database]\nurl = \"sqlite://x\"\n[rounds]\ndouble_report_days = 45\n",
            )?;
            jail.set_env("FIVELEDGER_DATABASE__URL", "postgres://db/x");
            let args = CommonArgs {
                config: Some("f.toml".into()),
                listen: None,
            };
            let (server, domain): (ServerSettings, Domain) =
                load("rounds", "127.0.0.1:1".parse().expect("addr"), &args).expect("load");
            assert_eq!(server.data_dir, PathBuf::from("/srv"));
            assert_eq!(server.database.url, "postgres://db/x");
            assert_eq!(server.listen.port(), 1);
            assert_eq!(domain.double_report_days, 45);
            Ok(())
        });
    }
}
