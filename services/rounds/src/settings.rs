//! The rounds service's own settings (section `[rounds]`,
//! `FIVELEDGER_ROUNDS__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RoundsSettings {
    /// Days after feedback within which the double report (双报告) is due.
    pub double_report_days: u32,
}

impl Default for RoundsSettings {
    fn default() -> Self {
        Self {
            double_report_days: 60,
        }
    }
}
