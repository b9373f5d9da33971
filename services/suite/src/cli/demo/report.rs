//! What the demo loaded, with the statistics the suite computes from it
//! (read back over gRPC, so the report shows what a user would see).

use std::time::Instant;

use fiveledger_proto::ledgers::StatisticsGrouping;
use serde::Serialize;

use super::figures::{Source, TOWNSHIP_ROUND};
use super::people::POOL;
use super::rounds::Loaded;
use super::{DemoOptions, Story, read};
use crate::cli::export::{statistics, yuan};
use crate::cli::scope::Scope;

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
    /// The look-back campaigns: self-check reports accepted, spot checks
    /// (the failed ones reopened an entry each), key problems listed and
    /// supervision suggestions answered.
    pub self_check_reports: u64,
    pub spot_checks: u64,
    pub key_problems: u64,
    pub suggestions: u64,
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
    /// Units whose rectification was published (双公开).
    pub published: u64,
    /// Staffings refused by avoidance (地域回避) in the linked rounds.
    pub avoidance_refusals: u64,
    /// The on-time rate (按期整改率) of the 2020 township rounds (round
    /// 3), from GetStatistics over the round.
    pub township_on_time_rate: f64,
    /// The source's figures (scaled) next to what the suite counts.
    pub pinned: Vec<Pinned>,
}

/// One figure of the source next to the loaded city's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pinned {
    /// What is counted, as the source says it.
    pub figure: String,
    /// The source's figure at the demo's scale.
    pub source: i64,
    /// What the suite counts for the loaded city.
    pub loaded: i64,
    /// How the figure is shown: `yuan` for fen, `permille` for a rate in
    /// tenths of a per cent, else a count.
    pub unit: String,
}

impl Pinned {
    fn new(figure: &str, source: i64, loaded: i64) -> Self {
        Self {
            figure: figure.into(),
            source,
            loaded,
            unit: String::new(),
        }
    }

    fn show(&self, value: i64) -> String {
        if self.unit == "yuan" {
            format!("{} yuan", yuan(value))
        } else if self.unit == "permille" {
            format!("{}.{} %", value / 10, value % 10)
        } else {
            value.to_string()
        }
    }
}

/// The tally of what was loaded and GetStatistics over the city, read by
/// the city's inspection office, with the source's figures beside them.
pub(super) async fn read_back(
    story: &Story,
    options: &DemoOptions,
    loaded: Loaded,
    started: Instant,
) -> anyhow::Result<DemoReport> {
    let city_path = format!("{}/{}", story.world.region, story.world.city);
    let stats = statistics(
        &story.cast.office,
        &Scope::Subtree(city_path.clone()),
        StatisticsGrouping::Unspecified,
    )
    .await?;
    let c = stats.total.and_then(|t| t.counts).unwrap_or_default();
    let clues = c.clues.unwrap_or_default();
    // The 2020 township rounds: round 3 of the story.
    let township = statistics(
        &story.cast.office,
        &Scope::Round(format!("rounds/{}-round-{TOWNSHIP_ROUND}", options.prefix)),
        StatisticsGrouping::Unspecified,
    )
    .await?
    .total
    .and_then(|t| t.counts)
    .unwrap_or_default();
    let t = &story.tally;
    let source = Source::scaled(options.scale);
    let as_i64 = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let pinned = vec![
        Pinned::new(
            "problems found and fed back (发现和反馈问题)",
            as_i64(source.problems),
            c.found,
        ),
        Pinned::new(
            "rectified (整改完成)",
            as_i64(source.rectified),
            c.written_off,
        ),
        Pinned::new(
            "clues transferred (移交问题线索)",
            as_i64(source.clues),
            clues.registered,
        ),
        Pinned {
            unit: "yuan".into(),
            ..Pinned::new(
                "losses recovered and funds returned (挽回经济损失和清退违纪违规资金)",
                source.recovered_fen,
                c.funds_recovered_fen + c.losses_recovered_fen,
            )
        },
        Pinned::new(
            "people disciplined or handled (党纪政务处分及组织处理)",
            as_i64(source.people),
            clues.disciplined + clues.organisational_handling,
        ),
        Pinned::new(
            "units published (公开整改情况)",
            as_i64(source.published),
            as_i64(loaded.published),
        ),
        Pinned::new(
            "talent pool of the linked rounds (人才库)",
            POOL as i64,
            as_i64(read(&t.inspectors)),
        ),
        Pinned::new(
            "problems fed back and rectified in the 2020 township rounds (round 3, 乡镇巡察)",
            as_i64(source.township_problems),
            township.written_off.min(township.found),
        ),
        Pinned::new(
            "of them rectified on time (按期整改)",
            as_i64(source.township_on_time),
            township.written_off_on_time,
        ),
        Pinned {
            unit: "permille".into(),
            ..Pinned::new(
                "on-time rate of the 2020 township rounds (按期整改率)",
                permille(
                    as_i64(source.township_on_time),
                    as_i64(source.township_problems),
                ),
                permille(township.written_off_on_time, township.due_so_far),
            )
        },
    ];
    Ok(DemoReport {
        seconds: started.elapsed().as_secs_f64(),
        city_path,
        organisations: read(&t.organisations),
        inspectors: read(&t.inspectors),
        rounds: loaded.rounds,
        inspections: loaded.inspections,
        problems: read(&t.problems),
        clues: read(&t.clues),
        clues_disposed: read(&t.clues_disposed),
        clues_concluded: read(&t.clues_concluded),
        transfers: read(&t.transfers),
        write_offs: read(&t.write_offs),
        reopened: read(&t.reopened),
        self_check_reports: read(&t.self_check_reports),
        spot_checks: read(&t.spot_checks),
        key_problems: read(&t.key_problems),
        suggestions: read(&t.suggestions),
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
        published: loaded.published,
        avoidance_refusals: read(&t.avoidance_refusals),
        township_on_time_rate: township.on_time_rate,
        pinned,
    })
}

/// `part / whole` in tenths of a per cent, rounded (0 of nothing).
fn permille(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        0
    } else {
        (part * 1000 + whole / 2) / whole
    }
}

impl DemoReport {
    /// The report for people.
    pub fn print(&self) {
        let r = self;
        crate::say!("loaded in {:.1} s into {}:", r.seconds, r.city_path);
        crate::say!(
            "  {} organisations, {} inspectors, {} rounds, {} inspections",
            r.organisations,
            r.inspectors,
            r.rounds,
            r.inspections
        );
        crate::say!(
            "  {} problems, {} clues ({} disposed, {} concluded), {} transfers, {} write-offs, {} reopened",
            r.problems,
            r.clues,
            r.clues_disposed,
            r.clues_concluded,
            r.transfers,
            r.write_offs,
            r.reopened
        );
        crate::say!(
            "  look-back campaigns: {} self-check reports accepted, {} spot checks ({} failed and reopened), {} key problems, {} suggestions answered",
            r.self_check_reports,
            r.spot_checks,
            r.reopened,
            r.key_problems,
            r.suggestions
        );
        crate::say!(
            "  statistics: {} found, {} written off ({:.1}%), on time {:.1}%, funds returned {} yuan",
            r.found,
            r.written_off,
            r.completion_rate * 100.0,
            r.on_time_rate * 100.0,
            yuan(r.funds_recovered_fen)
        );
        crate::say!(
            "  open entries by colour: {} green, {} blue, {} yellow, {} red",
            r.green,
            r.blue,
            r.yellow,
            r.red
        );
        crate::say!(
            "  clues: {} registered, {} disposed, {} concluded",
            r.statistics_clues,
            r.statistics_clues_disposed,
            r.statistics_clues_concluded
        );
        crate::say!(
            "  linked rounds: {} staffings refused by avoidance (地域回避)",
            r.avoidance_refusals
        );
        crate::say!("the source's figures (at this scale) and the loaded city's:");
        for p in &r.pinned {
            crate::say!(
                "  {:<4} {}: source {}, loaded {}",
                if p.source == p.loaded { "ok" } else { "DIFF" },
                p.figure,
                p.show(p.source),
                p.show(p.loaded)
            );
        }
        crate::say!(
            "Try: fiveledger stats --scope {} --group-by organisation",
            r.city_path
        );
    }
}
