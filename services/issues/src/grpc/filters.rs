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
pub(super) const PROBLEMS: Schema<problems::ListQuery> = Schema(&[
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
            q.target_subtree = Some(v);
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

    /// Every documented filter of ListProblems, in either order, as a
    /// viewer of the whole tree and as a city's office, reads the problems
    /// through an index (SQLite's plan has no full `SCAN problems`), and
    /// in the list's order unless its matches are few or no index orders
    /// them, so that a page costs the same at any size of the table.
    #[tokio::test]
    async fn each_problem_filter_is_served_by_an_index() {
        use crate::storage::problems::{ListQuery, Order, list_select};
        use fiveledger_platform::testing::{sqlite_plans, table_reads};
        use sea_orm::{DbBackend, QueryTrait};
        // How each filter's rows are found. SEEK: an index on the filter in
        // the list's order. SORTS: an index on the filter, whose matches are
        // sorted (few: one inspection, one leader; or a subtree, or three
        // lists at once, that no one index orders). WALK:
        // the order's own index, skipping the rows the filter refuses (a
        // value a third of the rows share, or the list's state, checked on
        // the list row by row).
        const SEEK: (bool, bool) = (false, false);
        const SORTS: (bool, bool) = (false, true);
        const WALK: (bool, bool) = (true, false);
        let examples: &[(&str, &str, (bool, bool))] = &[
            (
                "inspection",
                r#"inspection = "rounds/r1/inspections/i1""#,
                SORTS,
            ),
            ("round", r#"round = "rounds/r1""#, SEEK),
            ("frozen", "frozen = false", SEEK),
            ("category", r#"category = "party-leadership""#, SEEK),
            ("severity", "severity = SEVERITY_SEVERE", WALK),
            ("target_subtree", r#"target_subtree = "gx/nn""#, SORTS),
            ("responsible", r#"responsible = "organisations/nn""#, SORTS),
            (
                "responsibility",
                r#"responsible = "organisations/nn-jw" AND responsibility = 3"#,
                SEEK,
            ),
            ("leader_in_charge", r#"leader_in_charge = "张三""#, SORTS),
            (
                "list_state",
                "list_state = PROBLEM_LIST_STATE_REPORTED",
                WALK,
            ),
        ];
        let fields: Vec<&str> = examples.iter().map(|(field, _, _)| *field).collect();
        assert_eq!(fields, PROBLEMS.names(), "an example for each field");
        let viewer = ListQuery {
            by_target: true,
            ..Default::default()
        };
        let office = ListQuery {
            scope: "gx/nn".into(),
            own: "gx/nn".into(),
            by_target: true,
            works_rounds: true,
            ..Default::default()
        };
        let mut cases = Vec::new();
        for (who, caller) in [("viewer", &viewer), ("office", &office)] {
            for order in [Order::Id, Order::CreateTime] {
                for (field, filter, served) in examples {
                    let mut q = caller.clone();
                    q.order = order;
                    q.limit = 51;
                    PROBLEMS.apply(filter, &mut q).expect("filter");
                    let sql = list_select(&q).build(DbBackend::Sqlite);
                    cases.push((format!("{who} {order:?} {field}"), *served, sql));
                }
            }
        }
        let queries: Vec<_> = cases.iter().map(|(_, _, sql)| sql.clone()).collect();
        let plans = sqlite_plans::<crate::storage::Migrator>(&queries).await;
        for ((case, (walks, sorts), _), plan) in cases.iter().zip(&plans) {
            let reads = table_reads(plan, "problems");
            assert!(reads.scans.is_empty(), "{case}: reads every row: {plan:#?}");
            assert!(*walks || reads.walks.is_empty(), "{case}: walks: {plan:#?}");
            assert!(*sorts || reads.sorts.is_empty(), "{case}: sorts: {plan:#?}");
        }
    }
}
