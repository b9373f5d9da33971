//! `fiveledger demo load`: a realistic scenario at the source's scale,
//! loaded into a running suite over gRPC: a city with its counties,
//! townships and villages, departments and enterprises; inspectors; twelve
//! rounds over three years (special and look-back rounds among them);
//! problems, clues, and every ledger step through to write-off. Seeded, so
//! the same seed loads the same story.
//!
//! One module per phase, in the order the story plays: `world` (the
//! organisation tree), `people` (inspectors), `rounds`, `inspection` (with
//! its `problems` and `clues`), `ledger` and `entry` (the ledger's steps,
//! dated by `calendar`), and `report` (what was loaded, read back).

mod calendar;
mod clues;
mod entry;
mod inspection;
mod ledger;
mod people;
mod problems;
mod report;
mod rounds;
mod world;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fiveledger_platform::auth::Hs256;
use fiveledger_platform::time::Clock;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use report::DemoReport;

use super::connect::{Services, admin_token, failed};
use super::{Output, ServiceArgs};
use world::World;

#[derive(Debug, Clone, Subcommand)]
pub enum DemoCommand {
    /// Load the demo scenario into a running suite (`fiveledger run`).
    Load(DemoArgs),
}

/// Load a city's three years of inspections into a running suite.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Fraction of the full size (1.0: 12 rounds of 40-45 targets, about
    /// 4,700 problems and 1,300 clues); 0.05 for a quick look.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seed of the story (same seed, same data).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Inspections loaded at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Prefix of every id the demo creates (load twice with two prefixes).
    #[arg(long, default_value = "demo")]
    pub prefix: String,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The demo's knobs, as the library takes them.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scale: f64,
    pub seed: u64,
    pub concurrency: usize,
    pub prefix: String,
}

pub async fn run(args: &DemoArgs, services: &Services, signer: &Hs256) -> anyhow::Result<()> {
    let options = DemoOptions {
        scale: args.scale,
        seed: args.seed,
        concurrency: args.concurrency,
        prefix: args.prefix.clone(),
    };
    let report = load(services, signer, &options).await?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Text => report.print(),
    }
    Ok(())
}

/// Loads the whole story and reads its statistics back.
pub async fn load(
    services: &Services,
    signer: &Hs256,
    options: &DemoOptions,
) -> anyhow::Result<DemoReport> {
    anyhow::ensure!(
        options.scale > 0.0 && options.scale <= 2.0,
        "--scale must be in (0, 2]"
    );
    anyhow::ensure!(options.concurrency >= 1, "--concurrency must be at least 1");
    let started = Instant::now();
    let story = Story {
        cast: Cast::new(services, signer, &options.prefix)?,
        tally: Tally::default(),
        world: world::world(&options.prefix, options.scale),
        today: Clock::system().today(),
    };
    world::create(&story, options.concurrency).await?;
    // One generator for the whole plan; each inspection then draws from its
    // own seed, so concurrency does not change the story.
    let mut rng = StdRng::seed_from_u64(options.seed);
    let pool = people::create_inspectors(&story, options, &mut rng).await?;
    let loaded = rounds::load(&story, options, &pool, &mut rng).await?;
    report::read_back(services, &story, loaded, started).await
}

/// What every phase plays with: who acts, what was counted, the tree and
/// the day the story ends.
struct Story {
    cast: Cast,
    tally: Tally,
    world: World,
    today: NaiveDate,
}

/// The callers of the story: each step is signed by who would take it.
struct Cast {
    office: Services,
    unit: Services,
    verifier: Services,
    commission: Services,
}

impl Cast {
    fn new(services: &Services, signer: &Hs256, prefix: &str) -> anyhow::Result<Self> {
        let caller =
            |who: &str| services.as_caller(&admin_token(signer, &format!("{prefix}-{who}")));
        Ok(Self {
            office: caller("office")?,
            unit: caller("unit")?,
            verifier: caller("verifier")?,
            commission: caller("jw")?,
        })
    }
}

/// Counters shared by the concurrent loaders.
#[derive(Default)]
struct Tally {
    organisations: AtomicU64,
    inspectors: AtomicU64,
    problems: AtomicU64,
    clues: AtomicU64,
    clues_disposed: AtomicU64,
    clues_concluded: AtomicU64,
    transfers: AtomicU64,
    write_offs: AtomicU64,
    reopened: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Maps a failed call to an error saying what was being done.
fn step(what: &'static str) -> impl Fn(tonic::Status) -> anyhow::Error {
    move |s| failed(what, s)
}
