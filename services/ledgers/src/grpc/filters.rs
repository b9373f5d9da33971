//! The filters of the ledger's Lists, declared once: each field, its
//! operators, and the condition its value adds. The same tables render the
//! "unknown field" answer, and a test holds them to the fields each
//! request's `filter` comment documents.

use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::filter::{EQ, Field, Op, Schema, enum_value};
use fiveledger_platform::aip::names::parse_path;
use fiveledger_platform::subtree::Subtree;
use fiveledger_proto::ledgers::EntryState;
use fiveledger_proto::types::{Severity, WarningColour};

use super::steps::parse_date_text;
use crate::storage::books::EntryTerm;
use crate::storage::publications::PublicationTerm;
use fiveledger_platform::colour::rule_colour;

fn push<T>(terms: &mut Vec<T>, term: T) -> ApiResult<()> {
    terms.push(term);
    Ok(())
}

/// `ListEntries`: `fiveledger.ledgers.v1.ListEntriesRequest.filter`.
pub const ENTRIES: Schema<Vec<EntryTerm>> = Schema(&[
    Field {
        name: "state",
        ops: EQ,
        apply: |q, _, v| {
            let state = enum_value("state", &v, EntryState::from_str_name)?;
            push(q, EntryTerm::State(state))
        },
    },
    Field {
        name: "colour",
        ops: EQ,
        apply: |q, _, v| {
            let colour = enum_value("colour", &v, WarningColour::from_str_name)?;
            push(q, EntryTerm::Colour(rule_colour(colour)))
        },
    },
    Field {
        name: "responsible_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            push(q, EntryTerm::ResponsibleSubtree(Subtree::new(path)))
        },
    },
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            push(q, EntryTerm::TargetSubtree(Subtree::new(path)))
        },
    },
    Field {
        name: "round",
        ops: EQ,
        apply: |q, _, v| push(q, EntryTerm::Round(v)),
    },
    Field {
        name: "inspection",
        ops: EQ,
        apply: |q, _, v| push(q, EntryTerm::Inspection(v)),
    },
    Field {
        name: "problem",
        ops: EQ,
        apply: |q, _, v| push(q, EntryTerm::Problem(v)),
    },
    Field {
        name: "category",
        ops: EQ,
        apply: |q, _, v| push(q, EntryTerm::Category(v)),
    },
    Field {
        name: "severity",
        ops: EQ,
        apply: |q, _, v| {
            let severity = enum_value("severity", &v, Severity::from_str_name)?;
            push(q, EntryTerm::Severity(severity))
        },
    },
    Field {
        name: "due_date",
        ops: &[Op::Eq, Op::Lt, Op::Le, Op::Gt, Op::Ge],
        apply: |q, op, v| {
            let value = parse_date_text("filter", &v)?;
            push(q, EntryTerm::DueDate(op, value))
        },
    },
]);

/// `ListPublications`: `fiveledger.ledgers.v1.ListPublicationsRequest.filter`.
pub const PUBLICATIONS: Schema<Vec<PublicationTerm>> = Schema(&[
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            push(q, PublicationTerm::TargetSubtree(path))
        },
    },
    Field {
        name: "target",
        ops: EQ,
        apply: |q, _, v| push(q, PublicationTerm::Target(v)),
    },
]);

/// The terms of a `ListEntries` filter.
pub fn list_filter(filter: &str) -> ApiResult<Vec<EntryTerm>> {
    let mut terms = Vec::new();
    ENTRIES.apply(filter, &mut terms)?;
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::aip::filter::{documented_fields, field_comment};

    #[test]
    fn each_list_accepts_exactly_the_fields_its_request_documents() {
        for (request, names) in [
            ("fiveledger.ledgers.v1.ListEntriesRequest", ENTRIES.names()),
            (
                "fiveledger.ledgers.v1.ListPublicationsRequest",
                PUBLICATIONS.names(),
            ),
        ] {
            let comment = field_comment(request, "filter").expect("documented");
            assert_eq!(documented_fields(&comment), names, "{request}");
        }
    }
}
