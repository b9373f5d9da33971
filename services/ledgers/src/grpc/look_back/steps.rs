//! The look-back campaign's steps: each request's checks and its one
//! idempotent transaction, reading and writing through `storage::look_back`
//! (and, for a failed spot check, the ledger's write path `books::append`).

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::self_check_report::State;
use fiveledger_proto::ledgers::*;
use prost::Message;

use super::{KEY_PROBLEMS, MAX_LINES, REPORTS, SUGGESTIONS};
use crate::domain::entry::{self as domain, posting_name};
use crate::domain::look_back::{reasons_of, report_in};
use crate::domain::scope::{Capacity, EntryPaths};
use crate::grpc::Api;
use crate::grpc::steps::{check_capacity_on, recorded_after_the_fact, visible_row};
use crate::storage::books::{self, EntryTerm, ListQuery, Signature};
use crate::storage::look_back::{self as store, Kind, NewRecord, Place};

/// Who spot-checks a written-off entry.
const CHECKERS: &[Capacity] = &[Capacity::Office, Capacity::Supervisor];

/// A new record: its proto, where it sits, and what a second one with the
/// same unique key is refused as.
struct Create<M> {
    kind: Kind,
    id: String,
    unique_key: String,
    place: Place,
    record: M,
    taken: String,
    create_time_us: i64,
}

impl Api {
    pub(super) fn today_text(&self) -> String {
        self.clock.now().date_naive().format("%Y-%m-%d").to_string()
    }

    pub(super) fn query(
        &self,
        terms: Vec<EntryTerm>,
        after: Option<String>,
        limit: u64,
    ) -> ListQuery {
        ListQuery {
            terms,
            today: self.clock.now().date_naive(),
            thresholds: self.settings.thresholds(),
            after: after.map(|id| (id.clone(), id)),
            limit,
            ..Default::default()
        }
    }

    /// The inspected organisation of `inspection` as the caller sees the
    /// books: its round and paths, from the entries of the inspection the
    /// caller sees (none: NOT_FOUND, as an unknown one).
    async fn inspected(&self, caller: &Caller, field: &str, inspection: &str) -> ApiResult<Place> {
        names::parse_nested(field, inspection, "rounds", "inspections")?;
        let q = self.query(vec![EntryTerm::Inspection(inspection.to_owned())], None, 1);
        let row = books::list(self.db.reader(), caller, &q)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found(inspection))?;
        Ok(Place {
            round: row.round,
            round_organisation_path: row.round_organisation_path,
            unit_path: row.target_path,
        })
    }

    /// The inspected organisation of `inspection`, if the caller is the
    /// office over it.
    async fn inspected_by_office(
        &self,
        caller: &Caller,
        field: &str,
        inspection: &str,
    ) -> ApiResult<Place> {
        let place = self.inspected(caller, field, inspection).await?;
        check_capacity_on(caller, &place.paths(), inspection, &[Capacity::Office])?;
        Ok(place)
    }

    /// Stores a new record in one idempotent transaction.
    async fn create<M: Message + Default + 'static>(
        &self,
        key: Option<RequestKey>,
        new: Create<M>,
    ) -> ApiResult<M> {
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let record = NewRecord {
                    kind: new.kind,
                    id: &new.id,
                    unique_key: &new.unique_key,
                    place: &new.place,
                    snapshot: new.record.encode_to_vec(),
                    create_time_us: new.create_time_us,
                };
                store::insert(txn, record, &new.taken).await?;
                Ok(new.record)
            })
        })
        .await
    }

    /// The office asks the inspected organisation of `inspection` for its
    /// self-check report (one per inspection).
    pub(super) async fn request_report(
        &self,
        caller: &Caller,
        key: Option<RequestKey>,
        id: String,
        inspection: String,
    ) -> ApiResult<SelfCheckReport> {
        let place = self
            .inspected_by_office(caller, "self_check_report.inspection", &inspection)
            .await?;
        let now = self.clock.now();
        let report = SelfCheckReport {
            name: format!("{REPORTS}/{id}"),
            inspection: inspection.clone(),
            round: place.round.clone(),
            unit_path: place.unit_path.clone(),
            round_organisation_path: place.round_organisation_path.clone(),
            state: State::Requested as i32,
            requested_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
            update_time: Some(to_timestamp(now)),
            ..Default::default()
        };
        let new = Create {
            kind: Kind::SelfCheckReport,
            id,
            taken: format!("the self-check report of {inspection}"),
            unique_key: inspection,
            place,
            record: report,
            create_time_us: now.timestamp_micros(),
        };
        self.create(key, new).await
    }

    /// The office's decision on a submitted report: accepted (final) or
    /// returned with `reason`.
    pub(super) async fn decide_report(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        name: String,
        decision: State,
        reason: String,
    ) -> ApiResult<SelfCheckReport> {
        let actor = caller.actor();
        let step = if decision == State::Accepted {
            "accept"
        } else {
            "return"
        };
        self.change_report(
            caller,
            key,
            name,
            Capacity::Office,
            false,
            move |report, _| {
                report_in(report, step, &[State::Submitted])?;
                if decision == State::Returned {
                    report.return_reason = reason;
                }
                report.decided_by = actor;
                report.set_state(decision);
                Ok(())
            },
        )
        .await
    }

    /// A change to a self-check report by `capacity`, in one idempotent
    /// transaction: `change` gets the report as stored and, when `compile`,
    /// the caller's ledger as the books hold it in that transaction.
    pub(super) async fn change_report<F>(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        name: String,
        capacity: Capacity,
        compile: bool,
        change: F,
    ) -> ApiResult<SelfCheckReport>
    where
        F: FnOnce(&mut SelfCheckReport, Vec<SelfCheckLine>) -> ApiResult<()> + Send + 'static,
    {
        let api = self.clone();
        let now = to_timestamp(self.clock.now());
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = store::find_visible(txn, &caller, Kind::SelfCheckReport, REPORTS, &name)
                    .await?;
                check_capacity_on(&caller, &row.place().paths(), &name, &[capacity])?;
                let mut report: SelfCheckReport = row.decode()?;
                let ledger = if compile {
                    let terms = vec![EntryTerm::Inspection(report.inspection.clone())];
                    store::compile_ledger(txn, &caller, &api.query(terms, None, MAX_LINES)).await?
                } else {
                    Vec::new()
                };
                change(&mut report, ledger)?;
                report.update_time = Some(now);
                store::update(txn, &row, report.encode_to_vec(), &name).await?;
                Ok(report)
            })
        })
        .await
    }

    /// The office puts a written-up entry on the round's key-problem list
    /// (once per entry), with the reasons the books give now.
    pub(super) async fn add_key_problem(
        &self,
        caller: &Caller,
        key: Option<RequestKey>,
        id: String,
        entry_id: String,
        note: String,
    ) -> ApiResult<KeyProblem> {
        let row = visible_row(
            books::find(self.db.reader(), &entry_id).await?,
            caller,
            &entry_id,
        )?;
        let mut entry = books::decode_snapshot(&row)?;
        check_capacity_on(
            caller,
            &EntryPaths::of(&entry),
            &entry.name,
            &[Capacity::Office],
        )?;
        self.paint(&mut entry);
        let now = self.clock.now();
        let problem = KeyProblem {
            name: format!("{KEY_PROBLEMS}/{id}"),
            entry: entry.name.clone(),
            note,
            round: entry.round.clone(),
            title: entry.title.clone(),
            responsible_unit_path: row.responsible_unit_path.clone(),
            reasons: reasons_of(&entry, &self.today_text()),
            created_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
        };
        let new = Create {
            kind: Kind::KeyProblem,
            id,
            unique_key: entry_id,
            taken: format!("the key problem on {}", problem.entry),
            place: Place {
                round: row.round,
                round_organisation_path: row.round_organisation_path,
                unit_path: row.responsible_unit_path,
            },
            record: problem,
            create_time_us: now.timestamp_micros(),
        };
        self.create(key, new).await
    }

    /// The office's supervision suggestion to the inspected organisation of
    /// `inspection`.
    pub(super) async fn create_suggestion(
        &self,
        caller: &Caller,
        key: Option<RequestKey>,
        id: String,
        inspection: String,
        text: String,
    ) -> ApiResult<SupervisionSuggestion> {
        let place = self
            .inspected_by_office(caller, "supervision_suggestion.inspection", &inspection)
            .await?;
        let now = self.clock.now();
        let suggestion = SupervisionSuggestion {
            name: format!("{SUGGESTIONS}/{id}"),
            inspection,
            suggestion: text,
            round: place.round.clone(),
            unit_path: place.unit_path.clone(),
            created_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
            ..Default::default()
        };
        let new = Create {
            kind: Kind::SupervisionSuggestion,
            unique_key: id.clone(),
            id,
            taken: suggestion.name.clone(),
            place,
            record: suggestion,
            create_time_us: now.timestamp_micros(),
        };
        self.create(key, new).await
    }

    /// The unit's one reply to a supervision suggestion.
    pub(super) async fn reply_to_suggestion(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        name: String,
        reply: String,
    ) -> ApiResult<SupervisionSuggestion> {
        let now = to_timestamp(self.clock.now());
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let kind = Kind::SupervisionSuggestion;
                let row = store::find_visible(txn, &caller, kind, SUGGESTIONS, &name).await?;
                check_capacity_on(&caller, &row.place().paths(), &name, &[Capacity::Unit])?;
                let mut suggestion: SupervisionSuggestion = row.decode()?;
                if !suggestion.reply.is_empty() {
                    return Err(ApiError::precondition(
                        ErrorReason::SuggestionAlreadyReplied,
                        format!("{name} has its reply already"),
                    ));
                }
                suggestion.reply = reply;
                suggestion.replied_by = caller.actor();
                suggestion.reply_time = Some(now);
                store::update(txn, &row, suggestion.encode_to_vec(), &name).await?;
                Ok(suggestion)
            })
        })
        .await
    }

    /// A spot check of a written-off entry (`check` as asked, its round and
    /// posting filled here), on the signature's day: a failed one reopens
    /// the entry through the ledger's write path in the check's transaction.
    pub(super) async fn spot_check(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        id: String,
        entry_id: String,
        mut check: SpotCheck,
        signature: Signature,
    ) -> ApiResult<SpotCheck> {
        // The checker, the entry's state and the look-back inspection, before
        // the rounds service is asked anything (checked again when written).
        let current = self.read_visible(&caller, &check.entry).await?;
        check_capacity_on(&caller, &EntryPaths::of(&current), &current.name, CHECKERS)?;
        domain::require(&current, "spot-check", &[EntryState::WrittenOff])?;
        self.check_look_back(&caller, &current, &check.look_back)
            .await?;
        check.round = current.round;
        let today = self.clock.now().date_naive();
        let window = self.settings.backfill_days;
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible_row(books::lock(txn, &entry_id).await?, &caller, &entry_id)?;
                let entry = books::decode_snapshot(&row)?;
                check_capacity_on(&caller, &EntryPaths::of(&entry), &entry.name, CHECKERS)?;
                domain::require(&entry, "spot-check", &[EntryState::WrittenOff])?;
                if let Some(day) = domain::date_of(check.effective_date.as_ref()) {
                    recorded_after_the_fact(&caller, &entry, CHECKERS, day, today, window)?;
                }
                if check.result() == SpotCheckResult::Failed {
                    let detail = Detail::Reopened(ReopenDetail {
                        inspection: check.look_back.clone(),
                        reason: format!("抽查未通过：{}", check.findings),
                        due_date: check.due_date,
                    });
                    let (_, posting) =
                        books::append(txn, Some(&row), &entry_id, detail, &signature).await?;
                    check.posting = posting_name(&entry_id, posting.seq);
                }
                let place = Place {
                    round: row.round.clone(),
                    round_organisation_path: row.round_organisation_path.clone(),
                    unit_path: row.responsible_unit_path.clone(),
                };
                let record = NewRecord {
                    kind: Kind::SpotCheck,
                    id: &id,
                    unique_key: &id,
                    place: &place,
                    snapshot: check.encode_to_vec(),
                    create_time_us: signature.at_us,
                };
                store::insert(txn, record, &check.name).await?;
                Ok(check)
            })
        })
        .await
    }

    /// The record `name` of `kind` (in `collection`) if the caller sees
    /// it, else NOT_FOUND.
    pub(super) async fn read_record<M: Message + Default>(
        &self,
        caller: &Caller,
        kind: Kind,
        collection: &str,
        name: &str,
    ) -> ApiResult<M> {
        store::find_visible(self.db.reader(), caller, kind, collection, name)
            .await?
            .decode()
    }

    /// A page of look-back records of a round (offices and supervising
    /// bodies of its level): the records and the next page's token.
    pub(super) async fn page_of<M: Message + Default>(
        &self,
        caller: &Caller,
        kind: Kind,
        round: &str,
        page_size: i32,
        page_token: &str,
    ) -> ApiResult<(Vec<M>, String)> {
        names::parse("round", round, "rounds")?;
        let page = PageRequest::parse(page_size, page_token, &[round, &caller.key()])?;
        let after = page.after_str(0)?.map(str::to_owned);
        let rows = store::list(
            self.db.reader(),
            kind,
            round,
            &caller.scope_path,
            after.as_deref(),
            page.limit(),
        )
        .await?;
        let (rows, token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        let items = rows
            .iter()
            .map(|row| row.decode::<M>())
            .collect::<ApiResult<Vec<M>>>()?;
        Ok((items, token))
    }
}
