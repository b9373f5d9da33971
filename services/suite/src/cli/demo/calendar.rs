//! Dates of the story: the rounds' and inspections' own records carry the
//! day they happened, up to three years back, and so does every ledger
//! step: each is recorded after the fact (补录) by the role that took it,
//! on its day of the story, as the office, the unit and the receiving body
//! may for their own steps.

use std::ops::RangeInclusive;

use chrono::{Days, NaiveDate};
use fiveledger_platform::time::to_date;
use fiveledger_proto::google::r#type::Date;
use rand::Rng;
use rand::rngs::StdRng;

pub(super) fn date(d: NaiveDate) -> Option<Date> {
    Some(to_date(d))
}

/// The days of one entry's steps, one after another, never past the day
/// the demo runs (a step of today is recorded today).
#[derive(Debug, Clone, Copy)]
pub(super) struct StepDays {
    last: NaiveDate,
    today: NaiveDate,
}

impl StepDays {
    /// Steps from `day` on (the hand-over's, or a reopening's).
    pub fn from(day: NaiveDate, today: NaiveDate) -> Self {
        Self {
            last: day.min(today),
            today,
        }
    }

    /// The next step, `days` after the last one.
    pub fn after(&mut self, rng: &mut StdRng, days: RangeInclusive<u64>) -> NaiveDate {
        self.on(self.last + Days::new(rng.random_range(days)))
    }

    /// The next step on `day`, or on the last step's day if that is later.
    pub fn on(&mut self, day: NaiveDate) -> NaiveDate {
        self.last = day.max(self.last).min(self.today);
        self.last
    }

    /// The day of the last step.
    pub fn last(&self) -> NaiveDate {
        self.last
    }
}
