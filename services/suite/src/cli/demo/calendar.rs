//! Dates of the story: steps are dated the day they happened, so the demo
//! records three years of history as an office moving its paper ledger in
//! would.

use chrono::{Days, NaiveDate};
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_proto::google::r#type::Date;

pub(super) fn date(d: NaiveDate) -> Option<Date> {
    Some(to_date(d))
}

pub(super) fn date_of(d: Option<&Date>) -> Option<NaiveDate> {
    d.and_then(|d| from_date("date", d).ok())
}

/// The days of one entry's story: they never go back (the ledger refuses a
/// step dated before the last one) and never pass today.
pub(super) struct Calendar {
    day: NaiveDate,
    today: NaiveDate,
}

impl Calendar {
    pub fn new(from: NaiveDate, today: NaiveDate) -> Self {
        Self {
            day: from.min(today),
            today,
        }
    }

    /// The day `days` after the last step.
    pub fn after(&mut self, days: u64) -> Option<Date> {
        self.at(self.day + Days::new(days))
    }

    /// The day `d`, or the last step's if `d` is earlier.
    pub fn at(&mut self, d: NaiveDate) -> Option<Date> {
        self.day = d.clamp(self.day, self.today);
        date(self.day)
    }
}
