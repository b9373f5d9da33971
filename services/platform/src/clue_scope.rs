//! Who sees a clue (问题线索): the one rule the issues service keeps its
//! clues by and the ledger streams their colour changes by. A clue is seen
//! by the inspection offices and discipline commissions of the level
//! running its round and the levels above, and by the body holding it (the
//! receiving body of its current transfer); by nobody else.
//!
//! Besides the commission, the organisation department (组织部) holds and
//! disposes of the clues that are its own — organisational and personnel
//! discipline (违反组织人事纪律方面问题线索) — those handed to it as their
//! receiving body. It is a supervising body (`Role::Supervisor`) acting
//! for its own organisation; it sees no other clue, not even those of its
//! level's rounds.

use crate::auth::{Caller, Role, in_subtree};

/// Roles that may hold clues at a level.
pub const CLUE_HOLDERS: &[Role] = &[Role::InspectionOffice, Role::DisciplineCommission];

/// True when `caller` acts for the receiving body at `receiving_body_path`:
/// its organisation is that body or a unit under it (an operator too). The
/// body's superiors see the clue but do not sign for it.
pub fn is_receiving_body(caller: &Caller, receiving_body_path: &str) -> bool {
    caller.roles.contains(&Role::Admin)
        || (!receiving_body_path.is_empty() && in_subtree(&caller.org_path, receiving_body_path))
}

/// Whether the caller may hold any clue at all: a clue holder of a level,
/// a supervising body (the organisation department, for the clues handed
/// to it) or a suite service.
pub fn may_hold_clues(caller: &Caller) -> bool {
    caller.has_any(CLUE_HOLDERS) || caller.has_any(&[Role::Supervisor, Role::Service])
}

/// Whether the caller may see a clue held by `receiving_body_path` of a
/// round run by `round_organisation_path`.
pub fn sees_clue(
    caller: &Caller,
    receiving_body_path: &str,
    round_organisation_path: &str,
) -> bool {
    if caller.has_role(Role::Service) {
        return true;
    }
    let holds = is_receiving_body(caller, receiving_body_path);
    (caller.has_any(CLUE_HOLDERS) && (holds || caller.can_see(round_organisation_path)))
        || (caller.has_role(Role::Supervisor) && holds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_organisation_department_sees_only_the_clues_it_holds() {
        let zzb = Caller {
            scope_path: "gx/nn".into(),
            ..Caller::new("u", "gx/nn/nn-zzb", &[Role::Supervisor])
        };
        assert!(sees_clue(&zzb, "gx/nn/nn-zzb", "gx/nn"));
        assert!(!sees_clue(&zzb, "gx/nn/nn-jw", "gx/nn"));
        let unit = Caller::new("u", "gx/nn/xn", &[Role::InspectedUnit]);
        assert!(!sees_clue(&unit, "gx/nn/xn", "gx/nn"));
        assert!(!may_hold_clues(&unit));
        assert!(may_hold_clues(&zzb));
    }
}
