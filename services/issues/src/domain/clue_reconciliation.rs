//! The monthly reconciliation of clues (对账销号, 每月汇总) between the
//! case-supervision office and one handling body: a fold of the clue
//! journal's lines, so the stored figures can always be counted again.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use fiveledger_platform::ApiError;
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::{ClueReconciliationFigures, DisposalMethod};
use fiveledger_proto::types::NoticeKind;

pub const COLLECTION: &str = "clueReconciliations";

/// What a journal line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Handed to `receiving_body` (registration, or a transfer from `from_body`).
    Transferred,
    /// The receiving body signed for it.
    Acknowledged,
    /// Disposed of (`detail`: the way).
    Disposed,
    /// Its outcome recorded (`detail`: the kind).
    Outcome,
    /// Reopened.
    Reopened,
    /// A colour change notified (`detail`: the notice kind).
    Warned,
}

impl LineKind {
    pub const ALL: [LineKind; 6] = [
        LineKind::Transferred,
        LineKind::Acknowledged,
        LineKind::Disposed,
        LineKind::Outcome,
        LineKind::Reopened,
        LineKind::Warned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Transferred => "TRANSFERRED",
            LineKind::Acknowledged => "ACKNOWLEDGED",
            LineKind::Disposed => "DISPOSED",
            LineKind::Outcome => "OUTCOME",
            LineKind::Reopened => "REOPENED",
            LineKind::Warned => "WARNED",
        }
    }

    pub fn parse(s: &str) -> Option<LineKind> {
        LineKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One journal line, as the fold reads it (in journal order).
#[derive(Debug, Clone)]
pub struct Line {
    pub clue_id: String,
    pub kind: LineKind,
    pub receiving_body: String,
    pub from_body: String,
    pub day: NaiveDate,
    pub detail: String,
}

/// A month: its first and last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Month {
    /// Parses `field` (`year` and `month`, `day` 0).
    pub fn parse(field: &str, date: Option<&Date>) -> Result<Month, ApiError> {
        let date = date.ok_or_else(|| ApiError::required(field))?;
        let bad = || {
            ApiError::invalid(
                field,
                CommonReason::InvalidDate,
                format!("{field} is a month: a year and a month, day 0"),
            )
        };
        if date.day != 0 {
            return Err(bad());
        }
        let month = u32::try_from(date.month).map_err(|_| bad())?;
        let first = NaiveDate::from_ymd_opt(date.year, month, 1).ok_or_else(bad)?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        Ok(Month {
            first,
            last: next.pred_opt().ok_or_else(bad)?,
        })
    }

    /// `yyyy-mm`.
    pub fn key(&self) -> String {
        self.first.format("%Y-%m").to_string()
    }

    pub fn from_key(key: &str) -> Option<Month> {
        let first = NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d").ok()?;
        let last = first
            .checked_add_months(chrono::Months::new(1))?
            .pred_opt()?;
        Some(Month { first, last })
    }

    pub fn to_proto(&self) -> Date {
        Date {
            year: self.first.year(),
            month: self.first.month() as i32,
            day: 0,
        }
    }

    fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

/// The reconciliation's id: the body's id and the month.
pub fn id_of(body_id: &str, month: &Month) -> String {
    format!("{body_id}-{}", month.key())
}

/// The figures of `body` in `month` from `lines` (every line of the clues
/// that ever reached the body, in journal order).
pub fn figures(body: &str, month: &Month, lines: &[Line]) -> ClueReconciliationFigures {
    let mut f = ClueReconciliationFigures::default();
    // Per clue: who held it and whether it was concluded, by the last line
    // dated up to the month's end.
    let mut held: HashMap<&str, (&str, bool)> = HashMap::new();
    for line in lines {
        if line.day <= month.last {
            let entry = held.entry(line.clue_id.as_str()).or_insert(("", false));
            match line.kind {
                LineKind::Transferred => entry.0 = line.receiving_body.as_str(),
                LineKind::Outcome => entry.1 = true,
                LineKind::Reopened => entry.1 = false,
                _ => {}
            }
        }
        if !month.contains(line.day) {
            continue;
        }
        if line.kind == LineKind::Transferred && line.from_body == body {
            f.transferred_out += 1;
        }
        if line.receiving_body != body {
            continue;
        }
        match line.kind {
            LineKind::Transferred => f.received += 1,
            LineKind::Acknowledged => f.acknowledged += 1,
            LineKind::Disposed => {
                f.disposed += 1;
                match DisposalMethod::from_str_name(&line.detail) {
                    Some(DisposalMethod::TalkOrLetter) => f.talk_or_letter += 1,
                    Some(DisposalMethod::PreliminaryVerification) => {
                        f.preliminary_verification += 1
                    }
                    Some(DisposalMethod::Hold) => f.hold += 1,
                    Some(DisposalMethod::Conclude) => f.conclude += 1,
                    _ => {}
                }
            }
            LineKind::Outcome => f.concluded += 1,
            LineKind::Reopened => f.reopened += 1,
            LineKind::Warned => match NoticeKind::from_str_name(&line.detail) {
                Some(NoticeKind::Reminder) => f.reminders += 1,
                Some(NoticeKind::SupervisionNotice) => f.supervision_notices += 1,
                Some(NoticeKind::Circular) => f.circulars += 1,
                _ => {}
            },
        }
    }
    f.outstanding = held
        .values()
        .filter(|(holder, concluded)| *holder == body && !concluded)
        .count() as i64;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    fn line(
        clue: &str,
        kind: LineKind,
        body: &str,
        from: &str,
        d: NaiveDate,
        detail: &str,
    ) -> Line {
        Line {
            clue_id: clue.into(),
            kind,
            receiving_body: body.into(),
            from_body: from.into(),
            day: d,
            detail: detail.into(),
        }
    }

    #[test]
    fn a_month_of_one_body() {
        let m = Month::parse(
            "month",
            Some(&Date {
                year: 2026,
                month: 10,
                day: 0,
            }),
        )
        .expect("month");
        assert_eq!(m.last, day(10, 31));
        use LineKind as K;
        let lines = vec![
            line("a", K::Transferred, "jw", "", day(9, 30), ""),
            line("b", K::Transferred, "jw", "", day(10, 2), ""),
            line(
                "b",
                K::Disposed,
                "jw",
                "",
                day(10, 3),
                "DISPOSAL_METHOD_HOLD",
            ),
            line("c", K::Transferred, "jw", "", day(10, 5), ""),
            line("c", K::Transferred, "room", "jw", day(10, 6), ""),
            line(
                "a",
                K::Outcome,
                "jw",
                "",
                day(10, 9),
                "CLUE_OUTCOME_KIND_CLEARED",
            ),
            line(
                "b",
                K::Warned,
                "jw",
                "",
                day(10, 20),
                "NOTICE_KIND_REMINDER",
            ),
            // After the month: not counted, and b stays outstanding.
            line(
                "b",
                K::Outcome,
                "jw",
                "",
                day(11, 2),
                "CLUE_OUTCOME_KIND_CLEARED",
            ),
        ];
        let f = figures("jw", &m, &lines);
        assert_eq!(f.received, 2);
        assert_eq!(f.transferred_out, 1);
        assert_eq!((f.disposed, f.hold), (1, 1));
        assert_eq!(f.concluded, 1);
        assert_eq!(f.reminders, 1);
        assert_eq!(f.outstanding, 1);
        assert!(
            Month::parse(
                "month",
                Some(&Date {
                    year: 2026,
                    month: 13,
                    day: 0
                })
            )
            .is_err()
        );
        assert!(
            Month::parse(
                "month",
                Some(&Date {
                    year: 2026,
                    month: 1,
                    day: 3
                })
            )
            .is_err()
        );
    }
}
