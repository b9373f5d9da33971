//! `fiveledger-ledgers`: runs the ledgers service alone (one process, one image).

use clap::Parser;
use fiveledger_ledgers::{DEFAULT_PORT, LedgersSettings, NAME, start};
use fiveledger_platform::server;
use fiveledger_platform::settings::{self, CommonArgs, SettingsDoc};

/// The fiveledger ledgers service: the five-ledger journal.
#[derive(Parser)]
#[command(version, after_help = settings::help(&[
    SettingsDoc::server(),
    SettingsDoc::section::<LedgersSettings>(NAME, fiveledger_ledgers::settings::MEANINGS),
]))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::run_standalone(NAME, DEFAULT_PORT, &cli.common, |settings, domain: LedgersSettings, stop| async move {
        start(&settings, domain, stop).await
    })
    .await
}
