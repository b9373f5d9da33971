//! StatisticsService: rates and counts rolled up by organisation, with the
//! clue figures of the issues service for those who hold clues.

use std::collections::BTreeMap;

use fiveledger_platform::access_log::{Access, Reader, statistics_query};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_platform::colour::Colour;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::{Period, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{ClueGrouping, ClueStatisticsRow, GetClueStatisticsRequest};
use fiveledger_proto::ledgers::statistics_service_server::StatisticsService;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{ClueCounts, WarningColour};
use tonic::{Request, Response, Status};

use super::{Api, CLUE_HOLDERS, optional_path};
use crate::domain::scope::{BY_TARGET, SUPERVISING};
use crate::storage::statistics::{self, KeyColumn};
use crate::upstream::OnBehalf;
use fiveledger_platform::colour::api_colour;

fn level_label(level: i32) -> String {
    let name = match level {
        1 => "region",
        2 => "city",
        3 => "county",
        4 => "township",
        5 => "village",
        _ => "organisation",
    };
    format!("level {level} ({name})")
}

fn add(into: &mut StatisticsCounts, g: &statistics::Group) {
    into.found += g.found;
    into.fixed_on_the_spot += g.fixed_on_the_spot;
    into.handed_over += g.handed_over;
    into.transferred += g.transferred;
    into.written_off += g.written_off;
    into.open += g.found - g.written_off;
    into.reopened += g.reopened;
    into.due_so_far += g.due_so_far;
    into.written_off_on_time += g.written_off_on_time;
    into.funds_recovered_fen += g.funds_recovered_fen;
    into.losses_recovered_fen += g.losses_recovered_fen;
    into.people_held_accountable += g.people_held_accountable;
    into.people_disciplined += g.people_disciplined;
    into.rules_established += g.rules_established;
    match api_colour(Colour::from_code(g.colour)) {
        WarningColour::Green => into.green += g.found,
        WarningColour::Blue => into.blue += g.found,
        WarningColour::Yellow => {
            into.yellow += g.found;
            into.overdue += g.found;
        }
        WarningColour::Red => {
            into.red += g.found;
            into.overdue += g.found;
        }
        WarningColour::Unspecified => {}
    }
}

/// The subtree whose targets are exactly the entries the caller sees in
/// the statistics' scope, if there is one (then the tallies can answer):
/// a scope within the caller's own subtree for a role that sees by target,
/// or the whole installation.
pub(super) fn tally_scope(caller: &Caller, scope_path: Option<&str>) -> Option<String> {
    if !caller.has_any(BY_TARGET) {
        return None;
    }
    let mine = caller.scope_path.as_str();
    match scope_path {
        Some(path) => in_subtree(path, mine).then(|| path.to_owned()),
        None if mine.is_empty() => Some(String::new()),
        // Units and supervising bodies also see entries outside their
        // subtree (by responsibility): only the entries can answer.
        None => (!caller.has_role(Role::InspectedUnit) && !caller.has_any(SUPERVISING))
            .then(|| mine.to_owned()),
    }
}

/// The row a group of entries (or clues) falls in, keyed by `key` (the
/// grouping column's value) and `colour`; None when ungrouped.
fn row_key(
    grouping: StatisticsGrouping,
    key: &str,
    colour: Colour,
    depth: usize,
) -> Option<(i64, StatisticsKey)> {
    let labelled = |label: String, k: StatisticsKey| StatisticsKey { label, ..k };
    Some(match grouping {
        StatisticsGrouping::Unspecified => return None,
        StatisticsGrouping::OrganisationLevel => {
            let level = key.split('/').count() as i32;
            (
                i64::from(level),
                labelled(
                    level_label(level),
                    StatisticsKey {
                        level,
                        ..Default::default()
                    },
                ),
            )
        }
        StatisticsGrouping::Organisation => {
            let prefix = key.split('/').take(depth).collect::<Vec<_>>().join("/");
            (
                0,
                labelled(
                    prefix.clone(),
                    StatisticsKey {
                        organisation_path: prefix,
                        ..Default::default()
                    },
                ),
            )
        }
        StatisticsGrouping::Round => (
            0,
            labelled(
                key.to_owned(),
                StatisticsKey {
                    round: key.to_owned(),
                    ..Default::default()
                },
            ),
        ),
        StatisticsGrouping::Category => (
            0,
            labelled(
                key.to_owned(),
                StatisticsKey {
                    category: key.to_owned(),
                    ..Default::default()
                },
            ),
        ),
        StatisticsGrouping::Colour => {
            let colour = api_colour(colour);
            (
                i64::from(colour as i32),
                labelled(
                    colour.as_str_name().to_owned(),
                    StatisticsKey {
                        colour: colour as i32,
                        ..Default::default()
                    },
                ),
            )
        }
    })
}

/// The counts of the row `key` names, made empty on first use.
fn row_of(
    rows: &mut BTreeMap<(i64, String), StatisticsRow>,
    key: Option<(i64, StatisticsKey)>,
) -> Option<&mut StatisticsCounts> {
    let (sort, k) = key?;
    Some(
        rows.entry((sort, k.label.clone()))
            .or_insert_with(|| StatisticsRow {
                key: Some(k),
                counts: Some(StatisticsCounts::default()),
            })
            .counts
            .get_or_insert_with(Default::default),
    )
}

fn add_clues(into: &mut StatisticsCounts, c: &ClueCounts) {
    let t = into.clues.get_or_insert_with(Default::default);
    t.registered += c.registered;
    t.transferred += c.transferred;
    t.disposed += c.disposed;
    t.talk_or_letter += c.talk_or_letter;
    t.preliminary_verification += c.preliminary_verification;
    t.hold += c.hold;
    t.conclude += c.conclude;
    t.with_outcome += c.with_outcome;
    t.case_filed += c.case_filed;
    t.disciplined += c.disciplined;
    t.organisational_handling += c.organisational_handling;
    t.cleared += c.cleared;
    // Clues by the colour of their time limit (issues keeps the ladder).
    t.green += c.green;
    t.blue += c.blue;
    t.yellow += c.yellow;
    t.red += c.red;
}

fn finish_rates(c: &mut StatisticsCounts) {
    let ratio = |n: i64, d: i64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    c.on_time_rate = ratio(c.written_off_on_time, c.due_so_far);
    c.completion_rate = ratio(c.written_off, c.found);
}

#[tonic::async_trait]
impl StatisticsService for Api {
    async fn get_statistics(
        &self,
        request: Request<GetStatisticsRequest>,
    ) -> Result<Response<GetStatisticsResponse>, Status> {
        let reader = Reader::of(&request)?;
        let caller = &reader.caller;
        // The clue figures are asked on the caller's behalf, with its own
        // token: the issues service applies its clue scope to the caller.
        let on_behalf = request.metadata().get("authorization").cloned();
        let r = request.into_inner();
        let grouping = StatisticsGrouping::try_from(r.group_by).map_err(|_| {
            ApiError::invalid(
                "group_by",
                CommonReason::UnknownEnumValue,
                format!("{} is not a grouping", r.group_by),
            )
        })?;
        let scope_path = optional_path("organisation_path", &r.organisation_path)?;
        let mut scope = statistics::Scope {
            subtree: scope_path.clone(),
            ..Default::default()
        };
        if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            scope.round = Some(r.round.clone());
        }
        if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            scope.inspection = Some(r.inspection.clone());
        }
        let period = Period::parse(r.period_start.as_ref(), r.period_end.as_ref())?;
        scope.created_from_us = period.from_time().map(|t| t.timestamp_micros());
        scope.created_until_us = period.until_time().map(|t| t.timestamp_micros());
        if r.organisation_depth < 0 || r.organisation_depth > 64 {
            return Err(ApiError::invalid(
                "organisation_depth",
                CommonReason::OutOfRange,
                "organisation_depth must be between 0 and 64",
            )
            .into());
        }
        let root = scope_path
            .clone()
            .unwrap_or_else(|| caller.scope_path.clone());
        let root_depth = root.split('/').filter(|s| !s.is_empty()).count();
        let depth = if r.organisation_depth > 0 {
            r.organisation_depth as usize
        } else {
            root_depth + 1
        };
        let key = match grouping {
            StatisticsGrouping::OrganisationLevel | StatisticsGrouping::Organisation => {
                KeyColumn::TargetPath
            }
            StatisticsGrouping::Round => KeyColumn::Round,
            StatisticsGrouping::Category => KeyColumn::Category,
            StatisticsGrouping::Colour | StatisticsGrouping::Unspecified => KeyColumn::None,
        };
        let today = self.clock.now().date_naive();
        let thresholds = self.settings.thresholds();
        let db = self.db.reader();
        let groups = match tally_scope(caller, scope_path.as_deref()) {
            // The caller sees a whole subtree: maintained figures answer.
            Some(seen) => {
                statistics::maintained_groups(db, caller, &seen, &scope, key, today, &thresholds)
                    .await?
            }
            None => statistics::groups(db, caller, &scope, key, today, &thresholds).await?,
        };
        let clue_rows = self
            .clue_figures(caller, on_behalf, &r, scope_path.as_deref(), grouping)
            .await?;
        if caller.has_any(CLUE_HOLDERS) {
            // Statistics that include clue figures are a confidential read.
            let query = statistics_query(
                &r.organisation_path,
                &r.round,
                &r.inspection,
                (r.period_start.as_ref(), r.period_end.as_ref()),
                grouping.as_str_name(),
            );
            self.access
                .record(
                    &reader,
                    Access::new("/fiveledger.ledgers.v1.StatisticsService/GetStatistics")
                        .query(query),
                )
                .await;
        }
        // (sort key, row key) → counts.
        let mut rows: BTreeMap<(i64, String), StatisticsRow> = BTreeMap::new();
        let mut total = StatisticsCounts::default();
        for g in &groups {
            add(&mut total, g);
            if let Some(counts) = row_of(
                &mut rows,
                row_key(grouping, &g.key, Colour::from_code(g.colour), depth),
            ) {
                add(counts, g);
            }
        }
        for c in &clue_rows {
            let figures = c.counts.unwrap_or_default();
            add_clues(&mut total, &figures);
            if !c.key.is_empty()
                && let Some(counts) = row_of(
                    &mut rows,
                    row_key(grouping, &c.key, Colour::Unspecified, depth),
                )
            {
                add_clues(counts, &figures);
            }
        }
        let rows = rows
            .into_values()
            .map(|mut row| {
                if let Some(c) = row.counts.as_mut() {
                    finish_rates(c);
                }
                row
            })
            .collect();
        finish_rates(&mut total);
        Ok(Response::new(GetStatisticsResponse {
            rows,
            total: Some(StatisticsRow {
                key: Some(StatisticsKey {
                    label: "total".into(),
                    ..Default::default()
                }),
                counts: Some(total),
            }),
            as_of: Some(to_date(today)),
        }))
    }
}

impl Api {
    /// The clue figures of the statistics' scope, asked of the issues
    /// service in one call on the caller's behalf (its token, so the clue
    /// scope is the caller's); none for callers who hold no clues.
    async fn clue_figures(
        &self,
        caller: &Caller,
        on_behalf: OnBehalf,
        r: &GetStatisticsRequest,
        scope_path: Option<&str>,
        grouping: StatisticsGrouping,
    ) -> ApiResult<Vec<ClueStatisticsRow>> {
        if !caller.has_any(CLUE_HOLDERS) {
            return Ok(Vec::new());
        }
        let mine = caller.scope_path.as_str();
        let path = match scope_path {
            None => mine,
            Some(p) if in_subtree(p, mine) => p,
            Some(p) if in_subtree(mine, p) => mine,
            // Disjoint from the caller's subtree: nothing to count.
            Some(_) => return Ok(Vec::new()),
        };
        let group_by = match grouping {
            StatisticsGrouping::Organisation | StatisticsGrouping::OrganisationLevel => {
                ClueGrouping::TargetPath
            }
            StatisticsGrouping::Round => ClueGrouping::Round,
            _ => ClueGrouping::Unspecified,
        };
        let request = GetClueStatisticsRequest {
            organisation_path: path.to_owned(),
            round: r.round.clone(),
            inspection: r.inspection.clone(),
            period_start: r.period_start,
            period_end: r.period_end,
            group_by: group_by as i32,
        };
        self.issues.clue_statistics(&on_behalf, request).await
    }
}
