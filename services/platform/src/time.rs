//! Conversions between stored times and dates and their protobuf forms, and
//! the clock the domain reads (injectable so tests can move time).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fiveledger_proto::google::r#type::Date;

use crate::error::ApiError;
use crate::error::CommonReason;

pub fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<DateTime<Utc>, ApiError> {
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32).ok_or_else(|| {
        ApiError::invalid(
            field,
            CommonReason::InvalidTimestamp,
            format!("{field} is out of range"),
        )
    })
}

pub fn to_date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// Parses a full `google.type.Date` (year, month and day all set).
pub fn from_date(field: &str, d: &Date) -> Result<NaiveDate, ApiError> {
    NaiveDate::from_ymd_opt(d.year, d.month.max(0) as u32, d.day.max(0) as u32)
        .filter(|_| (1..=9999).contains(&d.year))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                CommonReason::InvalidDate,
                format!("{field} is not a valid calendar date"),
            )
        })
}

/// The day an event says something happened: `date` when it is a calendar
/// date, else the day the event was written, else today. A consumer must
/// never refuse an event for its date (it would stop every later one).
pub fn day_or_event_day(date: Option<&Date>, event: &fiveledger_proto::types::Event) -> NaiveDate {
    date.and_then(|d| from_date("date", d).ok())
        .or_else(|| {
            event
                .create_time
                .as_ref()
                .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
                .map(|t| t.date_naive())
        })
        .unwrap_or_else(|| Utc::now().date_naive())
}

/// Parses an optional date: `None` when absent, refused when present but invalid.
pub fn from_optional_date(field: &str, d: Option<&Date>) -> Result<Option<NaiveDate>, ApiError> {
    d.map(|d| from_date(field, d)).transpose()
}

/// A period of whole days (UTC) from the request fields `period_start` and
/// `period_end`, either open-ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl Period {
    /// Parses `period_start` / `period_end`; an end before the start is
    /// refused, naming `period_end`.
    pub fn parse(start: Option<&Date>, end: Option<&Date>) -> Result<Self, ApiError> {
        let start = from_optional_date("period_start", start)?;
        let end = from_optional_date("period_end", end)?;
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(ApiError::invalid(
                "period_end",
                CommonReason::PeriodReversed,
                "period_end is before period_start",
            ));
        }
        Ok(Self { start, end })
    }

    pub fn is_open(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }

    /// The first instant inside the period, if it has a start.
    pub fn from_time(&self) -> Option<DateTime<Utc>> {
        self.start.map(midnight)
    }

    /// The first instant after the period, if it has an end.
    pub fn until_time(&self) -> Option<DateTime<Utc>> {
        self.end.map(|e| midnight(e + chrono::Days::new(1)))
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The time the domain sees. Real by default; tests may pin and move it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Offset from the real time in seconds, or a fixed instant.
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock stopped at `at`, moved only by [`Clock::set`].
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(AtomicI64::new(at.timestamp()))),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(fixed) = &self.fixed {
            fixed.store(at.timestamp(), Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            None => Utc::now(),
            Some(fixed) => {
                DateTime::from_timestamp(fixed.load(Ordering::SeqCst), 0).unwrap_or_default()
            }
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}
