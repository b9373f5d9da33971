//! `fiveledger-issues`: runs the issues service alone (one process, one image).

use clap::Parser;
use fiveledger_issues::{DEFAULT_PORT, IssuesSettings, NAME, start};
use fiveledger_platform::server;
use fiveledger_platform::settings::{self, CommonArgs, SettingsDoc};

/// The fiveledger issues service: problem lists, responsibility lists, clues.
#[derive(Parser)]
#[command(version, after_help = settings::help(&[
    SettingsDoc::server(),
    SettingsDoc::section::<IssuesSettings>(NAME, fiveledger_issues::settings::MEANINGS),
]))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::run_standalone(NAME, DEFAULT_PORT, &cli.common, |settings, domain: IssuesSettings, stop| async move {
        start(&settings, domain, stop).await
    })
    .await
}
