//! Twelve rounds over three years, about one a quarter: planned up front
//! (kind, start, targets), then each created, staffed with groups, its
//! inspections loaded side by side, and the old ones closed.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use fiveledger_platform::time::to_date;
use fiveledger_proto::rounds::{
    CloseRoundRequest, CreateGroupRequest, CreateRoundRequest, Group, Round, RoundKind,
    StartRoundRequest,
};
use futures::{StreamExt, TryStreamExt, stream};
use rand::Rng;
use rand::rngs::StdRng;

use super::inspection::inspect;
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

#[derive(Debug, Clone)]
pub(super) struct TargetPlan {
    pub target: String,
    /// The earlier inspection a look-back round re-inspects.
    pub look_back_of: Option<String>,
}

/// How many rounds and inspections were loaded.
pub(super) struct Loaded {
    pub rounds: u64,
    pub inspections: u64,
}

/// Plans the twelve rounds and loads them in order, the last one still
/// rectifying.
pub(super) async fn load(
    story: &Story,
    options: &DemoOptions,
    pool: &[String],
    rng: &mut StdRng,
) -> anyhow::Result<Loaded> {
    let plan = plan(&story.world, options, story.today, rng);
    let total: usize = plan.iter().map(|r| r.targets.len()).sum();
    let progress = Progress::new(total as u64, "loading inspections");
    let mut loaded = Loaded {
        rounds: 0,
        inspections: 0,
    };
    for round in &plan {
        loaded.inspections += load_round(story, options, round, pool, &progress).await?;
        loaded.rounds += 1;
    }
    progress.finish();
    Ok(loaded)
}

/// One round: created, started, staffed, its inspections loaded (each from
/// its own seed) and, if old, closed. Returns how many inspections it had.
async fn load_round(
    story: &Story,
    options: &DemoOptions,
    round: &RoundPlan,
    pool: &[String],
    progress: &Progress,
) -> anyhow::Result<u64> {
    let cast = &story.cast;
    let created = create_round(cast, &story.world, round).await?;
    let groups = create_groups(cast, &created.name, round, pool).await?;
    let loaded: Vec<String> = stream::iter(round.targets.iter().enumerate())
        .map(|(i, target)| {
            let round_name = &created.name;
            let group = &groups[i % groups.len()];
            let seed = options.seed ^ ((round.number as u64) << 32) ^ i as u64;
            async move {
                let inspection = inspect(story, round, round_name, group, target, seed)
                    .await
                    .with_context(|| format!("loading {} of {}", target.target, round_name))?;
                progress.inc(1);
                anyhow::Ok(inspection)
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
    Ok(loaded.len() as u64)
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
