//! Back-tracking (倒查): which problems of a unit an earlier inspection of
//! the same unit should have found. Pure: the checker (`crate::recurrence_check`)
//! gathers the facts, the rules here decide.
//!
//! Two frozen lists of one target are compared by the days their
//! inspections reported: the later list's problems are matched against
//! the earlier inspection when it reported within the window before it.
//! Which problems match is a [`MatchRule`]; the first one is
//! [`CategoryAndUnit`].

use chrono::{Months, NaiveDate};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{AccountabilityOutcome, RecurrenceKind};

pub const COLLECTION: &str = "recurrences";
/// Longest decision note.
pub const MAX_NOTE: usize = 2000;
/// The window the source names: "3至5年内".
pub const WINDOW_YEARS: std::ops::RangeInclusive<u32> = 3..=5;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// What the rules know of one inspection's frozen list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub inspection: String,
    pub target: String,
    /// The day it reported (comprehensive report, else the freeze day).
    pub report_date: NaiveDate,
    pub group: String,
    pub round_organisation_path: String,
    /// Its problems: (id, category).
    pub problems: Vec<(String, String)>,
}

/// One problem of a later list matched to an earlier inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The problem's id.
    pub problem: String,
    pub category: String,
    pub kind: RecurrenceKind,
    /// Ids of the earlier problems it repeats (for `Repeated`).
    pub earlier_problems: Vec<String>,
}

/// A matching rule: given a problem of the later list and the earlier
/// inspection of the same unit, whether the earlier one should have found
/// it, and whether it did.
pub trait MatchRule: Send + Sync {
    /// Its name, stored with every recurrence it flags.
    fn name(&self) -> &'static str;
    /// `None`: no recurrence. Called only for an earlier inspection of the
    /// same target within the window.
    fn matches(&self, problem: (&str, &str), earlier: &Listed) -> Option<Found>;
}

/// The first rule (倒查 by category and unit): every problem of the later
/// list is one the earlier inspection of the unit should have found; it is
/// `Repeated` when the earlier list holds problems of the same category,
/// `Missed` otherwise.
pub struct CategoryAndUnit;

impl MatchRule for CategoryAndUnit {
    fn name(&self) -> &'static str {
        "category-and-unit"
    }

    fn matches(&self, (id, category): (&str, &str), earlier: &Listed) -> Option<Found> {
        let earlier_problems: Vec<String> = earlier
            .problems
            .iter()
            .filter(|(_, c)| c == category)
            .map(|(id, _)| id.clone())
            .collect();
        Some(Found {
            problem: id.to_owned(),
            category: category.to_owned(),
            kind: if earlier_problems.is_empty() {
                RecurrenceKind::Missed
            } else {
                RecurrenceKind::Repeated
            },
            earlier_problems,
        })
    }
}

/// Whether `earlier` reported within `years` before `later` (strictly
/// before it, at most `years` to the day).
pub fn within_window(earlier: NaiveDate, later: NaiveDate, years: u32) -> bool {
    let Some(from) = later.checked_sub_months(Months::new(years * 12)) else {
        return false;
    };
    earlier < later && earlier >= from
}

/// Every recurrence between `list` and the other frozen lists of its target
/// (`others`): for each pair, the later list's problems against the earlier
/// inspection, when the earlier reported within the window. Returns
/// (later, earlier, found).
pub fn pairs<'a>(
    rule: &dyn MatchRule,
    list: &'a Listed,
    others: &'a [Listed],
    years: u32,
) -> Vec<(&'a Listed, &'a Listed, Found)> {
    let mut out = Vec::new();
    for other in others {
        if other.inspection == list.inspection || other.target != list.target {
            continue;
        }
        let (later, earlier) = if other.report_date < list.report_date {
            (list, other)
        } else {
            (other, list)
        };
        if !within_window(earlier.report_date, later.report_date, years) {
            continue;
        }
        for (id, category) in &later.problems {
            if let Some(found) = rule.matches((id, category), earlier) {
                out.push((later, earlier, found));
            }
        }
    }
    out
}

/// A decision as asked: the outcome and its grounds.
pub fn parse_decision(outcome: i32, note: &str) -> ApiResult<AccountabilityOutcome> {
    let outcome = match AccountabilityOutcome::try_from(outcome) {
        Ok(AccountabilityOutcome::Unspecified) | Err(_) => {
            return Err(ApiError::invalid(
                "outcome",
                CommonReason::UnknownEnumValue,
                "outcome must be ACCOUNTABILITY_OUTCOME_GROUP_ACCOUNTABLE or \
                 ACCOUNTABILITY_OUTCOME_NOT_ACCOUNTABLE",
            ));
        }
        Ok(o) => o,
    };
    fiveledger_platform::aip::names::validate_text("note", note, true, MAX_NOTE)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn listed(inspection: &str, date: NaiveDate, problems: &[(&str, &str)]) -> Listed {
        Listed {
            inspection: inspection.into(),
            target: "organisations/u".into(),
            report_date: date,
            group: format!("{inspection}-group"),
            round_organisation_path: "r".into(),
            problems: problems
                .iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect(),
        }
    }

    #[test]
    fn the_window_is_years_to_the_day_and_strictly_earlier() {
        assert!(within_window(day(2021, 5, 1), day(2026, 5, 1), 5));
        assert!(!within_window(day(2021, 4, 30), day(2026, 5, 1), 5));
        assert!(!within_window(day(2026, 5, 1), day(2026, 5, 1), 5));
        assert!(!within_window(day(2022, 5, 1), day(2026, 5, 1), 3));
    }

    #[test]
    fn later_problems_are_matched_against_earlier_lists_in_either_order() {
        let old = listed("a", day(2017, 1, 1), &[]);
        let earlier = listed("b", day(2023, 1, 1), &[("p1", "x")]);
        let later = listed("c", day(2026, 1, 1), &[("p2", "x"), ("p3", "y")]);
        let others = [old.clone(), later.clone()];
        let found = pairs(&CategoryAndUnit, &earlier, &others, 5);
        // `old` is outside the window of `earlier`; `later` is within it.
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|(l, e, _)| l.inspection == "c" && e.inspection == "b")
        );
        let x = found.iter().find(|f| f.2.problem == "p2").expect("p2");
        assert_eq!(x.2.kind, RecurrenceKind::Repeated);
        assert_eq!(x.2.earlier_problems, vec!["p1".to_owned()]);
        let y = found.iter().find(|f| f.2.problem == "p3").expect("p3");
        assert_eq!(y.2.kind, RecurrenceKind::Missed);
        // From the later list's side the same pairs come out.
        let others = [old, earlier];
        let again = pairs(&CategoryAndUnit, &later, &others, 5);
        assert_eq!(again.len(), 2);
    }
}
