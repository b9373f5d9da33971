//! `fiveledger`: run the whole suite locally (the default), mint a token
//! for it, or administer a running suite (the admin subcommands in `cli`).

use std::net::IpAddr;

use clap::{Parser, Subcommand};
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::{self, CommonArgs, ServerSettings};
use fiveledger_platform::{server, telemetry};

#[global_allocator]
static ALLOCATOR: fiveledger_platform::Allocator = fiveledger_platform::Allocator {};

/// fiveledger: inspection rounds and the five-ledger rectification model.
///
/// With no subcommand, runs the whole suite locally: the rounds, issues and
/// ledgers services, each on its own port with its own SQLite file in the
/// data folder, talking to each other over gRPC.
#[derive(Parser)]
#[command(
    version,
    after_help = format!(
        "{}\n{}",
        settings::help(&fiveledger::settings_docs()),
        fiveledger::cli::EXIT_CODES
    )
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the suite (the default).
    Run {
        /// Address the services bind to.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// Print a bearer token signed with the suite's key, for grpcurl.
    Token {
        /// Who the token names.
        #[arg(long, default_value = "local-admin")]
        subject: String,
        /// The person's display name (the `name` claim), shown as who
        /// made an export: `张三（local-admin）`.
        #[arg(long, default_value = "")]
        name: String,
        /// The caller's organisation path (e.g. `guangxi/nanning`, or a body
        /// of a level such as its inspection office, which then acts for the
        /// level), or `/` for the whole tree. Required for every role but
        /// admin and service, which default to the whole tree.
        #[arg(long)]
        org: Option<String>,
        /// Roles (repeat or separate by commas).
        #[arg(
            long = "role",
            value_enum,
            value_delimiter = ',',
            default_value = "admin"
        )]
        roles: Vec<Role>,
        /// Hours until it expires.
        #[arg(long, default_value_t = 12)]
        hours: i64,
    },
    /// Run the three services' migrations and exit (before starting a new
    /// release with FIVELEDGER_DATABASE__MIGRATE=false).
    Migrate,
    /// Copy the SQLite databases into a new folder while the suite serves.
    Backup {
        /// Folder to write (one `<service>.sqlite` each); never overwritten.
        #[arg(long, value_name = "DIR")]
        to: std::path::PathBuf,
    },
    /// Put a backup's databases into the data folder (FIVELEDGER_DATA_DIR).
    Restore {
        /// Folder `fiveledger backup` wrote.
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
        /// Replace the databases the data folder holds (stop the suite first).
        #[arg(long)]
        force: bool,
    },
    #[command(flatten)]
    Admin(fiveledger::cli::AdminCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error of a script asking for JSON is printed as JSON.
        Err(err) if err.use_stderr() && fiveledger::cli::failure::wants_json(&argv()) => {
            let code = err.exit_code();
            let err = anyhow::Error::from(err);
            eprintln!(
                "{}",
                fiveledger::cli::failure::render(&err, fiveledger::cli::Output::Json)
            );
            std::process::exit(code);
        }
        Err(err) => err.exit(),
    };
    let (base, domains) = fiveledger::load(&cli.common)?;
    match cli.command.unwrap_or(Command::Run {
        host: IpAddr::from([127, 0, 0, 1]),
    }) {
        Command::Token {
            subject,
            name,
            org,
            roles,
            hours,
        } => {
            let signer = fiveledger::signer(&base)?;
            let org = token_org(org.as_deref(), &roles)?;
            let ttl = chrono::Duration::hours(hours);
            anyhow::ensure!(
                hours > 0 && ttl <= signer.max_lifetime(),
                "--hours must be between 1 and {} (FIVELEDGER_AUTH__MAX_LIFETIME_SECONDS)",
                signer.max_lifetime().num_hours()
            );
            fiveledger::say!("{}", signer.mint_named(&subject, &name, &org, &roles, ttl));
            Ok(())
        }
        Command::Run { host } => run(base, domains, host).await,
        Command::Migrate => {
            for (service, migrated) in fiveledger::migrate(&base).await? {
                fiveledger::say!("{service}: {migrated}");
            }
            Ok(())
        }
        Command::Backup { to } => {
            for file in fiveledger::cli::backup::backup(&base, &to).await? {
                fiveledger::say!("wrote {}", file.display());
            }
            Ok(())
        }
        Command::Restore { from, force } => {
            for file in fiveledger::cli::backup::restore(&base, &from, force).await? {
                fiveledger::say!("restored {}", file.display());
            }
            fiveledger::say!(
                "start the suite, then run `fiveledger verify` and `fiveledger reconcile`"
            );
            Ok(())
        }
        // Each failure has its own exit code (see `--help`).
        Command::Admin(command) => match fiveledger::cli::execute(command, &base).await {
            0 => Ok(()),
            code => std::process::exit(code),
        },
    }
}

/// The organisation a minted token names: scoped roles must say which
/// (failing closed: a forgotten `--org` must not mean the whole tree).
fn token_org(org: Option<&str>, roles: &[Role]) -> anyhow::Result<String> {
    anyhow::ensure!(
        !roles.contains(&Role::Service),
        "a service token is signed by the service's own key (see FIVELEDGER_AUTH__SERVICE_KEY_FILE), never by the suite's token key"
    );
    let unscoped = roles.iter().all(|r| matches!(r, Role::Admin));
    match org.map(str::trim) {
        Some(fiveledger_platform::auth::ROOT_ORG) => Ok(String::new()),
        Some(path) if !path.is_empty() => {
            fiveledger_platform::aip::names::parse_path("--org", path)
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        _ if unscoped => Ok(String::new()),
        _ => anyhow::bail!(
            "--org is required for the roles {}: name the caller's organisation path (e.g. guangxi/nanning), or `/` for the whole tree",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn argv() -> Vec<String> {
    std::env::args().collect()
}

async fn run(
    base: ServerSettings,
    domains: fiveledger::Domains,
    host: IpAddr,
) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(&base.log, "fiveledger");
    let _metrics = fiveledger_platform::metrics::install(base.metrics_listen, "fiveledger")?;
    let layout = fiveledger::Layout {
        host,
        ..Default::default()
    };
    let suite = fiveledger::start(&base, domains, layout).await?;
    fiveledger::say!("fiveledger is running; data in {}", base.data_dir.display());
    for (name, running) in [
        ("rounds", &suite.rounds),
        ("issues", &suite.issues),
        ("ledgers", &suite.ledgers),
    ] {
        fiveledger::say!("  {name:<8} {}", running.addr);
    }
    fiveledger::say!("A token for grpcurl:  export TOKEN=$(cargo run -q -- token --role admin)");
    fiveledger::say!("Stop with ctrl-c.");
    server::shutdown_signal().await;
    suite.stop().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scoped_token_must_name_its_organisation() {
        // Forgetting --org never means the whole tree for a scoped role.
        let err = token_org(None, &[Role::InspectionOffice]).expect_err("no --org");
        assert!(err.to_string().contains("--org is required"), "{err}");
        assert!(token_org(Some(""), &[Role::Viewer]).is_err());
        assert!(token_org(Some("guangxi//x"), &[Role::Viewer]).is_err());
        // The whole tree only when written out, or for admin and service.
        assert_eq!(token_org(Some("/"), &[Role::Viewer]).expect("root"), "");
        assert_eq!(token_org(None, &[Role::Admin]).expect("admin"), "");
        assert!(
            token_org(None, &[Role::Service]).is_err(),
            "no service tokens"
        );
        assert_eq!(
            token_org(Some("guangxi/nanning"), &[Role::Viewer]).expect("scoped"),
            "guangxi/nanning"
        );
    }
}
