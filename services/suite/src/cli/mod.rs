//! The admin CLI: subcommands of `fiveledger` that talk to a running suite
//! over gRPC (import and export spreadsheets, read the books, load demo
//! data). Each is also a library function, so tests call them directly.

pub mod books;
pub mod connect;
pub mod demo;
pub mod export;
pub mod import;
pub mod progress;
pub mod scope;
pub mod table;

use clap::{Subcommand, ValueEnum};
use fiveledger_platform::auth::Hs256;

pub use connect::{ServiceArgs, Services};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// The admin subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Import spreadsheets into the services.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export the books to spreadsheets.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Rates and counts of a scope (GetStatistics).
    Stats(books::StatsArgs),
    /// Check that the books balance against the problem lists (Reconcile).
    Reconcile(books::ReconcileArgs),
    /// Verify the journal's hash chains (VerifyJournal).
    Verify(books::VerifyArgs),
    /// Four-colour warnings: follow them, or run the sweep.
    #[command(subcommand)]
    Warnings(books::WarningsCommand),
    /// Demo data.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ImportCommand {
    /// A problem list (问题清单) from .xlsx or .csv into one inspection.
    Problems(import::ImportProblemsArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ExportCommand {
    /// The rectification ledger (整改台账) of a scope to .xlsx or .csv.
    Ledger(export::ExportLedgerArgs),
}

impl AdminCommand {
    fn services(&self) -> &ServiceArgs {
        match self {
            AdminCommand::Import(ImportCommand::Problems(a)) => &a.services,
            AdminCommand::Export(ExportCommand::Ledger(a)) => &a.services,
            AdminCommand::Stats(a) => &a.services,
            AdminCommand::Reconcile(a) => &a.services,
            AdminCommand::Verify(a) => &a.services,
            AdminCommand::Warnings(books::WarningsCommand::Tail(a)) => &a.services,
            AdminCommand::Warnings(books::WarningsCommand::Sweep(a)) => &a.services,
            AdminCommand::Demo(demo::DemoCommand::Load(a)) => &a.services,
        }
    }
}

/// Runs one admin subcommand. `signer` mints the default admin token (and
/// the demo's several callers) when no `--token` is given.
pub async fn run(command: AdminCommand, signer: Option<&Hs256>) -> anyhow::Result<()> {
    let services = Services::connect(command.services(), signer)?;
    match &command {
        AdminCommand::Import(ImportCommand::Problems(a)) => import::run(a, &services).await,
        AdminCommand::Export(ExportCommand::Ledger(a)) => export::run(a, &services).await,
        AdminCommand::Stats(a) => books::stats(a, &services).await,
        AdminCommand::Reconcile(a) => books::reconcile(a, &services).await,
        AdminCommand::Verify(a) => books::verify(a, &services).await,
        AdminCommand::Warnings(books::WarningsCommand::Tail(a)) => books::tail(a, &services).await,
        AdminCommand::Warnings(books::WarningsCommand::Sweep(a)) => {
            books::sweep(a, &services).await
        }
        AdminCommand::Demo(demo::DemoCommand::Load(a)) => {
            let signer = signer.ok_or_else(|| {
                anyhow::anyhow!("demo load needs the suite's local key to sign as several people")
            })?;
            demo::run(a, &services, signer).await
        }
    }
}
