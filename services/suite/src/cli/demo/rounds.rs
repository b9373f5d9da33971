//! Twelve rounds over three years, about one a quarter: planned up front
//! (kind, start, targets), then each created, staffed with groups, its
//! inspections loaded side by side, and the old ones closed.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use fiveledger_platform::time::to_date;
use fiveledger_proto::ledgers::PublishRequest;
use fiveledger_proto::rounds::{
    CloseRoundRequest, CreateGroupRequest, CreateRoundRequest, Group, Round, RoundKind,
    StartRoundRequest,
};
use futures::{StreamExt, TryStreamExt, stream};
use rand::Rng;
use rand::rngs::StdRng;

use super::figures::{Source, TOWNSHIP_ROUND};
use super::inspection::{Staffing, inspect};
use super::people::{Inspector, Pool};
use super::world::World;
use super::{Cast, DemoOptions, Story};
use crate::cli::connect::failed;
use crate::cli::progress::Progress;

/// One round of the story.
#[derive(Debug, Clone)]
pub(super) struct RoundPlan {
    pub id: String,
    pub number: i32,
    kind: RoundKind,
    theme: String,
    look_back_rounds: Vec<String>,
    organisation: String,
    pub start: NaiveDate,
    pub targets: Vec<TargetPlan>,
    /// Share of the round's entries still open today (recent rounds are
    /// still rectifying).
    pub open_share: f64,
    /// Old rounds are closed: double reports in, inspections and round closed.
    pub closes: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct TargetPlan {
    pub target: String,
    /// The earlier inspection a look-back round re-inspects.
    pub look_back_of: Option<String>,
    /// Problems the group finds (the city's total is the source's).
    pub problems: usize,
    /// Of them, still open today; the rest are rectified and written off.
    pub open: usize,
    /// Of the written-off ones, those written off after their original
    /// due date (the rest on time).
    pub late: usize,
    /// The fates of the clues the group passes on.
    pub clues: Vec<ClueFate>,
    /// Funds and losses recovered by the write-offs, in fen.
    pub recovered_fen: i64,
    /// A look-back that finds a rectification on paper only and reopens it.
    pub reopens: bool,
}

/// What becomes of one clue at the discipline commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClueFate {
    /// Still awaiting disposal.
    Pending,
    /// Disposed of, no outcome yet.
    Disposed,
    /// Concluded with the cadre cleared.
    Cleared,
    /// Concluded with party or government discipline (党纪政务处分).
    Disciplined,
    /// Concluded with organisational handling (组织处理).
    OrganisationalHandling,
}

/// A group of a round: its name, its leader (who signs the group's steps)
/// and, in a linked round, the county its members come from.
#[derive(Debug, Clone)]
pub(super) struct GroupPlan {
    pub name: String,
    pub leader: Inspector,
    pub county: Option<usize>,
}

/// How many rounds and inspections were loaded, and units published.
pub(super) struct Loaded {
    pub rounds: u64,
    pub inspections: u64,
    pub published: u64,
}

/// Plans the twelve rounds and loads them in order, the last one still
/// rectifying.
pub(super) async fn load(
    story: &Story,
    options: &DemoOptions,
    pool: &Pool,
    rng: &mut StdRng,
) -> anyhow::Result<Loaded> {
    let mut plan = plan(&story.world, options, story.today, rng);
    Source::scaled(options.scale).allot(&mut plan, rng);
    let total: usize = plan.iter().map(|r| r.targets.len()).sum();
    let progress = Progress::new(total as u64, "loading inspections");
    let mut loaded = Loaded {
        rounds: 0,
        inspections: 0,
        published: 0,
    };
    // Two waves: every round that looks back on none, side by side, then
    // the look-backs (which reopen what the earlier rounds wrote off).
    let (first, look_backs): (Vec<&RoundPlan>, Vec<&RoundPlan>) =
        plan.iter().partition(|r| r.kind != RoundKind::LookBack);
    for wave in [first, look_backs] {
        loaded.inspections += load_wave(story, options, &wave, pool, &progress).await?;
        loaded.rounds += wave.len() as u64;
    }
    progress.finish();
    loaded.published = publish(story, options, &plan).await?;
    Ok(loaded)
}

/// 双公开: the office publishes the rectification of the source's share of
/// units (236 at full scale), each once, by its first inspection. Returns
/// how many units the suite published.
async fn publish(story: &Story, options: &DemoOptions, plan: &[RoundPlan]) -> anyhow::Result<u64> {
    let quota = Source::scaled(options.scale).published as usize;
    let mut seen = HashSet::new();
    let inspections: Vec<String> = plan
        .iter()
        .flat_map(|r| {
            r.targets
                .iter()
                .enumerate()
                .map(move |(i, t)| (format!("rounds/{}/inspections/i{i}", r.id), t))
        })
        .filter(|(_, t)| seen.insert(t.target.clone()))
        .map(|(name, _)| name)
        .take(quota)
        .collect();
    let units: Vec<Vec<String>> = stream::iter(inspections)
        .map(|inspection| async move {
            let published = story
                .cast
                .office
                .publications()
                .publish(PublishRequest {
                    inspection: inspection.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed(&format!("publishing {inspection}"), s))?
                .into_inner();
            anyhow::Ok(
                published
                    .publications
                    .into_iter()
                    .map(|p| p.target)
                    .collect(),
            )
        })
        .buffer_unordered(options.concurrency)
        .try_collect()
        .await?;
    let units: HashSet<String> = units.into_iter().flatten().collect();
    Ok(units.len() as u64)
}

/// Rounds loaded side by side: each created, started and staffed, then
/// all their inspections loaded (each from its own seed), at most
/// `concurrency` at once over the wave, and the old rounds closed. Returns
/// how many inspections the wave had.
async fn load_wave(
    story: &Story,
    options: &DemoOptions,
    wave: &[&RoundPlan],
    pool: &Pool,
    progress: &Progress,
) -> anyhow::Result<u64> {
    let cast = &story.cast;
    let mut staffed = Vec::new();
    for round in wave {
        let created = create_round(cast, &story.world, round).await?;
        let groups = create_groups(cast, &created.name, round, pool).await?;
        staffed.push((*round, created.name, groups));
    }
    let inspections = staffed.iter().flat_map(|(round, name, groups)| {
        round
            .targets
            .iter()
            .enumerate()
            .map(move |(i, target)| (*round, name, groups, i, target))
    });
    let loaded: Vec<String> = stream::iter(inspections)
        .map(|(round, round_name, groups, i, target)| {
            let staffing = staffing(&story.world, groups, i, &target.target);
            let seed = options.seed ^ ((round.number as u64) << 32) ^ i as u64;
            async move {
                let inspection = inspect(story, round, round_name, staffing, target, seed)
                    .await
                    .with_context(|| format!("loading {} of {}", target.target, round_name))?;
                progress.inc(1);
                anyhow::Ok(inspection)
            }
        })
        .buffer_unordered(options.concurrency)
        .try_collect()
        .await?;
    for (round, name, _) in &staffed {
        if round.closes {
            cast.office
                .rounds()
                .close_round(CloseRoundRequest {
                    name: name.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed(&format!("closing {name}"), s))?;
        }
    }
    Ok(loaded.len() as u64)
}

/// The group of the `i`th target. In a linked round nobody inspects their
/// own county (地域回避): the group whose members the target's county
/// supplied is tried first, for the rounds service to refuse, and a group
/// from another county takes the target.
fn staffing<'a>(world: &World, groups: &'a [GroupPlan], i: usize, target: &str) -> Staffing<'a> {
    let county = world.county_of(target);
    let own = |g: &&GroupPlan| g.county.is_some() && g.county == county;
    let avoided = groups.iter().find(own);
    let group = (0..groups.len())
        .map(|k| &groups[(i + k) % groups.len()])
        .find(|g| !own(g))
        .unwrap_or(&groups[i % groups.len()]);
    Staffing { group, avoided }
}

/// The twelve rounds: regular ones rotating through the targets, two
/// special rounds on villages, two look-backs at earlier rounds.
fn plan(
    world: &World,
    options: &DemoOptions,
    today: NaiveDate,
    rng: &mut StdRng,
) -> Vec<RoundPlan> {
    let p = &options.prefix;
    let mut rotation = 0usize;
    let mut plans: Vec<RoundPlan> = Vec::new();
    for k in 0..12 {
        let number = k as i32 + 1;
        // Three years, one round a quarter; the last fed back about seven
        // weeks ago.
        let start = today - Days::new(94 + 91 * (11 - k as u64));
        let (kind, theme, look_back_rounds) = kind_of(p, number);
        let n = ((rng.random_range(40..=45) as f64 * options.scale).round() as usize).max(1);
        let targets: Vec<TargetPlan> = match kind {
            RoundKind::LookBack => looked_back(&plans, &look_back_rounds, n),
            // The 2020 township rounds (乡镇巡察) whose on-time rate the
            // source gives.
            _ if number == TOWNSHIP_ROUND => (0..n)
                .map(|j| TargetPlan {
                    target: world.townships[j % world.townships.len()].clone(),
                    ..Default::default()
                })
                .collect(),
            RoundKind::Special => (0..n)
                .map(|j| TargetPlan {
                    target: world.villages[(k * 7 + j * 3) % world.villages.len()]
                        .0
                        .clone(),
                    ..Default::default()
                })
                .collect(),
            // 市县一体化: the city's groups inspect the counties' units.
            RoundKind::Linked => {
                let in_counties: Vec<&String> = world
                    .targets
                    .iter()
                    .map(|(id, _)| id)
                    .filter(|id| world.county_of(id).is_some())
                    .collect();
                (0..n)
                    .map(|j| TargetPlan {
                        target: in_counties[(k * 11 + j * 7) % in_counties.len()].clone(),
                        ..Default::default()
                    })
                    .collect()
            }
            _ => (0..n)
                .map(|_| {
                    rotation += 1;
                    TargetPlan {
                        target: world.targets[(rotation * 5) % world.targets.len()]
                            .0
                            .clone(),
                        ..Default::default()
                    }
                })
                .collect(),
        };
        // A target appears once per round.
        let mut seen = HashSet::new();
        let targets = targets
            .into_iter()
            .filter(|t| seen.insert(t.target.clone()))
            .collect();
        plans.push(RoundPlan {
            id: format!("{p}-round-{number}"),
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

/// Round `number`'s kind, theme and the rounds it looks back on.
fn kind_of(p: &str, number: i32) -> (RoundKind, String, Vec<String>) {
    match number {
        // The townships' round (乡镇巡察): a regular round, so no theme.
        TOWNSHIP_ROUND => (RoundKind::Regular, String::new(), vec![]),
        4 => (RoundKind::Special, "扶贫领域".to_owned(), vec![]),
        8 => (RoundKind::Special, "乡村振兴资金".to_owned(), vec![]),
        9 | 10 => (RoundKind::Linked, String::new(), vec![]),
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
    }
}

/// A look-back re-inspects every other first-time target of the rounds it
/// looks back on.
fn looked_back(plans: &[RoundPlan], look_back_rounds: &[String], n: usize) -> Vec<TargetPlan> {
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
                    ..Default::default()
                })
        })
        .collect();
    earlier.into_iter().step_by(2).take(n).collect()
}

async fn create_round(cast: &Cast, world: &World, plan: &RoundPlan) -> anyhow::Result<Round> {
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

/// Up to five groups of five. The city's people lead every group; in the
/// city's own rounds they are the members too, a different slice each
/// round; in a linked round each group's three members come from one
/// county (市县一体化: the city appoints the leaders, the counties supply
/// the members from the shared pool).
async fn create_groups(
    cast: &Cast,
    round: &str,
    plan: &RoundPlan,
    pool: &Pool,
) -> anyhow::Result<Vec<GroupPlan>> {
    let linked = plan.kind == RoundKind::Linked;
    let groups = plan
        .targets
        .len()
        .div_ceil(9)
        .clamp(if linked { 2 } else { 1 }, 5);
    let counties = pool.counties.len().max(1);
    let mut out = Vec::new();
    for g in 0..groups {
        let city = |j: usize| &pool.city[(plan.number as usize * 3 + g * 5 + j) % pool.city.len()];
        let county = linked.then_some(g % counties);
        let members: Vec<&Inspector> = match county {
            Some(c) => {
                let supplied = &pool.counties[c];
                (0..3)
                    .map(|j| &supplied[((g / counties) * 3 + j) % supplied.len()])
                    .collect()
            }
            None => (2..5).map(city).collect(),
        };
        let name = |i: &Inspector| format!("inspectors/{}", i.id);
        let group = cast
            .office
            .groups()
            .create_group(CreateGroupRequest {
                parent: round.to_owned(),
                group: Some(Group {
                    display_name: format!("第{}巡察组", g + 1),
                    leader: name(city(0)),
                    deputies: vec![name(city(1))],
                    members: members.into_iter().map(name).collect(),
                    ..Default::default()
                }),
                group_id: format!("g{g}"),
                request_id: String::new(),
            })
            .await
            .map_err(|s| failed(&format!("creating group {g} of {round}"), s))?
            .into_inner();
        out.push(GroupPlan {
            name: group.name,
            leader: city(0).clone(),
            county,
        });
    }
    Ok(out)
}
