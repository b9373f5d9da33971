//! The admin CLI: subcommands of `fiveledger` that talk to a running suite
//! over gRPC (import and export spreadsheets, read the books, load demo
//! data). Each is also a library function, so tests call them directly.

pub mod backup;
pub mod books;
pub mod categories;
pub mod charts;
pub mod connect;
pub mod demo;
pub mod encoding;
pub mod export;
pub mod failure;
pub mod import;
pub mod import_columns;
pub mod import_report;
pub mod import_rows;
pub mod ledger_columns;
pub mod ledger_steps;
pub mod ledger_workbook;
pub mod progress;
pub mod public_sheet;
pub mod publish;
pub mod scope;
pub mod sheet_layout;
pub mod stdout;
pub mod table;

use clap::{Subcommand, ValueEnum};
use fiveledger_platform::auth::Hs256;

pub use connect::{ServiceArgs, Services, signer_for};
pub use failure::EXIT_CODES;

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
    #[command(subcommand, after_help = EXIT_CODES)]
    Import(ImportCommand),
    /// Export the books to spreadsheets.
    #[command(subcommand, after_help = EXIT_CODES)]
    Export(ExportCommand),
    /// Rates and counts of a scope (GetStatistics).
    #[command(after_help = EXIT_CODES)]
    Stats(books::StatsArgs),
    /// Check that the books balance against the problem lists (Reconcile).
    #[command(after_help = EXIT_CODES)]
    Reconcile(books::ReconcileArgs),
    /// Verify the journal's hash chains (VerifyJournal).
    #[command(after_help = EXIT_CODES)]
    Verify(books::VerifyArgs),
    /// Publish a scope's rectification status (双公开, Publish).
    #[command(after_help = EXIT_CODES)]
    Publish(publish::PublishArgs),
    /// Four-colour warnings: follow them, or run the sweep.
    #[command(subcommand, after_help = EXIT_CODES)]
    Warnings(books::WarningsCommand),
    /// Demo data.
    #[command(subcommand, after_help = EXIT_CODES)]
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
    /// The 双公开 public edition of a scope to .xlsx, a sheet per unit.
    Public(public_sheet::ExportPublicArgs),
}

impl AdminCommand {
    /// How the command prints, its errors included.
    pub fn output(&self) -> Output {
        match self {
            AdminCommand::Import(ImportCommand::Problems(a)) => a.output,
            AdminCommand::Export(ExportCommand::Ledger(a)) => a.to.output,
            AdminCommand::Export(ExportCommand::Public(a)) => a.to.output,
            AdminCommand::Stats(a) => a.output,
            AdminCommand::Reconcile(a) => a.output,
            AdminCommand::Verify(a) => a.output,
            AdminCommand::Publish(a) => a.output,
            AdminCommand::Warnings(books::WarningsCommand::Tail(a)) => a.output,
            AdminCommand::Warnings(books::WarningsCommand::Sweep(a)) => a.output,
            AdminCommand::Demo(demo::DemoCommand::Load(a)) => a.output,
        }
    }

    fn services_mut(&mut self) -> &mut ServiceArgs {
        match self {
            AdminCommand::Import(ImportCommand::Problems(a)) => &mut a.services,
            AdminCommand::Export(ExportCommand::Ledger(a)) => &mut a.to.services,
            AdminCommand::Export(ExportCommand::Public(a)) => &mut a.to.services,
            AdminCommand::Stats(a) => &mut a.services,
            AdminCommand::Reconcile(a) => &mut a.services,
            AdminCommand::Verify(a) => &mut a.services,
            AdminCommand::Publish(a) => &mut a.services,
            AdminCommand::Warnings(books::WarningsCommand::Tail(a)) => &mut a.services,
            AdminCommand::Warnings(books::WarningsCommand::Sweep(a)) => &mut a.services,
            AdminCommand::Demo(demo::DemoCommand::Load(a)) => &mut a.services,
        }
    }

    pub fn services(&self) -> &ServiceArgs {
        match self {
            AdminCommand::Import(ImportCommand::Problems(a)) => &a.services,
            AdminCommand::Export(ExportCommand::Ledger(a)) => &a.to.services,
            AdminCommand::Export(ExportCommand::Public(a)) => &a.to.services,
            AdminCommand::Stats(a) => &a.services,
            AdminCommand::Reconcile(a) => &a.services,
            AdminCommand::Verify(a) => &a.services,
            AdminCommand::Publish(a) => &a.services,
            AdminCommand::Warnings(books::WarningsCommand::Tail(a)) => &a.services,
            AdminCommand::Warnings(books::WarningsCommand::Sweep(a)) => &a.services,
            AdminCommand::Demo(demo::DemoCommand::Load(a)) => &a.services,
        }
    }
}

/// Runs one admin subcommand as the binary does: with the key
/// [`signer_for`] allows, printing an error as the command prints (text or
/// JSON) on stderr. Returns the exit code.
pub async fn execute(
    command: AdminCommand,
    base: &fiveledger_platform::settings::ServerSettings,
) -> i32 {
    let output = command.output();
    let mut command = command;
    let services = command.services_mut();
    *services = services.with_upstreams(&base.upstream);
    let result = async {
        if base.tls.enabled {
            let files = base
                .tls
                .files(fiveledger_platform::tls::CLIENT, &base.data_dir);
            command.services_mut().tls = Some(fiveledger_platform::tls::ClientTls::load(files)?);
        }
        let signer = signer_for(command.services(), base)?;
        run(command, signer.as_ref()).await
    }
    .await;
    match result {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("{}", failure::render(&err, output));
            failure::exit_code(&err)
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
        AdminCommand::Export(ExportCommand::Public(a)) => public_sheet::run(a, &services).await,
        AdminCommand::Stats(a) => books::stats(a, &services).await,
        AdminCommand::Reconcile(a) => books::reconcile(a, &services).await,
        AdminCommand::Verify(a) => books::verify(a, &services).await,
        AdminCommand::Publish(a) => publish::run(a, &services).await,
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
