//! Typed settings, layered: defaults < optional TOML file < environment
//! (`FIVELEDGER_…`, nested keys split by `__`, e.g. `FIVELEDGER_DATABASE__URL`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// Help text listing the settings, shared by every binary's `--help`.
pub const SETTINGS_HELP: &str = "\
Settings (defaults < --config FILE < environment):
  FIVELEDGER_LISTEN                 address to serve gRPC on
  FIVELEDGER_DATA_DIR               folder for SQLite files and the local token key [data]
  FIVELEDGER_DATABASE__URL          sqlite://FILE or postgres://…; empty: SQLite in the data folder
  FIVELEDGER_DATABASE__SCHEMA       PostgreSQL schema (search_path) to use
  FIVELEDGER_DATABASE__MAX_CONNECTIONS  pool size [10]
  FIVELEDGER_AUTH__SECRET           HS256 key that signs and verifies tokens
  FIVELEDGER_AUTH__SECRET_FILE      file holding that key (used when SECRET is empty)
  FIVELEDGER_AUTH__ISSUER           expected `iss` of tokens [fiveledger]
  FIVELEDGER_LOG__FORMAT            text or json [text]
  FIVELEDGER_LOG__FILTER            tracing filter, e.g. info,fiveledger=debug [info]
  FIVELEDGER_LIMITS__MAX_MESSAGE_BYTES  largest request accepted [4194304]
  FIVELEDGER_LIMITS__SHUTDOWN_GRACE_SECONDS  time given to in-flight calls on SIGTERM [20]
  FIVELEDGER_UPSTREAM__ROUNDS / __ISSUES / __LEDGERS  URLs of the other services
  FIVELEDGER_METRICS_LISTEN         address of the Prometheus /metrics endpoint (off when unset)
  FIVELEDGER_WARNINGS__BLUE_DAYS / __RED_DAYS  four-colour warnings: blue this many days before a due date, red this many after [7 / 30]
  FIVELEDGER_WARNINGS__REPLY_DAYS   days a written supervision notice gives to reply [10]
  OTEL_EXPORTER_OTLP_ENDPOINT       export traces over OTLP/gRPC to this collector";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub limits: LimitSettings,
    pub upstream: UpstreamSettings,
    /// Where to serve Prometheus metrics (`/metrics`); off when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// Four-colour warning thresholds, shared by every service.
    pub warnings: crate::deadline::WarningSettings,
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
            upstream: UpstreamSettings::default(),
            metrics_listen: None,
            warnings: Default::default(),
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
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            schema: String::new(),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthSettings {
    pub secret: String,
    pub secret_file: Option<PathBuf>,
    pub issuer: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secret: String::new(),
            secret_file: None,
            issuer: "fiveledger".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LogSettings {
    /// `text` (readable, local) or `json` (one object per line, production).
    pub format: String,
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitSettings {
    pub max_message_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            shutdown_grace_seconds: 20,
            concurrency_per_connection: 256,
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
    let defaults = ServerSettings {
        listen: default_listen,
        ..ServerSettings::default()
    };
    let figment = layered(defaults, service, D::default(), args.config.as_deref());
    let mut server: ServerSettings = figment.extract()?;
    let domain: D = figment.extract_inner(service)?;
    if let Some(listen) = args.listen {
        server.listen = listen;
    }
    Ok((server, domain))
}

fn layered<D: Serialize>(
    defaults: ServerSettings,
    service: &str,
    domain: D,
    file: Option<&Path>,
) -> Figment {
    let mut figment =
        Figment::from(Serialized::defaults(defaults)).merge(Serialized::default(service, domain));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment.merge(Env::prefixed(ENV_PREFIX).split("__"))
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
