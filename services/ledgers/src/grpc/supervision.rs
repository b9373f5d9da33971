//! Supervision RPCs: the warning sweep and its stream, statistics rolled up
//! by organisation, and the double publication (双公开).

use std::collections::{BTreeMap, HashMap};

use fiveledger_platform::access_log::{Access, Reader, statistics_query};
use fiveledger_platform::aip::filter::{self, Op};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::replay_first;
use fiveledger_platform::storage::{is_unique_violation, within_subtree};
use fiveledger_platform::time::{Period, to_date};
use fiveledger_platform::{ApiError, ApiResult, outbox};
use fiveledger_proto::issues::{
    ClueCounts, ClueGrouping, ClueStatisticsRow, GetClueStatisticsRequest,
};
use fiveledger_proto::ledgers::*;
use futures::StreamExt;
use prost::Message;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tonic::{Request, Response, Status};

use super::{Api, CLUE_HOLDERS};
use crate::domain::scope::{BY_TARGET, SUPERVISING, can_see, received};
use crate::storage::books;
use crate::storage::entries::{self, Column as C};
use crate::storage::postings;
use crate::storage::publications;
use crate::storage::statistics::{self, KeyColumn};
use crate::storage::tallies;
use crate::sweep;
use fiveledger_platform::aip::names::parse_path;

pub type WarningStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<WatchWarningsResponse, Status>> + Send>>;

const PUBLICATIONS: &str = "publications";
/// Progress notes an internal edition keeps per item.
const PROGRESS_NOTES: usize = 5;

/// An optional organisation subtree; empty means no narrowing.
pub fn optional_path(field: &str, path: &str) -> ApiResult<Option<String>> {
    if path.is_empty() {
        Ok(None)
    } else {
        parse_path(field, path).map(Some)
    }
}

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
    match WarningColour::try_from(g.colour).unwrap_or_default() {
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

/// Every state but written off.
const OPEN_STATES: [EntryState; 8] = [
    EntryState::Open,
    EntryState::HandedOver,
    EntryState::Acknowledged,
    EntryState::Planned,
    EntryState::Rectifying,
    EntryState::Transferred,
    EntryState::AwaitingVerification,
    EntryState::Reopened,
];

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
    colour: i32,
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
            let colour = WarningColour::try_from(colour).unwrap_or_default();
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
}

fn finish_rates(c: &mut StatisticsCounts) {
    let ratio = |n: i64, d: i64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    c.on_time_rate = ratio(c.written_off_on_time, c.due_so_far);
    c.completion_rate = ratio(c.written_off, c.found);
}

fn status_of(entry: &LedgerEntry) -> PublishedStatus {
    if entry.state() == EntryState::WrittenOff {
        PublishedStatus::Completed
    } else if entry.reopen_count > 0 {
        PublishedStatus::Reopened
    } else {
        PublishedStatus::Rectifying
    }
}

/// The internal edition's item; the public one is cut from it.
fn internal_item(entry: &LedgerEntry, progress: Vec<String>) -> PublishedItem {
    let measures = entry
        .plan
        .as_ref()
        .map(|p| {
            p.measures
                .iter()
                .map(|m| PublishedMeasure {
                    description: m.description.clone(),
                    done: m.done,
                    owner: m.owner.clone(),
                    due_date: m.due_date,
                    done_date: m.done_date,
                })
                .collect()
        })
        .unwrap_or_default();
    let completed = entry.state() == EntryState::WrittenOff;
    let completion_date = entry
        .write_off
        .as_ref()
        .filter(|w| completed && w.approved)
        .and_then(|w| w.verify_date);
    PublishedItem {
        entry: entry.name.clone(),
        title: entry.title.clone(),
        category: entry.category.clone(),
        status: status_of(entry) as i32,
        measures,
        completion_date,
        responsible_unit: entry
            .responsibility
            .as_ref()
            .map(|r| r.responsible_unit.clone())
            .unwrap_or_default(),
        due_date: entry.due_date,
        colour: entry.colour,
        progress,
    }
}

/// Only what the public may read: title, category, status, measure
/// descriptions and whether done, completion date. Built field by field so
/// that a field added later stays internal unless added here.
fn public_item(item: &PublishedItem) -> PublishedItem {
    PublishedItem {
        entry: item.entry.clone(),
        title: item.title.clone(),
        category: item.category.clone(),
        status: item.status,
        measures: item
            .measures
            .iter()
            .map(|m| PublishedMeasure {
                description: m.description.clone(),
                done: m.done,
                ..Default::default()
            })
            .collect(),
        completion_date: item.completion_date,
        ..Default::default()
    }
}

fn public_edition(p: &Publication) -> Publication {
    Publication {
        name: p.name.clone(),
        target: p.target.clone(),
        target_path: p.target_path.clone(),
        version: p.version,
        edition: PublicationEdition::Public as i32,
        previous: p.previous.clone(),
        publish_time: p.publish_time,
        items: p.items.iter().map(public_item).collect(),
        changes: p.changes.clone(),
        item_count: p.item_count,
        completed_count: p.completed_count,
    }
}

/// What changed from `previous` to `items` (both by entry name).
fn diff(previous: &[PublishedItem], items: &[PublishedItem]) -> Vec<PublicationChange> {
    let before: HashMap<&str, &PublishedItem> =
        previous.iter().map(|i| (i.entry.as_str(), i)).collect();
    let mut changes = Vec::new();
    let public_measures = |i: &PublishedItem| public_item(i).measures;
    for item in items {
        let change = |kind: PublicationChangeKind, previous_status: i32| PublicationChange {
            entry: item.entry.clone(),
            title: item.title.clone(),
            kind: kind as i32,
            previous_status,
            status: item.status,
        };
        match before.get(item.entry.as_str()) {
            None => changes.push(change(PublicationChangeKind::Added, 0)),
            Some(old) if old.status != item.status => {
                changes.push(change(PublicationChangeKind::StatusChanged, old.status))
            }
            Some(old) if public_measures(old) != public_measures(item) => {
                changes.push(change(PublicationChangeKind::MeasuresChanged, old.status))
            }
            Some(_) => {}
        }
    }
    for old in previous {
        if !items.iter().any(|i| i.entry == old.entry) {
            changes.push(PublicationChange {
                entry: old.entry.clone(),
                title: old.title.clone(),
                kind: PublicationChangeKind::Removed as i32,
                previous_status: old.status,
                status: 0,
            });
        }
    }
    changes
}

/// The latest progress notes per entry, newest first (batched).
async fn progress_notes(
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> ApiResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = postings::Entity::find()
            .filter(postings::Column::EntryId.is_in(chunk.iter().cloned()))
            .filter(postings::Column::Kind.eq(PostingKind::Progress.as_str_name()))
            .order_by_asc(postings::Column::EntryId)
            .order_by_desc(postings::Column::Seq)
            .all(conn)
            .await?;
        for row in rows {
            let notes = out.entry(row.entry_id.clone()).or_default();
            if notes.len() >= PROGRESS_NOTES {
                continue;
            }
            if let Some(posting::Detail::Progress(p)) = books::posting_of(&row)?.detail {
                notes.push(p.description);
            }
        }
    }
    Ok(out)
}

/// Makes one new version per target in the entries read; in `txn`.
async fn publish_in(
    txn: &DatabaseTransaction,
    api: &Api,
    filter: Condition,
    ctx: &outbox::EventContext,
) -> ApiResult<PublishResponse> {
    let rows = entries::Entity::find()
        .filter(filter)
        .filter(C::OriginalDueDate.ne(""))
        .order_by_asc(C::TargetPath)
        .order_by_asc(C::Id)
        .all(txn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut notes = progress_notes(txn, &ids).await?;
    let mut by_target: BTreeMap<String, (String, Vec<PublishedItem>)> = BTreeMap::new();
    for row in &rows {
        let mut entry = books::decode_snapshot(row)?;
        api.paint(&mut entry);
        let item = internal_item(&entry, notes.remove(&row.id).unwrap_or_default());
        by_target
            .entry(row.target_path.clone())
            .or_insert_with(|| (entry.target.clone(), Vec::new()))
            .1
            .push(item);
    }
    let now = api.clock.now();
    let mut out = PublishResponse::default();
    for (target_path, (target, items)) in by_target {
        let previous = publications::Entity::find()
            .filter(publications::Column::TargetPath.eq(target_path.clone()))
            .order_by_desc(publications::Column::Version)
            .limit(1)
            .one(txn)
            .await?;
        let (version, previous_name, previous_items) = match &previous {
            Some(p) => (
                p.version + 1,
                format!("{PUBLICATIONS}/{}", p.id),
                Publication::decode(p.internal_edition.as_slice())
                    .map_err(ApiError::internal)?
                    .items,
            ),
            None => (1, String::new(), Vec::new()),
        };
        let id = names::generate_id('p');
        let internal = Publication {
            name: format!("{PUBLICATIONS}/{id}"),
            target: target.clone(),
            target_path: target_path.clone(),
            version,
            edition: PublicationEdition::Internal as i32,
            previous: previous_name.clone(),
            publish_time: Some(fiveledger_platform::time::to_timestamp(now)),
            changes: diff(&previous_items, &items),
            item_count: items.len() as i32,
            completed_count: items
                .iter()
                .filter(|i| i.status == PublishedStatus::Completed as i32)
                .count() as i32,
            items,
        };
        let public = public_edition(&internal);
        publications::Entity::insert(publications::ActiveModel {
            id: Set(id),
            target: Set(target),
            target_path: Set(target_path),
            version: Set(version),
            previous: Set(previous_name),
            public_edition: Set(public.encode_to_vec()),
            internal_edition: Set(internal.encode_to_vec()),
            create_time_us: Set(now.timestamp_micros()),
        })
        .exec_without_returning(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::Aborted {
                    resource: internal.name.clone(),
                }
            } else {
                e.into()
            }
        })?;
        let summary = Publication {
            items: Vec::new(),
            changes: Vec::new(),
            ..internal
        };
        outbox::append(
            txn,
            ctx,
            &summary.name,
            &PublicationPublished {
                publication: Some(summary.clone()),
            },
        )
        .await?;
        out.publications.push(summary);
    }
    Ok(out)
}

/// True when the caller holds no role but `public`.
fn only_public(caller: &Caller) -> bool {
    caller.roles.iter().all(|r| *r == Role::Public)
}

impl Api {
    pub(super) async fn run_warning_sweep_rpc(
        &self,
        request: Request<RunWarningSweepRequest>,
    ) -> Result<Response<RunWarningSweepResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        // Warnings are the running office's notices: a caller sweeps the
        // entries it acts on as that office, not all it may read.
        let mut scope = Condition::all().add(books::office_over(&caller));
        if let Some(path) = optional_path("organisation_path", &r.organisation_path)? {
            scope = scope.add(within_subtree(C::TargetPath, &path));
        }
        let thresholds = self.settings.thresholds();
        let report = sweep::sweep(
            &self.db,
            &thresholds,
            &self.clock,
            scope,
            &caller.actor(),
            &self.upstreams.organisations,
        )
        .await?;
        // With a periodic sweep only its lease holder reports the gauges
        // (any replica may serve this call); without one, this call does.
        if self.settings.sweep_interval_seconds == 0 {
            sweep::update_gauges(&self.db, &thresholds, &self.clock).await?;
        }
        Ok(Response::new(RunWarningSweepResponse {
            entries_checked: report.entries_checked,
            warnings_posted: report.warnings_posted,
            reminders: report.reminders,
            supervision_notices: report.supervision_notices,
            circulars: report.circulars,
            eased: report.eased,
            as_of: Some(self.today()),
        }))
    }

    pub(super) async fn watch_warnings_rpc(
        &self,
        request: Request<WatchWarningsRequest>,
    ) -> Result<Response<WarningStream>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let path = optional_path("organisation_path", &r.organisation_path)?;
        let after = outbox::parse_cursor(&r.after_cursor)?;
        let events = outbox::watch(
            self.db.clone(),
            after,
            vec![<WarningRaised as prost::Name>::NAME.to_owned()],
            self.stop.clone(),
        );
        let stream = events.filter_map(move |event| {
            let out = match event {
                Err(status) => Some(Err(status)),
                Ok(event) => {
                    let raised = event
                        .payload
                        .as_ref()
                        .and_then(|any| any.to_msg::<WarningRaised>().ok());
                    raised.and_then(|raised| {
                        let entry = raised.entry.unwrap_or_default();
                        let posting = raised.posting.unwrap_or_default();
                        let paths = crate::domain::scope::EntryPaths::of(&entry);
                        let receivers = entry
                            .transfers
                            .iter()
                            .map(|t| t.receiving_body_path.as_str());
                        let wanted = (can_see(&caller, &paths) || received(&caller, receivers))
                            && path
                                .as_deref()
                                .is_none_or(|p| in_subtree(&entry.target_path, p));
                        match (wanted, posting.detail) {
                            (true, Some(posting::Detail::Warning(w))) => {
                                Some(Ok(WatchWarningsResponse {
                                    cursor: event.cursor.clone(),
                                    entry: entry.name.clone(),
                                    posting: posting.name.clone(),
                                    target_path: entry.target_path.clone(),
                                    warning: Some(w),
                                    create_time: posting.create_time,
                                }))
                            }
                            _ => None,
                        }
                    })
                }
            };
            futures::future::ready(out)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    pub(super) async fn get_statistics_rpc(
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
                "UNKNOWN_ENUM_VALUE",
                format!("{} is not a grouping", r.group_by),
            )
        })?;
        let mut filter = Condition::all().add(books::visible_to(caller));
        let scope_path = optional_path("organisation_path", &r.organisation_path)?;
        if let Some(path) = &scope_path {
            filter = filter.add(within_subtree(C::TargetPath, path));
        }
        if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            filter = filter.add(C::Round.eq(r.round.clone()));
        }
        if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            filter = filter.add(C::Inspection.eq(r.inspection.clone()));
        }
        let period = Period::parse(r.period_start.as_ref(), r.period_end.as_ref())?;
        if let Some(from) = period.from_time() {
            filter = filter.add(C::CreateTimeUs.gte(from.timestamp_micros()));
        }
        if let Some(until) = period.until_time() {
            filter = filter.add(C::CreateTimeUs.lt(until.timestamp_micros()));
        }
        if r.organisation_depth < 0 || r.organisation_depth > 64 {
            return Err(ApiError::invalid(
                "organisation_depth",
                "OUT_OF_RANGE",
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
        let whole_subtree = r.round.is_empty() && r.inspection.is_empty() && period.is_open();
        let groups = match tally_scope(caller, scope_path.as_deref()).filter(|_| whole_subtree) {
            // A whole subtree: written-off entries from their tallies, the
            // open ones (whose colour depends on the day) one by one.
            Some(path) if key != KeyColumn::Round => {
                let mut groups = tallies::groups(self.db.reader(), &path, key).await?;
                let open = Condition::all()
                    .add(C::State.is_in(OPEN_STATES.iter().map(|s| s.as_str_name())))
                    .add(within_subtree(C::TargetPath, &path))
                    .add(books::visible_to(caller));
                groups.extend(
                    statistics::groups(self.db.reader(), open, key, today, &thresholds).await?,
                );
                groups
            }
            _ => statistics::groups(self.db.reader(), filter, key, today, &thresholds).await?,
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
                    Access::new("/fiveledger.ledgers.v1.LedgerService/GetStatistics").query(query),
                )
                .await;
        }
        // (sort key, row key) → counts.
        let mut rows: BTreeMap<(i64, String), StatisticsRow> = BTreeMap::new();
        let mut total = StatisticsCounts::default();
        for g in &groups {
            add(&mut total, g);
            if let Some(counts) = row_of(&mut rows, row_key(grouping, &g.key, g.colour, depth)) {
                add(counts, g);
            }
        }
        for c in &clue_rows {
            let figures = c.counts.unwrap_or_default();
            add_clues(&mut total, &figures);
            if !c.key.is_empty()
                && let Some(counts) = row_of(&mut rows, row_key(grouping, &c.key, 0, depth))
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

    /// The clue figures of the statistics' scope, asked of the issues
    /// service in one call on the caller's behalf (its token, so the clue
    /// scope is the caller's); none for callers who hold no clues.
    async fn clue_figures(
        &self,
        caller: &Caller,
        on_behalf: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
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
        Ok(self
            .upstreams
            .clues
            .clone()
            .get_clue_statistics({
                let mut request = tonic::Request::new(GetClueStatisticsRequest {
                    organisation_path: path.to_owned(),
                    round: r.round.clone(),
                    inspection: r.inspection.clone(),
                    period_start: r.period_start,
                    period_end: r.period_end,
                    group_by: group_by as i32,
                });
                if let Some(token) = on_behalf {
                    request.metadata_mut().insert("authorization", token);
                }
                request
            })
            .await
            .map_err(|s| from_upstream("issues", "clue statistics", s))?
            .into_inner()
            .rows)
    }

    pub(super) async fn publish_rpc(
        &self,
        request: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        let caller = Caller::of(&request)?;
        let trace = super::traceparent(&request);
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "Publish", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let set = [
            !r.inspection.is_empty(),
            !r.round.is_empty(),
            !r.organisation_path.is_empty(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            return Err(ApiError::invalid(
                "inspection",
                "ONE_SCOPE",
                "set exactly one of inspection, round and organisation_path",
            )
            .into());
        }
        let mut filter = Condition::all().add(books::visible_to(&caller));
        if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            filter = filter.add(C::Inspection.eq(r.inspection.clone()));
        } else if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            filter = filter.add(C::Round.eq(r.round.clone()));
        } else {
            let path = parse_path("organisation_path", &r.organisation_path)?;
            filter = filter.add(within_subtree(C::TargetPath, &path));
        }
        let api = self.clone();
        // The event says who published, under which request and trace, for
        // the level that published.
        let ctx = outbox::EventContext {
            actor: caller.actor(),
            request_id: r.request_id.clone(),
            traceparent: trace,
            organisation_path: caller.scope_path.clone(),
        };
        let response = mutate(&self.db, key, move |txn| {
            Box::pin(async move { publish_in(txn, &api, filter, &ctx).await })
        })
        .await?;
        Ok(Response::new(response))
    }

    pub(super) async fn get_publication_rpc(
        &self,
        request: Request<GetPublicationRequest>,
    ) -> Result<Response<Publication>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let id = names::parse("name", &r.name, PUBLICATIONS)?;
        let edition = match PublicationEdition::try_from(r.edition) {
            Ok(PublicationEdition::Unspecified) => {
                return Err(ApiError::required("edition").into());
            }
            Ok(e) => e,
            Err(_) => {
                return Err(ApiError::invalid(
                    "edition",
                    "UNKNOWN_ENUM_VALUE",
                    format!("{} is not an edition", r.edition),
                )
                .into());
            }
        };
        if edition == PublicationEdition::Internal && only_public(&caller) {
            return Err(ApiError::PermissionDenied(
                "the public role may read only the PUBLIC edition".into(),
            )
            .into());
        }
        let row = publications::Entity::find_by_id(id.to_owned())
            .one(self.db.reader())
            .await
            .map_err(ApiError::from)?
            // The public edition is public; the internal one stays in scope.
            .filter(|p| edition == PublicationEdition::Public || caller.can_see(&p.target_path))
            .ok_or_else(|| ApiError::not_found(r.name.clone()))?;
        let bytes = match edition {
            PublicationEdition::Public => &row.public_edition,
            _ => &row.internal_edition,
        };
        Ok(Response::new(
            Publication::decode(bytes.as_slice()).map_err(ApiError::internal)?,
        ))
    }

    pub(super) async fn list_publications_rpc(
        &self,
        request: Request<ListPublicationsRequest>,
    ) -> Result<Response<ListPublicationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token, &[&r.filter, &caller.key()])?;
        use publications::Column as P;
        let mut select =
            publications::Entity::find().filter(within_subtree(P::TargetPath, &caller.scope_path));
        for term in filter::parse(&r.filter)? {
            let value = term.expect_op(&[Op::Eq])?;
            select = match term.field.as_str() {
                "target_subtree" => {
                    select.filter(within_subtree(P::TargetPath, &parse_path("filter", value)?))
                }
                "target" => select.filter(P::Target.eq(value.to_owned())),
                other => {
                    return Err(ApiError::invalid(
                        "filter",
                        "INVALID_FILTER",
                        format!("unknown field {other}; use target_subtree or target"),
                    )
                    .into());
                }
            };
        }
        if page.after.is_some() {
            let path = page.after_str(0)?.unwrap_or_default().to_owned();
            let version = page.after_i64(1)?.unwrap_or_default();
            select = select.filter(
                Condition::any().add(P::TargetPath.gt(path.clone())).add(
                    Condition::all()
                        .add(P::TargetPath.eq(path))
                        .add(P::Version.gt(version)),
                ),
            );
        }
        let rows = select
            .order_by_asc(P::TargetPath)
            .order_by_asc(P::Version)
            .limit(page.limit())
            .all(self.db.reader())
            .await
            .map_err(ApiError::from)?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            vec![
                last.target_path.clone().into(),
                i64::from(last.version).into(),
            ]
        });
        let publications = rows
            .iter()
            .map(|row| {
                let p = Publication::decode(row.internal_edition.as_slice())
                    .map_err(ApiError::internal)?;
                Ok(Publication {
                    items: Vec::new(),
                    changes: Vec::new(),
                    ..p
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Response::new(ListPublicationsResponse {
            publications,
            next_page_token,
        }))
    }
}
