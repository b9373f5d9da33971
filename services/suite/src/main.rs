//! `fiveledger`: run the whole suite locally (the default), mint a token
//! for it, or administer a running suite (the admin subcommands in `cli`).

use std::net::IpAddr;

use clap::{Parser, Subcommand};
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::{self, CommonArgs, ServerSettings};
use fiveledger_platform::{server, telemetry};

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
        /// The caller's organisation path (e.g. `guangxi/nanning`); empty for
        /// the whole tree.
        #[arg(long, default_value = "")]
        org: String,
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
            org,
            roles,
            hours,
        } => {
            let signer = fiveledger::signer(&base)?;
            println!(
                "{}",
                signer.mint(&subject, &org, &roles, chrono::Duration::hours(hours))
            );
            Ok(())
        }
        Command::Run { host } => run(base, domains, host).await,
        // Each failure has its own exit code (see `--help`).
        Command::Admin(command) => match fiveledger::cli::execute(command, &base).await {
            0 => Ok(()),
            code => std::process::exit(code),
        },
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
    println!("fiveledger is running; data in {}", base.data_dir.display());
    for (name, running) in [
        ("rounds", &suite.rounds),
        ("issues", &suite.issues),
        ("ledgers", &suite.ledgers),
    ] {
        println!("  {name:<8} {}", running.addr);
    }
    println!("A token for grpcurl:  export TOKEN=$(cargo run -q -- token --role admin)");
    println!("Stop with ctrl-c.");
    server::shutdown_signal().await;
    suite.stop().await
}
