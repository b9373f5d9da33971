//! Rounds (轮次): what a valid round is, and its states.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::from_date;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::{Round, RoundKind, RoundState};

use super::{organisation, parse_enum};

pub const COLLECTION: &str = "rounds";
pub const MAX_DISPLAY_NAME: usize = 200;
pub const MAX_THEME: usize = 200;
/// Most earlier rounds one look-back may re-check.
pub const MAX_LOOK_BACK_ROUNDS: usize = 50;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// A validated request to create a round.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub id: Option<String>,
    pub display_name: String,
    pub term: i32,
    pub number: i32,
    pub kind: RoundKind,
    pub theme: String,
    pub look_back_round_ids: Vec<String>,
    pub organisation_id: String,
    pub cross_county: bool,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

fn required_date(field: &str, d: Option<&Date>) -> Result<NaiveDate, ApiError> {
    from_date(field, d.ok_or_else(|| ApiError::required(field))?)
}

/// Refuses a planned end before the planned start.
pub fn check_period(start: NaiveDate, end: NaiveDate) -> Result<(), ApiError> {
    if end < start {
        return Err(ApiError::invalid(
            "round.planned_end_date",
            ErrorReason::EndBeforeStart,
            "the planned end cannot be before the planned start",
        ));
    }
    Ok(())
}

/// Checks the theme against the kind: only special rounds have one, and
/// they must.
pub fn check_theme(kind: RoundKind, theme: &str) -> Result<(), ApiError> {
    validate_text("round.theme", theme, kind == RoundKind::Special, MAX_THEME)?;
    if kind != RoundKind::Special && !theme.trim().is_empty() {
        return Err(ApiError::invalid(
            "round.theme",
            ErrorReason::ThemeOnlyForSpecial,
            "only a special round (ROUND_KIND_SPECIAL) has a theme",
        ));
    }
    Ok(())
}

impl NewRound {
    pub fn parse(round: Option<&Round>, round_id: &str) -> Result<Self, ApiError> {
        let round = round.ok_or_else(|| ApiError::required("round"))?;
        let id = if round_id.is_empty() {
            None
        } else {
            names::validate_id("round_id", round_id)?;
            Some(round_id.to_owned())
        };
        validate_text(
            "round.display_name",
            &round.display_name,
            true,
            MAX_DISPLAY_NAME,
        )?;
        for (field, value) in [("round.term", round.term), ("round.number", round.number)] {
            if !(1..=1000).contains(&value) {
                return Err(ApiError::invalid(
                    field,
                    CommonReason::OutOfRange,
                    format!("{field} must be 1-1000"),
                ));
            }
        }
        let kind: RoundKind = parse_enum("round.kind", round.kind)?;
        check_theme(kind, &round.theme)?;
        let mut look_back_round_ids = Vec::new();
        if kind == RoundKind::LookBack {
            if round.look_back_rounds.is_empty() {
                return Err(ApiError::required("round.look_back_rounds"));
            }
            if round.look_back_rounds.len() > MAX_LOOK_BACK_ROUNDS {
                return Err(ApiError::invalid(
                    "round.look_back_rounds",
                    CommonReason::TooMany,
                    format!("at most {MAX_LOOK_BACK_ROUNDS} rounds"),
                ));
            }
            for (i, name) in round.look_back_rounds.iter().enumerate() {
                let rid = names::parse(&format!("round.look_back_rounds[{i}]"), name, COLLECTION)?;
                if Some(rid) == id.as_deref() {
                    return Err(ApiError::invalid(
                        format!("round.look_back_rounds[{i}]"),
                        ErrorReason::LookBackAtItself,
                        "a look-back round re-checks earlier rounds, not itself",
                    ));
                }
                if !look_back_round_ids.iter().any(|r| r == rid) {
                    look_back_round_ids.push(rid.to_owned());
                }
            }
        } else if !round.look_back_rounds.is_empty() {
            return Err(ApiError::invalid(
                "round.look_back_rounds",
                ErrorReason::LookBackRoundsOnlyForLookBack,
                "only a look-back round (ROUND_KIND_LOOK_BACK) names earlier rounds",
            ));
        }
        let organisation_id = names::parse(
            "round.organisation",
            &round.organisation,
            organisation::COLLECTION,
        )?
        .to_owned();
        let start = required_date(
            "round.planned_start_date",
            round.planned_start_date.as_ref(),
        )?;
        let end = required_date("round.planned_end_date", round.planned_end_date.as_ref())?;
        check_period(start, end)?;
        Ok(Self {
            id,
            display_name: round.display_name.trim().to_owned(),
            term: round.term,
            number: round.number,
            kind,
            theme: round.theme.trim().to_owned(),
            look_back_round_ids,
            organisation_id,
            cross_county: round.cross_county,
            start,
            end,
        })
    }
}

/// The state a verb moves a round to, or FAILED_PRECONDITION naming the
/// state it is in.
pub fn transition(name: &str, current: RoundState, to: RoundState) -> Result<(), ApiError> {
    let ok = matches!(
        (current, to),
        (RoundState::Planned, RoundState::InProgress)
            | (RoundState::InProgress, RoundState::Closed)
    );
    if ok {
        Ok(())
    } else {
        Err(ApiError::precondition_with(
            ErrorReason::WrongRoundState,
            format!("{name} is in {}", current.as_str_name()),
            vec![fiveledger_platform::error::Violation {
                kind: "ROUND_STATE".into(),
                subject: name.to_owned(),
                description: format!(
                    "{name} is in {}; {} cannot follow it",
                    current.as_str_name(),
                    to.as_str_name()
                ),
            }],
        ))
    }
}

/// Whether 地域回避 applies to a round of this kind.
pub fn regional_avoidance(kind: RoundKind, cross_county: bool) -> bool {
    kind == RoundKind::Linked || cross_county
}
