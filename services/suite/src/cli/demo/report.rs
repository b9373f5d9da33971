//! What the demo loaded, with the statistics the suite computes from it
//! (read back over gRPC, so the report shows what a user would see).

use std::time::Instant;

use fiveledger_proto::ledgers::StatisticsGrouping;
use serde::Serialize;

use super::rounds::Loaded;
use super::{Story, read};
use crate::cli::connect::Services;
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

/// The tally of what was loaded and GetStatistics over the city.
pub(super) async fn read_back(
    services: &Services,
    story: &Story,
    loaded: Loaded,
    started: Instant,
) -> anyhow::Result<DemoReport> {
    let city_path = format!("{}/{}", story.world.region, story.world.city);
    let stats = statistics(
        services,
        &Scope::Subtree(city_path.clone()),
        StatisticsGrouping::Unspecified,
    )
    .await?;
    let c = stats.total.and_then(|t| t.counts).unwrap_or_default();
    let clues = c.clues.unwrap_or_default();
    let t = &story.tally;
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

impl DemoReport {
    /// The report for people.
    pub fn print(&self) {
        let r = self;
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
            yuan(r.funds_recovered_fen)
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
