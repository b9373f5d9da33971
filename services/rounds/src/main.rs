//! `fiveledger-rounds`: runs the rounds service alone (one process, one image).

use clap::Parser;
use fiveledger_platform::settings::{CommonArgs, SETTINGS_HELP, load};
use fiveledger_platform::{server, telemetry};
use tokio_util::sync::CancellationToken;

/// The fiveledger rounds service: organisations, inspectors, rounds, groups, inspections.
#[derive(Parser)]
#[command(version, after_help = SETTINGS_HELP)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (server_settings, settings) = load(
        fiveledger_rounds::NAME,
        ([0, 0, 0, 0], fiveledger_rounds::DEFAULT_PORT).into(),
        &cli.common,
    )?;
    telemetry::init(&server_settings.log);
    let stop = CancellationToken::new();
    let running = fiveledger_rounds::start(&server_settings, settings, stop.clone()).await?;
    server::shutdown_signal().await;
    running.stop().await
}
