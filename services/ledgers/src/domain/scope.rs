//! Who sees an entry and in which capacity a caller acts on it.
//!
//! An inspected unit sees entries whose responsible unit lies in its
//! subtree; a supervising body those it supervises or received by transfer;
//! an office (and viewers, groups, services) those whose target lies in its
//! subtree. A caller with several roles sees the union.

use fiveledger_platform::auth::{Caller, Role, in_subtree};

/// The organisation paths of an entry that scope decisions look at.
#[derive(Debug, Clone, Copy)]
pub struct EntryPaths<'a> {
    pub target_path: &'a str,
    pub responsible_unit_path: &'a str,
    pub supervising_body_path: &'a str,
    /// The receiving body of the latest transfer, or empty.
    pub receiving_body_path: &'a str,
}

/// The capacity in which a caller takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// The responsible unit (被巡察单位).
    Unit,
    /// The inspection office over the target.
    Office,
    /// The supervising body (监督责任).
    Supervisor,
    /// The receiving body of the open transfer.
    Receiver,
}

impl Capacity {
    pub fn describe(self) -> &'static str {
        match self {
            Capacity::Unit => "the responsible unit",
            Capacity::Office => "the inspection office over the target",
            Capacity::Supervisor => "the supervising body",
            Capacity::Receiver => "the receiving body",
        }
    }
}

/// Roles that see entries by their target's place in the tree.
pub const BY_TARGET: &[Role] = &[
    Role::InspectionOffice,
    Role::InspectionGroup,
    Role::Viewer,
    Role::Service,
];
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
            caller.has_role(Role::InspectionOffice) && in_subtree(paths.target_path, org)
        }
        Capacity::Supervisor => {
            is_supervising(caller) && in_subtree(paths.supervising_body_path, org)
        }
        Capacity::Receiver => {
            is_supervising(caller)
                && !paths.receiving_body_path.is_empty()
                && in_subtree(paths.receiving_body_path, org)
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

/// True when the caller may see the entry at all (by its paths; a receiver
/// of an earlier transfer is checked with [`received`]).
pub fn can_see(caller: &Caller, paths: &EntryPaths<'_>) -> bool {
    (caller.has_any(BY_TARGET) && in_subtree(paths.target_path, &caller.org_path))
        || acts_as(caller, paths, Capacity::Unit)
        || acts_as(caller, paths, Capacity::Supervisor)
        || acts_as(caller, paths, Capacity::Receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: &str, roles: &[Role]) -> Caller {
        Caller {
            subject: "u".into(),
            org_path: org.into(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn each_role_sees_its_own_entries() {
        let paths = EntryPaths {
            target_path: "gx/nn/xn",
            responsible_unit_path: "gx/nn/xn",
            supervising_body_path: "gx/nn/nn-jw",
            receiving_body_path: "",
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
}
