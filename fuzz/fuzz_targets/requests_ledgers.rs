//! Every request of the ledgers service, decoded from arbitrary bytes and
//! parsed as its handler does before it reads or writes anything.
#![no_main]

#[path = "common.rs"]
mod common;

use chrono::NaiveDate;
use common::{filter, key, page, period, run};
use fiveledger_ledgers::domain::entry::{self as domain, text};
use fiveledger_ledgers::domain::interview::parse_interview;
use fiveledger_ledgers::grpc::parsing::*;
use fiveledger_platform::aip::{etag, names};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::{ApiError, ApiResult, outbox};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::*;
use libfuzzer_sys::fuzz_target;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).expect("a day")
}

/// What `step` checks of every step request before its transaction.
fn step(name: &str, etag_sent: &str, effective_date: Option<&Date>) -> ApiResult<()> {
    let id = domain::parse_name("name", name)?;
    backdate(effective_date, today())?;
    etag::check(&domain::name_of(id), etag_sent, 1)
}

fn version(v: i32) -> ApiResult<()> {
    if v <= 0 {
        return Err(ApiError::required("version"));
    }
    Ok(())
}

fn inspection(field: &str, name: &str) -> ApiResult<()> {
    names::parse_nested(field, name, "rounds", "inspections").map(|_| ())
}

/// One of inspection, round or organisation path (Reconcile, Publish,
/// VerifyJournal, GetStatistics narrow by these).
fn scope(inspection_name: &str, round: &str, path: &str) -> ApiResult<()> {
    if !inspection_name.is_empty() {
        inspection("inspection", inspection_name)?;
    }
    if !round.is_empty() {
        names::parse("round", round, "rounds")?;
    }
    optional_path("organisation_path", path).map(|_| ())
}

fuzz_target!(|data: &[u8]| {
    let Some((&method, bytes)) = data.split_first() else {
        return;
    };
    match method % 27 {
        0 => run(bytes, |r: &GetEntryRequest| {
            domain::parse_name("name", &r.name).map(|_| ())
        }),
        1 => run(bytes, |r: &ListEntriesRequest| {
            page(
                r.page_size,
                &r.page_token,
                &[&r.filter, &r.order_by],
                Some((&r.order_by, &["name", "due_date"])),
            )?;
            list_filter(&r.filter).map(|_| ())
        }),
        2 => run(bytes, |r: &AcknowledgeHandOverRequest| {
            key("AcknowledgeHandOver", &r.request_id, r)?;
            text("remarks", &r.remarks, false)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        3 => run(bytes, |r: &SubmitPlanRequest| {
            key("SubmitPlan", &r.request_id, r)?;
            domain::parse_plan(r.plan.as_ref())?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        4 => run(bytes, |r: &ApprovePlanRequest| {
            key("ApprovePlan", &r.request_id, r)?;
            version(r.version)?;
            text("remarks", &r.remarks, false)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        5 => run(bytes, |r: &RejectPlanRequest| {
            key("RejectPlan", &r.request_id, r)?;
            version(r.version)?;
            text("reason", &r.reason, true)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        6 => run(bytes, |r: &PostProgressRequest| {
            key("PostProgress", &r.request_id, r)?;
            text("description", &r.description, true)?;
            if !r.measure_id.is_empty() {
                names::validate_id("measure_id", &r.measure_id)?;
            }
            domain::parse_evidence("evidence", &r.evidence)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        7 => run(bytes, |r: &PostSupervisionRequest| {
            key("PostSupervision", &r.request_id, r)?;
            text("remarks", &r.remarks, true)?;
            domain::parse_evidence("evidence", &r.evidence)?;
            step(&r.name, "", r.effective_date.as_ref())
        }),
        8 => run(bytes, |r: &TransferRequest| {
            key("Transfer", &r.request_id, r)?;
            names::parse("receiving_body", &r.receiving_body, "organisations")?;
            text("matter", &r.matter, true)?;
            domain::parse_required_date("due_date", r.due_date.as_ref())?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        9 => run(bytes, |r: &AcknowledgeTransferRequest| {
            key("AcknowledgeTransfer", &r.request_id, r)?;
            text("remarks", &r.remarks, false)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        10 => run(bytes, |r: &ReturnTransferResultRequest| {
            key("ReturnTransferResult", &r.request_id, r)?;
            text("result", &r.result, true)?;
            domain::parse_evidence("evidence", &r.evidence)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        11 => run(bytes, |r: &RequestWriteOffRequest| {
            key("RequestWriteOff", &r.request_id, r)?;
            text("closure_statement", &r.closure_statement, true)?;
            domain::parse_evidence("evidence", &r.evidence)?;
            domain::parse_figures(r.figures.as_ref())?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        12 => run(bytes, |r: &ApproveWriteOffRequest| {
            key("ApproveWriteOff", &r.request_id, r)?;
            text("remarks", &r.remarks, false)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        13 => run(bytes, |r: &RejectWriteOffRequest| {
            key("RejectWriteOff", &r.request_id, r)?;
            text("reason", &r.reason, true)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        14 => run(bytes, |r: &ReopenRequest| {
            key("Reopen", &r.request_id, r)?;
            inspection("inspection", &r.inspection)?;
            text("reason", &r.reason, true)?;
            domain::parse_required_date("due_date", r.due_date.as_ref())?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        15 => run(bytes, |r: &ReconcileRequest| {
            scope(&r.inspection, &r.round, &r.organisation_path)
        }),
        16 => run(bytes, |r: &VerifyJournalRequest| {
            if !r.entry.is_empty() {
                domain::parse_name("entry", &r.entry)?;
            }
            scope(&r.inspection, &r.round, &r.organisation_path)
        }),
        17 => run(bytes, |r: &RunWarningSweepRequest| {
            optional_path("organisation_path", &r.organisation_path).map(|_| ())
        }),
        18 => run(bytes, |r: &WatchWarningsRequest| {
            optional_path("organisation_path", &r.organisation_path)?;
            outbox::parse_cursor(&r.after_cursor).map(|_| ())
        }),
        19 => run(bytes, |r: &GetStatisticsRequest| {
            StatisticsGrouping::try_from(r.group_by).map_err(|_| {
                ApiError::invalid("group_by", CommonReason::UnknownEnumValue, "grouping")
            })?;
            scope(&r.inspection, &r.round, &r.organisation_path)?;
            period(r.period_start.as_ref(), r.period_end.as_ref())
        }),
        20 => run(bytes, |r: &PublishRequest| {
            key("Publish", &r.request_id, r)?;
            scope(&r.inspection, &r.round, &r.organisation_path)
        }),
        21 => run(bytes, |r: &GetPublicationRequest| {
            names::parse("name", &r.name, "publications")?;
            PublicationEdition::try_from(r.edition)
                .map(|_| ())
                .map_err(|_| {
                    ApiError::invalid("edition", CommonReason::UnknownEnumValue, "edition")
                })
        }),
        22 => run(bytes, |r: &ListPublicationsRequest| {
            page(r.page_size, &r.page_token, &[&r.filter], None)?;
            filter(&r.filter)
        }),
        23 => run(bytes, |r: &ReplyToNoticeRequest| {
            key("ReplyToNotice", &r.request_id, r)?;
            domain::parse_name("name", &r.name)?;
            parse_notice(&r.name, &r.notice)?;
            text("reply", &r.reply, true)?;
            domain::parse_evidence("evidence", &r.evidence)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        24 => run(bytes, |r: &RecordInterviewRequest| {
            key("RecordInterview", &r.request_id, r)?;
            parse_interview(r.interview.as_ref(), today())?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        25 => run(bytes, |r: &RecordInterviewFollowUpRequest| {
            key("RecordInterviewFollowUp", &r.request_id, r)?;
            names::validate_id("interview_id", &r.interview_id)?;
            text("follow_up", &r.follow_up, true)?;
            domain::parse_evidence("evidence", &r.evidence)?;
            step(&r.name, &r.etag, r.effective_date.as_ref())
        }),
        _ => run(bytes, |r: &WatchEventsRequest| {
            outbox::parse_cursor(&r.after_cursor).map(|_| ())
        }),
    }
});
