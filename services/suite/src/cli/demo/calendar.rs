//! Dates of the story: the rounds' and inspections' own records carry the
//! day they happened three years back; the ledger's steps are taken the day
//! the demo runs (only an administrator may record a step after the fact).

use chrono::NaiveDate;
use fiveledger_platform::time::to_date;
use fiveledger_proto::google::r#type::Date;

pub(super) fn date(d: NaiveDate) -> Option<Date> {
    Some(to_date(d))
}
