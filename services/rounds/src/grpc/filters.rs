//! The filters of the rounds service's Lists, declared once: each field,
//! its operators, and how its value narrows the storage query. A term that
//! names an organisation (`ancestor`, `organisation`) is kept as a name and
//! resolved by the handler, in the caller's scope, after parsing. The same
//! tables render the "unknown field" answer, and a test holds them to the
//! fields each request's `filter` comment documents.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::filter::{EQ, Field, Op, Schema};
use fiveledger_platform::aip::names;
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::rounds::{InspectionPhase, OrganisationKind, RoundKind, RoundState};

use crate::domain::inspection::{self, GROUPS};
use crate::domain::organisation::COLLECTION as ORGANISATIONS;
use crate::storage::{inspections, inspectors, organisations, rounds};

fn invalid(description: String) -> ApiError {
    ApiError::invalid("filter", CommonReason::InvalidFilter, description)
}

fn unknown(what: &str, value: &str) -> ApiError {
    invalid(format!("unknown {what} {value}"))
}

/// A List's query and the organisation name a term asks the handler to
/// resolve (visible to the caller, else NOT_FOUND naming the filter).
#[derive(Default)]
pub(super) struct Narrowed<Q> {
    pub query: Q,
    pub organisation: Option<String>,
}

impl<Q> Narrowed<Q> {
    pub fn new(query: Q) -> Self {
        Self {
            query,
            organisation: None,
        }
    }
}

fn organisation_name<Q>(n: &mut Narrowed<Q>, value: String) -> Result<(), ApiError> {
    n.organisation = Some(value);
    Ok(())
}

/// `= exact` or `: contains`.
const TEXT: &[Op] = &[Op::Eq, Op::Has];

/// `ListOrganisations`: `fiveledger.rounds.v1.ListOrganisationsRequest.filter`.
pub(super) const ORGANISATIONS_LIST: Schema<Narrowed<organisations::ListQuery>> = Schema(&[
    Field {
        name: "parent",
        ops: EQ,
        apply: |n, _, v| {
            n.query.parent_id = Some(names::parse("filter", &v, ORGANISATIONS)?.to_owned());
            Ok(())
        },
    },
    Field {
        name: "kind",
        ops: EQ,
        apply: |n, _, v| {
            n.query.kind =
                Some(OrganisationKind::from_str_name(&v).ok_or_else(|| unknown("kind", &v))?);
            Ok(())
        },
    },
    Field {
        name: "ancestor",
        ops: EQ,
        apply: |n, _, v| organisation_name(n, v),
    },
    Field {
        name: "display_name",
        ops: TEXT,
        apply: |n, op, v| {
            if op == Op::Has {
                n.query.display_name_contains = Some(v);
            } else {
                n.query.display_name_eq = Some(v);
            }
            Ok(())
        },
    },
]);

/// `ListInspectors`: `fiveledger.rounds.v1.ListInspectorsRequest.filter`.
pub(super) const INSPECTORS: Schema<Narrowed<inspectors::ListQuery>> = Schema(&[
    Field {
        name: "organisation",
        ops: EQ,
        apply: |n, _, v| organisation_name(n, v),
    },
    Field {
        name: "subject",
        ops: EQ,
        apply: |n, _, v| {
            n.query.subject = Some(v);
            Ok(())
        },
    },
    Field {
        name: "display_name",
        ops: TEXT,
        apply: |n, op, v| {
            if op == Op::Has {
                n.query.display_name_contains = Some(v);
            } else {
                n.query.display_name_eq = Some(v);
            }
            Ok(())
        },
    },
]);

/// `ListRounds`: `fiveledger.rounds.v1.ListRoundsRequest.filter`.
pub(super) const ROUNDS: Schema<Narrowed<rounds::ListQuery>> = Schema(&[
    Field {
        name: "kind",
        ops: EQ,
        apply: |n, _, v| {
            n.query.kind = Some(RoundKind::from_str_name(&v).ok_or_else(|| unknown("kind", &v))?);
            Ok(())
        },
    },
    Field {
        name: "state",
        ops: EQ,
        apply: |n, _, v| {
            n.query.state =
                Some(RoundState::from_str_name(&v).ok_or_else(|| unknown("state", &v))?);
            Ok(())
        },
    },
    Field {
        name: "year",
        ops: EQ,
        apply: |n, _, v| {
            n.query.year = Some(
                v.parse()
                    .map_err(|_| invalid("year must be a number".into()))?,
            );
            Ok(())
        },
    },
    Field {
        name: "organisation",
        ops: EQ,
        apply: |n, _, v| organisation_name(n, v),
    },
]);

/// `ListInspections`: `fiveledger.rounds.v1.ListInspectionsRequest.filter`.
/// The query's `round_id` is the parent's (None for `rounds/-`) when the
/// filter is applied: a `group` must be of that round.
pub(super) const INSPECTIONS: Schema<Narrowed<inspections::ListQuery>> = Schema(&[
    Field {
        name: "group",
        ops: EQ,
        apply: |n, _, v| {
            let (r, g) = names::parse_nested("filter", &v, "rounds", GROUPS)?;
            if n.query.round_id.as_deref().is_some_and(|id| id != r) {
                return Err(invalid("the group is not of the parent round".into()));
            }
            n.query.round_id = Some(r.to_owned());
            n.query.group_id = Some(g.to_owned());
            Ok(())
        },
    },
    Field {
        name: "phase",
        ops: EQ,
        apply: |n, _, v| {
            n.query.phase =
                Some(InspectionPhase::from_str_name(&v).ok_or_else(|| unknown("phase", &v))?);
            Ok(())
        },
    },
    Field {
        name: "target",
        ops: EQ,
        apply: |n, _, v| {
            n.query.target_id = Some(names::parse("filter", &v, ORGANISATIONS)?.to_owned());
            Ok(())
        },
    },
    Field {
        name: "ancestor",
        ops: EQ,
        apply: |n, _, v| organisation_name(n, v),
    },
    Field {
        name: "look_back_of",
        ops: EQ,
        apply: |n, _, v| {
            names::parse_nested("filter", &v, "rounds", inspection::COLLECTION)?;
            n.query.look_back_of = Some(v);
            Ok(())
        },
    },
]);

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::aip::filter::{documented_fields, field_comment};

    #[test]
    fn each_list_accepts_exactly_the_fields_its_request_documents() {
        for (request, names) in [
            (
                "fiveledger.rounds.v1.ListOrganisationsRequest",
                ORGANISATIONS_LIST.names(),
            ),
            (
                "fiveledger.rounds.v1.ListInspectorsRequest",
                INSPECTORS.names(),
            ),
            ("fiveledger.rounds.v1.ListRoundsRequest", ROUNDS.names()),
            (
                "fiveledger.rounds.v1.ListInspectionsRequest",
                INSPECTIONS.names(),
            ),
        ] {
            let comment = field_comment(request, "filter").expect("documented");
            assert_eq!(documented_fields(&comment), names, "{request}");
        }
    }
}
