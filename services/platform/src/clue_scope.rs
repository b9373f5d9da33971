//! Who sees a clue (问题线索): the one rule the issues service keeps its
//! clues by and the ledger streams their colour changes by. A clue is seen
//! by the inspection offices and discipline commissions of the level
//! running its round and the levels above, and by the body holding it (the
//! receiving body of its current transfer); by nobody else.

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
    caller.has_any(CLUE_HOLDERS)
        && (is_receiving_body(caller, receiving_body_path)
            || caller.can_see(round_organisation_path))
}
