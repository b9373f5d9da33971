//! Every request of the issues service, decoded from arbitrary bytes and
//! parsed as its handler does before it reads or writes anything.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{filter, key, page, period, run};
use fiveledger_issues::IssuesSettings;
use fiveledger_issues::domain::category::{self, NewCategory};
use fiveledger_issues::domain::clue::{self, NewClue};
use fiveledger_issues::domain::clue_decision;
use fiveledger_issues::domain::{problem, problem_list};
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::{ApiError, ApiResult, outbox};
use fiveledger_proto::issues::*;
use libfuzzer_sys::fuzz_target;

/// Default `max_import_rows`.
const MAX_IMPORT_ROWS: usize = 5000;

fn clue_name(name: &str) -> ApiResult<()> {
    names::parse("name", name, clue::COLLECTION).map(|_| ())
}

fuzz_target!(|data: &[u8]| {
    let Some((&method, bytes)) = data.split_first() else {
        return;
    };
    match method % 22 {
        // CategoryService
        0 => run(bytes, |r: &GetCategoryRequest| {
            names::parse("name", &r.name, category::COLLECTION).map(|_| ())
        }),
        1 => run(bytes, |r: &ListCategoriesRequest| {
            page(r.page_size, &r.page_token, &["categories"], None)
        }),
        2 => run(bytes, |r: &CreateCategoryRequest| {
            key("CreateCategory", &r.request_id, r)?;
            NewCategory::parse(r.category.as_ref(), &r.category_id).map(|_| ())
        }),
        3 => run(bytes, |r: &UpdateCategoryRequest| {
            key("UpdateCategory", &r.request_id, r)?;
            let patch = r
                .category
                .as_ref()
                .ok_or_else(|| ApiError::required("category"))?;
            let fields = field_mask::paths(
                r.update_mask.as_ref(),
                &["display_name", "supervising_body_kind", "grassroots"],
            )?;
            names::parse("category.name", &patch.name, category::COLLECTION)?;
            if fields.contains("display_name") {
                names::validate_text(
                    "category.display_name",
                    &patch.display_name,
                    true,
                    category::MAX_DISPLAY_NAME,
                )?;
            }
            if fields.contains("supervising_body_kind") {
                category::parse_kind(
                    "category.supervising_body_kind",
                    patch.supervising_body_kind,
                )?;
            }
            etag::check(&patch.name, &patch.etag, 1)
        }),
        // ProblemService
        4 => run(bytes, |r: &GetProblemRequest| {
            names::parse("name", &r.name, problem::COLLECTION).map(|_| ())
        }),
        5 => run(bytes, |r: &ListProblemsRequest| {
            page(
                r.page_size,
                &r.page_token,
                &[&r.filter, &r.order_by],
                Some((&r.order_by, &["name", "create_time"])),
            )?;
            filter(&r.filter)
        }),
        6 => run(bytes, |r: &CreateProblemRequest| {
            key("CreateProblem", &r.request_id, r)?;
            let p = r
                .problem
                .as_ref()
                .ok_or_else(|| ApiError::required("problem"))?;
            problem::parse_inspection("problem.inspection", &p.inspection)?;
            problem::parse_new("problem", p)?;
            if !r.problem_id.is_empty() {
                names::validate_id("problem_id", &r.problem_id)?;
            }
            Ok(())
        }),
        7 => run(bytes, |r: &UpdateProblemRequest| {
            key("UpdateProblem", &r.request_id, r)?;
            let patch = r
                .problem
                .as_ref()
                .ok_or_else(|| ApiError::required("problem"))?;
            field_mask::paths(r.update_mask.as_ref(), problem::UPDATABLE)?;
            names::parse("problem.name", &patch.name, problem::COLLECTION)?;
            etag::check(&patch.name, &patch.etag, 1)?;
            // The problem as it will be is validated as a whole.
            problem::parse_new("problem", patch).map(|_| ())
        }),
        8 => run(bytes, |r: &DeleteProblemRequest| {
            key("DeleteProblem", &r.request_id, r)?;
            names::parse("name", &r.name, problem::COLLECTION)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        9 => run(bytes, |r: &ImportProblemsRequest| {
            // One message of the stream; the handler gathers them first.
            if r.problems.len() > MAX_IMPORT_ROWS {
                return Err(ApiError::invalid(
                    "problems",
                    ErrorReason::TooManyRows,
                    "too many",
                ));
            }
            key("ImportProblems", &r.request_id, r)?;
            problem::parse_inspection("inspection", &r.inspection)?;
            if r.problems.is_empty() {
                return Err(ApiError::required("problems"));
            }
            for p in &r.problems {
                let _ = problem::parse_new("", p);
            }
            Ok(())
        }),
        10 => run(bytes, |r: &GetProblemListRequest| {
            problem_list::inspection_of(&r.name).map(|_| ())
        }),
        11 => run(bytes, |r: &FreezeProblemListRequest| {
            key("FreezeProblemList", &r.request_id, r)?;
            problem::parse_inspection("inspection", &r.inspection)
        }),
        // ClueService
        12 => run(bytes, |r: &CreateClueRequest| {
            key("CreateClue", &r.request_id, r)?;
            NewClue::parse(r.clue.as_ref()).map(|_| ())
        }),
        13 => run(bytes, |r: &GetClueRequest| clue_name(&r.name)),
        14 => run(bytes, |r: &ListCluesRequest| {
            page(r.page_size, &r.page_token, &[&r.filter], None)?;
            filter(&r.filter)
        }),
        15 => run(bytes, |r: &DisposeClueRequest| {
            key("DisposeClue", &r.request_id, r)?;
            let d = r
                .disposal
                .as_ref()
                .ok_or_else(|| ApiError::required("disposal"))?;
            clue::parse_method("disposal.method", d.method)?;
            clue::parse_decision("disposal", d.date.as_ref(), &d.note)?;
            // The default quorum: three signers at the three levels.
            clue_decision::parse_level(&IssuesSettings::default().quorum(), r.level)?;
            clue_name(&r.name)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        16 => run(bytes, |r: &RecordClueOutcomeRequest| {
            key("RecordClueOutcome", &r.request_id, r)?;
            let o = r
                .outcome
                .as_ref()
                .ok_or_else(|| ApiError::required("outcome"))?;
            clue::parse_outcome_kind("outcome.kind", o.kind)?;
            clue::parse_decision("outcome", o.date.as_ref(), &o.note)?;
            clue_name(&r.name)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        17 => run(bytes, |r: &ReopenClueRequest| {
            key("ReopenClue", &r.request_id, r)?;
            names::validate_text("reason", &r.reason, true, clue::MAX_NOTE)?;
            clue_name(&r.name)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        18 => run(bytes, |r: &TransferClueRequest| {
            key("TransferClue", &r.request_id, r)?;
            clue_name(&r.name)?;
            if r.receiving_body.is_empty() {
                return Err(ApiError::required("receiving_body"));
            }
            names::parse("receiving_body", &r.receiving_body, problem::ORGANISATIONS)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        19 => run(bytes, |r: &AcknowledgeClueTransferRequest| {
            key("AcknowledgeClueTransfer", &r.request_id, r)?;
            clue_name(&r.name)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        20 => run(bytes, |r: &GetClueStatisticsRequest| {
            if !r.organisation_path.is_empty() {
                names::parse_path("organisation_path", &r.organisation_path)?;
            }
            if !r.round.is_empty() {
                names::parse("round", &r.round, "rounds")?;
            }
            if !r.inspection.is_empty() {
                problem::parse_inspection("inspection", &r.inspection)?;
            }
            period(r.period_start.as_ref(), r.period_end.as_ref())
        }),
        // EventService
        _ => run(bytes, |r: &WatchEventsRequest| {
            outbox::parse_cursor(&r.after_cursor).map(|_| ())
        }),
    }
});
