//! LookBackService: look-back campaigns (整改"回头看"): self-check reports
//! with the organisation's own rectification ledger compiled from the books,
//! the key-problem list, supervision suggestions with one reply each, and
//! spot checks whose failure reopens the entry through the ledger's write
//! path (`books::append`) in the check's transaction. Who may do what is
//! `domain::scope` (the office of the level running the round, the
//! inspected organisation, the supervising body); out of sight is NOT_FOUND.
//! The handlers parse; `steps` holds each request's checks and transaction.

mod steps;

use fiveledger_platform::aip::idempotency::RequestKey;
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::{to_date, to_timestamp};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::look_back_service_server::LookBackService;
use fiveledger_proto::ledgers::self_check_report::State;
use fiveledger_proto::ledgers::*;
use tonic::{Request, Response, Status};

use super::steps::backdate_in;
use super::{Api, traceparent};
use crate::domain::entry::{self as domain, name_of};
use crate::domain::look_back::{reasons_of, report_in};
use crate::domain::scope::Capacity;
use crate::storage::books::{self, EntryTerm, Signature};
use crate::storage::look_back::{self as store, Kind};

const REPORTS: &str = "selfCheckReports";
const KEY_PROBLEMS: &str = "keyProblems";
const SUGGESTIONS: &str = "supervisionSuggestions";
const SPOT_CHECKS: &str = "spotChecks";
/// Most lines a self-check report's ledger holds.
const MAX_LINES: u64 = 1000;

/// The id given, or a fresh one.
fn id_or_new(field: &str, given: &str, prefix: char) -> ApiResult<String> {
    if given.is_empty() {
        Ok(names::generate_id(prefix))
    } else {
        names::validate_id(field, given)?;
        Ok(given.to_owned())
    }
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
        let id = id_or_new("self_check_report_id", &r.self_check_report_id, 's')?;
        let inspection = given.inspection.clone();
        let report = self.request_report(&caller, key, id, inspection).await?;
        Ok(Response::new(report))
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
        let report = self
            .change_report(
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
            .await?;
        Ok(Response::new(report))
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
        let report = self
            .decide_report(caller, key, r.name, State::Accepted, String::new())
            .await?;
        Ok(Response::new(report))
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
        let report = self
            .decide_report(caller, key, r.name, State::Returned, reason)
            .await?;
        Ok(Response::new(report))
    }

    async fn get_self_check_report(
        &self,
        request: Request<GetSelfCheckReportRequest>,
    ) -> Result<Response<SelfCheckReport>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let record = self.read_record(&caller, Kind::SelfCheckReport, REPORTS, name);
        Ok(Response::new(record.await?))
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
        let problem = self
            .add_key_problem(&caller, key, id, entry_id, note)
            .await?;
        Ok(Response::new(problem))
    }

    async fn list_key_problems(
        &self,
        request: Request<ListKeyProblemsRequest>,
    ) -> Result<Response<ListKeyProblemsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let (key_problems, next_page_token) = self
            .page_of(
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
        let text = domain::text("supervision_suggestion.suggestion", &given.suggestion, true)?;
        let id = id_or_new(
            "supervision_suggestion_id",
            &r.supervision_suggestion_id,
            'g',
        )?;
        let inspection = given.inspection.clone();
        let suggestion = self
            .create_suggestion(&caller, key, id, inspection, text)
            .await?;
        Ok(Response::new(suggestion))
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
        let suggestion = self.reply_to_suggestion(caller, key, r.name, reply).await?;
        Ok(Response::new(suggestion))
    }

    async fn get_supervision_suggestion(
        &self,
        request: Request<GetSupervisionSuggestionRequest>,
    ) -> Result<Response<SupervisionSuggestion>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let record = self.read_record(&caller, Kind::SupervisionSuggestion, SUGGESTIONS, name);
        Ok(Response::new(record.await?))
    }

    async fn get_key_problem(
        &self,
        request: Request<GetKeyProblemRequest>,
    ) -> Result<Response<KeyProblem>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let record = self.read_record(&caller, Kind::KeyProblem, KEY_PROBLEMS, name);
        Ok(Response::new(record.await?))
    }

    async fn get_spot_check(
        &self,
        request: Request<GetSpotCheckRequest>,
    ) -> Result<Response<SpotCheck>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let record = self.read_record(&caller, Kind::SpotCheck, SPOT_CHECKS, name);
        Ok(Response::new(record.await?))
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
            .as_ref()
            .ok_or_else(|| ApiError::required("spot_check"))?;
        let entry_id = domain::parse_name("spot_check.entry", &given.entry)?.to_owned();
        names::parse_nested(
            "spot_check.look_back",
            &given.look_back,
            "rounds",
            "inspections",
        )?;
        let findings = domain::text("spot_check.findings", &given.findings, true)?;
        let due_date = match given.result() {
            SpotCheckResult::Passed => None,
            SpotCheckResult::Failed => Some(domain::parse_required_date(
                "spot_check.due_date",
                given.due_date.as_ref(),
            )?),
            SpotCheckResult::Unspecified => {
                return Err(ApiError::invalid(
                    "spot_check.result",
                    CommonReason::RequiredField,
                    "spot_check.result is PASSED or FAILED",
                )
                .into());
            }
        };
        let id = id_or_new("spot_check_id", &r.spot_check_id, 'c')?;
        let now = self.clock.now();
        let backdated = backdate_in(
            "spot_check.effective_date",
            given.effective_date.as_ref(),
            now.date_naive(),
        )?;
        let check = SpotCheck {
            name: format!("{SPOT_CHECKS}/{id}"),
            entry: name_of(&entry_id),
            look_back: given.look_back.clone(),
            result: given.result,
            findings,
            due_date,
            round: String::new(),
            posting: String::new(),
            created_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
            effective_date: backdated.map(to_date),
        };
        let signature = Signature {
            effective_date: check.effective_date,
            recorded_after_the_fact: backdated.is_some(),
            ..Signature::taken_now(caller.actor(), &r.request_id, trace, now.timestamp_micros())
        };
        let check = self
            .spot_check(caller, key, id, entry_id, check, signature)
            .await?;
        Ok(Response::new(check))
    }

    async fn list_spot_checks(
        &self,
        request: Request<ListSpotChecksRequest>,
    ) -> Result<Response<ListSpotChecksResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.get_ref();
        let (spot_checks, next_page_token) = self
            .page_of(
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
