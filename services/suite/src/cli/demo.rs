//! `fiveledger demo load`: a realistic scenario at the source's scale,
//! loaded into a running suite over gRPC: a city with its counties,
//! townships and villages, departments and enterprises; inspectors; twelve
//! rounds over three years (special and look-back rounds among them);
//! problems, clues, and every ledger step through to write-off. Seeded, so
//! the same seed loads the same story.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use fiveledger_platform::auth::Hs256;
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::{
    ClueDisposal, ClueOutcome, ClueOutcomeKind, CreateClueRequest, DisposalMethod,
    DisposeClueRequest, FixedOnTheSpot, ImportProblemsRequest, Problem, RecordClueOutcomeRequest,
    Responsibilities,
};
use fiveledger_proto::ledgers::{
    AcknowledgeHandOverRequest, AcknowledgeTransferRequest, ApprovePlanRequest,
    ApproveWriteOffRequest, LedgerEntry, ListEntriesRequest, Measure, MeasureKind,
    PostProgressRequest, RectificationFigures, RectificationPlan, RejectWriteOffRequest,
    ReopenRequest, RequestWriteOffRequest, ReturnTransferResultRequest, StatisticsGrouping,
    SubmitPlanRequest, TransferRequest,
};
use fiveledger_proto::rounds::{
    Briefing, CloseInspectionRequest, CloseRoundRequest, CreateGroupRequest,
    CreateInspectionRequest, CreateInspectorRequest, CreateOrganisationRequest, CreateRoundRequest,
    DoubleFeedback, DoubleReportKind, FeedbackPart, GiveFeedbackRequest, Group, Inspection,
    InspectionReportKind, Inspector, Organisation, OrganisationKind, RecordBriefingRequest,
    RecordDoubleReportRequest, ReportInspectionRequest, ReportRecord, Round, RoundKind,
    StartRectificationRequest, StartRoundRequest, StartStationingRequest,
};
use fiveledger_proto::types::{Evidence, Severity};
use futures::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::connect::{Services, admin_token, failed};
use super::export::statistics;
use super::progress::Progress;
use super::scope::Scope;
use super::{Output, ServiceArgs};

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

/// What was loaded and the statistics it produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReport {
    pub seconds: f64,
    pub city_path: String,
    pub organisations: u64,
    pub inspectors: u64,
    pub rounds: u64,
    pub inspections: u64,
    pub problems: u64,
    pub clues: u64,
    pub clues_disposed: u64,
    pub clues_concluded: u64,
    pub transfers: u64,
    pub write_offs: u64,
    pub reopened: u64,
    /// From GetStatistics over the city.
    pub found: i64,
    pub written_off: i64,
    pub completion_rate: f64,
    pub on_time_rate: f64,
    pub green: i64,
    pub blue: i64,
    pub yellow: i64,
    pub red: i64,
    pub funds_recovered_fen: i64,
    /// Clue figures of GetStatistics (from the issues service).
    pub statistics_clues: i64,
    pub statistics_clues_disposed: i64,
    pub statistics_clues_concluded: i64,
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
        Output::Text => {
            let r = &report;
            println!("loaded in {:.1} s into {}:", r.seconds, r.city_path);
            println!(
                "  {} organisations, {} inspectors, {} rounds, {} inspections",
                r.organisations, r.inspectors, r.rounds, r.inspections
            );
            println!(
                "  {} problems, {} clues ({} disposed, {} concluded), {} transfers, {} write-offs, {} reopened",
                r.problems,
                r.clues,
                r.clues_disposed,
                r.clues_concluded,
                r.transfers,
                r.write_offs,
                r.reopened
            );
            println!(
                "  statistics: {} found, {} written off ({:.1}%), on time {:.1}%, funds recovered {} yuan",
                r.found,
                r.written_off,
                r.completion_rate * 100.0,
                r.on_time_rate * 100.0,
                super::export::yuan(r.funds_recovered_fen)
            );
            println!(
                "  open entries by colour: {} green, {} blue, {} yellow, {} red",
                r.green, r.blue, r.yellow, r.red
            );
            println!(
                "  clues: {} registered, {} disposed, {} concluded",
                r.statistics_clues, r.statistics_clues_disposed, r.statistics_clues_concluded
            );
            println!(
                "Try: fiveledger stats --scope {} --group-by organisation",
                r.city_path
            );
        }
    }
    Ok(())
}

/// The callers of the story: each step is signed by who would take it.
struct Cast {
    office: Services,
    unit: Services,
    verifier: Services,
    commission: Services,
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

/// One organisation of the tree.
#[derive(Debug, Clone)]
struct Org {
    id: String,
    kind: OrganisationKind,
    parent: String,
    display_name: String,
}

/// The tree the story plays in.
struct World {
    region: String,
    city: String,
    city_name: String,
    commission: String,
    org_department: String,
    propaganda: String,
    /// Organisations that may be inspected, with their display names.
    targets: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    all: Vec<Vec<Org>>,
}

const COUNTIES: &[&str] = &["江南区", "江北县", "青山县", "白云县", "临江县", "石门县"];
const BUREAUS: &[&str] = &[
    "财政局",
    "教育局",
    "卫生健康委",
    "住房城乡建设局",
    "农业农村局",
    "民政局",
    "自然资源局",
    "交通运输局",
];
const ENTERPRISES: &[&str] = &[
    "城市建设投资集团",
    "水务集团",
    "交通投资集团",
    "农村商业银行",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "梁",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    "秀英", "建华", "志强", "海燕", "国庆",
];

fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

fn world(prefix: &str, scale: f64) -> World {
    use OrganisationKind as K;
    let p = prefix;
    let org = |id: String, kind, parent: &str, name: String| Org {
        id,
        kind,
        parent: parent.to_owned(),
        display_name: name,
    };
    let region = format!("{p}-region");
    let city = format!("{p}-city");
    let mut levels = vec![
        vec![org(region.clone(), K::Region, "", "示范自治区".into())],
        vec![org(city.clone(), K::City, &region, "江城市".into())],
    ];
    let mut bodies = vec![
        org(
            format!("{p}-city-jw"),
            K::DisciplineCommission,
            &city,
            "江城市纪委监委".into(),
        ),
        org(
            format!("{p}-city-zzb"),
            K::OrganisationDepartment,
            &city,
            "中共江城市委组织部".into(),
        ),
        org(
            format!("{p}-city-xcb"),
            K::PropagandaDepartment,
            &city,
            "中共江城市委宣传部".into(),
        ),
        org(
            format!("{p}-city-xcban"),
            K::InspectionOffice,
            &city,
            "中共江城市委巡察办".into(),
        ),
    ];
    let mut targets = Vec::new();
    let mut villages = Vec::new();
    for (i, b) in BUREAUS.iter().enumerate() {
        let o = org(
            format!("{p}-city-b{i}"),
            K::FunctionalDepartment,
            &city,
            format!("江城市{b}"),
        );
        targets.push((o.id.clone(), o.display_name.clone()));
        bodies.push(o);
    }
    for (i, e) in ENTERPRISES.iter().enumerate() {
        let o = org(
            format!("{p}-city-e{i}"),
            K::Enterprise,
            &city,
            format!("江城市{e}"),
        );
        targets.push((o.id.clone(), o.display_name.clone()));
        bodies.push(o);
    }
    // Fewer counties and townships at small scales keep the tree in proportion.
    let counties = ((COUNTIES.len() as f64 * scale).ceil() as usize).clamp(2, COUNTIES.len());
    let townships = ((8.0 * scale).ceil() as usize).clamp(2, 8);
    let mut county_level = Vec::new();
    let mut county_bodies = Vec::new();
    let mut township_level = Vec::new();
    let mut village_level = Vec::new();
    for (c, county) in COUNTIES.iter().take(counties).enumerate() {
        let cid = format!("{p}-c{c}");
        county_level.push(org(cid.clone(), K::County, &city, county.to_string()));
        county_bodies.push(org(
            format!("{cid}-jw"),
            K::DisciplineCommission,
            &cid,
            format!("{county}纪委监委"),
        ));
        county_bodies.push(org(
            format!("{cid}-zzb"),
            K::OrganisationDepartment,
            &cid,
            format!("{county}委组织部"),
        ));
        county_bodies.push(org(
            format!("{cid}-xcb"),
            K::PropagandaDepartment,
            &cid,
            format!("{county}委宣传部"),
        ));
        for (i, b) in BUREAUS.iter().take(4).enumerate() {
            let o = org(
                format!("{cid}-b{i}"),
                K::FunctionalDepartment,
                &cid,
                format!("{county}{b}"),
            );
            targets.push((o.id.clone(), o.display_name.clone()));
            county_bodies.push(o);
        }
        for t in 0..townships {
            let tid = format!("{cid}-t{t}");
            let tname = format!("{county}第{}镇", t + 1);
            targets.push((tid.clone(), tname.clone()));
            township_level.push(org(tid.clone(), K::Township, &cid, tname.clone()));
            for v in 0..6 {
                let vid = format!("{tid}-v{v}");
                let vname = format!("{tname}{}村", ["东", "西", "南", "北", "新", "和平"][v]);
                villages.push((vid.clone(), vname.clone()));
                targets.push((vid.clone(), vname.clone()));
                village_level.push(org(vid, K::Village, &tid, vname));
            }
        }
    }
    levels.push(bodies);
    levels.push(county_level);
    levels.push(county_bodies);
    levels.push(township_level);
    levels.push(village_level);
    World {
        commission: format!("organisations/{p}-city-jw"),
        org_department: format!("organisations/{p}-city-zzb"),
        propaganda: format!("organisations/{p}-city-xcb"),
        city_name: "江城市".into(),
        region,
        city,
        targets,
        villages,
        all: levels,
    }
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
    let cast = Arc::new(Cast {
        office: services.as_caller(&admin_token(signer, &format!("{}-office", options.prefix)))?,
        unit: services.as_caller(&admin_token(signer, &format!("{}-unit", options.prefix)))?,
        verifier: services.as_caller(&admin_token(
            signer,
            &format!("{}-verifier", options.prefix),
        ))?,
        commission: services.as_caller(&admin_token(signer, &format!("{}-jw", options.prefix)))?,
    });
    let tally = Arc::new(Tally::default());
    let world = Arc::new(world(&options.prefix, options.scale));
    let today = chrono::Utc::now().date_naive();

    // The tree, level by level (a child needs its parent).
    for level in &world.all {
        stream::iter(level.clone())
            .map(|o| {
                let cast = cast.clone();
                let tally = tally.clone();
                async move {
                    cast.office
                        .organisations()
                        .create_organisation(CreateOrganisationRequest {
                            organisation: Some(Organisation {
                                display_name: o.display_name.clone(),
                                kind: o.kind as i32,
                                parent: if o.parent.is_empty() {
                                    String::new()
                                } else {
                                    format!("organisations/{}", o.parent)
                                },
                                ..Default::default()
                            }),
                            organisation_id: o.id.clone(),
                            request_id: String::new(),
                        })
                        .await
                        .map_err(|s| failed(&format!("creating organisation {}", o.id), s))?;
                    add(&tally.organisations, 1);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(options.concurrency * 2)
            .try_collect::<Vec<_>>()
            .await?;
    }

    // The talent pool: people of the inspection office, the commission and
    // the organisation department (never a target, so avoidance holds).
    let mut rng = StdRng::seed_from_u64(options.seed);
    let homes = [
        format!("organisations/{}-city-xcban", options.prefix),
        world.commission.clone(),
        world.org_department.clone(),
    ];
    let pool: Vec<String> = (0..40)
        .map(|i| format!("{}-inspector-{i}", options.prefix))
        .collect();
    let people: Vec<(String, String)> = pool
        .iter()
        .map(|id| (id.clone(), person(&mut rng)))
        .collect();
    stream::iter(people.into_iter().enumerate())
        .map(|(i, (id, name))| {
            let cast = cast.clone();
            let tally = tally.clone();
            let home = homes[i % homes.len()].clone();
            async move {
                cast.office
                    .inspectors()
                    .create_inspector(CreateInspectorRequest {
                        inspector: Some(Inspector {
                            display_name: name,
                            subject: id.clone(),
                            home_organisation: home,
                            ..Default::default()
                        }),
                        inspector_id: id.clone(),
                        request_id: String::new(),
                    })
                    .await
                    .map_err(|s| failed(&format!("creating inspector {id}"), s))?;
                add(&tally.inspectors, 1);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(options.concurrency * 2)
        .try_collect::<Vec<_>>()
        .await?;

    // Twelve rounds, about one a quarter, the last one still rectifying.
    let plan = plan_rounds(&world, options, today, &mut rng);
    let total: usize = plan.iter().map(|r| r.targets.len()).sum();
    let progress = Progress::new(total as u64, "loading inspections");
    let mut inspected: Vec<(String, String)> = Vec::new();
    let mut rounds_created = 0;
    for round in &plan {
        let created = create_round(&cast, &world, round).await?;
        rounds_created += 1;
        let groups = create_groups(&cast, &created.name, round, &pool).await?;
        let work: Vec<(usize, TargetPlan)> = round.targets.iter().cloned().enumerate().collect();
        let results: Vec<(String, String)> = stream::iter(work)
            .map(|(i, target)| {
                let cast = cast.clone();
                let tally = tally.clone();
                let world = world.clone();
                let round_name = created.name.clone();
                let group = groups[i % groups.len()].clone();
                let progress = progress.clone();
                let look_back_of = target.look_back_of.clone();
                let seed = options.seed ^ ((round.number as u64) << 32) ^ i as u64;
                let round = round.clone();
                async move {
                    let inspection = inspect(
                        &cast,
                        &world,
                        &tally,
                        &round,
                        &round_name,
                        &group,
                        &target,
                        look_back_of.as_deref(),
                        seed,
                        today,
                    )
                    .await
                    .with_context(|| format!("loading {} of {}", target.target, round_name))?;
                    progress.inc(1);
                    anyhow::Ok((target.target.clone(), inspection))
                }
            })
            .buffer_unordered(options.concurrency)
            .try_collect()
            .await?;
        if round.closes {
            cast.office
                .rounds()
                .close_round(CloseRoundRequest {
                    name: created.name.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed(&format!("closing {}", created.name), s))?;
        }
        inspected.extend(results);
    }
    progress.finish();

    let city_path = format!("{}/{}", world.region, world.city);
    let stats = statistics(
        services,
        &Scope::Subtree(city_path.clone()),
        StatisticsGrouping::Unspecified,
    )
    .await?;
    let c = stats.total.and_then(|t| t.counts).unwrap_or_default();
    let clues = c.clues.unwrap_or_default();
    let t = &tally;
    Ok(DemoReport {
        seconds: started.elapsed().as_secs_f64(),
        city_path,
        organisations: t.organisations.load(Ordering::Relaxed),
        inspectors: t.inspectors.load(Ordering::Relaxed),
        rounds: rounds_created,
        inspections: inspected.len() as u64,
        problems: t.problems.load(Ordering::Relaxed),
        clues: t.clues.load(Ordering::Relaxed),
        clues_disposed: t.clues_disposed.load(Ordering::Relaxed),
        clues_concluded: t.clues_concluded.load(Ordering::Relaxed),
        transfers: t.transfers.load(Ordering::Relaxed),
        write_offs: t.write_offs.load(Ordering::Relaxed),
        reopened: t.reopened.load(Ordering::Relaxed),
        found: c.found,
        written_off: c.written_off,
        completion_rate: c.completion_rate,
        on_time_rate: c.on_time_rate,
        green: c.green,
        blue: c.blue,
        yellow: c.yellow,
        red: c.red,
        funds_recovered_fen: c.funds_recovered_fen,
        statistics_clues: clues.registered,
        statistics_clues_disposed: clues.disposed,
        statistics_clues_concluded: clues.with_outcome,
    })
}

/// One round of the story.
#[derive(Debug, Clone)]
struct RoundPlan {
    id: String,
    number: i32,
    kind: RoundKind,
    theme: String,
    look_back_rounds: Vec<String>,
    organisation: String,
    start: NaiveDate,
    targets: Vec<TargetPlan>,
    /// Share of the round's entries still open today (recent rounds are
    /// still rectifying).
    open_share: f64,
    /// Old rounds are closed: double reports in, inspections and round closed.
    closes: bool,
}

#[derive(Debug, Clone)]
struct TargetPlan {
    target: String,
    look_back_of: Option<String>,
}

fn plan_rounds(
    world: &World,
    options: &DemoOptions,
    today: NaiveDate,
    rng: &mut StdRng,
) -> Vec<RoundPlan> {
    let p = &options.prefix;
    let per_round = |rng: &mut StdRng| {
        ((rng.random_range(40..=45) as f64 * options.scale).round() as usize).max(1)
    };
    let mut rotation = 0usize;
    let mut plans: Vec<RoundPlan> = Vec::new();
    for k in 0..12 {
        let number = k as i32 + 1;
        let id = format!("{p}-round-{number}");
        // Three years, one round a quarter; the last fed back about seven
        // weeks ago.
        let start = today - Days::new(94 + 91 * (11 - k as u64));
        let (kind, theme, look_back_rounds) = match number {
            4 => (RoundKind::Special, "扶贫领域".to_owned(), vec![]),
            8 => (RoundKind::Special, "乡村振兴资金".to_owned(), vec![]),
            6 => (
                RoundKind::LookBack,
                String::new(),
                vec![format!("rounds/{p}-round-1"), format!("rounds/{p}-round-2")],
            ),
            11 => (
                RoundKind::LookBack,
                String::new(),
                vec![format!("rounds/{p}-round-5"), format!("rounds/{p}-round-7")],
            ),
            _ => (RoundKind::Regular, String::new(), vec![]),
        };
        let n = per_round(rng);
        let targets: Vec<TargetPlan> = match kind {
            RoundKind::LookBack => {
                // Re-inspect targets of the rounds looked back on.
                let earlier: Vec<TargetPlan> = plans
                    .iter()
                    .filter(|r| look_back_rounds.contains(&format!("rounds/{}", r.id)))
                    .flat_map(|r| {
                        r.targets
                            .iter()
                            .enumerate()
                            .filter(|(_, t)| t.look_back_of.is_none())
                            .map(|(i, t)| TargetPlan {
                                target: t.target.clone(),
                                look_back_of: Some(format!("rounds/{}/inspections/i{i}", r.id)),
                            })
                    })
                    .collect();
                earlier.into_iter().step_by(2).take(n).collect()
            }
            RoundKind::Special => (0..n)
                .map(|j| TargetPlan {
                    target: world.villages[(k * 7 + j * 3) % world.villages.len()]
                        .0
                        .clone(),
                    look_back_of: None,
                })
                .collect(),
            _ => (0..n)
                .map(|_| {
                    rotation += 1;
                    TargetPlan {
                        target: world.targets[(rotation * 5) % world.targets.len()]
                            .0
                            .clone(),
                        look_back_of: None,
                    }
                })
                .collect(),
        };
        // A target appears once per round.
        let mut seen = std::collections::HashSet::new();
        let targets = targets
            .into_iter()
            .filter(|t| seen.insert(t.target.clone()))
            .collect();
        plans.push(RoundPlan {
            id,
            number,
            kind,
            theme,
            look_back_rounds,
            organisation: format!("organisations/{}", world.city),
            start,
            targets,
            open_share: match k {
                11 => 0.55,
                10 => 0.12,
                _ => 0.015,
            },
            closes: k <= 8,
        });
    }
    plans
}

async fn create_round(cast: &Cast, world: &World, plan: &RoundPlan) -> anyhow::Result<Round> {
    let _ = world;
    let round = cast
        .office
        .rounds()
        .create_round(CreateRoundRequest {
            round: Some(Round {
                display_name: format!("七届{}委第{}轮巡察", world.city_name, plan.number),
                term: 7,
                number: plan.number,
                kind: plan.kind as i32,
                theme: plan.theme.clone(),
                look_back_rounds: plan.look_back_rounds.clone(),
                organisation: plan.organisation.clone(),
                planned_start_date: Some(to_date(plan.start)),
                planned_end_date: Some(to_date(plan.start + Days::new(80))),
                ..Default::default()
            }),
            round_id: plan.id.clone(),
            request_id: String::new(),
        })
        .await
        .map_err(|s| failed(&format!("creating round {}", plan.id), s))?
        .into_inner();
    cast.office
        .rounds()
        .start_round(StartRoundRequest {
            name: round.name.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| failed(&format!("starting {}", round.name), s))
        .map(|r| r.into_inner())
}

/// Five groups of five from the pool, a different slice each round.
async fn create_groups(
    cast: &Cast,
    round: &str,
    plan: &RoundPlan,
    pool: &[String],
) -> anyhow::Result<Vec<String>> {
    let groups = plan.targets.len().div_ceil(9).clamp(1, 5);
    let mut names = Vec::new();
    for g in 0..groups {
        let at = |j: usize| {
            format!(
                "inspectors/{}",
                pool[(plan.number as usize * 3 + g * 5 + j) % pool.len()]
            )
        };
        let group = cast
            .office
            .groups()
            .create_group(CreateGroupRequest {
                parent: round.to_owned(),
                group: Some(Group {
                    display_name: format!("第{}巡察组", g + 1),
                    leader: at(0),
                    deputies: vec![at(1)],
                    members: vec![at(2), at(3), at(4)],
                    ..Default::default()
                }),
                group_id: format!("g{g}"),
                request_id: String::new(),
            })
            .await
            .map_err(|s| failed(&format!("creating group {g} of {round}"), s))?
            .into_inner();
        names.push(group.name);
    }
    Ok(names)
}

const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "party-leadership",
        &[
            "贯彻落实上级重大决策部署不到位",
            "“三重一大”集体决策制度执行不严格",
            "落实意识形态工作责任制流于形式",
        ],
    ),
    (
        "party-building",
        &[
            "“三会一课”制度落实不到位",
            "党员发展程序不规范",
            "基层党组织换届不及时",
        ],
    ),
    (
        "strict-governance",
        &[
            "违规发放津补贴",
            "公务接待超标准",
            "公车私用问题仍有发生",
            "工程项目未按规定招投标",
        ],
    ),
    (
        "personnel-selection",
        &[
            "干部选拔任用程序不规范",
            "个人有关事项报告核查结果运用不到位",
            "超职数配备干部",
        ],
    ),
    (
        "ideology",
        &["理论学习中心组学习流于形式", "网络意识形态阵地管理薄弱"],
    ),
];
const GRASSROOTS: &[(&str, &[&str])] = &[
    (
        "graft-close-to-the-people",
        &[
            "优亲厚友违规享受低保",
            "村级工程项目虚报冒领",
            "截留挪用惠农补贴资金",
        ],
    ),
    (
        "weak-grassroots-organisations",
        &["村“两委”班子战斗力不强", "村务公开不及时不规范"],
    ),
    (
        "benefit-policies",
        &["扶贫项目资产管理不善", "产业扶持资金发放不精准"],
    ),
];

/// Entries of one inspection driven at once.
const ENTRIES_AT_ONCE: usize = 4;

fn date(d: NaiveDate) -> Option<Date> {
    Some(to_date(d))
}

fn date_of(d: Option<&Date>) -> Option<NaiveDate> {
    d.and_then(|d| from_date("date", d).ok())
}

/// One target's inspection from preparation to rectification, its
/// problems and clues, and the ledger steps of its entries.
#[allow(clippy::too_many_arguments)]
async fn inspect(
    cast: &Cast,
    world: &World,
    tally: &Tally,
    round: &RoundPlan,
    round_name: &str,
    group: &str,
    target: &TargetPlan,
    look_back_of: Option<&str>,
    seed: u64,
    today: NaiveDate,
) -> anyhow::Result<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let index = round
        .targets
        .iter()
        .position(|t| t.target == target.target)
        .unwrap_or_default();
    let office = &cast.office;
    let inspection = office
        .inspections()
        .create_inspection(CreateInspectionRequest {
            parent: round_name.to_owned(),
            inspection: Some(Inspection {
                target: format!("organisations/{}", target.target),
                group: group.to_owned(),
                look_back_of: look_back_of.unwrap_or_default().to_owned(),
                ..Default::default()
            }),
            inspection_id: format!("i{index}"),
            request_id: String::new(),
        })
        .await
        .map_err(|s| failed("creating the inspection", s))?
        .into_inner();
    let name = inspection.name.clone();
    let start = round.start + Days::new(rng.random_range(0..10));
    let step = |what: &'static str| move |s| failed(what, s);
    // 巡前: the discipline commission and the organisation department both
    // brief the group before it may be stationed.
    for (body, summary) in [
        (
            &world.commission,
            "通报被巡察党组织领导班子及其成员党风廉政情况",
        ),
        (
            &world.org_department,
            "通报被巡察党组织领导班子及其成员选人用人和干部队伍建设情况",
        ),
    ] {
        office
            .inspections()
            .record_briefing(RecordBriefingRequest {
                name: name.clone(),
                briefing: Some(Briefing {
                    organisation: body.clone(),
                    date: date(start - Days::new(3)),
                    summary: summary.into(),
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("recording the briefing"))?;
    }
    office
        .inspections()
        .start_stationing(StartStationingRequest {
            name: name.clone(),
            start_date: date(start),
            end_date: date(start + Days::new(30)),
            request_id: String::new(),
        })
        .await
        .map_err(step("stationing the group"))?;

    // Problems, in one import (the list a group hands in).
    let grassroots = target.target.contains("-t");
    let count = rng.random_range(4..=14);
    let mut problems = Vec::with_capacity(count);
    for _ in 0..count {
        let catalogue = if grassroots && rng.random_bool(0.6) {
            GRASSROOTS
        } else {
            CATEGORIES
        };
        let (category, titles) = catalogue[rng.random_range(0..catalogue.len())];
        let title = titles[rng.random_range(0..titles.len())];
        let severity = match rng.random_range(0..10) {
            0 => Severity::Severe,
            1..=3 => Severity::Major,
            _ => Severity::Minor,
        };
        let fixed = rng.random_bool(0.12).then(|| FixedOnTheSpot {
            date: date(start + Days::new(rng.random_range(5..25))),
            action: "巡察期间立行立改，已完成整改".into(),
        });
        problems.push(Problem {
            category: category.into(),
            severity: severity as i32,
            title: title.into(),
            description: format!("{title}。经查，存在相关问题，需按要求整改。"),
            fixed_on_the_spot: fixed,
            responsibilities: Some(Responsibilities {
                principal: person(&mut rng),
                leader_in_charge: person(&mut rng),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let imported = cast
        .office
        .problems()
        .import_problems(stream::iter(vec![ImportProblemsRequest {
            inspection: name.clone(),
            problems,
            request_id: String::new(),
        }]))
        .await
        .map_err(step("importing the problems"))?
        .into_inner();
    anyhow::ensure!(
        imported.errors.is_empty(),
        "the import was refused: {:?}",
        imported.errors
    );
    add(&tally.problems, imported.problems.len() as u64);

    // Clues about cadres, for the discipline commission.
    let clues = rng.random_range(1..=4);
    for _ in 0..clues {
        let clue = office
            .clues()
            .create_clue(CreateClueRequest {
                clue: Some(fiveledger_proto::issues::Clue {
                    inspection: name.clone(),
                    subject_name: person(&mut rng),
                    subject_post: ["副局长", "科长", "村党支部书记", "镇党委委员"]
                        [rng.random_range(0..4)]
                    .into(),
                    summary: "反映其违规插手工程项目".into(),
                    source: "个别谈话".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("registering a clue"))?
            .into_inner();
        add(&tally.clues, 1);
        if rng.random_bool(282.0 / 1331.0) {
            let day = start + Days::new(rng.random_range(40..90));
            let method = [
                DisposalMethod::TalkOrLetter,
                DisposalMethod::PreliminaryVerification,
                DisposalMethod::Hold,
                DisposalMethod::Conclude,
            ][rng.random_range(0..4)];
            cast.commission
                .clues()
                .dispose_clue(DisposeClueRequest {
                    name: clue.name.clone(),
                    disposal: Some(ClueDisposal {
                        method: method as i32,
                        date: date(day),
                        note: "经研究，按规定处置".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .map_err(step("disposing of a clue"))?;
            add(&tally.clues_disposed, 1);
            if rng.random_bool(235.0 / 282.0) {
                let kind = [
                    ClueOutcomeKind::CaseFiled,
                    ClueOutcomeKind::Disciplined,
                    ClueOutcomeKind::OrganisationalHandling,
                    ClueOutcomeKind::Cleared,
                ][rng.random_range(0..4)];
                cast.commission
                    .clues()
                    .record_clue_outcome(RecordClueOutcomeRequest {
                        name: clue.name.clone(),
                        outcome: Some(ClueOutcome {
                            kind: kind as i32,
                            date: date(day + Days::new(rng.random_range(10..60))),
                            note: "办理完毕".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .map_err(step("recording a clue's outcome"))?;
                add(&tally.clues_concluded, 1);
            }
        }
    }

    // Reports, feedback (the list is frozen, the ledger opens and hands over).
    for (kind, days, summary) in [
        (InspectionReportKind::MidTerm, 15, "中期汇报"),
        (InspectionReportKind::Comprehensive, 35, "综合汇报"),
    ] {
        office
            .inspections()
            .report_inspection(ReportInspectionRequest {
                name: name.clone(),
                kind: kind as i32,
                report: Some(ReportRecord {
                    date: date(start + Days::new(days)),
                    summary: summary.into(),
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("reporting the inspection"))?;
    }
    let feedback = start + Days::new(45);
    let part = |recipient: &str| FeedbackPart {
        date: date(feedback),
        given_by: "巡察组组长".into(),
        recipient: recipient.into(),
    };
    office
        .inspections()
        .give_feedback(GiveFeedbackRequest {
            name: name.clone(),
            feedback: Some(DoubleFeedback {
                individual: Some(part("主要负责人")),
                public: Some(part("领导班子")),
            }),
            request_id: String::new(),
        })
        .await
        .map_err(step("giving feedback"))?;
    office
        .inspections()
        .start_rectification(StartRectificationRequest {
            name: name.clone(),
            start_date: date(feedback),
            request_id: String::new(),
        })
        .await
        .map_err(step("starting rectification"))?;

    let entries = handed_over(cast, &name, imported.problems.len()).await?;
    let ctx = EntryContext {
        cast,
        world,
        tally,
        feedback,
        today,
        open_share: round.open_share,
    };
    // Each entry has its own story (and seed), so they load side by side.
    let seeds: Vec<u64> = entries.iter().map(|_| rng.random()).collect();
    stream::iter(entries.iter().zip(seeds))
        .map(|(entry, seed)| {
            let ctx = &ctx;
            async move {
                ctx.drive(entry, StdRng::seed_from_u64(seed))
                    .await
                    .with_context(|| format!("driving {}", entry.name))
            }
        })
        .buffer_unordered(ENTRIES_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;

    // A look-back finds a few rectifications on paper only and reopens them.
    if let Some(earlier) = look_back_of
        && rng.random_bool(0.12)
    {
        let written_off = list_entries(
            cast,
            &format!("inspection = \"{earlier}\" AND state = ENTRY_STATE_WRITTEN_OFF"),
        )
        .await?;
        if let Some(entry) = written_off.first() {
            let mut days = Calendar::new(
                date_of(entry.last_step_date.as_ref()).unwrap_or(feedback),
                today,
            );
            let e = cast
                .office
                .ledger()
                .reopen(ReopenRequest {
                    name: entry.name.clone(),
                    inspection: name.clone(),
                    reason: "回头看发现整改不到位，存在文字整改".into(),
                    due_date: date(today + Days::new(rng.random_range(20..90))),
                    effective_date: days.at(feedback),
                    ..Default::default()
                })
                .await
                .map_err(step("reopening an entry"))?
                .into_inner();
            add(&tally.reopened, 1);
            ctx.plan(
                &e,
                today + Days::new(rng.random_range(20..90)),
                &mut days,
                &mut rng,
            )
            .await?;
        }
    }

    if round.closes {
        for (kind, days) in [
            (DoubleReportKind::Team, 50),
            (DoubleReportKind::Principal, 52),
        ] {
            office
                .inspections()
                .record_double_report(RecordDoubleReportRequest {
                    name: name.clone(),
                    kind: kind as i32,
                    report: Some(ReportRecord {
                        date: date(feedback + Days::new(days)),
                        summary: "整改情况报告".into(),
                    }),
                    request_id: String::new(),
                })
                .await
                .map_err(step("recording the double report"))?;
        }
        office
            .inspections()
            .close_inspection(CloseInspectionRequest {
                name: name.clone(),
                close_date: date(feedback + Days::new(90)),
                note: "整改基本完成，转入日常监督".into(),
                request_id: String::new(),
            })
            .await
            .map_err(step("closing the inspection"))?;
    }
    Ok(name)
}

async fn list_entries(cast: &Cast, filter: &str) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = cast
            .office
            .ledger()
            .list_entries(ListEntriesRequest {
                page_size: 1000,
                page_token: token,
                filter: filter.to_owned(),
                order_by: String::new(),
            })
            .await
            .map_err(|s| failed("listing entries", s))?
            .into_inner();
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// Waits until the ledger has opened and handed over every entry of the
/// inspection (it follows the other services' events asynchronously).
async fn handed_over(
    cast: &Cast,
    inspection: &str,
    expected: usize,
) -> anyhow::Result<Vec<LedgerEntry>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let filter = format!("inspection = \"{inspection}\" AND state = ENTRY_STATE_HANDED_OVER");
    loop {
        let mut entries = list_entries(cast, &filter).await?;
        if entries.len() >= expected {
            entries.sort_by(|a, b| a.problem.cmp(&b.problem));
            return Ok(entries);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the ledger handed over {} of {expected} entries of {inspection} within two minutes",
            entries.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct EntryContext<'a> {
    cast: &'a Cast,
    world: &'a World,
    tally: &'a Tally,
    feedback: NaiveDate,
    today: NaiveDate,
    open_share: f64,
}

/// Evidence of a demo document: its name and the SHA-256 of its (made-up)
/// content.
fn evidence(what: &str, entry: &str) -> Evidence {
    use sha2::{Digest, Sha256};
    Evidence {
        document: format!("{what}.pdf"),
        sha256: hex::encode(Sha256::digest(format!("{what}:{entry}").as_bytes())),
    }
}

/// The days of one entry's story: they never go back (the ledger refuses a
/// step dated before the last one) and never pass today.
struct Calendar {
    day: NaiveDate,
    today: NaiveDate,
}

impl Calendar {
    fn new(from: NaiveDate, today: NaiveDate) -> Self {
        Self {
            day: from.min(today),
            today,
        }
    }

    /// The day `days` after the last step.
    fn after(&mut self, days: u64) -> Option<Date> {
        self.at(self.day + Days::new(days))
    }

    /// The day `d`, or the last step's if `d` is earlier.
    fn at(&mut self, d: NaiveDate) -> Option<Date> {
        self.day = d.clamp(self.day, self.today);
        date(self.day)
    }
}

impl EntryContext<'_> {
    /// Takes one handed-over entry through the steps its fate calls for,
    /// each dated the day it happened (the demo records three years of
    /// history, as an office moving its paper ledger in would).
    async fn drive(&self, entry: &LedgerEntry, mut rng: StdRng) -> anyhow::Result<()> {
        let rng = &mut rng;
        let mut days = Calendar::new(self.feedback, self.today);
        let unit = &self.cast.unit;
        let e = unit
            .ledger()
            .acknowledge_hand_over(AcknowledgeHandOverRequest {
                name: entry.name.clone(),
                remarks: "已签收，立即组织整改".into(),
                effective_date: days.after(rng.random_range(1..4)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the hand-over", s))?
            .into_inner();
        // Some items go to a supervising body first (移交转账).
        if rng.random_bool(0.08) {
            self.transfer(&e, &mut days, rng).await?;
        }
        let original_due = date_of(e.original_due_date.as_ref()).unwrap_or(self.feedback);
        let open = rng.random_bool(self.open_share);
        if !open {
            // Plans fall due before the hand-over's deadline.
            let slack = (original_due - self.feedback).num_days().max(14) as u64;
            let due = self.feedback + Days::new(rng.random_range(slack / 2..slack));
            let e = self.plan(&e, due, &mut days, rng).await?;
            // About one in twenty is written off late: with the open
            // entries already overdue that lands near the source's 91 % on
            // time.
            let approved = if rng.random_bool(0.055) {
                original_due + Days::new(rng.random_range(5..60))
            } else {
                due.min(original_due) - Days::new(rng.random_range(0..5))
            };
            return self.write_off(&e, approved, &mut days, rng).await;
        }
        // Still open: the current due date sets the colour people see, in
        // the proportions the source reports (2,788 / 111 / 102 / 187).
        let roll = rng.random_range(0..3188);
        let due = if roll < 2788 {
            self.today + Days::new(rng.random_range(10..150))
        } else if roll < 2788 + 111 {
            self.today + Days::new(rng.random_range(1..6))
        } else if roll < 2788 + 111 + 102 {
            self.today - Days::new(rng.random_range(1..25))
        } else {
            self.today - Days::new(rng.random_range(35..120))
        };
        let e = self.plan(&e, due, &mut days, rng).await?;
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        if let Some(m) = measures.first()
            && measures.len() > 1
        {
            let done = days.after(rng.random_range(5..20));
            self.progress(&e, &m.id, done).await?;
        }
        Ok(())
    }

    async fn plan(
        &self,
        e: &LedgerEntry,
        due: NaiveDate,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<LedgerEntry> {
        let unit = &self.cast.unit;
        let count = rng.random_range(1..=2);
        let measures = (0..count)
            .map(|i| Measure {
                id: format!("m{}", i + 1),
                kind: if i == 0 {
                    MeasureKind::Corrective
                } else {
                    MeasureKind::InstitutionBuilding
                } as i32,
                description: if i == 0 {
                    "逐项整改问题，追缴违规资金"
                } else {
                    "建立健全相关制度，堵塞漏洞"
                }
                .into(),
                owner: "办公室".into(),
                due_date: date(if i + 1 == count {
                    due
                } else {
                    due - Days::new(7)
                }),
                ..Default::default()
            })
            .collect();
        let planned = unit
            .ledger()
            .submit_plan(SubmitPlanRequest {
                name: e.name.clone(),
                plan: Some(RectificationPlan {
                    summary: "制定整改方案，明确责任和时限".into(),
                    measures,
                    ..Default::default()
                }),
                effective_date: days.after(rng.random_range(3..10)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("submitting the plan", s))?
            .into_inner();
        let version = planned
            .pending_plan
            .as_ref()
            .map(|p| p.version)
            .unwrap_or(1);
        Ok(self
            .cast
            .office
            .ledger()
            .approve_plan(ApprovePlanRequest {
                name: e.name.clone(),
                version,
                remarks: "同意".into(),
                effective_date: days.after(rng.random_range(1..4)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("approving the plan", s))?
            .into_inner())
    }

    async fn progress(
        &self,
        e: &LedgerEntry,
        measure: &str,
        effective_date: Option<Date>,
    ) -> anyhow::Result<LedgerEntry> {
        Ok(self
            .cast
            .unit
            .ledger()
            .post_progress(PostProgressRequest {
                name: e.name.clone(),
                measure_id: measure.to_owned(),
                description: "已完成该项整改措施".into(),
                evidence: vec![evidence("整改佐证材料", &format!("{}:{measure}", e.name))],
                measure_done: true,
                effective_date,
                ..Default::default()
            })
            .await
            .map_err(|s| failed("posting progress", s))?
            .into_inner())
    }

    async fn transfer(
        &self,
        e: &LedgerEntry,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        let body = if e.category == "personnel-selection"
            || e.category == "weak-grassroots-organisations"
        {
            &self.world.org_department
        } else if e.category == "ideology" {
            &self.world.propaganda
        } else {
            &self.world.commission
        };
        self.cast
            .office
            .ledger()
            .transfer(TransferRequest {
                name: e.name.clone(),
                receiving_body: body.clone(),
                matter: "移交问题线索及相关材料，请依规依纪处理".into(),
                due_date: date(self.feedback + Days::new(rng.random_range(30..60))),
                effective_date: days.after(rng.random_range(1..5)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("transferring", s))?;
        self.cast
            .commission
            .ledger()
            .acknowledge_transfer(AcknowledgeTransferRequest {
                name: e.name.clone(),
                remarks: "已接收".into(),
                effective_date: days.after(rng.random_range(1..3)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the transfer", s))?;
        self.cast
            .commission
            .ledger()
            .return_transfer_result(ReturnTransferResultRequest {
                name: e.name.clone(),
                result: ["已立案审查", "给予党内警告处分", "谈话提醒", "予以了结"]
                    [rng.random_range(0..4)]
                .into(),
                effective_date: days.after(rng.random_range(5..20)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("returning the transfer's result", s))?;
        add(&self.tally.transfers, 1);
        Ok(())
    }

    /// Completes every measure and writes the entry off, approved on
    /// `approved` (or the last step's day, if later).
    async fn write_off(
        &self,
        e: &LedgerEntry,
        approved: NaiveDate,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        let requested = approved - Days::new(rng.random_range(2..6));
        for m in &measures {
            let done = days.at(requested - Days::new(rng.random_range(1..10)));
            self.progress(e, &m.id, done).await?;
        }
        // About 93.1 M yuan over 4,374 write-offs, most items recovering nothing.
        let funds = if rng.random_bool(0.2) {
            rng.random_range(1_000_000..20_000_000i64)
        } else {
            0
        };
        let losses = if rng.random_bool(0.1) {
            rng.random_range(500_000..10_000_000i64)
        } else {
            0
        };
        let figures = RectificationFigures {
            funds_recovered_fen: funds,
            losses_recovered_fen: losses,
            people_held_accountable: i32::from(rng.random_bool(0.08)),
            people_disciplined: i32::from(rng.random_bool(0.06)),
            rules_established: rng.random_range(0..=1),
        };
        let request = RequestWriteOffRequest {
            name: e.name.clone(),
            closure_statement: "问题已整改到位，申请销号".into(),
            evidence: vec![evidence("销号申请及佐证", &e.name)],
            figures: Some(figures),
            ..Default::default()
        };
        let ask = |request: RequestWriteOffRequest, day: Option<Date>| async move {
            self.cast
                .unit
                .ledger()
                .request_write_off(RequestWriteOffRequest {
                    effective_date: day,
                    ..request
                })
                .await
                .map_err(|s| failed("requesting the write-off", s))
        };
        ask(request.clone(), days.at(requested)).await?;
        // A few first requests fall short and are sent back.
        if rng.random_bool(0.03) {
            self.cast
                .verifier
                .ledger()
                .reject_write_off(RejectWriteOffRequest {
                    name: e.name.clone(),
                    reason: "佐证材料不充分，请补充".into(),
                    effective_date: days.after(1),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed("rejecting the write-off", s))?;
            ask(request, days.after(1)).await?;
        }
        self.cast
            .verifier
            .ledger()
            .approve_write_off(ApproveWriteOffRequest {
                name: e.name.clone(),
                remarks: "经核查，整改到位，同意销号".into(),
                effective_date: days.at(approved),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("approving the write-off", s))?;
        add(&self.tally.write_offs, 1);
        Ok(())
    }
}
