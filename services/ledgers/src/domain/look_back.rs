//! The look-back campaign's rules (整改"回头看"), no I/O: why an entry is a
//! key-problem candidate, and which report states a step may act on.

use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::self_check_report::State;
use fiveledger_proto::ledgers::{
    EntryState, ErrorReason, KeyProblemReason, LedgerEntry, SelfCheckReport,
};
use fiveledger_proto::types::WarningColour;

use super::entry::date_of;

/// Why the books make an entry (painted for `today`, `YYYY-MM-DD`) a
/// key-problem candidate (none: not one).
pub fn reasons_of(entry: &LedgerEntry, today: &str) -> Vec<i32> {
    let mut reasons = Vec::new();
    let due = date_of(entry.due_date.as_ref()).map(|d| d.format("%Y-%m-%d").to_string());
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
pub fn report_in(report: &SelfCheckReport, step: &str, allowed: &[State]) -> ApiResult<()> {
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
