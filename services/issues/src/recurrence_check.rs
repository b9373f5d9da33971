//! The back-tracking check (倒查): compares each newly frozen problem list
//! with the other frozen lists of its unit and flags, by the configured
//! [`MatchRule`], the problems an earlier inspection within the window
//! should have found. Runs periodically on one replica at a time; safe
//! anywhere (a flag is unique per problem and earlier inspection, a list is
//! marked compared in the transaction storing its flags).
//!
//! The rounds service knows each inspection's report day and group: asked
//! once per list, for the list and every other of its unit, in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::names;
use fiveledger_platform::group_commit::Step;
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::{Clock, from_date};
use fiveledger_proto::rounds::Inspection;
use tokio_util::sync::CancellationToken;

use crate::domain::problem;
use crate::domain::recurrence::{Listed, MatchRule, pairs};
use crate::storage::problem_lists;
use crate::storage::recurrences::{self as store, Model};
use crate::upstream::Rounds;

/// Lists compared per read of the unchecked ones.
const BATCH: u64 = 50;
/// Most other lists of one unit compared (a unit is inspected every few
/// years: far fewer in practice).
const MAX_OTHERS: u64 = 500;
/// Name of the lease the periodic check runs under.
pub const LEASE: &str = "issues.recurrence-check";

/// What the check needs.
#[derive(Clone)]
pub struct Checker {
    pub db: Db,
    pub rounds: Rounds,
    pub clock: Clock,
    pub window_years: u32,
    pub rule: Arc<dyn MatchRule>,
}

impl Checker {
    /// Compares every frozen list not compared yet; returns the flags
    /// written. A list whose comparison fails (the rounds service away) is
    /// left for the next run.
    pub async fn run(&self) -> ApiResult<usize> {
        let mut flagged = 0;
        let mut failed = std::collections::HashSet::new();
        loop {
            let lists = store::unchecked(self.db.reader(), BATCH + failed.len() as u64).await?;
            let todo: Vec<_> = lists
                .iter()
                .filter(|l| !failed.contains(&l.inspection))
                .collect();
            if todo.is_empty() {
                return Ok(flagged);
            }
            for list in todo {
                match self.check(list).await {
                    Ok(n) => flagged += n,
                    Err(err) => {
                        tracing::warn!(error = %err, inspection = %list.inspection, "recurrence check failed");
                        failed.insert(list.inspection.clone());
                    }
                }
            }
        }
    }

    /// Compares one list with the other frozen lists of its unit.
    async fn check(&self, list: &problem_lists::Model) -> ApiResult<usize> {
        let others =
            store::frozen_of_target(self.db.reader(), &list.target, &list.inspection, MAX_OTHERS)
                .await?;
        let mut rows = Vec::new();
        if !others.is_empty() {
            let lists: Vec<&problem_lists::Model> =
                std::iter::once(list).chain(others.iter()).collect();
            let names: Vec<String> = lists.iter().map(|l| l.inspection.clone()).collect();
            let inspections: HashMap<String, Inspection> = self
                .rounds
                .inspections(&names)
                .await?
                .into_iter()
                .map(|i| (i.name.clone(), i))
                .collect();
            let mut problems: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for (id, inspection, category) in
                store::problem_categories(self.db.reader(), names).await?
            {
                problems.entry(inspection).or_default().push((id, category));
            }
            let today = self.clock.today();
            let listed: Vec<Listed> = lists
                .iter()
                .map(|l| {
                    let found = inspections.get(&l.inspection);
                    let reported = found
                        .and_then(|i| i.comprehensive_report.as_ref())
                        .and_then(|r| r.date.as_ref())
                        .and_then(|d| from_date("report_date", d).ok());
                    Listed {
                        inspection: l.inspection.clone(),
                        target: l.target.clone(),
                        report_date: reported
                            .or(l.freeze_time.map(|t| t.date_naive()))
                            .unwrap_or(today),
                        group: found.map(|i| i.group.clone()).unwrap_or_default(),
                        round_organisation_path: l.round_organisation_path.clone(),
                        problems: problems.remove(&l.inspection).unwrap_or_default(),
                    }
                })
                .collect();
            let now = self.clock.now();
            for (later, earlier, found) in pairs(
                self.rule.as_ref(),
                &listed[0],
                &listed[1..],
                self.window_years,
            ) {
                rows.push(Model {
                    id: names::generate_id('r'),
                    problem: problem::name_of(&found.problem),
                    inspection: later.inspection.clone(),
                    target: later.target.clone(),
                    category: found.category,
                    report_date: later.report_date,
                    earlier_inspection: earlier.inspection.clone(),
                    earlier_group: earlier.group.clone(),
                    earlier_report_date: earlier.report_date,
                    kind: found.kind.as_str_name().to_owned(),
                    earlier_problems: serde_json::to_string(
                        &found
                            .earlier_problems
                            .iter()
                            .map(|id| problem::name_of(id))
                            .collect::<Vec<_>>(),
                    )
                    .unwrap_or_else(|_| "[]".into()),
                    rule: self.rule.name().to_owned(),
                    round_organisation_path: later.round_organisation_path.clone(),
                    earlier_round_organisation_path: earlier.round_organisation_path.clone(),
                    outcome: String::new(),
                    note: String::new(),
                    decided_by: String::new(),
                    decide_time: None,
                    create_time: now,
                });
            }
        }
        let flagged = rows.len();
        let inspection = list.inspection.clone();
        let now = self.clock.now();
        self.db
            .write(Box::new(move |txn| {
                Box::pin(async move {
                    store::insert_new(txn, &rows).await?;
                    store::mark_checked(txn, &inspection, now).await?;
                    Ok(Step::Commit(()))
                })
            }))
            .await?;
        Ok(flagged)
    }

    /// Runs [`Checker::run`] every `interval` until `stop`.
    pub async fn run_periodically(self, interval: Duration, stop: CancellationToken) {
        let db = self.db.clone();
        fiveledger_platform::lease::run_periodically(db, LEASE, interval, stop, || {
            let checker = self.clone();
            async move {
                if let Err(err) = checker.run().await {
                    tracing::warn!(error = %err, "recurrence check failed");
                }
            }
        })
        .await;
    }
}
