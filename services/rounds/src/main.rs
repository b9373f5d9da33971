//! `fiveledger-rounds`: runs the rounds service alone (one process, one image).

use clap::Parser;
use fiveledger_platform::server;
use fiveledger_platform::settings::{self, CommonArgs, SettingsDoc};
use fiveledger_rounds::{DEFAULT_PORT, NAME, RoundsSettings, start};

/// The fiveledger rounds service: organisations, inspectors, rounds, groups, inspections.
#[derive(Parser)]
#[command(version, after_help = settings::help(&[
    SettingsDoc::server(),
    SettingsDoc::section::<RoundsSettings>(NAME, fiveledger_rounds::settings::MEANINGS),
]))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::run_standalone(NAME, DEFAULT_PORT, &cli.common, |settings, domain: RoundsSettings, stop| async move {
        start(&settings, domain, stop).await
    })
    .await
}
