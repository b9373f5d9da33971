//! LookBackService: look-back campaigns (整改"回头看"): self-check reports
//! with the organisation's own rectification ledger compiled from the books,
//! the key-problem list, supervision suggestions with one reply each, and
//! spot checks whose failure reopens the entry through the ledger's write
//! path (`books::append`) in the check's transaction. Who may do what is
//! `domain::scope` (the office of the level running the round, the
//! inspected organisation, the supervising body); out of sight is NOT_FOUND.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::look_back_service_server::LookBackService;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::self_check_report::State;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::WarningColour;
use prost::Message;
use tonic::{Request, Response, Status};

use super::steps::{check_capacity_on, visible_row};
use super::{Api, traceparent};
use crate::domain::entry::{self as domain, name_of, posting_name};
use crate::domain::scope::{Capacity, EntryPaths, look_back_paths, sees_look_back};
use crate::storage::books::{self, EntryTerm, ListQuery, Signature};
use crate::storage::look_back::{self as store, Kind, NewRecord, Place, records};

const REPORTS: &str = "selfCheckReports";
const KEY_PROBLEMS: &str = "keyProblems";
const SUGGESTIONS: &str = "supervisionSuggestions";
const SPOT_CHECKS: &str = "spotChecks";
/// Most lines a self-check report's ledger holds.
const MAX_LINES: u64 = 1000;

/// The place of a record as the paths scope decisions look at.
fn paths(place: &Place) -> EntryPaths<'_> {
    look_back_paths(&place.round_organisation_path, &place.unit_path)
}

fn place_of(row: &records::Model) -> Place {
    Place {
        round: row.round.clone(),
        round_organisation_path: row.round_organisation_path.clone(),
        unit_path: row.unit_path.clone(),
    }
}

/// The record `name` of `kind` if the caller sees it, else NOT_FOUND.
async fn visible(
    conn: &impl sea_orm::ConnectionTrait,
    caller: &Caller,
    kind: Kind,
    collection: &str,
    name: &str,
) -> ApiResult<records::Model> {
    let id = names::parse("name", name, collection)?;
    store::find(conn, kind, id)
        .await?
        .filter(|row| sees_look_back(caller, &paths(&place_of(row))))
        .ok_or_else(|| ApiError::not_found(name))
}

fn decode<M: Message + Default>(row: &records::Model) -> ApiResult<M> {
    M::decode(row.snapshot.as_slice()).map_err(ApiError::internal)
}

/// The id given, or a fresh one.
fn id_or_new(field: &str, given: &str, prefix: char) -> ApiResult<String> {
    if given.is_empty() {
        Ok(names::generate_id(prefix))
    } else {
        names::validate_id(field, given)?;
        Ok(given.to_owned())
    }
}

/// Why the books make an entry a key-problem candidate (none: not one).
fn reasons_of(entry: &LedgerEntry, today: &str) -> Vec<i32> {
    let mut reasons = Vec::new();
    let due = domain::date_of(entry.due_date.as_ref()).map(|d| d.format("%Y-%m-%d").to_string());
    if entry.state() != EntryState::WrittenOff && due.is_some_and(|d| d.as_str() < today) {
        reasons.push(KeyProblemReason::Overdue as i32);
    }
    if entry.reopen_count > 0 {
        reasons.push(KeyProblemReason::Reopened as i32);
    }
    match entry.colour() {
        WarningColour::Red => reasons.push(KeyProblemReason::Red as i32),
        WarningColour::Yellow => reasons.push(KeyProblemReason::Yellow as i32),
        _ => {}
    }
    reasons
}

/// FAILED_PRECONDITION `SELF_CHECK_ACCEPTED` for an accepted report, or
/// WRONG_STATE when it is not in one of `allowed`.
fn report_in(report: &SelfCheckReport, step: &str, allowed: &[State]) -> ApiResult<()> {
    if report.state() == State::Accepted {
        return Err(ApiError::precondition(
            ErrorReason::SelfCheckAccepted,
            format!("{} was accepted and is final", report.name),
        ));
    }
    if allowed.contains(&report.state()) {
        return Ok(());
    }
    Err(ApiError::precondition(
        ErrorReason::WrongState,
        format!(
            "{} is {}: cannot {step} it",
            report.name,
            report.state().as_str_name()
        ),
    ))
}

impl Api {
    fn today_text(&self) -> String {
        self.clock.now().date_naive().format("%Y-%m-%d").to_string()
    }

    fn query(&self, terms: Vec<EntryTerm>, after: Option<String>, limit: u64) -> ListQuery {
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

    /// The organisation's rectification ledger (整改台账) as the books hold
    /// it now: the entries of `inspection` the caller sees.
    async fn ledger_of(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        caller: &Caller,
        inspection: &str,
    ) -> ApiResult<Vec<SelfCheckLine>> {
        let q = self.query(
            vec![EntryTerm::Inspection(inspection.to_owned())],
            None,
            MAX_LINES,
        );
        books::list(conn, caller, &q)
            .await?
            .iter()
            .map(|row| {
                let mut entry = books::decode_snapshot(row)?;
                self.paint(&mut entry);
                Ok(SelfCheckLine {
                    entry: entry.name.clone(),
                    title: entry.title.clone(),
                    state: entry.state,
                    due_date: entry.due_date,
                    reopen_count: entry.reopen_count,
                    colour: entry.colour,
                })
            })
            .collect()
    }

    /// The office's decision on a submitted report: accepted (final) or
    /// returned with `reason`.
    async fn decide_report(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        name: String,
        decision: State,
        reason: String,
    ) -> Result<Response<SelfCheckReport>, Status> {
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
    async fn change_report<F>(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        name: String,
        capacity: Capacity,
        compile: bool,
        change: F,
    ) -> Result<Response<SelfCheckReport>, Status>
    where
        F: FnOnce(&mut SelfCheckReport, Vec<SelfCheckLine>) -> ApiResult<()> + Send + 'static,
    {
        let api = self.clone();
        let now = to_timestamp(self.clock.now());
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible(txn, &caller, Kind::SelfCheckReport, REPORTS, &name).await?;
                let place = place_of(&row);
                check_capacity_on(&caller, &paths(&place), &name, &[capacity])?;
                let mut report: SelfCheckReport = decode(&row)?;
                let ledger = if compile {
                    api.ledger_of(txn, &caller, &report.inspection).await?
                } else {
                    Vec::new()
                };
                change(&mut report, ledger)?;
                report.update_time = Some(now);
                store::update(txn, &row, report.encode_to_vec(), &name).await?;
                Ok(report)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }
}

/// A page of look-back records of a round (offices and supervising bodies
/// of its level): the records and the next page's token.
async fn page_of<M: Message + Default>(
    api: &Api,
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
        api.db.reader(),
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
        .map(decode::<M>)
        .collect::<ApiResult<Vec<M>>>()?;
    Ok((items, token))
}

#[tonic::async_trait]
impl LookBackService for Api {
    async fn request_self_check_report(
        &self,
        request: Request<RequestSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RequestSelfCheckReport", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let given = r
            .self_check_report
            .as_ref()
            .ok_or_else(|| ApiError::required("self_check_report"))?;
        let inspection = given.inspection.clone();
        let id = id_or_new("self_check_report_id", &r.self_check_report_id, 's')?;
        let place = self
            .inspected(&caller, "self_check_report.inspection", &inspection)
            .await?;
        check_capacity_on(&caller, &paths(&place), &inspection, &[Capacity::Office])?;
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
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let taken = format!("the self-check report of {inspection}");
                let record = NewRecord {
                    kind: Kind::SelfCheckReport,
                    id: &id,
                    unique_key: &inspection,
                    place: &place,
                    snapshot: report.encode_to_vec(),
                    create_time_us: now.timestamp_micros(),
                };
                store::insert(txn, record, &taken).await?;
                Ok(report)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn submit_self_check_report(
        &self,
        request: Request<SubmitSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "SubmitSelfCheckReport", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse("name", &r.name, REPORTS)?;
        let summary = domain::text("summary", &r.summary, true)?;
        let actor = caller.actor();
        self.change_report(
            caller,
            key,
            r.name,
            Capacity::Unit,
            true,
            move |report, ledger| {
                report_in(report, "submit", &[State::Requested, State::Returned])?;
                report.summary = summary;
                report.ledger = ledger;
                report.submitted_by = actor;
                report.set_state(State::Submitted);
                Ok(())
            },
        )
        .await
    }

    async fn accept_self_check_report(
        &self,
        request: Request<AcceptSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "AcceptSelfCheckReport", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse("name", &r.name, REPORTS)?;
        self.decide_report(caller, key, r.name, State::Accepted, String::new())
            .await
    }

    async fn return_self_check_report(
        &self,
        request: Request<ReturnSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ReturnSelfCheckReport", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse("name", &r.name, REPORTS)?;
        let reason = domain::text("reason", &r.reason, true)?;
        self.decide_report(caller, key, r.name, State::Returned, reason)
            .await
    }

    async fn get_self_check_report(
        &self,
        request: Request<GetSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let row = visible(
            self.db.reader(),
            &caller,
            Kind::SelfCheckReport,
            REPORTS,
            name,
        )
        .await?;
        Ok(Response::new(decode(&row)?))
    }

    async fn list_key_problem_candidates(
        &self,
        request: Request<ListKeyProblemCandidatesRequest>,
    ) -> Result<Response<ListKeyProblemCandidatesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        names::parse("round", &r.round, "rounds")?;
        let page = PageRequest::parse(r.page_size, &r.page_token, &[&r.round, &caller.key()])?;
        let after = page.after_str(0)?.map(str::to_owned);
        let today = self.today_text();
        // The round's flagged entries the caller acts on as the office
        // (rounds run in its subtree), by id.
        let q = self.query(vec![EntryTerm::Round(r.round.clone())], after, page.limit());
        let rows = store::candidates(self.db.reader(), &caller, &q, &caller.scope_path).await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for row in rows {
            let mut entry = books::decode_snapshot(&row)?;
            self.paint(&mut entry);
            candidates.push(KeyProblemCandidate {
                entry: entry.name.clone(),
                title: entry.title.clone(),
                responsible_unit_path: row.responsible_unit_path.clone(),
                reasons: reasons_of(&entry, &today),
            });
        }
        let (candidates, next_page_token) = page.finish(candidates, |last| {
            let id = last.entry.strip_prefix("entries/").unwrap_or_default();
            vec![id.into()]
        });
        Ok(Response::new(ListKeyProblemCandidatesResponse {
            candidates,
            next_page_token,
        }))
    }

    async fn create_key_problem(
        &self,
        request: Request<CreateKeyProblemRequest>,
    ) -> Result<Response<KeyProblem>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "CreateKeyProblem", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let given = r
            .key_problem
            .as_ref()
            .ok_or_else(|| ApiError::required("key_problem"))?;
        let entry_id = domain::parse_name("key_problem.entry", &given.entry)?.to_owned();
        let note = domain::text("key_problem.note", &given.note, true)?;
        let id = id_or_new("key_problem_id", &r.key_problem_id, 'k')?;
        let row = visible_row(
            books::find(self.db.reader(), &entry_id).await?,
            &caller,
            &entry_id,
        )?;
        let mut entry = books::decode_snapshot(&row)?;
        check_capacity_on(
            &caller,
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
        let place = Place {
            round: row.round.clone(),
            round_organisation_path: row.round_organisation_path.clone(),
            unit_path: row.responsible_unit_path.clone(),
        };
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let taken = format!("the key problem on {}", problem.entry);
                let record = NewRecord {
                    kind: Kind::KeyProblem,
                    id: &id,
                    unique_key: &entry_id,
                    place: &place,
                    snapshot: problem.encode_to_vec(),
                    create_time_us: now.timestamp_micros(),
                };
                store::insert(txn, record, &taken).await?;
                Ok(problem)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn list_key_problems(
        &self,
        request: Request<ListKeyProblemsRequest>,
    ) -> Result<Response<ListKeyProblemsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let (key_problems, next_page_token) = page_of(
            self,
            &caller,
            Kind::KeyProblem,
            &r.round,
            r.page_size,
            &r.page_token,
        )
        .await?;
        Ok(Response::new(ListKeyProblemsResponse {
            key_problems,
            next_page_token,
        }))
    }

    async fn create_supervision_suggestion(
        &self,
        request: Request<CreateSupervisionSuggestionRequest>,
    ) -> Result<Response<SupervisionSuggestion>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "CreateSupervisionSuggestion", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let given = r
            .supervision_suggestion
            .as_ref()
            .ok_or_else(|| ApiError::required("supervision_suggestion"))?;
        let inspection = given.inspection.clone();
        let text = domain::text("supervision_suggestion.suggestion", &given.suggestion, true)?;
        let id = id_or_new(
            "supervision_suggestion_id",
            &r.supervision_suggestion_id,
            'g',
        )?;
        let place = self
            .inspected(&caller, "supervision_suggestion.inspection", &inspection)
            .await?;
        check_capacity_on(&caller, &paths(&place), &inspection, &[Capacity::Office])?;
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
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let record = NewRecord {
                    kind: Kind::SupervisionSuggestion,
                    id: &id,
                    unique_key: &id,
                    place: &place,
                    snapshot: suggestion.encode_to_vec(),
                    create_time_us: now.timestamp_micros(),
                };
                store::insert(txn, record, &suggestion.name).await?;
                Ok(suggestion)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn reply_to_supervision_suggestion(
        &self,
        request: Request<ReplyToSupervisionSuggestionRequest>,
    ) -> Result<Response<SupervisionSuggestion>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ReplyToSupervisionSuggestion", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::parse("name", &r.name, SUGGESTIONS)?;
        let reply = domain::text("reply", &r.reply, true)?;
        let now = to_timestamp(self.clock.now());
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible(
                    txn,
                    &caller,
                    Kind::SupervisionSuggestion,
                    SUGGESTIONS,
                    &r.name,
                )
                .await?;
                check_capacity_on(&caller, &paths(&place_of(&row)), &r.name, &[Capacity::Unit])?;
                let mut suggestion: SupervisionSuggestion = decode(&row)?;
                if !suggestion.reply.is_empty() {
                    return Err(ApiError::precondition(
                        ErrorReason::SuggestionAlreadyReplied,
                        format!("{} has its reply already", r.name),
                    ));
                }
                suggestion.reply = reply;
                suggestion.replied_by = caller.actor();
                suggestion.reply_time = Some(now);
                store::update(txn, &row, suggestion.encode_to_vec(), &r.name).await?;
                Ok(suggestion)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn get_supervision_suggestion(
        &self,
        request: Request<GetSupervisionSuggestionRequest>,
    ) -> Result<Response<SupervisionSuggestion>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let row = visible(
            self.db.reader(),
            &caller,
            Kind::SupervisionSuggestion,
            SUGGESTIONS,
            name,
        )
        .await?;
        Ok(Response::new(decode(&row)?))
    }

    async fn create_spot_check(
        &self,
        request: Request<CreateSpotCheckRequest>,
    ) -> Result<Response<SpotCheck>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "CreateSpotCheck", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let given = r
            .spot_check
            .clone()
            .ok_or_else(|| ApiError::required("spot_check"))?;
        let entry_id = domain::parse_name("spot_check.entry", &given.entry)?.to_owned();
        names::parse_nested(
            "spot_check.look_back",
            &given.look_back,
            "rounds",
            "inspections",
        )?;
        let findings = domain::text("spot_check.findings", &given.findings, true)?;
        let failed = match given.result() {
            SpotCheckResult::Passed => false,
            SpotCheckResult::Failed => true,
            SpotCheckResult::Unspecified => {
                return Err(ApiError::invalid(
                    "spot_check.result",
                    CommonReason::RequiredField,
                    "spot_check.result is PASSED or FAILED",
                )
                .into());
            }
        };
        let due_date = if failed {
            Some(domain::parse_required_date(
                "spot_check.due_date",
                given.due_date.as_ref(),
            )?)
        } else {
            None
        };
        let id = id_or_new("spot_check_id", &r.spot_check_id, 'c')?;
        const CHECKERS: &[Capacity] = &[Capacity::Office, Capacity::Supervisor];
        // The checker, the entry's state and the look-back inspection, before
        // the rounds service is asked anything (checked again when written).
        let current = self.read_visible(&caller, &given.entry).await?;
        check_capacity_on(&caller, &EntryPaths::of(&current), &current.name, CHECKERS)?;
        domain::require(&current, "spot-check", &[EntryState::WrittenOff])?;
        self.check_look_back(&caller, &current, &given.look_back)
            .await?;
        let now = self.clock.now();
        let signature = Signature {
            actor: caller.actor(),
            request_id: r.request_id.clone(),
            traceparent: trace,
            at_us: now.timestamp_micros(),
            effective_date: None,
            recorded_after_the_fact: false,
        };
        let mut check = SpotCheck {
            name: format!("{SPOT_CHECKS}/{id}"),
            entry: name_of(&entry_id),
            look_back: given.look_back.clone(),
            result: given.result,
            findings: findings.clone(),
            due_date,
            round: current.round.clone(),
            posting: String::new(),
            created_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
        };
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let row = visible_row(books::lock(txn, &entry_id).await?, &caller, &entry_id)?;
                let entry = books::decode_snapshot(&row)?;
                check_capacity_on(&caller, &EntryPaths::of(&entry), &entry.name, CHECKERS)?;
                domain::require(&entry, "spot-check", &[EntryState::WrittenOff])?;
                if failed {
                    let detail = Detail::Reopened(ReopenDetail {
                        inspection: check.look_back.clone(),
                        reason: format!("抽查未通过：{findings}"),
                        due_date,
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
        .await?;
        Ok(Response::new(stored))
    }

    async fn list_spot_checks(
        &self,
        request: Request<ListSpotChecksRequest>,
    ) -> Result<Response<ListSpotChecksResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let (spot_checks, next_page_token) = page_of(
            self,
            &caller,
            Kind::SpotCheck,
            &r.round,
            r.page_size,
            &r.page_token,
        )
        .await?;
        Ok(Response::new(ListSpotChecksResponse {
            spot_checks,
            next_page_token,
        }))
    }
}
