//! The warning sweep (四色预警): posts every colour change since the last
//! sweep as a warning posting with its notice, and the periodic task that
//! runs it on one replica at a time and refreshes the Prometheus gauges
//! (only the lease holder reports counts; other replicas report 0).
//!
//! One notice per change, however many sweepers: each entry is swept in its
//! own transaction that re-reads the entry (locked on PostgreSQL) and
//! recomputes the changes from it, and `books::append` only succeeds when
//! the entry's posting count is still the one read (a racing sweeper that
//! posted first makes the other abort and find nothing left to post).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use fiveledger_platform::colour::{Colour, api_colour};
use fiveledger_platform::group_commit::Step;
use fiveledger_platform::lease::run_periodically_or;
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::Clock;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{NoticeKind, WarningDetail};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use crate::domain::entry::posting_name;
use crate::domain::interview;
use crate::domain::warning::{self, Thresholds};
use crate::settings::LedgersSettings;
use crate::storage::books::{self, Signature};
use crate::storage::entries::{self, Column as C};

/// Entries read per batch.
const BATCH: u64 = 200;
/// Attempts per entry when its transaction fails for another reason than
/// a lost race.
const RETRIES: u64 = 5;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub entries_checked: i64,
    pub warnings_posted: i64,
    pub reminders: i64,
    pub supervision_notices: i64,
    pub circulars: i64,
    pub eased: i64,
    /// Interview levels required of items that stayed red.
    pub interviews_required: i64,
}

/// What a sweep judges by: the colour thresholds and the days an item may
/// stay red before the next interview level is required (0: never).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub thresholds: Thresholds,
    pub escalation_days: u32,
}

impl Rules {
    pub fn of(settings: &LedgersSettings) -> Self {
        Self {
            thresholds: settings.thresholds(),
            escalation_days: settings.interview_escalation_days,
        }
    }

    /// True when a sweep on `today` has something to post on `entry`.
    fn due(&self, entry: &LedgerEntry, today: NaiveDate) -> bool {
        let none = Default::default();
        !warning::changes(entry, today, &self.thresholds, &none).is_empty()
            || !interview::escalations(entry, today, self.escalation_days, &none).is_empty()
    }
}

/// What one entry's sweep posted.
#[derive(Debug, Default)]
struct Posted {
    warnings: Vec<WarningDetail>,
    requirements: usize,
}

/// Where notices find the display names of units: the rounds service.
pub type Directory = crate::upstream::Rounds;

/// Sweeps the entries matching `scope` as of `today`, signing with `actor`;
/// notices name units as `directory` knows them.
pub async fn sweep(
    db: &Db,
    rules: &Rules,
    clock: &Clock,
    scope: Condition,
    actor: &str,
    directory: &Directory,
) -> ApiResult<SweepReport> {
    let today = clock.now().date_naive();
    let thresholds = &rules.thresholds;
    let mut report = SweepReport::default();
    // Entries whose colour can change: an open item due within the blue
    // window (or overdue), or one already warned or above green (it may ease).
    let soon = thresholds
        .rule()
        .horizon(today)
        .format("%Y-%m-%d")
        .to_string();
    let candidates = Condition::all()
        .add(scope)
        .add(C::State.ne(EntryState::WrittenOff.as_str_name()))
        .add(C::State.ne(EntryState::Open.as_str_name()))
        .add(
            Condition::any()
                .add(
                    Expr::col(C::NextDueDate)
                        .ne("")
                        .and(Expr::col(C::NextDueDate).lte(soon)),
                )
                .add(C::Attention.gt(Colour::Green.code())),
        );
    let mut after = String::new();
    loop {
        let rows = entries::Entity::find()
            .filter(candidates.clone())
            .filter(C::Id.gt(after.clone()))
            .order_by_asc(C::Id)
            .limit(BATCH)
            .all(db.reader())
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        report.entries_checked += rows.len() as i64;
        let mut changing = Vec::new();
        for row in &rows {
            let entry = books::decode_snapshot(row)?;
            if rules.due(&entry, today) {
                changing.push((row, entry));
            }
        }
        // One lookup of the batch's unit names for the notices' text.
        let named: Vec<String> = changing
            .iter()
            .flat_map(|(_, entry)| warning::named_organisations(entry))
            .collect();
        let names = Arc::new(if named.is_empty() {
            Default::default()
        } else {
            directory.display_names(named).await?
        });
        for (row, _) in changing {
            let mut attempt = 0;
            let posted = loop {
                attempt += 1;
                match sweep_entry(db, &row.id, today, rules, clock, actor, &names).await {
                    Ok(posted) => break posted,
                    // Another sweeper posted on this entry first: it is its.
                    Err(ApiError::Aborted { .. }) => break Posted::default(),
                    // A writer of another process in between (SQLite shared
                    // by two servers answers BUSY on a stale snapshot): the
                    // retry re-reads the entry, so nothing is posted twice.
                    Err(err) if attempt < RETRIES => {
                        tracing::debug!(error = ?err, entry = %row.id, "retrying a swept entry");
                        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                    }
                    Err(err) => return Err(err),
                }
            };
            report.interviews_required += posted.requirements as i64;
            for w in posted.warnings {
                report.warnings_posted += 1;
                match w.notice.map(|n| n.kind()) {
                    Some(NoticeKind::Reminder) => report.reminders += 1,
                    Some(NoticeKind::SupervisionNotice) => report.supervision_notices += 1,
                    Some(NoticeKind::Circular) => report.circulars += 1,
                    Some(NoticeKind::Eased) => report.eased += 1,
                    _ => {}
                }
            }
        }
        if (rows.len() as u64) < BATCH {
            break;
        }
    }
    Ok(report)
}

/// Posts one entry's changes in one write, recomputed from the entry as it
/// stands inside it: the colour changes, then the interview levels
/// required of items red for too long (judged after those changes). A
/// write like a request's (`Db::write`): it joins the open batch, and it
/// runs to its end even when the sweep's caller goes away.
async fn sweep_entry(
    db: &Db,
    id: &str,
    today: NaiveDate,
    rules: &Rules,
    clock: &Clock,
    actor: &str,
    names: &Arc<warning::OrganisationNames>,
) -> ApiResult<Posted> {
    let (id, rules, names) = (id.to_owned(), *rules, names.clone());
    let signature = Signature {
        actor: actor.to_owned(),
        request_id: format!("sweep:{}", today.format("%Y-%m-%d")),
        traceparent: String::new(),
        at_us: clock.now().timestamp_micros(),
        effective_date: None,
        recorded_after_the_fact: false,
    };
    db.write(Box::new(move |txn| {
        Box::pin(async move {
            let mut posted = Posted::default();
            let Some(mut row) = books::lock(txn, &id).await? else {
                return Ok(Step::Commit(posted));
            };
            let entry = books::decode_snapshot(&row)?;
            for mut change in warning::changes(&entry, today, &rules.thresholds, &names) {
                if let Some(n) = change.notice.as_mut() {
                    n.number = posting_name(&id, row.posting_count + 1);
                }
                row = post(txn, row, &id, Detail::Warning(change.clone()), &signature).await?;
                posted.warnings.push(change);
            }
            let entry = books::decode_snapshot(&row)?;
            for mut required in interview::escalations(&entry, today, rules.escalation_days, &names)
            {
                if let Some(n) = required.notice.as_mut() {
                    n.number = posting_name(&id, row.posting_count + 1);
                }
                row = post(
                    txn,
                    row,
                    &id,
                    Detail::InterviewRequired(required),
                    &signature,
                )
                .await?;
                posted.requirements += 1;
            }
            Ok(Step::Commit(posted))
        })
    }))
    .await
}

/// Appends one posting of the sweep; the entry's row after it.
async fn post(
    txn: &sea_orm::DatabaseTransaction,
    row: entries::Model,
    id: &str,
    detail: Detail,
    signature: &Signature,
) -> ApiResult<entries::Model> {
    books::append(txn, Some(&row), id, detail, signature).await?;
    books::lock(txn, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("entry vanished")))
}

/// Refreshes the gauges: open entries and open entries by colour.
pub async fn update_gauges(db: &Db, thresholds: &Thresholds, clock: &Clock) -> ApiResult<()> {
    let today = clock.now().date_naive();
    let colour = entries::colour(today, thresholds);
    let rows: Vec<(i32, i64)> = entries::Entity::find()
        .select_only()
        .column_as(colour.clone(), "colour")
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
        .filter(C::State.ne(EntryState::WrittenOff.as_str_name()))
        .group_by(colour)
        .into_tuple()
        .all(db.reader())
        .await?;
    let open: i64 = rows.iter().map(|(_, n)| n).sum();
    metrics::gauge!("fiveledger_ledgers_open_entries").set(open as f64);
    for c in COLOURS {
        let n = rows
            .iter()
            .filter(|(k, _)| *k == c.code())
            .map(|(_, n)| *n)
            .sum::<i64>();
        metrics::gauge!("fiveledger_ledgers_open_entries_by_colour", "colour" => colour_label(c))
            .set(n as f64);
    }
    let overdue = rows
        .iter()
        .filter(|(k, _)| Colour::from_code(*k) >= Colour::Yellow)
        .map(|(_, n)| *n)
        .sum::<i64>();
    metrics::gauge!("fiveledger_ledgers_overdue_entries").set(overdue as f64);
    Ok(())
}

/// The gauges `update_gauges` sets.
const COLOURS: [Colour; 4] = [Colour::Green, Colour::Blue, Colour::Yellow, Colour::Red];

fn colour_label(c: Colour) -> String {
    api_colour(c)
        .as_str_name()
        .trim_start_matches("WARNING_COLOUR_")
        .to_lowercase()
}

/// Zeroes the gauges on a replica that does not hold the sweep's lease, so
/// that only the holder reports counts (`sum()` across replicas is the
/// truth) and a replica that lost the lease stops exporting stale values.
pub fn clear_gauges() {
    metrics::gauge!("fiveledger_ledgers_open_entries").set(0.0);
    for c in COLOURS {
        metrics::gauge!("fiveledger_ledgers_open_entries_by_colour", "colour" => colour_label(c))
            .set(0.0);
    }
    metrics::gauge!("fiveledger_ledgers_overdue_entries").set(0.0);
}

/// The periodic sweep: one replica at a time (a lease), every
/// `sweep_interval_seconds`, until `stop`. The holder sweeps and sets the
/// gauges; every other replica zeroes them on each tick (see
/// [`clear_gauges`]).
pub async fn run_periodic(
    db: Db,
    settings: std::sync::Arc<LedgersSettings>,
    clock: Clock,
    directory: Directory,
    stop: CancellationToken,
) {
    let interval = Duration::from_secs(Ord::max(settings.sweep_interval_seconds, 1));
    let rules = Rules::of(&settings);
    let sweeper = db.clone();
    run_periodically_or(
        db,
        "ledgers:warning-sweep",
        interval,
        stop,
        || {
            let (db, clock, directory) = (sweeper.clone(), clock.clone(), directory.clone());
            async move { sweep_and_count(&db, &rules, &clock, &directory).await }
        },
        clear_gauges,
    )
    .await
}

/// One tick of the lease holder: the sweep, then the gauges.
async fn sweep_and_count(db: &Db, rules: &Rules, clock: &Clock, directory: &Directory) {
    let all = Condition::all();
    let actor = crate::consumers::SERVICE_ACTOR;
    match sweep(db, rules, clock, all, actor, directory).await {
        Ok(report) if report.warnings_posted + report.interviews_required > 0 => {
            tracing::info!(?report, "warning sweep posted colour changes")
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = ?err, "warning sweep failed"),
    }
    if let Err(err) = update_gauges(db, &rules.thresholds, clock).await {
        tracing::warn!(error = ?err, "could not update the ledger gauges");
    }
}
