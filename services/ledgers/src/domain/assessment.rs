//! Assessment of lower levels' inspection work (巡察工作考核评价): the
//! figures of a year's entries as of a cutoff, the four rates and the
//! weighted score. Pure: `storage::assessments` replays the books into
//! [`Figures::add`].

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::{AssessmentFigures, AssessmentWeights, EntryState, LedgerEntry};
use serde::{Deserialize, Serialize};

use super::entry::date_of;

pub const COLLECTION: &str = "assessments";
/// The first year assessed.
pub const FIRST_YEAR: i32 = 2000;
/// Largest weight of one rate.
pub const MAX_WEIGHT: i32 = 100;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// How much each rate counts in the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weights {
    pub on_time: i32,
    pub completion: i32,
    pub overdue: i32,
    pub reopened: i32,
}

impl Default for Weights {
    /// On time first (the figure the source reports, 按期整改率), then
    /// completion (办结率), overdue items and reopenings.
    fn default() -> Self {
        Self {
            on_time: 40,
            completion: 30,
            overdue: 20,
            reopened: 10,
        }
    }
}

impl Weights {
    /// Checks each weight is 0-100 and not all are 0; `field` prefixes the
    /// field named (`weights.on_time`).
    pub fn check(self, field: &str) -> ApiResult<Self> {
        for (name, w) in [
            ("on_time", self.on_time),
            ("completion", self.completion),
            ("overdue", self.overdue),
            ("reopened", self.reopened),
        ] {
            if !(0..=MAX_WEIGHT).contains(&w) {
                return Err(ApiError::invalid(
                    format!("{field}.{name}"),
                    CommonReason::OutOfRange,
                    format!("{field}.{name} must be 0 to {MAX_WEIGHT}"),
                ));
            }
        }
        if self.sum() == 0 {
            return Err(ApiError::invalid(
                field,
                CommonReason::OutOfRange,
                format!("{field} must not all be 0"),
            ));
        }
        Ok(self)
    }

    pub fn from_proto(w: &AssessmentWeights) -> Self {
        Self {
            on_time: w.on_time,
            completion: w.completion,
            overdue: w.overdue,
            reopened: w.reopened,
        }
    }

    pub fn to_proto(self) -> AssessmentWeights {
        AssessmentWeights {
            on_time: self.on_time,
            completion: self.completion,
            overdue: self.overdue,
            reopened: self.reopened,
        }
    }

    fn sum(self) -> i64 {
        i64::from(self.on_time)
            + i64::from(self.completion)
            + i64::from(self.overdue)
            + i64::from(self.reopened)
    }
}

/// The counts of one assessment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub found: i64,
    pub written_off: i64,
    pub due_so_far: i64,
    pub written_off_on_time: i64,
    pub overdue: i64,
    pub reopened: i64,
}

/// The four rates, each 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub on_time: f64,
    pub completion: f64,
    pub overdue: f64,
    pub reopened: f64,
}

impl Figures {
    /// Counts one entry as it stood on `as_of` (its journal replayed up to
    /// the cutoff), by the statistics' rules (`storage::statistics`).
    pub fn add(&mut self, entry: &LedgerEntry, as_of: NaiveDate) {
        let written_off = entry.state() == EntryState::WrittenOff;
        let original_due = date_of(entry.original_due_date.as_ref());
        let due = date_of(entry.due_date.as_ref());
        let first_written_off = date_of(entry.first_written_off_date.as_ref());
        let on_time = matches!((first_written_off, original_due), (Some(w), Some(d)) if w <= d);
        self.found += 1;
        self.written_off += i64::from(written_off);
        self.due_so_far += i64::from(original_due.is_some_and(|d| d < as_of) || on_time);
        self.written_off_on_time += i64::from(on_time && entry.reopen_count == 0);
        self.overdue += i64::from(!written_off && due.is_some_and(|d| d < as_of));
        self.reopened += i64::from(entry.reopen_count > 0);
    }

    /// The rates; a rate with nothing to count is met (nothing due cannot
    /// be late, nothing found cannot be open).
    pub fn rates(&self) -> Rates {
        let ratio = |n: i64, d: i64, empty: f64| if d == 0 { empty } else { n as f64 / d as f64 };
        Rates {
            on_time: ratio(self.written_off_on_time, self.due_so_far, 1.0),
            completion: ratio(self.written_off, self.found, 1.0),
            overdue: ratio(self.overdue, self.found, 0.0),
            reopened: ratio(self.reopened, self.found, 0.0),
        }
    }

    /// The weighted mean of the on-time rate, the completion rate, the
    /// share not overdue and the share never reopened, on 100 in
    /// hundredths (0-10000), rounded half up. Exact: integer arithmetic on
    /// the counts, so a recomputation gives the same number.
    pub fn score_hundredths(&self, w: Weights) -> i32 {
        // Each term as a fraction n/d (d > 0).
        let term = |n: i64, d: i64, empty_met: bool| -> (i128, i128) {
            if d == 0 {
                (i128::from(empty_met), 1)
            } else {
                (i128::from(n), i128::from(d))
            }
        };
        let terms = [
            (
                w.on_time,
                term(self.written_off_on_time, self.due_so_far, true),
            ),
            (w.completion, term(self.written_off, self.found, true)),
            (w.overdue, term(self.found - self.overdue, self.found, true)),
            (
                w.reopened,
                term(self.found - self.reopened, self.found, true),
            ),
        ];
        // Σ w·n/d over a common denominator.
        let denominator: i128 = terms.iter().map(|(_, (_, d))| *d).product();
        let numerator: i128 = terms
            .iter()
            .map(|(weight, (n, d))| i128::from(*weight) * n * (denominator / d))
            .sum();
        let total = i128::from(w.sum()) * denominator;
        if total == 0 {
            return 0;
        }
        ((numerator * 10_000 * 2 + total) / (total * 2)) as i32
    }

    pub fn to_proto(self) -> AssessmentFigures {
        AssessmentFigures {
            found: self.found,
            written_off: self.written_off,
            due_so_far: self.due_so_far,
            written_off_on_time: self.written_off_on_time,
            overdue: self.overdue,
            reopened: self.reopened,
        }
    }
}

/// Checks the year asked: 2000 up to the current one.
pub fn check_year(year: i32, today: NaiveDate) -> ApiResult<i32> {
    if year < FIRST_YEAR || year > today.year() {
        return Err(ApiError::invalid(
            "year",
            CommonReason::OutOfRange,
            format!("year must be {FIRST_YEAR} to {}", today.year()),
        ));
    }
    Ok(year)
}

/// The first instant of `year` (UTC).
pub fn year_start(year: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The books a year is assessed on: up to the end of the year, or `now`
/// while the year runs.
pub fn cutoff(year: i32, now: DateTime<Utc>) -> DateTime<Utc> {
    year_start(year + 1).min(now)
}

/// The day due dates are judged by at `cutoff`: its own day, or the
/// year's last day for a year that is over.
pub fn as_of(cutoff: DateTime<Utc>) -> NaiveDate {
    if cutoff.time() == chrono::NaiveTime::MIN {
        cutoff
            .date_naive()
            .pred_opt()
            .unwrap_or(cutoff.date_naive())
    } else {
        cutoff.date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_is_the_weighted_mean_of_the_rates_in_hundredths() {
        let f = Figures {
            found: 10,
            written_off: 8,
            due_so_far: 8,
            written_off_on_time: 6,
            overdue: 1,
            reopened: 2,
        };
        // 40·0.75 + 30·0.8 + 20·0.9 + 10·0.8 = 80 on 100.
        assert_eq!(f.score_hundredths(Weights::default()), 8000);
        let only_on_time = Weights {
            on_time: 1,
            completion: 0,
            overdue: 0,
            reopened: 0,
        };
        assert_eq!(f.score_hundredths(only_on_time), 7500);
        assert_eq!(
            Figures::default().score_hundredths(Weights::default()),
            10_000
        );
    }

    #[test]
    fn weights_are_checked_naming_the_field() {
        let bad = Weights {
            overdue: 101,
            ..Weights::default()
        };
        let err = bad.check("weights").expect_err("too big");
        assert!(format!("{err:?}").contains("weights.overdue"));
        let zero = Weights {
            on_time: 0,
            completion: 0,
            overdue: 0,
            reopened: 0,
        };
        assert!(zero.check("weights").is_err());
    }

    #[test]
    fn a_year_that_is_over_is_judged_on_its_last_day() {
        let now = Utc
            .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
            .single()
            .expect("now");
        let over = cutoff(2025, now);
        assert_eq!(over, year_start(2026));
        assert_eq!(
            as_of(over),
            NaiveDate::from_ymd_opt(2025, 12, 31).expect("d")
        );
        assert_eq!(cutoff(2026, now), now);
        assert_eq!(as_of(now), NaiveDate::from_ymd_opt(2026, 7, 1).expect("d"));
    }
}
