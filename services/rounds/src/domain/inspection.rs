//! Inspections (被巡察对象) and their phase machine.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names;
use fiveledger_platform::error::Violation;
use fiveledger_proto::rounds::{
    DoubleReportKind, Inspection, InspectionPhase, OrganisationKind, RoundKind,
};

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

/// Which event a step writes.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Created,
    GroupAssigned,
    BriefingRecorded,
    Stationed,
    MidTermReported,
    Reported,
    FeedbackGiven,
    RectificationStarted,
    DoubleReportRecorded(DoubleReportKind),
    Closed,
}

/// What a step changes.
#[derive(Debug, Clone)]
pub struct Change {
    pub phase: InspectionPhase,
    /// The timeline records after the step.
    pub records: Inspection,
    /// `Some` to (re)assign the group.
    pub group_id: Option<String>,
    /// Set by the feedback step (with the due date it implies).
    pub feedback_date: Option<NaiveDate>,
    pub event: Event,
    pub description: String,
}

/// The organisation ids of the bodies that have briefed (unparsable names
/// are skipped: they were checked when recorded).
pub fn briefing_body_ids(records: &Inspection) -> Vec<String> {
    records
        .briefings
        .iter()
        .filter_map(|b| names::parse("", &b.organisation, super::organisation::COLLECTION).ok())
        .map(str::to_owned)
        .collect()
}

/// Refuses stationing until each body that briefs before it
/// (`BRIEFING_BODIES`) has a briefing recorded, given the kinds of the
/// bodies that have briefed.
pub fn check_briefings(name: &str, briefed: &[OrganisationKind]) -> Result<(), ApiError> {
    for kind in BRIEFING_BODIES {
        if !briefed.contains(kind) {
            return Err(missing(
                "BRIEFING_MISSING",
                name,
                &format!("no briefing by the {} is recorded yet", kind.as_str_name()),
            ));
        }
    }
    Ok(())
}

/// Whether a new inspection in a round of `kind` looks back at an earlier
/// one (`look_back_of`): required in a look-back round, refused elsewhere.
pub fn looks_back(kind: RoundKind, look_back_of: &str) -> Result<bool, ApiError> {
    let field = "inspection.look_back_of";
    if kind != RoundKind::LookBack {
        if look_back_of.is_empty() {
            return Ok(false);
        }
        return Err(ApiError::invalid(
            field,
            "LOOK_BACK_ONLY_IN_LOOK_BACK_ROUND",
            "only an inspection of a look-back round (ROUND_KIND_LOOK_BACK) looks back",
        ));
    }
    if look_back_of.is_empty() {
        return Err(ApiError::required(field));
    }
    Ok(true)
}

/// The inspection a look-back re-checks, as far as the rule needs it.
pub struct LookedBack<'a> {
    pub name: &'a str,
    pub target_id: &'a str,
    pub round_id: &'a str,
    pub phase: InspectionPhase,
}

/// Checks a look-back link of a new inspection of `target_id` in the round
/// `round_id` (which re-checks `rechecked_rounds`): the earlier inspection
/// inspected the same target, in a round this one re-checks, and has had
/// its feedback.
pub fn check_look_back(
    earlier: &LookedBack<'_>,
    target_id: &str,
    round_id: &str,
    rechecked_rounds: &[String],
) -> Result<(), ApiError> {
    let field = "inspection.look_back_of";
    let look_back_of = earlier.name;
    if earlier.target_id != target_id {
        return Err(ApiError::invalid(
            field,
            "LOOK_BACK_TARGET_MISMATCH",
            format!(
                "{look_back_of} inspected {}, not {}",
                super::organisation::name_of(earlier.target_id),
                super::organisation::name_of(target_id)
            ),
        ));
    }
    if !rechecked_rounds.iter().any(|r| r == earlier.round_id) {
        return Err(ApiError::invalid(
            field,
            "LOOK_BACK_ROUND_NOT_RECHECKED",
            format!(
                "{look_back_of} is not in one of the rounds {} re-checks",
                super::round::name_of(round_id)
            ),
        ));
    }
    if !matches!(
        earlier.phase,
        InspectionPhase::FeedbackGiven | InspectionPhase::Rectifying | InspectionPhase::Closed
    ) {
        return Err(missing(
            "LOOK_BACK_BEFORE_FEEDBACK",
            look_back_of,
            &format!(
                "a look-back re-checks rectification; it is in {}",
                earlier.phase.as_str_name()
            ),
        ));
    }
    Ok(())
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
