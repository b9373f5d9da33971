//! The filters of the ledger's Lists, declared once: each field, its
//! operators, and the condition its value adds. The same tables render the
//! "unknown field" answer, and a test holds them to the fields each
//! request's `filter` comment documents.

use chrono::NaiveDate;
use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::filter::{EQ, Field, Op, Schema, enum_value};
use fiveledger_platform::aip::names::parse_path;
use fiveledger_platform::storage::within_subtree;
use fiveledger_proto::ledgers::EntryState;
use fiveledger_proto::types::{Severity, WarningColour};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition};

use super::steps::parse_date_text;
use crate::domain::warning::Thresholds;
use crate::storage::entries::Column as C;
use crate::storage::publications::Column as P;
use crate::storage::statistics::colour_sql;

/// What a `ListEntries` filter builds: its conditions, and what judges
/// `colour` (today and the thresholds, the same rule as on read).
pub struct EntryFilter {
    pub conditions: Vec<Condition>,
    pub today: NaiveDate,
    pub thresholds: Thresholds,
}

impl EntryFilter {
    fn add(&mut self, condition: impl Into<Condition>) -> ApiResult<()> {
        self.conditions.push(condition.into());
        Ok(())
    }
}

fn equals(column: C) -> impl Fn(String) -> Condition {
    move |v| Condition::all().add(Expr::col(column).eq(v))
}

/// `ListEntries`: `fiveledger.ledgers.v1.ListEntriesRequest.filter`.
pub const ENTRIES: Schema<EntryFilter> = Schema(&[
    Field {
        name: "state",
        ops: EQ,
        apply: |q, _, v| {
            let state = enum_value("state", &v, EntryState::from_str_name)?;
            q.add(Condition::all().add(C::State.eq(state.as_str_name())))
        },
    },
    Field {
        name: "colour",
        ops: EQ,
        apply: |q, _, v| {
            let colour = enum_value("colour", &v, WarningColour::from_str_name)?;
            let now = colour_sql(q.today, &q.thresholds);
            q.add(Condition::all().add(Expr::cust(format!("{now} = {}", colour as i32))))
        },
    },
    Field {
        name: "responsible_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            q.add(Condition::all().add(within_subtree(C::ResponsibleUnitPath, &path)))
        },
    },
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            q.add(Condition::all().add(within_subtree(C::TargetPath, &path)))
        },
    },
    Field {
        name: "round",
        ops: EQ,
        apply: |q, _, v| q.add(equals(C::Round)(v)),
    },
    Field {
        name: "inspection",
        ops: EQ,
        apply: |q, _, v| q.add(equals(C::Inspection)(v)),
    },
    Field {
        name: "problem",
        ops: EQ,
        apply: |q, _, v| q.add(equals(C::Problem)(v)),
    },
    Field {
        name: "category",
        ops: EQ,
        apply: |q, _, v| q.add(equals(C::Category)(v)),
    },
    Field {
        name: "severity",
        ops: EQ,
        apply: |q, _, v| {
            let severity = enum_value("severity", &v, Severity::from_str_name)?;
            q.add(Condition::all().add(C::Severity.eq(severity as i32)))
        },
    },
    Field {
        name: "due_date",
        ops: &[Op::Eq, Op::Lt, Op::Le, Op::Gt, Op::Ge],
        apply: |q, op, v| {
            let value = parse_date_text("filter", &v)?;
            let col = Expr::col(C::DueDate);
            // Entries without a due date (not handed over) match no range.
            let set = Expr::col(C::DueDate).ne("");
            let cmp = match op {
                Op::Lt => col.lt(value),
                Op::Le => col.lte(value),
                Op::Gt => col.gt(value),
                Op::Ge => col.gte(value),
                _ => col.eq(value),
            };
            q.add(Condition::all().add(set).add(cmp))
        },
    },
]);

/// `ListPublications`: `fiveledger.ledgers.v1.ListPublicationsRequest.filter`.
pub const PUBLICATIONS: Schema<Vec<Condition>> = Schema(&[
    Field {
        name: "target_subtree",
        ops: EQ,
        apply: |q, _, v| {
            let path = parse_path("filter", &v)?;
            q.push(Condition::all().add(within_subtree(P::TargetPath, &path)));
            Ok(())
        },
    },
    Field {
        name: "target",
        ops: EQ,
        apply: |q, _, v| {
            q.push(Condition::all().add(P::Target.eq(v)));
            Ok(())
        },
    },
]);

/// The conditions of a `ListEntries` filter; `today` and the thresholds
/// judge `colour` (the same rule as on read).
pub fn list_filter(filter: &str, today: NaiveDate, t: &Thresholds) -> ApiResult<Vec<Condition>> {
    let mut built = EntryFilter {
        conditions: Vec::new(),
        today,
        thresholds: *t,
    };
    ENTRIES.apply(filter, &mut built)?;
    Ok(built.conditions)
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
