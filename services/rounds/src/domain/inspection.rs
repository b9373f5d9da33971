//! Inspections (被巡察对象) and their phase machine.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::error::Violation;
use fiveledger_proto::rounds::{InspectionPhase, OrganisationKind};

pub const COLLECTION: &str = "inspections";
pub const GROUPS: &str = "groups";
pub const MAX_SUMMARY: usize = 4000;
pub const MAX_PERSON: usize = 200;

/// Who briefs a group before it goes on site (巡前: 纪委监委、组织部通报
/// 情况): a briefing comes from one of these, and stationing needs one of
/// each.
pub const BRIEFING_BODIES: &[OrganisationKind] = &[
    OrganisationKind::DisciplineCommission,
    OrganisationKind::OrganisationDepartment,
];

pub fn name_of(round_id: &str, id: &str) -> String {
    format!("rounds/{round_id}/{COLLECTION}/{id}")
}

pub fn group_name_of(round_id: &str, id: &str) -> String {
    format!("rounds/{round_id}/{GROUPS}/{id}")
}

/// Refuses a step unless the inspection is in one of `allowed` phases;
/// the refusal names the phase it is in.
pub fn expect_phase(
    name: &str,
    current: InspectionPhase,
    allowed: &[InspectionPhase],
    step: &str,
) -> Result<(), ApiError> {
    if allowed.contains(&current) {
        return Ok(());
    }
    let needed: Vec<&str> = allowed.iter().map(|p| p.as_str_name()).collect();
    Err(ApiError::precondition_with(
        "WRONG_PHASE",
        format!(
            "{name} is in {}; {step} needs {}",
            current.as_str_name(),
            needed.join(" or ")
        ),
        vec![Violation {
            kind: "PHASE".into(),
            subject: name.to_owned(),
            description: format!("current phase: {}", current.as_str_name()),
        }],
    ))
}

/// A missing prerequisite of a step (e.g. no briefing yet).
pub fn missing(reason: &'static str, name: &str, what: &str) -> ApiError {
    ApiError::precondition_with(
        reason,
        format!("{name}: {what}"),
        vec![Violation {
            kind: reason.into(),
            subject: name.to_owned(),
            description: what.to_owned(),
        }],
    )
}

/// The day the double report is due: `days` after the feedback date.
pub fn double_report_due(feedback: NaiveDate, days: u32) -> NaiveDate {
    feedback + chrono::Days::new(u64::from(days))
}

/// Overdue: past the due date with a part still missing, or a part
/// received after the due date.
pub fn double_report_overdue(
    today: NaiveDate,
    due: Option<NaiveDate>,
    team: Option<NaiveDate>,
    principal: Option<NaiveDate>,
) -> bool {
    let Some(due) = due else { return false };
    [team, principal].iter().any(|part| match part {
        None => today > due,
        Some(received) => *received > due,
    })
}

/// A date that must not come before another (e.g. a report before the
/// group was on site).
pub fn not_before(
    field: &str,
    date: NaiveDate,
    earliest: Option<NaiveDate>,
    what: &str,
) -> Result<(), ApiError> {
    match earliest {
        Some(earliest) if date < earliest => Err(ApiError::invalid(
            field,
            "DATE_TOO_EARLY",
            format!("{field} cannot be before {what} ({earliest})"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn due_and_overdue() {
        let due = double_report_due(d(2026, 3, 1), 60);
        assert_eq!(due, d(2026, 4, 30));
        assert!(!double_report_overdue(
            d(2026, 4, 30),
            Some(due),
            None,
            None
        ));
        assert!(double_report_overdue(
            d(2026, 5, 1),
            Some(due),
            Some(d(2026, 4, 1)),
            None
        ));
        assert!(!double_report_overdue(
            d(2026, 5, 1),
            Some(due),
            Some(d(2026, 4, 1)),
            Some(d(2026, 4, 2))
        ));
        assert!(double_report_overdue(
            d(2026, 4, 1),
            Some(due),
            Some(d(2026, 5, 3)),
            Some(d(2026, 4, 2))
        ));
    }

    #[test]
    fn wrong_phase_names_the_current_one() {
        let err = expect_phase(
            "rounds/r/inspections/i",
            InspectionPhase::Preparation,
            &[InspectionPhase::Reported],
            "GiveFeedback",
        )
        .expect_err("wrong");
        assert_eq!(err.reason(), "WRONG_PHASE");
        assert!(err.to_string().contains("INSPECTION_PHASE_PREPARATION"));
    }
}
