//! `fiveledger-issues`: runs the issues service alone (one process, one image).

use clap::Parser;
use fiveledger_issues::{DEFAULT_PORT, IssuesSettings, NAME, start};
use fiveledger_platform::server;
use fiveledger_platform::settings::{self, CommonArgs, ServiceCommand, SettingsDoc};

#[global_allocator]
static ALLOCATOR: fiveledger_platform::Allocator = fiveledger_platform::Allocator {};

/// The fiveledger issues service: problem lists, responsibility lists, clues.
#[derive(Parser)]
#[command(version, after_help = settings::help(&[
    SettingsDoc::server(),
    SettingsDoc::section::<IssuesSettings>(NAME, fiveledger_issues::settings::MEANINGS),
]))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Serve (the default), or run the migrations and exit.
    #[command(subcommand)]
    command: Option<ServiceCommand>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.command == Some(ServiceCommand::Migrate) {
        return server::migrate_standalone::<IssuesSettings, fiveledger_issues::storage::Migrator>(
            NAME,
            DEFAULT_PORT,
            &cli.common,
        )
        .await;
    }
    server::run_standalone(NAME, DEFAULT_PORT, &cli.common, |settings, domain: IssuesSettings, stop| async move {
        start(&settings, domain, stop).await
    })
    .await
}
