//! 四色预警 of clues: the sweep that notifies each change of a clue's colour
//! once, with its notice (a `ClueWarned` event and a journal line), and the
//! periodic task that runs it on one replica at a time (a lease).
//!
//! One notice per change, however many sweepers: each clue is written back
//! only if its row is still at the revision read (a racing sweeper that
//! notified first makes the other's write abort, and it posts nothing).

use std::time::Duration;

use chrono::{DateTime, Utc};
use fiveledger_platform::colour::{Colour, api_colour};
use fiveledger_platform::group_commit::Step;
use fiveledger_platform::lease::run_periodically;
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::storage::Db;
use fiveledger_platform::time::{Clock, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{ClueWarned, SweepClueWarningsResponse};
use fiveledger_proto::types::{DeadlineKind, NoticeKind, WarningDetail};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use crate::domain::clue::name_of;
use crate::domain::clue_deadline::{self as deadline, ITEM};
use crate::domain::clue_reconciliation::LineKind;
use crate::settings::IssuesSettings;
use crate::storage::clues::{self as store, Column as C};
use crate::storage::{clue_journal, clue_signatures, clue_transfers};

/// The actor of the periodic sweep's notices.
pub const SERVICE_ACTOR: &str = "service:issues";
/// Clues read per batch.
const BATCH: u64 = 200;

/// Sweeps the clues matching `scope` as of `now`, notifying as `actor`.
pub async fn sweep(
    db: &Db,
    settings: &IssuesSettings,
    now: DateTime<Utc>,
    scope: Condition,
    actor: &str,
) -> ApiResult<SweepClueWarningsResponse> {
    let today = now.date_naive();
    let t = settings.warnings;
    // Clues whose colour can change today: due within the blue window (or
    // overdue), or already warned above green (they may ease).
    let horizon = deadline::due_text(Some(t.rule().horizon(today)));
    let candidates = Condition::all().add(scope).add(C::DueDate.ne("")).add(
        Condition::any()
            .add(C::DueDate.lte(horizon))
            .add(C::NotifiedColour.gt(Colour::Green.code()))
            .add(C::ColourFloor.gt(Colour::Green.code())),
    );
    let ctx = EventContext {
        actor: actor.to_owned(),
        request_id: format!("sweep:{}", today.format("%Y-%m-%d")),
        traceparent: String::new(),
        ..Default::default()
    };
    let mut out = SweepClueWarningsResponse {
        as_of: Some(to_date(today)),
        ..Default::default()
    };
    let mut after = String::new();
    loop {
        let rows = store::Entity::find()
            .filter(candidates.clone())
            .filter(C::Id.gt(after.clone()))
            .order_by_asc(C::Id)
            .limit(BATCH)
            .all(db.reader())
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        for row in &rows {
            out.clues_checked += 1;
            let Some(kind) = warn_one(db, row, now, settings, &ctx).await? else {
                continue;
            };
            out.warnings_posted += 1;
            match kind {
                NoticeKind::Reminder => out.reminders += 1,
                NoticeKind::SupervisionNotice => out.supervision_notices += 1,
                NoticeKind::Circular => out.circulars += 1,
                NoticeKind::Eased => out.eased += 1,
                // The ledger's own kinds (notice replies, interviews): a
                // clue's colour change sends none of them.
                NoticeKind::Unspecified | NoticeKind::LateReply | NoticeKind::InterviewRequired => {
                }
            }
        }
        if (rows.len() as u64) < BATCH {
            break;
        }
    }
    Ok(out)
}

/// Notifies the change of one clue's colour, if any, in one transaction;
/// the kind of notice sent, or None (nothing to send, or another sweep sent
/// it first).
async fn warn_one(
    db: &Db,
    row: &store::Model,
    now: DateTime<Utc>,
    settings: &IssuesSettings,
    ctx: &EventContext,
) -> ApiResult<Option<NoticeKind>> {
    let today = now.date_naive();
    let t = settings.warnings;
    let Some(due) = deadline::parse_due(&row.due_date) else {
        return Ok(None);
    };
    let mut warned = row.warned();
    let Some((from, to)) = deadline::change(Some(due), &warned, today, &t) else {
        return Ok(None);
    };
    deadline::record(&mut warned, to);
    let mut clue = row.clone();
    clue.set_warned(&warned);
    clue.warning_count += 1;
    let name = name_of(&clue.id);
    let mut notice = deadline::notice(
        &name,
        due,
        from,
        to,
        deadline::addressees(&clue.receiving_body, &clue.round_organisation_path),
        today,
        &t,
    );
    notice.number = format!("{name}/warnings/{}", clue.warning_count);
    let kind = notice.kind();
    let warning = WarningDetail {
        item: ITEM.to_owned(),
        kind: DeadlineKind::Clue as i32,
        due_date: Some(to_date(due)),
        from_colour: api_colour(from) as i32,
        to_colour: api_colour(to) as i32,
        notice: Some(notice),
        as_of: Some(to_date(today)),
    };
    let view = settings.clue_view(today);
    let ctx = ctx.clone();
    let written = db
        .write(Box::new(move |txn| {
            Box::pin(async move {
                let saved = store::save(txn, clue, now).await?;
                let transfers = clue_transfers::of_clue(txn, &saved.id).await?;
                let signed =
                    clue_signatures::of_decision(txn, &saved.id, saved.reopen_count).await?;
                let shown = saved.to_proto(&transfers, &signed, &view);
                let line = (LineKind::Warned, today, kind.as_str_name());
                clue_journal::record(txn, &ctx.actor, &shown, line, "", now).await?;
                let event = ClueWarned {
                    clue: Some(shown.clone()),
                    warning: Some(warning),
                };
                let ctx = ctx.about(&saved.round_organisation_path);
                outbox::append(txn, &ctx, &shown.name, &event).await?;
                Ok(Step::Commit(()))
            })
        }))
        .await;
    match written {
        Ok(()) => Ok(Some(kind)),
        // Another sweep (or a step on the clue) got there first: its notice
        // stands; the next sweep looks again.
        Err(ApiError::Aborted { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The periodic sweep: one replica at a time (a lease), every
/// `clue_sweep_interval_seconds`, until `stop`.
pub async fn run_periodic(
    db: Db,
    settings: std::sync::Arc<IssuesSettings>,
    clock: Clock,
    stop: CancellationToken,
) {
    let interval = Duration::from_secs(Ord::max(settings.clue_sweep_interval_seconds, 1));
    let sweeper = db.clone();
    run_periodically(db, "issues:clue-warning-sweep", interval, stop, || {
        let (db, settings, now) = (sweeper.clone(), settings.clone(), clock.now());
        async move {
            match sweep(&db, &settings, now, Condition::all(), SERVICE_ACTOR).await {
                Ok(report) if report.warnings_posted > 0 => {
                    tracing::info!(?report, "clue warning sweep sent notices")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "clue warning sweep failed"),
            }
        }
    })
    .await
}
