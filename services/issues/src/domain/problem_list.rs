//! An inspection's problem list and when its problems may change.

use fiveledger_platform::ApiError;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::error::Violation;
use fiveledger_proto::issues::{ErrorReason, ProblemListState};
use fiveledger_proto::rounds::InspectionPhase;

/// `rounds/{round}/inspections/{inspection}/problemList`.
pub fn name_of(inspection: &str) -> String {
    format!("{inspection}/problemList")
}

/// The inspection named by a problem list name.
pub fn inspection_of(name: &str) -> Result<&str, ApiError> {
    let inspection = name.strip_suffix("/problemList").ok_or_else(|| {
        ApiError::invalid(
            "name",
            CommonReason::InvalidName,
            "name must look like rounds/{id}/inspections/{id}/problemList",
        )
    })?;
    super::problem::parse_inspection("name", inspection)?;
    Ok(inspection)
}

/// What a change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Adding, deleting, or editing any field but the responsibilities.
    Content,
    /// Completing or correcting the responsibilities only.
    Responsibilities,
}

/// Decides whether a change is allowed, from the list's state here and the
/// inspection's phase in the rounds service. While stationed everything may
/// change; once reported (the list not yet frozen) only responsibilities;
/// once frozen nothing.
pub fn check_editable(
    inspection: &str,
    state: ProblemListState,
    phase: InspectionPhase,
    change: Change,
) -> Result<(), ApiError> {
    let refuse = |reason: ErrorReason, description: String, kind: &str, state: &str| {
        ApiError::precondition_with(
            reason,
            description,
            vec![Violation {
                kind: kind.into(),
                subject: inspection.to_owned(),
                description: state.to_owned(),
            }],
        )
    };
    match state {
        ProblemListState::Frozen => Err(refuse(
            ErrorReason::ProblemListFrozen,
            format!(
                "the problem list of {inspection} is frozen; its problems can no longer change"
            ),
            "PROBLEM_LIST_STATE",
            ProblemListState::Frozen.as_str_name(),
        )),
        ProblemListState::Reported if change == Change::Content => Err(refuse(
            ErrorReason::ProblemListReported,
            format!(
                "{inspection} was reported: only the responsibilities of its problems can still be completed"
            ),
            "PROBLEM_LIST_STATE",
            ProblemListState::Reported.as_str_name(),
        )),
        ProblemListState::Reported => Ok(()),
        _ => match phase {
            InspectionPhase::Stationed => Ok(()),
            InspectionPhase::Reported if change == Change::Responsibilities => Ok(()),
            other => Err(refuse(
                ErrorReason::InspectionNotStationed,
                format!(
                    "{inspection} is in phase {}; problems are registered only while the group is stationed",
                    other.as_str_name()
                ),
                "INSPECTION_PHASE",
                other.as_str_name(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_rules() {
        let i = "rounds/r/inspections/i";
        use InspectionPhase as P;
        use ProblemListState as S;
        assert!(check_editable(i, S::Open, P::Stationed, Change::Content).is_ok());
        assert_eq!(
            check_editable(i, S::Open, P::Preparation, Change::Content)
                .expect_err("preparation")
                .reason(),
            "INSPECTION_NOT_STATIONED"
        );
        assert!(check_editable(i, S::Open, P::Reported, Change::Responsibilities).is_ok());
        assert!(check_editable(i, S::Reported, P::Reported, Change::Responsibilities).is_ok());
        assert_eq!(
            check_editable(i, S::Reported, P::Reported, Change::Content)
                .expect_err("reported")
                .reason(),
            "PROBLEM_LIST_REPORTED"
        );
        assert_eq!(
            check_editable(i, S::Frozen, P::Stationed, Change::Responsibilities)
                .expect_err("frozen")
                .reason(),
            "PROBLEM_LIST_FROZEN"
        );
        assert_eq!(
            inspection_of("rounds/r/inspections/i/problemList").ok(),
            Some(i)
        );
    }
}
