//! The filters of the issues service's Lists, declared once: each field,
//! its operators, and how its value narrows the storage query. The same
//! tables render the "unknown field" answer, and a test holds them to the
//! fields each request's `filter` comment documents.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::filter::{EQ, Field, Schema, enum_value};
use fiveledger_platform::aip::names;
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::issues::{ClueState, DisposalMethod, ProblemListState};
use fiveledger_proto::types::Severity;

use crate::domain::problem::{ORGANISATIONS, parse_inspection};
use crate::storage::{clues, problems};

fn invalid(description: String) -> ApiError {
    ApiError::invalid("filter", CommonReason::InvalidFilter, description)
}

/// `ListProblems`: `fiveledger.issues.v1.ListProblemsRequest.filter`.
pub(crate) const PROBLEMS: Schema<problems::ListQuery> = Schema(&[
    Field {
        name: "inspection",
        ops: EQ,
        apply: |q, _, v| {
            parse_inspection("filter", &v)?;
            q.inspection = Some(v);
            Ok(())
        },
    },
    Field {
        name: "round",
        ops: EQ,
        apply: |q, _, v| {
            names::parse("filter", &v, "rounds")?;
            q.round = Some(v);
            Ok(())
        },
    },
    Field {
        name: "frozen",
        ops: EQ,
        apply: |q, _, v| {
            q.frozen = Some(match v.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid("frozen must be true or false".into())),
            });
            Ok(())
        },
    },
    Field {
        name: "category",
        ops: EQ,
        apply: |q, _, v| {
            names::validate_id("filter", &v)?;
            q.category = Some(v);
            Ok(())
        },
    },
    Field {
        name: "severity",
        ops: EQ,
        apply: |q, _, v| {
            q.severity = Some(enum_value("severity", &v, Severity::from_str_name)?);
            Ok(())
        },
    },
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            q.target_subtree = Some(fiveledger_platform::subtree::Subtree::new(v));
            Ok(())
        },
    },
    Field {
        name: "responsible",
        ops: EQ,
        apply: |q, _, v| {
            names::parse("filter", &v, ORGANISATIONS)?;
            q.responsible = Some(v);
            Ok(())
        },
    },
    Field {
        name: "responsibility",
        ops: EQ,
        apply: |q, _, v| {
            q.responsibility = Some(
                problems::Responsibility::from_number(&v)
                    .ok_or_else(|| invalid("responsibility must be 1, 2, 3 or 4".into()))?,
            );
            Ok(())
        },
    },
    Field {
        name: "leader_in_charge",
        ops: EQ,
        apply: |q, _, v| {
            q.leader_in_charge = Some(v);
            Ok(())
        },
    },
    Field {
        name: "list_state",
        ops: EQ,
        apply: |q, _, v| {
            q.list_state = Some(enum_value(
                "list_state",
                &v,
                ProblemListState::from_str_name,
            )?);
            Ok(())
        },
    },
]);

/// `ListClues`: `fiveledger.issues.v1.ListCluesRequest.filter`.
pub(super) const CLUES: Schema<clues::ListQuery> = Schema(&[
    Field {
        name: "inspection",
        ops: EQ,
        apply: |q, _, v| {
            parse_inspection("filter", &v)?;
            q.inspection = Some(v);
            Ok(())
        },
    },
    Field {
        name: "round",
        ops: EQ,
        apply: |q, _, v| {
            names::parse("filter", &v, "rounds")?;
            q.round = Some(v);
            Ok(())
        },
    },
    Field {
        name: "state",
        ops: EQ,
        apply: |q, _, v| {
            q.state = Some(enum_value("state", &v, ClueState::from_str_name)?);
            Ok(())
        },
    },
    Field {
        name: "disposal_method",
        ops: EQ,
        apply: |q, _, v| {
            q.disposal_method = Some(enum_value(
                "disposal method",
                &v,
                DisposalMethod::from_str_name,
            )?);
            Ok(())
        },
    },
    Field {
        name: "receiving_body",
        ops: EQ,
        apply: |q, _, v| {
            names::parse("filter", &v, ORGANISATIONS)?;
            q.receiving_body = Some(v);
            Ok(())
        },
    },
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            q.target_subtree = Some(v);
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
            ("fiveledger.issues.v1.ListProblemsRequest", PROBLEMS.names()),
            ("fiveledger.issues.v1.ListCluesRequest", CLUES.names()),
        ] {
            let comment = field_comment(request, "filter").expect("documented");
            assert_eq!(documented_fields(&comment), names, "{request}");
        }
    }
}
