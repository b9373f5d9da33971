//! Who sees an entry and in which capacity a caller acts on it.
//!
//! Until hand-over (反馈交账) an entry belongs to those who work its round:
//! the inspection offices and groups of the level running it (or above).
//! From hand-over on, an inspected unit sees entries whose responsible unit
//! is it or lies under it; a supervising body those it supervises or
//! received by transfer; offices, groups and viewers those whose target lies
//! in their subtree. Responsibility lists (2) and (4) see and supervise too:
//! a leader in charge (分管领导) holds a supervisor token naming the unit in
//! their charge (联系单位), or a level for that level's leadership, and sees
//! the entries that unit (or any unit under the level) is responsible for;
//! the functional department (职能部门) holds a supervisor token naming
//! itself and sees the entries that name it. Acting as the office takes the office of the level
//! running the round (or one above it), not merely one over the target. A
//! caller with several roles sees the union. `storage::books::visible_to`
//! says the same in SQL.

use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_proto::ledgers::{EntryState, ErrorReason, LedgerEntry};
use fiveledger_proto::rounds::Inspection;

/// The organisation paths and state of an entry that scope decisions look at.
#[derive(Debug, Clone, Copy)]
pub struct EntryPaths<'a> {
    pub target_path: &'a str,
    /// The organisation running the entry's round.
    pub round_organisation_path: &'a str,
    /// The entry was handed over at feedback (it is past OPEN).
    pub handed_over: bool,
    pub responsible_unit_path: &'a str,
    pub supervising_body_path: &'a str,
    /// The receiving body of the latest transfer, or empty.
    pub receiving_body_path: &'a str,
    /// Responsibility list (4), the functional department, or empty.
    pub functional_department_path: &'a str,
}

impl<'a> EntryPaths<'a> {
    /// The paths of an entry as the API shows it.
    pub fn of(entry: &'a LedgerEntry) -> Self {
        let resp = entry.responsibility.as_ref();
        Self {
            target_path: &entry.target_path,
            round_organisation_path: &entry.round_organisation_path,
            handed_over: entry.state() != EntryState::Open,
            responsible_unit_path: resp.map_or("", |r| r.responsible_unit_path.as_str()),
            supervising_body_path: resp.map_or("", |r| r.supervising_body_path.as_str()),
            receiving_body_path: entry
                .transfers
                .last()
                .map_or("", |t| t.receiving_body_path.as_str()),
            functional_department_path: resp.map_or("", |r| r.functional_department_path.as_str()),
        }
    }
}

/// The capacity in which a caller takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// The responsible unit (被巡察单位).
    Unit,
    /// The inspection office of the level running the round.
    Office,
    /// The supervising body (监督责任).
    Supervisor,
    /// The receiving body of the open transfer.
    Receiver,
    /// A leader in charge of the responsible unit (分管领导, list 2): a
    /// supervisor token naming the unit or an organisation above it.
    LeaderInCharge,
    /// The functional department of list (4): a supervisor token naming it.
    FunctionalDepartment,
}

impl Capacity {
    pub fn describe(self) -> &'static str {
        match self {
            Capacity::Unit => "the responsible unit",
            Capacity::Office => "the inspection office of the level running the round",
            Capacity::Supervisor => "the supervising body",
            Capacity::Receiver => "the receiving body",
            Capacity::LeaderInCharge => "a leader in charge of the responsible unit",
            Capacity::FunctionalDepartment => "the functional department",
        }
    }
}

/// Roles that see handed-over entries by their target's place in the tree.
pub const BY_TARGET: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup, Role::Viewer];
/// Roles that work a round and see its entries from the start.
pub const WORKERS: &[Role] = &[Role::InspectionOffice, Role::InspectionGroup];
/// Roles that act for a supervising or receiving body.
pub const SUPERVISING: &[Role] = &[Role::Supervisor, Role::DisciplineCommission];

fn is_supervising(caller: &Caller) -> bool {
    caller.has_any(SUPERVISING)
}

pub fn acts_as(caller: &Caller, paths: &EntryPaths<'_>, capacity: Capacity) -> bool {
    let org = &caller.org_path;
    match capacity {
        Capacity::Unit => {
            caller.has_role(Role::InspectedUnit) && in_subtree(paths.responsible_unit_path, org)
        }
        Capacity::Office => {
            caller.has_role(Role::InspectionOffice) && caller.can_see(paths.round_organisation_path)
        }
        Capacity::Supervisor => {
            is_supervising(caller) && in_subtree(paths.supervising_body_path, org)
        }
        Capacity::Receiver => {
            is_supervising(caller)
                && !paths.receiving_body_path.is_empty()
                && in_subtree(paths.receiving_body_path, org)
        }
        Capacity::LeaderInCharge => {
            caller.has_role(Role::Supervisor)
                && !paths.responsible_unit_path.is_empty()
                && in_subtree(paths.responsible_unit_path, org)
        }
        Capacity::FunctionalDepartment => {
            caller.has_role(Role::Supervisor)
                && !paths.functional_department_path.is_empty()
                && in_subtree(paths.functional_department_path, org)
        }
    }
}

/// True when the caller acts for a body that received any of `receivers`
/// (the receiving bodies of all the entry's transfers): a body keeps sight
/// of what it received after a later transfer, though only the latest
/// receiver acts as one.
pub fn received<'a>(caller: &Caller, receivers: impl IntoIterator<Item = &'a str>) -> bool {
    is_supervising(caller)
        && receivers
            .into_iter()
            .any(|p| !p.is_empty() && in_subtree(p, &caller.org_path))
}

/// Whether the caller may see an inspection the rounds service gave this
/// service (the rounds service's rule: its target or the organisation
/// running its round lies in the caller's subtree).
pub fn sees_inspection(caller: &Caller, inspection: &Inspection) -> bool {
    caller.can_see(&inspection.target_path)
        || (!inspection.round_organisation_path.is_empty()
            && caller.can_see(&inspection.round_organisation_path))
}

/// True when the caller may see the entry at all (by its paths; a receiver
/// of an earlier transfer is checked with [`received`]).
pub fn can_see(caller: &Caller, paths: &EntryPaths<'_>) -> bool {
    if caller.has_role(Role::Service)
        || (caller.has_any(WORKERS) && caller.can_see(paths.round_organisation_path))
    {
        return true;
    }
    paths.handed_over
        && ((caller.has_any(BY_TARGET) && caller.can_see(paths.target_path))
            || acts_as(caller, paths, Capacity::Unit)
            || acts_as(caller, paths, Capacity::Supervisor)
            || acts_as(caller, paths, Capacity::Receiver)
            || acts_as(caller, paths, Capacity::LeaderInCharge)
            || acts_as(caller, paths, Capacity::FunctionalDepartment))
}

/// Whether the caller reads the assessments of the organisation at `path`
/// (巡察工作考核评价): an inspection office whose subtree holds it.
pub fn sees_assessment(caller: &Caller, path: &str) -> bool {
    caller.has_role(Role::InspectionOffice) && caller.can_see(path)
}

/// May the caller assess the organisation at `path`? An office of a level
/// above it may; its own level's office is told why not; anyone else does
/// not see it.
pub fn may_assess(caller: &Caller, path: &str) -> fiveledger_platform::ApiResult<()> {
    if !sees_assessment(caller, path) {
        return Err(fiveledger_platform::ApiError::not_found(path));
    }
    if path == caller.scope_path {
        return Err(fiveledger_platform::ApiError::denied(
            ErrorReason::AssessmentOfOwnLevel,
            format!(
                "{path} is the caller's own level: its inspection work is assessed by a level above it"
            ),
        ));
    }
    Ok(())
}

/// Roles that read the look-back records (回头看) of rounds run at their
/// level or below.
pub const LOOK_BACK_READERS: &[Role] = &[
    Role::InspectionOffice,
    Role::Supervisor,
    Role::DisciplineCommission,
];

/// The paths a look-back record is judged by, as an entry's: the
/// organisation running its round, and the inspected organisation (or the
/// entry's responsible unit) as the one acting as the unit.
pub fn look_back_paths<'a>(round_organisation_path: &'a str, unit_path: &'a str) -> EntryPaths<'a> {
    EntryPaths {
        target_path: unit_path,
        round_organisation_path,
        handed_over: true,
        responsible_unit_path: unit_path,
        supervising_body_path: "",
        receiving_body_path: "",
        functional_department_path: "",
    }
}

/// Whether the caller sees a look-back record (a self-check report, key
/// problem, supervision suggestion or spot check): offices and supervising
/// bodies working at the level of the round or above, and the inspected
/// organisation for its own.
pub fn sees_look_back(caller: &Caller, paths: &EntryPaths<'_>) -> bool {
    caller.has_role(Role::Service)
        || (caller.has_any(LOOK_BACK_READERS) && caller.can_see(paths.round_organisation_path))
        || acts_as(caller, paths, Capacity::Unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: &str, roles: &[Role]) -> Caller {
        Caller::new("u", org, roles)
    }

    #[test]
    fn each_role_sees_its_own_entries() {
        let paths = EntryPaths {
            target_path: "gx/nn/xn",
            round_organisation_path: "gx/nn",
            handed_over: true,
            responsible_unit_path: "gx/nn/xn",
            supervising_body_path: "gx/nn/nn-jw",
            receiving_body_path: "",
            functional_department_path: "gx/nn/nn-jyj",
        };
        assert!(can_see(&caller("gx/nn/xn", &[Role::InspectedUnit]), &paths));
        assert!(!can_see(
            &caller("gx/nn/qx", &[Role::InspectedUnit]),
            &paths
        ));
        assert!(can_see(&caller("gx/nn", &[Role::InspectionOffice]), &paths));
        assert!(can_see(&caller("gx/nn/nn-jw", &[Role::Supervisor]), &paths));
        assert!(!can_see(
            &caller("gx/nn/nn-zzb", &[Role::Supervisor]),
            &paths
        ));
        // The leaders in charge of the unit (a supervisor token naming it,
        // or its level) and the functional department see and supervise.
        for org in ["gx/nn/xn", "gx/nn", "gx/nn/nn-jyj"] {
            let who = caller(org, &[Role::Supervisor]);
            assert!(can_see(&who, &paths), "{org}");
        }
        assert!(acts_as(
            &caller("gx/nn/xn", &[Role::Supervisor]),
            &paths,
            Capacity::LeaderInCharge
        ));
        assert!(!acts_as(
            &caller("gx/nn/qx", &[Role::Supervisor]),
            &paths,
            Capacity::LeaderInCharge
        ));
        assert!(acts_as(
            &caller("gx/nn/nn-jyj", &[Role::Supervisor]),
            &paths,
            Capacity::FunctionalDepartment
        ));
        // A commission naming the unit is no leader of it.
        assert!(!can_see(
            &caller("gx/nn/xn", &[Role::DisciplineCommission]),
            &paths
        ));
        let no_department = EntryPaths {
            functional_department_path: "",
            ..paths
        };
        assert!(!acts_as(
            &caller("gx/nn/nn-jyj", &[Role::Supervisor]),
            &no_department,
            Capacity::FunctionalDepartment
        ));
        // A unit in the city cannot act as the city's office.
        assert!(!acts_as(
            &caller("gx/nn/xn", &[Role::InspectedUnit]),
            &paths,
            Capacity::Office
        ));
        let received = EntryPaths {
            receiving_body_path: "gx/nn/nn-zzb",
            ..paths
        };
        assert!(can_see(
            &caller("gx/nn/nn-zzb", &[Role::Supervisor]),
            &received
        ));
        assert!(acts_as(&caller("", &[Role::Admin]), &paths, Capacity::Unit));
        // An earlier receiver still sees the entry; a unit there does not.
        // Before hand-over only those who work the round see it.
        let draft = EntryPaths {
            handed_over: false,
            ..paths
        };
        assert!(!can_see(
            &caller("gx/nn/xn", &[Role::InspectedUnit]),
            &draft
        ));
        assert!(!can_see(
            &caller("gx/nn/nn-jw", &[Role::Supervisor]),
            &draft
        ));
        assert!(!can_see(&caller("gx/nn", &[Role::Viewer]), &draft));
        assert!(can_see(&caller("gx/nn", &[Role::InspectionGroup]), &draft));
        // A county office sees its county's handed-over entries of a city
        // round but does not act as the office on them.
        let county = caller("gx/nn/xn", &[Role::InspectionOffice]);
        assert!(!can_see(&county, &draft));
        assert!(can_see(&county, &paths));
        assert!(!acts_as(&county, &paths, Capacity::Office));
        assert!(acts_as(
            &caller("gx/nn", &[Role::InspectionOffice]),
            &paths,
            Capacity::Office
        ));
        let earlier = ["gx/nn/nn-sjj", "gx/nn/nn-zzb"];
        assert!(super::received(
            &caller("gx/nn/nn-sjj", &[Role::Supervisor]),
            earlier
        ));
        assert!(!super::received(
            &caller("gx/nn/nn-sjj", &[Role::InspectedUnit]),
            earlier
        ));
        assert!(!super::received(
            &caller("gx/nn/nn-tjj", &[Role::Supervisor]),
            earlier
        ));
    }

    #[test]
    fn look_back_records_are_seen_by_the_level_and_the_unit() {
        let paths = look_back_paths("gx/nn", "gx/nn/xn");
        for (org, roles, sees) in [
            ("gx/nn", &[Role::InspectionOffice][..], true),
            ("gx/nn/nn-jw", &[Role::DisciplineCommission][..], true),
            ("gx/nn/xn", &[Role::InspectedUnit][..], true),
            ("gx/nn/qx", &[Role::InspectedUnit][..], false),
            ("gx/lz", &[Role::InspectionOffice][..], false),
            ("gx/nn", &[Role::Viewer][..], false),
        ] {
            let mut who = caller(org, roles);
            if org == "gx/nn/nn-jw" {
                who.scope_path = "gx/nn".into();
            }
            assert_eq!(sees_look_back(&who, &paths), sees, "{org} {roles:?}");
        }
        assert!(acts_as(
            &caller("gx/nn", &[Role::InspectionOffice]),
            &paths,
            Capacity::Office
        ));
        assert!(!acts_as(
            &caller("gx/nn/xn", &[Role::InspectionOffice]),
            &paths,
            Capacity::Office
        ));
    }
}
