//! `fiveledger-rounds`: runs the rounds service alone (one process, one image).

use clap::Parser;
use fiveledger_platform::server;
use fiveledger_platform::settings::{self, CommonArgs, ServiceCommand, SettingsDoc};
use fiveledger_rounds::{DEFAULT_PORT, NAME, RoundsSettings, start};

#[global_allocator]
static ALLOCATOR: fiveledger_platform::Allocator = fiveledger_platform::Allocator {};

/// The fiveledger rounds service: organisations, inspectors, rounds, groups, inspections.
#[derive(Parser)]
#[command(version, after_help = settings::help(&[
    SettingsDoc::server(),
    SettingsDoc::section::<RoundsSettings>(NAME, fiveledger_rounds::settings::MEANINGS),
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
        return server::migrate_standalone::<RoundsSettings, fiveledger_rounds::storage::Migrator>(
            NAME,
            DEFAULT_PORT,
            &cli.common,
        )
        .await;
    }
    server::run_standalone(NAME, DEFAULT_PORT, &cli.common, |settings, domain: RoundsSettings, stop| async move {
        start(&settings, domain, stop).await
    })
    .await
}
