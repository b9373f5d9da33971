//! `fiveledger demo load`: the source's city at its scale, loaded into a
//! running suite over gRPC: a city with its counties, townships and
//! villages, departments and enterprises; the shared talent pool of 80;
//! twelve rounds over three years (special, look-back and linked
//! city-county rounds among them); problems, clues, and every ledger step
//! through to write-off and publication, each step signed by a token of the
//! role that takes it. The source's figures (`figures`) are dealt over the
//! plan, so the loaded city shows them. Seeded, so the same seed loads the
//! same story.
//!
//! One module per phase, in the order the story plays: `world` (the
//! organisation tree), `people` (the talent pool), `rounds` (dealt the
//! source's `figures`), `inspection` (with its `problems` and `clues`),
//! `ledger` and `entry` (the ledger's steps), `look_back` (the look-back
//! rounds' campaigns), and `report` (what was
//! loaded, read back next to the source).

mod calendar;
mod clues;
mod entry;
mod figures;
mod inspection;
mod ledger;
mod look_back;
mod people;
mod problems;
mod report;
mod rounds;
mod world;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fiveledger_platform::auth::{Hs256, Role};
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
        Output::Json => crate::say!("{}", serde_json::to_string_pretty(&report)?),
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
    let world = world::world(&options.prefix, options.scale);
    let story = Story {
        cast: Cast::new(services, signer, &world, &options.prefix)?,
        tally: Tally::default(),
        driving: tokio::sync::Semaphore::new(ledger::DRIVEN_AT_ONCE),
        world,
        today: Clock::system().today(),
    };
    world::create(&story, options.concurrency).await?;
    // One generator for the whole plan; each inspection then draws from its
    // own seed, so concurrency does not change the story.
    let mut rng = StdRng::seed_from_u64(options.seed);
    let pool = people::create_inspectors(&story, options, &mut rng).await?;
    let loaded = rounds::load(&story, options, &pool, &mut rng).await?;
    report::read_back(&story, options, loaded, started).await
}

/// What every phase plays with: who acts, what was counted, the tree and
/// the day the story ends.
struct Story {
    cast: Cast,
    tally: Tally,
    /// Entries driven at once over all inspections (`ledger::DRIVEN_AT_ONCE`).
    driving: tokio::sync::Semaphore,
    world: World,
    today: NaiveDate,
}

/// The callers of the story: each step is signed by a token of the role
/// that would take it, scoped to its organisation, so the suite's scope
/// and capacity rules judge every step. Only the organisation directory is
/// set up by the installation's operator (an administrator).
struct Cast {
    services: Services,
    signer: Hs256,
    prefix: String,
    /// The operator: creates the organisation tree.
    operator: Services,
    /// The city's inspection office (巡察办): rounds, groups, briefings,
    /// feedback, plan approval, transfers, reopening, publication.
    office: Services,
    /// A second person of the office, who verifies write-offs (验收销号).
    verifier: Services,
    /// The city's discipline commission (its case-supervision room):
    /// receives transfers, records clues' outcomes, and signs a clue's
    /// disposal first, for the handling room (承办室室务会).
    commission: Services,
    /// The commission's leader in charge (分管领导) and the secretary
    /// chairing its supervision meeting (执纪监督专题会议): the other two
    /// signers of a disposal (三级集体研判).
    leader_in_charge: Services,
    supervision_meeting: Services,
    /// The city's organisation department: receives personnel transfers.
    organisation_department: Services,
    /// The city's propaganda department: receives ideology transfers.
    propaganda: Services,
}

/// A token lives as long as a load may take.
const TOKEN_HOURS: i64 = 12;

impl Cast {
    fn new(
        services: &Services,
        signer: &Hs256,
        world: &World,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let as_role = |who: &str, org: &str, role: Role| {
            services.as_caller(&signer.mint_named(
                &format!("{prefix}-{who}"),
                "",
                &world.path(org),
                &[role],
                chrono::Duration::hours(TOKEN_HOURS),
            ))
        };
        let office = format!("{prefix}-city-xcban");
        Ok(Self {
            services: services.clone(),
            signer: signer.clone(),
            prefix: prefix.to_owned(),
            operator: services.as_caller(&admin_token(signer, &format!("{prefix}-operator")))?,
            office: as_role("office", &office, Role::InspectionOffice)?,
            verifier: as_role("verifier", &office, Role::InspectionOffice)?,
            commission: as_role("jw", &world.commission, Role::DisciplineCommission)?,
            leader_in_charge: as_role("jw-leader", &world.commission, Role::DisciplineCommission)?,
            supervision_meeting: as_role(
                "jw-secretary",
                &world.commission,
                Role::DisciplineCommission,
            )?,
            organisation_department: as_role("zzb", &world.org_department, Role::Supervisor)?,
            propaganda: as_role("xcb", &world.propaganda, Role::Supervisor)?,
        })
    }

    /// The person at `org_path` signing for the inspected unit.
    fn unit(&self, org_path: &str) -> anyhow::Result<Services> {
        let who = org_path.rsplit('/').next().unwrap_or(org_path);
        self.services.as_caller(&self.signer.mint_named(
            &format!("{}-unit-{who}", self.prefix),
            "",
            org_path,
            &[Role::InspectedUnit],
            chrono::Duration::hours(TOKEN_HOURS),
        ))
    }

    /// A group's leader, as the inspector their token names.
    fn group_leader(&self, leader: &people::Inspector) -> anyhow::Result<Services> {
        self.services.as_caller(&self.signer.mint_named(
            &leader.id,
            "",
            &leader.home_path,
            &[Role::InspectionGroup],
            chrono::Duration::hours(TOKEN_HOURS),
        ))
    }

    /// The body receiving transfers to `body` (`organisations/{id}`).
    fn receiver(&self, world: &World, body: &str) -> &Services {
        if body == world.org_department {
            &self.organisation_department
        } else if body == world.propaganda {
            &self.propaganda
        } else {
            &self.commission
        }
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
    /// The look-back campaigns' records (回头看).
    self_check_reports: AtomicU64,
    spot_checks: AtomicU64,
    key_problems: AtomicU64,
    suggestions: AtomicU64,
    /// Staffings refused by avoidance (回避) in the linked rounds.
    avoidance_refusals: AtomicU64,
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
