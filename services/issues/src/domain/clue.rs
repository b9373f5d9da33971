//! Clues (问题线索) about individual cadres and the order of their disposal:
//! registered → disposed (one of four ways) → outcome; a disposed clue is
//! disposed of again only after it is reopened. Alongside, each clue is
//! transferred (移交) to a receiving body — registration is the first
//! transfer — which signs for it and returns the result by a due date.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::validate_text;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::error::Violation;
use fiveledger_platform::time::from_date;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::{Clue, ClueOutcomeKind, ClueState, DisposalMethod};

pub const COLLECTION: &str = "clues";
pub const MAX_SUBJECT_NAME: usize = 64;
pub const MAX_SUBJECT_POST: usize = 128;
pub const MAX_SUMMARY: usize = 4_000;
pub const MAX_SOURCE: usize = 256;
pub const MAX_NOTE: usize = 2_000;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// A validated new clue (the receiving body still unresolved).
#[derive(Debug, Clone)]
pub struct NewClue {
    pub inspection: String,
    pub subject_name: String,
    pub subject_post: String,
    pub summary: String,
    pub source: String,
    pub receiving_body: Option<String>,
    /// The level managing the cadre, when above the running level.
    pub subject_managed_by: Option<String>,
}

impl NewClue {
    pub fn parse(clue: Option<&Clue>) -> Result<Self, ApiError> {
        let clue = clue.ok_or_else(|| ApiError::required("clue"))?;
        super::problem::parse_inspection("clue.inspection", &clue.inspection)?;
        validate_text(
            "clue.subject_name",
            &clue.subject_name,
            true,
            MAX_SUBJECT_NAME,
        )?;
        validate_text(
            "clue.subject_post",
            &clue.subject_post,
            true,
            MAX_SUBJECT_POST,
        )?;
        validate_text("clue.summary", &clue.summary, true, MAX_SUMMARY)?;
        validate_text("clue.source", &clue.source, false, MAX_SOURCE)?;
        let receiving_body = if clue.receiving_body.is_empty() {
            None
        } else {
            fiveledger_platform::aip::names::parse(
                "clue.receiving_body",
                &clue.receiving_body,
                "organisations",
            )?;
            Some(clue.receiving_body.clone())
        };
        let subject_managed_by = if clue.subject_managed_by.is_empty() {
            None
        } else {
            fiveledger_platform::aip::names::parse(
                "clue.subject_managed_by",
                &clue.subject_managed_by,
                "organisations",
            )?;
            Some(clue.subject_managed_by.clone())
        };
        Ok(Self {
            inspection: clue.inspection.clone(),
            subject_name: clue.subject_name.trim().to_owned(),
            subject_post: clue.subject_post.trim().to_owned(),
            summary: clue.summary.trim().to_owned(),
            source: clue.source.trim().to_owned(),
            receiving_body,
            subject_managed_by,
        })
    }
}

pub fn parse_method(field: &str, value: i32) -> Result<DisposalMethod, ApiError> {
    match DisposalMethod::try_from(value) {
        Ok(DisposalMethod::Unspecified) => Err(ApiError::required(field)),
        Ok(m) => Ok(m),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known disposal method"),
        )),
    }
}

pub fn parse_outcome_kind(field: &str, value: i32) -> Result<ClueOutcomeKind, ApiError> {
    match ClueOutcomeKind::try_from(value) {
        Ok(ClueOutcomeKind::Unspecified) => Err(ApiError::required(field)),
        Ok(k) => Ok(k),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known outcome"),
        )),
    }
}

/// A dated decision: `date` required, `note` optional.
pub fn parse_decision(
    prefix: &str,
    date: Option<&fiveledger_proto::google::r#type::Date>,
    note: &str,
) -> Result<(chrono::NaiveDate, String), ApiError> {
    let date = date.ok_or_else(|| ApiError::required(format!("{prefix}.date")))?;
    let date = from_date(&format!("{prefix}.date"), date)?;
    validate_text(&format!("{prefix}.note"), note, false, MAX_NOTE)?;
    Ok((date, note.trim().to_owned()))
}

fn out_of_order(
    clue: &str,
    reason: ErrorReason,
    state: ClueState,
    description: String,
) -> ApiError {
    ApiError::precondition_with(
        reason,
        description,
        vec![Violation {
            kind: "CLUE_STATE".into(),
            subject: clue.to_owned(),
            description: state.as_str_name().to_owned(),
        }],
    )
}

/// A disposal needs a registered (or reopened) clue.
pub fn check_dispose(clue: &str, state: ClueState) -> Result<(), ApiError> {
    match state {
        ClueState::Registered => Ok(()),
        other => Err(out_of_order(
            clue,
            ErrorReason::ClueAlreadyDisposed,
            other,
            format!(
                "{clue} is in state {}: it was already disposed of; reopen it first",
                other.as_str_name()
            ),
        )),
    }
}

/// An outcome needs a disposed clue without an outcome.
pub fn check_outcome(clue: &str, state: ClueState) -> Result<(), ApiError> {
    match state {
        ClueState::Disposed => Ok(()),
        ClueState::Concluded => Err(out_of_order(
            clue,
            ErrorReason::ClueOutcomeRecorded,
            state,
            format!("{clue} already has its outcome; reopen it first"),
        )),
        other => Err(out_of_order(
            clue,
            ErrorReason::ClueNotDisposed,
            other,
            format!(
                "{clue} is in state {}: record its disposal before its outcome",
                other.as_str_name()
            ),
        )),
    }
}

pub use fiveledger_platform::clue_scope::is_receiving_body;

/// A clue is transferred on until its outcome is recorded.
pub fn check_transfer(clue: &str, state: ClueState) -> Result<(), ApiError> {
    match state {
        ClueState::Concluded => Err(out_of_order(
            clue,
            ErrorReason::ClueConcluded,
            state,
            format!("{clue} has its outcome; reopen it before transferring it again"),
        )),
        _ => Ok(()),
    }
}

/// The due date of a transfer made on `day`.
pub fn due_date(day: chrono::NaiveDate, days: u32) -> Result<chrono::NaiveDate, ApiError> {
    day.checked_add_days(chrono::Days::new(u64::from(days)))
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("due date of {day} + {days} days overflows"))
        })
}

/// Reopening needs a disposal to undo.
pub fn check_reopen(clue: &str, state: ClueState) -> Result<(), ApiError> {
    match state {
        ClueState::Disposed | ClueState::Concluded => Ok(()),
        other => Err(out_of_order(
            clue,
            ErrorReason::ClueNotDisposed,
            other,
            format!(
                "{clue} is in state {}: there is no disposal to reopen",
                other.as_str_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::auth::{Caller, Role};

    #[test]
    fn disposal_order() {
        let c = "clues/c1";
        assert!(check_dispose(c, ClueState::Registered).is_ok());
        assert_eq!(
            check_dispose(c, ClueState::Disposed)
                .expect_err("twice")
                .reason(),
            "CLUE_ALREADY_DISPOSED"
        );
        assert_eq!(
            check_outcome(c, ClueState::Registered)
                .expect_err("early")
                .reason(),
            "CLUE_NOT_DISPOSED"
        );
        assert!(check_outcome(c, ClueState::Disposed).is_ok());
        assert!(check_reopen(c, ClueState::Concluded).is_ok());
        assert!(check_reopen(c, ClueState::Registered).is_err());
        assert!(check_transfer(c, ClueState::Disposed).is_ok());
        assert_eq!(
            check_transfer(c, ClueState::Concluded)
                .expect_err("concluded")
                .reason(),
            "CLUE_CONCLUDED"
        );
    }

    #[test]
    fn only_the_receiving_body_signs() {
        let caller = |org: &str, role| Caller::new("u", org, &[role]);
        let jw = "gx/nn/nn-jw";
        assert!(is_receiving_body(
            &caller(jw, Role::DisciplineCommission),
            jw
        ));
        assert!(is_receiving_body(
            &caller("gx/nn/nn-jw/room-1", Role::DisciplineCommission),
            jw
        ));
        assert!(!is_receiving_body(
            &caller("gx/nn", Role::InspectionOffice),
            jw
        ));
        assert!(!is_receiving_body(
            &caller("gx/nn/xn", Role::DisciplineCommission),
            jw
        ));
        assert!(is_receiving_body(&caller("", Role::Admin), jw));
        assert!(!is_receiving_body(
            &caller("", Role::DisciplineCommission),
            ""
        ));
    }
}
