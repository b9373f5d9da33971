//! Four-colour warnings (四色预警) by the calendar: the thresholds every
//! service shares (settings section `[warnings]`) and the colour a due date
//! shows on a day. The ledger adds its ladder on top; the rounds service
//! colours the double report with the same rule.

use chrono::{Days, NaiveDate};
use fiveledger_proto::ledgers::WarningColour;
use serde::{Deserialize, Serialize};

/// `FIVELEDGER_WARNINGS__BLUE_DAYS` / `__RED_DAYS` / `__REPLY_DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarningSettings {
    /// Blue from this many days before a due date.
    pub blue_days: u32,
    /// Red this many days after a due date.
    pub red_days: u32,
    /// Days a written supervision notice (督办通知书) gives to reply.
    pub reply_days: u32,
}

impl Default for WarningSettings {
    fn default() -> Self {
        Self {
            blue_days: 7,
            red_days: 30,
            reply_days: 10,
        }
    }
}

/// The colour of an open item due on `due`, judged on `today`.
pub fn time_colour(due: NaiveDate, today: NaiveDate, t: &WarningSettings) -> WarningColour {
    if today > due + Days::new(u64::from(t.red_days)) {
        WarningColour::Red
    } else if today > due {
        WarningColour::Yellow
    } else if today + Days::new(u64::from(t.blue_days)) >= due {
        WarningColour::Blue
    } else {
        WarningColour::Green
    }
}
