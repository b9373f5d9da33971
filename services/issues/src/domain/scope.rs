//! Who may record, read and name what: the issues service's scope rules,
//! pure, over organisation paths. The list queries say the same in SQL
//! (`storage::problems::list_select`, `storage::clues::visible`).
//!
//! - An inspection's problems and clues are recorded by the inspection
//!   office of the level running its round (or one above it) and by the
//!   members of its own group.
//! - Until feedback hands the list over, its problems belong to them alone
//!   (and to the suite's services); from feedback on, whoever's subtree holds
//!   the target or a responsible organisation reads them too.
//! - A clue is seen by the offices and discipline commissions of the level
//!   running its round and the levels above, and by the body holding it.
//! - What a problem or clue may name stays inside the running level's
//!   subtree; a clue goes up only to the commission of the level named as
//!   managing the cadre. Anything else answers as an unknown organisation.

use fiveledger_platform::ApiError;
use fiveledger_platform::auth::{Caller, Role, in_subtree, parent_path, within_reach};
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::rounds::Inspection;

/// Roles that work an inspection's problems and clues before feedback.
const WORKERS: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup];
/// Roles that read handed-over problems by their target's place in the
/// tree (others read those of the organisations they are or hold).
pub const BY_TARGET: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup, Role::Viewer];
/// Roles that may hold clues at a level.
pub use fiveledger_platform::clue_scope::CLUE_HOLDERS;

/// Whether the caller is a member of the inspection's group (the rounds
/// service tells the suite's services who is).
pub fn is_member(caller: &Caller, inspection: &Inspection) -> bool {
    caller.has_role(Role::InspectionGroup)
        && inspection.group_member_subjects.contains(&caller.subject)
}

/// Whether the caller works at the level running the round (or above it)
/// in a role that works inspections.
pub fn works_round(caller: &Caller, round_organisation_path: &str) -> bool {
    caller.has_any(WORKERS)
        && !round_organisation_path.is_empty()
        && caller.can_see(round_organisation_path)
}

/// Whether the caller may see the inspection at all (else NOT_FOUND).
pub fn sees_inspection(caller: &Caller, inspection: &Inspection) -> bool {
    caller.can_see(&inspection.target_path)
        || (!inspection.round_organisation_path.is_empty()
            && caller.can_see(&inspection.round_organisation_path))
        || is_member(caller, inspection)
}

/// May the caller record problems and clues on the inspection? The office
/// of the running level (or above) and the members of its group may;
/// anyone else who sees it is told which rule refuses.
pub fn may_record(caller: &Caller, inspection: &Inspection) -> Result<(), ApiError> {
    let office = caller.has_role(Role::InspectionOffice)
        && caller.can_see(&inspection.round_organisation_path);
    if office || is_member(caller, inspection) {
        return Ok(());
    }
    if caller.has_role(Role::InspectionOffice) {
        return Err(ApiError::denied(
            CommonReason::RoundOutOfScope,
            format!(
                "{} belongs to a round run by {}: only that level's inspection office (or one above it) records its problems",
                inspection.name, inspection.round_organisation_path
            ),
        ));
    }
    Err(ApiError::denied(
        ErrorReason::NotGroupMember,
        format!(
            "only the members of the group assigned to {} record its problems",
            inspection.name
        ),
    ))
}

/// What a read of a problem needs to know of its list.
#[derive(Debug, Clone, Copy)]
pub struct ListFacts<'a> {
    pub round_organisation_path: &'a str,
    /// Feedback was given: the list is handed over.
    pub handed_over: bool,
}

/// Whether the caller may read a problem whose target comes first in
/// `paths`, followed by its responsible organisations, on a list with
/// `list`'s facts; `member`: the caller is known to be a member of the
/// inspection's group.
pub fn sees_problem(caller: &Caller, paths: &[&str], list: ListFacts<'_>, member: bool) -> bool {
    if caller.has_role(Role::Service) || member || works_round(caller, list.round_organisation_path)
    {
        return true;
    }
    let by_target =
        caller.has_any(BY_TARGET) && paths.first().is_some_and(|target| caller.can_see(target));
    list.handed_over && (by_target || paths.iter().any(|p| !p.is_empty() && caller.is_or_holds(p)))
}

/// Whether the caller holds the clue: it acts for the receiving body of the
/// current transfer (that body itself, or a unit under it).
pub use super::clue::is_receiving_body as holds_clue;

/// Whether the caller may see a clue (the rule the ledger streams clue
/// warnings by too).
pub use fiveledger_platform::clue_scope::sees_clue;

/// Where a reference of a problem or clue may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// Within the target's subtree (the responsible unit).
    Target(&'a str),
    /// A body of the running level, or within the target's subtree
    /// ([`within_reach`]); for a clue also exactly the discipline commission
    /// of the level managing the cadre (a clue going up), when one is named.
    Bodies {
        running: &'a str,
        target: &'a str,
        managing_level: &'a str,
    },
}

impl Reach<'_> {
    /// Whether an organisation at `path` (of `commission`: whether it is a
    /// discipline commission) is within reach. Outside reach it must answer
    /// exactly as an organisation nobody knows.
    pub fn allows(self, path: &str, commission: bool) -> bool {
        match self {
            Reach::Target(root) => !root.is_empty() && in_subtree(path, root),
            Reach::Bodies {
                running,
                target,
                managing_level,
            } => {
                within_reach(path, running, target)
                    || (commission
                        && !managing_level.is_empty()
                        && parent_path(path) == managing_level)
            }
        }
    }
}

/// The answer for an organisation a request may not name: exactly the one
/// for a name the directory does not know.
pub fn unknown_organisation(field: &str, name: &str) -> ApiError {
    ApiError::invalid(
        field,
        ErrorReason::UnknownOrganisation,
        format!("{name} is not in the organisation directory"),
    )
}

/// A managing level named for a clue must lie above the running level.
pub fn check_managing_level(
    field: &str,
    managing_level_path: &str,
    running: &str,
) -> Result<(), ApiError> {
    if managing_level_path != running && in_subtree(running, managing_level_path) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            ErrorReason::NotAboveTheRunningLevel,
            format!(
                "{field} names a level above the one running the round ({running}); a cadre managed at the running level or below needs none"
            ),
        ))
    }
}

/// Whether the caller may read a recurrence (倒查): an inspection office
/// whose subtree holds the organisation running the later round or the
/// earlier one (the suite's services read all).
pub fn sees_recurrence(caller: &Caller, later_round_path: &str, earlier_round_path: &str) -> bool {
    caller.has_role(Role::Service)
        || (caller.has_role(Role::InspectionOffice)
            && [later_round_path, earlier_round_path]
                .iter()
                .any(|p| !p.is_empty() && caller.can_see(p)))
}

/// May the caller record the accountability decision on a recurrence? The
/// office over the earlier round, which sent the group, may; another
/// office that sees it is told which rule refuses.
pub fn may_decide_recurrence(
    caller: &Caller,
    name: &str,
    earlier_round_path: &str,
) -> Result<(), ApiError> {
    if caller.has_role(Role::InspectionOffice)
        && !earlier_round_path.is_empty()
        && caller.can_see(earlier_round_path)
    {
        return Ok(());
    }
    Err(ApiError::denied(
        CommonReason::RoundOutOfScope,
        format!(
            "{name} back-tracks a group sent by {earlier_round_path}: only that level's inspection office (or one above it) decides on it"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: &str, scope: &str, roles: &[Role]) -> Caller {
        Caller {
            scope_path: scope.into(),
            ..Caller::new("u", org, roles)
        }
    }

    fn inspection(round_org: &str, target: &str, members: &[&str]) -> Inspection {
        Inspection {
            name: "rounds/r/inspections/i".into(),
            round_organisation_path: round_org.into(),
            target_path: target.into(),
            group_member_subjects: members.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_running_office_and_the_own_group_record() {
        let city_round = inspection("gx/nn", "gx/nn/xn", &["u"]);
        let city_office = caller("gx/nn/nn-office", "gx/nn", &[Role::InspectionOffice]);
        assert!(may_record(&city_office, &city_round).is_ok());
        // A county office sees its county's target but does not run the round.
        let county_office = caller("gx/nn/xn", "gx/nn/xn", &[Role::InspectionOffice]);
        assert_eq!(
            may_record(&county_office, &city_round)
                .unwrap_err()
                .reason(),
            "ROUND_OUT_OF_SCOPE"
        );
        let member = caller("gx/nn/xn", "gx/nn/xn", &[Role::InspectionGroup]);
        assert!(may_record(&member, &city_round).is_ok());
        let stranger = Caller {
            subject: "other".into(),
            ..member.clone()
        };
        assert_eq!(
            may_record(&stranger, &city_round).unwrap_err().reason(),
            "NOT_GROUP_MEMBER"
        );
    }

    #[test]
    fn a_list_belongs_to_its_workers_until_feedback() {
        let draft = ListFacts {
            round_organisation_path: "gx/nn",
            handed_over: false,
        };
        let handed = ListFacts {
            handed_over: true,
            ..draft
        };
        let paths = ["gx/nn/xn", "gx/nn/xn", "gx/nn/nn-jw", ""];
        let unit = caller("gx/nn/xn", "gx/nn/xn", &[Role::InspectedUnit]);
        assert!(!sees_problem(&unit, &paths, draft, false));
        assert!(sees_problem(&unit, &paths, handed, false));
        let county_office = caller("gx/nn/xn", "gx/nn/xn", &[Role::InspectionOffice]);
        assert!(!sees_problem(&county_office, &paths, draft, false));
        let city_group = caller("gx/nn/nn-office", "gx/nn", &[Role::InspectionGroup]);
        assert!(sees_problem(&city_group, &paths, draft, false));
        let viewer = caller("gx/nn", "gx/nn", &[Role::Viewer]);
        assert!(!sees_problem(&viewer, &paths, draft, false));
        assert!(sees_problem(&viewer, &paths, handed, false));
        let other_county = caller("gx/nn/qx", "gx/nn/qx", &[Role::InspectedUnit]);
        assert!(!sees_problem(&other_county, &paths, handed, false));
    }

    #[test]
    fn clues_are_seen_by_their_holder_and_the_running_levels_never_below() {
        let jw = "gx/nn/nn-jw";
        let city_commission = caller(jw, "gx/nn", &[Role::DisciplineCommission]);
        assert!(sees_clue(&city_commission, jw, "gx/nn"));
        assert!(holds_clue(&city_commission, jw));
        // A county office never sees a city round's clue about its cadres.
        let county_office = caller("gx/nn/xn/xn-office", "gx/nn/xn", &[Role::InspectionOffice]);
        assert!(!sees_clue(&county_office, jw, "gx/nn"));
        // The region sees below; the county's commission once it holds it.
        let region = caller("gx/gx-jw", "gx", &[Role::DisciplineCommission]);
        assert!(sees_clue(&region, jw, "gx/nn"));
        assert!(!holds_clue(&region, jw));
        let county_jw = caller("gx/nn/xn/xn-jw", "gx/nn/xn", &[Role::DisciplineCommission]);
        assert!(!sees_clue(&county_jw, jw, "gx/nn"));
        assert!(sees_clue(&county_jw, "gx/nn/xn/xn-jw", "gx/nn"));
        // A unit is no clue holder even inside the running level.
        let unit = caller("gx/nn", "gx/nn", &[Role::InspectedUnit]);
        assert!(!sees_clue(&unit, jw, "gx/nn"));
    }

    #[test]
    fn references_stay_inside_their_reach() {
        let target = Reach::Target("gx/nn/xn");
        assert!(target.allows("gx/nn/xn/t1", false));
        assert!(!target.allows("gx/nn/qx", false));
        let city_round = Reach::Bodies {
            running: "gx/nn",
            target: "gx/nn/xn",
            managing_level: "",
        };
        assert!(
            city_round.allows("gx/nn/nn-jw", true),
            "the running level's body"
        );
        assert!(
            city_round.allows("gx/nn/xn/xn-jw", true),
            "the target's own body"
        );
        assert!(
            !city_round.allows("gx/nn/qx/qx-jw", true),
            "never a sibling's"
        );
        let county_round = Reach::Bodies {
            running: "gx/nn/xn",
            target: "gx/nn/xn/t1",
            managing_level: "",
        };
        assert!(
            !county_round.allows("gx/nn/nn-jw", true),
            "never up by accident"
        );
        let up = Reach::Bodies {
            running: "gx/nn/xn",
            target: "gx/nn/xn/t1",
            managing_level: "gx/nn",
        };
        assert!(
            up.allows("gx/nn/nn-jw", true),
            "up to the managing level's commission"
        );
        assert!(!up.allows("gx/nn/nn-zzb", false), "only its commission");
        assert!(!up.allows("gx/gx-jw", true), "not past it");
        assert!(up.allows("gx/nn/xn/xn-jw", true));
        assert!(check_managing_level("clue.subject_managed_by", "gx/nn", "gx/nn/xn").is_ok());
        assert!(check_managing_level("f", "gx/nn/xn", "gx/nn/xn").is_err());
        assert!(check_managing_level("f", "gx/nn/xn/t1", "gx/nn/xn").is_err());
    }
}
