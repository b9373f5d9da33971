//! Keeping the books: appending a posting (the one write path), reading
//! entries and their journals, listing, and verifying the hash chains.

use std::collections::HashMap;

use chrono::NaiveDate;
use fiveledger_platform::aip::filter::Op;
use fiveledger_platform::colour::{Colour, rule_colour};
use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::subtree::Subtree;
use fiveledger_platform::{ApiError, ApiResult, storage};
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::Severity;
use prost::Message;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, IdenStatic, IntoActiveModel, Iterable, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement, TryIntoModel, Value,
};

use super::{departments, entries, postings, receivers, tallies};
use crate::domain::entry::{self as domain, kind_of, name_of, posting_name};
use crate::domain::{journal, warning};

/// Who signs a posting (经手人), and the request or event that caused it.
#[derive(Debug, Clone, Default)]
pub struct Signature {
    pub actor: String,
    pub request_id: String,
    pub traceparent: String,
    /// When the posting is made (microseconds), read from the service's
    /// clock by whoever signs, so that tests can move time.
    pub at_us: i64,
    /// The day the step took effect when it is not the day of `at_us` (a
    /// hand-over on its feedback date, a step recorded after the fact).
    pub effective_date: Option<fiveledger_proto::google::r#type::Date>,
    /// The caller dated the step on an earlier day (补录); kept in the
    /// posting.
    pub recorded_after_the_fact: bool,
}

impl Signature {
    /// A step taken now, on its own day, by `actor` for request
    /// `request_id` (`at_us` from the service's clock).
    pub fn taken_now(
        actor: String,
        request_id: &str,
        traceparent: String,
        at_us: i64,
    ) -> Signature {
        Signature {
            actor,
            request_id: request_id.to_owned(),
            traceparent,
            at_us,
            ..Default::default()
        }
    }

    /// The signature as recorded: every posting names its request and its
    /// trace (经手人签字). Without a client request id the server makes one
    /// (never an idempotency key, so it cannot make a retry idempotent);
    /// without a traceparent, the current span's (as the outbox does).
    fn completed(&self) -> Signature {
        let mut out = self.clone();
        if out.request_id.is_empty() {
            out.request_id = format!("server:{}", uuid::Uuid::new_v4());
        }
        if out.traceparent.is_empty() {
            out.traceparent = fiveledger_platform::telemetry::current_traceparent();
        }
        out
    }

    fn context(&self) -> EventContext {
        EventContext {
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            traceparent: self.traceparent.clone(),
            ..Default::default()
        }
    }
}

pub fn timestamp_us(us: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// The inverse of [`timestamp_us`]: exact for every time it made, and
/// clamped to the i64 range for any other (no overflow on a stored value).
pub fn micros_of(t: &prost_types::Timestamp) -> i64 {
    let us = i128::from(t.seconds) * 1_000_000 + i128::from(t.nanos) / 1000;
    i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
}

fn date_text(d: Option<&fiveledger_proto::google::r#type::Date>) -> String {
    domain::date_of(d)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn decode_snapshot(row: &entries::Model) -> ApiResult<LedgerEntry> {
    LedgerEntry::decode(row.snapshot.as_slice()).map_err(ApiError::internal)
}

/// The posting a stored row holds.
pub fn posting_of(row: &postings::Model) -> ApiResult<Posting> {
    let stored = Posting::decode(row.payload.as_slice()).map_err(ApiError::internal)?;
    let effective_date = stored.effective_date.or_else(|| {
        chrono::DateTime::from_timestamp_micros(row.create_time_us)
            .map(|t| fiveledger_platform::time::to_date(t.date_naive()))
    });
    Ok(Posting {
        name: posting_name(&row.entry_id, row.seq),
        seq: row.seq,
        kind: PostingKind::from_str_name(&row.kind).unwrap_or_default() as i32,
        actor: row.actor.clone(),
        request_id: row.request_id.clone(),
        traceparent: row.traceparent.clone(),
        create_time: Some(timestamp_us(row.create_time_us)),
        prev_hash: row.prev_hash.clone(),
        hash: row.hash.clone(),
        effective_date,
        recorded_after_the_fact: stored.recorded_after_the_fact,
        detail: stored.detail,
    })
}

/// The columns an entry's projection sets (everything but the key).
fn projection(id: &str, entry: &LedgerEntry, create_time_us: i64) -> entries::ActiveModel {
    let r = entry.responsibility.clone().unwrap_or_default();
    let receiving = entry
        .transfers
        .last()
        .map(|t| t.receiving_body_path.clone())
        .unwrap_or_default();
    let mut snapshot = entry.clone();
    snapshot.postings.clear();
    // Colours are computed on read, never stored.
    snapshot.colour = 0;
    for d in &mut snapshot.deadlines {
        d.colour = 0;
    }
    // Figures count once the write-off is approved (and stay after a reopening).
    let figures = entry
        .write_off
        .as_ref()
        .filter(|w| w.approved)
        .and_then(|w| w.figures)
        .unwrap_or_default();
    let ladder = entry
        .deadlines
        .iter()
        .find(|d| d.item == warning::ENTRY_ITEM)
        .and_then(|d| d.ladder)
        .unwrap_or_default();
    entries::ActiveModel {
        id: Set(id.to_owned()),
        problem: Set(entry.problem.clone()),
        inspection: Set(entry.inspection.clone()),
        round: Set(entry.round.clone()),
        target_path: Set(entry.target_path.clone()),
        round_organisation_path: Set(entry.round_organisation_path.clone()),
        responsible_unit_path: Set(r.responsible_unit_path),
        supervising_body_path: Set(r.supervising_body_path),
        receiving_body_path: Set(receiving),
        category: Set(entry.category.clone()),
        severity: Set(entry.severity),
        state: Set(entry.state().as_str_name().to_owned()),
        due_date: Set(date_text(entry.due_date.as_ref())),
        original_due_date: Set(date_text(entry.original_due_date.as_ref())),
        posting_count: Set(entry.posting_count),
        journal_head: Set(entry.journal_head.clone()),
        snapshot: Set(snapshot.encode_to_vec()),
        fixed_on_the_spot: Set(i32::from(entry.fixed_on_the_spot)),
        transfer_count: Set(entry.transfers.len() as i32),
        reopen_count: Set(entry.reopen_count),
        first_written_off_date: Set(date_text(entry.first_written_off_date.as_ref())),
        funds_recovered_fen: Set(figures.funds_recovered_fen),
        losses_recovered_fen: Set(figures.losses_recovered_fen),
        people_held_accountable: Set(i64::from(figures.people_held_accountable)),
        people_disciplined: Set(i64::from(figures.people_disciplined)),
        rules_established: Set(i64::from(figures.rules_established)),
        colour_floor: Set(rule_colour(ladder.floor()).code()),
        yellow_count: Set(ladder.yellow_count),
        next_due_date: Set(warning::next_due(entry)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()),
        attention: Set(rule_colour(warning::attention(entry)).code()),
        create_time_us: Set(create_time_us),
        update_time_us: Set(entry
            .update_time
            .map(|t| micros_of(&t))
            .unwrap_or(create_time_us)),
    }
}

/// Reads an entry for a write; on PostgreSQL the row stays locked until the
/// transaction ends, so two steps on one entry queue instead of failing.
pub async fn lock(txn: &DatabaseTransaction, id: &str) -> ApiResult<Option<entries::Model>> {
    let mut query = entries::Entity::find_by_id(id.to_owned());
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(txn).await?)
}

/// What appending a posting to an entry makes, computed without writing.
struct Step {
    entry: LedgerEntry,
    posting: Posting,
    /// The posting's row, chained to the entry's journal head.
    row: postings::Model,
    /// The entry's projection after it.
    model: entries::ActiveModel,
}

fn step(
    current: Option<&entries::Model>,
    entry_id: &str,
    detail: Detail,
    signature: &Signature,
) -> ApiResult<Step> {
    let (mut entry, seq, prev_hash) = match current {
        Some(row) => (
            decode_snapshot(row)?,
            row.posting_count + 1,
            row.journal_head.clone(),
        ),
        None => (
            LedgerEntry {
                name: name_of(entry_id),
                ..Default::default()
            },
            1,
            String::new(),
        ),
    };
    let kind = kind_of(&detail).as_str_name();
    let payload = Posting {
        detail: Some(detail),
        effective_date: signature.effective_date,
        recorded_after_the_fact: signature.recorded_after_the_fact,
        ..Default::default()
    }
    .encode_to_vec();
    let row = postings::Model {
        entry_id: entry_id.to_owned(),
        seq,
        kind: kind.to_owned(),
        payload,
        actor: signature.actor.clone(),
        request_id: signature.request_id.clone(),
        traceparent: signature.traceparent.clone(),
        create_time_us: signature.at_us,
        prev_hash,
        hash: String::new(),
    };
    let row = postings::Model {
        hash: journal::hash(&row.record()),
        ..row
    };
    let posting = posting_of(&row)?;
    domain::apply(&mut entry, &posting)?;

    let created = current.map_or(row.create_time_us, |old| old.create_time_us);
    let model = projection(entry_id, &entry, created);
    Ok(Step {
        entry,
        posting,
        row,
        model,
    })
}

/// The rows a new entry's postings make, chained and projected exactly as
/// [`append`] makes them, for a caller that writes many entries at once
/// (the bench's bulk loader): the entry's projection after the last posting
/// and every posting. Nothing is written, so no event and no tally.
pub fn journal_rows(
    entry_id: &str,
    details: impl IntoIterator<Item = Detail>,
    signature: &Signature,
) -> ApiResult<(entries::Model, Vec<postings::Model>)> {
    let mut current: Option<entries::Model> = None;
    let mut rows = Vec::new();
    for detail in details {
        let step = step(current.as_ref(), entry_id, detail, &signature.completed())?;
        rows.push(step.row);
        current = Some(step.model.try_into_model().map_err(ApiError::internal)?);
    }
    let entry = current.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no posting")))?;
    Ok((entry, rows))
}

/// Appends one posting to an entry's journal (opening the entry when
/// `current` is None): checks the step against the entry's state, chains
/// the hash, writes the posting, the projection and the event, all in
/// `txn`. A refused step writes nothing.
pub async fn append(
    txn: &DatabaseTransaction,
    current: Option<&entries::Model>,
    entry_id: &str,
    detail: Detail,
    signature: &Signature,
) -> ApiResult<(LedgerEntry, Posting)> {
    let signature = &signature.completed();
    let Step {
        entry,
        posting,
        row,
        model,
    } = step(current, entry_id, detail, signature)?;

    match &posting.detail {
        Some(Detail::Transferred(t)) => {
            add_receivers(txn, entry_id, [t.receiving_body_path.as_str()]).await?;
        }
        Some(Detail::Open(_)) => add_department(txn, entry_id, &entry).await?,
        _ => {}
    }
    // The posting, the tallies' moves, the projection and the event: each
    // changes exactly one row, and all go in one round trip on SQLite.
    let backend = txn.get_database_backend();
    let after = model.clone().try_into_model().map_err(ApiError::internal)?;
    let mut statements =
        vec![postings::Entity::insert(postings::ActiveModel::from(row)).build(backend)];
    statements.extend(tallies::shift(backend, current, &after));
    statements.push(match current {
        None => entries::Entity::insert(model).build(backend),
        Some(old) => {
            let mut model = model;
            model.id = NotSet;
            model.problem = NotSet;
            // Guarded: a projection moved on since it was read changes
            // nothing, and the step is refused below.
            entries::Entity::update_many()
                .set(model)
                .filter(entries::Column::Id.eq(entry_id))
                .filter(entries::Column::PostingCount.eq(old.posting_count))
                .build(backend)
        }
    });
    statements.push(event(backend, &signature.context(), &entry, &posting)?);
    let expected = statements.len() as u64;
    let changed = storage::execute_together(txn, statements)
        .await
        .map_err(|e| conflict(e, entry_id))?;
    if changed != expected {
        return Err(ApiError::Aborted {
            resource: name_of(entry_id),
        });
    }
    Ok((entry, posting))
}

/// Records bodies that received the entry (once each), for `visible_to`.
async fn add_receivers<'a>(
    conn: &impl ConnectionTrait,
    entry_id: &str,
    paths: impl IntoIterator<Item = &'a str>,
) -> ApiResult<()> {
    use sea_orm::sea_query::OnConflict;
    let rows: Vec<receivers::ActiveModel> = paths
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| receivers::ActiveModel {
            entry_id: Set(entry_id.to_owned()),
            body_path: Set(p.to_owned()),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    receivers::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([receivers::Column::EntryId, receivers::Column::BodyPath])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec(conn)
        .await?;
    Ok(())
}

/// Fills `entry_receivers` from the transfers of every entry's projection
/// (the migration that added the table).
pub async fn fill_receivers(conn: &impl ConnectionTrait) -> ApiResult<()> {
    let transferred = Condition::all().add(entries::Column::TransferCount.gt(0));
    let mut pages = Pages::new(transferred);
    while let Some(rows) = pages.next(conn).await? {
        for row in &rows {
            let entry = decode_snapshot(row)?;
            let paths = entry
                .transfers
                .iter()
                .map(|t| t.receiving_body_path.as_str());
            add_receivers(conn, &row.id, paths).await?;
        }
    }
    Ok(())
}

/// Records the functional department of a newly opened entry, for
/// `visible_to`.
async fn add_department(
    conn: &impl ConnectionTrait,
    entry_id: &str,
    entry: &LedgerEntry,
) -> ApiResult<()> {
    use sea_orm::sea_query::OnConflict;
    let path = entry
        .responsibility
        .as_ref()
        .map_or("", |r| r.functional_department_path.as_str());
    if path.is_empty() {
        return Ok(());
    }
    departments::Entity::insert(departments::ActiveModel {
        entry_id: Set(entry_id.to_owned()),
        body_path: Set(path.to_owned()),
    })
    .on_conflict(
        OnConflict::columns([departments::Column::EntryId, departments::Column::BodyPath])
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec(conn)
    .await?;
    Ok(())
}

/// Fills `entry_departments` from every entry's projection (the migration
/// that added the table).
pub async fn fill_departments(conn: &impl ConnectionTrait) -> ApiResult<()> {
    let mut pages = Pages::new(Condition::all());
    while let Some(rows) = pages.next(conn).await? {
        for row in &rows {
            add_department(conn, &row.id, &decode_snapshot(row)?).await?;
        }
    }
    Ok(())
}

/// The entry rows matching a filter, a page at a time in id order: the
/// passes over the whole books (verification, the migrations).
struct Pages {
    filter: Condition,
    after: String,
}

impl Pages {
    fn new(filter: Condition) -> Self {
        Self {
            filter,
            after: String::new(),
        }
    }

    async fn next(
        &mut self,
        conn: &impl ConnectionTrait,
    ) -> ApiResult<Option<Vec<entries::Model>>> {
        let rows = entries::Entity::find()
            .filter(self.filter.clone())
            .filter(entries::Column::Id.gt(self.after.clone()))
            .order_by_asc(entries::Column::Id)
            .limit(VERIFY_BATCH)
            .all(conn)
            .await?;
        Ok(rows.last().map(|last| last.id.clone()).map(|last| {
            self.after = last;
            rows
        }))
    }
}

/// A concurrent writer took the same (entry, seq) or problem first.
fn conflict(err: sea_orm::DbErr, entry_id: &str) -> ApiError {
    if fiveledger_platform::storage::is_unique_violation(&err) {
        ApiError::Aborted {
            resource: name_of(entry_id),
        }
    } else {
        err.into()
    }
}

/// Every posting kind is an event of its own type: the statement that
/// appends it.
fn event(
    backend: DbBackend,
    ctx: &EventContext,
    entry: &LedgerEntry,
    posting: &Posting,
) -> ApiResult<Statement> {
    let ctx = &ctx.about(&entry.round_organisation_path);
    let subject = &entry.name;
    let (entry, posting) = (Some(entry.clone()), Some(posting.clone()));
    macro_rules! send {
        ($event:ident) => {
            outbox::append_statement(backend, ctx, subject, &$event { entry, posting })
        };
    }
    let detail = posting.as_ref().and_then(|p| p.detail.as_ref());
    match detail {
        Some(Detail::Open(_)) => send!(EntryOpened),
        Some(Detail::HandOver(_)) => send!(EntryHandedOver),
        Some(Detail::HandOverAcknowledged(_)) => send!(HandOverAcknowledged),
        Some(Detail::PlanSubmitted(_)) => send!(PlanSubmitted),
        Some(Detail::PlanApproved(_)) => send!(PlanApproved),
        Some(Detail::PlanRejected(_)) => send!(PlanRejected),
        Some(Detail::Progress(_)) => send!(ProgressPosted),
        Some(Detail::Supervision(_)) => send!(SupervisionPosted),
        Some(Detail::Transferred(_)) => send!(EntryTransferred),
        Some(Detail::TransferAcknowledged(_)) => send!(TransferAcknowledged),
        Some(Detail::TransferResult(_)) => send!(TransferResultReturned),
        Some(Detail::WriteOffRequested(_)) => send!(WriteOffRequested),
        Some(Detail::WriteOffApproved(_)) => send!(EntryWrittenOff),
        Some(Detail::WriteOffRejected(_)) => send!(WriteOffRejected),
        Some(Detail::Reopened(_)) => send!(EntryReopened),
        Some(Detail::Warning(_)) => send!(WarningRaised),
        Some(Detail::NoticeReplied(_)) => send!(NoticeReplied),
        Some(Detail::Interview(_)) => send!(InterviewRecorded),
        Some(Detail::InterviewFollowUp(_)) => send!(InterviewFollowedUp),
        Some(Detail::InterviewRequired(_)) => send!(InterviewEscalated),
        None => Err(ApiError::internal(anyhow::anyhow!(
            "a posting without its kind"
        ))),
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<entries::Model>> {
    Ok(entries::Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Every posting of one entry, oldest first.
pub async fn journal(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Vec<postings::Model>> {
    Ok(postings::Entity::find()
        .filter(postings::Column::EntryId.eq(id))
        .order_by_asc(postings::Column::Seq)
        .all(conn)
        .await?)
}

/// Entries of an inspection in a given state (for hand-over).
pub async fn of_inspection_in_state(
    conn: &impl ConnectionTrait,
    inspection: &str,
    state: EntryState,
) -> ApiResult<Vec<entries::Model>> {
    Ok(entries::Entity::find()
        .filter(entries::Column::Inspection.eq(inspection))
        .filter(entries::Column::State.eq(state.as_str_name()))
        .order_by_asc(entries::Column::Id)
        .all(conn)
        .await?)
}

/// The problems among `problems` that already have an entry.
pub async fn problems_with_entries(
    conn: &impl ConnectionTrait,
    problems: &[String],
) -> ApiResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in problems.chunks(500) {
        let rows: Vec<String> = entries::Entity::find()
            .select_only()
            .column(entries::Column::Problem)
            .filter(entries::Column::Problem.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// The condition "the caller may see the entry", as SQL (see `domain::scope`).
pub fn visible_to(caller: &fiveledger_platform::auth::Caller) -> Condition {
    use crate::domain::scope::{BY_TARGET, SUPERVISING, WORKERS};
    use fiveledger_platform::auth::Role;
    use fiveledger_platform::storage::within_subtree;
    if caller.has_role(Role::Service) {
        return Condition::all();
    }
    let (org, scope) = (caller.org_path.as_str(), caller.scope_path.as_str());
    let mut any = Condition::any();
    if caller.has_any(WORKERS) {
        any = any.add(within_subtree(
            entries::Column::RoundOrganisationPath,
            scope,
        ));
    }
    let mut after = Condition::any();
    if caller.has_any(BY_TARGET) {
        after = after.add(within_subtree(entries::Column::TargetPath, scope));
    }
    if caller.has_role(Role::InspectedUnit) {
        after = after.add(within_subtree(entries::Column::ResponsibleUnitPath, org));
    }
    if caller.has_any(SUPERVISING) {
        // Every body that received the entry, not only the latest one.
        let received = sea_orm::sea_query::Query::select()
            .column(receivers::Column::EntryId)
            .from(receivers::Entity)
            .and_where(within_subtree(receivers::Column::BodyPath, org))
            .to_owned();
        after = after
            .add(within_subtree(entries::Column::SupervisingBodyPath, org))
            .add(entries::Column::Id.in_subquery(received));
    }
    if caller.has_role(Role::Supervisor) {
        // Responsibility lists (2) and (4): the leaders in charge of the
        // responsible unit and the functional department.
        let department = sea_orm::sea_query::Query::select()
            .column(departments::Column::EntryId)
            .from(departments::Entity)
            .and_where(within_subtree(departments::Column::BodyPath, org))
            .to_owned();
        after = after
            .add(within_subtree(entries::Column::ResponsibleUnitPath, org))
            .add(entries::Column::Id.in_subquery(department));
    }
    // An empty `any` would match all: no role that sees entries, nothing.
    any.add(
        Condition::all()
            .add(entries::Column::State.ne(EntryState::Open.as_str_name()))
            .add(after.add(Expr::value(false))),
    )
    .add(Expr::value(false))
}

/// The entries the caller acts on as the office ([`office_over`]) whose
/// target lies within `subtree`, when one is given: what a sweep it asks
/// for covers.
pub fn office_over_within(
    caller: &fiveledger_platform::auth::Caller,
    subtree: Option<&str>,
) -> Condition {
    let scope = Condition::all().add(office_over(caller));
    match subtree {
        Some(path) => scope.add(fiveledger_platform::storage::within_subtree(
            entries::Column::TargetPath,
            path,
        )),
        None => scope,
    }
}

/// The entries the caller acts on as the office (`Capacity::Office` in
/// SQL): those of rounds run within its subtree; a service's, every one.
pub fn office_over(caller: &fiveledger_platform::auth::Caller) -> Condition {
    use fiveledger_platform::auth::Role;
    use fiveledger_platform::storage::within_subtree;
    if caller.has_role(Role::Service) {
        Condition::all()
    } else if caller.has_role(Role::InspectionOffice) {
        Condition::all().add(within_subtree(
            entries::Column::RoundOrganisationPath,
            &caller.scope_path,
        ))
    } else {
        Condition::all().add(Expr::value(false))
    }
}

/// One term of a `ListEntries` filter: what an entry must be to be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryTerm {
    State(EntryState),
    /// Its own deadline's colour on the list's day (the shared rule).
    Colour(Colour),
    /// Read by its index, or walked when broad ([`Subtree`]).
    ResponsibleSubtree(Subtree),
    TargetSubtree(Subtree),
    Round(String),
    Inspection(String),
    Problem(String),
    Category(String),
    Severity(Severity),
    /// Compared with its due date (`YYYY-MM-DD`); an entry without one
    /// matches no comparison.
    DueDate(Op, String),
}

impl EntryTerm {
    fn condition(&self, today: NaiveDate, t: &warning::Thresholds) -> Condition {
        use entries::Column as C;
        let all = Condition::all();
        match self {
            EntryTerm::State(state) => all.add(C::State.eq(state.as_str_name())),
            EntryTerm::Colour(colour) => all.add(entries::colour(today, t).eq(colour.code())),
            EntryTerm::ResponsibleSubtree(s) => all.add(s.condition(TABLE, RESPONSIBLE_PATH)),
            EntryTerm::TargetSubtree(s) => all.add(s.condition(TABLE, TARGET_PATH)),
            EntryTerm::Round(v) => all.add(Expr::col(C::Round).eq(v.clone())),
            EntryTerm::Inspection(v) => all.add(Expr::col(C::Inspection).eq(v.clone())),
            EntryTerm::Problem(v) => all.add(Expr::col(C::Problem).eq(v.clone())),
            EntryTerm::Category(v) => all.add(Expr::col(C::Category).eq(v.clone())),
            EntryTerm::Severity(severity) => all.add(C::Severity.eq(*severity as i32)),
            EntryTerm::DueDate(op, value) => {
                let col = Expr::col(C::DueDate);
                let value = value.clone();
                let cmp = match op {
                    Op::Lt => col.lt(value),
                    Op::Le => col.lte(value),
                    Op::Gt => col.gt(value),
                    Op::Ge => col.gte(value),
                    _ => col.eq(value),
                };
                all.add(Expr::col(C::DueDate).ne("")).add(cmp)
            }
        }
    }
}

/// How a list of entries is narrowed and ordered.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub terms: Vec<EntryTerm>,
    /// The day and thresholds that judge [`EntryTerm::Colour`].
    pub today: NaiveDate,
    pub thresholds: warning::Thresholds,
    pub by_due_date: bool,
    pub desc: bool,
    /// Keyset: (order key, id) of the last row already returned.
    pub after: Option<(String, String)>,
    pub limit: u64,
}

/// The entries' table and its two path columns, as a subtree term names
/// them ([`Subtree::condition`]).
const TABLE: &str = "entries";
const TARGET_PATH: &str = "target_path";
const RESPONSIBLE_PATH: &str = "responsible_unit_path";
/// Entries in a subtree from which a page is found faster by walking the
/// list's order than by sorting the subtree (`bench --list-rows 1000000`:
/// a city's 100,000 entries sorted took 71–138 ms a page, walked 2–4 ms;
/// a county's 10,000, 6–14 ms sorted, 5–7 ms walked).
const BROAD: u64 = 4096;

/// A page of the entries `caller` sees that match `q`.
pub async fn list(
    conn: &impl ConnectionTrait,
    caller: &fiveledger_platform::auth::Caller,
    q: &ListQuery,
) -> ApiResult<Vec<entries::Model>> {
    Ok(list_select(caller, &probed(conn, q).await?)
        .all(conn)
        .await?)
}

/// `q` with its subtree terms probed: a broad one is walked in the list's
/// order rather than read by its index ([`Subtree`]). On SQLite only: on
/// PostgreSQL no index carries what a caller's sight checks, so a walk
/// would fetch the row of every entry it checks, and the planner's own
/// choice took 2–6 ms p50 a page at a million entries.
pub async fn probed(conn: &impl ConnectionTrait, q: &ListQuery) -> ApiResult<ListQuery> {
    let mut q = q.clone();
    for term in &mut q.terms {
        match term {
            EntryTerm::TargetSubtree(s) => s.probe(conn, TABLE, TARGET_PATH, BROAD, false).await?,
            EntryTerm::ResponsibleSubtree(s) => {
                s.probe(conn, TABLE, RESPONSIBLE_PATH, BROAD, false).await?
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The query [`list`] runs: keyset (never OFFSET), each documented filter
/// served by an index whose trailing columns are the order (see the
/// migration `m20261202_000001_list_indexes`).
pub fn list_select(
    caller: &fiveledger_platform::auth::Caller,
    q: &ListQuery,
) -> sea_orm::Select<entries::Entity> {
    use entries::Column as C;
    let mut select = entries::Entity::find().filter(visible_to(caller));
    for term in &q.terms {
        select = select.filter(term.condition(q.today, &q.thresholds));
    }
    let key = if q.by_due_date { C::DueDate } else { C::Id };
    if let Some((last_key, last_id)) = &q.after {
        let beyond = |col: C, v: String| {
            if q.desc {
                Expr::col(col).lt(v)
            } else {
                Expr::col(col).gt(v)
            }
        };
        select = select.filter(if q.by_due_date {
            // The bound on the due date alone is redundant but lets the
            // planner seek the index to the page's start.
            let bound = if q.desc {
                Expr::col(key).lte(last_key.clone())
            } else {
                Expr::col(key).gte(last_key.clone())
            };
            Condition::all().add(bound).add(
                Condition::any().add(beyond(key, last_key.clone())).add(
                    Expr::col(key)
                        .eq(last_key.clone())
                        .and(beyond(C::Id, last_id.clone())),
                ),
            )
        } else {
            Condition::all().add(beyond(C::Id, last_id.clone()))
        });
    }
    // Ordered by id alone when the key is the id: a second `id` term makes
    // SQLite sort each page again.
    let keys = if q.by_due_date {
        vec![key, C::Id]
    } else {
        vec![C::Id]
    };
    for k in keys {
        select = if q.desc {
            select.order_by_desc(k)
        } else {
            select.order_by_asc(k)
        };
    }
    select.limit(q.limit)
}

/// The entries a reconciliation or a verification covers (of those the
/// caller sees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryScope {
    Everything,
    /// One entry, by id.
    Entry(String),
    /// The entries of an inspection (its resource name).
    Inspection(String),
    /// The entries of a round (its resource name).
    Round(String),
    /// The entries whose target lies within a subtree.
    Subtree(String),
}

impl EntryScope {
    fn condition(&self, caller: &fiveledger_platform::auth::Caller) -> Condition {
        use entries::Column as C;
        let visible = Condition::all().add(visible_to(caller));
        match self {
            EntryScope::Everything => visible,
            EntryScope::Entry(id) => visible.add(C::Id.eq(id.clone())),
            EntryScope::Inspection(name) => visible.add(C::Inspection.eq(name.clone())),
            EntryScope::Round(name) => visible.add(C::Round.eq(name.clone())),
            EntryScope::Subtree(path) => visible.add(fiveledger_platform::storage::within_subtree(
                C::TargetPath,
                path,
            )),
        }
    }
}

/// (id, problem, state) of every entry in `scope` that `caller` sees, for
/// reconciling.
pub async fn tally(
    conn: &impl ConnectionTrait,
    caller: &fiveledger_platform::auth::Caller,
    scope: &EntryScope,
) -> ApiResult<Vec<(String, String, String)>> {
    use entries::Column as C;
    Ok(entries::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::Problem)
        .column(C::State)
        .filter(scope.condition(caller))
        .order_by_asc(C::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Entries verified per round trip.
const VERIFY_BATCH: u64 = 200;
/// Most faults reported by one verification.
const MAX_FAULTS: usize = 1000;

/// Recomputes every chain among the entries in `scope` that `caller` sees.
/// With `orphans` (only meaningful when that is every entry) it also names
/// postings whose entry row is gone: one query per page of entries.
pub async fn verify(
    conn: &impl ConnectionTrait,
    caller: &fiveledger_platform::auth::Caller,
    scope: &EntryScope,
    orphans: bool,
) -> ApiResult<VerifyJournalResponse> {
    let mut out = VerifyJournalResponse::default();
    let mut pages = Pages::new(scope.condition(caller));
    loop {
        let from = pages.after.clone();
        let rows = pages.next(conn).await?.unwrap_or_default();
        let full = rows.len() as u64 >= VERIFY_BATCH;
        if orphans {
            // The ids this page covers: after the last page, up to its own
            // last id (or without bound on the final page).
            let upto = rows.last().filter(|_| full).map(|r| r.id.as_str());
            for (entry_id, seq) in orphaned(conn, &from, upto).await? {
                if out.faults.len() < MAX_FAULTS {
                    out.faults.push(JournalFault {
                        entry: name_of(&entry_id),
                        posting: posting_name(&entry_id, seq),
                        kind: "ORPHANED".into(),
                        description: "postings remain of an entry that is gone".into(),
                    });
                }
            }
        }
        if rows.is_empty() {
            break;
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let all = postings::Entity::find()
            .filter(postings::Column::EntryId.is_in(ids))
            .order_by_asc(postings::Column::EntryId)
            .order_by_asc(postings::Column::Seq)
            .all(conn)
            .await?;
        let mut by_entry: HashMap<&str, Vec<&postings::Model>> = HashMap::new();
        for p in &all {
            by_entry.entry(p.entry_id.as_str()).or_default().push(p);
        }
        for row in &rows {
            let journal = by_entry.remove(row.id.as_str()).unwrap_or_default();
            out.entries += 1;
            out.postings += journal.len() as i64;
            if let Some(fault) = verify_entry(row, &journal)
                && out.faults.len() < MAX_FAULTS
            {
                out.faults.push(fault);
            }
        }
        if !full {
            break;
        }
    }
    out.valid = out.faults.is_empty();
    Ok(out)
}

/// (entry id, first seq) of the postings with an entry id in (`after`,
/// `upto`] whose entry row does not exist.
async fn orphaned(
    conn: &impl ConnectionTrait,
    after: &str,
    upto: Option<&str>,
) -> ApiResult<Vec<(String, i64)>> {
    use postings::Column as P;
    let mut existing = sea_orm::sea_query::Query::select();
    existing
        .column(entries::Column::Id)
        .from(entries::Entity)
        .and_where(entries::Column::Id.gt(after));
    let mut query = postings::Entity::find()
        .select_only()
        .column(P::EntryId)
        .column_as(P::Seq.min(), "seq")
        .filter(P::EntryId.gt(after));
    if let Some(upto) = upto {
        existing.and_where(entries::Column::Id.lte(upto));
        query = query.filter(P::EntryId.lte(upto));
    }
    Ok(query
        .filter(P::EntryId.not_in_subquery(existing.to_owned()))
        .group_by(P::EntryId)
        .order_by_asc(P::EntryId)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The first thing wrong with one entry's journal, if anything.
pub fn verify_entry(row: &entries::Model, journal: &[&postings::Model]) -> Option<JournalFault> {
    let id = row.id.as_str();
    let fault = |seq: i64, kind: &str, description: String| JournalFault {
        entry: name_of(id),
        posting: posting_name(id, seq),
        kind: kind.to_owned(),
        description,
    };
    let mut entry = LedgerEntry {
        name: name_of(id),
        ..Default::default()
    };
    let mut prev = String::new();
    for (expected, p) in (1..).zip(journal.iter()) {
        if p.seq != expected {
            return Some(fault(
                expected,
                "MISSING",
                format!("posting {expected} is missing; the next is {}", p.seq),
            ));
        }
        if journal::hash(&p.record()) != p.hash {
            return Some(fault(
                p.seq,
                "ALTERED",
                "the posting's content does not match its hash".into(),
            ));
        }
        if p.prev_hash != prev {
            return Some(fault(
                p.seq,
                "CHAIN_BROKEN",
                "the posting does not chain to the one before it".into(),
            ));
        }
        if p.seq > row.posting_count {
            return Some(fault(
                p.seq,
                "INSERTED",
                format!(
                    "the entry records {} postings; this one lies beyond its head",
                    row.posting_count
                ),
            ));
        }
        let replayed = posting_of(p).and_then(|posting| domain::apply(&mut entry, &posting));
        if let Err(err) = replayed {
            return Some(fault(
                p.seq,
                "INVALID_STEP",
                format!("replaying the posting fails: {err}"),
            ));
        }
        prev = p.hash.clone();
    }
    let count = journal.len() as i64;
    if count < row.posting_count {
        return Some(fault(
            count + 1,
            "TRUNCATED",
            format!(
                "the entry records {} postings but the journal holds {count}",
                row.posting_count
            ),
        ));
    }
    if prev != row.journal_head {
        return Some(fault(
            count,
            "ALTERED",
            "the newest posting does not match the head recorded on the entry".into(),
        ));
    }
    // The whole row the replay would write (the same function as `append`),
    // column by column, so that no projected column goes unchecked.
    let expected = projection(id, &entry, row.create_time_us);
    let actual = row.clone().into_active_model();
    let snapshot_of = |m: &entries::ActiveModel| match m.get(entries::Column::Snapshot) {
        ActiveValue::Set(Value::Bytes(Some(b))) | ActiveValue::Unchanged(Value::Bytes(Some(b))) => {
            LedgerEntry::decode(b.as_slice()).ok()
        }
        _ => None,
    };
    let mut differing: Vec<&'static str> = entries::Column::iter()
        .filter(|c| !matches!(c, entries::Column::Snapshot))
        .filter(|c| expected.get(*c).into_value() != actual.get(*c).into_value())
        .map(|c| c.as_str())
        .collect();
    // The snapshot by content (its encoding may differ byte for byte).
    if snapshot_of(&expected).is_none() || snapshot_of(&expected) != snapshot_of(&actual) {
        differing.push(entries::Column::Snapshot.as_str());
    }
    if !differing.is_empty() {
        return Some(fault(
            count,
            "PROJECTION_MISMATCH",
            format!(
                "the entry's stored {} differ(s) from what its postings derive",
                differing.join(", ")
            ),
        ));
    }
    None
}

/// Replays every entry's journal and rewrites its projection (used by the
/// migration that added columns the old projection lacked).
pub async fn rebuild_all(conn: &impl ConnectionTrait) -> ApiResult<()> {
    let mut pages = Pages::new(Condition::all());
    while let Some(rows) = pages.next(conn).await? {
        for row in &rows {
            let mut entry = LedgerEntry {
                name: name_of(&row.id),
                ..Default::default()
            };
            for p in journal(conn, &row.id).await? {
                domain::apply(&mut entry, &posting_of(&p)?)?;
            }
            let mut model = projection(&row.id, &entry, row.create_time_us);
            model.id = NotSet;
            entries::Entity::update_many()
                .set(model)
                .filter(entries::Column::Id.eq(row.id.clone()))
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `journal` fuzz target (fuzz/corpus/journal): verifying
    /// a posting stamped near the earliest microsecond an i64 holds
    /// overflowed in the projection (a panic in debug builds).
    #[test]
    fn projects_a_posting_at_the_edge_of_time() {
        for us in [i64::MIN, i64::MIN + 3071, -1, 0, i64::MAX] {
            let payload = Posting {
                detail: Some(Detail::Open(OpenDetail::default())),
                ..Default::default()
            }
            .encode_to_vec();
            let mut row = postings::Model {
                entry_id: "e1".into(),
                seq: 1,
                kind: "POSTING_KIND_OPEN".into(),
                payload,
                actor: String::new(),
                request_id: String::new(),
                traceparent: String::new(),
                create_time_us: us,
                prev_hash: String::new(),
                hash: String::new(),
            };
            row.hash = journal::hash(&row.record());
            let mut entry = LedgerEntry {
                name: name_of("e1"),
                ..Default::default()
            };
            domain::apply(&mut entry, &posting_of(&row).expect("posting")).expect("opens");
            let projected = projection("e1", &entry, us);
            assert_eq!(projected.update_time_us, Set(us), "{us}");
        }
    }
}
