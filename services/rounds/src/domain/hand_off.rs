//! Hand-offs at feedback (移交, L985–999): when feedback is given, the
//! inspection's materials go to the bodies that follow them up — to the
//! discipline commission the report, the feedback opinions, the special
//! and thematic reports, clues on cadres the running level manages, the
//! items fixed on the spot and the petition list; clues on cadres the
//! inspected organisation manages are copied to it for record; to the
//! organisation department the report, the feedback, the individual-talk
//! reports and the leading-cadre summary; ideology problems to the
//! propaganda department; other important problems to functional
//! departments. Each receiving body acknowledges what it got; until it
//! does, the hand-off colours like every other time limit.

use chrono::NaiveDate;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_platform::colour::Colour;
use fiveledger_platform::deadline::WarningSettings;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{FunctionalHandOff, HandOffItem, HandOffKind, OrganisationKind};

use super::inspection::{MAX_SUMMARY, missing};
use super::organisation::COLLECTION as ORGANISATIONS;
use fiveledger_proto::rounds::ErrorReason;

pub const COLLECTION: &str = "handOffs";
/// Most functional departments one feedback hands to.
pub const MAX_FUNCTIONAL: usize = 20;

pub fn name_of(round_id: &str, inspection_id: &str, id: &str) -> String {
    format!(
        "{}/{COLLECTION}/{id}",
        super::inspection::name_of(round_id, inspection_id)
    )
}

/// Parses `rounds/{round}/inspections/{inspection}/handOffs/{hand_off}`.
pub fn parse_name<'a>(field: &str, name: &'a str) -> ApiResult<(&'a str, &'a str, &'a str)> {
    let bad = || {
        ApiError::invalid(
            field,
            CommonReason::InvalidName,
            format!(
                "{field} must be rounds/{{round}}/inspections/{{inspection}}/{COLLECTION}/{{hand_off}}"
            ),
        )
    };
    let (inspection, id) = name
        .rsplit_once(&format!("/{COLLECTION}/"))
        .ok_or_else(bad)?;
    let (round_id, inspection_id) = names::parse_nested(
        field,
        inspection,
        super::round::COLLECTION,
        super::inspection::COLLECTION,
    )?;
    names::validate_id(field, id).map_err(|_| bad())?;
    Ok((round_id, inspection_id, id))
}

/// The routing of one hand-off kind: the body of the running level it goes
/// to (None: a functional department named at feedback), its id, what it
/// carries.
pub struct Routing {
    pub kind: HandOffKind,
    pub body: Option<OrganisationKind>,
    pub id: &'static str,
    pub items: &'static [HandOffItem],
}

use HandOffItem as I;

/// The routings every feedback makes, to the bodies of the running level.
pub const STANDARD: [Routing; 4] = [
    Routing {
        kind: HandOffKind::DisciplineCommission,
        body: Some(OrganisationKind::DisciplineCommission),
        id: "discipline-commission",
        items: &[
            I::Report,
            I::FeedbackOpinions,
            I::SpecialReports,
            I::CluesLevelManagedCadres,
            I::FixedOnTheSpot,
            I::PetitionList,
        ],
    },
    Routing {
        kind: HandOffKind::DisciplineCommissionRecord,
        body: Some(OrganisationKind::DisciplineCommission),
        id: "discipline-commission-record",
        items: &[I::CluesUnitManagedCadres],
    },
    Routing {
        kind: HandOffKind::OrganisationDepartment,
        body: Some(OrganisationKind::OrganisationDepartment),
        id: "organisation-department",
        items: &[
            I::Report,
            I::FeedbackOpinions,
            I::IndividualTalkReports,
            I::LeadingCadreSummary,
        ],
    },
    Routing {
        kind: HandOffKind::PropagandaDepartment,
        body: Some(OrganisationKind::PropagandaDepartment),
        id: "propaganda-department",
        items: &[I::IdeologyProblems],
    },
];

/// The id of the ideology category (意识形态) in the issues service's
/// catalogue: its problems go to the propaganda department.
pub const IDEOLOGY_CATEGORY: &str = "ideology";

impl Routing {
    /// Whether this routing hands anything off at a feedback whose problem
    /// list holds ideology problems (`ideology`) or not: the propaganda
    /// department gets a hand-off only when there are any.
    pub fn hands_off(&self, ideology: bool) -> bool {
        ideology || self.kind != HandOffKind::PropagandaDepartment
    }
}

/// What a functional department gets.
pub const FUNCTIONAL: Routing = Routing {
    kind: HandOffKind::FunctionalDepartment,
    body: None,
    id: "functional",
    items: &[I::OtherImportantProblems, I::SpecialReports],
};

/// The id of the hand-off to the functional department `org_id`.
pub fn functional_id(org_id: &str) -> String {
    format!("{}-{org_id}", FUNCTIONAL.id)
}

/// The refusal when the running level lacks a body a hand-off goes to.
pub fn body_missing(inspection: &str, level: &str, kind: OrganisationKind) -> ApiError {
    missing(
        ErrorReason::ReceivingBodyMissing,
        inspection,
        &format!(
            "{level} has no {} in the directory to hand off to",
            kind.as_str_name()
        ),
    )
}

/// Validates the functional departments named at feedback: at most 20,
/// each once, with a summary. Returns (organisation id, summary).
pub fn parse_functional(list: &[FunctionalHandOff]) -> ApiResult<Vec<(String, String)>> {
    let field = "functional_hand_offs";
    if list.len() > MAX_FUNCTIONAL {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooMany,
            format!("at most {MAX_FUNCTIONAL} functional departments"),
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let id = names::parse(
            &format!("{at}.organisation"),
            &f.organisation,
            ORGANISATIONS,
        )?;
        validate_text(&format!("{at}.summary"), &f.summary, true, MAX_SUMMARY)?;
        if out.iter().any(|(seen, _)| seen == id) {
            return Err(ApiError::invalid(
                format!("{at}.organisation"),
                ErrorReason::DuplicateFunctionalHandOff,
                format!("{} is named twice", f.organisation),
            ));
        }
        out.push((id.to_owned(), f.summary.trim().to_owned()));
    }
    Ok(out)
}

/// Refuses a functional hand-off to an organisation that is not a
/// functional department.
pub fn check_functional(field: &str, name: &str, kind: OrganisationKind) -> ApiResult<()> {
    if kind == OrganisationKind::FunctionalDepartment {
        return Ok(());
    }
    Err(ApiError::invalid(
        field,
        ErrorReason::NotAFunctionalDepartment,
        format!(
            "{name} is {}, not ORGANISATION_KIND_FUNCTIONAL_DEPARTMENT",
            kind.as_str_name()
        ),
    ))
}

/// The day a hand-off must be acknowledged by.
pub fn acknowledgement_due(handed: NaiveDate, days: u32) -> NaiveDate {
    handed + chrono::Days::new(u64::from(days))
}

/// The colour of a hand-off: by the calendar until acknowledged.
pub fn colour(
    today: NaiveDate,
    warnings: &WarningSettings,
    due: NaiveDate,
    acknowledged: bool,
) -> Colour {
    if acknowledged {
        Colour::Unspecified
    } else {
        warnings.rule().calendar(due, today)
    }
}

/// Who acts for a receiving body.
pub const RECEIVER_ROLES: &[Role] = &[Role::DisciplineCommission, Role::Supervisor];
/// Who follows every hand-off of the rounds in their scope.
pub const OVERSEER_ROLES: &[Role] = &[Role::InspectionOffice, Role::Viewer];

/// Whether the caller acts for the receiving body at `receiver_path`: its
/// organisation is that body or a unit under it (an operator too), as a
/// discipline commission or supervisor. The body's superiors and the
/// level it serves follow the hand-off but do not sign for it.
pub fn receives(caller: &Caller, receiver_path: &str) -> bool {
    caller.has_any(RECEIVER_ROLES)
        && (caller.roles.contains(&Role::Admin)
            || (!receiver_path.is_empty() && in_subtree(&caller.org_path, receiver_path)))
}

/// The receiving bodies a caller at `org_path` may act for: its
/// organisation and each one above it (as paths).
pub fn bodies_acted_for(org_path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = String::new();
    for part in org_path.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        out.push(path.clone());
    }
    out
}

/// Whether the caller may see a hand-off: its receiving body, or an office
/// or viewer whose scope holds the organisation running the round.
pub fn seen_by(caller: &Caller, receiver_path: &str, round_organisation_path: &str) -> bool {
    receives(caller, receiver_path)
        || (caller.has_any(OVERSEER_ROLES) && caller.can_see(round_organisation_path))
}

/// The refusal of an acknowledgement by someone who only follows it.
pub fn not_the_receiver(name: &str, receiver: &str) -> ApiError {
    ApiError::denied(
        ErrorReason::NotTheReceivingBody,
        format!("only {receiver}, which {name} was handed to, acknowledges it"),
    )
}

/// Refuses a second acknowledgement.
pub fn expect_unacknowledged(name: &str, acknowledged: bool) -> ApiResult<()> {
    if acknowledged {
        return Err(missing(
            ErrorReason::HandOffAlreadyAcknowledged,
            name,
            "the hand-off is already acknowledged",
        ));
    }
    Ok(())
}

/// Refuses a result before the acknowledgement, or a second one.
pub fn expect_result_open(name: &str, acknowledged: bool, recorded: bool) -> ApiResult<()> {
    if !acknowledged {
        return Err(missing(
            ErrorReason::HandOffNotAcknowledged,
            name,
            "the hand-off is not acknowledged yet: acknowledge it first",
        ));
    }
    if recorded {
        return Err(missing(
            ErrorReason::HandOffResultAlreadyRecorded,
            name,
            "the hand-off's result is already recorded",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = name_of("r9", "edu", "propaganda-department");
        assert_eq!(
            name,
            "rounds/r9/inspections/edu/handOffs/propaganda-department"
        );
        assert_eq!(
            parse_name("name", &name).expect("parses"),
            ("r9", "edu", "propaganda-department")
        );
        assert!(parse_name("name", "rounds/r9/inspections/edu").is_err());
    }

    #[test]
    fn each_routing_carries_what_the_source_lists() {
        let commission = &STANDARD[0];
        assert!(commission.items.contains(&I::PetitionList));
        assert!(commission.items.contains(&I::FixedOnTheSpot));
        assert_eq!(STANDARD[1].items, &[I::CluesUnitManagedCadres]);
        assert!(STANDARD[2].items.contains(&I::LeadingCadreSummary));
        assert_eq!(STANDARD[3].items, &[I::IdeologyProblems]);
        let without: Vec<_> = STANDARD.iter().filter(|r| r.hands_off(false)).collect();
        assert_eq!(without.len(), 3);
        assert!(STANDARD.iter().all(|r| r.hands_off(true)));
    }

    #[test]
    fn a_body_acts_for_itself_and_through_units_under_it() {
        assert_eq!(
            bodies_acted_for("gx/nn/nn-jw"),
            ["gx", "gx/nn", "gx/nn/nn-jw"]
        );
        assert!(bodies_acted_for("").is_empty());
        let jw = Caller::new("u", "gx/nn/nn-jw/room", &[Role::DisciplineCommission]);
        assert!(receives(&jw, "gx/nn/nn-jw"));
        assert!(!receives(&jw, "gx/nn/nn-zzb"));
        let level = Caller::new("u", "gx/nn", &[Role::Supervisor]);
        assert!(
            !receives(&level, "gx/nn/nn-jw"),
            "the level follows, not signs"
        );
    }

    #[test]
    fn functional_hand_offs_are_bounded_and_named_once() {
        let f = |org: &str| FunctionalHandOff {
            organisation: format!("organisations/{org}"),
            summary: "教育领域问题".into(),
        };
        assert_eq!(parse_functional(&[f("a"), f("b")]).expect("two").len(), 2);
        let err = parse_functional(&[f("a"), f("a")]).expect_err("twice");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "functional_hand_offs[1].organisation")
        );
        let many: Vec<_> = (0..=MAX_FUNCTIONAL).map(|i| f(&format!("d{i}"))).collect();
        assert!(parse_functional(&many).is_err());
    }
}
